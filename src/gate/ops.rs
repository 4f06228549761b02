//! Operator operations: status, drain, revoke-all, reload, and the audit
//! reads of the operator API. Every operation that changes the gate is a
//! ledger event naming the operator.

use super::errors::GateError;
use super::pipeline::audit;
use super::Gate;
use crate::evidence::EventFilter;
use crate::json::Value;
use crate::net::http::{Request, Response};
use crate::obj;
use std::sync::atomic::Ordering;

fn op_event(event_type: &str, who: &str) -> Value {
    obj! {
        "trace_id" => crate::crypto::uuid::v7(),
        "event_type" => event_type,
        "decision" => "allow",
        "operator" => who,
    }
}

/// GET /v1/admin/status
pub fn status(gate: &Gate) -> Response {
    let now = crate::time::unix_now_millis();
    let snap = gate.snapshot();
    let cfg = &gate.cfg;
    let mut listeners = vec![
        obj! { "kind" => "unix", "role" => "client", "address" => cfg.listen_uds_path.display().to_string() },
        obj! { "kind" => "unix", "role" => "operator", "address" => cfg.listen_admin_uds_path.display().to_string() },
    ];
    if let Some(a) = cfg.listen_http_addr {
        listeners.push(obj! { "kind" => "tcp", "role" => "client", "address" => a.to_string() });
    }
    if let Some(a) = cfg.listen_admin_http_addr {
        listeners.push(obj! { "kind" => "tcp", "role" => "operator", "address" => a.to_string() });
    }
    let body = obj! {
        "version" => env!("CARGO_PKG_VERSION"),
        "started_at" => crate::time::rfc3339_millis(gate.started_ms),
        "uptime_seconds" => ((now - gate.started_ms).max(0) / 1000) as u64,
        "draining" => gate.draining.load(Ordering::SeqCst),
        "listeners" => listeners,
        "public_base_url" => cfg.public_base_url.as_str(),
        "actions" => snap.registry.list().len(),
        "policy_version" => snap.policy.version.as_str(),
        "policy_source" => snap.policy.origin.as_str(),
        "identity" => match cfg.identity.provider {
            crate::config::IdentityProvider::None => "none",
            crate::config::IdentityProvider::Peercred => "peercred",
        },
        "pending_approvals" => gate.approvals.pending_count(now),
        "in_flight" => gate.in_flight.load(Ordering::SeqCst),
        "revocation_epoch" => gate.epoch.load(Ordering::SeqCst),
        "ledger_healthy" => gate.ledger.healthy(),
        "ledger" => cfg.ledger_dir().display().to_string(),
        "unresolved_intents" => gate.unresolved_intents.clone(),
    };
    Response::json(200, body.to_json())
}

/// GET /v1/admin/epoch
pub fn epoch(gate: &Gate) -> Response {
    let body = obj! { "epoch" => gate.epoch.load(Ordering::SeqCst) };
    Response::json(200, body.to_json())
}

/// POST /v1/admin/drain: new calls get 503 `draining`; calls in flight finish.
pub fn drain(gate: &Gate, who: &str) -> Response {
    let was = gate.draining.swap(true, Ordering::SeqCst);
    if let Err(e) = audit::append(gate, op_event("gate_drain", who)) {
        return e.response();
    }
    let body = obj! {
        "draining" => true,
        "was_draining" => was,
        "in_flight" => gate.in_flight.load(Ordering::SeqCst),
    };
    Response::json(200, body.to_json())
}

/// POST /v1/admin/revoke-all: every lease issued so far stops verifying (the
/// lease key is replaced) and every grant not yet dispatched is refused (the
/// epoch moves). Held approvals stay: they still need an operator.
pub fn revoke_all(gate: &Gate, who: &str) -> Response {
    if let Err(e) = gate.leases.rotate() {
        return GateError::new(500, "internal_error")
            .message(format!("the lease key could not be replaced: {e}"))
            .response();
    }
    let previous = gate.epoch.fetch_add(1, Ordering::SeqCst);
    let mut ev = op_event("revoke_all", who);
    if let Some(m) = ev.as_object_mut() {
        m.insert("previous_epoch", previous);
        m.insert("current_epoch", previous + 1);
    }
    if let Err(e) = audit::append(gate, ev) {
        return e.response();
    }
    let body = obj! { "previous_epoch" => previous, "current_epoch" => previous + 1 };
    Response::json(200, body.to_json())
}

