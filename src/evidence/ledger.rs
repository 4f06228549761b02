//! The append-only, hash-chained, group-committed ledger (events.jsonl).
//!
//! Appends are durable on return: the record's line and newline are
//! written and fdatasync'ed. Concurrent appenders are batched: each one
//! assigns its sequence number and chain link under the state lock and
//! queues its line; the first waiter that finds no flush running becomes
//! the leader, takes the whole queue, and writes + fdatasyncs it with the
//! lock released, so later appenders keep queueing behind it and ride the
//! next flush. Any write or fsync error poisons the ledger for good (an
//! fsync is never retried: the kernel may have dropped the dirty pages).
//!
//! Receipts are not kept in memory: the index maps each `receipt_id` to
//! where its record's line is in events.jsonl, and a lookup reads that line
//! back (pread) and parses it. Memory per executed call is the id and a
//! `(u64, u32)` location, not the receipt.

use super::background::{self, BgMsg};
use super::chain::{self, record_hash, CHECKPOINT_EVERY, MAX_DEPTH, MAX_RECORD_BYTES};
use super::fsutil;
use super::head::Head;
use super::keys::{KeyRing, KEYS_FILE};
use super::query::{self, EventFilter};
use super::receipt::{self, ReceiptParts, SignatureStatus};
use super::recover::{self, receipt_id, Loc};
use super::{now_rfc3339, LedgerError};
use crate::crypto::ed25519::SigningKey;
use crate::json::{self, Map, Value};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// File name of the event log inside the ledger directory.
pub const EVENTS_FILE: &str = "events.jsonl";

/// How often the background thread checkpoints an active ledger.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(10);

/// Where a record landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// Its sequence number.
    pub seq: u64,
    /// Its chain hash (`sha256:…`), which the next record's `prev_hash` holds.
    pub hash: String,
}

/// Counters for metrics and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LedgerStats {
    /// Records appended by callers since open (checkpoints excluded).
    pub appends: u64,
    /// Successful write + fdatasync batches since open.
    pub syncs: u64,
    /// Sequence number of the newest durable record.
    pub durable_seq: u64,
}

/// What startup recovery did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// Records found (the chain checked out).
    pub records: u64,
    /// Bytes of a torn, never-acknowledged final line that were removed.
    pub torn_bytes: u64,
}

/// Mutable state, guarded by `Inner::state`.
struct State {
    /// Sequence number the next record gets.
    next_seq: u64,
    /// Chain hash of the last assigned record.
    last_hash: Option<String>,
    /// Non-checkpoint records since the last checkpoint.
    since_checkpoint: u64,
    /// Lines assigned but not yet handed to a leader.
    pending: Vec<u8>,
    /// Newest record in `pending`.
    pending_last: Option<(u64, String)>,
    /// Newest durable record.
    durable: Option<(u64, String)>,
    /// Byte offset in events.jsonl where the next queued line will land:
    /// the file's valid length plus everything queued since. Lines are
    /// written in queue order by one leader at a time, and a failed write
    /// poisons the ledger, so offsets taken here match the file.
    next_offset: u64,
    /// A leader is writing right now.
    flushing: bool,
    /// Set forever after an I/O error.
    poisoned: Option<String>,
}

/// Where a test wants the next flush to fail.
#[cfg(test)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailAt {
    Nothing,
    Write,
    Sync,
}

/// The shared part of a ledger (the background thread holds a weak ref).
pub(crate) struct Inner {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    signer: Arc<SigningKey>,
    keys: KeyRing,
    state: Mutex<State>,
    durable_cv: Condvar,
    /// receipt_id → where its record's line is (durable records only).
    index: Mutex<HashMap<Box<str>, Loc>>,
    bg_tx: Sender<BgMsg>,
    /// A `HeadDue` message is on its way or waiting: later batches need not
    /// wake the background thread again (it reads the newest durable record
    /// when it writes the head). Cleared by that thread before it reads.
    head_wake_sent: AtomicBool,
    /// Sequence number in head.json as last written by us.
    head_written: Mutex<u64>,
    appends: AtomicU64,
    syncs: AtomicU64,
    recovery: Recovery,
    #[cfg(test)]
    fail_at: Mutex<FailAt>,
}

/// The ledger. Share it as `Arc<Ledger>`; every method takes `&self`.
pub struct Ledger {
    inner: Arc<Inner>,
    bg: Option<JoinHandle<()>>,
}

impl Ledger {
    /// Opens (creating if needed) the ledger in `dir`, signing checkpoints
    /// and heads with `signer` (also the receipt key; it is added to
    /// keys.json). Recovers a torn tail; refuses a broken chain, a head.json
    /// that is not in events.jsonl, or a second process on the same ledger.
    pub fn open(dir: &Path, signer: Arc<SigningKey>) -> Result<Ledger, LedgerError> {
        Self::open_with_tick(dir, signer, CHECKPOINT_INTERVAL)
    }

