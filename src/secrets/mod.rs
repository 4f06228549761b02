//! Secrets: values the gate injects into a provider's outbound requests on
//! the host, where the manifest says (header and format), only over https
//! and only to the action's sinks. A secret never enters WASM memory, the
//! ledger, logs, error bodies or receipts.
//!
//! Where a value comes from, first match wins:
//! 1. `[secrets] NAME = "env:VAR"` or `"file:/path"` in latchgate.toml;
//! 2. the operator's store, `<data_dir>/secrets.json` (0600), written by
//!    `latchgate secrets set NAME` (value from stdin, never echoed).

pub mod store;
pub mod value;

pub use store::Store;
pub use value::SecretValue;

use crate::config::SecretSource;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Largest secret value accepted from any source.
pub const MAX_SECRET_BYTES: usize = 16 * 1024;

/// Whether `name` is a valid secret name: `[A-Z][A-Z0-9_]{0,63}`.
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_uppercase()
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

/// Resolves secret names to values.
pub struct Secrets {
    sources: BTreeMap<String, SecretSource>,
    store: Store,
}

impl Secrets {
    /// Secrets from the config's sources and the store in `data_dir`.
    pub fn new(sources: &[(String, SecretSource)], data_dir: PathBuf) -> Secrets {
        Secrets {
            sources: sources.iter().cloned().collect(),
            store: Store::new(data_dir),
        }
    }

    /// Where `name` would come from, for `actions show` and `secrets list`:
    /// "env:VAR", "file:/path", "store", or None when it is not configured.
    pub fn source_of(&self, name: &str) -> Option<String> {
        match self.sources.get(name) {
            Some(SecretSource::Env(v)) => Some(format!("env:{v}")),
            Some(SecretSource::File(p)) => Some(format!("file:{}", p.display())),
            None => match self.store.contains(name) {
                Ok(true) => Some("store".into()),
                _ => None,
            },
        }
    }

    /// The value of `name`: Ok(None) when it is configured nowhere; Err
    /// when a configured source cannot be read (never the value itself).
    pub fn get(&self, name: &str) -> Result<Option<SecretValue>, String> {
        let raw = match self.sources.get(name) {
            Some(SecretSource::Env(var)) => match std::env::var(var) {
                Ok(v) => v,
                Err(std::env::VarError::NotPresent) => {
                    return Err(format!(
                        "secret {name}: environment variable {var} is not set"
                    ))
                }
                Err(_) => return Err(format!("secret {name}: {var} is not valid UTF-8")),
            },
            Some(SecretSource::File(path)) => {
                let meta = std::fs::metadata(path)
                    .map_err(|e| format!("secret {name}: {}: {e}", path.display()))?;
                if meta.len() > MAX_SECRET_BYTES as u64 {
                    return Err(format!("secret {name}: {} is too large", path.display()));
                }
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("secret {name}: {}: {e}", path.display()))?;
                text.trim_end_matches(['\n', '\r']).to_string()
            }
            None => return self.store.get(name),
        };
        SecretValue::new(raw)
            .map(Some)
            .map_err(|e| format!("secret {name}: {e}"))
    }

    /// The operator's store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Names with a config source.
    pub fn configured_sources(&self) -> Vec<(String, String)> {
        self.sources
            .keys()
            .filter_map(|k| self.source_of(k).map(|s| (k.clone(), s)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("GITHUB_TOKEN"));
        assert!(valid_name("A"));
        assert!(!valid_name("github_token"));
        assert!(!valid_name("1ABC"));
        assert!(!valid_name(""));
        assert!(!valid_name(&"A".repeat(65)));
    }

    #[test]
    fn config_sources_win_over_the_store() {
        let dir = std::env::temp_dir().join(format!("lg-secrets-{}", crate::crypto::uuid::v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tok");
        std::fs::write(&file, "from-file\n").unwrap();
        let s = Secrets::new(
            &[("A_TOKEN".into(), SecretSource::File(file.clone()))],
            dir.clone(),
        );
        s.store().set("A_TOKEN", "from-store").unwrap();
        s.store().set("B_TOKEN", "only-store").unwrap();
        assert_eq!(s.get("A_TOKEN").unwrap().unwrap().expose(), "from-file");
        assert_eq!(s.get("B_TOKEN").unwrap().unwrap().expose(), "only-store");
        assert!(s.get("C_TOKEN").unwrap().is_none());
        assert_eq!(
            s.source_of("A_TOKEN").unwrap(),
            format!("file:{}", file.display())
        );
        assert_eq!(s.source_of("B_TOKEN").unwrap(), "store");
        let missing = Secrets::new(
            &[("E".into(), SecretSource::Env("LG_TEST_UNSET_VAR".into()))],
            dir,
        );
        let err = missing.get("E").unwrap_err();
        assert!(err.contains("LG_TEST_UNSET_VAR") && !err.contains("from"));
    }
}
