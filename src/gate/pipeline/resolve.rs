//! Step 2: look the action up in the registry.

use crate::gate::errors::GateError;
use crate::gate::Snapshot;
use crate::registry::Action;
use std::sync::Arc;

/// The action, or 404 `action_not_found`.
pub fn lookup(snap: &Snapshot, id: &str) -> Result<Arc<Action>, GateError> {
    snap.registry.get(id).cloned().ok_or_else(|| {
        GateError::new(404, "action_not_found").message(format!("no action `{id}` is registered"))
    })
}
