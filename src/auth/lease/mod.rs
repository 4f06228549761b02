//! Leases: short-lived ES256 JWTs the gate issues at `POST /v1/leases`,
//! bound to the client's DPoP key through `cnf.jkt`.

mod issuer;
mod request;

pub use issuer::{LeaseIssuer, ISSUER};
pub use request::{LeaseRequest, LeaseRequestError};

/// The claims of a lease (what the gate signs and later trusts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseClaims {
    /// The principal (from the identity provider, never from the client).
    pub sub: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not valid before (Unix seconds).
    pub nbf: i64,
    /// Expires at (Unix seconds); invalid from this second on.
    pub exp: i64,
    /// Lease id (UUIDv7).
    pub jti: String,
    /// Session id (UUIDv7); budgets and approvals hang off it.
    pub session_id: String,
    /// Granted scopes, e.g. `tools:call`.
    pub scope: Vec<String>,
    /// Call budget for the session, if any.
    pub max_calls: Option<u64>,
    /// RFC 7638 thumbprint of the client's DPoP key.
    pub cnf_jkt: String,
    /// Owner recorded for approvals, if the identity provider gave one.
    pub owner: Option<String>,
    /// The directory file actions run beneath (absolute, canonical when
    /// issued), if the lease request asked for one. JWT claim `fs_root`.
    pub fs_root: Option<String>,
}
