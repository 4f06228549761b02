//! Held calls: the operator's list, show, approve and deny (admin socket),
//! and the agent's poll (client socket, lease + DPoP).
//!
//! Approve claims the approval atomically (a second approver gets 409
//! `conflict`), rebuilds the call from the stored plan — the manifest text
//! as held, its digest re-checked, the input re-validated and re-hashed —
//! and runs it through the shared execution tail with a grant bound to the
//! approval. Approve or deny of a decided approval is a no-op answered with
//! the stored outcome (`already_approved`, `already_denied`, ...).

use super::errors::GateError;
use super::pipeline::{audit, auth_step, render, tail, validate, Call, InFlight};
use super::Gate;
use crate::approval::{Approval, ClaimError, Plan, Status};
use crate::json::Value;
use crate::net::http::{Request, Response};
use crate::obj;
use crate::registry::{Action, Manifest};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Default and largest page of `GET /v1/approvals`.
const LIST_DEFAULT: usize = 50;
const LIST_MAX: usize = 200;

fn not_found(id: &str) -> Response {
    GateError::new(404, "not_found")
        .message(format!("no approval `{id}`"))
        .response()
}

fn store_error(e: impl std::fmt::Display) -> Response {
    GateError::new(503, "store_unavailable")
        .message(format!("approval store: {e}"))
        .response()
}

/// A ledger event about an approval (not a call).
fn approval_event(event_type: &str, decision: &str, a: &Approval) -> Value {
    obj! {
        "trace_id" => crate::crypto::uuid::v7(),
        "event_type" => event_type,
        "decision" => decision,
        "approval_id" => a.plan.approval_id.as_str(),
        "principal" => a.plan.principal.as_str(),
        "session_id" => a.plan.session_id.as_str(),
        "action_id" => a.plan.action_id.as_str(),
        "request_hash" => a.plan.request_hash.as_str(),
        "policy_rule" => a.plan.policy_rule.as_str(),
        "policy_version" => a.plan.policy_version.as_str(),
    }
}

fn refund(gate: &Gate, plan: &Plan) {
    if plan.budget_debited {
        gate.budgets.refund(&plan.session_id);
    }
}

/// Records approvals the store found interrupted at start-up.
pub fn record_interrupted(gate: &Gate, interrupted: &[Approval]) {
    for a in interrupted {
        let mut ev = approval_event("approval_failed", "error", a);
        if let Some(m) = ev.as_object_mut() {
            m.insert("error", "interrupted");
            m.insert("deny_reason", a.reason.clone());
        }
        if let Err(e) = audit::append(gate, ev) {
            eprintln!(
                "latchgate: cannot record interrupted approval: {}",
                e.detail()
            );
        }
    }
}

/// Writes the expiry of every approval past its time, records each in the
/// ledger, and gives its reserved call back.
pub fn sweep_expired(gate: &Gate) -> Result<(), Response> {
    let expired = gate
        .approvals
        .expire_due(crate::time::unix_now_millis())
        .map_err(store_error)?;
    for a in &expired {
        refund(gate, &a.plan);
        let ev = approval_event("approval_expired", "deny", a);
        audit::append(gate, ev).map_err(|e| e.response())?;
    }
    Ok(())
}

/// GET /v1/approvals?status=&limit=
pub fn list(gate: &Gate, req: &Request) -> Response {
    if let Err(r) = sweep_expired(gate) {
        return r;
    }
    let status = match req.query_param("status") {
        None => None,
        Some(s) => match Status::parse(&s) {
            Some(st) => Some(st),
            None => {
                return GateError::new(400, "bad_request")
                    .message(format!(
                        "status `{s}` is not one of pending, claimed, approved, denied, failed, expired"
                    ))
                    .response()
            }
        },
    };
    let limit = match req.query_param("limit") {
        None => LIST_DEFAULT,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=LIST_MAX).contains(&n) => n,
            _ => {
                return GateError::new(400, "bad_request")
                    .message(format!("limit `{l}` is not a number in 1..={LIST_MAX}"))
                    .response()
            }
        },
    };
    let items: Vec<Value> = gate
        .approvals
        .list(status, limit, crate::time::unix_now_millis())
        .iter()
        .map(Approval::summary_json)
        .collect();
    let count = items.len();
    Response::json(
        200,
        obj! { "approvals" => items, "count" => count }.to_json(),
    )
}

