//! Durable approvals: calls held for a human decision.
//!
//! A call that policy sends to a human is frozen as a [`Plan`] (manifest
//! source, validated input, digests) so approving it runs exactly what was
//! held. The [`ApprovalStore`] keeps plans and their state in an
//! append-only, MAC'd, fsync'ed log (`approvals.jsonl`, see [`log`]):
//!
//! ```text
//! pending ─claim─▶ claimed ─▶ approved | failed
//!    │ └─deny──▶ denied
//!    └─ttl───▶ expired
//! ```
//!
//! Claims are atomic (two operators approving at once yield one run), and
//! an approval found `claimed` when the gate starts becomes `failed`
//! ("interrupted"): a crash never causes a re-run.

pub mod log;
pub mod plan;
pub mod store;

pub use plan::Plan;
pub use store::{Approval, ApprovalStore, ClaimError, Status, StoreError};

/// Longest approval id accepted.
pub const MAX_ID_LEN: usize = 64;

/// True for 1..=64 characters of `[0-9a-f-]` (a lowercase UUID fits):
/// ids are checked before anything reaches a file or a log.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_valid_id("0190a1b2-0000-7000-8000-000000000001"));
        assert!(is_valid_id("a"));
        assert!(is_valid_id(&"f".repeat(64)));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id(&"f".repeat(65)));
        assert!(!is_valid_id("0190A1B2"));
        assert!(!is_valid_id("../x"));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id("a\n"));
    }
}
