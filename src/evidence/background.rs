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
    /// Records up to `seq` (chain hash `hash`) are durable.
    Durable(u64, String),
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
    let mut pending: Option<(u64, String)> = None;
    let mut next_head = Instant::now();
    loop {
        let now = Instant::now();
        let mut wake = next_tick;
        if pending.is_some() {
            wake = wake.min(next_head);
        }
        match rx.recv_timeout(wake.saturating_duration_since(now)) {
            Ok(BgMsg::Durable(seq, hash)) => pending = Some((seq, hash)),
            Ok(BgMsg::Stop) | Err(RecvTimeoutError::Disconnected) => {
                if let (Some((seq, hash)), Some(ledger)) = (pending.take(), inner.upgrade()) {
                    let _ = ledger.write_head(seq, &hash);
                }
                return;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        if pending.is_some() && now >= next_head {
            let Some(ledger) = inner.upgrade() else {
                return;
            };
            if let Some((seq, hash)) = pending.take() {
                let _ = ledger.write_head(seq, &hash);
            }
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
