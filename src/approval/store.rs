//! The approval store: held plans and their state, kept in memory and in
//! the durable record log. Every transition is checked, written and
//! fdatasync'ed under one mutex, so transitions are serialised and a claim
//! is won by exactly one caller.

use super::log::{decode_line, encode_line, split_lines, LogFile, Record};
use super::plan::Plan;
use crate::json::{Map, Value};
use crate::time::{rfc3339_millis, unix_now_millis};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// `error_code` of an approval that was running when the gate stopped.
pub const INTERRUPTED_CODE: &str = "interrupted";

/// `reason` of an approval that was running when the gate stopped.
pub const INTERRUPTED_REASON: &str = "the gate stopped while this approved call was running; \
     it was not re-run (see `latchgate status` for its intent)";

/// Terminal approvals completed longer ago than this may be compacted away
/// (from the log at open, from memory while the gate runs).
pub const RETAIN_MS: i64 = 7 * 24 * 3600 * 1000;

/// How often `create` looks for approvals to forget from memory.
const FORGET_EVERY_MS: i64 = 60_000;

/// Where an approval stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Waiting for an operator.
    Pending,
    /// An operator approved it and its run is in progress.
    Claimed,
    /// Approved and run (whatever the run's own outcome).
    Approved,
    /// Denied by an operator.
    Denied,
    /// Approved but could not be run, or the gate stopped while it ran.
    Failed,
    /// Nobody decided before it expired.
    Expired,
}

impl Status {
    /// The wire name (`pending`, `claimed`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Claimed => "claimed",
            Status::Approved => "approved",
            Status::Denied => "denied",
            Status::Failed => "failed",
            Status::Expired => "expired",
        }
    }

    /// The status named `s` (wire names only).
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "pending" => Some(Status::Pending),
            "claimed" => Some(Status::Claimed),
            "approved" => Some(Status::Approved),
            "denied" => Some(Status::Denied),
            "failed" => Some(Status::Failed),
            "expired" => Some(Status::Expired),
            _ => None,
        }
    }

    /// True once nothing can change it any more.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Status::Pending | Status::Claimed)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A held plan and where it stands.
#[derive(Clone, Debug, PartialEq)]
pub struct Approval {
    /// What was held.
    pub plan: Plan,
    /// Its state. `get`/`list` report a pending approval at or past its
    /// expiry as `Expired` even before the expiry is written.
    pub status: Status,
    /// Who claimed it (to approve).
    pub claimed_by: Option<String>,
    /// When it was claimed (Unix ms).
    pub claimed_at_ms: Option<i64>,
    /// When it became terminal (Unix ms), once written.
    pub completed_at_ms: Option<i64>,
    /// Who approved or denied it.
    pub decided_by: Option<String>,
    /// Receipt of the approved run, if it produced one.
    pub receipt_id: Option<String>,
    /// Trace id of the approved run.
    pub exec_trace_id: Option<String>,
    /// Deny reason or failure reason.
    pub reason: Option<String>,
    /// Failure code.
    pub error_code: Option<String>,
}

impl Approval {
    /// A fresh pending approval of `plan`.
    fn pending(plan: Plan) -> Approval {
        Approval {
            plan,
            status: Status::Pending,
            claimed_by: None,
            claimed_at_ms: None,
            completed_at_ms: None,
            decided_by: None,
            receipt_id: None,
            exec_trace_id: None,
            reason: None,
            error_code: None,
        }
    }

    /// The list shape (anchor-api.md §1.6): `approval_id, status,
    /// action_id, action_version, principal, session_id, owner?,
    /// risk_level, request_hash, created_at, expires_at, claimed_by?`
    /// (times RFC 3339 with milliseconds).
    pub fn summary_json(&self) -> Value {
        Value::Object(self.summary_map())
    }

    /// The summary plus everything an operator needs to decide and audit:
    /// policy, timestamps, decision, outcome, digests and the input itself.
    /// Absent values are `null`; `deny_reason` appears only when denied.
    pub fn detail_json(&self) -> Value {
        let p = &self.plan;
        let mut m = self.summary_map();
        m.insert("policy_version", p.policy_version.as_str());
        m.insert("policy_rule", p.policy_rule.as_str());
        m.insert("policy_reason", p.policy_reason.as_str());
        m.insert("claimed_at", self.claimed_at_ms.map(rfc3339_millis));
        m.insert("completed_at", self.completed_at_ms.map(rfc3339_millis));
        m.insert("decided_by", self.decided_by.clone());
        m.insert("receipt_id", self.receipt_id.clone());
        if self.status == Status::Denied {
            m.insert("deny_reason", self.reason.clone());
        }
        m.insert("error_code", self.error_code.clone());
        m.insert("reason", self.reason.clone());
        m.insert("plan_hash", p.plan_hash());
        let domains: Vec<Value> = p.approved_domains.iter().map(Value::from).collect();
        m.insert("approved_domains", domains);
        let paths: Vec<Value> = p.approved_paths.iter().map(Value::from).collect();
        m.insert("approved_paths", paths);
        m.insert("fs_root", p.fs_root.clone());
        m.insert("action_digest", p.action_digest.as_str());
        m.insert("provider_module_digest", p.provider_module_digest.as_str());
        m.insert("input", p.input.clone());
        Value::Object(m)
    }

    fn summary_map(&self) -> Map {
        let p = &self.plan;
        let mut m = Map::with_capacity(32);
        m.insert("approval_id", p.approval_id.as_str());
        m.insert("status", self.status.as_str());
        m.insert("action_id", p.action_id.as_str());
        m.insert("action_version", p.action_version.as_str());
        m.insert("principal", p.principal.as_str());
        m.insert("session_id", p.session_id.as_str());
        if let Some(owner) = &p.owner {
            m.insert("owner", owner.as_str());
        }
        m.insert("risk_level", p.risk_level.as_str());
        m.insert("request_hash", p.request_hash.as_str());
        m.insert("created_at", rfc3339_millis(p.created_at_ms));
        m.insert("expires_at", rfc3339_millis(p.expires_at_ms));
        if let Some(by) = &self.claimed_by {
            m.insert("claimed_by", by.as_str());
        }
        m
    }

