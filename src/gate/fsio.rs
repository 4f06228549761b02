//! The host side of `builtin:fs`: one file operation beneath the lease's
//! `fs_root`, for the provider's `fs_request` import.
//!
//! A request (`request.rs`) is checked before anything is opened
//! (`path.rs`): a relative path without `..`, NUL or control characters;
//! deny globs win (built-in, then the manifest's), then the manifest's
//! operations, then `allowed_paths` or an operator's approval of exactly
//! that path. The root is opened fresh for each request, refusing any
//! symlink (`sys::openat2::open_root`), and the file beneath it with
//! openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
//! it must be a regular file of at most `max_file_bytes` (`ops.rs`). A
//! kernel without openat2 refuses every file action (`fs_unsupported`).
//!
//! The gate's own files are refused too, wherever the root is
//! (`protected_paths`): its data directory (keys, ledger, the secret
//! store), configuration file, policy, manifests and providers
//! directories, operator token file and `file:` secret sources. A lease
//! root may legitimately contain them (`fs_root = $HOME`); the deny globs
//! alone would not catch `secrets.json`. Because openat2 resolved the path
//! without symlinks or `..`, `root/path` is where the file really is.
//!
//! Every operation that succeeds is an observed effect (`FsEffect`): the
//! SHA-256 (`sha256:<hex>`) and size of the file before and after, `null`
//! where there is no file. `fs_hash` verification and the receipt's
//! `effect_evidence` are built from these, never from the provider's word.

mod base64;
mod error;
mod ops;
mod path;
mod request;

pub use base64::{decode as base64_decode, encode as base64_encode};
pub use error::{FsError, FsErrorKind};
pub use path::{authorize, check_allowed_shape, check_shape};
pub use request::{parse as parse_request, FsRequest, Op};

use crate::config::{Config, SecretSource};
use crate::json::Value;
use crate::obj;
use crate::registry::{sha256_prefixed, FsOperation, FsSection};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What one run may touch: the lease's root, the manifest's `[fs]`, and
/// the paths an operator (or the policy's allowlist) approved for this call.
#[derive(Clone, Copy, Debug)]
pub struct FsAccess<'a> {
    /// The lease's fs_root (absolute, canonical at lease time).
    pub root: &'a Path,
    /// The manifest's `[fs]` section.
    pub section: &'a FsSection,
    /// Undeclared paths this call may touch anyway (exact matches).
    pub approved_paths: &'a [String],
    /// Absolute paths of the gate's own files and directories, never
    /// touched (see `protected_paths`).
    pub protected: &'a [PathBuf],
}

/// `p` with symlinks resolved as far as it exists (a missing file is
/// resolved through its parent), else as written.
fn resolved(p: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(p) {
        return real;
    }
    match (p.parent().map(std::fs::canonicalize), p.file_name()) {
        (Some(Ok(dir)), Some(name)) => dir.join(name),
        _ => p.to_path_buf(),
    }
}

/// The gate's own files and directories (resolved): data directory,
/// configuration file, policy file, manifests and providers directories,
/// operator token file and every `file:` secret source.
pub fn protected_paths(cfg: &Config) -> Vec<PathBuf> {
    let mut out = vec![cfg.data_dir.clone()];
    let config_file = Path::new(&cfg.source);
    if config_file.is_absolute() || config_file.is_file() {
        out.push(config_file.to_path_buf());
    }
    out.extend(cfg.policy_path());
    out.extend(cfg.manifests_path());
    out.extend(cfg.providers_path());
    out.extend(cfg.admin_token_file.clone());
    for (_, source) in &cfg.secrets {
        if let SecretSource::File(p) = source {
            out.push(p.clone());
        }
    }
    out.iter().map(|p| resolved(p)).collect()
}

/// Refuses `path` (beneath `root`) when it lies in a protected location.
fn check_protected(access: &FsAccess<'_>, path: &str) -> Result<(), FsError> {
    let full = access.root.join(path);
    match access.protected.iter().find(|p| full.starts_with(p)) {
        Some(p) => Err(FsError::new(
            FsErrorKind::Denied,
            format!(
                "{path:?} is the gate's own file or lies in its directory {} (data, configuration or a secret source)",
                p.display()
            ),
        )),
        None => Ok(()),
    }
}

