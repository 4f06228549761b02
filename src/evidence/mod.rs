//! Evidence: execution grants, signed receipts, the hash-chained ledger
//! with signed checkpoints and head, and offline verification.
//!
//! On disk, a ledger directory (mode 0700, files 0600) holds:
//!
//! - `events.jsonl` — append-only, one compact JSON record per line. Every
//!   record has `seq` (1-based, contiguous) and `prev_hash` (`null` for
//!   seq 1, else `"sha256:" + hex(SHA-256(JCS(previous record as stored)))`)
//!   plus the caller's fields. Executed actions carry their signed receipt
//!   under `receipt` (one line, one fsync). Signed checkpoints are chained
//!   records too (see [`chain`]).
//! - `head.json` — the newest durable `(seq, hash)`, signed (see [`head`]).
//! - `keys.json` — every public key that ever signed (see [`keys`]).
//!
//! [`verify_ledger`] checks all of it offline. Receipts follow the
//! reference format ([`receipt`]); grants are signed with their own key
//! ([`grant`]).

mod background;
pub mod chain;
mod error;
mod fsutil;
pub mod grant;
pub mod head;
pub mod keys;
mod ledger;
mod lines;
pub mod query;
pub mod receipt;
mod recover;
pub mod verify;

#[cfg(test)]
pub(crate) mod testutil;

pub use error::LedgerError;
pub use grant::Grant;
pub use keys::{KeyEntry, KeyRing};
pub use ledger::{Appended, Ledger, LedgerStats, Recovery, CHECKPOINT_INTERVAL, EVENTS_FILE};
pub use query::{query_events, read_events, EventFilter};
pub use receipt::{
    sign as sign_receipt, verify_receipt, FailureClass, NormalizedResult, ReceiptParts,
    SignatureStatus, VerificationOutcome,
};
pub use verify::{verify_ledger, Broken, VerifyReport};

/// Now as `YYYY-MM-DDTHH:MM:SS.mmmZ` (record and key timestamps).
fn now_rfc3339() -> String {
    crate::time::rfc3339_millis(crate::time::unix_now_millis())
}
