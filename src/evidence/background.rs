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

fn run(inner: Weak<Inner>, rx: Receiver<BgMsg>, tick: Duration) {
    let mut next_tick = Instant::now() + tick;
    loop {
        let wait = next_tick.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(BgMsg::Durable(mut seq, mut hash)) => {
                // Only the newest head matters: skip to the last queued one.
                let mut stop = false;
                loop {
                    match rx.try_recv() {
                        Ok(BgMsg::Durable(s, h)) => {
                            seq = s;
                            hash = h;
                        }
                        Ok(BgMsg::Stop) => {
                            stop = true;
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let Some(ledger) = inner.upgrade() else {
                    return;
                };
                // A failure poisons the ledger inside write_head.
                let _ = ledger.write_head(seq, &hash);
                if stop {
                    return;
                }
            }
            Ok(BgMsg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                next_tick = Instant::now() + tick;
                let Some(ledger) = inner.upgrade() else {
                    return;
                };
                // Errors poison the ledger; appends will report them.
                let _ = ledger.tick();
            }
        }
    }
}
