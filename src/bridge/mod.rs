//! `latchgate bridge`: relays every connection accepted on one socket (TCP
//! or Unix) to a target socket (TCP or Unix), the job `socat
//! TCP-LISTEN:...,fork,reuseaddr UNIX-CONNECT:...` did in front of the
//! LLM gateway (issue 8).
//!
//! Threads: the main thread owns the listener and a signalfd and waits on
//! both with poll(2); each accepted connection gets a thread (bounded by
//! `max_connections`; beyond it a connection is accepted and closed at
//! once) that opens the target and relays, with one helper thread for the
//! other direction. SIGTERM, SIGINT or SIGHUP closes the listener (new
//! connections are refused), waits for the open ones to end and returns
//! 0; a second one returns at once.

pub mod addr;
mod connect;
pub mod listener;
pub mod ready;
mod relay;
mod stream;

use addr::{Listen, Target};
use listener::Listener;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stream::Stream;

/// Default `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Default `--connect-timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `--idle-timeout`: long LLM turns stream nothing for minutes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// Default `--socket-mode`.
pub const DEFAULT_SOCKET_MODE: u32 = 0o660;

/// Stack of a connection thread (copy buffers are on the heap).
const CONN_STACK: usize = 128 * 1024;
/// How often the drain looks at the number of open connections.
const DRAIN_POLL_MS: i32 = 20;
/// Accepts per wake-up, so a flood cannot starve the signal check.
const ACCEPT_BATCH: usize = 64;
/// Pause after an accept failure such as running out of descriptors
/// (the listener stays readable, so poll would spin).
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);
/// At most one warning of a kind per this interval.
const WARN_EVERY: Duration = Duration::from_secs(1);

/// What the bridge does, as parsed from the command line.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where to listen.
    pub listen: Listen,
    /// Where each connection goes.
    pub connect: Target,
    /// Mode of a Unix listening socket's file.
    pub socket_mode: u32,
    /// Connections relayed at once; more are closed on arrival.
    pub max_connections: usize,
    /// Limit for opening the target connection.
    pub connect_timeout: Duration,
    /// A connection with no byte either way for this long is closed.
    pub idle_timeout: Duration,
}

/// Runs the bridge until a signal ends it; returns the exit code: 0 after
/// a graceful stop, 1 when it could not start (message on stderr),
/// 128 + N when a second signal N cut the drain short.
pub fn run(opts: Options, ready: Option<ready::Ready>) -> i32 {
    // Before any thread exists, so every thread inherits the blocked mask.
    let signals = match crate::sys::events::signal_fd() {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("latchgate bridge: cannot set up signal handling: {e}");
            return 1;
        }
    };
    let listener = match listener::bind(&opts.listen, opts.socket_mode) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("latchgate bridge: {e}");
            return 1;
        }
    };
    eprintln!(
        "latchgate bridge: relaying {} to {} (at most {} connections)",
        listener.describe(),
        opts.connect,
        opts.max_connections
    );
    if let Some(r) = ready {
        if let Err(e) = r.signal() {
            eprintln!("latchgate bridge: --ready-fd: cannot write the ready byte: {e}");
        }
    }
    Server::new(opts).serve(listener, &signals)
}

/// What every connection thread needs.
struct Shared {
    target: Target,
    connect_timeout: Duration,
    idle_timeout: Duration,
}

/// One counted connection; dropping the last handle frees its place.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The accepting side: the connection count, its limit, warnings.
struct Server {
    shared: Arc<Shared>,
    max: usize,
    live: Arc<AtomicUsize>,
    last_warning: Option<Instant>,
}

impl Server {
    fn new(opts: Options) -> Server {
        Server {
            shared: Arc::new(Shared {
                target: opts.connect,
                connect_timeout: opts.connect_timeout,
                idle_timeout: opts.idle_timeout,
            }),
            max: opts.max_connections,
            live: Arc::new(AtomicUsize::new(0)),
            last_warning: None,
        }
    }