/// GET /v1/approvals/{id}
pub fn show(gate: &Gate, id: &str) -> Response {
    if let Err(r) = sweep_expired(gate) {
        return r;
    }
    match gate.approvals.get(id, crate::time::unix_now_millis()) {
        Some(a) => Response::json(200, a.detail_json().to_json()),
        None => not_found(id),
    }
}

/// The no-op answer for an approval that is already decided.
fn already(a: &Approval) -> Response {
    let word = match a.status {
        Status::Approved => "already_approved",
        Status::Denied => "already_denied",
        Status::Failed => "already_failed",
        Status::Expired => "already_expired",
        Status::Pending | Status::Claimed => "already_completed",
    };
    let mut body = obj! {
        "decision" => word,
        "approval_id" => a.plan.approval_id.as_str(),
        "status" => a.status.as_str(),
    };
    if let Some(m) = body.as_object_mut() {
        if let Some(t) = a.completed_at_ms {
            m.insert("completed_at", crate::time::rfc3339_millis(t));
        }
        if let Some(r) = &a.receipt_id {
            m.insert("receipt_id", r.as_str());
        }
        if let Some(r) = &a.reason {
            let key = if a.status == Status::Denied {
                "deny_reason"
            } else {
                "reason"
            };
            m.insert(key, r.as_str());
        }
    }
    Response::json(200, body.to_json())
}

fn conflict(a: &Approval) -> Response {
    let mut e = GateError::new(409, "conflict").message(format!(
        "approval `{}` is being decided by {} right now",
        a.plan.approval_id,
        a.claimed_by.as_deref().unwrap_or("another operator")
    ));
    if let Some(by) = &a.claimed_by {
        e = e.with("claimed_by", by.as_str());
    }
    e.response()
}

/// POST /v1/approvals/{id}/approve: runs the held plan once.
pub fn approve(gate: &Gate, id: &str, by: &str, method: &str) -> Response {
    if gate.draining.load(Ordering::SeqCst) {
        return GateError::new(503, "draining").response();
    }
    if let Err(r) = sweep_expired(gate) {
        return r;
    }
    let now = crate::time::unix_now_millis();
    let claimed = match gate.approvals.claim(id, by, now) {
        Ok(a) => a,
        Err(ClaimError::NotFound) => return not_found(id),
        Err(ClaimError::InProgress(a)) => return conflict(&a),
        Err(ClaimError::Terminal(a)) => return already(&a),
        Err(ClaimError::Store(e)) => return store_error(e),
    };
    let _counted = InFlight::enter(gate);
    run_approved(gate, &claimed, by, method)
}

