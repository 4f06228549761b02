//! Startup recovery: re-reads events.jsonl, checks the chain, restores the
//! head and the receipt index, and cuts off a torn final line.
//!
//! Records are parsed one at a time and dropped: the index keeps only each
//! receipt's id and where its line is ([`Loc`]), never the parsed record.
//!
//! A final line without `\n` was never acknowledged (an append returns only
//! after its whole batch, newline included, is fdatasync'ed), so it is
//! removed. Anything else that is wrong — an unparseable complete line, a
//! gap or a broken link — is corruption: the gate refuses to start.

use super::chain::{self, record_hash};
use super::lines::{Ending, Lines};
use super::LedgerError;
use crate::json::{self, Value};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::Path;

/// What recovery found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Sequence number of the last record (0 when empty).
    pub last_seq: u64,
    /// Chain hash of the last record.
    pub last_hash: Option<String>,
    /// Non-checkpoint records after the last checkpoint.
    pub since_checkpoint: u64,
    /// Bytes removed from a torn tail.
    pub torn_bytes: u64,
    /// receipt_id → where its record's line is, for every receipt in the
    /// ledger (a later record with the same id wins).
    pub receipts: HashMap<Box<str>, Loc>,
    /// Chain hash of record `want_seq`, when it exists.
    pub hash_at_want: Option<String>,
    /// Byte length of the valid part of the file (after any torn tail is
    /// cut): where the next record's line starts.
    pub end: u64,
}

/// Where a record's line is in events.jsonl: its first byte and its length
/// without the newline. A line is at most `MAX_RECORD_BYTES`, so `len` fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Loc {
    /// Byte offset of the line's first byte.
    pub offset: u64,
    /// Bytes in the line, newline excluded.
    pub len: u32,
}

/// The `receipt_id` of the receipt carried by `record` (under `receipt`).
pub(crate) fn receipt_id_of(record: &Value) -> Option<&str> {
    receipt_id(record.get("receipt")?)
}

/// The `receipt_id` of a receipt object.
pub(crate) fn receipt_id(receipt: &Value) -> Option<&str> {
    receipt.get("receipt_id")?.as_str()
}

/// Scans `file` (events.jsonl at `path`), truncating a torn tail, and
/// records the hash of record `want_seq` on the way.
pub(crate) fn recover(
    file: &File,
    path: &Path,
    want_seq: Option<u64>,
) -> Result<Scan, LedgerError> {
    let mut reader = file;
    reader
        .seek(SeekFrom::Start(0))
        .map_err(|e| LedgerError::io(path, "seek", e))?;
    let mut scan = Scan::default();
    let mut valid_len = 0u64;
    let corrupt = |line: usize, reason: String| LedgerError::Corrupt { line, reason };
    for item in Lines::new(reader) {
        let line = item.map_err(|e| LedgerError::io(path, "read", e))?;
        match line.ending {
            Ending::Complete => {}
            Ending::Torn => {
                scan.torn_bytes = line.bytes.len() as u64;
                break;
            }
            Ending::TooLong => {
                return Err(corrupt(line.no, "line is longer than any record".into()))
            }
        }
        let record =
            json::parse(&line.bytes).map_err(|e| corrupt(line.no, format!("not JSON: {e}")))?;
        let expected = scan.last_seq + 1;
        if record.get("seq").and_then(Value::as_u64) != Some(expected) {
            return Err(corrupt(line.no, format!("expected seq {expected}")));
        }
        let prev = record.get("prev_hash");
        let linked = match (&scan.last_hash, prev) {
            (None, Some(Value::Null)) => true,
            (Some(h), Some(Value::String(p))) => h == p,
            _ => false,
        };
        if !linked {
            return Err(corrupt(
                line.no,
                format!(
                    "prev_hash of seq {expected} does not match seq {}",
                    scan.last_seq
                ),
            ));
        }
        let hash = record_hash(&record).map_err(|e| corrupt(line.no, e.to_string()))?;
        if chain::is_checkpoint(&record) {
            scan.since_checkpoint = 0;
        } else {
            scan.since_checkpoint += 1;
        }
        if let Some(id) = receipt_id_of(&record) {
            let len = u32::try_from(line.bytes.len())
                .map_err(|_| corrupt(line.no, "line is longer than any record".into()))?;
            let loc = Loc {
                offset: line.start,
                len,
            };
            scan.receipts.insert(id.into(), loc);
        }
        if want_seq == Some(expected) {
            scan.hash_at_want = Some(hash.clone());
        }
        scan.last_seq = expected;
        scan.last_hash = Some(hash);
        valid_len = line.start + line.bytes.len() as u64 + 1;
    }
    scan.end = valid_len;
    if scan.torn_bytes > 0 {
        file.set_len(valid_len)
            .map_err(|e| LedgerError::io(path, "truncate torn tail", e))?;
        file.sync_all()
            .map_err(|e| LedgerError::io(path, "fsync", e))?;
    }
    Ok(scan)
}