    /// Its status as seen at `now_ms` (pending at or past expiry = expired).
    fn status_at(&self, now_ms: i64) -> Status {
        if self.status == Status::Pending && now_ms >= self.plan.expires_at_ms {
            Status::Expired
        } else {
            self.status
        }
    }

    /// A copy as seen at `now_ms`.
    fn seen_at(&self, now_ms: i64) -> Approval {
        let mut a = self.clone();
        a.status = self.status_at(now_ms);
        a
    }
}

/// Why the store could not do something.
#[derive(Debug)]
pub enum StoreError {
    /// Reading or writing the store failed (the text names file and step).
    /// Nothing was changed.
    Io(String),
    /// Too many approvals are waiting for a decision.
    Full,
    /// No approval has this id.
    NotFound,
    /// The log is damaged (file and line named), or the caller asked for
    /// something the state machine does not allow (a duplicate id, or
    /// finishing an approval that is not claimed).
    Corrupt(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io(s) => write!(f, "approval store I/O error: {s}"),
            StoreError::Full => write!(
                f,
                "too many approvals are waiting for a decision; approve, deny or let some expire first"
            ),
            StoreError::NotFound => write!(f, "no approval with this id"),
            StoreError::Corrupt(s) => write!(f, "approval store: {s}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Why a claim (or deny) did not happen.
#[derive(Debug)]
pub enum ClaimError {
    /// No approval has this id.
    NotFound,
    /// Someone else holds the claim and its run is in progress.
    /// (Boxed, like `Terminal`: an `Approval` is large and errors stay small;
    /// `&a` still coerces to `&Approval`.)
    InProgress(Box<Approval>),
    /// Already approved, denied, failed or expired: the stored outcome.
    Terminal(Box<Approval>),
    /// The store failed; nothing was changed.
    Store(StoreError),
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimError::NotFound => write!(f, "no approval with this id"),
            ClaimError::InProgress(a) => write!(
                f,
                "approval {} is being run (claimed by {})",
                a.plan.approval_id,
                a.claimed_by.as_deref().unwrap_or("unknown")
            ),
            ClaimError::Terminal(a) => {
                write!(f, "approval {} is already {}", a.plan.approval_id, a.status)
            }
            ClaimError::Store(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ClaimError {}

impl From<StoreError> for ClaimError {
    fn from(e: StoreError) -> Self {
        ClaimError::Store(e)
    }
}

/// State guarded by the store mutex.
struct Inner {
    log: LogFile,
    approvals: HashMap<String, Approval>,
    /// Ids whose stored status is `Pending` (expired or not).
    pending: HashSet<String>,
    /// When `forget_old` last ran (Unix ms).
    last_forget_ms: i64,
}

impl Inner {
    /// Stores `a`, keeping the pending index in step.
    fn put(&mut self, a: Approval) {
        if a.status == Status::Pending {
            self.pending.insert(a.plan.approval_id.clone());
        } else {
            self.pending.remove(&a.plan.approval_id);
        }
        self.approvals.insert(a.plan.approval_id.clone(), a);
    }

    /// What `rec` makes of the state, or why it is not allowed.
    fn next(&self, rec: &Record) -> Result<Approval, String> {
        let id = rec.id();
        if let Record::Create(plan) = rec {
            if self.approvals.contains_key(id) {
                return Err(format!("approval {id} already exists"));
            }
            return Ok(Approval::pending(Plan::clone(plan)));
        }
        let cur = self.approvals.get(id).ok_or_else(|| {
            format!(
                "{} record for approval {id}, which was never created",
                rec.op()
            )
        })?;
        transition(cur, rec)
    }

    /// Drops from memory the approvals that became terminal over
    /// [`RETAIN_MS`] before `now_ms` (at most once a minute), so a gate
    /// that runs for weeks does not keep every approval it ever held. They
    /// stay in the log until `open` compacts it; a terminal approval takes
    /// no more records, and ids are UUIDv7 (time-ordered), never reused.
    fn forget_old(&mut self, now_ms: i64) {
        if now_ms.saturating_sub(self.last_forget_ms) < FORGET_EVERY_MS {
            return;
        }
        self.last_forget_ms = now_ms;
        let cutoff = now_ms.saturating_sub(RETAIN_MS);
        self.approvals.retain(|_, a| {
            !(a.status.is_terminal() && a.completed_at_ms.is_some_and(|t| t < cutoff))
        });
    }

    /// Pending ids at or past expiry at `now_ms`, oldest first.
    fn due(&self, now_ms: i64) -> Vec<String> {
        let mut due: Vec<&Approval> = self
            .pending
            .iter()
            .filter_map(|id| self.approvals.get(id))
            .filter(|a| now_ms >= a.plan.expires_at_ms)
            .collect();
        due.sort_by(|a, b| order_key(a).cmp(&order_key(b)));
        due.iter().map(|a| a.plan.approval_id.clone()).collect()
    }
}

/// `cur` after `rec` (not a create), when the state machine allows it.
fn transition(cur: &Approval, rec: &Record) -> Result<Approval, String> {
    let mut next = cur.clone();
    match (cur.status, rec) {
        (Status::Pending, Record::Claim { by, at_ms, .. }) => {
            next.status = Status::Claimed;
            next.claimed_by = Some(by.clone());
            next.claimed_at_ms = Some(*at_ms);
        }
        (
            Status::Claimed,
            Record::Approved {
                by,
                receipt_id,
                exec_trace_id,
                at_ms,
                ..
            },
        ) => {
            next.status = Status::Approved;
            next.decided_by = Some(by.clone());
            next.receipt_id = receipt_id.clone();
            next.exec_trace_id = Some(exec_trace_id.clone());
            next.completed_at_ms = Some(*at_ms);
        }
        (
            Status::Claimed,
            Record::Failed {
                error_code,
                reason,
                at_ms,
                ..
            },
        ) => {
            next.status = Status::Failed;
            next.error_code = Some(error_code.clone());
            next.reason = Some(reason.clone());
            next.completed_at_ms = Some(*at_ms);
        }
        (
            Status::Pending,
            Record::Denied {
                by, reason, at_ms, ..
            },
        ) => {
            next.status = Status::Denied;
            next.decided_by = Some(by.clone());
            next.reason = Some(reason.clone());
            next.completed_at_ms = Some(*at_ms);
        }
        (Status::Pending, Record::Expired { at_ms, .. }) => {
            next.status = Status::Expired;
            next.completed_at_ms = Some(*at_ms);
        }
        (status, rec) => {
            return Err(format!(
                "{} is not allowed for approval {}, which is {status}",
                rec.op(),
                rec.id()
            ))
        }
    }
    Ok(next)
}

/// Sort key: creation time, then id (UUIDv7 ids sort by time too).
fn order_key(a: &Approval) -> (i64, &str) {
    (a.plan.created_at_ms, a.plan.approval_id.as_str())
}

/// The durable approval store. `Send + Sync`; share it behind an `Arc`.
pub struct ApprovalStore {
    mac_key: [u8; 32],
    max_pending: usize,
    inner: Mutex<Inner>,
}

impl ApprovalStore {
    /// Opens (creating a 0700 directory and 0600 files) `dir/approvals.jsonl`
    /// and replays it. A torn last line (no newline: a crash mid-write) is
    /// dropped and the file cut back to the last good line; any other bad
    /// line (bad JSON, bad MAC, unknown op, a transition that is not
    /// allowed) is an error naming file and line (fail closed).
    ///
    /// Approvals found claimed become failed (`interrupted`), durably, and
    /// are returned so the caller can write ledger events. When more than
    /// half the records belong to approvals that became terminal over
    /// [`RETAIN_MS`] ago, the log is rewritten atomically without them.
    /// The directory is locked: a second open of it fails until the first
    /// store is dropped.
    pub fn open(
        dir: &Path,
        mac_key: [u8; 32],
        max_pending: usize,
    ) -> Result<(ApprovalStore, Vec<Approval>), StoreError> {
        let (mut log, buf) = LogFile::open(dir)?;
        let (lines, good_len) = split_lines(&buf);
        if good_len < buf.len() {
            log.truncate(good_len as u64)?;
        }
        let mut inner = Inner {
            log,
            approvals: HashMap::new(),
            pending: HashSet::new(),
            last_forget_ms: 0,
        };
        // (approval id, line bytes with newline) for compaction.
        let mut kept: Vec<(String, &[u8])> = Vec::with_capacity(lines.len());
        for (no, start, end) in lines {
            let bad = |why: String| {
                StoreError::Corrupt(format!(
                    "{} line {no}: {why}; the gate will not start until the file is repaired or moved aside",
                    inner.log.path().display()
                ))
            };
            let line = buf.get(start..end).unwrap_or_default();
            let rec = decode_line(&mac_key, line).map_err(bad)?;
            let next = inner.next(&rec).map_err(bad)?;
            kept.push((
                rec.id().to_string(),
                buf.get(start..=end).unwrap_or_default(),
            ));
            inner.put(next);
        }
        let now_ms = unix_now_millis();
        compact(&mut inner, &kept, now_ms)?;
        let store = ApprovalStore {
            mac_key,
            max_pending,
            inner: Mutex::new(inner),
        };
        let interrupted = store.fail_claimed(now_ms)?;
        Ok((store, interrupted))
    }

    /// Durably records a new pending approval (fdatasync before returning).
    /// `Full` when `max_pending` pending approvals are unexpired at the
    /// plan's `created_at_ms` (taken as the current time). `Corrupt` for an
    /// invalid or duplicate id, or a plan too deep to canonicalise.
    pub fn create(&self, plan: Plan) -> Result<(), StoreError> {
        if !super::is_valid_id(&plan.approval_id) {
            return Err(StoreError::Corrupt(
                "refusing to store an approval with an invalid id".into(),
            ));
        }
        let mut inner = self.lock();
        let now_ms = plan.created_at_ms;
        // Creating is what adds approvals, so it is where old ones go.
        inner.forget_old(now_ms);
        let waiting = inner
            .pending
            .iter()
            .filter_map(|id| inner.approvals.get(id))
            .filter(|a| now_ms < a.plan.expires_at_ms)
            .count();
        if waiting >= self.max_pending {
            return Err(StoreError::Full);
        }
        self.commit(&mut inner, &[Record::Create(Box::new(plan))])?;
        Ok(())
    }

    /// The approval `id` as seen at `now_ms`.
    pub fn get(&self, id: &str, now_ms: i64) -> Option<Approval> {
        if !super::is_valid_id(id) {
            return None;
        }
        self.lock().approvals.get(id).map(|a| a.seen_at(now_ms))
    }

    /// Up to `limit` approvals, newest first, as seen at `now_ms`; `status`
    /// filters (`Expired` matches pending approvals past expiry too).
    pub fn list(&self, status: Option<Status>, limit: usize, now_ms: i64) -> Vec<Approval> {
        let inner = self.lock();
        let mut found: Vec<&Approval> = inner
            .approvals
            .values()
            .filter(|a| status.is_none_or(|s| a.status_at(now_ms) == s))
            .collect();
        found.sort_by(|a, b| order_key(b).cmp(&order_key(a)));
        found
            .into_iter()
            .take(limit)
            .map(|a| a.seen_at(now_ms))
            .collect()
    }

    /// Pending approvals not yet expired at `now_ms`.
    pub fn pending_count(&self, now_ms: i64) -> usize {
        let inner = self.lock();
        inner
            .pending
            .iter()
            .filter_map(|id| inner.approvals.get(id))
            .filter(|a| now_ms < a.plan.expires_at_ms)
            .count()
    }

    /// Atomically pending → claimed (durable): exactly one caller wins.
    /// An expired pending approval has its expiry written (durably) and
    /// comes back as `Terminal` with status `Expired`.
    pub fn claim(&self, id: &str, by: &str, now_ms: i64) -> Result<Approval, ClaimError> {
        let mut inner = self.lock();
        let (status, expires) = self.current(&inner, id)?;
        match status {
            Status::Pending if now_ms >= expires => Err(ClaimError::Terminal(Box::new(
                self.expire(&mut inner, id, now_ms)?,
            ))),
            Status::Pending => {
                let rec = Record::Claim {
                    id: id.to_string(),
                    by: by.to_string(),
                    at_ms: now_ms,
                };
                Ok(self.commit_one(&mut inner, rec)?)
            }
            _ => Err(self.refusal(&inner, id)),
        }
    }

    /// Claimed → approved (durable), with the run's receipt and trace id.
    /// `Corrupt` when the approval is not claimed.
    pub fn finish_approved(
        &self,
        id: &str,
        by: &str,
        receipt_id: Option<String>,
        exec_trace_id: &str,
        now_ms: i64,
    ) -> Result<Approval, StoreError> {
        let rec = Record::Approved {
            id: id.to_string(),
            by: by.to_string(),
            receipt_id,
            exec_trace_id: exec_trace_id.to_string(),
            at_ms: now_ms,
        };
        self.finish(id, rec)
    }

    /// Claimed → failed (durable). `Corrupt` when the approval is not claimed.
    pub fn finish_failed(
        &self,
        id: &str,
        error_code: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<Approval, StoreError> {
        let rec = Record::Failed {
            id: id.to_string(),
            error_code: error_code.to_string(),
            reason: reason.to_string(),
            at_ms: now_ms,
        };
        self.finish(id, rec)
    }

    /// Pending → denied (durable) in one step. Claimed → `InProgress`;
    /// terminal → `Terminal`; expired → writes the expiry, `Terminal`.
    pub fn deny(
        &self,
        id: &str,
        by: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<Approval, ClaimError> {
        let mut inner = self.lock();
        let (status, expires) = self.current(&inner, id)?;
        match status {
            Status::Pending if now_ms >= expires => Err(ClaimError::Terminal(Box::new(
                self.expire(&mut inner, id, now_ms)?,
            ))),
            Status::Pending => {
                let rec = Record::Denied {
                    id: id.to_string(),
                    by: by.to_string(),
                    reason: reason.to_string(),
                    at_ms: now_ms,
                };
                Ok(self.commit_one(&mut inner, rec)?)
            }
            _ => Err(self.refusal(&inner, id)),
        }
    }

    /// Writes the expiry of every pending approval at or past its expiry
    /// (one durable write) and returns them, oldest first, so the caller
    /// can audit them and refund budgets.
    pub fn expire_due(&self, now_ms: i64) -> Result<Vec<Approval>, StoreError> {
        let mut inner = self.lock();
        let recs: Vec<Record> = inner
            .due(now_ms)
            .into_iter()
            .map(|id| Record::Expired { id, at_ms: now_ms })
            .collect();
        self.commit(&mut inner, &recs)
    }

    /// Marks every claimed approval failed (`interrupted`), durably.
    fn fail_claimed(&self, now_ms: i64) -> Result<Vec<Approval>, StoreError> {
        let mut inner = self.lock();
        let mut claimed: Vec<&Approval> = inner
            .approvals
            .values()
            .filter(|a| a.status == Status::Claimed)
            .collect();
        claimed.sort_by(|a, b| order_key(a).cmp(&order_key(b)));
        let recs: Vec<Record> = claimed
            .iter()
            .map(|a| Record::Failed {
                id: a.plan.approval_id.clone(),
                error_code: INTERRUPTED_CODE.into(),
                reason: INTERRUPTED_REASON.into(),
                at_ms: now_ms,
            })
            .collect();
        self.commit(&mut inner, &recs)
    }

    /// Claimed → whatever `rec` says, for the finish_* calls.
    fn finish(&self, id: &str, rec: Record) -> Result<Approval, StoreError> {
        let mut inner = self.lock();
        let (status, _) = self.current(&inner, id).map_err(|_| StoreError::NotFound)?;
        if status != Status::Claimed {
            return Err(StoreError::Corrupt(format!(
                "approval {id} is {status}, not claimed, so it cannot be finished"
            )));
        }
        self.commit_one(&mut inner, rec)
    }

    /// Stored status and expiry of `id`; `NotFound` for unknown or invalid ids.
    fn current(&self, inner: &Inner, id: &str) -> Result<(Status, i64), ClaimError> {
        if !super::is_valid_id(id) {
            return Err(ClaimError::NotFound);
        }
        let a = inner.approvals.get(id).ok_or(ClaimError::NotFound)?;
        Ok((a.status, a.plan.expires_at_ms))
    }

    /// `InProgress` or `Terminal` with the stored approval `id`.
    fn refusal(&self, inner: &Inner, id: &str) -> ClaimError {
        match inner.approvals.get(id) {
            Some(a) if a.status == Status::Claimed => ClaimError::InProgress(Box::new(a.clone())),
            Some(a) => ClaimError::Terminal(Box::new(a.clone())),
            None => ClaimError::NotFound,
        }
    }

    /// Writes the expiry of pending `id`.
    fn expire(&self, inner: &mut Inner, id: &str, now_ms: i64) -> Result<Approval, StoreError> {
        let rec = Record::Expired {
            id: id.to_string(),
            at_ms: now_ms,
        };
        self.commit_one(inner, rec)
    }

    fn commit_one(&self, inner: &mut Inner, rec: Record) -> Result<Approval, StoreError> {
        let mut done = self.commit(inner, std::slice::from_ref(&rec))?;
        done.pop().ok_or(StoreError::NotFound)
    }

    /// Checks every record against the state machine, writes them all in
    /// one durable append, and only then applies them to memory: a failed
    /// write changes nothing. Returns the approvals as they now stand.
    fn commit(&self, inner: &mut Inner, recs: &[Record]) -> Result<Vec<Approval>, StoreError> {
        if recs.is_empty() {
            return Ok(Vec::new());
        }
        let mut bytes = Vec::new();
        let mut next = Vec::with_capacity(recs.len());
        for rec in recs {
            // Callers pass at most one record per approval, so each record
            // is checked against the current state.
            next.push(inner.next(rec).map_err(StoreError::Corrupt)?);
            bytes.extend_from_slice(&encode_line(&self.mac_key, rec)?);
        }
        inner.log.append(&bytes)?;
        for a in &next {
            inner.put(a.clone());
        }
        Ok(next)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding the lock; if something ever did,
        // memory still matches the log (it is updated after the write).
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Rewrites the log without approvals that became terminal over
/// [`RETAIN_MS`] before `now_ms`, when they hold over half the records.
fn compact(inner: &mut Inner, lines: &[(String, &[u8])], now_ms: i64) -> Result<(), StoreError> {
    let cutoff = now_ms.saturating_sub(RETAIN_MS);
    let old: HashSet<&str> = inner
        .approvals
        .values()
        .filter(|a| a.status.is_terminal() && a.completed_at_ms.is_some_and(|t| t < cutoff))
        .map(|a| a.plan.approval_id.as_str())
        .collect();
    let dropped = lines
        .iter()
        .filter(|(id, _)| old.contains(id.as_str()))
        .count();
    if dropped == 0 || dropped * 2 <= lines.len() {
        return Ok(());
    }
    let mut bytes = Vec::new();
    for (id, line) in lines {
        if !old.contains(id.as_str()) {
            bytes.extend_from_slice(line);
        }
    }
    let old: Vec<String> = old.into_iter().map(str::to_string).collect();
    inner.log.replace(&bytes)?;
    for id in old {
        inner.approvals.remove(&id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::plan::tests::sample;
    use super::*;
    use std::path::PathBuf;
    use std::sync::{Arc, Barrier};

    const KEY: [u8; 32] = [9; 32];
    /// Test epoch: the real clock, so `open`'s compaction (which uses
    /// the real clock) sees these approvals as recent.
    static T0: std::sync::LazyLock<i64> = std::sync::LazyLock::new(unix_now_millis);

    fn t0() -> i64 {
        *T0
    }
    const TTL: i64 = 300_000;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let mut r = [0u8; 8];
            crate::crypto::random::fill(&mut r).unwrap();
            let name = format!("lg-appr-{tag}-{}", crate::crypto::hex::encode(&r));
            TempDir(std::env::temp_dir().join(name))
        }
        fn log(&self) -> PathBuf {
            self.0.join("approvals.jsonl")
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn id(n: u32) -> String {
        format!("0190a1b2-0000-7000-8000-{n:012x}")
    }

    fn open(t: &TempDir) -> (ApprovalStore, Vec<Approval>) {
        ApprovalStore::open(&t.0, KEY, 16).unwrap()
    }

    fn open_err(t: &TempDir, key: [u8; 32]) -> String {
        match ApprovalStore::open(&t.0, key, 16) {
            Ok(_) => panic!("open succeeded"),
            Err(e) => e.to_string(),
        }
    }

    fn add(s: &ApprovalStore, n: u32) -> Plan {
        let plan = sample(&id(n), t0() + i64::from(n), t0() + TTL);
        s.create(plan.clone()).unwrap();
        plan
    }

    #[test]
    fn create_get_list_round_trip_and_modes() {
        use std::os::unix::fs::PermissionsExt;
        let t = TempDir::new("rt");
        let (s, interrupted) = open(&t);
        assert!(interrupted.is_empty());
        let p1 = add(&s, 1);
        let p2 = add(&s, 2);
        let a = s.get(&id(1), t0()).unwrap();
        assert_eq!(a.plan, p1);
        assert_eq!(a.status, Status::Pending);
        assert_eq!(a.claimed_by, None);
        let all = s.list(None, 10, t0());
        let ids: Vec<&str> = all.iter().map(|a| a.plan.approval_id.as_str()).collect();
        assert_eq!(ids, [p2.approval_id.as_str(), p1.approval_id.as_str()]);
        assert_eq!(s.list(None, 1, t0()).len(), 1);
        assert_eq!(s.list(Some(Status::Pending), 10, t0()).len(), 2);
        assert!(s.list(Some(Status::Denied), 10, t0()).is_empty());
        assert_eq!(s.pending_count(t0()), 2);
        assert!(s.get(&id(3), t0()).is_none());
        assert!(s.get("../../etc/passwd", t0()).is_none());
        // Duplicate and invalid ids are refused.
        assert!(matches!(s.create(p1.clone()), Err(StoreError::Corrupt(_))));
        let mut bad = p1.clone();
        bad.approval_id = "X".into();
        assert!(matches!(s.create(bad), Err(StoreError::Corrupt(_))));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&t.0), 0o700);
        assert_eq!(mode(&t.log()), 0o600);
        // A second open of the same directory is refused while this one lives.
        assert!(open_err(&t, KEY).contains("locked"));
    }

    #[test]
    fn survives_reopen() {
        let t = TempDir::new("reopen");
        let (s, _) = open(&t);
        add(&s, 1);
        add(&s, 2);
        add(&s, 3);
        s.claim(&id(1), "ops:bob", t0() + 10).unwrap();
        s.finish_approved(&id(1), "ops:bob", Some("r-1".into()), "t-9", t0() + 20)
            .unwrap();
        s.deny(&id(2), "ops:eve", "too risky", t0() + 30).unwrap();
        let before: Vec<Approval> = s.list(None, 10, t0() + 40);
        drop(s);
        let (s, interrupted) = open(&t);
        assert!(interrupted.is_empty());
        assert_eq!(s.list(None, 10, t0() + 40), before);
        let a = s.get(&id(1), t0() + 40).unwrap();
        assert_eq!(a.status, Status::Approved);
        assert_eq!(a.receipt_id.as_deref(), Some("r-1"));
        assert_eq!(a.exec_trace_id.as_deref(), Some("t-9"));
        assert_eq!(a.decided_by.as_deref(), Some("ops:bob"));
        assert_eq!(a.claimed_at_ms, Some(t0() + 10));
        assert_eq!(a.completed_at_ms, Some(t0() + 20));
        let d = s.get(&id(2), t0() + 40).unwrap();
        assert_eq!(d.status, Status::Denied);
        assert_eq!(d.reason.as_deref(), Some("too risky"));
        assert_eq!(s.get(&id(3), t0() + 40).unwrap().status, Status::Pending);
    }

    #[test]
    fn claim_twice_is_in_progress_and_finish_needs_a_claim() {
        let t = TempDir::new("claim");
        let (s, _) = open(&t);
        add(&s, 1);
        assert!(matches!(
            s.finish_approved(&id(1), "b", None, "t", t0()),
            Err(StoreError::Corrupt(_))
        ));
        let a = s.claim(&id(1), "ops:bob", t0() + 1).unwrap();
        assert_eq!(a.status, Status::Claimed);
        assert_eq!(a.claimed_by.as_deref(), Some("ops:bob"));
        match s.claim(&id(1), "ops:eve", t0() + 2) {
            Err(ClaimError::InProgress(a)) => assert_eq!(a.claimed_by.as_deref(), Some("ops:bob")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            s.deny(&id(1), "ops:eve", "no", t0() + 2),
            Err(ClaimError::InProgress(_))
        ));
        assert!(matches!(
            s.claim(&id(9), "x", t0()),
            Err(ClaimError::NotFound)
        ));
        assert!(matches!(s.claim("", "x", t0()), Err(ClaimError::NotFound)));
        assert!(matches!(
            s.finish_failed(&id(9), "e", "r", t0()),
            Err(StoreError::NotFound)
        ));
        let f = s
            .finish_failed(&id(1), "provider_error", "boom", t0() + 3)
            .unwrap();
        assert_eq!(f.status, Status::Failed);
        assert_eq!(f.error_code.as_deref(), Some("provider_error"));
        assert!(matches!(
            s.finish_failed(&id(1), "e", "r", t0() + 4),
            Err(StoreError::Corrupt(_))
        ));
        match s.claim(&id(1), "ops:eve", t0() + 5) {
            Err(ClaimError::Terminal(a)) => assert_eq!(a.status, Status::Failed),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn two_threads_claiming_yield_exactly_one_winner() {
        let t = TempDir::new("race");
        let (s, _) = ApprovalStore::open(&t.0, KEY, 100).unwrap();
        let s = Arc::new(s);
        for round in 0..50u32 {
            add(&s, round);
            let barrier = Arc::new(Barrier::new(2));
            let handles: Vec<_> = ["ops:a", "ops:b"]
                .into_iter()
                .map(|who| {
                    let (s, barrier, id) = (Arc::clone(&s), Arc::clone(&barrier), id(round));
                    std::thread::spawn(move || {
                        barrier.wait();
                        s.claim(&id, who, t0() + 100)
                    })
                })
                .collect();
            let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            let wins = results.iter().filter(|r| r.is_ok()).count();
            let busy = results
                .iter()
                .filter(|r| matches!(r, Err(ClaimError::InProgress(_))))
                .count();
            assert_eq!((wins, busy), (1, 1), "round {round}: {results:?}");
            s.finish_approved(&id(round), "ops:a", None, "t", t0() + 101)
                .unwrap();
        }
    }

    #[test]
    fn deny_after_approve_and_approve_after_deny_are_terminal() {
        let t = TempDir::new("terminal");
        let (s, _) = open(&t);
        add(&s, 1);
        add(&s, 2);
        s.claim(&id(1), "ops:bob", t0() + 1).unwrap();
        s.finish_approved(&id(1), "ops:bob", Some("r".into()), "t", t0() + 2)
            .unwrap();
        match s.deny(&id(1), "ops:eve", "late", t0() + 3) {
            Err(ClaimError::Terminal(a)) => {
                assert_eq!(a.status, Status::Approved);
                assert_eq!(a.receipt_id.as_deref(), Some("r"));
            }
            other => panic!("{other:?}"),
        }
        let d = s.deny(&id(2), "ops:eve", "no", t0() + 1).unwrap();
        assert_eq!(d.status, Status::Denied);
        assert_eq!(d.decided_by.as_deref(), Some("ops:eve"));
        match s.claim(&id(2), "ops:bob", t0() + 2) {
            Err(ClaimError::Terminal(a)) => {
                assert_eq!(a.status, Status::Denied);
                assert_eq!(a.reason.as_deref(), Some("no"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            s.deny(&id(2), "ops:bob", "again", t0() + 2),
            Err(ClaimError::Terminal(_))
        ));
    }

    #[test]
    fn claim_after_expiry_is_terminal_and_stays_expired() {
        let t = TempDir::new("expiry");
        let (s, _) = open(&t);
        add(&s, 1);
        add(&s, 2);
        let late = t0() + TTL;
        // Lazily reported before anything is written.
        assert_eq!(s.get(&id(1), late).unwrap().status, Status::Expired);
        assert_eq!(s.get(&id(1), late - 1).unwrap().status, Status::Pending);
        assert_eq!(s.list(Some(Status::Expired), 10, late).len(), 2);
        assert!(s.list(Some(Status::Pending), 10, late).is_empty());
        assert_eq!(s.pending_count(late), 0);
        assert_eq!(s.pending_count(late - 1), 2);
        match s.claim(&id(1), "ops:bob", late) {
            Err(ClaimError::Terminal(a)) => {
                assert_eq!(a.status, Status::Expired);
                assert_eq!(a.completed_at_ms, Some(late));
            }
            other => panic!("{other:?}"),
        }
        match s.deny(&id(2), "ops:bob", "no", late) {
            Err(ClaimError::Terminal(a)) => assert_eq!(a.status, Status::Expired),
            other => panic!("{other:?}"),
        }
        drop(s);
        let (s, _) = open(&t);
        // Written: expired even when asked "before" the expiry.
        let a = s.get(&id(1), t0()).unwrap();
        assert_eq!(a.status, Status::Expired);
        assert_eq!(a.completed_at_ms, Some(late));
        assert!(matches!(
            s.claim(&id(1), "ops:bob", t0()),
            Err(ClaimError::Terminal(_))
        ));
    }

    #[test]
    fn expire_due_writes_each_once() {
        let t = TempDir::new("due");
        let (s, _) = open(&t);
        add(&s, 1);
        let mut p = sample(&id(2), t0(), t0() + 2 * TTL);
        s.create(p.clone()).unwrap();
        assert!(s.expire_due(t0() + TTL - 1).unwrap().is_empty());
        let due = s.expire_due(t0() + TTL).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].plan.approval_id, id(1));
        assert_eq!(due[0].status, Status::Expired);
        assert!(due[0].plan.budget_debited);
        assert!(s.expire_due(t0() + TTL).unwrap().is_empty());
        drop(s);
        let (s, _) = open(&t);
        assert_eq!(s.get(&id(1), t0()).unwrap().status, Status::Expired);
        assert_eq!(s.get(&id(2), t0()).unwrap().status, Status::Pending);
        p.approval_id = id(3);
        s.create(p).unwrap();
        assert_eq!(s.expire_due(t0() + 2 * TTL).unwrap().len(), 2);
    }

    #[test]
    fn reopen_fails_a_claimed_approval_as_interrupted() {
        let t = TempDir::new("interrupted");
        let (s, _) = open(&t);
        add(&s, 1);
        add(&s, 2);
        s.claim(&id(1), "ops:bob", t0() + 1).unwrap();
        drop(s); // the "crash": claimed, never finished
        let (s, interrupted) = open(&t);
        assert_eq!(interrupted.len(), 1);
        let a = &interrupted[0];
        assert_eq!(a.plan.approval_id, id(1));
        assert_eq!(a.status, Status::Failed);
        assert_eq!(a.error_code.as_deref(), Some(INTERRUPTED_CODE));
        assert_eq!(a.reason.as_deref(), Some(INTERRUPTED_REASON));
        assert_eq!(a.claimed_by.as_deref(), Some("ops:bob"));
        assert!(matches!(
            s.claim(&id(1), "ops:bob", t0() + 2),
            Err(ClaimError::Terminal(_))
        ));
        assert_eq!(s.get(&id(2), t0()).unwrap().status, Status::Pending);
        drop(s);
        // Written durably: the next open has nothing to fail.
        let (s, interrupted) = open(&t);
        assert!(interrupted.is_empty());
        assert_eq!(s.get(&id(1), t0()).unwrap().status, Status::Failed);
    }

    #[test]
    fn torn_last_line_is_dropped() {
        use std::io::Write;
        let t = TempDir::new("torn");
        let (s, _) = open(&t);
        add(&s, 1);
        add(&s, 2);
        drop(s);
        let good = std::fs::read(t.log()).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(t.log())
            .unwrap();
        f.write_all(b"{\"mac\":\"00\",\"rec\":{\"op\":\"cla")
            .unwrap();
        drop(f);
        let (s, _) = open(&t);
        assert_eq!(s.list(None, 10, t0()).len(), 2);
        assert_eq!(std::fs::read(t.log()).unwrap(), good);
        // Appends after the cut land on a line of their own.
        s.claim(&id(1), "ops:bob", t0() + 1).unwrap();
        drop(s);
        let (s, interrupted) = open(&t);
        assert_eq!(interrupted.len(), 1);
        assert_eq!(s.get(&id(1), t0()).unwrap().status, Status::Failed);
    }

    #[test]
    fn flipped_byte_in_a_middle_line_fails_open_naming_the_line() {
        let t = TempDir::new("flip");
        let (s, _) = open(&t);
        add(&s, 1);
        add(&s, 2);
        add(&s, 3);
        drop(s);
        let mut bytes = std::fs::read(t.log()).unwrap();
        let second = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
        // Inside the second line's plan text: still valid JSON, bad MAC.
        let at = second
            + bytes[second..]
                .windows(11)
                .position(|w| w == b"agent:alice")
                .unwrap();
        bytes[at] = b'A';
        std::fs::write(t.log(), &bytes).unwrap();
        let err = open_err(&t, KEY);
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("MAC"), "{err}");
        assert!(err.contains("approvals.jsonl"), "{err}");
        // A flip that breaks the JSON is refused too.
        bytes[at] = b'"';
        std::fs::write(t.log(), &bytes).unwrap();
        let err = open_err(&t, KEY);
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn wrong_key_and_bad_transitions_fail_open() {
        let t = TempDir::new("key");
        let (s, _) = open(&t);
        add(&s, 1);
        drop(s);
        let err = open_err(&t, [1; 32]);
        assert!(err.contains("line 1") && err.contains("MAC"), "{err}");

        // A well-MAC'd record the state machine forbids (approved without claim).
        let rec = Record::Approved {
            id: id(1),
            by: "x".into(),
            receipt_id: None,
            exec_trace_id: "t".into(),
            at_ms: t0(),
        };
        let mut bytes = std::fs::read(t.log()).unwrap();
        bytes.extend_from_slice(&encode_line(&KEY, &rec).unwrap());
        std::fs::write(t.log(), &bytes).unwrap();
        let err = open_err(&t, KEY);
        assert!(
            err.contains("line 2") && err.contains("not allowed"),
            "{err}"
        );
    }

    #[test]
    fn failed_write_changes_nothing_and_fails_closed() {
        let t = TempDir::new("iofail");
        let (s, _) = open(&t);
        add(&s, 1);
        let before = std::fs::read(t.log()).unwrap();
        s.lock().log.break_for_test();
        let p2 = sample(&id(2), t0(), t0() + TTL);
        assert!(matches!(s.create(p2), Err(StoreError::Io(_))));
        assert!(s.get(&id(2), t0()).is_none());
        assert!(matches!(
            s.claim(&id(1), "ops:bob", t0()),
            Err(ClaimError::Store(StoreError::Io(_)))
        ));
        assert_eq!(s.get(&id(1), t0()).unwrap().status, Status::Pending);
        assert!(matches!(s.expire_due(t0() + TTL), Err(StoreError::Io(_))));
        assert_eq!(s.pending_count(t0()), 1);
        drop(s);
        assert_eq!(std::fs::read(t.log()).unwrap(), before);
        let (s, _) = open(&t);
        assert_eq!(s.get(&id(1), t0()).unwrap().status, Status::Pending);
    }

    #[test]
    fn full_counts_only_unexpired_pending() {
        let t = TempDir::new("full");
        let (s, _) = ApprovalStore::open(&t.0, KEY, 2).unwrap();
        add(&s, 1);
        add(&s, 2);
        let p3 = sample(&id(3), t0() + 3, t0() + TTL);
        assert!(matches!(s.create(p3.clone()), Err(StoreError::Full)));
        assert!(s.get(&id(3), t0()).is_none());
        // Deciding one frees a slot.
        s.deny(&id(1), "ops:bob", "no", t0() + 4).unwrap();
        s.create(p3).unwrap();
        // Expired ones no longer count.
        let p4 = sample(&id(4), t0() + TTL, t0() + 2 * TTL);
        s.create(p4).unwrap();
    }

    #[test]
    fn compaction_drops_old_terminal_approvals() {
        let t = TempDir::new("compact");
        let (s, _) = ApprovalStore::open(&t.0, KEY, 100).unwrap();
        let now = unix_now_millis();
        let old = now - RETAIN_MS - 1000;
        for n in 0..4 {
            let p = sample(&id(n), old - 10, now + TTL);
            s.create(p).unwrap();
            s.deny(&id(n), "ops:bob", "no", old).unwrap();
        }
        s.create(sample(&id(10), now, now + TTL)).unwrap();
        drop(s);
        let before = std::fs::metadata(t.log()).unwrap().len();
        let (s, _) = ApprovalStore::open(&t.0, KEY, 100).unwrap();
        assert!(std::fs::metadata(t.log()).unwrap().len() < before);
        assert!(s.get(&id(0), now).is_none());
        assert_eq!(s.list(None, 10, now).len(), 1);
        assert_eq!(s.get(&id(10), now).unwrap().status, Status::Pending);
        // The rewritten log still replays and still appends.
        s.deny(&id(10), "ops:bob", "no", now).unwrap();
        drop(s);
        let (s, _) = ApprovalStore::open(&t.0, KEY, 100).unwrap();
        assert_eq!(s.get(&id(10), now).unwrap().status, Status::Denied);
        assert_eq!(std::fs::read_dir(&t.0).unwrap().count(), 2); // log + lock
    }

    #[test]
    fn a_running_store_forgets_old_terminal_approvals() {
        let t = TempDir::new("forget");
        let (s, _) = ApprovalStore::open(&t.0, KEY, 100).unwrap();
        let now = unix_now_millis();
        let old = now - RETAIN_MS - 1000;
        // Two decided long ago, one decided recently, one still pending.
        for n in 0..2 {
            s.create(sample(&id(n), old - 10, now + TTL)).unwrap();
            s.deny(&id(n), "ops:bob", "no", old).unwrap();
        }
        s.create(sample(&id(2), old + 1000, now + TTL)).unwrap();
        s.deny(&id(2), "ops:bob", "no", now - 5).unwrap();
        s.create(sample(&id(3), old + 2000, old + TTL)).unwrap();
        assert_eq!(s.list(None, 10, now).len(), 4);
        // The next create (a minute after the last look) forgets the two.
        s.create(sample(&id(4), now, now + TTL)).unwrap();
        assert!(s.get(&id(0), now).is_none());
        assert!(s.get(&id(1), now).is_none());
        assert_eq!(s.get(&id(2), now).unwrap().status, Status::Denied);
        // Pending (even past its expiry, not yet written) is never forgotten.
        assert_eq!(s.get(&id(3), now).unwrap().status, Status::Expired);
        assert_eq!(s.list(None, 10, now).len(), 3);
        // Forgotten from memory only: the log still replays (and `open`
        // compacts it once old approvals hold over half its records).
        drop(s);
        let (s, _) = ApprovalStore::open(&t.0, KEY, 100).unwrap();
        assert_eq!(s.get(&id(2), now).unwrap().status, Status::Denied);
        assert_eq!(s.get(&id(4), now).unwrap().status, Status::Pending);
    }

    #[test]
    fn compaction_keeps_a_log_of_mostly_recent_records() {
        let t = TempDir::new("nocompact");
        let (s, _) = ApprovalStore::open(&t.0, KEY, 100).unwrap();
        let now = unix_now_millis();
        let old = now - RETAIN_MS - 1000;
        s.create(sample(&id(0), old - 10, now + TTL)).unwrap();
        s.deny(&id(0), "ops:bob", "no", old).unwrap();
        for n in 1..4 {
            s.create(sample(&id(n), now, now + TTL)).unwrap();
        }
        drop(s);
        let (s, _) = ApprovalStore::open(&t.0, KEY, 100).unwrap();
        assert_eq!(s.get(&id(0), now).unwrap().status, Status::Denied);
    }

    #[test]
    fn json_shapes() {
        let t = TempDir::new("shapes");
        let (s, _) = open(&t);
        add(&s, 1);
        let a = s.get(&id(1), t0()).unwrap();
        let sum = a.summary_json();
        let m = sum.as_object().unwrap();
        let keys: Vec<&str> = m.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "approval_id",
                "status",
                "action_id",
                "action_version",
                "principal",
                "session_id",
                "owner",
                "risk_level",
                "request_hash",
                "created_at",
                "expires_at"
            ]
        );
        assert_eq!(m.get("status").unwrap().as_str(), Some("pending"));
        assert_eq!(
            m.get("expires_at").unwrap().as_str(),
            Some(rfc3339_millis(t0() + TTL).as_str())
        );
        let d = s
            .deny(&id(1), "ops:eve", "no", t0() + 5)
            .unwrap()
            .detail_json();
        assert_eq!(d.get("deny_reason").unwrap().as_str(), Some("no"));
        assert_eq!(d.get("decided_by").unwrap().as_str(), Some("ops:eve"));
        assert_eq!(d.get("input"), Some(&a.plan.input));
        assert_eq!(
            d.get("plan_hash").unwrap().as_str(),
            Some(a.plan.plan_hash().as_str())
        );
        assert!(d.get("claimed_at").unwrap().is_null());
        assert_eq!(
            d.get("completed_at").unwrap().as_str(),
            Some(rfc3339_millis(t0() + 5).as_str())
        );
        for st in [
            Status::Pending,
            Status::Claimed,
            Status::Approved,
            Status::Denied,
            Status::Failed,
            Status::Expired,
        ] {
            assert_eq!(Status::parse(st.as_str()), Some(st));
            assert_eq!(
                st.is_terminal(),
                !matches!(st, Status::Pending | Status::Claimed)
            );
        }
        assert_eq!(Status::parse("PENDING"), None);
    }
}
