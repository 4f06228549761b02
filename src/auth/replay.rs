//! In-memory DPoP `jti` replay cache.
//!
//! Each accepted jti is remembered until `now + ttl`. Expired entries are
//! swept lazily (once a minute, or when the cache is full). When
//! the cache is full of live entries it refuses new proofs (503) rather
//! than forget one early: forgetting would let that proof be replayed.

use super::dpop::MAX_JTI_BYTES;
use super::error::AuthError;
use std::collections::HashMap;
use std::sync::Mutex;

/// Seconds between routine sweeps of expired entries.
const SWEEP_INTERVAL_SECS: i64 = 60;

/// Remembers recently seen proof ids. Safe to share between threads.
#[derive(Debug)]
pub struct ReplayCache {
    ttl_secs: i64,
    max_entries: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// jti → Unix time after which it may be forgotten.
    expires: HashMap<String, i64>,
    last_sweep: i64,
}

impl ReplayCache {
    /// A cache remembering each jti for `ttl_secs` (the reference uses
    /// 180, well beyond the 65 s a proof's iat stays acceptable), holding
    /// at most `max_entries` live ids.
    pub fn new(ttl_secs: i64, max_entries: usize) -> ReplayCache {
        ReplayCache {
            ttl_secs,
            max_entries,
            state: Mutex::new(State::default()),
        }
    }

    /// Records `jti` as used at `now`; fails if it was already used.
    ///
    /// Errors: `invalid_dpop` for an empty or over-long jti,
    /// `replay_detected` for a repeat, `replay_cache_unavailable` when the
    /// cache is full of live entries or its lock is poisoned.
    pub fn check_and_insert(&self, jti: &str, now: i64) -> Result<(), AuthError> {
        if jti.is_empty() || jti.len() > MAX_JTI_BYTES {
            return Err(AuthError::invalid_dpop(format!(
                "jti must be 1 to {MAX_JTI_BYTES} bytes"
            )));
        }
        // A poisoned lock means a thread panicked mid-update: the map may
        // be inconsistent, so fail closed.
        let mut state = self
            .state
            .lock()
            .map_err(|_| AuthError::replay_cache_unavailable("replay cache lock poisoned"))?;
        if let Some(&expiry) = state.expires.get(jti) {
            if expiry > now {
                return Err(AuthError::replay_detected(
                    "DPoP proof jti has already been used",
                ));
            }
        }
        // Sweep once a minute, or when full (at most once a second then, so
        // a cache full of live entries does not cost a full scan per call).
        let full = state.expires.len() >= self.max_entries;
        let elapsed = now.saturating_sub(state.last_sweep);
        if elapsed >= SWEEP_INTERVAL_SECS || (full && elapsed > 0) {
            state.expires.retain(|_, expiry| *expiry > now);
            state.last_sweep = now;
        }
        if state.expires.len() >= self.max_entries && !state.expires.contains_key(jti) {
            return Err(AuthError::replay_cache_unavailable(
                "replay cache is full; try again shortly",
            ));
        }
        state
            .expires
            .insert(jti.to_string(), now.saturating_add(self.ttl_secs));
        Ok(())
    }

    /// Number of remembered ids (live or not yet swept).
    pub fn len(&self) -> usize {
        self.state.lock().map(|s| s.expires.len()).unwrap_or(0)
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const T: i64 = 1_750_000_000;

    #[test]
    fn repeat_is_detected_within_ttl() {
        let c = ReplayCache::new(180, 100);
        c.check_and_insert("a", T).unwrap();
        let e = c.check_and_insert("a", T + 179).unwrap_err();
        assert_eq!((e.status, e.code), (401, "replay_detected"));
        c.check_and_insert("b", T).unwrap();
        // After the ttl the id may be forgotten (its iat is long stale).
        c.check_and_insert("a", T + 180).unwrap();
        assert!(c.check_and_insert("a", T + 181).is_err());
    }

    #[test]
    fn full_cache_fails_closed_then_recovers_after_expiry() {
        let c = ReplayCache::new(180, 3);
        for id in ["a", "b", "c"] {
            c.check_and_insert(id, T).unwrap();
        }
        let e = c.check_and_insert("d", T + 1).unwrap_err();
        assert_eq!((e.status, e.code), (503, "replay_cache_unavailable"));
        // The refused id was not remembered, and old ones still are.
        assert!(c.check_and_insert("a", T + 2).unwrap_err().code == "replay_detected");
        // Once entries expire, the sweep frees room.
        c.check_and_insert("d", T + 180).unwrap();
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn periodic_sweep_drops_expired_entries() {
        let c = ReplayCache::new(10, 100);
        c.check_and_insert("a", T).unwrap();
        c.check_and_insert("b", T + 1).unwrap();
        assert_eq!(c.len(), 2);
        c.check_and_insert("c", T + 61).unwrap();
        assert_eq!(c.len(), 1);
        assert!(!c.is_empty());
    }

    #[test]
    fn jti_length_is_bounded() {
        let c = ReplayCache::new(180, 10);
        assert_eq!(c.check_and_insert("", T).unwrap_err().code, "invalid_dpop");
        let long = "x".repeat(MAX_JTI_BYTES + 1);
        assert_eq!(
            c.check_and_insert(&long, T).unwrap_err().code,
            "invalid_dpop"
        );
        c.check_and_insert(&"x".repeat(MAX_JTI_BYTES), T).unwrap();
    }

    #[test]
    fn concurrent_inserts_accept_each_id_once() {
        let c = Arc::new(ReplayCache::new(180, 10_000));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let c = Arc::clone(&c);
                std::thread::spawn(move || {
                    (0..200)
                        .filter(|i| c.check_and_insert(&format!("id-{i}"), T).is_ok())
                        .count()
                })
            })
            .collect();
        let accepted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(accepted, 200);
    }
}
