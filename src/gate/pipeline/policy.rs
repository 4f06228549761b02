//! Step 6: the decision. Deny by default: the lease must carry `tools:call`
//! and every scope the action requires, and a rendered URL must point at a
//! host the manifest declares. (ACLs, approvals and rate limits: policy issue.)

use super::render::Task;
use crate::auth::lease::LeaseClaims;
use crate::gate::errors::GateError;
use crate::registry::Action;

fn denied(lease: &LeaseClaims, action: &Action, reason: String) -> GateError {
    GateError::new(403, "policy_denied")
        .reason(reason)
        .with("principal", lease.sub.as_str())
        .with("action_id", action.manifest.id.as_str())
        .with(
            "remediation",
            format!(
                "Run: latchgate policy grant {} {}",
                lease.sub, action.manifest.id
            ),
        )
}

/// Allows the call or says which rule denied it.
pub fn decide(lease: &LeaseClaims, action: &Action, task: &Task) -> Result<(), GateError> {
    if !lease.scope.iter().any(|s| s == "tools:call") {
        return Err(denied(lease, action, "lease lacks scope tools:call".into()));
    }
    for need in &action.manifest.required_scopes {
        if !lease.scope.iter().any(|s| s == need) {
            return Err(denied(lease, action, format!("lease lacks scope {need}")));
        }
    }
    if let Some(host) = &task.host {
        if !action.sinks.allows(host) {
            return Err(GateError::new(403, "egress_denied")
                .reason(format!(
                    "host `{host}` is not among the action's declared egress domains"
                ))
                .with("action_id", action.manifest.id.as_str()));
        }
    }
    Ok(())
}
