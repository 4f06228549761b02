//! A small pool of run threads with a known stack size. Threads are started
//! on demand (so the pool grows to the caller's own concurrency bound) and
//! reused, because starting a thread per run costs more than the run.

use std::io;
use std::sync::mpsc::{self, SendError, Sender};
use std::sync::{Mutex, PoisonError};
use std::thread;

/// Work for one pool thread.
pub type Task = Box<dyn FnOnce() + Send + 'static>;

/// Idle threads kept beyond this many exit instead of waiting.
const MAX_IDLE: usize = 64;

/// The pool. Dropping it lets idle threads exit.
pub struct Pool {
    idle: Mutex<Vec<Sender<Task>>>,
    name: &'static str,
    stack: usize,
}

/// The thread a task was handed to; give it back with `Pool::release` once
/// the task has signalled that it finished.
pub struct Lease(Sender<Task>);

impl Pool {
    /// An empty pool whose threads get `name` and `stack` bytes of stack.
    pub fn new(name: &'static str, stack: usize) -> Pool {
        Pool {
            idle: Mutex::new(Vec::new()),
            name,
            stack,
        }
    }

    /// Runs `task` on an idle thread, or on a new one if none is idle.
    pub fn spawn(&self, mut task: Task) -> io::Result<Lease> {
        loop {
            let idle = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let Some(thread) = idle else {
                break;
            };
            match thread.send(task) {
                Ok(()) => return Ok(Lease(thread)),
                // That thread is gone (its last task panicked): try the next.
                Err(SendError(back)) => task = back,
            }
        }
        let (tx, rx) = mpsc::channel::<Task>();
        thread::Builder::new()
            .name(self.name.into())
            .stack_size(self.stack)
            .spawn(move || {
                while let Ok(task) = rx.recv() {
                    task();
                }
            })?;
        tx.send(task)
            .map_err(|_| io::Error::other("new pool thread exited at once"))?;
        Ok(Lease(tx))
    }

    /// Returns a thread whose task has finished to the idle list.
    pub fn release(&self, lease: Lease) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(lease.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a task that reports its thread id; waits for it.
    fn thread_of(pool: &Pool) -> (thread::ThreadId, Lease) {
        let (tx, rx) = mpsc::channel();
        let lease = match pool.spawn(Box::new(move || {
            let _ = tx.send(thread::current().id());
        })) {
            Ok(l) => l,
            Err(e) => panic!("spawn: {e}"),
        };
        match rx.recv() {
            Ok(id) => (id, lease),
            Err(e) => panic!("task did not run: {e}"),
        }
    }

    #[test]
    fn released_threads_are_reused_and_busy_ones_are_not() {
        let pool = Pool::new("pool-test", 64 * 1024);
        let (a, lease_a) = thread_of(&pool);
        // `a` is still leased: a second task gets another thread.
        let (b, lease_b) = thread_of(&pool);
        assert_ne!(a, b);
        pool.release(lease_a);
        pool.release(lease_b);
        let (c, _) = thread_of(&pool);
        assert!(c == a || c == b, "an idle thread was not reused");
    }
}
