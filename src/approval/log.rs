//! The on-disk record log `approvals.jsonl`: its records, their MAC'd line
//! form, and the file itself (owner-only, locked, append + fdatasync).
//!
//! One JSON object per line: `{"mac":"<hex>","rec":{...}}` where `mac` is
//! HMAC-SHA256 under the store key of the JCS bytes of `rec`, and `rec` is
//! one of `create`, `claim`, `approved`, `denied`, `failed`, `expired`.
//! The MAC shows each record was written by a gate holding the key; it
//! does not show that no whole line was removed (the ledger is the
//! tamper-evident record of decisions).

use super::plan::{only_keys, opt_str, req_i64, req_str, Plan};
use super::store::StoreError;
use crate::crypto::{ct_eq, hex, secret::hmac_sha256};
use crate::json::{self, Value};
use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// File name of the record log inside the store directory.
pub const LOG_FILE: &str = "approvals.jsonl";

/// File held locked (flock) while a store is open, so two gates never
/// share one store (that would break the one-claim guarantee). A separate
/// file, because compaction replaces the log by rename.
pub const LOCK_FILE: &str = "approvals.lock";

/// Nesting allowed when parsing a line: line, `rec` and `plan` wrap the
/// input, which JCS allows up to its own limit.
const LINE_DEPTH: usize = json::JCS_MAX_DEPTH + 8;

/// One state change, as stored.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Record {
    /// A new pending approval.
    Create(Box<Plan>),
    /// Pending → claimed by `by`.
    Claim { id: String, by: String, at_ms: i64 },
    /// Claimed → approved; the run's receipt and trace id.
    Approved {
        id: String,
        by: String,
        receipt_id: Option<String>,
        exec_trace_id: String,
        at_ms: i64,
    },
    /// Pending → denied by `by`.
    Denied {
        id: String,
        by: String,
        reason: String,
        at_ms: i64,
    },
    /// Claimed → failed.
    Failed {
        id: String,
        error_code: String,
        reason: String,
        at_ms: i64,
    },
    /// Pending → expired.
    Expired { id: String, at_ms: i64 },
}

impl Record {
    /// The approval this record is about.
    pub(super) fn id(&self) -> &str {
        match self {
            Record::Create(plan) => &plan.approval_id,
            Record::Claim { id, .. }
            | Record::Approved { id, .. }
            | Record::Denied { id, .. }
            | Record::Failed { id, .. }
            | Record::Expired { id, .. } => id,
        }
    }

