//! Step 3: the module the manifest names must be loaded, and its bytes must
//! hash to the digest we run (pinned when the module was loaded).

use crate::gate::errors::GateError;
use crate::gate::Gate;
use crate::registry::{Action, ProviderRef};
use crate::wasm::Provider;
use std::collections::HashMap;
use std::sync::Arc;

/// The `sha256:` digest of the module an action runs, if resolvable.
pub fn module_digest(builtins: &HashMap<String, String>, action: &Action) -> Option<String> {
    match &action.manifest.provider {
        ProviderRef::Builtin(name) => builtins.get(name).cloned(),
        ProviderRef::Digest(d) => Some(d.clone()),
    }
}

/// The loaded provider for `action`, or 403 `action_not_registered` /
/// `action_digest_mismatch`.
pub fn provider(gate: &Gate, action: &Action) -> Result<Arc<Provider>, GateError> {
    let digest = module_digest(&gate.builtin_digests, action).ok_or_else(|| {
        GateError::new(403, "action_not_registered").message("provider module is not loaded")
    })?;
    let p = gate.providers.get(&digest).ok_or_else(|| {
        GateError::new(403, "action_not_registered").message("provider module is not loaded")
    })?;
    if p.digest() != digest {
        return Err(GateError::new(403, "action_digest_mismatch"));
    }
    Ok(Arc::clone(p))
}
