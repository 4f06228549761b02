//! Step 9: before an action that can change the world runs, a durable
//! `execution_intent` event names the grant. After a crash, an intent with no
//! matching receipt shows an effect may have happened without evidence of
//! its result. Read-only actions (no declared side effects) skip it: there is
//! nothing to reconcile, and it saves an fsync on the hot path.

use super::{audit, Call};
use crate::evidence::grant::Grant;
use crate::gate::errors::GateError;
use crate::gate::Gate;
use crate::obj;
use crate::registry::Action;

/// Writes the intent (durably) when the action declares side effects.
pub fn write(gate: &Gate, call: &Call, action: &Action, grant: &Grant) -> Result<(), GateError> {
    let writes = action
        .manifest
        .declared_side_effects
        .iter()
        .any(|s| !s.ends_with("_read"));
    if !writes {
        return Ok(());
    }
    audit::append(
        gate,
        obj! {
            "trace_id" => call.trace_id.as_str(),
            "event_type" => "execution_intent",
            "decision" => "allow",
            "principal" => call.principal.clone(),
            "action_id" => call.action_id.as_str(),
            "grant_id" => grant.grant_id.as_str(),
            "request_hash" => call.request_hash.clone(),
            "provider_module_digest" => grant.provider_module_digest.as_str(),
        },
    )
}
