//! Step 4b: a file action (`[fs]`) is checked before anything runs: the
//! lease must carry an `fs_root` (else 400 `fs_root_required`), and the
//! request's operation, path shape, deny globs and content size must pass
//! (`fsio::precheck`; e.g. 403 `fs_path_denied`, `fs_path_escapes_root`,
//! 413 `fs_file_too_large`). Whether the path is declared is the policy's
//! question; the host checks everything again when the provider asks.

use super::tail;
use crate::gate::errors::GateError;
use crate::gate::fsio;
use crate::json::Value;
use crate::registry::Action;

/// Refuses a file action that could not run; other actions pass.
pub fn check(action: &Action, fs_root: Option<&str>, input: &Value) -> Result<(), GateError> {
    let Some(section) = &action.manifest.fs else {
        return Ok(());
    };
    if fs_root.is_none() {
        return Err(tail::fs_root_required(action));
    }
    fsio::precheck(section, input)
        .map(|_| ())
        .map_err(|e| e.gate_error())
}