    /// The record's `op`.
    pub(super) fn op(&self) -> &'static str {
        match self {
            Record::Create(_) => "create",
            Record::Claim { .. } => "claim",
            Record::Approved { .. } => "approved",
            Record::Denied { .. } => "denied",
            Record::Failed { .. } => "failed",
            Record::Expired { .. } => "expired",
        }
    }

    /// The `rec` object.
    pub(super) fn to_json(&self) -> Value {
        match self {
            Record::Create(plan) => crate::obj! { "op" => "create", "plan" => plan.to_json() },
            Record::Claim { id, by, at_ms } => {
                crate::obj! { "op" => "claim", "id" => id, "by" => by, "at_ms" => *at_ms }
            }
            Record::Approved {
                id,
                by,
                receipt_id,
                exec_trace_id,
                at_ms,
            } => crate::obj! {
                "op" => "approved",
                "id" => id,
                "by" => by,
                "receipt_id" => receipt_id.clone(),
                "exec_trace_id" => exec_trace_id,
                "at_ms" => *at_ms,
            },
            Record::Denied {
                id,
                by,
                reason,
                at_ms,
            } => crate::obj! {
                "op" => "denied", "id" => id, "by" => by, "reason" => reason, "at_ms" => *at_ms,
            },
            Record::Failed {
                id,
                error_code,
                reason,
                at_ms,
            } => crate::obj! {
                "op" => "failed",
                "id" => id,
                "error_code" => error_code,
                "reason" => reason,
                "at_ms" => *at_ms,
            },
            Record::Expired { id, at_ms } => {
                crate::obj! { "op" => "expired", "id" => id, "at_ms" => *at_ms }
            }
        }
    }

    /// Reads a `rec` object back: exact field set per op, valid ids.
    pub(super) fn from_json(v: &Value) -> Result<Record, String> {
        let m = v.as_object().ok_or("record is not a JSON object")?;
        let op = req_str(m, "op")?;
        let rec = match op.as_str() {
            "create" => {
                only_keys(m, &["op", "plan"], "create record")?;
                let plan = m.get("plan").ok_or("field plan is missing")?;
                return Plan::from_json(plan).map(|p| Record::Create(Box::new(p)));
            }
            "claim" => {
                only_keys(m, &["op", "id", "by", "at_ms"], "claim record")?;
                Record::Claim {
                    id: req_str(m, "id")?,
                    by: req_str(m, "by")?,
                    at_ms: req_i64(m, "at_ms")?,
                }
            }
            "approved" => {
                let keys = ["op", "id", "by", "receipt_id", "exec_trace_id", "at_ms"];
                only_keys(m, &keys, "approved record")?;
                Record::Approved {
                    id: req_str(m, "id")?,
                    by: req_str(m, "by")?,
                    receipt_id: opt_str(m, "receipt_id")?,
                    exec_trace_id: req_str(m, "exec_trace_id")?,
                    at_ms: req_i64(m, "at_ms")?,
                }
            }
            "denied" => {
                only_keys(m, &["op", "id", "by", "reason", "at_ms"], "denied record")?;
                Record::Denied {
                    id: req_str(m, "id")?,
                    by: req_str(m, "by")?,
                    reason: req_str(m, "reason")?,
                    at_ms: req_i64(m, "at_ms")?,
                }
            }
            "failed" => {
                let keys = ["op", "id", "error_code", "reason", "at_ms"];
                only_keys(m, &keys, "failed record")?;
                Record::Failed {
                    id: req_str(m, "id")?,
                    error_code: req_str(m, "error_code")?,
                    reason: req_str(m, "reason")?,
                    at_ms: req_i64(m, "at_ms")?,
                }
            }
            "expired" => {
                only_keys(m, &["op", "id", "at_ms"], "expired record")?;
                Record::Expired {
                    id: req_str(m, "id")?,
                    at_ms: req_i64(m, "at_ms")?,
                }
            }
            other => return Err(format!("unknown record op {other:?}")),
        };
        if !super::is_valid_id(rec.id()) {
            return Err("record id is not a valid approval id".into());
        }
        Ok(rec)
    }
}

/// The full line (with its newline) for `rec`: MAC over the JCS bytes.
///
/// `rec` itself is written compact in insertion order, not in its JCS
/// form, so a plan's input comes back with its keys in the order the
/// agent sent them; the reader recomputes the JCS bytes to check the MAC.
pub(super) fn encode_line(key: &[u8; 32], rec: &Record) -> Result<Vec<u8>, StoreError> {
    let v = rec.to_json();
    let jcs = json::canonical(&v)
        .map_err(|e| StoreError::Corrupt(format!("approval record cannot be stored: {e}")))?;
    let mac = hex::encode(&hmac_sha256(key, &[jcs.as_bytes()]));
    // Both parts are JSON text without raw newlines, so this is one line.
    Ok(format!("{{\"mac\":\"{mac}\",\"rec\":{}}}\n", v.to_json()).into_bytes())
}

