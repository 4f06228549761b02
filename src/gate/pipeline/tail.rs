//! The execution tail shared by a direct call and an approved plan: grant →
//! revocation check → intent → dispatch → response check → verification →
//! receipt. Nothing else runs a provider.
//!
//! A failure before dispatch refunds the budget reserved for the call; after
//! dispatch nothing is refunded (the effect may have happened).
//!
//! An action with `[fs]` runs beneath the lease's `fs_root` (carried here
//! from the lease, or from the held plan) and may touch its declared paths
//! plus exactly the `approved_paths`; without a root it stops before the
//! grant (400 `fs_root_required`).

use super::{dispatch, grant_step, intent, receipt_step, response_check, verify, Call};
use crate::auth::lease::LeaseClaims;
use crate::egress::{DomainRule, Sinks};
use crate::gate::errors::GateError;
use crate::gate::fsio::FsAccess;
use crate::gate::Gate;
use crate::json::Value;
use crate::obj;
use crate::registry::Action;
use crate::wasm::Provider;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Who the grant is issued to.
pub struct Subject {
    /// The principal.
    pub principal: String,
    /// The key binding (`cnf.jkt` of the lease).
    pub cnf_jkt: String,
}

impl Subject {
    /// The subject of a verified lease.
    pub fn from_lease(lease: &LeaseClaims) -> Subject {
        Subject {
            principal: lease.sub.clone(),
            cnf_jkt: lease.cnf_jkt.clone(),
        }
    }
}

/// Everything the tail needs, decided before it.
pub struct Exec {
    /// The grant's subject.
    pub subject: Subject,
    /// The action (live manifest, or the held plan's).
    pub action: Arc<Action>,
    /// The provider module to run.
    pub provider: Arc<Provider>,
    /// The provider input.
    pub task: super::render::Task,
    /// `sha256:` JCS hash of the input.
    pub request_hash: String,
    /// Where the provider may connect: the manifest's domains plus any the
    /// policy or an operator approved for this call.
    pub sinks: Sinks,
    /// The session whose budget was debited for this call, if any.
    pub budget: Option<String>,
    /// Values of the action's sensitive inputs, redacted from what comes back.
    pub sensitive: Vec<String>,
    /// Binds the grant to an operator approval.
    pub approval_hash: Option<String>,
    /// The lease's fs_root (file actions run beneath it).
    pub fs_root: Option<String>,
    /// Undeclared paths the policy or an operator approved for this call.
    pub approved_paths: Vec<String>,
}

/// 400 `fs_root_required`: a file action on a lease without `fs_root`.
pub fn fs_root_required(action: &Action) -> GateError {
    GateError::new(400, "fs_root_required").reason(format!(
        "action `{}` works on files: request the lease with an fs_root",
        action.id()
    ))
}

/// The action's sinks plus `extra` hosts (exactly those hosts and their
/// subdomains, as a plain manifest entry would).
pub fn widened_sinks(action: &Action, extra: &[String]) -> Result<Sinks, GateError> {
    let mut sinks = action.sinks.clone();
    for host in extra {
        let rule = DomainRule::parse(host).map_err(|e| {
            GateError::new(422, "schema_violation").reason(format!("host `{host}`: {e}"))
        })?;
        sinks.0.push(rule);
    }
    Ok(sinks)
}

/// Runs the tail; the caller records the ledger event for the outcome.
pub fn run(gate: &Gate, call: &mut Call, exec: Exec) -> Result<Value, GateError> {
    let result = run_inner(gate, call, &exec);
    if result.is_err() && !call.dispatched {
        if let Some(session) = &exec.budget {
            gate.budgets.refund(session);
        }
    }
    result
}

fn run_inner(gate: &Gate, call: &mut Call, exec: &Exec) -> Result<Value, GateError> {
    let action = &exec.action;
    let protected = match action.manifest.fs {
        Some(_) => crate::gate::fsio::protected_paths(&gate.cfg),
        None => Vec::new(),
    };
    let fs = match (&action.manifest.fs, &exec.fs_root) {
        (None, _) => None,
        (Some(_), None) => return Err(fs_root_required(action)),
        (Some(section), Some(root)) => Some(FsAccess {
            root: std::path::Path::new(root),
            section,
            approved_paths: &exec.approved_paths,
            protected: &protected,
        }),
    };
    let grant = grant_step::issue(
        gate,
        &exec.subject,
        action,
        &exec.provider,
        &exec.request_hash,
        exec.approval_hash.clone(),
    )?;
    call.grant_id = Some(grant.grant_id.clone());
    intent::write(gate, call, action, &grant)?;
    // revoke-all between the grant and here stops the call.
    if grant.revocation_epoch != gate.epoch.load(Ordering::SeqCst) {
        return Err(GateError::new(403, "grant_revoked")
            .reason("every outstanding grant was revoked by an operator"));
    }

    let mut secrets = super::secrets_step::resolve(gate, action)?;
    secrets.raw.extend(exec.sensitive.iter().cloned());

    call.dispatched = true;
    let started_ms = crate::time::unix_now_millis();
    let outcome = dispatch::run(
        gate,
        action,
        &exec.provider,
        &exec.task,
        &exec.sinks,
        &secrets,
        fs,
    );
    drop(secrets);
    let outcome = outcome?;
    let finished_ms = crate::time::unix_now_millis();
    call.runtime = Some(outcome.runtime_json());

    let checked = response_check::check(action, &outcome);
    let verification = verify::outcome(action, &exec.task.json, &checked, &outcome);
    let receipt = receipt_step::build(
        gate,
        &grant,
        &exec.provider,
        &checked,
        &verification,
        &outcome.fs_effects,
        started_ms,
        finished_ms,
    )?;
    call.receipt_id = receipt
        .get("receipt_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    call.receipt = Some(receipt);

    // A provider failure or an egress refusal is still evidence (receipt above),
    // but the caller gets an error status, never a 200.
    if let Some(err) = checked.error_for_caller(call.receipt_id.as_deref()) {
        return Err(err);
    }
    let fully = verification.is_fully_successful();
    let mut body = obj! {
        "decision" => "executed",
        "trace_id" => call.trace_id.as_str(),
        "action_id" => call.action_id.as_str(),
        "grant_id" => grant.grant_id.as_str(),
        "receipt_id" => call.receipt_id.clone(),
        "output" => checked.output.clone(),
        "verification_outcome" => verification.status(),
        "verification" => obj! { "outcome" => verification.status(), "is_fully_successful" => fully },
        "runtime" => outcome.runtime_json(),
    };
    if let (Some(approval), Some(m)) = (&call.approval, body.as_object_mut()) {
        m.insert("approval", approval.clone());
    }
    Ok(body)
}
