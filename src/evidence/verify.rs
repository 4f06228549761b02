//! Offline verification of a ledger directory (`latchgate verify`).
//!
//! Checks, in file order: every line parses; `seq` runs 1, 2, 3, … with no
//! gap, duplicate or swap; every `prev_hash` equals the recomputed hash of
//! the record before it; every checkpoint covers the previous record and
//! carries a valid signature by a key in keys.json; no run of more than
//! [`CHECKPOINT_EVERY`] records lacks a checkpoint; every receipt's
//! `result_hash` and signature verify. Then the signed head.json must be
//! valid and events.jsonl must contain its `seq` with exactly its `hash`,
//! so a truncated or deleted tail is caught. Edits, deletions, reordering
//! and truncation each surface as `broken_at`.
//!
//! Limits: records written after the newest head.json and after the last
//! checkpoint are protected only by the chain; and keys.json itself is the
//! trust root (someone able to replace it and every signature can forge a
//! consistent ledger; compare its keys with the gate's key out of band).

use super::chain::{self, record_hash, CHECKPOINT_EVERY};
use super::head::Head;
use super::keys::{KeyRing, KEYS_FILE};
use super::ledger::EVENTS_FILE;
use super::lines::{Ending, Line, Lines};
use super::receipt::{verify_receipt, SignatureStatus};
use super::LedgerError;
use crate::json::{self, Value};
use crate::obj;
use std::fs::File;
use std::path::Path;

/// Where and why verification failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    /// The first record that cannot be trusted (for a missing tail, the
    /// first missing one).
    pub seq: u64,
    /// 1-based line in events.jsonl (0 when the problem is not on a line).
    pub line: usize,
    /// That record's trace_id, when it has one and is present.
    pub trace_id: Option<String>,
    /// What was wrong.
    pub reason: String,
}

/// The outcome of [`verify_ledger`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// True when every check passed.
    pub intact: bool,
    /// Complete lines in events.jsonl (records, checkpoints included).
    pub total_events: u64,
    /// Records whose link to their predecessor was verified before any break.
    pub verified_links: u64,
    /// Checkpoint signatures verified.
    pub checkpoints_verified: u64,
    /// Receipts whose hash and signature verified.
    pub receipts_verified: u64,
    /// `seq` named by head.json, when it was readable.
    pub head_seq: Option<u64>,
    /// Bytes of an unterminated final line (a crash mid-write; the gate
    /// removes it at its next start; not part of the ledger).
    pub torn_tail_bytes: u64,
    /// The first failure, if any.
    pub broken_at: Option<Broken>,
}

impl VerifyReport {
    /// The `/v1/audit/verify` body: `{intact, total_events, verified_links,
    /// broken_at: trace_id|null}` plus `broken_seq`, `broken_line`,
    /// `reason`, `checkpoints_verified`, `receipts_verified`, `head_seq`.
    pub fn to_json(&self) -> Value {
        let b = self.broken_at.as_ref();
        obj! {
            "intact" => self.intact,
            "total_events" => self.total_events,
            "verified_links" => self.verified_links,
            "broken_at" => b.and_then(|b| b.trace_id.clone()),
            "broken_seq" => b.map(|b| b.seq),
            "broken_line" => b.map(|b| b.line),
            "reason" => b.map(|b| b.reason.clone()),
            "checkpoints_verified" => self.checkpoints_verified,
            "receipts_verified" => self.receipts_verified,
            "head_seq" => self.head_seq,
        }
    }
}

/// The previous record, as far as the next one needs it.
struct Prev {
    seq: u64,
    hash: String,
    trace_id: Option<String>,
    line: usize,
}

