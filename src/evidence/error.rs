//! The one error type of the evidence module.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a ledger, receipt or key operation failed.
#[derive(Debug)]
pub enum LedgerError {
    /// A file could not be read, written, synced or created.
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// What we were doing ("write", "fdatasync", "open", ...).
        op: &'static str,
        /// The operating system error.
        err: std::io::Error,
    },
    /// An earlier write or fsync failed: the ledger refuses every append
    /// until the process restarts (fsync errors are never retried).
    Poisoned(String),
    /// The stored ledger is inconsistent (broken chain, missing tail,
    /// unparseable line): the gate must not start on it.
    Corrupt {
        /// 1-based line of events.jsonl where the problem was found (0 when
        /// the problem is in another file).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Another process holds the ledger lock.
    Locked(PathBuf),
    /// The caller's record, receipt or grant cannot be stored or hashed.
    Invalid(String),
    /// keys.json or head.json is malformed or contradicts itself.
    Keys(String),
}

impl LedgerError {
    /// An I/O error on `path` while doing `op`.
    pub(crate) fn io(path: &Path, op: &'static str, err: std::io::Error) -> LedgerError {
        LedgerError::Io {
            path: path.to_path_buf(),
            op,
            err,
        }
    }
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerError::Io { path, op, err } => {
                write!(f, "ledger {op} failed on {}: {err}", path.display())
            }
            LedgerError::Poisoned(why) => {
                write!(
                    f,
                    "ledger is unavailable after a storage error ({why}); restart required"
                )
            }
            LedgerError::Corrupt { line, reason } => {
                if *line > 0 {
                    write!(
                        f,
                        "ledger is corrupt at line {line}: {reason}; run `latchgate verify`"
                    )
                } else {
                    write!(f, "ledger is corrupt: {reason}; run `latchgate verify`")
                }
            }
            LedgerError::Locked(path) => {
                write!(f, "ledger {} is in use by another process", path.display())
            }
            LedgerError::Invalid(why) => write!(f, "invalid ledger record: {why}"),
            LedgerError::Keys(why) => write!(f, "ledger keys: {why}"),
        }
    }
}

impl std::error::Error for LedgerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LedgerError::Io { err, .. } => Some(err),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_message_points_to_verify() {
        let e = LedgerError::Corrupt {
            line: 7,
            reason: "prev_hash mismatch".into(),
        };
        let text = e.to_string();
        assert!(text.contains("line 7"), "{text}");
        assert!(text.contains("latchgate verify"), "{text}");
    }

    #[test]
    fn io_message_names_path_and_op() {
        let e = LedgerError::io(
            Path::new("/x/events.jsonl"),
            "fdatasync",
            std::io::Error::other("boom"),
        );
        let text = e.to_string();
        assert!(
            text.contains("/x/events.jsonl") && text.contains("fdatasync"),
            "{text}"
        );
    }
}
