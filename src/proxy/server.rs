//! The serving skeleton shared by the sandbox's egress proxy and
//! `latchgate gateway`: a bounded thread-per-connection accept loop on a
//! Unix listener, and the keep-alive request loop of one connection (each
//! request head bounded in size and time, idle waits between requests).

use super::conn::AgentReader;
use super::head::{self, HeadError, RequestHead};
use super::reply;
use std::io::{BufRead, BufReader};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a client may take to send a whole request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Stack of a connection thread (buffers are on the heap; rustls and ring
/// need some room for the handshake).
const CONN_STACK: usize = 256 * 1024;
/// Read buffer on the client side.
const CLIENT_BUF: usize = 16 * 1024;
/// Pause after a failed accept.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);
/// Consecutive failed accepts (10 s of them) after which the listener is
/// taken for broken.
const MAX_ACCEPT_FAILURES: u32 = 200;

/// Serves one request whose head has been read; true when the connection
/// may carry another request.
pub type OnRequest<'a> =
    dyn Fn(&UnixStream, &mut BufReader<AgentReader>, &RequestHead) -> bool + 'a;

/// Accepts until `stopping` is set and the listener is shut down, or the
/// listener keeps failing. Each connection runs `serve` on its own thread;
/// `live` counts them, and beyond `limit` at once a connection is closed
/// at once.
pub fn accept_loop(
    listener: &UnixListener,
    stopping: &AtomicBool,
    live: &Arc<AtomicUsize>,
    limit: usize,
    thread_name: &str,
    serve: Arc<dyn Fn(UnixStream) + Send + Sync>,
) {
    let mut failures = 0u32;
    for conn in listener.incoming() {
        let conn = match conn {
            Ok(c) => {
                failures = 0;
                c
            }
            // A transient failure (out of descriptors, an aborted
            // connection) must not end the server; stopping or a listener
            // that keeps failing does.
            Err(_) if stopping.load(Ordering::SeqCst) || failures >= MAX_ACCEPT_FAILURES => return,
            Err(_) => {
                failures += 1;
                std::thread::sleep(ACCEPT_RETRY);
                continue;
            }
        };
        if live.fetch_add(1, Ordering::SeqCst) >= limit {
            live.fetch_sub(1, Ordering::SeqCst);
            continue; // dropped: the client sees a reset
        }
        let live2 = live.clone();
        let serve2 = serve.clone();
        let spawned = std::thread::Builder::new()
            .name(thread_name.into())
            .stack_size(CONN_STACK)
            .spawn(move || {
                serve2(conn);
                live2.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            live.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Reads request heads from `conn` one after another (keep-alive) and
/// hands each to `on_request`, until it returns false or the client goes.
/// A malformed head gets 400, an oversized one 431.
pub fn request_loop(conn: &UnixStream, idle: Duration, on_request: &OnRequest<'_>) {
    let Ok(read_half) = conn.try_clone() else {
        return;
    };
    if conn.set_write_timeout(Some(idle)).is_err() {
        return;
    }
    let mut reader = BufReader::with_capacity(CLIENT_BUF, AgentReader::new(read_half, idle));
    let mut first = true;
    loop {
        if !first {
            // Between requests the client may idle (a pooled connection);
            // once its next request starts, the head deadline applies.
            reader.get_mut().idle_mode();
            match reader.fill_buf() {
                Ok(b) if !b.is_empty() => {}
                _ => return,
            }
        }
        first = false;
        reader.get_mut().head_mode(Instant::now() + HEAD_TIMEOUT);
        let head = match head::read_request(&mut reader) {
            Ok(h) => h,
            Err(HeadError::Closed | HeadError::Io(_)) => return,
            Err(HeadError::TooLarge) => {
                reply::refuse(conn, 431, "bad_request", "request head too large");
                return;
            }
            Err(HeadError::Malformed(what)) => {
                reply::refuse(conn, 400, "bad_request", &format!("malformed {what}"));
                return;
            }
        };
        reader.get_mut().idle_mode();
        if !on_request(conn, &mut reader, &head) {
            return;
        }
    }
}