/// One file operation the host performed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsEffect {
    /// `read`, `write` or `delete`.
    pub operation: &'static str,
    /// `create` or `overwrite` for a write.
    pub mode: Option<&'static str>,
    /// The path, relative to the fs root.
    pub path: String,
    /// SHA-256 of the file before (`None`: there was no file).
    pub before_hash: Option<String>,
    /// SHA-256 of the file after (`None`: there is no file).
    pub after_hash: Option<String>,
    /// Size before, in bytes.
    pub bytes_before: Option<u64>,
    /// Size after, in bytes.
    pub bytes_after: Option<u64>,
}

impl FsEffect {
    /// The receipt's evidence: `{operation, path, before_hash, after_hash,
    /// bytes_before, bytes_after}`.
    pub fn evidence_json(&self) -> Value {
        obj! {
            "operation" => self.operation,
            "path" => self.path.as_str(),
            "before_hash" => self.before_hash.clone(),
            "after_hash" => self.after_hash.clone(),
            "bytes_before" => self.bytes_before,
            "bytes_after" => self.bytes_after,
        }
    }

    /// The data object the provider receives. A read carries the content
    /// (`content_base64`, `hash`, `size`); a write or delete the evidence
    /// fields (plus `mode` for a write).
    fn data_json(&self, content: Option<&[u8]>) -> Value {
        let mut v = self.evidence_json();
        if let Some(m) = v.as_object_mut() {
            if let Some(mode) = self.mode {
                m.insert("mode", mode);
            }
            if let Some(bytes) = content {
                m.insert("content_base64", base64::encode(bytes));
                m.insert("hash", self.after_hash.clone());
                m.insert("size", self.bytes_after);
            }
        }
        v
    }
}

/// The request in a call's validated input, checked as far as possible
/// before anything runs: its shape, the deny globs and the operation.
/// Whether the path is declared is left to the policy.
pub fn precheck(section: &FsSection, input: &Value) -> Result<FsRequest, FsError> {
    let req = request::parse(input, section.max_file_bytes)?;
    path::check_allowed_shape(section, &req.path, req.operation())?;
    Ok(req)
}

fn hashed(bytes: &[u8]) -> (Option<String>, Option<u64>) {
    (Some(sha256_prefixed(bytes)), Some(bytes.len() as u64))
}

/// Performs the request `raw` (JSON from the provider) under `access`:
/// the observed effect and the data object for the provider.
pub fn perform(
    access: &FsAccess<'_>,
    raw: &[u8],
    deadline: Instant,
) -> Result<(FsEffect, Value), FsError> {
    if Instant::now() >= deadline {
        return Err(FsError::new(
            FsErrorKind::Io,
            "the run's time limit passed before the file operation",
        ));
    }
    let v = crate::json::parse(raw).map_err(|e| {
        FsError::new(
            FsErrorKind::BadRequest,
            format!("the file request is not JSON: {e}"),
        )
    })?;
    let max = access.section.max_file_bytes;
    let req = request::parse(&v, max)?;
    path::authorize(
        access.section,
        &req.path,
        req.operation(),
        access.approved_paths,
    )?;
    check_protected(access, &req.path)?;
    let root = ops::open_root(access.root)?;
    let p = req.path.as_str();
    let mut effect = FsEffect {
        operation: req.operation_name(),
        mode: None,
        path: req.path.clone(),
        before_hash: None,
        after_hash: None,
        bytes_before: None,
        bytes_after: None,
    };
    let mut content = None;
    match &req.op {
        Op::Read => {
            let bytes = ops::read(&root, p, max)?;
            (effect.before_hash, effect.bytes_before) = hashed(&bytes);
            (effect.after_hash, effect.bytes_after) = hashed(&bytes);
            content = Some(bytes);
        }
        Op::Write {
            mode,
            content: new,
            expected_before_hash,
        } => {
            effect.mode = Some(mode.as_str());
            if *mode == FsOperation::Overwrite {
                let (before, after) =
                    ops::overwrite(&root, p, new, expected_before_hash.as_deref(), max)?;
                (effect.before_hash, effect.bytes_before) = hashed(&before);
                (effect.after_hash, effect.bytes_after) = hashed(&after);
            } else {
                let after = ops::create(&root, p, new, max)?;
                (effect.after_hash, effect.bytes_after) = hashed(&after);
            }
        }
        Op::Delete => {
            let before = ops::delete(&root, p, max)?;
            (effect.before_hash, effect.bytes_before) = hashed(&before);
        }
    }
    let data = effect.data_json(content.as_deref());
    Ok((effect, data))
}

#[cfg(test)]
mod tests;
