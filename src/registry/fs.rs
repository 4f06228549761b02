//! The `[fs]` section of a manifest: which file operations a `builtin:fs`
//! action may perform beneath the lease's `fs_root`, on which paths, and
//! how large a file may be (the format is in `manifest.rs`).
//!
//! Path decisions, in this order: a path matching any deny glob (the
//! built-in list below, then the manifest's `denied_paths`) is refused
//! whatever else is declared or approved; a path matching an
//! `allowed_paths` glob is declared; any other path is undeclared (the
//! policy holds it for an operator, who may approve exactly that path).

use crate::json::Value;
use crate::policy::Glob;

/// Paths no fs action may ever touch, whatever its manifest or an
/// operator says: credentials, keys, VCS configuration and hooks, and the
/// gate's own configuration and policy.
pub const BUILTIN_DENIED_PATHS: &[&str] = &[
    "**/.env",
    "**/.env.*",
    "**/secrets/**",
    "**/.ssh/**",
    "**/.aws/**",
    "**/.kube/**",
    "**/.git/config",
    "**/.git/hooks/**",
    "**/.netrc",
    "**/*.pem",
    "**/*.key",
    "**/latchgate.toml",
    "**/.latchgate/**",
    "**/policy.toml",
];

/// `max_file_bytes` when the manifest does not set it (1 MiB).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1 << 20;
/// The largest `max_file_bytes` a manifest may set (64 MiB).
pub const MAX_FILE_BYTES_LIMIT: u64 = 64 << 20;

/// One kind of file operation a manifest may allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsOperation {
    /// Read an existing regular file.
    Read,
    /// Create a new file (fails if it exists).
    Create,
    /// Replace the content of an existing regular file.
    Overwrite,
    /// Remove an existing regular file.
    Delete,
}

impl FsOperation {
    /// The manifest name.
    pub fn as_str(self) -> &'static str {
        match self {
            FsOperation::Read => "read",
            FsOperation::Create => "create",
            FsOperation::Overwrite => "overwrite",
            FsOperation::Delete => "delete",
        }
    }

    /// Parses a manifest name.
    pub fn parse(s: &str) -> Option<FsOperation> {
        match s {
            "read" => Some(FsOperation::Read),
            "create" => Some(FsOperation::Create),
            "overwrite" => Some(FsOperation::Overwrite),
            "delete" => Some(FsOperation::Delete),
            _ => None,
        }
    }
}

/// A validated `[fs]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct FsSection {
    /// Operations the action may perform (never empty).
    pub allowed_operations: Vec<FsOperation>,
    /// Globs of declared paths (relative to the fs root).
    pub allowed_paths: Vec<Glob>,
    /// Deny globs: [`BUILTIN_DENIED_PATHS`] followed by the manifest's own
    /// `denied_paths`.
    pub denied_paths: Vec<Glob>,
    /// Largest file read or written, in bytes.
    pub max_file_bytes: u64,
}

impl FsSection {
    /// Whether the manifest allows `op`.
    pub fn permits(&self, op: FsOperation) -> bool {
        self.allowed_operations.contains(&op)
    }

    /// The first deny glob `path` matches, if any (deny always wins).
    pub fn denied_by(&self, path: &str) -> Option<&str> {
        self.denied_paths
            .iter()
            .find(|g| g.matches(path))
            .map(Glob::as_str)
    }

    /// Whether `path` matches an `allowed_paths` glob.
    pub fn declares(&self, path: &str) -> bool {
        self.allowed_paths.iter().any(|g| g.matches(path))
    }

    /// The section as JSON, for the manifest's content digest.
    pub fn digest_json(&self) -> Value {
        let globs = |list: &[Glob]| -> Value {
            Value::Array(list.iter().map(|g| Value::from(g.as_str())).collect())
        };
        crate::obj! {
            "allowed_operations" => Value::Array(
                self.allowed_operations.iter().map(|o| Value::from(o.as_str())).collect(),
            ),
            "allowed_paths" => globs(&self.allowed_paths),
            "denied_paths" => globs(&self.denied_paths),
            "max_file_bytes" => self.max_file_bytes,
        }
    }
}

