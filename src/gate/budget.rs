//! Per-lease call budgets (`budgets.max_calls`): created at lease issuance,
//! debited atomically before dispatch, refunded only when the call fails
//! before dispatch. Entries expire with their lease (plus a minute).

use std::collections::HashMap;
use std::sync::Mutex;

/// Budgets by session id: (calls remaining, expires at unix seconds).
#[derive(Default)]
pub struct Budgets {
    inner: Mutex<HashMap<String, (u64, i64)>>,
}

/// Why a debit failed.
#[derive(Debug, PartialEq)]
pub enum DebitError {
    /// No calls left.
    Exhausted,
    /// The lease asked for a budget but none is stored (expired or lost).
    NotFound,
    /// The store is unusable (poisoned lock).
    Unavailable,
}

impl Budgets {
    /// Creates the counter for a new lease.
    pub fn create(
        &self,
        session_id: &str,
        max_calls: u64,
        expires_at: i64,
    ) -> Result<(), DebitError> {
        let mut m = self.inner.lock().map_err(|_| DebitError::Unavailable)?;
        let now = crate::time::unix_now();
        m.retain(|_, (_, exp)| *exp > now);
        m.insert(session_id.to_string(), (max_calls, expires_at + 60));
        Ok(())
    }
    /// Takes one call; returns the calls remaining after it.
    pub fn debit(&self, session_id: &str) -> Result<u64, DebitError> {
        let mut m = self.inner.lock().map_err(|_| DebitError::Unavailable)?;
        let now = crate::time::unix_now();
        match m.get_mut(session_id) {
            Some((_, exp)) if *exp <= now => Err(DebitError::NotFound),
            Some((0, _)) => Err(DebitError::Exhausted),
            Some((n, _)) => {
                *n -= 1;
                Ok(*n)
            }
            None => Err(DebitError::NotFound),
        }
    }
    /// Gives one call back (only for failures before dispatch).
    pub fn refund(&self, session_id: &str) {
        if let Ok(mut m) = self.inner.lock() {
            if let Some((n, _)) = m.get_mut(session_id) {
                *n += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debit_until_exhausted_then_refund() {
        let b = Budgets::default();
        let exp = crate::time::unix_now() + 300;
        b.create("s", 2, exp).unwrap();
        assert_eq!(b.debit("s"), Ok(1));
        assert_eq!(b.debit("s"), Ok(0));
        assert_eq!(b.debit("s"), Err(DebitError::Exhausted));
        b.refund("s");
        assert_eq!(b.debit("s"), Ok(0));
        assert_eq!(b.debit("other"), Err(DebitError::NotFound));
    }
}
