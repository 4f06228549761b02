//! Path checks before any file is touched, in this order: the path's shape
//! (relative, no `..`, no control characters), the deny globs (built-in,
//! then the manifest's: deny always wins), the manifest's operations, then
//! `allowed_paths` or an operator's approval of exactly this path.
//!
//! These checks are lexical; the kernel then enforces confinement during
//! the lookup itself (openat2, see `sys::openat2`).

use super::error::{FsError, FsErrorKind};
use crate::registry::{FsOperation, FsSection};

/// Longest path accepted, in bytes (Linux PATH_MAX).
const MAX_PATH_BYTES: usize = 4096;
/// Longest path segment, in bytes (Linux NAME_MAX).
const MAX_SEGMENT_BYTES: usize = 255;

/// The path's shape: relative, non-empty segments, no `.` or `..`, no NUL
/// or control characters, within the length limits.
pub fn check_shape(path: &str) -> Result<(), FsError> {
    let invalid = |why: &str| FsError::new(FsErrorKind::InvalidPath, format!("{path:?}: {why}"));
    if path.is_empty() {
        return Err(invalid("the path is empty"));
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(invalid("the path is longer than 4096 bytes"));
    }
    if path.chars().any(char::is_control) {
        return Err(invalid("the path contains NUL or control characters"));
    }
    if path.starts_with('/') {
        return Err(FsError::new(
            FsErrorKind::EscapesRoot,
            format!("{path:?}: absolute paths are refused; give a path relative to the fs root"),
        ));
    }
    for seg in path.split('/') {
        match seg {
            ".." => {
                return Err(FsError::new(
                    FsErrorKind::EscapesRoot,
                    format!("{path:?}: `..` segments are refused"),
                ))
            }
            "" => return Err(invalid("empty segment (a doubled or trailing `/`)")),
            "." => return Err(invalid("`.` segments are refused")),
            s if s.len() > MAX_SEGMENT_BYTES => {
                return Err(invalid("a segment is longer than 255 bytes"))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Every check except "declared": shape, deny globs, operation. A call is
/// refused with this before anything runs; what is left for the policy is
/// whether the path is declared.
pub fn check_allowed_shape(
    section: &FsSection,
    path: &str,
    op: FsOperation,
) -> Result<(), FsError> {
    check_shape(path)?;
    if let Some(glob) = section.denied_by(path) {
        return Err(FsError::new(
            FsErrorKind::Denied,
            format!("{path:?} matches the deny pattern {glob:?}"),
        ));
    }
    if !section.permits(op) {
        let allowed: Vec<&str> = section
            .allowed_operations
            .iter()
            .map(|o| o.as_str())
            .collect();
        return Err(FsError::new(
            FsErrorKind::OperationNotAllowed,
            format!(
                "operation {} is not allowed by this action (allowed: {})",
                op.as_str(),
                allowed.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The full decision: `check_allowed_shape`, then the path must match an
/// `allowed_paths` glob or be one of the `approved` paths exactly.
pub fn authorize(
    section: &FsSection,
    path: &str,
    op: FsOperation,
    approved: &[String],
) -> Result<(), FsError> {
    check_allowed_shape(section, path, op)?;
    if section.declares(path) || approved.iter().any(|a| a == path) {
        return Ok(());
    }
    Err(FsError::new(
        FsErrorKind::NotDeclared,
        format!("{path:?} matches no allowed_paths pattern of this action and was not approved"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Glob;
    use crate::registry::fs::builtin_denied;

    fn section() -> FsSection {
        let mut denied = builtin_denied().unwrap();
        denied.push(Glob::parse("**/Makefile").unwrap());
        FsSection {
            allowed_operations: vec![FsOperation::Read, FsOperation::Create],
            allowed_paths: vec![Glob::parse("src/**").unwrap()],
            denied_paths: denied,
            max_file_bytes: 100,
        }
    }

    fn kind(r: Result<(), FsError>) -> FsErrorKind {
        r.unwrap_err().kind
    }

    #[test]
    fn shapes() {
        assert!(check_shape("src/main.rs").is_ok());
        assert!(check_shape("a b/é.txt").is_ok());
        assert_eq!(kind(check_shape("")), FsErrorKind::InvalidPath);
        assert_eq!(kind(check_shape("../x")), FsErrorKind::EscapesRoot);
        assert_eq!(kind(check_shape("a/../../x")), FsErrorKind::EscapesRoot);
        assert_eq!(kind(check_shape("a/..")), FsErrorKind::EscapesRoot);
        assert_eq!(kind(check_shape("/etc/passwd")), FsErrorKind::EscapesRoot);
        assert_eq!(kind(check_shape("a//b")), FsErrorKind::InvalidPath);
        assert_eq!(kind(check_shape("a/")), FsErrorKind::InvalidPath);
        assert_eq!(kind(check_shape("./a")), FsErrorKind::InvalidPath);
        assert_eq!(kind(check_shape("a\0b")), FsErrorKind::InvalidPath);
        assert_eq!(kind(check_shape("a\nb")), FsErrorKind::InvalidPath);
        assert_eq!(kind(check_shape("a\u{85}b")), FsErrorKind::InvalidPath);
        assert_eq!(
            kind(check_shape(&"a".repeat(256))),
            FsErrorKind::InvalidPath
        );
        assert_eq!(
            kind(check_shape(&"a/".repeat(2100))),
            FsErrorKind::InvalidPath
        );
    }

    #[test]
    fn deny_wins_over_allow_and_approval() {
        let s = section();
        let approved = vec!["src/.env".to_string(), "notes.txt".to_string()];
        assert_eq!(
            kind(authorize(&s, "src/.env", FsOperation::Read, &approved)),
            FsErrorKind::Denied
        );
        assert_eq!(
            kind(authorize(&s, ".git/config", FsOperation::Read, &[])),
            FsErrorKind::Denied
        );
        assert_eq!(
            kind(authorize(&s, "src/Makefile", FsOperation::Read, &[])),
            FsErrorKind::Denied
        );
        assert_eq!(
            kind(authorize(&s, "src/id.key", FsOperation::Read, &[])),
            FsErrorKind::Denied
        );
        assert!(authorize(&s, "src/main.rs", FsOperation::Read, &[]).is_ok());
        assert_eq!(
            kind(authorize(&s, "src/main.rs", FsOperation::Delete, &[])),
            FsErrorKind::OperationNotAllowed
        );
        assert_eq!(
            kind(authorize(&s, "notes.txt", FsOperation::Read, &[])),
            FsErrorKind::NotDeclared
        );
        // An approval covers exactly the approved path.
        assert!(authorize(&s, "notes.txt", FsOperation::Read, &approved).is_ok());
        assert_eq!(
            kind(authorize(&s, "notes.txt.bak", FsOperation::Read, &approved)),
            FsErrorKind::NotDeclared
        );
        // Shape before anything else.
        assert_eq!(
            kind(authorize(&s, "src/../.env", FsOperation::Read, &[])),
            FsErrorKind::EscapesRoot
        );
        assert!(check_allowed_shape(&s, "notes.txt", FsOperation::Create).is_ok());
    }
}
