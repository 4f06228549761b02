//! The client API router (wire-compatible with LatchGate v0.2).
//!
//! | route | auth |
//! |---|---|
//! | GET /healthz, GET /readyz | none |
//! | POST /v1/leases, GET /.well-known/jwks.json | none |
//! | GET /v1/actions, /v1/actions/{id}, /v1/actions/{id}/schema/request | none |
//! | POST /v1/actions/{id}/execute | lease + DPoP |
//! | GET /v1/receipts/{id} | lease + DPoP |
//! | GET /v1/approvals/{id}/poll | lease + DPoP (the approval's owner) |
//! | GET /v1/tools | none (our addition: every action with its schema in one answer, for latchgate-mcp) |
//!
//! Operator routes live on their own socket (`admin.rs`).

use super::errors::GateError;
use super::{approvals, discovery, leases, pipeline, receipts, Gate};
use crate::net::http::{Request, Response};
use crate::net::server::{Handler, Peer};
use crate::obj;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The HTTP handler wrapping the shared gate state.
pub struct Routes(pub Arc<Gate>);

impl Handler for Routes {
    fn handle(&self, req: &Request, peer: &Peer) -> Response {
        route(&self.0, req, peer)
    }
}

fn route(gate: &Gate, req: &Request, peer: &Peer) -> Response {
    let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let method = req.method.as_str();
    match (method, segments.as_slice()) {
        ("GET", ["healthz"]) | ("GET", ["readyz"]) => health(gate, segments[0]),
        ("POST", ["v1", "leases"]) => leases::issue(gate, req, peer),
        ("GET", [".well-known", "jwks.json"]) => Response::json(200, gate.leases.jwks().to_json()),
        ("GET", ["v1", "tools"]) => discovery::tools(gate, req),
        ("GET", ["v1", "actions"]) => discovery::list(gate),
        ("GET", ["v1", "actions", id]) => discovery::detail(gate, id),
        ("GET", ["v1", "actions", id, "schema", "request"]) => discovery::request_schema(gate, id),
        ("POST", ["v1", "actions", id, "execute"]) => pipeline::execute(gate, req, id),
        ("GET", ["v1", "receipts", id]) => receipts::get(gate, req, id),
        ("GET", ["v1", "approvals", id, "poll"]) => approvals::poll(gate, req, id),
        (
            _,
            ["healthz"]
            | ["readyz"]
            | ["v1", "leases"]
            | ["v1", "actions", ..]
            | ["v1", "receipts", _]
            | ["v1", "tools"]
            | ["v1", "approvals", _, "poll"],
        ) => GateError::new(405, "method_not_allowed")
            .message(format!("{method} is not allowed here"))
            .response(),
        _ => GateError::new(404, "not_found")
            .message(format!("no route for {method} {}", req.path))
            .response(),
    }
}

/// GET /healthz (`which` = "healthz") or /readyz; served on both sockets.
pub fn health(gate: &Gate, which: &str) -> Response {
    if which == "healthz" {
        return Response::json(200, obj! { "status" => "ok" }.to_json());
    }
    readyz(gate)
}

fn readyz(gate: &Gate) -> Response {
    let ledger_ok = gate.ledger.healthy();
    let draining = gate.draining.load(Ordering::SeqCst);
    let status = if !ledger_ok || draining {
        "not_ready"
    } else {
        "ready"
    };
    let body = obj! {
        "status" => status,
        "ledger" => ledger_ok,
        "approval_store" => true,
        "redis" => true,
        "opa" => true,
        "egress_proxy" => crate::json::Value::Null,
        "actions_registered" => gate.snapshot().registry.list().len(),
    };
    Response::json(if status == "ready" { 200 } else { 503 }, body.to_json())
}