fn run_approved(gate: &Gate, a: &Approval, by: &str, method: &str) -> Response {
    let plan = &a.plan;
    let approval_hash = plan.approval_hash();
    let mut call = Call::new(&plan.action_id);
    call.principal = Some(plan.principal.clone());
    call.session_id = Some(plan.session_id.clone());
    call.lease_jti = Some(plan.lease_jti.clone());
    call.request_hash = Some(plan.request_hash.clone());
    call.policy = Some((
        plan.policy_rule.clone(),
        plan.policy_version.clone(),
        plan.policy_reason.clone(),
    ));
    call.approval = Some(obj! {
        "decision" => "allow",
        "approval_id" => plan.approval_id.as_str(),
        "approved_by" => by,
        "approval_hash" => approval_hash.as_str(),
        "operator_authn_method" => method,
    });
    let result = match plan_exec(gate, plan, approval_hash) {
        Ok(exec) => {
            call.action_digest = Some(exec.action.digest.clone());
            call.action = Some(Arc::clone(&exec.action));
            // The tail refunds the reserved call itself if it stops before dispatch.
            tail::run(gate, &mut call, exec)
        }
        Err(e) => {
            refund(gate, plan);
            Err(e)
        }
    };
    let now = crate::time::unix_now_millis();
    match result {
        Ok(body) => {
            let recorded = audit::record_executed(gate, &call);
            let finished = gate.approvals.finish_approved(
                &plan.approval_id,
                by,
                call.receipt_id.clone(),
                &call.trace_id,
                now,
            );
            if let Err(e) = recorded {
                return e.response();
            }
            if let Err(e) = finished {
                eprintln!(
                    "latchgate: approval {} ran but its outcome could not be stored: {e}",
                    plan.approval_id
                );
            }
            Response::json(200, body.to_json())
        }
        Err(err) => {
            let recorded = audit::record_refusal(gate, &call, &err);
            // Ran (a receipt exists): the approval is done, the receipt says how
            // it went. Stopped before the run: the approval failed.
            let finished = if call.dispatched {
                gate.approvals.finish_approved(
                    &plan.approval_id,
                    by,
                    call.receipt_id.clone(),
                    &call.trace_id,
                    now,
                )
            } else {
                gate.approvals
                    .finish_failed(&plan.approval_id, err.code, &err.detail(), now)
            };
            if let Err(e) = finished {
                eprintln!(
                    "latchgate: approval {} outcome could not be stored: {e}",
                    plan.approval_id
                );
            }
            match recorded {
                Ok(()) => err.response(),
                Err(e) => e.response(),
            }
        }
    }
}

/// Rebuilds a runnable call from a stored plan: the held manifest (its
/// digest must still match), the module it pinned (must be loaded), the
/// input re-validated and re-hashed, the template rendered again.
fn plan_exec(gate: &Gate, plan: &Plan, approval_hash: String) -> Result<tail::Exec, GateError> {
    let integrity = |m: String| GateError::new(409, "plan_integrity_failed").reason(m);
    let manifest = Manifest::from_toml(&plan.manifest_source, &plan.manifest_origin)
        .map_err(|e| integrity(format!("the held manifest no longer parses: {e}")))?;
    let action = Action::new(manifest)
        .map_err(|e| integrity(format!("the held manifest no longer compiles: {e}")))?;
    if action.digest != plan.action_digest {
        return Err(integrity(format!(
            "the held manifest hashes to {}, the plan says {}",
            action.digest, plan.action_digest
        )));
    }
    let provider = gate
        .providers
        .get(&plan.provider_module_digest)
        .cloned()
        .ok_or_else(|| {
            GateError::new(403, "action_not_registered").reason(format!(
                "provider module {} is no longer loaded",
                plan.provider_module_digest
            ))
        })?;
    let body = plan.input.to_json();
    let (input, request_hash) = validate::input(&action, body.as_bytes())?;
    if request_hash != plan.request_hash {
        return Err(integrity(format!(
            "the held input hashes to {request_hash}, the plan says {}",
            plan.request_hash
        )));
    }
    super::pipeline::fs_step::check(&action, plan.fs_root.as_deref(), &input)?;
    let task = render::task(&action, &input)?;
    let sinks = tail::widened_sinks(&action, &plan.approved_domains)?;
    Ok(tail::Exec {
        sensitive: super::pipeline::secrets_step::sensitive_values(&action, &input),
        subject: tail::Subject {
            principal: plan.principal.clone(),
            cnf_jkt: plan.cnf_jkt.clone(),
        },
        action: Arc::new(action),
        provider,
        task,
        request_hash,
        sinks,
        budget: plan.budget_debited.then(|| plan.session_id.clone()),
        approval_hash: Some(approval_hash),
        fs_root: plan.fs_root.clone(),
        approved_paths: plan.approved_paths.clone(),
    })
}