/// The built-in deny globs, compiled (an error names the bad pattern; none
/// is expected, a unit test parses them all).
pub fn builtin_denied() -> Result<Vec<Glob>, String> {
    BUILTIN_DENIED_PATHS
        .iter()
        .map(|p| Glob::parse(p).map_err(|e| format!("built-in deny glob {p:?}: {e}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Manifest, ProviderRef, VerifierKind};

    const FS_WRITE: &str = r#"
id = "fs_write"
version = "1.0.0"
provider = "builtin:fs"
risk_level = "high"
declared_side_effects = ["fs_write"]
verifier = "fs_hash"

[fs]
allowed_operations = ["create", "overwrite"]
allowed_paths = ["src/**", "docs/**"]
denied_paths = ["**/Makefile"]
max_file_bytes = 4096
"#;

    fn load(src: &str) -> Result<Manifest, crate::registry::ManifestError> {
        Manifest::from_toml(src, "t.toml")
    }

    fn err(src: &str) -> crate::registry::ManifestError {
        match load(src) {
            Ok(m) => panic!("loaded: {}", m.id),
            Err(e) => e,
        }
    }

    #[test]
    fn builtin_globs_parse() {
        assert_eq!(builtin_denied().unwrap().len(), BUILTIN_DENIED_PATHS.len());
    }

    #[test]
    fn fs_section_loads_with_builtin_denies_first() {
        let m = load(FS_WRITE).unwrap();
        assert_eq!(m.provider, ProviderRef::Builtin("fs".into()));
        assert_eq!(m.verifier, VerifierKind::FsHash);
        let fs = m.fs.as_ref().unwrap();
        assert_eq!(
            fs.allowed_operations,
            vec![FsOperation::Create, FsOperation::Overwrite]
        );
        assert!(fs.permits(FsOperation::Create));
        assert!(!fs.permits(FsOperation::Delete));
        assert_eq!(fs.max_file_bytes, 4096);
        assert_eq!(fs.denied_paths.len(), BUILTIN_DENIED_PATHS.len() + 1);
        assert_eq!(fs.denied_paths[0].as_str(), "**/.env");
        assert_eq!(fs.denied_by("src/.env"), Some("**/.env"));
        assert_eq!(fs.denied_by(".git/config"), Some("**/.git/config"));
        assert_eq!(fs.denied_by("a/b/server.pem"), Some("**/*.pem"));
        assert_eq!(fs.denied_by("src/Makefile"), Some("**/Makefile"));
        assert_eq!(fs.denied_by("src/.latchgate/x"), Some("**/.latchgate/**"));
        assert_eq!(fs.denied_by("src/main.rs"), None);
        assert!(fs.declares("src/main.rs"));
        assert!(fs.declares("docs/a/b.md"));
        assert!(!fs.declares("README.md"));
    }

    #[test]
    fn max_file_bytes_defaults_and_is_bounded() {
        let m = load(&FS_WRITE.replace("max_file_bytes = 4096\n", "")).unwrap();
        assert_eq!(m.fs.unwrap().max_file_bytes, DEFAULT_MAX_FILE_BYTES);
        let e = err(&FS_WRITE.replace("4096", &(MAX_FILE_BYTES_LIMIT + 1).to_string()));
        assert_eq!(e.key, "fs.max_file_bytes");
        let e = err(&FS_WRITE.replace("4096", "0"));
        assert_eq!(e.key, "fs.max_file_bytes");
    }

    #[test]
    fn operations_must_be_known_unique_and_non_empty() {
        let e = err(&FS_WRITE.replace(r#"["create", "overwrite"]"#, "[]"));
        assert_eq!(e.key, "fs.allowed_operations");
        assert!(e.message.contains("at least one"), "{e}");
        let e = err(&FS_WRITE.replace(r#""overwrite""#, r#""append""#));
        assert_eq!(e.key, "fs.allowed_operations");
        assert!(e.message.contains("read, create, overwrite, delete"), "{e}");
        let e = err(&FS_WRITE.replace(r#""overwrite""#, r#""create""#));
        assert!(e.message.contains("twice"), "{e}");
        let e = err(&FS_WRITE.replace("allowed_operations = [\"create\", \"overwrite\"]\n", ""));
        assert_eq!(e.key, "fs.allowed_operations");
    }

    #[test]
    fn bad_globs_and_unknown_keys_are_errors() {
        let e = err(&FS_WRITE.replace(r#""docs/**""#, r#""docs/../x""#));
        assert_eq!(e.key, "fs.allowed_paths");
        let e = err(&FS_WRITE.replace(r#""**/Makefile""#, r#""/etc/x""#));
        assert_eq!(e.key, "fs.denied_paths");
        let e = err(&FS_WRITE.replace("max_file_bytes", "max_bytes"));
        assert!(e.message.contains("unknown key"), "{e}");
    }

    #[test]
    fn builtin_fs_and_fs_section_go_together() {
        // builtin:fs without [fs].
        let no_section = FS_WRITE.split("[fs]").next().unwrap().to_string();
        let e = err(&no_section);
        assert_eq!(e.key, "provider");
        assert!(e.message.contains("[fs]"), "{e}");
        // [fs] with another provider.
        let e = err(&FS_WRITE.replace("builtin:fs", "builtin:http_api"));
        assert_eq!(e.key, "fs");
        // fs_hash without [fs].
        let e = err(&no_section.replace("builtin:fs", "builtin:http_api"));
        assert_eq!(e.key, "verifier");
        // builtin:fs needs fs_hash.
        let e = err(&FS_WRITE.replace("\"fs_hash\"", "\"http_status\""));
        assert_eq!(e.key, "verifier");
    }

    #[test]
    fn fs_actions_declare_a_file_side_effect() {
        let e = err(&FS_WRITE.replace(r#"["fs_write"]"#, r#"["http_write"]"#));
        assert_eq!(e.key, "declared_side_effects");
        let e = err(&FS_WRITE.replace("declared_side_effects = [\"fs_write\"]\n", ""));
        assert_eq!(e.key, "declared_side_effects");
    }

    #[test]
    fn fs_actions_have_no_secrets_egress_or_template() {
        let e = err(&format!(
            "{FS_WRITE}\n[egress]\nallowed_domains = [\"example.com\"]\n"
        ));
        assert_eq!(e.key, "egress");
        let e = err(&format!(
            "{FS_WRITE}\n[[secrets]]\nname = \"T\"\nheader = \"X-T\"\n"
        ));
        assert_eq!(e.key, "secrets");
        let e = err(&format!(
            "{FS_WRITE}\n[template]\nmethod = \"GET\"\nurl = \"https://a.example/\"\n"
        ));
        assert_eq!(e.key, "template");
    }

    #[test]
    fn fs_section_is_in_the_digest() {
        let a = load(FS_WRITE).unwrap();
        let b = load(&FS_WRITE.replace(r#""docs/**""#, r#""doc/**""#)).unwrap();
        let c = load(&FS_WRITE.replace("4096", "4097")).unwrap();
        assert_ne!(a.content_digest(), b.content_digest());
        assert_ne!(a.content_digest(), c.content_digest());
        assert_eq!(a.content_digest(), load(FS_WRITE).unwrap().content_digest());
    }

    #[test]
    fn high_risk_fs_action_needs_no_response_schema() {
        // FS_WRITE is high risk and has none: it loads.
        assert!(load(FS_WRITE).is_ok());
    }
}
