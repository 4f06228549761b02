//! The ledger's background thread: rewrites head.json after durable
//! batches (so responses never wait for it) and appends a checkpoint on a
//! timer when there was activity.

use super::ledger::Inner;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Weak;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Messages to the background thread.
pub(crate) enum BgMsg {
    /// New records are durable: write a head for the newest one when due.
    HeadDue,
    /// Finish pending work and exit.
    Stop,
}

/// Starts the thread. It holds only a weak reference, so it never keeps
/// the ledger alive.
pub(crate) fn spawn(
    inner: Weak<Inner>,
    rx: Receiver<BgMsg>,
    tick: Duration,
) -> std::io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("ledger-head".into())
        .stack_size(256 * 1024)
        .spawn(move || run(inner, rx, tick))
}

/// At most one head rewrite (two fsyncs) per this interval under load, so
/// the head does not compete with the ledger's own fsyncs on every batch.
/// A clean shutdown writes the head synchronously (`Ledger::checkpoint`).
pub(crate) const HEAD_MIN_INTERVAL: Duration = Duration::from_millis(200);

fn run(inner: Weak<Inner>, rx: Receiver<BgMsg>, tick: Duration) {
    let mut next_tick = Instant::now() + tick;
    let mut pending = false;
    let mut next_head = Instant::now();
    loop {
        let now = Instant::now();
        let mut wake = next_tick;
        if pending {
            wake = wake.min(next_head);
        }
        match rx.recv_timeout(wake.saturating_duration_since(now)) {
            Ok(BgMsg::HeadDue) => pending = true,
            Ok(BgMsg::Stop) | Err(RecvTimeoutError::Disconnected) => {
                if let (true, Some(ledger)) = (pending, inner.upgrade()) {
                    let _ = ledger.write_head_for_latest();
                }
                return;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        if pending && now >= next_head {
            let Some(ledger) = inner.upgrade() else {
                return;
            };
            pending = false;
            let _ = ledger.write_head_for_latest();
            next_head = Instant::now() + HEAD_MIN_INTERVAL;
        }
        if now >= next_tick {
            next_tick = now + tick;
            let Some(ledger) = inner.upgrade() else {
                return;
            };
            let _ = ledger.tick();
        }
    }
}