/// POST /v1/approvals/{id}/deny, body `{"reason"}` optional.
pub fn deny(gate: &Gate, req: &Request, id: &str, by: &str) -> Response {
    if let Err(r) = sweep_expired(gate) {
        return r;
    }
    let reason = if req.body.iter().all(u8::is_ascii_whitespace) {
        "operator_denied".to_string()
    } else {
        match crate::json::parse(&req.body) {
            Ok(v) => match v.get("reason") {
                None | Some(Value::Null) => "operator_denied".to_string(),
                Some(Value::String(s)) if s.len() <= 1000 => s.clone(),
                Some(_) => {
                    return GateError::new(400, "bad_request")
                        .message("`reason` must be a string of at most 1000 bytes")
                        .response()
                }
            },
            Err(e) => {
                return GateError::new(400, "bad_request")
                    .message(format!("body is not JSON: {e}"))
                    .response()
            }
        }
    };
    let denied = match gate
        .approvals
        .deny(id, by, &reason, crate::time::unix_now_millis())
    {
        Ok(a) => a,
        Err(ClaimError::NotFound) => return not_found(id),
        Err(ClaimError::InProgress(a)) => return conflict(&a),
        Err(ClaimError::Terminal(a)) => return already(&a),
        Err(ClaimError::Store(e)) => return store_error(e),
    };
    refund(gate, &denied.plan);
    let trace_id = crate::crypto::uuid::v7();
    let mut ev = approval_event("approval_denied", "deny", &denied);
    if let Some(m) = ev.as_object_mut() {
        m.insert("trace_id", trace_id.as_str());
        m.insert("denied_by", by);
        m.insert("deny_reason", reason.as_str());
    }
    if let Err(e) = audit::append(gate, ev) {
        return e.response();
    }
    let body = obj! {
        "decision" => "deny",
        "trace_id" => trace_id.as_str(),
        "action_id" => denied.plan.action_id.as_str(),
        "approval_id" => denied.plan.approval_id.as_str(),
        "denied_by" => by,
        "deny_reason" => reason.as_str(),
    };
    Response::json(200, body.to_json())
}

/// GET /v1/approvals/{id}/poll (lease + DPoP). The caller must own the
/// approval: the same lease session, or the same principal with the same
/// key after leasing again (a gate restart ends every lease).
pub fn poll(gate: &Gate, req: &Request, id: &str) -> Response {
    let path = format!("/v1/approvals/{id}/poll");
    let lease = match auth_step::authenticate(gate, req, "GET", &path) {
        Ok(l) => l,
        Err(e) => {
            // A refused poll is a decision too: recorded like every other.
            let event = obj! {
                "trace_id" => crate::crypto::uuid::v7(),
                "event_type" => "approval_poll_denied",
                "decision" => "deny",
                "approval_id" => id,
                "error" => e.code,
                "deny_reason" => e.detail(),
            };
            return match audit::append(gate, event) {
                Ok(()) => e.response(),
                Err(persist) => persist.response(),
            };
        }
    };
    if let Err(r) = sweep_expired(gate) {
        return r;
    }
    let Some(a) = gate.approvals.get(id, crate::time::unix_now_millis()) else {
        return not_found(id);
    };
    let owner = a.plan.session_id == lease.session_id
        || (a.plan.principal == lease.sub && a.plan.cnf_jkt == lease.cnf_jkt);
    if !owner {
        // The same answer as an unknown id: no probing of other sessions.
        return not_found(id);
    }
    let mut body = obj! {
        "approval_id" => id,
        "action_id" => a.plan.action_id.as_str(),
    };
    if let Some(m) = body.as_object_mut() {
        match a.status {
            Status::Pending => {
                m.insert("status", "pending");
                m.insert("retry_after_seconds", 2);
            }
            Status::Claimed => {
                m.insert("status", "pending");
                m.insert("retry_after_seconds", 1);
            }
            Status::Approved => {
                m.insert("status", "approved");
                m.insert("receipt_id", a.receipt_id.clone());
            }
            Status::Denied => {
                m.insert("status", "denied");
                m.insert("reason", a.reason.clone().unwrap_or_default());
            }
            Status::Failed => {
                m.insert("status", "failed");
                m.insert("reason", a.reason.clone().unwrap_or_default());
            }
            Status::Expired => {
                m.insert("status", "expired");
                m.insert(
                    "reason",
                    format!(
                        "no operator decided before {}",
                        crate::time::rfc3339_millis(a.plan.expires_at_ms)
                    ),
                );
            }
        }
    }
    Response::json(200, body.to_json())
}
