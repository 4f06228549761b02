//! Action discovery: list, detail and request schema (no auth, as v0.2).
//! Unknown ids answer 404 with a JSON error body (v0.2 sends an empty body;
//! clients only look at the status, and every error of ours names a code).

use super::errors::GateError;
use super::{pipeline, Gate};
use crate::json::Value;
use crate::net::http::Response;
use crate::obj;

/// GET /v1/actions
pub fn list(gate: &Gate) -> Response {
    let snap = gate.snapshot();
    let actions: Vec<Value> = snap
        .registry
        .list()
        .iter()
        .map(|a| a.list_entry_json())
        .collect();
    Response::json(200, obj! { "actions" => actions }.to_json())
}

/// GET /v1/actions/{id}
pub fn detail(gate: &Gate, id: &str) -> Response {
    match gate.snapshot().registry.get(id) {
        Some(a) => {
            let digest =
                pipeline::trust::module_digest(&gate.builtin_digests, a).unwrap_or_default();
            Response::json(200, a.detail_json(&digest).to_json())
        }
        None => not_found(id),
    }
}

fn not_found(id: &str) -> Response {
    GateError::new(404, "action_not_found")
        .message(format!("no action `{id}` is registered"))
        .response()
}

/// GET /v1/actions/{id}/schema/request
pub fn request_schema(gate: &Gate, id: &str) -> Response {
    match gate.snapshot().registry.get(id) {
        Some(a) => Response::json(200, a.request_schema_json().to_json()),
        None => not_found(id),
    }
}
