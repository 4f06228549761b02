//! The operator API, on its own socket (`gate-admin.sock`, 0600) and
//! optionally a TCP listener that requires a bearer token.
//!
//! Who may call: on the Unix socket, a peer whose uid (SO_PEERCRED) is the
//! gate's own or root; on TCP, a request carrying `Authorization: Bearer
//! <token>` equal (constant time) to the configured token file. Anything
//! else is refused before routing.
//!
//! | route | what |
//! |---|---|
//! | GET /healthz, /readyz | health |
//! | GET /v1/approvals?status=&limit= | list held calls |
//! | GET /v1/approvals/{id} | one, with its plan |
//! | POST /v1/approvals/{id}/approve | run it once |
//! | POST /v1/approvals/{id}/deny | body `{"reason"}` optional |
//! | GET /v1/audit/events?action_id=&principal=&decision=&event_type=&trace_id=&session_id=&after=&before=&limit= | ledger events, newest first |
//! | GET /v1/audit/verify | chain, checkpoint and receipt check |
//! | GET /v1/receipts/{id} | a receipt with `signature_status` |
//! | GET /v1/receipt-keys | the receipt public keys |
//! | GET /v1/admin/status, /v1/admin/epoch | state |
//! | POST /v1/admin/drain, /v1/admin/revoke-all, /v1/admin/reload | operations |
//! | POST /v1/admin/events | a sandbox launcher's egress events into the ledger |

use super::errors::GateError;
use super::{approvals, ops, routes, sandbox_events, Gate};
use crate::net::http::{Request, Response};
use crate::net::server::{Handler, Peer};
use std::path::Path;
use std::sync::Arc;

/// Shortest operator token accepted.
const MIN_TOKEN_LEN: usize = 32;

/// Reads the TCP operator token: the file's content, trimmed, at least 32
/// characters, and the file must not be readable by group or others.
pub fn read_token(path: &Path) -> Result<Vec<u8>, String> {
    use std::os::unix::fs::MetadataExt;
    let meta =
        std::fs::metadata(path).map_err(|e| format!("admin_token_file {}: {e}", path.display()))?;
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "admin_token_file {} has mode {:o}; it must be readable by its owner only (chmod 600 it)",
            path.display(),
            meta.mode() & 0o777
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("admin_token_file {}: {e}", path.display()))?;
    let token = text.trim();
    if token.len() < MIN_TOKEN_LEN || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "admin_token_file {}: the token must be at least {MIN_TOKEN_LEN} characters without spaces",
            path.display()
        ));
    }
    Ok(token.as_bytes().to_vec())
}

/// The operator router.
pub struct AdminRoutes(pub Arc<Gate>);

impl Handler for AdminRoutes {
    fn handle(&self, req: &Request, peer: &Peer) -> Response {
        match operator(&self.0, req, peer) {
            Ok((who, method)) => route(&self.0, req, &who, method),
            Err(e) => e.response(),
        }
    }
}

/// Who the operator is and how they proved it, or the refusal.
fn operator(gate: &Gate, req: &Request, peer: &Peer) -> Result<(String, &'static str), GateError> {
    match peer {
        Peer::Unix { uid: Some(uid) } => {
            let me = crate::sys::uid();
            if *uid == me || *uid == 0 {
                Ok((format!("uid:{uid}"), "peercred"))
            } else {
                Err(GateError::new(403, "forbidden").message(format!(
                    "the operator socket serves uid {me} and root only; you are uid {uid}"
                )))
            }
        }
        Peer::Unix { uid: None } => Err(GateError::new(403, "forbidden")
            .message("the kernel did not report the peer's uid; refusing")),
        Peer::Tcp(addr) => {
            let Some(token) = &gate.admin_token else {
                return Err(GateError::new(401, "operator_auth_not_configured"));
            };
            let given = req
                .header("authorization")
                .and_then(|h| h.strip_prefix("Bearer "))
                .unwrap_or("");
            if crate::crypto::ct_eq(given.as_bytes(), token) {
                Ok((format!("token@{}", addr.ip()), "admin_token"))
            } else {
                Err(GateError::new(401, "unauthorized")
                    .message("operator requests need Authorization: Bearer <token>"))
            }
        }
    }
}

fn route(gate: &Gate, req: &Request, who: &str, method: &'static str) -> Response {
    let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let m = req.method.as_str();
    match (m, segments.as_slice()) {
        ("GET", ["healthz"]) | ("GET", ["readyz"]) => routes::health(gate, segments[0]),
        ("GET", ["v1", "approvals"]) => approvals::list(gate, req),
        ("GET", ["v1", "approvals", id]) => approvals::show(gate, id),
        ("POST", ["v1", "approvals", id, "approve"]) => approvals::approve(gate, id, who, method),
        ("POST", ["v1", "approvals", id, "deny"]) => approvals::deny(gate, req, id, who),
        ("GET", ["v1", "audit", "events"]) => ops::audit_events(gate, req),
        ("GET", ["v1", "audit", "verify"]) => ops::audit_verify(gate),
        ("GET", ["v1", "receipts", id]) => ops::receipt(gate, id),
        ("GET", ["v1", "receipt-keys"]) => ops::receipt_keys(gate),
        ("GET", ["v1", "admin", "status"]) => ops::status(gate),
        ("GET", ["v1", "admin", "epoch"]) => ops::epoch(gate),
        ("POST", ["v1", "admin", "drain"]) => ops::drain(gate, who),
        ("POST", ["v1", "admin", "revoke-all"]) => ops::revoke_all(gate, who),
        ("POST", ["v1", "admin", "reload"]) => ops::reload(gate, who),
        ("POST", ["v1", "admin", "events"]) => sandbox_events::record(gate, req, who),
        _ => GateError::new(404, "not_found")
            .message(format!("no operator route for {m} {}", req.path))
            .response(),
    }
}
