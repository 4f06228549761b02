//! Step 6: the policy decision (see `crate::policy` for the rules and their
//! order). Deny by default; the decision names the rule that made it, and
//! that rule goes into the call's ledger event whatever the outcome.

use super::render::Task;
use crate::auth::lease::LeaseClaims;
use crate::gate::errors::GateError;
use crate::json::Value;
use crate::policy::{Decision, Outcome, Policy, PolicyInput};
use crate::registry::Action;

/// The file paths a call touches: the `path` input of a file action (one
/// with `[fs]` or an `fs_*` side effect).
pub fn fs_paths(action: &Action, input: &Value) -> Vec<String> {
    let is_fs = action.manifest.fs.is_some()
        || action
            .manifest
            .declared_side_effects
            .iter()
            .any(|s| s.starts_with("fs_"));
    match input.get("path").and_then(Value::as_str) {
        Some(p) if is_fs => vec![p.to_string()],
        _ => Vec::new(),
    }
}

/// The file paths matching none of the manifest's `allowed_paths`: the
/// policy holds them for an operator, and an approval (or the allowlist)
/// lets the call touch exactly these. Deny globs were refused before the
/// policy runs and are refused by the host whatever is approved.
pub fn unresolved_paths(action: &Action, input: &Value) -> Vec<String> {
    let Some(section) = &action.manifest.fs else {
        return Vec::new();
    };
    fs_paths(action, input)
        .into_iter()
        .filter(|p| !section.declares(p))
        .collect()
}

/// Hosts the rendered request would contact that the manifest does not declare.
pub fn unresolved_domains(action: &Action, task: &Task) -> Vec<String> {
    match &task.host {
        Some(host) if !action.sinks.allows(host) => vec![host.clone()],
        _ => Vec::new(),
    }
}

/// Evaluates the policy for this call.
pub fn decide(
    policy: &Policy,
    lease: &LeaseClaims,
    action: &Action,
    task: &Task,
    input: &Value,
) -> Decision {
    evaluate(
        policy,
        &lease.sub,
        &lease.scope,
        action,
        Some((task, input)),
    )
}

/// Evaluates the policy for `principal` holding `scopes`, with the call's
/// rendered task and input when known (`latchgate policy check` shares this,
/// so it explains exactly what the gate decides).
pub fn evaluate(
    policy: &Policy,
    principal: &str,
    scopes: &[String],
    action: &Action,
    call: Option<(&Task, &Value)>,
) -> Decision {
    let (unresolved, paths, undeclared) = match call {
        Some((task, input)) => (
            unresolved_domains(action, task),
            fs_paths(action, input),
            unresolved_paths(action, input),
        ),
        None => (Vec::new(), Vec::new(), Vec::new()),
    };
    policy.evaluate(&PolicyInput {
        principal,
        scopes,
        action_id: action.id(),
        risk: action.manifest.risk_level,
        side_effects: &action.manifest.declared_side_effects,
        required_scopes: &action.manifest.required_scopes,
        unresolved_domains: &unresolved,
        fs_paths: &paths,
        unresolved_paths: &undeclared,
    })
}

/// What the operator can do about a denial.
fn remediation(rule: &str, principal: &str, action: &str) -> String {
    match rule {
        "acl.no_entry" | "acl.action" => format!(
            "add \"{action}\" to acl.\"{principal}\".allowed_actions in the policy file, then run: latchgate reload"
        ),
        "acl.side_effect" => format!(
            "add the action's side effects to acl.\"{principal}\".allowed_side_effects in the policy file, then run: latchgate reload"
        ),
        "scope" => "request a lease with the scopes the action requires".to_string(),
        _ => format!(
            "declare the target in the manifest of `{action}`, or remove `{action}` from approval.never in the policy file"
        ),
    }
}

/// A deny becomes 403 `policy_denied` (with the v0.2 fields and the rule);
/// allow and hold pass.
pub fn enforce(lease: &LeaseClaims, action: &Action, d: &Decision) -> Result<(), GateError> {
    if d.outcome != Outcome::Deny {
        return Ok(());
    }
    Err(GateError::new(403, "policy_denied")
        .reason(d.reason.clone())
        .with("principal", lease.sub.as_str())
        .with("action_id", action.id())
        .with("policy_rule", d.rule)
        .with("remediation", remediation(d.rule, &lease.sub, action.id())))
}