/// Parses one line (without its newline) and checks its MAC.
pub(super) fn decode_line(key: &[u8; 32], line: &[u8]) -> Result<Record, String> {
    let v = json::parse_with(
        line,
        json::Limits {
            max_depth: LINE_DEPTH,
        },
    )
    .map_err(|e| format!("not valid JSON ({e})"))?;
    let m = v.as_object().ok_or("not a JSON object")?;
    only_keys(m, &["mac", "rec"], "line")?;
    let mac_hex = req_str(m, "mac")?;
    let rec = m.get("rec").ok_or("field rec is missing")?;
    let jcs = json::canonical(rec).map_err(|e| format!("record cannot be canonicalised: {e}"))?;
    let want = hmac_sha256(key, &[jcs.as_bytes()]);
    let got = hex::decode(&mac_hex).ok_or("field mac is not hex")?;
    if !ct_eq(&got, &want) {
        return Err("bad MAC (the record was altered, or written with another key)".into());
    }
    Record::from_json(rec)
}

/// Splits `buf` into complete lines: `(1-based line number, start, end)`
/// without the newline, plus the length up to the last newline. Bytes after
/// it are a torn final write.
pub(super) fn split_lines(buf: &[u8]) -> (Vec<(usize, usize, usize)>, usize) {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, b) in buf.iter().enumerate() {
        if *b == b'\n' {
            lines.push((lines.len() + 1, start, i));
            start = i + 1;
        }
    }
    (lines, start)
}

/// The open log: append-only writes, each made durable before returning.
pub(super) struct LogFile {
    file: File,
    path: PathBuf,
    dir: PathBuf,
    /// Bytes known to be durable and whole-line; a failed write is cut back to it.
    len: u64,
    /// Set when a failed write could not be undone: no further writes.
    poisoned: bool,
    /// Held for the flock on [`LOCK_FILE`].
    _lock: File,
}

impl LogFile {
    /// Creates `dir` (0700), takes the store lock and opens (creating,
    /// 0600) the log. Returns the file and its whole contents.
    pub(super) fn open(dir: &Path) -> Result<(LogFile, Vec<u8>), StoreError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io(dir, "create directory", e))?;
        tighten(dir, 0o700)?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = open_file(&lock_path)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Io(format!(
                    "{} is locked: another gate is using this approval store",
                    lock_path.display()
                )))
            }
            Err(TryLockError::Error(e)) => return Err(io(&lock_path, "lock", e)),
        }
        let path = dir.join(LOG_FILE);
        let mut file = open_file(&path)?;
        // The log may have just been created: make its name durable before
        // any record in it is reported durable.
        sync_dir(dir)?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)
            .map_err(|e| io(&path, "read", e))?;
        let len = buf.len() as u64;
        let log = LogFile {
            file,
            path,
            dir: dir.to_path_buf(),
            len,
            poisoned: false,
            _lock: lock,
        };
        Ok((log, buf))
    }

    /// The log's path (for messages).
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Cuts the file to `len` bytes, durably (drops a torn final line).
    pub(super) fn truncate(&mut self, len: u64) -> Result<(), StoreError> {
        self.file
            .set_len(len)
            .and_then(|()| self.file.sync_all())
            .map_err(|e| io(&self.path, "truncate", e))?;
        self.len = len;
        Ok(())
    }

    /// Appends whole lines with one write and fdatasyncs them.
    ///
    /// On a write error the file is cut back to its last good length so no
    /// partial line is left for later records to follow; if that fails, or
    /// the fdatasync itself fails (the kernel may have dropped the pages,
    /// so it is never retried), the log refuses all further writes.
    pub(super) fn append(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Io(format!(
                "{}: an earlier write failed; restart the gate to recover the approval store",
                self.path.display()
            )));
        }
        if let Err(e) = self.file.write_all(bytes) {
            let undone = self
                .file
                .set_len(self.len)
                .and_then(|()| self.file.sync_data());
            if undone.is_err() {
                self.poisoned = true;
            }
            return Err(io(&self.path, "write", e));
        }
        if let Err(e) = self.file.sync_data() {
            self.poisoned = true;
            return Err(io(&self.path, "fsync", e));
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Replaces the whole log with `bytes` atomically and durably
    /// (temporary file, fsync, rename, fsync directory), then reopens it.
    pub(super) fn replace(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let tmp = self.dir.join(format!(".{LOG_FILE}.tmp"));
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| io(&tmp, "create", e))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| io(&tmp, "write", e))?;
        drop(file);
        fs::rename(&tmp, &self.path).map_err(|e| io(&self.path, "rename", e))?;
        sync_dir(&self.dir)?;
        self.file = open_file(&self.path)?;
        self.len = bytes.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
