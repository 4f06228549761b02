//! Steps 7–8: budget debit, then a signed one-shot grant naming exactly what
//! may run (action digest, module digest, request hash, subject, key binding).

use super::tail::Subject;
use crate::auth::lease::LeaseClaims;
use crate::evidence::grant::Grant;
use crate::gate::budget::DebitError;
use crate::gate::errors::GateError;
use crate::gate::Gate;
use crate::registry::Action;
use crate::wasm::Provider;
use std::sync::atomic::Ordering;

/// Debits one call when the lease has a budget; returns whether it did.
pub fn debit(gate: &Gate, lease: &LeaseClaims) -> Result<bool, GateError> {
    if lease.max_calls.is_none() {
        return Ok(false);
    }
    match gate.budgets.debit(&lease.session_id) {
        Ok(_) => Ok(true),
        Err(DebitError::Exhausted) => Err(GateError::new(403, "budget_exhausted").reason(format!(
            "the lease's budget of {} calls is spent",
            lease.max_calls.unwrap_or(0)
        ))),
        Err(DebitError::NotFound) => Err(GateError::new(403, "budget_session_not_found")),
        Err(DebitError::Unavailable) => Err(GateError::new(503, "budget_store_unavailable")),
    }
}

/// Issues and signs the grant for this call under the current revocation
/// epoch, bound to an approval when there is one.
pub fn issue(
    gate: &Gate,
    subject: &Subject,
    action: &Action,
    provider: &Provider,
    request_hash: &str,
    approval_hash: Option<String>,
) -> Result<Grant, GateError> {
    let now_ms = crate::time::unix_now_millis();
    let timeout_ms = action.manifest.limits.timeout_seconds as i64 * 1000;
    let mut grant = Grant {
        grant_id: crate::crypto::uuid::v7(),
        subject: subject.principal.clone(),
        sender_binding: subject.cnf_jkt.clone(),
        action_id: action.manifest.id.clone(),
        action_digest: action.digest.clone(),
        provider_module_digest: provider.digest().to_string(),
        request_hash: request_hash.to_string(),
        issued_at: crate::time::rfc3339_millis(now_ms),
        expires_at: crate::time::rfc3339_millis(now_ms + timeout_ms + 30_000),
        revocation_epoch: gate.epoch.load(Ordering::SeqCst),
        approval_hash,
        signature: String::new(),
        signing_key_id: String::new(),
    };
    grant.sign(&gate.grant_key);
    Ok(grant)
}
