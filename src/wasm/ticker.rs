//! The epoch ticker: one thread per engine bumps the wasmtime epoch every
//! `EPOCH_TICK`, so a running guest is interrupted within a tick of its
//! deadline. The thread stops when the engine (the `Ticker`) is dropped.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

/// Epoch period: the precision of guest timeouts.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Handle whose drop stops the ticker thread.
pub struct Ticker {
    _stop: Sender<()>,
}

impl Ticker {
    /// Starts the ticker thread for `engine`.
    pub fn start(engine: wasmtime::Engine) -> std::io::Result<Ticker> {
        let (stop, stopped) = mpsc::channel::<()>();
        thread::Builder::new()
            .name("wasm-epoch".into())
            .stack_size(128 * 1024)
            .spawn(move || {
                // Ticks are scheduled on absolute instants, so they do not drift.
                let mut next = Instant::now() + EPOCH_TICK;
                loop {
                    let wait = next.saturating_duration_since(Instant::now());
                    match stopped.recv_timeout(wait) {
                        Err(RecvTimeoutError::Timeout) => engine.increment_epoch(),
                        // The engine was dropped (or asked us to stop).
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                    next += EPOCH_TICK;
                    // After a long stall (suspended machine), resync instead of bursting.
                    let now = Instant::now();
                    if next + EPOCH_TICK < now {
                        next = now + EPOCH_TICK;
                    }
                }
            })?;
        Ok(Ticker { _stop: stop })
    }
}

/// Epoch ticks to allow for `timeout`: never less than the timeout, at most
/// about one tick more (the current tick may be about to end).
pub fn deadline_ticks(timeout: Duration) -> u64 {
    let tick = EPOCH_TICK.as_nanos();
    let ticks = timeout.as_nanos().div_ceil(tick).saturating_add(1);
    u64::try_from(ticks).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_up_plus_one() {
        assert_eq!(deadline_ticks(Duration::ZERO), 1);
        assert_eq!(deadline_ticks(Duration::from_millis(10)), 2);
        assert_eq!(deadline_ticks(Duration::from_millis(11)), 3);
        assert_eq!(deadline_ticks(Duration::from_secs(10)), 1001);
        assert_eq!(deadline_ticks(Duration::MAX), u64::MAX);
    }
}