    /// `open` with a custom checkpoint timer interval.
    pub(crate) fn open_with_tick(
        dir: &Path,
        signer: Arc<SigningKey>,
        tick: Duration,
    ) -> Result<Ledger, LedgerError> {
        fsutil::ensure_dir(dir)?;
        let path = dir.join(EVENTS_FILE);
        let file = fsutil::open_append(&path)?;
        fsutil::lock_exclusive(&file, &path)?;
        // Make a newly created events.jsonl durable as a directory entry.
        fsutil::sync_dir(dir)?;
        let mut keys = KeyRing::load(&dir.join(KEYS_FILE))?;
        if keys.add(signer.public_key(), &now_rfc3339())? {
            keys.save(dir)?;
        }
        let head = match Head::read(dir)? {
            None => None,
            Some(Err(why)) => {
                return Err(LedgerError::Corrupt {
                    line: 0,
                    reason: why,
                })
            }
            Some(Ok(h)) if !h.verify(&keys) => {
                return Err(LedgerError::Corrupt {
                    line: 0,
                    reason: "head.json signature is invalid".into(),
                })
            }
            Some(Ok(h)) => Some(h),
        };
        let scan = recover::recover(&file, &path, head.as_ref().map(|h| h.seq))?;
        if let Some(h) = &head {
            if h.seq > scan.last_seq {
                return Err(LedgerError::Corrupt {
                    line: 0,
                    reason: format!(
                        "events.jsonl ends at seq {} but the signed head records seq {}: its tail was truncated or deleted",
                        scan.last_seq, h.seq
                    ),
                });
            }
            if scan.hash_at_want.as_deref() != Some(h.hash.as_str()) {
                return Err(LedgerError::Corrupt {
                    line: 0,
                    reason: format!("record {} does not match the signed head", h.seq),
                });
            }
        }
        let durable = scan.last_hash.clone().map(|h| (scan.last_seq, h));
        let (tx, rx) = mpsc::channel();
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            path,
            file,
            signer,
            keys,
            state: Mutex::new(State {
                next_seq: scan.last_seq + 1,
                last_hash: scan.last_hash.clone(),
                since_checkpoint: scan.since_checkpoint,
                pending: Vec::new(),
                pending_last: None,
                durable: durable.clone(),
                next_offset: scan.end,
                flushing: false,
                poisoned: None,
            }),
            durable_cv: Condvar::new(),
            index: Mutex::new(scan.receipts),
            bg_tx: tx,
            head_wake_sent: AtomicBool::new(false),
            head_written: Mutex::new(head.as_ref().map_or(0, |h| h.seq)),
            appends: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            recovery: Recovery {
                records: scan.last_seq,
                torn_bytes: scan.torn_bytes,
            },
            #[cfg(test)]
            fail_at: Mutex::new(FailAt::Nothing),
        });
        // Anchor what recovery found before accepting new records.
        if let Some((seq, hash)) = durable {
            inner.write_head(seq, &hash)?;
        }
        let bg = background::spawn(Arc::downgrade(&inner), rx, tick)
            .map_err(|e| LedgerError::io(dir, "spawn ledger thread", e))?;
        Ok(Ledger {
            inner,
            bg: Some(bg),
        })
    }

    /// Appends one record (the caller's fields plus `seq` and `prev_hash`)
    /// and returns once it is durable. `seq`, `prev_hash` and the
    /// `checkpoint` event type are reserved. A `receipt` object field is
    /// indexed by its `receipt_id`.
    pub fn append(&self, fields: Map) -> Result<Appended, LedgerError> {
        self.inner.append(fields)
    }

    /// Appends a signed checkpoint if anything was recorded since the last
    /// one, waits for it to be durable and rewrites head.json before
    /// returning. Call it at clean shutdown.
    pub fn checkpoint(&self) -> Result<(), LedgerError> {
        self.inner.checkpoint()
    }

    /// The stored receipt with this id, read back from events.jsonl.
    ///
    /// Fails closed: an unknown id, a read or parse error, or a line whose
    /// receipt does not carry this id gives `None` (the caller answers 404).
    /// A receipt is found once its append has returned (it is durable).
    pub fn receipt(&self, receipt_id: &str) -> Option<Value> {
        let loc = *self.inner.index.lock().ok()?.get(receipt_id)?;
        self.inner.read_receipt(receipt_id, loc)
    }

    /// Receipts in the index.
    #[cfg(test)]
    pub(crate) fn indexed_receipts(&self) -> usize {
        self.inner.index.lock().map_or(0, |i| i.len())
    }

    /// Builds and signs a receipt with the ledger's key (which keys.json
    /// holds, so offline verification can check it).
    pub fn sign_receipt(&self, parts: ReceiptParts) -> Result<Value, LedgerError> {
        receipt::sign(parts, &self.inner.signer)
    }

    /// `signature_status` of a receipt against the ledger's key ring.
    pub fn verify_receipt(&self, receipt: &Value) -> SignatureStatus {
        receipt::verify_receipt(receipt, &self.inner.keys)
    }

    /// All public keys the ledger trusts (keys.json).
    pub fn keyring(&self) -> &KeyRing {
        &self.inner.keys
    }

    /// The signing key (checkpoints, heads, receipts).
    pub fn signer(&self) -> &Arc<SigningKey> {
        &self.inner.signer
    }

    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Matching records, newest first (reads events.jsonl).
    pub fn query(&self, filter: &EventFilter) -> Result<Vec<Value>, LedgerError> {
        query::query_events(&self.inner.dir, filter)
    }

    /// Counters: appends, fsync batches, durable head.
    pub fn stats(&self) -> LedgerStats {
        let durable_seq = match self.inner.state.lock() {
            Ok(st) => st.durable.as_ref().map_or(0, |d| d.0),
            Err(_) => 0,
        };
        LedgerStats {
            appends: self.inner.appends.load(Ordering::Relaxed),
            syncs: self.inner.syncs.load(Ordering::Relaxed),
            durable_seq,
        }
    }

    /// What startup recovery found.
    pub fn recovery(&self) -> Recovery {
        self.inner.recovery
    }

    /// False once a storage error has disabled appends (readiness).
    pub fn healthy(&self) -> bool {
        self.poisoned().is_none()
    }

    /// The storage error that disabled the ledger, if any.
    pub fn poisoned(&self) -> Option<String> {
        self.inner
            .state
            .lock()
            .ok()
            .and_then(|st| st.poisoned.clone())
    }

    /// Makes the next flush fail at `at` (tests only).
    #[cfg(test)]
    pub(crate) fn inject_failure(&self, at: FailAt) {
        if let Ok(mut f) = self.inner.fail_at.lock() {
            *f = at;
        }
    }
}

