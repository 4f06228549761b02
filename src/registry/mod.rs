//! The action registry: TOML manifests (format in `manifest.rs`), their
//! compiled request/response schemas (`schema.rs`) and request templates
//! (`template.rs`).
//!
//! Loading is fail-closed: the embedded defaults load first, then every
//! `*.toml` of an optional directory in file-name order, overriding by id
//! with a warning. Any bad file is an error naming it, and the gate refuses
//! to start.

mod convert;
mod digest;
mod embedded;
mod fields;
pub mod fs;
pub mod manifest;
mod rules;
pub mod schema;
mod sections;
pub mod template;
mod uri;
mod views;

pub use convert::toml_to_json;
pub use digest::sha256_prefixed;
pub use embedded::EMBEDDED;
pub use fs::{FsOperation, FsSection};
pub use manifest::{
    Egress, IoLimits, Limits, Manifest, ManifestError, ProviderRef, RiskLevel, Secret,
    Verification, VerifierKind,
};
pub use schema::{check_shape, Schema, SchemaError};
pub use template::{render, RenderedRequest, Template, TemplateError};
pub use uri::check_http_url;

use crate::egress::Sinks;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest manifest file read from a directory.
const MAX_FILE_BYTES: u64 = 1 << 20;
/// Most manifest files read from a directory.
const MAX_FILES: usize = 10_000;

/// A loaded action: its validated manifest, compiled schemas, content
/// digest and egress sinks, built once at load.
#[derive(Clone, Debug)]
pub struct Action {
    pub manifest: Manifest,
    /// The compiled `request_schema`.
    pub request_schema: Option<Schema>,
    /// The compiled `response_schema`.
    pub response_schema: Option<Schema>,
    /// The content digest (`sha256:<hex>`), pinned in plans and grants.
    pub digest: String,
    /// The manifest's egress allowlist as matchers (empty for no egress).
    pub sinks: Sinks,
}

impl Action {
    /// Compiles the schemas and sinks of a validated manifest.
    pub fn new(manifest: Manifest) -> Result<Action, ManifestError> {
        let fail = |key: &str, message: String| ManifestError {
            origin: manifest.origin.clone(),
            key: key.to_string(),
            line: 1,
            message,
        };
        let compile = |key: &str, raw: &Option<crate::json::Value>| match raw {
            Some(v) => Schema::compile(v).map(Some).map_err(|e| fail(key, e)),
            None => Ok(None),
        };
        let request_schema = compile("request_schema", &manifest.request_schema)?;
        let response_schema = compile("response_schema", &manifest.response_schema)?;
        let sinks = match &manifest.egress {
            Egress::None => Sinks::default(),
            Egress::Allowlist(domains) => {
                Sinks::parse(domains).map_err(|e| fail("egress.allowed_domains", e))?
            }
        };
        let digest = manifest.content_digest().to_string();
        Ok(Action {
            manifest,
            request_schema,
            response_schema,
            digest,
            sinks,
        })
    }

    /// The action id.
    pub fn id(&self) -> &str {
        &self.manifest.id
    }
}

/// Why the registry could not load.
#[derive(Clone, Debug, PartialEq)]
pub enum RegistryError {
    /// A manifest is invalid.
    Manifest(ManifestError),
    /// A file or the directory could not be read.
    Io { path: String, message: String },
    /// Two manifests of the same source (embedded, or the directory)
    /// declare one id.
    Duplicate {
        id: String,
        first: String,
        second: String,
    },
    /// A manifest names a provider module that is not loaded.
    UnknownProvider {
        id: String,
        origin: String,
        provider: String,
    },
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::Manifest(e) => write!(f, "{e}"),
            RegistryError::Io { path, message } => write!(f, "{path}: {message}"),
            RegistryError::Duplicate { id, first, second } => {
                write!(
                    f,
                    "{second}: action id `{id}` is already declared by {first}"
                )
            }
            RegistryError::UnknownProvider {
                id,
                origin,
                provider,
            } => {
                write!(
                    f,
                    "{origin}: action `{id}` uses provider `{provider}`, which is not loaded"
                )
            }
        }
    }
}

impl std::error::Error for RegistryError {}

impl From<ManifestError> for RegistryError {
    fn from(e: ManifestError) -> Self {
        RegistryError::Manifest(e)
    }
}