/// Verifies the ledger in `dir`. `Err` only when it cannot be read at all
/// (missing directory, unreadable file, malformed keys.json): exit 1.
pub fn verify_ledger(dir: &Path) -> Result<VerifyReport, LedgerError> {
    if !dir.is_dir() {
        return Err(LedgerError::io(
            dir,
            "open ledger directory",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let keys = KeyRing::load(&dir.join(KEYS_FILE))?;
    let head = Head::read(dir)?;
    let mut report = VerifyReport {
        intact: false,
        total_events: 0,
        verified_links: 0,
        checkpoints_verified: 0,
        receipts_verified: 0,
        head_seq: head.as_ref().and_then(|h| h.as_ref().ok()).map(|h| h.seq),
        torn_tail_bytes: 0,
        broken_at: None,
    };
    let path = dir.join(EVENTS_FILE);
    let file = match File::open(&path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(LedgerError::io(&path, "open", e)),
    };
    let mut walk = Walk {
        keys: &keys,
        head: head.as_ref().and_then(|h| h.as_ref().ok()),
        prev: None,
        since_checkpoint: 0,
        head_record: None,
    };
    if let Some(file) = file {
        let mut lines = Lines::new(file);
        while let Some(item) = lines.next() {
            let line = item.map_err(|e| LedgerError::io(&path, "read", e))?;
            match line.ending {
                Ending::Complete => report.total_events += 1,
                Ending::Torn => {
                    report.torn_tail_bytes = line.bytes.len() as u64;
                    break;
                }
                Ending::TooLong => {
                    report.broken_at = Some(walk.broken_here(
                        line.no,
                        None,
                        "line is longer than any record".into(),
                    ));
                    break;
                }
            }
            if let Err(b) = walk.step(&line, &mut lines, &mut report) {
                report.broken_at = Some(b);
                break;
            }
        }
        if report.broken_at.is_some() {
            // Keep counting so the report says "V of T".
            for item in lines {
                let line = item.map_err(|e| LedgerError::io(&path, "read", e))?;
                if line.ending == Ending::Complete {
                    report.total_events += 1;
                }
            }
            return Ok(report);
        }
    }
    if let Err(b) = walk.check_head(head.as_ref()) {
        report.broken_at = Some(b);
        return Ok(report);
    }
    report.intact = true;
    Ok(report)
}

/// State carried from record to record.
struct Walk<'a> {
    keys: &'a KeyRing,
    head: Option<&'a Head>,
    prev: Option<Prev>,
    since_checkpoint: u64,
    /// Recomputed hash and trace_id of record `head.seq`.
    head_record: Option<(String, Option<String>)>,
}

impl Walk<'_> {
    fn expected(&self) -> u64 {
        self.prev.as_ref().map_or(1, |p| p.seq + 1)
    }

    fn broken_here(&self, line: usize, trace_id: Option<String>, reason: String) -> Broken {
        Broken {
            seq: self.expected(),
            line,
            trace_id,
            reason,
        }
    }

    /// Checks one complete line; reads one more line from `rest` only to
    /// tell which side of a failed link was modified.
    fn step(
        &mut self,
        line: &Line,
        rest: &mut Lines<File>,
        report: &mut VerifyReport,
    ) -> Result<(), Broken> {
        let expected = self.expected();
        let record = json::parse(&line.bytes).map_err(|e| {
            self.broken_here(
                line.no,
                None,
                format!("line {} is not valid JSON: {e}", line.no),
            )
        })?;
        let trace_id = record
            .get("trace_id")
            .and_then(Value::as_str)
            .map(str::to_string);
        let seq = record.get("seq").and_then(Value::as_u64);
        if seq != Some(expected) {
            let found = seq.map_or("no seq".to_string(), |s| format!("seq {s}"));
            return Err(self.broken_here(
                line.no,
                None,
                format!("expected seq {expected} at line {}, found {found}: a record was deleted, inserted or moved", line.no),
            ));
        }
        let hash = record_hash(&record)
            .map_err(|e| self.broken_here(line.no, trace_id.clone(), e.to_string()))?;
        let linked = match (&self.prev, record.get("prev_hash")) {
            (None, Some(Value::Null)) => true,
            (Some(p), Some(Value::String(h))) => *h == p.hash,
            _ => false,
        };
        if !linked {
            return Err(self.blame_link(line, trace_id, &hash, rest, report));
        }
        report.verified_links += 1;
        if chain::is_checkpoint(&record) {
            let prev_hash = self.prev.as_ref().map(|p| p.hash.as_str());
            chain::check_checkpoint(&record, expected, prev_hash, self.keys)
                .map_err(|why| self.broken_here(line.no, None, why))?;
            report.checkpoints_verified += 1;
            self.since_checkpoint = 0;
        } else {
            self.since_checkpoint += 1;
            if self.since_checkpoint > CHECKPOINT_EVERY {
                return Err(self.broken_here(
                    line.no,
                    trace_id,
                    format!("more than {CHECKPOINT_EVERY} records without a signed checkpoint (checkpoints removed?)"),
                ));
            }
        }
        if let Some(receipt) = record.get("receipt") {
            let status = verify_receipt(receipt, self.keys);
            if status != SignatureStatus::Valid {
                let id = receipt
                    .get("receipt_id")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                return Err(self.broken_here(
                    line.no,
                    trace_id,
                    format!("receipt {id}: {}", status.as_str()),
                ));
            }
            report.receipts_verified += 1;
        }
        if self.head.is_some_and(|h| h.seq == expected) {
            self.head_record = Some((hash.clone(), trace_id.clone()));
        }
        self.prev = Some(Prev {
            seq: expected,
            hash,
            trace_id,
            line: line.no,
        });
        Ok(())
    }

    /// A record's `prev_hash` does not match its predecessor: decide which
    /// of the two was modified. If the next record (or the signed head)
    /// still endorses this one, the predecessor changed; otherwise this one.
    fn blame_link(
        &self,
        line: &Line,
        trace_id: Option<String>,
        hash: &str,
        rest: &mut Lines<File>,
        report: &mut VerifyReport,
    ) -> Broken {
        let expected = self.expected();
        let Some(prev) = &self.prev else {
            return self.broken_here(
                line.no,
                trace_id,
                "the first record's prev_hash is not null".into(),
            );
        };
        let endorsed = match rest.next() {
            Some(Ok(next)) if next.ending == Ending::Complete => {
                report.total_events += 1;
                json::parse(&next.bytes)
                    .ok()
                    .and_then(|n| {
                        n.get("prev_hash")
                            .and_then(Value::as_str)
                            .map(|p| p == hash)
                    })
                    .unwrap_or(false)
            }
            Some(_) => false,
            // Last record: only the signed head can vouch for it.
            None => self
                .head
                .is_some_and(|h| h.seq == expected && h.hash == hash && h.verify(self.keys)),
        };
        if endorsed {
            Broken {
                seq: prev.seq,
                line: prev.line,
                trace_id: prev.trace_id.clone(),
                reason: format!(
                    "record {} was modified: record {expected}'s prev_hash does not match it",
                    prev.seq
                ),
            }
        } else {
            self.broken_here(
                line.no,
                trace_id,
                format!(
                    "record {expected}'s prev_hash does not match record {}",
                    prev.seq
                ),
            )
        }
    }

    /// After a clean walk: head.json must be present, signed, and name a
    /// record that exists with exactly its hash.
    fn check_head(&self, head: Option<&Result<Head, String>>) -> Result<(), Broken> {
        let last = self.expected() - 1;
        let missing = |reason: String| Broken {
            seq: last + 1,
            line: 0,
            trace_id: None,
            reason,
        };
        let head = match head {
            None if last == 0 => return Ok(()),
            None => {
                return Err(missing(
                    "head.json is missing: a truncated tail cannot be ruled out".into(),
                ))
            }
            Some(Err(why)) => return Err(missing(why.clone())),
            Some(Ok(h)) => h,
        };
        if !head.verify(self.keys) {
            return Err(missing("head.json signature is invalid".into()));
        }
        if head.seq > last {
            return Err(missing(format!(
                "truncated: the signed head records seq {} but events.jsonl ends at seq {last}",
                head.seq
            )));
        }
        match &self.head_record {
            Some((hash, _)) if *hash == head.hash => Ok(()),
            other => Err(Broken {
                seq: head.seq,
                line: 0,
                trace_id: other.as_ref().and_then(|(_, t)| t.clone()),
                reason: format!("record {} does not match the signed head", head.seq),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::hex;
    use crate::evidence::head::HEAD_FILE;
    use crate::evidence::ledger::Ledger;
    use crate::evidence::receipt::tests::parts;
    use crate::evidence::testutil::{event, key, read_lines, write_lines, TempDir};
    use std::time::Duration;

    /// n records (every third with a receipt `r<i>`), a checkpoint after
    /// each record listed in `checkpoints`, and a final one when `close`.
    fn build(dir: &Path, n: u64, checkpoints: &[u64], close: bool) {
        let l = Ledger::open_with_tick(dir, key(1), Duration::from_secs(3600)).unwrap();
        for i in 1..=n {
            let mut m = event(i);
            if i % 3 == 0 {
                let mut p = parts();
                p.receipt_id = format!("r{i}");
                m.insert("receipt", l.sign_receipt(p).unwrap());
            }
            l.append(m).unwrap();
            if checkpoints.contains(&i) {
                l.checkpoint().unwrap();
            }
        }
        if close {
            l.checkpoint().unwrap();
        }
    }

    /// Standard layout: seq 1-5 = t1-t5, 6 = checkpoint, 7-11 = t6-t10,
    /// 12 = checkpoint; head.json at 12.
    fn standard(tag: &str) -> TempDir {
        let t = TempDir::new(tag);
        build(t.path(), 10, &[5], true);
        t
    }

    fn broken(dir: &Path) -> Broken {
        let r = verify_ledger(dir).unwrap();
        assert!(!r.intact, "{r:?}");
        r.broken_at.unwrap()
    }

    /// Recomputes seq (when `renumber`) and every link from line `from`
    /// (0-based) on, as an attacker without the key would; checkpoint
    /// `head_hash`/`covers_seq` are updated too when `fix_checkpoints`.
    fn rechain(dir: &Path, from: usize, renumber: bool, fix_checkpoints: bool) {
        let lines = read_lines(dir);
        let mut out: Vec<String> = Vec::new();
        let mut prev: Option<String> = None;
        for (i, line) in lines.iter().enumerate() {
            let mut v = json::parse(line.as_bytes()).unwrap();
            if i >= from {
                let m = v.as_object_mut().unwrap();
                if renumber {
                    m.insert("seq", (i + 1) as u64);
                }
                m.insert("prev_hash", prev.clone());
                if fix_checkpoints
                    && m.get("event_type").and_then(Value::as_str) == Some("checkpoint")
                {
                    m.insert("head_hash", prev.clone());
                    m.insert("covers_seq", i as u64);
                }
            }
            prev = Some(record_hash(&v).unwrap());
            out.push(v.to_json());
        }
        write_lines(dir, &out);
    }

    #[test]
    fn untouched_ledger_verifies() {
        let t = standard("verify-ok");
        let r = verify_ledger(t.path()).unwrap();
        assert!(r.intact, "{r:?}");
        assert_eq!(r.total_events, 12);
        assert_eq!(r.verified_links, 12);
        assert_eq!(r.checkpoints_verified, 2);
        assert_eq!(r.receipts_verified, 3);
        assert_eq!(r.head_seq, Some(12));
        let j = r.to_json();
        assert_eq!(j.get("intact").unwrap().as_bool(), Some(true));
        assert!(j.get("broken_at").unwrap().is_null());
        assert_eq!(j.get("total_events").unwrap().as_u64(), Some(12));
    }

    #[test]
    fn one_byte_edit_in_a_middle_line() {
        let t = standard("verify-edit");
        let mut lines = read_lines(t.path());
        lines[3] = lines[3].replacen("\"allow\"", "\"allpw\"", 1);
        write_lines(t.path(), &lines);
        let b = broken(t.path());
        assert_eq!(
            (b.seq, b.line, b.trace_id.as_deref()),
            (4, 4, Some("t4")),
            "{b:?}"
        );
        let r = verify_ledger(t.path()).unwrap();
        assert_eq!(r.total_events, 12);
        let j = r.to_json();
        assert_eq!(j.get("broken_at").unwrap().as_str(), Some("t4"));
        assert_eq!(j.get("intact").unwrap().as_bool(), Some(false));
    }

    #[test]
    fn edited_prev_hash_blames_its_own_record() {
        let t = standard("verify-prev");
        let mut lines = read_lines(t.path());
        let pos = lines[3].find("sha256:").unwrap() + 7;
        let c = if &lines[3][pos..=pos] == "0" {
            "1"
        } else {
            "0"
        };
        lines[3].replace_range(pos..=pos, c);
        write_lines(t.path(), &lines);
        let b = broken(t.path());
        assert_eq!((b.seq, b.trace_id.as_deref()), (4, Some("t4")), "{b:?}");
    }

    #[test]
    fn deleted_line_is_caught() {
        let t = standard("verify-delete");
        let mut lines = read_lines(t.path());
        lines.remove(3);
        write_lines(t.path(), &lines);
        let b = broken(t.path());
        assert_eq!(b.seq, 4, "{b:?}");
        assert!(b.reason.contains("expected seq 4"), "{b:?}");
    }

    #[test]
    fn swapped_lines_are_caught_even_renumbered() {
        let t = standard("verify-swap");
        let mut lines = read_lines(t.path());
        lines.swap(3, 4);
        write_lines(t.path(), &lines);
        assert_eq!(broken(t.path()).seq, 4);

        // Swap back the seq values too: the chain still breaks at 4.
        let mut lines = read_lines(t.path());
        lines[3] = lines[3].replacen("\"seq\":5", "\"seq\":4", 1);
        lines[4] = lines[4].replacen("\"seq\":4", "\"seq\":5", 1);
        write_lines(t.path(), &lines);
        let b = broken(t.path());
        assert_eq!(b.seq, 4, "{b:?}");
        assert!(b.reason.contains("prev_hash"), "{b:?}");
    }

    #[test]
    fn truncated_tail_is_caught_with_and_without_head() {
        let t = standard("verify-trunc");
        let lines = read_lines(t.path());
        write_lines(t.path(), &lines[..10]);
        let b = broken(t.path());
        assert_eq!(b.seq, 11, "{b:?}");
        assert!(b.reason.contains("truncated"), "{b:?}");

        std::fs::remove_file(t.path().join(HEAD_FILE)).unwrap();
        let b = broken(t.path());
        assert_eq!(b.seq, 11, "{b:?}");
        assert!(b.reason.contains("head.json is missing"), "{b:?}");

        // Everything deleted but the head: still caught.
        let t = standard("verify-trunc-all");
        write_lines(t.path(), &[]);
        assert_eq!(broken(t.path()).seq, 1);
        std::fs::remove_file(t.path().join(EVENTS_FILE)).unwrap();
        assert_eq!(broken(t.path()).seq, 1);
    }

    #[test]
    fn edited_receipt_is_caught_even_when_rechained() {
        let t = standard("verify-receipt");
        let mut lines = read_lines(t.path());
        assert!(lines[2].contains("\"receipt_id\":\"r3\""));
        lines[2] = lines[2].replacen("\"grant-1\"", "\"grant-2\"", 1);
        write_lines(t.path(), &lines);
        let b = broken(t.path());
        assert_eq!((b.seq, b.trace_id.as_deref()), (3, Some("t3")), "{b:?}");
        assert!(b.reason.contains("receipt r3: invalid"), "{b:?}");
        rechain(t.path(), 0, false, true);
        assert_eq!(broken(t.path()).seq, 3);
    }

    #[test]
    fn rechained_edit_is_caught_by_the_next_checkpoint_or_head() {
        // Edit before the first checkpoint, links recomputed, checkpoint
        // fields rewritten: the checkpoint signature no longer matches.
        let t = standard("verify-rechain");
        let mut lines = read_lines(t.path());
        lines[1] = lines[1].replacen("agent:alice", "agent:mallory", 1);
        write_lines(t.path(), &lines);
        rechain(t.path(), 0, false, false);
        let b = broken(t.path());
        assert_eq!(b.seq, 6, "{b:?}");
        assert!(b.reason.contains("head_hash"), "{b:?}");
        rechain(t.path(), 0, false, true);
        let b = broken(t.path());
        assert_eq!(b.seq, 6, "{b:?}");
        assert!(b.reason.contains("signature is invalid"), "{b:?}");

        // After the last checkpoint, only the signed head covers the edit.
        let t = TempDir::new("verify-rechain-head");
        build(t.path(), 5, &[], false);
        let mut lines = read_lines(t.path());
        lines[1] = lines[1].replacen("agent:alice", "agent:mallory", 1);
        write_lines(t.path(), &lines);
        rechain(t.path(), 0, false, false);
        let b = broken(t.path());
        assert_eq!((b.seq, b.trace_id.as_deref()), (5, Some("t5")), "{b:?}");
        assert!(b.reason.contains("signed head"), "{b:?}");
    }

    #[test]
    fn edited_last_record_is_caught_by_the_head() {
        let t = TempDir::new("verify-last");
        build(t.path(), 5, &[], false);
        let mut lines = read_lines(t.path());
        lines[4] = lines[4].replacen("\"allow\"", "\"deny\"", 1);
        write_lines(t.path(), &lines);
        let b = broken(t.path());
        assert_eq!((b.seq, b.trace_id.as_deref()), (5, Some("t5")), "{b:?}");
    }

    #[test]
    fn forged_checkpoints_are_caught() {
        let t = standard("verify-forge");
        let lines = read_lines(t.path());
        let mut cp = json::parse(lines[5].as_bytes()).unwrap();
        let covers = cp.get("covers_seq").unwrap().as_u64().unwrap();
        let head = cp.get("head_hash").unwrap().as_str().unwrap().to_string();
        let attacker = key(7);
        let sig = attacker.sign(chain::checkpoint_message(covers, &head).as_bytes());
        let m = cp.as_object_mut().unwrap();
        m.insert("key_id", attacker.key_id());
        m.insert("signature", hex::encode(&sig));
        let mut forged = lines.clone();
        forged[5] = cp.to_json();
        write_lines(t.path(), &forged);
        rechain(t.path(), 0, false, false);
        let b = broken(t.path());
        assert_eq!(b.seq, 6, "{b:?}");
        assert!(b.reason.contains("unknown key"), "{b:?}");

        // The real key id with someone else's signature.
        cp.as_object_mut()
            .unwrap()
            .insert("key_id", key(1).key_id());
        let mut forged = lines.clone();
        forged[5] = cp.to_json();
        write_lines(t.path(), &forged);
        rechain(t.path(), 0, false, false);
        assert!(broken(t.path()).reason.contains("signature is invalid"));

        // An inserted checkpoint shifts every seq after it.
        let mut inserted = lines;
        inserted.insert(2, inserted[5].clone());
        write_lines(t.path(), &inserted);
        assert_eq!(broken(t.path()).seq, 3);
    }

    #[test]
    fn forged_or_moved_head_is_caught() {
        let t = standard("verify-head");
        let path = t.path().join(HEAD_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("\"seq\":12", "\"seq\":11", 1)).unwrap();
        assert!(broken(t.path()).reason.contains("signature"));
        std::fs::write(&path, b"{}").unwrap();
        assert!(broken(t.path()).reason.contains("head.json"));
    }

    #[test]
    fn stripped_checkpoints_are_caught() {
        let t = TempDir::new("verify-strip");
        build(t.path(), 1100, &[], false);
        let lines: Vec<String> = read_lines(t.path())
            .into_iter()
            .filter(|l| !l.contains("\"event_type\":\"checkpoint\""))
            .collect();
        assert_eq!(lines.len(), 1100);
        write_lines(t.path(), &lines);
        rechain(t.path(), 0, true, false);
        std::fs::remove_file(t.path().join(HEAD_FILE)).unwrap();
        let b = broken(t.path());
        assert_eq!(b.seq, 1001, "{b:?}");
        assert!(b.reason.contains("without a signed checkpoint"), "{b:?}");
    }

    #[test]
    fn torn_tail_is_reported_but_not_a_break() {
        let t = standard("verify-torn");
        let path = t.path().join(EVENTS_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"{\"seq\":13,\"pre");
        std::fs::write(&path, bytes).unwrap();
        let r = verify_ledger(t.path()).unwrap();
        assert!(r.intact, "{r:?}");
        assert_eq!(r.torn_tail_bytes, 14);
        assert_eq!(r.total_events, 12);
    }

    #[test]
    fn garbage_line_and_unreadable_inputs() {
        let t = standard("verify-garbage");
        let mut lines = read_lines(t.path());
        lines[6] = "{not json".into();
        write_lines(t.path(), &lines);
        let b = broken(t.path());
        assert_eq!((b.seq, b.line), (7, 7), "{b:?}");

        assert!(verify_ledger(&t.path().join("nope")).is_err());
        std::fs::write(t.path().join(KEYS_FILE), b"[]").unwrap();
        assert!(verify_ledger(t.path()).is_err());
    }
}
