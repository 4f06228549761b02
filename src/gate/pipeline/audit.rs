//! Ledger events for every decision. Events never carry request bodies or
//! secrets; an executed call's event carries its signed receipt, so the
//! receipt and its chain link become durable in the same fsync.

use super::Call;
use crate::gate::errors::GateError;
use crate::gate::Gate;
use crate::json::Value;

/// Appends `event` (durably) with a timestamp; a failure is 500
/// `evidence_persistence_failed` (fail closed: no evidence, no success).
pub fn append(gate: &Gate, mut event: Value) -> Result<(), GateError> {
    let Some(m) = event.as_object_mut() else {
        return Err(GateError::new(500, "evidence_persistence_failed"));
    };
    if !m.contains_key("timestamp") {
        m.insert(
            "timestamp",
            crate::time::rfc3339_millis(crate::time::unix_now_millis()),
        );
    }
    m.insert("dev_mode", false);
    let map = m.clone();
    gate.ledger.append(map).map(|_| ()).map_err(|e| {
        eprintln!("latchgate: ledger append failed: {e}");
        GateError::new(500, "evidence_persistence_failed")
            .message("the ledger could not record this call")
    })
}

/// The fields every call event carries: who, what, and (once decided) the
/// policy rule that decided it, plus approval attribution for approved runs.
pub fn base(call: &Call, event_type: &str, decision: &str) -> Value {
    let mut ev = crate::obj! {
        "trace_id" => call.trace_id.as_str(),
        "event_type" => event_type,
        "decision" => decision,
        "principal" => call.principal.clone(),
        "session_id" => call.session_id.clone(),
        "lease_jti" => call.lease_jti.clone(),
        "action_id" => call.action_id.as_str(),
        "action_digest" => call.action_digest.clone(),
        "request_hash" => call.request_hash.clone(),
    };
    if let Some(m) = ev.as_object_mut() {
        if let Some((rule, version, reason)) = &call.policy {
            m.insert("policy_rule", rule.as_str());
            m.insert("policy_version", version.as_str());
            m.insert("policy_reason", reason.as_str());
        }
        if let Some(approval) = &call.approval {
            m.insert("approval", approval.clone());
        }
        if let Some(agent) = &call.agent_id {
            m.insert("agent_id", agent.as_str());
        }
    }
    ev
}

/// Records a successful execution with its receipt.
pub fn record_executed(gate: &Gate, call: &Call) -> Result<(), GateError> {
    let mut ev = base(call, "action_executed", "allow");
    if let Some(m) = ev.as_object_mut() {
        m.insert("grant_id", call.grant_id.clone());
        m.insert("receipt_id", call.receipt_id.clone());
        m.insert("runtime", call.runtime.clone().unwrap_or(Value::Null));
        m.insert("receipt", call.receipt.clone().unwrap_or(Value::Null));
    }
    append(gate, ev)
}

/// Records a refusal or error (with the receipt when the run happened).
pub fn record_refusal(gate: &Gate, call: &Call, err: &GateError) -> Result<(), GateError> {
    let decision = if err.status >= 500 { "error" } else { "deny" };
    let event_type = if call.receipt.is_some() {
        "action_failed"
    } else {
        "action_denied"
    };
    let mut ev = base(call, event_type, decision);
    if let Some(m) = ev.as_object_mut() {
        m.insert("status", err.status as u64);
        m.insert("error", err.code);
        m.insert("deny_reason", err.detail());
        if call.grant_id.is_some() {
            m.insert("grant_id", call.grant_id.clone());
        }
        if let Some(rt) = &call.runtime {
            m.insert("runtime", rt.clone());
        }
        if call.receipt.is_some() {
            m.insert("receipt_id", call.receipt_id.clone());
            m.insert("receipt", call.receipt.clone().unwrap_or(Value::Null));
        }
    }
    append(gate, ev)
}