/// POST /v1/admin/reload: manifests and policy loaded again and swapped in
/// whole; a bad file is refused (422 `reload_failed`) and the old set keeps
/// serving.
pub fn reload(gate: &Gate, who: &str) -> Response {
    match gate.reload() {
        Ok(warnings) => {
            let snap = gate.snapshot();
            let mut ev = op_event("reload", who);
            if let Some(m) = ev.as_object_mut() {
                m.insert("policy_version", snap.policy.version.as_str());
                m.insert("actions", snap.registry.list().len());
            }
            if let Err(e) = audit::append(gate, ev) {
                return e.response();
            }
            let body = obj! {
                "reloaded" => true,
                "actions" => snap.registry.list().len(),
                "policy_version" => snap.policy.version.as_str(),
                "warnings" => warnings.into_iter().map(Value::from).collect::<Vec<_>>(),
            };
            Response::json(200, body.to_json())
        }
        Err(reason) => {
            let mut ev = op_event("reload", who);
            if let Some(m) = ev.as_object_mut() {
                m.insert("decision", "error");
                m.insert("deny_reason", reason.as_str());
            }
            if let Err(e) = audit::append(gate, ev) {
                return e.response();
            }
            GateError::new(422, "reload_failed")
                .message(format!(
                    "{reason} (the previous manifests and policy keep serving)"
                ))
                .response()
        }
    }
}

fn bad(msg: String) -> Response {
    GateError::new(400, "bad_request").message(msg).response()
}

/// GET /v1/audit/events with v0.2's filters; newest first.
pub fn audit_events(gate: &Gate, req: &Request) -> Response {
    let mut f = EventFilter {
        limit: Some(100),
        ..Default::default()
    };
    f.action_id = req.query_param("action_id");
    f.principal = req.query_param("principal");
    f.decision = req.query_param("decision");
    f.event_type = req.query_param("event_type");
    f.trace_id = req.query_param("trace_id");
    f.session_id = req.query_param("session_id");
    for (name, slot) in [("after", &mut f.after_ms), ("before", &mut f.before_ms)] {
        if let Some(t) = req.query_param(name) {
            match crate::time::parse_rfc3339(&t) {
                Some(ms) => *slot = Some(ms),
                None => {
                    return bad(format!(
                        "{name} `{t}` is not an RFC 3339 time such as 2026-11-23T10:00:00Z"
                    ))
                }
            }
        }
    }
    if let Some(l) = req.query_param("limit") {
        match l.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => f.limit = Some(n),
            _ => return bad(format!("limit `{l}` is not a number in 1..=1000")),
        }
    }
    match gate.ledger.query(&f) {
        Ok(events) => Response::json(200, obj! { "events" => events }.to_json()),
        Err(e) => GateError::new(503, "store_unavailable")
            .message(format!("ledger: {e}"))
            .response(),
    }
}

/// GET /v1/audit/verify
pub fn audit_verify(gate: &Gate) -> Response {
    match crate::evidence::verify_ledger(&gate.cfg.ledger_dir()) {
        Ok(report) => Response::json(200, report.to_json().to_json()),
        Err(e) => GateError::new(503, "store_unavailable")
            .message(format!("ledger: {e}"))
            .response(),
    }
}

/// GET /v1/receipts/{id} for an operator.
pub fn receipt(gate: &Gate, id: &str) -> Response {
    super::receipts::stored(gate, id)
}

/// GET /v1/receipt-keys
pub fn receipt_keys(gate: &Gate) -> Response {
    Response::json(200, gate.ledger.keyring().to_json().to_json())
}