impl Drop for Ledger {
    /// Lets the background thread write the last head and exit, so the
    /// file lock is released when this returns.
    fn drop(&mut self) {
        let _ = self.inner.bg_tx.send(BgMsg::Stop);
        if let Some(bg) = self.bg.take() {
            let _ = bg.join();
        }
    }
}

impl Inner {
    fn lock(&self) -> Result<MutexGuard<'_, State>, LedgerError> {
        self.state
            .lock()
            .map_err(|_| LedgerError::Poisoned("ledger lock poisoned".into()))
    }

    fn append(&self, fields: Map) -> Result<Appended, LedgerError> {
        for reserved in ["seq", "prev_hash"] {
            if fields.contains_key(reserved) {
                return Err(LedgerError::Invalid(format!(
                    "field {reserved} is set by the ledger"
                )));
            }
        }
        if fields.get("event_type").and_then(Value::as_str) == Some(chain::CHECKPOINT_TYPE) {
            return Err(LedgerError::Invalid(
                "event_type checkpoint is reserved".into(),
            ));
        }
        let receipt = match fields.get("receipt") {
            None => None,
            Some(r) => {
                // Only a receipt signed by this ledger's key may go in. The
                // full signature check (an Ed25519 verify per call, ~6% of
                // the gate's CPU under load) is left to `latchgate verify`
                // and the tests; the key id check catches a wrong signer.
                let kid = r.get("signing_key_id").and_then(Value::as_str);
                if kid != Some(self.signer.key_id().as_str()) {
                    return Err(LedgerError::Invalid(
                        "receipt is not signed with the ledger's key".into(),
                    ));
                }
                receipt_id(r).map(Box::<str>::from)
            }
        };
        // Build the record outside the lock; seq/prev_hash are filled in under it.
        let mut record = Map::new();
        record.insert("seq", 0u64);
        record.insert("prev_hash", Value::Null);
        for (k, v) in fields.iter() {
            record.insert(k.as_str(), v.clone());
        }
        let mut record = Value::Object(record);
        if chain::depth(&record, MAX_DEPTH) > MAX_DEPTH {
            return Err(LedgerError::Invalid(format!(
                "record nests deeper than {MAX_DEPTH}"
            )));
        }

        let mut st = self.lock()?;
        if let Some(why) = &st.poisoned {
            return Err(LedgerError::Poisoned(why.clone()));
        }
        if st.since_checkpoint >= CHECKPOINT_EVERY {
            self.push_checkpoint(&mut st)?;
        }
        if let Some(m) = record.as_object_mut() {
            m.insert("seq", st.next_seq);
            m.insert("prev_hash", st.last_hash.clone());
        }
        let (appended, loc) = self.push_record(&mut st, &record)?;
        st.since_checkpoint += 1;
        if st.since_checkpoint >= CHECKPOINT_EVERY {
            if let Err(e) = self.push_checkpoint(&mut st) {
                // The record is queued but cannot be acknowledged: stop here.
                st.poisoned = Some(e.to_string());
                return Err(e);
            }
        }
        drop(self.wait_durable(st, appended.seq)?);

        self.appends.fetch_add(1, Ordering::Relaxed);
        if let Some(id) = receipt {
            if let Ok(mut index) = self.index.lock() {
                index.insert(id, loc);
            }
        }
        Ok(appended)
    }

    /// Reads the line at `loc` and returns its receipt if it is `id`'s.
    fn read_receipt(&self, id: &str, loc: Loc) -> Option<Value> {
        let mut buf = vec![0u8; usize::try_from(loc.len).ok()?];
        self.file.read_exact_at(&mut buf, loc.offset).ok()?;
        let mut record = json::parse(&buf).ok()?;
        let receipt = record.as_object_mut()?.remove("receipt")?;
        (receipt_id(&receipt) == Some(id)).then_some(receipt)
    }

    /// Serializes `record` (seq/prev_hash already set) into the queue;
    /// returns where it landed in the chain and in the file.
    fn push_record(&self, st: &mut State, record: &Value) -> Result<(Appended, Loc), LedgerError> {
        let line = record.to_json();
        if line.len() > MAX_RECORD_BYTES {
            return Err(LedgerError::Invalid(format!(
                "record is larger than {MAX_RECORD_BYTES} bytes"
            )));
        }
        if line.contains('\n') {
            return Err(LedgerError::Invalid(
                "record serialized with a raw newline".into(),
            ));
        }
        let hash = record_hash(record)?;
        let seq = st.next_seq;
        // Checked above: a line is at most MAX_RECORD_BYTES (< 4 GiB).
        let len = u32::try_from(line.len())
            .map_err(|_| LedgerError::Invalid("record is too large".into()))?;
        let loc = Loc {
            offset: st.next_offset,
            len,
        };
        st.pending.extend_from_slice(line.as_bytes());
        st.pending.push(b'\n');
        st.next_offset += u64::from(len) + 1;
        st.next_seq += 1;
        st.last_hash = Some(hash.clone());
        st.pending_last = Some((seq, hash.clone()));
        Ok((Appended { seq, hash }, loc))
    }

    /// Queues a signed checkpoint covering the last assigned record.
    fn push_checkpoint(&self, st: &mut State) -> Result<(), LedgerError> {
        let Some(head_hash) = st.last_hash.clone() else {
            return Ok(()); // nothing to cover yet
        };
        let covers = st.next_seq - 1;
        let mut m = Map::new();
        m.insert("seq", st.next_seq);
        m.insert("prev_hash", head_hash.as_str());
        for (k, v) in chain::checkpoint_fields(covers, &head_hash, &self.signer).iter() {
            m.insert(k.as_str(), v.clone());
        }
        self.push_record(st, &Value::Object(m))?;
        st.since_checkpoint = 0;
        Ok(())
    }

    /// Waits until record `seq` is durable, leading a flush when none runs.
    fn wait_durable<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        seq: u64,
    ) -> Result<MutexGuard<'a, State>, LedgerError> {
        loop {
            if st.durable.as_ref().is_some_and(|d| d.0 >= seq) {
                return Ok(st);
            }
            if let Some(why) = &st.poisoned {
                return Err(LedgerError::Poisoned(why.clone()));
            }
            if st.flushing {
                st = self
                    .durable_cv
                    .wait(st)
                    .map_err(|_| LedgerError::Poisoned("ledger lock poisoned".into()))?;
                continue;
            }
            // Become the leader for everything queued so far.
            let Some(last) = st.pending_last.take() else {
                st.poisoned = Some(format!("record {seq} was lost before its flush"));
                continue;
            };
            let batch = std::mem::take(&mut st.pending);
            st.flushing = true;
            drop(st);
            let result = self.write_batch(&batch);
            st = self.lock()?;
            st.flushing = false;
            self.durable_cv.notify_all();
            match result {
                Ok(()) => {
                    st.durable = Some(last);
                    // One wake per head write, not one per batch: a wake is a
                    // futex call here and a context switch there, per call.
                    if !self.head_wake_sent.swap(true, Ordering::SeqCst) {
                        let _ = self.bg_tx.send(BgMsg::HeadDue);
                    }
                }
                Err(e) => {
                    // The leader reports the I/O error itself; everyone
                    // waiting on this batch, and every later append, gets
                    // Poisoned.
                    st.poisoned = Some(e.to_string());
                    return Err(e);
                }
            }
        }
    }

    /// Writes and fdatasyncs one batch of lines.
    fn write_batch(&self, batch: &[u8]) -> Result<(), LedgerError> {
        #[cfg(test)]
        {
            let at = self.fail_at.lock().map(|f| *f).unwrap_or(FailAt::Nothing);
            if at == FailAt::Write {
                return Err(LedgerError::io(
                    &self.path,
                    "write",
                    std::io::Error::other("injected"),
                ));
            }
            if at == FailAt::Sync {
                (&self.file)
                    .write_all(batch)
                    .map_err(|e| LedgerError::io(&self.path, "write", e))?;
                return Err(LedgerError::io(
                    &self.path,
                    "fdatasync",
                    std::io::Error::other("injected"),
                ));
            }
        }
        (&self.file)
            .write_all(batch)
            .map_err(|e| LedgerError::io(&self.path, "write", e))?;
        self.file
            .sync_data()
            .map_err(|e| LedgerError::io(&self.path, "fdatasync", e))?;
        self.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn checkpoint(&self) -> Result<(), LedgerError> {
        let mut st = self.lock()?;
        if let Some(why) = &st.poisoned {
            return Err(LedgerError::Poisoned(why.clone()));
        }
        if st.next_seq == 1 {
            return Ok(()); // empty ledger: nothing to anchor
        }
        if st.since_checkpoint > 0 {
            self.push_checkpoint(&mut st)?;
        }
        let last = st.next_seq - 1;
        st = self.wait_durable(st, last)?;
        let durable = st.durable.clone();
        drop(st);
        match durable {
            Some((seq, hash)) => self.write_head(seq, &hash),
            None => Ok(()),
        }
    }

    /// Timer tick: checkpoint when there was activity since the last one.
    pub(crate) fn tick(&self) -> Result<(), LedgerError> {
        let active = self.lock()?.since_checkpoint > 0;
        if active {
            self.checkpoint()
        } else {
            Ok(())
        }
    }

    /// Writes head.json for the newest durable record (the background
    /// thread, after a `HeadDue`): clears the wake flag first, so a batch
    /// made durable after the read below wakes the thread again.
    pub(crate) fn write_head_for_latest(&self) -> Result<(), LedgerError> {
        self.head_wake_sent.store(false, Ordering::SeqCst);
        let latest = self.lock()?.durable.clone();
        match latest {
            Some((seq, hash)) => self.write_head(seq, &hash),
            None => Ok(()),
        }
    }

    /// Signs and writes head.json for durable record `seq`, unless a newer
    /// head is already written. A failure poisons the ledger.
    pub(crate) fn write_head(&self, seq: u64, hash: &str) -> Result<(), LedgerError> {
        let mut written = self
            .head_written
            .lock()
            .map_err(|_| LedgerError::Poisoned("head lock poisoned".into()))?;
        if seq <= *written {
            return Ok(());
        }
        match Head::sign(seq, hash, &self.signer).write(&self.dir) {
            Ok(()) => {
                *written = seq;
                Ok(())
            }
            Err(e) => {
                if let Ok(mut st) = self.state.lock() {
                    st.poisoned = Some(e.to_string());
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::receipt::tests::parts;
    use crate::evidence::testutil::{event, key, read_lines, write_lines, TempDir};
    use crate::evidence::verify::verify_ledger;
    use crate::json;

    /// Opens with a timer too slow to add checkpoints during a test.
    fn open(dir: &Path) -> Ledger {
        Ledger::open_with_tick(dir, key(1), Duration::from_secs(3600)).unwrap()
    }

    fn record(dir: &Path, seq: usize) -> Value {
        json::parse(read_lines(dir)[seq - 1].as_bytes()).unwrap()
    }

    #[test]
    fn append_reopen_and_the_chain_continues() {
        let t = TempDir::new("ledger-reopen");
        let dir = t.path();
        let first;
        {
            let l = open(dir);
            first = l.append(event(1)).unwrap();
            assert_eq!(first.seq, 1);
            let mut with_receipt = event(2);
            let mut p = parts();
            p.receipt_id = "r-2".into();
            with_receipt.insert("receipt", l.sign_receipt(p).unwrap());
            let second = l.append(with_receipt).unwrap();
            assert_eq!(second.seq, 2);
            assert!(l.receipt("r-2").is_some());
            assert_eq!(
                l.verify_receipt(&l.receipt("r-2").unwrap()),
                SignatureStatus::Valid
            );
            assert!(l.receipt("r-x").is_none());
        }
        assert!(record(dir, 1).get("prev_hash").unwrap().is_null());
        assert_eq!(
            record(dir, 2).get("prev_hash").unwrap().as_str(),
            Some(first.hash.as_str())
        );
        let l = open(dir);
        assert_eq!(
            l.recovery(),
            Recovery {
                records: 2,
                torn_bytes: 0
            }
        );
        // The receipt index is rebuilt from the file.
        assert_eq!(
            l.receipt("r-2").unwrap().get("grant_id").unwrap().as_str(),
            Some("grant-1")
        );
        let third = l.append(event(3)).unwrap();
        assert_eq!(third.seq, 3);
        let stored2 = record(dir, 2);
        assert_eq!(
            record(dir, 3).get("prev_hash").unwrap().as_str(),
            Some(chain::record_hash(&stored2).unwrap().as_str())
        );
        assert_eq!(third.hash, chain::record_hash(&record(dir, 3)).unwrap());
        l.checkpoint().unwrap();
        drop(l);
        let report = verify_ledger(dir).unwrap();
        assert!(report.intact, "{report:?}");
        assert_eq!(report.total_events, 4);
        assert_eq!(report.receipts_verified, 1);
        assert_eq!(report.checkpoints_verified, 1);
    }

    /// An event carrying a receipt with id `id`, signed by `l`.
    fn with_receipt(l: &Ledger, i: u64, id: &str) -> (Map, Value) {
        let mut p = parts();
        p.receipt_id = id.into();
        p.grant_id = format!("grant-{i}");
        let r = l.sign_receipt(p).unwrap();
        let mut m = event(i);
        m.insert("receipt", r.clone());
        (m, r)
    }

    /// Overwrites bytes of events.jsonl at `offset` behind the ledger's back.
    fn overwrite(dir: &Path, offset: u64, bytes: &[u8]) {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join(EVENTS_FILE))
            .unwrap();
        f.write_all_at(bytes, offset).unwrap();
    }

    #[test]
    fn receipt_is_read_back_from_the_file_after_append_and_reopen() {
        let t = TempDir::new("ledger-receipt-reopen");
        let dir = t.path();
        let (m, signed) = {
            let l = open(dir);
            l.append(event(1)).unwrap();
            let (m, signed) = with_receipt(&l, 2, "r-a");
            l.append(m.clone()).unwrap();
            // Found right after the append returns, exactly as signed.
            assert_eq!(l.receipt("r-a"), Some(signed.clone()));
            assert_eq!(l.indexed_receipts(), 1);
            (m, signed)
        };
        // A torn tail is cut at open: offsets of later records must still
        // be right.
        let path = dir.join(EVENTS_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(br#"{"seq":3,"prev_h"#);
        std::fs::write(&path, bytes).unwrap();
        let l = open(dir);
        assert!(l.recovery().torn_bytes > 0);
        assert_eq!(l.receipt("r-a"), Some(signed.clone()));
        let (m2, signed2) = with_receipt(&l, 3, "r-b");
        l.append(m2).unwrap();
        assert_eq!(l.receipt("r-b"), Some(signed2.clone()));
        assert_eq!(l.receipt("r-a"), Some(signed));
        assert_eq!(l.indexed_receipts(), 2);
        // A receipt id seen twice: the later record wins, as before.
        let mut again = m;
        again.insert("trace_id", "again");
        l.append(again).unwrap();
        assert_eq!(l.indexed_receipts(), 2);
        drop(l);
        assert!(verify_ledger(dir).unwrap().intact);
    }

    #[test]
    fn receipts_are_found_after_many_concurrent_appends_and_checkpoints() {
        let t = TempDir::new("ledger-receipt-many");
        let l = Arc::new(open(t.path()));
        let threads: Vec<_> = (0..8u64)
            .map(|n| {
                let l = Arc::clone(&l);
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    for i in 0..300u64 {
                        let k = n * 1000 + i;
                        if i % 3 == 0 {
                            l.append(event(k)).unwrap();
                            continue;
                        }
                        let id = format!("r-{k}");
                        let (m, signed) = with_receipt(&l, k, &id);
                        l.append(m).unwrap();
                        assert_eq!(l.receipt(&id).as_ref(), Some(&signed));
                        mine.push((id, signed));
                    }
                    mine
                })
            })
            .collect();
        let all: Vec<(String, Value)> = threads
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        assert_eq!(all.len(), 1600);
        assert_eq!(l.indexed_receipts(), 1600);
        // 2400 records: checkpoints were interleaved at 1001 and 2002.
        assert!(read_lines(t.path())
            .iter()
            .any(|x| x.contains(r#""event_type":"checkpoint""#)));
        for (id, signed) in &all {
            assert_eq!(l.receipt(id).as_ref(), Some(signed), "{id}");
        }
        drop(l);
        let l = open(t.path());
        assert_eq!(l.indexed_receipts(), 1600);
        for (id, signed) in &all {
            assert_eq!(l.receipt(id).as_ref(), Some(signed), "{id}");
        }
    }

    #[test]
    fn unknown_or_unreadable_receipts_are_none() {
        let t = TempDir::new("ledger-receipt-bad");
        let dir = t.path();
        let l = open(dir);
        assert!(l.receipt("nope").is_none());
        assert!(l.receipt("").is_none());
        let (m, signed) = with_receipt(&l, 1, "r-1");
        l.append(m).unwrap();
        let (m, _) = with_receipt(&l, 2, "r-2");
        l.append(m).unwrap();
        let (m, signed3) = with_receipt(&l, 3, "r-3");
        l.append(m).unwrap();
        assert_eq!(l.receipt("r-1"), Some(signed));
        let lines = read_lines(dir);
        let start = |n: usize| -> u64 { lines[..n].iter().map(|x| x.len() as u64 + 1).sum() };

        // Line 1: its receipt id edited in place (same length): it is no
        // longer r-1's record, so r-1 is not served from it.
        let at = lines[0].find("\"r-1\"").unwrap() as u64;
        overwrite(dir, at, b"\"r-9\"");
        assert!(l.receipt("r-1").is_none());
        assert!(l.receipt("r-9").is_none());

        // Line 2: garbage that is not JSON.
        overwrite(dir, start(1), b"#####");
        assert!(l.receipt("r-2").is_none());

        // Line 3 still reads; then the file is cut short under it.
        assert_eq!(l.receipt("r-3"), Some(signed3));
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join(EVENTS_FILE))
            .unwrap();
        f.set_len(start(2) + 10).unwrap();
        assert!(l.receipt("r-3").is_none());
    }

    #[test]
    fn concurrent_appends_are_contiguous_and_group_committed() {
        let t = TempDir::new("ledger-concurrent");
        let l = Arc::new(open(t.path()));
        let threads: Vec<_> = (0..16)
            .map(|n| {
                let l = Arc::clone(&l);
                std::thread::spawn(move || {
                    (0..40)
                        .map(|i| l.append(event(n * 1000 + i)).unwrap().seq)
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        let mut seqs: Vec<u64> = threads
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=640).collect::<Vec<u64>>());
        let stats = l.stats();
        assert_eq!(stats.appends, 640);
        assert_eq!(stats.durable_seq, 640);
        assert!(stats.syncs < stats.appends, "no batching: {stats:?}");
        l.checkpoint().unwrap();
        drop(l);
        let report = verify_ledger(t.path()).unwrap();
        assert!(report.intact, "{report:?}");
        assert_eq!(report.total_events, 641);
    }

    #[test]
    fn torn_last_line_is_cut_on_open() {
        let t = TempDir::new("ledger-torn");
        drop({
            let l = open(t.path());
            l.append(event(1)).unwrap();
            l.append(event(2)).unwrap();
            l
        });
        let path = t.path().join(EVENTS_FILE);
        let before = std::fs::read(&path).unwrap();
        let mut torn = before.clone();
        torn.extend_from_slice(br#"{"seq":3,"prev_hash":"sha256:00","trace"#);
        std::fs::write(&path, &torn).unwrap();
        let l = open(t.path());
        assert_eq!(l.recovery().records, 2);
        assert!(l.recovery().torn_bytes > 0);
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(l.append(event(3)).unwrap().seq, 3);
        drop(l);
        assert!(verify_ledger(t.path()).unwrap().intact);
    }

    #[test]
    fn broken_chain_or_missing_tail_refuses_to_open() {
        let t = TempDir::new("ledger-corrupt");
        drop({
            let l = open(t.path());
            for i in 1..=4 {
                l.append(event(i)).unwrap();
            }
            l
        });
        let good = read_lines(t.path());
        let mut edited = good.clone();
        edited[1] = edited[1].replace("agent:alice", "agent:mallory");
        write_lines(t.path(), &edited);
        let err = Ledger::open(t.path(), key(1)).err().unwrap();
        assert!(matches!(err, LedgerError::Corrupt { line: 3, .. }), "{err}");
        assert!(err.to_string().contains("latchgate verify"), "{err}");

        // Tail removed: head.json (seq 4) is no longer in the file.
        write_lines(t.path(), &good[..3]);
        let err = Ledger::open(t.path(), key(1)).err().unwrap();
        assert!(err.to_string().contains("truncated"), "{err}");

        // Complete garbage line in the middle.
        let mut garbage = good.clone();
        garbage[2] = "not json".into();
        write_lines(t.path(), &garbage);
        assert!(matches!(
            Ledger::open(t.path(), key(1)),
            Err(LedgerError::Corrupt { line: 3, .. })
        ));

        write_lines(t.path(), &good);
        assert!(Ledger::open(t.path(), key(1)).is_ok());
    }

    #[test]
    fn write_error_poisons_for_good() {
        let t = TempDir::new("ledger-poison-write");
        let l = open(t.path());
        l.append(event(1)).unwrap();
        let size = std::fs::metadata(t.path().join(EVENTS_FILE)).unwrap().len();
        l.inject_failure(FailAt::Write);
        assert!(matches!(l.append(event(2)), Err(LedgerError::Io { .. })));
        l.inject_failure(FailAt::Nothing);
        assert!(matches!(l.append(event(3)), Err(LedgerError::Poisoned(_))));
        assert!(matches!(l.checkpoint(), Err(LedgerError::Poisoned(_))));
        assert!(!l.healthy());
        assert!(l.poisoned().unwrap().contains("write"));
        assert_eq!(
            std::fs::metadata(t.path().join(EVENTS_FILE)).unwrap().len(),
            size
        );
    }

    #[test]
    fn fsync_error_poisons_and_is_never_retried() {
        let t = TempDir::new("ledger-poison-sync");
        {
            let l = open(t.path());
            l.append(event(1)).unwrap();
            let syncs = l.stats().syncs;
            l.inject_failure(FailAt::Sync);
            let err = l.append(event(2)).err().unwrap();
            assert!(err.to_string().contains("fdatasync"), "{err}");
            l.inject_failure(FailAt::Nothing);
            assert!(matches!(l.append(event(3)), Err(LedgerError::Poisoned(_))));
            assert_eq!(l.stats().syncs, syncs);
            assert_eq!(l.stats().durable_seq, 1);
        }
        // The unacknowledged line did reach the file; a restart keeps the
        // chain consistent and continues after it.
        let l = open(t.path());
        assert_eq!(l.recovery().records, 2);
        assert_eq!(l.append(event(4)).unwrap().seq, 3);
        drop(l);
        assert!(verify_ledger(t.path()).unwrap().intact);
    }

    #[test]
    fn checkpoints_every_thousand_records() {
        let t = TempDir::new("ledger-every");
        let l = Arc::new(open(t.path()));
        let threads: Vec<_> = (0..8)
            .map(|n| {
                let l = Arc::clone(&l);
                std::thread::spawn(move || {
                    for i in 0..260 {
                        l.append(event(n * 1000 + i)).unwrap();
                    }
                })
            })
            .collect();
        for h in threads {
            h.join().unwrap();
        }
        drop(l);
        let lines = read_lines(t.path());
        let cps: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.contains(r#""event_type":"checkpoint""#))
            .map(|(i, _)| i + 1)
            .collect();
        // 2080 records: checkpoints land right after records 1000 and 2000.
        assert_eq!(cps[..2], [1001, 2002]);
        let report = verify_ledger(t.path()).unwrap();
        assert!(report.intact, "{report:?}");
        assert!(report.checkpoints_verified >= 2);
    }

    #[test]
    fn timer_and_shutdown_checkpoints_anchor_the_head() {
        let t = TempDir::new("ledger-timer");
        let l = Ledger::open_with_tick(t.path(), key(1), Duration::from_millis(50)).unwrap();
        l.append(event(1)).unwrap();
        let mut found = false;
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(20));
            let head = Head::read(t.path()).unwrap().and_then(Result::ok);
            if read_lines(t.path()).len() == 2 && head.is_some_and(|h| h.seq == 2) {
                found = true;
                break;
            }
        }
        assert!(found, "no timer checkpoint");
        assert!(chain::is_checkpoint(&record(t.path(), 2)));
        // No activity since: the timer and checkpoint() add nothing.
        std::thread::sleep(Duration::from_millis(150));
        l.checkpoint().unwrap();
        assert_eq!(read_lines(t.path()).len(), 2);
        l.append(event(3)).unwrap();
        l.checkpoint().unwrap();
        let head = Head::read(t.path()).unwrap().unwrap().unwrap();
        assert_eq!(head.seq, 4);
        assert!(chain::is_checkpoint(&record(t.path(), 4)));
    }

    #[test]
    fn the_head_follows_the_newest_durable_record_with_one_wake_per_write() {
        // The background thread is woken once per head write, not once per
        // batch, and writes the newest durable record when it is due: a burst
        // of appends ends with a head at the last one, and an append after
        // that write (the wake flag cleared) is anchored too.
        let t = TempDir::new("ledger-head-latest");
        let l = open(t.path());
        let head_seq = || {
            Head::read(t.path())
                .unwrap()
                .and_then(Result::ok)
                .map(|h| h.seq)
        };
        let wait_for = |want: u64| {
            for _ in 0..100 {
                if head_seq() == Some(want) {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        };
        for i in 1..=30 {
            l.append(event(i)).unwrap();
        }
        assert!(wait_for(30), "head at {:?}, not 30", head_seq());
        std::thread::sleep(background::HEAD_MIN_INTERVAL);
        l.append(event(31)).unwrap();
        assert!(wait_for(31), "head at {:?}, not 31", head_seq());
    }

    #[test]
    fn refuses_reserved_oversized_and_too_deep_records_without_poisoning() {
        let t = TempDir::new("ledger-invalid");
        let l = open(t.path());
        let mut m = event(1);
        m.insert("seq", 9);
        assert!(matches!(l.append(m), Err(LedgerError::Invalid(_))));
        let mut m = event(1);
        m.insert("prev_hash", Value::Null);
        assert!(matches!(l.append(m), Err(LedgerError::Invalid(_))));
        let mut m = event(1);
        m.insert("event_type", "checkpoint");
        assert!(matches!(l.append(m), Err(LedgerError::Invalid(_))));
        let mut m = event(1);
        m.insert("blob", "x".repeat(MAX_RECORD_BYTES));
        assert!(matches!(l.append(m), Err(LedgerError::Invalid(_))));
        let mut deep = Value::Null;
        for _ in 0..70 {
            deep = Value::Array(vec![deep]);
        }
        let mut m = event(1);
        m.insert("deep", deep);
        assert!(matches!(l.append(m), Err(LedgerError::Invalid(_))));
        assert!(l.healthy());
        assert_eq!(l.append(event(1)).unwrap().seq, 1);
    }

    #[test]
    fn refuses_foreign_receipts_and_verify_catches_edited_ones() {
        let t = TempDir::new("ledger-bad-receipt");
        let l = open(t.path());
        let foreign = receipt::sign(parts(), &key(5)).unwrap();
        let mut m = event(1);
        m.insert("receipt", foreign);
        let err = l.append(m).err().unwrap();
        assert!(
            err.to_string().contains("not signed with the ledger's key"),
            "{err}"
        );
        assert!(l.receipt("rcpt-1").is_none());
        assert!(l.healthy());
        assert!(read_lines(t.path()).is_empty());
        // A receipt edited after signing is not re-verified on the hot path;
        // the offline verifier catches it.
        let mut edited = l.sign_receipt(parts()).unwrap();
        edited.as_object_mut().unwrap().insert("grant_id", "other");
        let mut m = event(1);
        m.insert("receipt", edited);
        l.append(m).unwrap();
        l.checkpoint().unwrap();
        let report = crate::evidence::verify_ledger(t.path()).unwrap();
        assert!(!report.intact);
        assert!(report.broken_at.unwrap().reason.contains("receipt"));
    }

    #[test]
    fn second_opener_is_locked_out_and_dir_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let t = TempDir::new("ledger-lock");
        let dir = t.path().join("ledger");
        let l = open(&dir);
        assert!(matches!(
            Ledger::open(&dir, key(1)),
            Err(LedgerError::Locked(_))
        ));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(EVENTS_FILE)), 0o600);
        assert_eq!(mode(&dir.join(KEYS_FILE)), 0o600);
        drop(l);
        assert!(Ledger::open(&dir, key(1)).is_ok());
    }

    #[test]
    fn key_rotation_keeps_old_keys_and_old_receipts_valid() {
        let t = TempDir::new("ledger-rotate");
        let old_receipt;
        {
            let l = open(t.path());
            old_receipt = l.sign_receipt(parts()).unwrap();
            let mut m = event(1);
            m.insert("receipt", old_receipt.clone());
            l.append(m).unwrap();
        }
        let l = Ledger::open(t.path(), key(2)).unwrap();
        assert_eq!(l.keyring().entries().len(), 2);
        assert_eq!(l.verify_receipt(&old_receipt), SignatureStatus::Valid);
        l.append(event(2)).unwrap();
        l.checkpoint().unwrap();
        drop(l);
        assert!(verify_ledger(t.path()).unwrap().intact);
    }

    #[test]
    fn empty_ledger_checkpoint_is_a_no_op() {
        let t = TempDir::new("ledger-empty");
        let l = open(t.path());
        l.checkpoint().unwrap();
        assert_eq!(l.stats().durable_seq, 0);
        drop(l);
        assert!(read_lines(t.path()).is_empty());
        let report = verify_ledger(t.path()).unwrap();
        assert!(report.intact && report.total_events == 0, "{report:?}");
    }
}