/// Every loaded action by id. Immutable; a reload builds a new one.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    by_id: HashMap<String, Arc<Action>>,
}

impl Registry {
    /// Loads `embedded` (origin, TOML source) pairs, then every `*.toml`
    /// file of `dir` in file-name order; a directory manifest replaces an
    /// embedded one with the same id and adds a warning. Returns the
    /// registry and the warnings. A missing or unreadable `dir`, a bad
    /// file, or an id declared twice by the same source is an error.
    pub fn load(
        embedded: &[(&str, &str)],
        dir: Option<&Path>,
    ) -> Result<(Registry, Vec<String>), RegistryError> {
        let mut by_id: HashMap<String, Arc<Action>> = HashMap::new();
        let mut warnings = Vec::new();
        for (origin, src) in embedded {
            let m = Manifest::from_toml(src, origin)?;
            if let Some(first) = by_id.get(&m.id) {
                return Err(duplicate(&m, &first.manifest.origin));
            }
            by_id.insert(m.id.clone(), Arc::new(Action::new(m)?));
        }
        if let Some(dir) = dir {
            let mut from_dir: HashMap<String, String> = HashMap::new();
            for path in toml_files(dir)? {
                let origin = path.display().to_string();
                let src = read_limited(&path)?;
                let m = Manifest::from_toml(&src, &origin)?;
                if let Some(first) = from_dir.get(&m.id) {
                    return Err(duplicate(&m, first));
                }
                from_dir.insert(m.id.clone(), origin.clone());
                if let Some(old) = by_id.get(&m.id) {
                    warnings.push(format!(
                        "{origin}: action `{}` overrides the one from {}",
                        m.id, old.manifest.origin
                    ));
                }
                by_id.insert(m.id.clone(), Arc::new(Action::new(m)?));
            }
        }
        Ok((Registry { by_id }, warnings))
    }

    /// `load` with the embedded default manifests.
    pub fn load_default(dir: Option<&Path>) -> Result<(Registry, Vec<String>), RegistryError> {
        Self::load(EMBEDDED, dir)
    }

    /// The action `id`, if registered (clone the `Arc` to keep it).
    pub fn get(&self, id: &str) -> Option<&Arc<Action>> {
        self.by_id.get(id)
    }

    /// Every action, sorted by id.
    pub fn list(&self) -> Vec<&Arc<Action>> {
        let mut all: Vec<&Arc<Action>> = self.by_id.values().collect();
        all.sort_by(|a, b| a.id().cmp(b.id()));
        all
    }

    /// How many actions are registered.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when no action is registered.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Fails on the first action (by id) whose provider `is_loaded` rejects,
    /// so the gate can refuse to start instead of failing on first use.
    pub fn check_providers(
        &self,
        is_loaded: impl Fn(&ProviderRef) -> bool,
    ) -> Result<(), RegistryError> {
        match self
            .list()
            .into_iter()
            .find(|a| !is_loaded(&a.manifest.provider))
        {
            Some(a) => Err(RegistryError::UnknownProvider {
                id: a.manifest.id.clone(),
                origin: a.manifest.origin.clone(),
                provider: a.manifest.provider.to_string(),
            }),
            None => Ok(()),
        }
    }
}

fn duplicate(m: &Manifest, first: &str) -> RegistryError {
    RegistryError::Duplicate {
        id: m.id.clone(),
        first: first.to_string(),
        second: m.origin.clone(),
    }
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The `*.toml` files of `dir`, sorted by path. Anything named `*.toml`
/// that is not a regular file (after symlinks) is an error.
fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, RegistryError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let path = entry.map_err(|e| io_err(dir, e))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let meta = std::fs::metadata(&path).map_err(|e| io_err(&path, e))?;
        if !meta.is_file() {
            return Err(io_err(&path, "not a regular file"));
        }
        if out.len() >= MAX_FILES {
            return Err(io_err(dir, format!("more than {MAX_FILES} manifest files")));
        }
        out.push(path);
    }
    out.sort();
    Ok(out)
}

/// Reads a UTF-8 file of at most `MAX_FILE_BYTES`.
fn read_limited(path: &Path) -> Result<String, RegistryError> {
    let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_err(path, e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(io_err(path, format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    String::from_utf8(bytes).map_err(|_| io_err(path, "not valid UTF-8"))
}

#[cfg(test)]
mod tests;