impl LogFile {
    /// Swaps the handle for a read-only one, so the next write fails.
    pub(super) fn break_for_test(&mut self) {
        if let Ok(f) = File::open(&self.path) {
            self.file = f;
        }
    }
}

/// Opens (creating, 0600) a regular file for reading and appending.
fn open_file(path: &Path) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io(path, "open", e))?;
    let meta = file.metadata().map_err(|e| io(path, "stat", e))?;
    if !meta.is_file() {
        return Err(StoreError::Io(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    tighten(path, 0o600)?;
    Ok(file)
}

/// Drops any permission bit beyond `mode` on `path`.
fn tighten(path: &Path, mode: u32) -> Result<(), StoreError> {
    let meta = fs::metadata(path).map_err(|e| io(path, "stat", e))?;
    if meta.permissions().mode() & 0o777 & !mode != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(|e| io(path, "chmod", e))?;
    }
    Ok(())
}

/// fsyncs a directory so a new name or a rename in it is durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, "fsync directory", e))
}

/// An I/O error naming the file and the step.
fn io(path: &Path, what: &str, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{}: {what}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn claim() -> Record {
        Record::Claim {
            id: "0190-ab".into(),
            by: "ops:bob".into(),
            at_ms: 5,
        }
    }

    #[test]
    fn line_round_trip_and_mac() {
        let recs = [
            Record::Create(Box::new(super::super::plan::tests::sample("0190-ab", 1, 2))),
            claim(),
            Record::Approved {
                id: "0190-ab".into(),
                by: "ops:bob".into(),
                receipt_id: None,
                exec_trace_id: "t2".into(),
                at_ms: 6,
            },
            Record::Denied {
                id: "0190-ab".into(),
                by: "ops:bob".into(),
                reason: "no \"way\"\n".into(),
                at_ms: 6,
            },
            Record::Failed {
                id: "0190-ab".into(),
                error_code: "interrupted".into(),
                reason: "r".into(),
                at_ms: 6,
            },
            Record::Expired {
                id: "0190-ab".into(),
                at_ms: 6,
            },
        ];
        for rec in recs {
            let line = encode_line(&KEY, &rec).unwrap();
            assert_eq!(line.last(), Some(&b'\n'));
            assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
            let body = &line[..line.len() - 1];
            assert_eq!(decode_line(&KEY, body).unwrap(), rec);
            let err = decode_line(&[8; 32], body).unwrap_err();
            assert!(err.contains("MAC"), "{err}");
        }
    }

    #[test]
    fn rejects_unknown_ops_fields_and_bad_ids() {
        let bad = [
            crate::obj! { "op" => "reopen", "id" => "ab", "at_ms" => 1 },
            crate::obj! { "op" => "expired", "id" => "AB", "at_ms" => 1 },
            crate::obj! { "op" => "expired", "id" => "ab", "at_ms" => 1, "x" => 1 },
            crate::obj! { "op" => "expired", "id" => "ab" },
            crate::obj! { "op" => "claim", "id" => "ab", "by" => 1, "at_ms" => 1 },
        ];
        for rec in bad {
            assert!(Record::from_json(&rec).is_err(), "{}", rec.to_json());
        }
    }

    #[test]
    fn splits_lines_and_finds_the_torn_tail() {
        let (lines, good) = split_lines(b"a\nbc\nde");
        assert_eq!(lines, vec![(1, 0, 1), (2, 2, 4)]);
        assert_eq!(good, 5);
        let (lines, good) = split_lines(b"");
        assert!(lines.is_empty());
        assert_eq!(good, 0);
    }
}
