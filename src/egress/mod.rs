//! Outbound HTTP for providers: the gate's only way out.
//!
//! Security invariant 5 (DESIGN.md §7): egress only to declared sinks;
//! private and loopback addresses refused after DNS unless `allow_private`
//! covers them; the checked address is the one connected; no redirects.
//! Provider credential headers are stripped and host secrets only travel
//! over https; AWS Signature Version 4 is computed here too (`sigv4`), on
//! the final request, so the keys never leave the host. Blocking std::net
//! plus rustls (ring); no async runtime.
//!
//! Entry point: [`Egress::new`] once at boot, then [`Egress::send`] per call.

mod client;
mod config;
mod error;
mod ipclass;
mod names;
mod request;
mod resolve;
// pub for the fuzz targets (fuzz/).
pub mod response;
pub mod sigv4;
mod sinks;
mod stream;
pub(crate) mod tls;
pub mod url;

#[cfg(test)]
mod test_server;

pub use client::{Egress, HttpRequest, HttpResponse};
pub use config::{EgressConfig, StaticHost};
pub use error::*;
pub use ipclass::{is_public, Cidr};
pub use request::{MAX_REQUEST_HEAD, MAX_REQUEST_HEADERS};
pub use response::{MAX_HEAD as MAX_RESPONSE_HEAD, MAX_HEADERS as MAX_RESPONSE_HEADERS};
pub use sigv4::{RegionSource, SigV4Signer};
pub use sinks::{DomainRule, Sinks};
pub use url::{Scheme, Url};
