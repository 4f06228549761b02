//! Operator providers: every `*.wasm` in the providers directory is loaded
//! at start-up and addressed by its content digest; a manifest names one
//! with `provider = "sha256:<hex>"`. A manifest whose digest matches no
//! loaded module is refused with both digests in the message (the one the
//! manifest pins and each file's real one), so a rebuilt or tampered
//! module never runs under an old manifest.

use crate::wasm::{Engine, ModuleCache, Provider};
use std::path::Path;
use std::sync::Arc;

/// Largest operator provider module.
const MAX_MODULE_BYTES: u64 = 64 * 1024 * 1024;

/// A loaded operator provider: its file name, digest and module.
pub struct Loaded {
    /// File name inside the providers directory.
    pub file: String,
    /// The module.
    pub provider: Arc<Provider>,
}

/// Loads every `*.wasm` of `dir` in file-name order; any unreadable or
/// invalid module is an error naming it (the gate does not start).
pub fn load(dir: &Path, engine: &Engine, cache: &ModuleCache) -> Result<Vec<Loaded>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("providers directory {}: {e}", dir.display()))?;
    let mut files: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let meta =
            std::fs::metadata(&path).map_err(|e| format!("provider {}: {e}", path.display()))?;
        if !meta.is_file() || meta.len() > MAX_MODULE_BYTES {
            return Err(format!(
                "provider {}: not a regular file of at most 64 MiB",
                path.display()
            ));
        }
        let bytes =
            std::fs::read(&path).map_err(|e| format!("provider {}: {e}", path.display()))?;
        let provider = engine
            .load_cached(&bytes, Some(cache))
            .map_err(|e| format!("provider {}: {e}", path.display()))?;
        out.push(Loaded {
            file: name,
            provider,
        });
    }
    Ok(out)
}

/// The message for a manifest pinning `wanted` that no loaded module has.
pub fn mismatch(action: &str, wanted: &str, loaded: &[(String, String)]) -> String {
    if loaded.is_empty() {
        return format!(
            "action `{action}`: provider {wanted} is not loaded (no operator providers; put the module in the providers directory)"
        );
    }
    let have: Vec<String> = loaded.iter().map(|(f, d)| format!("{f} = {d}")).collect();
    format!(
        "action `{action}`: its manifest pins provider {wanted}, but no loaded module has that digest (loaded: {}); rebuild the module or update the manifest's digest",
        have.join(", ")
    )
}
