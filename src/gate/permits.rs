//! A counting semaphore (Mutex + Condvar) bounding concurrent WASM runs.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// At most `n` holders at once.
pub struct Permits {
    free: Mutex<usize>,
    cv: Condvar,
}

/// Returned by `acquire`; gives the permit back when dropped.
pub struct Permit<'a>(&'a Permits);

impl Permits {
    /// `n` permits.
    pub fn new(n: usize) -> Permits {
        Permits {
            free: Mutex::new(n),
            cv: Condvar::new(),
        }
    }
    /// Waits up to `timeout` for a permit; `None` when none came free.
    pub fn acquire(&self, timeout: Duration) -> Option<Permit<'_>> {
        let deadline = Instant::now() + timeout;
        let mut free = self.free.lock().ok()?;
        while *free == 0 {
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            free = self.cv.wait_timeout(free, deadline - now).ok()?.0;
        }
        *free -= 1;
        Some(Permit(self))
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Ok(mut free) = self.0.free.lock() {
            *free += 1;
        }
        self.0.cv.notify_one();
    }
}
