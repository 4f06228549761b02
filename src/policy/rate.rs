//! Per-principal fixed-window rate limiting.
//!
//! Windows are aligned to multiples of their length since the Unix epoch,
//! so a principal's window is a pure function of the clock and the limit.
//! The map of principals is bounded: when full, expired windows are
//! dropped, and if it is still full the call is refused (fail closed).

use super::file::RateLimit;
use std::collections::HashMap;
use std::sync::Mutex;

/// One principal's current window.
#[derive(Clone, Copy, Debug)]
struct Window {
    /// Start of the window, ms since the epoch.
    start_ms: i64,
    /// Its length in ms (kept so a changed limit starts a fresh window).
    len_ms: i64,
    /// Calls counted in it.
    count: u32,
}

impl Window {
    fn end_ms(&self) -> i64 {
        self.start_ms.saturating_add(self.len_ms)
    }
}

/// Counts calls per principal in fixed windows; bounded in principals.
pub struct RateLimiter {
    windows: Mutex<HashMap<String, Window>>,
    max_principals: usize,
}

impl RateLimiter {
    /// A limiter tracking at most `max_principals` principals at once
    /// (0 refuses every call).
    pub fn new(max_principals: usize) -> RateLimiter {
        RateLimiter {
            windows: Mutex::new(HashMap::new()),
            max_principals,
        }
    }

    /// Fixed window per principal: Ok when under `limit.calls` in the
    /// current window of `limit.window_seconds`; Err(retry_after_seconds ≥ 1)
    /// otherwise (seconds until the window ends, rounded up). When the map
    /// is full, expired windows are dropped first; if still full, Err(1)
    /// (fail closed). A poisoned lock → Err(1).
    pub fn check(&self, principal: &str, limit: RateLimit, now_ms: i64) -> Result<(), u64> {
        let Ok(mut windows) = self.windows.lock() else {
            return Err(1);
        };
        // A zero window cannot come from a parsed policy; treat it as 1 s
        // rather than divide by zero.
        let len_ms = i64::from(limit.window_seconds.max(1)) * 1000;
        let start_ms = now_ms.saturating_sub(now_ms.rem_euclid(len_ms));
        if !windows.contains_key(principal) && windows.len() >= self.max_principals {
            windows.retain(|_, w| w.end_ms() > now_ms);
            if windows.len() >= self.max_principals {
                return Err(1);
            }
        }
        let window = windows.entry(principal.to_string()).or_insert(Window {
            start_ms,
            len_ms,
            count: 0,
        });
        // A later window, or a changed limit, starts afresh. If the clock
        // went back, the stored window stands: a clock step must not
        // hand out a fresh allowance.
        if window.len_ms != len_ms || start_ms > window.start_ms {
            *window = Window {
                start_ms,
                len_ms,
                count: 0,
            };
        }
        if window.count < limit.calls {
            window.count += 1;
            return Ok(());
        }
        let wait_ms = window.end_ms().saturating_sub(now_ms).clamp(1, len_ms);
        Err(wait_ms.unsigned_abs().div_ceil(1000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(calls: u32, window_seconds: u32) -> RateLimit {
        RateLimit {
            calls,
            window_seconds,
        }
    }

    #[test]
    fn allows_n_then_denies_with_retry_after() {
        let r = RateLimiter::new(10);
        let l = lim(3, 10);
        // 2.5 s into a 10 s window.
        let t = 1_000_002_500;
        for _ in 0..3 {
            assert_eq!(r.check("alice", l, t), Ok(()));
        }
        assert_eq!(r.check("alice", l, t), Err(8)); // 7.5 s left, rounded up
        assert_eq!(r.check("alice", l, t + 7_000), Err(1)); // 0.5 s left
        assert_eq!(r.check("alice", l, t + 6_500), Err(1)); // exactly 1 s left
        assert_eq!(r.check("alice", l, t + 6_499), Err(2));
    }

    #[test]
    fn new_window_resets() {
        let r = RateLimiter::new(10);
        let l = lim(2, 1);
        let t = 5_000;
        assert_eq!(r.check("a", l, t), Ok(()));
        assert_eq!(r.check("a", l, t + 10), Ok(()));
        assert_eq!(r.check("a", l, t + 999), Err(1));
        assert_eq!(r.check("a", l, t + 1000), Ok(()));
        assert_eq!(r.check("a", l, t + 1001), Ok(()));
        assert_eq!(r.check("a", l, t + 1002), Err(1));
    }

    #[test]
    fn principals_are_independent() {
        let r = RateLimiter::new(10);
        let l = lim(1, 60);
        assert_eq!(r.check("a", l, 0), Ok(()));
        assert!(r.check("a", l, 0).is_err());
        assert_eq!(r.check("b", l, 0), Ok(()));
        assert!(r.check("b", l, 1).is_err());
    }

    #[test]
    fn full_map_fails_closed_then_reuses_expired() {
        let r = RateLimiter::new(2);
        let l = lim(5, 1);
        assert_eq!(r.check("a", l, 0), Ok(()));
        assert_eq!(r.check("b", l, 0), Ok(()));
        assert_eq!(r.check("c", l, 500), Err(1));
        // Known principals still work while full.
        assert_eq!(r.check("a", l, 500), Ok(()));
        // Once their windows end, they make room.
        assert_eq!(r.check("c", l, 1000), Ok(()));
        assert_eq!(RateLimiter::new(0).check("a", l, 0), Err(1));
    }

    #[test]
    fn clock_going_back_keeps_the_window() {
        let r = RateLimiter::new(4);
        let l = lim(1, 10);
        assert_eq!(r.check("a", l, 25_000), Ok(()));
        // Back into the previous window: still limited, retry within bounds.
        let e = r.check("a", l, 15_000).unwrap_err();
        assert!((1..=10).contains(&e));
    }

    #[test]
    fn changed_limit_starts_fresh_and_odd_inputs_do_not_panic() {
        let r = RateLimiter::new(4);
        assert_eq!(r.check("a", lim(1, 10), 0), Ok(()));
        assert!(r.check("a", lim(1, 10), 0).is_err());
        assert_eq!(r.check("a", lim(1, 20), 0), Ok(()));
        assert_eq!(r.check("z", lim(0, 0), i64::MAX), Err(1));
        assert_eq!(r.check("y", lim(1, 86_400), i64::MIN), Ok(()));
        assert!(r.check("y", lim(1, 86_400), i64::MIN).unwrap_err() >= 1);
    }
}