    /// The main loop: accept while listening, drain after a signal.
    fn serve(&mut self, listener: Listener, signals: &OwnedFd) -> i32 {
        let mut listener = Some(listener);
        loop {
            if listener.is_none() && self.open() == 0 {
                return 0;
            }
            let mut fds = vec![signals.as_raw_fd()];
            if let Some(l) = &listener {
                fds.push(l.raw_fd());
            }
            // While draining, look at the count of open connections often.
            let timeout = if listener.is_some() {
                -1
            } else {
                DRAIN_POLL_MS
            };
            let ready = match crate::sys::events::poll(&fds, timeout) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("latchgate bridge: poll: {e}");
                    return 1;
                }
            };
            if ready.first() == Some(&true) {
                if let Some(sig) = stop_signal(signals) {
                    match listener.take() {
                        Some(l) => {
                            // Closing the listener refuses new connections at
                            // once and removes a Unix socket file.
                            drop(l);
                            eprintln!(
                                "latchgate bridge: stopping: no new connections; waiting for {} open one(s)",
                                self.open()
                            );
                        }
                        None => {
                            eprintln!(
                                "latchgate bridge: second signal: exiting with {} connection(s) open",
                                self.open()
                            );
                            return 128 + sig;
                        }
                    }
                    continue;
                }
            }
            if let (Some(l), Some(true)) = (&listener, ready.get(1)) {
                self.accept_batch(l);
            }
        }
    }

    fn open(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    fn accept_batch(&mut self, l: &Listener) {
        for _ in 0..ACCEPT_BATCH {
            match l.accept() {
                Ok(conn) => self.admit(conn),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // The client gave up before we took it, or a signal: next.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    // Out of descriptors or memory: pause instead of spinning.
                    self.warn(&format!("accept: {e}"));
                    std::thread::sleep(ACCEPT_PAUSE);
                    return;
                }
            }
        }
    }

    /// Starts a thread for `conn`, or closes it at once when the limit is
    /// reached (the client sees the close, never a hang).
    fn admit(&mut self, conn: Stream) {
        if self.live.fetch_add(1, Ordering::SeqCst) >= self.max {
            self.live.fetch_sub(1, Ordering::SeqCst);
            drop(conn);
            let max = self.max;
            self.warn(&format!(
                "{max} connections open (--max-connections): closed a new one"
            ));
            return;
        }
        let slot = Arc::new(Slot(self.live.clone()));
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new()
            .name("bridge-conn".into())
            .stack_size(CONN_STACK)
            .spawn(move || handle(conn, &shared, slot));
        // On failure the closure, with the connection and its slot, is dropped.
        if let Err(e) = spawned {
            self.warn(&format!("cannot start a connection thread: {e}"));
        }
    }

    /// One line on stderr, at most one per second.
    fn warn(&mut self, msg: &str) {
        let now = Instant::now();
        if self
            .last_warning
            .is_some_and(|t| now.duration_since(t) < WARN_EVERY)
        {
            return;
        }
        self.last_warning = Some(now);
        eprintln!("latchgate bridge: {msg}");
    }
}

/// Reads one pending signal; Some for the ones that stop the bridge
/// (SIGTERM, SIGINT, SIGHUP). Others (SIGQUIT, SIGUSR1, SIGWINCH, ...) are
/// read and ignored.
fn stop_signal(signals: &OwnedFd) -> Option<i32> {
    let sig = crate::sys::events::read_signal(signals).ok()?;
    matches!(sig, libc::SIGTERM | libc::SIGINT | libc::SIGHUP).then_some(sig)
}

/// One connection: open the target, relay, close. The slot is shared with
/// a connect helper that may outlive a timed-out attempt.
fn handle(client: Stream, shared: &Shared, slot: Arc<Slot>) {
    match connect::open(&shared.target, shared.connect_timeout, slot.clone()) {
        Ok(target) => {
            relay::run(client, target, shared.idle_timeout);
        }
        Err(e) => {
            eprintln!("latchgate bridge: cannot connect to {}: {e}", shared.target);
            let _ = client.shutdown(std::net::Shutdown::Both);
        }
    }
    drop(slot);
}
