//! Step 1: lease JWT + DPoP proof + jti replay (see `crate::auth`). The
//! expected `htu` is `public_base_url` + path; the Host header is ignored.

use crate::auth::lease::LeaseClaims;
use crate::gate::errors::GateError;
use crate::gate::Gate;
use crate::net::http::Request;

/// Authenticates a request for `method path`.
pub fn authenticate(
    gate: &Gate,
    req: &Request,
    method: &str,
    path: &str,
) -> Result<LeaseClaims, GateError> {
    let htu = format!("{}{}", gate.cfg.public_base_url, path);
    crate::auth::authenticate(
        req.header("authorization"),
        req.header("dpop"),
        method,
        &htu,
        &gate.leases,
        &gate.replay,
        crate::time::unix_now(),
    )
    .map_err(|e| {
        let mut err = GateError::new(e.status, e.code);
        if !e.reason.is_empty() {
            err = err.reason(e.reason.clone());
        }
        err
    })
}
