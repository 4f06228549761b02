//! POST /v1/leases: exchange a DPoP public key for a short-lived lease JWT.
//!
//! Order as v0.2: draining, identity, scopes, fs_root, request shape. The
//! principal comes only from the identity provider, never from the body.

use super::errors::GateError;
use super::pipeline::audit;
use super::Gate;
use crate::auth::lease::{LeaseClaims, LeaseRequest};
use crate::net::http::{Request, Response};
use crate::obj;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

pub use super::identity::ANONYMOUS;
use crate::net::server::Peer;

/// Handles POST /v1/leases.
pub fn issue(gate: &Gate, req: &Request, peer: &Peer) -> Response {
    if gate.draining.load(Ordering::SeqCst) {
        return GateError::new(503, "draining").response();
    }
    let trace_id = crate::crypto::uuid::v7();
    match issue_inner(gate, req, peer) {
        Ok((claims, body)) => {
            let event = obj! {
                "trace_id" => trace_id.as_str(),
                "event_type" => "lease_issued",
                "decision" => "allow",
                "principal" => claims.sub.as_str(),
                "session_id" => claims.session_id.as_str(),
                "lease_jti" => claims.jti.as_str(),
                "scopes" => claims.scope.iter().map(|s| s.as_str().into()).collect::<Vec<_>>(),
            };
            match audit::append(gate, event) {
                Ok(()) => Response::json(200, body),
                Err(e) => e.response(),
            }
        }
        Err(err) => {
            let event = obj! {
                "trace_id" => trace_id.as_str(),
                "event_type" => "lease_denied",
                "decision" => "deny",
                "principal" => match gate.cfg.identity.provider {
                    crate::config::IdentityProvider::None => ANONYMOUS.to_string(),
                    crate::config::IdentityProvider::Peercred => super::identity::peer_label(peer),
                },
                "peer" => super::identity::peer_label(peer),
                "deny_reason" => format!("{}: {}", err.code, err.detail()),
            };
            match audit::append(gate, event) {
                Ok(()) => err.response(),
                Err(e) => e.response(),
            }
        }
    }
}

fn issue_inner(
    gate: &Gate,
    req: &Request,
    peer: &Peer,
) -> Result<(LeaseClaims, String), GateError> {
    let body = crate::json::parse(&req.body).map_err(|e| {
        GateError::new(400, "invalid_request")
            .message(format!("request body is not valid JSON: {e}"))
    })?;
    let request = LeaseRequest::parse(&body)
        .map_err(|e| GateError::new(e.status, e.code).message(e.message.clone()))?;
    let who = super::identity::identify(&gate.cfg.identity, peer, &request.scopes)?;
    let fs_root = match &request.fs_root {
        Some(root) => Some(check_fs_root(root, &gate.cfg.fs_root_allowed_prefixes)?),
        None => None,
    };
    let now = crate::time::unix_now();
    let ttl = gate.cfg.lease_ttl_seconds as i64;
    let claims = LeaseClaims {
        sub: who.principal,
        iat: now,
        nbf: now,
        exp: now + ttl,
        jti: crate::crypto::uuid::v7(),
        session_id: crate::crypto::uuid::v7(),
        scope: who.scopes,
        max_calls: request.max_calls,
        cnf_jkt: request.jkt.clone(),
        owner: who.owner,
        // Canonical (symlinks resolved) and checked; file actions run beneath it.
        fs_root: fs_root.as_ref().map(|r| r.display().to_string()),
    };
    let jwt = gate.leases.issue(&claims).map_err(|e| {
        GateError::new(500, "internal_error").message(format!("signing the lease failed: {e}"))
    })?;
    if let Some(max) = claims.max_calls {
        gate.budgets
            .create(&claims.session_id, max, claims.exp)
            .map_err(|_| GateError::new(503, "budget_store_unavailable"))?;
    }
    let mut body = obj! {
        "lease_jwt" => jwt,
        "session_id" => claims.session_id.as_str(),
        "lease_jti" => claims.jti.as_str(),
        "expires_at" => crate::time::rfc3339_secs(claims.exp),
    };
    if let (Some(root), Some(m)) = (fs_root, body.as_object_mut()) {
        m.insert("fs_root", root.display().to_string());
    }
    Ok((claims, body.to_json()))
}

/// System directories that can never be a lease's fs_root.
const SYSTEM_DIRS: &[&str] = &[
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc", "/root",
    "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var",
];

/// Validates a requested fs_root: absolute, existing directory (symlinks
/// resolved), not a system directory, under an allowed prefix.
pub fn check_fs_root(root: &str, allowed: &[PathBuf]) -> Result<PathBuf, GateError> {
    let invalid =
        |m: &str| GateError::new(400, "invalid_fs_root").message(format!("fs_root `{root}`: {m}"));
    let path = Path::new(root);
    if !path.is_absolute() {
        return Err(invalid("must be an absolute path"));
    }
    let real = std::fs::canonicalize(path).map_err(|e| invalid(&format!("cannot resolve: {e}")))?;
    if !real.is_dir() {
        return Err(invalid("is not a directory"));
    }
    if SYSTEM_DIRS.iter().any(|d| real == Path::new(d)) {
        return Err(GateError::new(403, "fs_root_denied")
            .message(format!("fs_root `{root}` is a system directory")));
    }
    let under = allowed.iter().any(|p| {
        let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
        real.starts_with(&p)
    });
    if !under {
        return Err(GateError::new(403, "fs_root_denied").message(format!(
            "fs_root `{root}` is outside fs_root_allowed_prefixes"
        )));
    }
    Ok(real)
}
