//! Why a file operation was refused or failed: one kind per cause, each
//! with a stable code and the HTTP status the caller gets.

use crate::gate::errors::GateError;

/// The cause of an fs failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsErrorKind {
    /// Malformed path: empty, too long, control characters, empty or `.`
    /// segments.
    InvalidPath,
    /// Absolute, or containing `..`, or the kernel saw it leave the root.
    EscapesRoot,
    /// A symbolic link in the path (any component, the last one included).
    Symlink,
    /// The path matches a deny glob (built-in or the manifest's).
    Denied,
    /// The path matches no `allowed_paths` glob and was not approved.
    NotDeclared,
    /// The manifest does not allow this operation.
    OperationNotAllowed,
    /// Not a regular file (directory, FIFO, device, socket).
    NotRegularFile,
    /// The file has more than one hard link (it may alias a file elsewhere).
    HardLinked,
    /// Over the manifest's `max_file_bytes`.
    TooLarge,
    /// No such file (or a parent is missing or not a directory).
    NotFound,
    /// `create` of a path that exists.
    AlreadyExists,
    /// `expected_before_hash` does not match the current content.
    HashMismatch,
    /// The file changed between the checks and the operation.
    Changed,
    /// The request is malformed (operation, mode, base64, hash).
    BadRequest,
    /// The call has no usable fs root.
    RootUnavailable,
    /// The kernel lacks openat2(2): file actions are refused.
    Unsupported,
    /// Any other I/O failure.
    Io,
}

impl FsErrorKind {
    /// The stable error code.
    pub fn code(self) -> &'static str {
        match self {
            FsErrorKind::InvalidPath => "fs_invalid_path",
            FsErrorKind::EscapesRoot => "fs_path_escapes_root",
            FsErrorKind::Symlink => "fs_symlink_refused",
            FsErrorKind::Denied => "fs_path_denied",
            FsErrorKind::NotDeclared => "fs_path_not_allowed",
            FsErrorKind::OperationNotAllowed => "fs_operation_not_allowed",
            FsErrorKind::NotRegularFile => "fs_not_regular_file",
            FsErrorKind::HardLinked => "fs_hard_linked",
            FsErrorKind::TooLarge => "fs_file_too_large",
            FsErrorKind::NotFound => "fs_not_found",
            FsErrorKind::AlreadyExists => "fs_already_exists",
            FsErrorKind::HashMismatch => "fs_before_hash_mismatch",
            FsErrorKind::Changed => "fs_changed_concurrently",
            FsErrorKind::BadRequest => "fs_bad_request",
            FsErrorKind::RootUnavailable => "fs_root_unavailable",
            FsErrorKind::Unsupported => "fs_unsupported",
            FsErrorKind::Io => "fs_io_error",
        }
    }

    /// The HTTP status of the answer.
    pub fn status(self) -> u16 {
        match self {
            FsErrorKind::InvalidPath | FsErrorKind::BadRequest => 400,
            FsErrorKind::EscapesRoot
            | FsErrorKind::Symlink
            | FsErrorKind::Denied
            | FsErrorKind::NotDeclared
            | FsErrorKind::OperationNotAllowed
            | FsErrorKind::NotRegularFile
            | FsErrorKind::HardLinked => 403,
            FsErrorKind::NotFound => 404,
            FsErrorKind::AlreadyExists | FsErrorKind::HashMismatch | FsErrorKind::Changed => 409,
            FsErrorKind::TooLarge => 413,
            FsErrorKind::Io => 502,
            FsErrorKind::RootUnavailable | FsErrorKind::Unsupported => 503,
        }
    }

    /// A refusal by the gate's rules (paths, operations, sizes), as
    /// opposed to a state of the file system.
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            FsErrorKind::InvalidPath
                | FsErrorKind::EscapesRoot
                | FsErrorKind::Symlink
                | FsErrorKind::Denied
                | FsErrorKind::NotDeclared
                | FsErrorKind::OperationNotAllowed
                | FsErrorKind::NotRegularFile
                | FsErrorKind::HardLinked
                | FsErrorKind::TooLarge
        )
    }
}

/// An fs failure: its kind and one sentence naming the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsError {
    pub kind: FsErrorKind,
    pub message: String,
}

impl FsError {
    /// An error of `kind`.
    pub fn new(kind: FsErrorKind, message: impl Into<String>) -> FsError {
        FsError {
            kind,
            message: message.into(),
        }
    }

    /// The caller's answer: status, code and the message as `deny_reason`.
    pub fn gate_error(&self) -> GateError {
        GateError::new(self.kind.status(), self.kind.code()).reason(self.message.clone())
    }

    /// Maps an OS error of an operation on `path`.
    pub fn from_io(e: &std::io::Error, path: &str) -> FsError {
        let (kind, what) = match (e.kind(), e.raw_os_error()) {
            (std::io::ErrorKind::Unsupported, _) => (FsErrorKind::Unsupported, e.to_string()),
            (_, Some(libc::ELOOP)) => (
                FsErrorKind::Symlink,
                "a component of the path is a symbolic link".to_string(),
            ),
            (_, Some(libc::EXDEV)) => (
                FsErrorKind::EscapesRoot,
                "the path resolves outside the fs root".to_string(),
            ),
            (_, Some(libc::ENOENT)) => (
                FsErrorKind::NotFound,
                "no such file or directory".to_string(),
            ),
            (_, Some(libc::ENOTDIR)) => (
                FsErrorKind::NotFound,
                "a parent of the path is not a directory".to_string(),
            ),
            (_, Some(libc::EEXIST)) => (FsErrorKind::AlreadyExists, "the file exists".to_string()),
            (_, Some(libc::EISDIR)) | (_, Some(libc::ENXIO)) => (
                FsErrorKind::NotRegularFile,
                "not a regular file".to_string(),
            ),
            _ => (FsErrorKind::Io, e.to_string()),
        };
        FsError::new(kind, format!("{path:?}: {what}"))
    }
}

impl std::fmt::Display for FsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl std::error::Error for FsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_map_to_kinds() {
        let os = |n| std::io::Error::from_raw_os_error(n);
        assert_eq!(
            FsError::from_io(&os(libc::ELOOP), "a").kind,
            FsErrorKind::Symlink
        );
        assert_eq!(
            FsError::from_io(&os(libc::EXDEV), "a").kind,
            FsErrorKind::EscapesRoot
        );
        assert_eq!(
            FsError::from_io(&os(libc::ENOENT), "a").kind,
            FsErrorKind::NotFound
        );
        assert_eq!(
            FsError::from_io(&os(libc::EEXIST), "a").kind,
            FsErrorKind::AlreadyExists
        );
        assert_eq!(
            FsError::from_io(&os(libc::EISDIR), "a").kind,
            FsErrorKind::NotRegularFile
        );
        assert_eq!(FsError::from_io(&os(libc::EIO), "a").kind, FsErrorKind::Io);
        let unsupported = std::io::Error::new(std::io::ErrorKind::Unsupported, "no openat2");
        let e = FsError::from_io(&unsupported, "a");
        assert_eq!(e.kind, FsErrorKind::Unsupported);
        assert!(e.message.contains("no openat2"));
        let g = e.gate_error();
        assert_eq!((g.status, g.code), (503, "fs_unsupported"));
    }
}
