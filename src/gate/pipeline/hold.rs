//! Step 7a: the policy says a human must decide. The call is stored as a
//! plan (the manifest text, the validated input, the digests) so that an
//! approval runs exactly what was held, then answered 202 with the body of
//! LatchGate v0.2: `{decision, approval_id, request_hash, trace_id}`.
//!
//! The approval is durable before the ledger event and the answer; if the
//! ledger cannot record it, the approval is marked failed (fail closed).

use super::{audit, Call};
use crate::approval::{Plan, StoreError};
use crate::auth::lease::LeaseClaims;
use crate::gate::errors::GateError;
use crate::gate::Gate;
use crate::json::Value;
use crate::obj;
use crate::policy::{Decision, Policy};
use crate::registry::Action;
use crate::wasm::Provider;

/// The parts of a call that become the plan.
pub struct Held<'a> {
    /// The action as resolved now.
    pub action: &'a Action,
    /// The provider module it would run.
    pub provider: &'a Provider,
    /// The validated input.
    pub input: Value,
    /// Its JCS hash.
    pub request_hash: String,
    /// Why it is held.
    pub decision: &'a Decision,
    /// Whether one call of the lease budget is reserved for it.
    pub budget_debited: bool,
    /// Undeclared file paths an approval lets it touch.
    pub approved_paths: Vec<String>,
}

/// Stores the plan, records `pending_approval`, and returns the 202 body.
pub fn create(
    gate: &Gate,
    call: &Call,
    policy: &Policy,
    lease: &LeaseClaims,
    held: Held,
) -> Result<Value, GateError> {
    let now = crate::time::unix_now_millis();
    let ttl_ms = (gate.cfg.approval_ttl_seconds as i64).saturating_mul(1000);
    let plan = Plan {
        approval_id: crate::crypto::uuid::v7(),
        created_at_ms: now,
        expires_at_ms: now.saturating_add(ttl_ms),
        principal: lease.sub.clone(),
        session_id: lease.session_id.clone(),
        lease_jti: lease.jti.clone(),
        cnf_jkt: lease.cnf_jkt.clone(),
        owner: lease.owner.clone(),
        action_id: held.action.id().to_string(),
        action_version: held.action.manifest.version.clone(),
        risk_level: held.action.manifest.risk_level.as_str().to_string(),
        action_digest: held.action.digest.clone(),
        manifest_origin: held.action.manifest.origin.clone(),
        manifest_source: held.action.manifest.source().to_string(),
        provider_module_digest: held.provider.digest().to_string(),
        input: held.input,
        request_hash: held.request_hash.clone(),
        policy_version: policy.version.clone(),
        policy_rule: held.decision.rule.to_string(),
        policy_reason: held.decision.reason.clone(),
        approved_domains: held.decision.widen_domains.clone(),
        fs_root: lease.fs_root.clone(),
        approved_paths: held.approved_paths.clone(),
        budget_debited: held.budget_debited,
        trace_id: call.trace_id.clone(),
    };
    let approval_id = plan.approval_id.clone();
    let expires = crate::time::rfc3339_millis(plan.expires_at_ms);
    gate.approvals.create(plan).map_err(|e| match e {
        StoreError::Full => GateError::new(503, "approval_store_full").message(format!(
            "{} approvals are already pending; an operator must decide some first",
            gate.cfg.max_pending_approvals
        )),
        other => GateError::new(503, "store_unavailable")
            .message(format!("the approval could not be stored: {other}")),
    })?;

    let mut ev = audit::base(call, "pending_approval", "pending_approval");
    if let Some(m) = ev.as_object_mut() {
        m.insert("approval_id", approval_id.as_str());
        m.insert("expires_at", expires.as_str());
        m.insert(
            "approved_domains",
            held.decision
                .widen_domains
                .iter()
                .map(|d| Value::from(d.as_str()))
                .collect::<Vec<_>>(),
        );
        if !held.approved_paths.is_empty() {
            m.insert(
                "approved_paths",
                held.approved_paths
                    .iter()
                    .map(Value::from)
                    .collect::<Vec<_>>(),
            );
        }
    }
    if let Err(e) = audit::append(gate, ev) {
        // No evidence of the hold: it must not be approvable.
        let _ = gate
            .approvals
            .claim(&approval_id, "gate", now)
            .and_then(|_| {
                gate.approvals
                    .finish_failed(
                        &approval_id,
                        "evidence_persistence_failed",
                        "the ledger could not record this approval",
                        now,
                    )
                    .map_err(crate::approval::ClaimError::Store)
            });
        return Err(e);
    }
    Ok(obj! {
        "decision" => "pending_approval",
        "approval_id" => approval_id.as_str(),
        "request_hash" => held.request_hash.as_str(),
        "trace_id" => call.trace_id.as_str(),
    })
}
