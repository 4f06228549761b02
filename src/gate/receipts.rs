//! GET /v1/receipts/{id} (lease + DPoP): the stored receipt plus
//! `signature_status`, checked now against the gate's receipt keys.

use super::errors::GateError;
use super::pipeline::auth_step;
use super::Gate;
use crate::net::http::{Request, Response};

/// Handles GET /v1/receipts/{id}.
pub fn get(gate: &Gate, req: &Request, id: &str) -> Response {
    let path = format!("/v1/receipts/{id}");
    if let Err(e) = auth_step::authenticate(gate, req, "GET", &path) {
        // A refused read is a decision too: recorded like every other.
        let event = crate::obj! {
            "trace_id" => crate::crypto::uuid::v7(),
            "event_type" => "receipt_read_denied",
            "decision" => "deny",
            "receipt_id" => id,
            "error" => e.code,
            "deny_reason" => e.detail(),
        };
        return match super::pipeline::audit::append(gate, event) {
            Ok(()) => e.response(),
            Err(persist) => persist.response(),
        };
    }
    stored(gate, id)
}

/// The stored receipt `id` with its `signature_status`, checked now against
/// the gate's receipt keys (lease route above, operator route in `ops.rs`).
pub fn stored(gate: &Gate, id: &str) -> Response {
    match gate.ledger.receipt(id) {
        Some(mut receipt) => {
            let status = crate::evidence::receipt::verify_receipt(&receipt, gate.ledger.keyring());
            if let Some(m) = receipt.as_object_mut() {
                m.insert("signature_status", status.as_str());
            }
            Response::json(200, receipt.to_json())
        }
        None => GateError::new(404, "not_found")
            .message(format!("no receipt `{id}`"))
            .response(),
    }
}
