//! The sandbox's egress proxy, host side, on the session's `proxy.sock`
//! (reached from inside through the loopback forwarder). One thread per
//! connection, bounded, header read timeouts.
//!
//! This first version refuses everything: CONNECT tunnels and credential
//! routes arrive with issue 7. Refusing is the fail-closed default: the
//! agent's only working way out meanwhile is the gate socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Most connections served at once; more are closed at once.
pub const MAX_CONNECTIONS: usize = 256;
/// How long a client may take to send its request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// A running proxy: its accept thread stops when the listener is shut down.
pub struct Proxy {
    listener: Arc<UnixListener>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Serves `listener` on a background thread.
    pub fn start(listener: UnixListener) -> std::io::Result<Proxy> {
        let listener = Arc::new(listener);
        let l = listener.clone();
        let live = Arc::new(AtomicUsize::new(0));
        let accept = std::thread::Builder::new()
            .name("proxy-accept".into())
            .spawn(move || accept_loop(&l, &live))?;
        Ok(Proxy {
            listener,
            accept: Some(accept),
        })
    }

    /// Stops accepting (connections in flight end on their own; the
    /// accept thread ends with the listener, nobody waits for it).
    pub fn stop(mut self) {
        use std::os::fd::AsRawFd;
        crate::sys::shutdown_listener(self.listener.as_raw_fd());
        drop(self.accept.take());
    }
}

fn accept_loop(listener: &UnixListener, live: &Arc<AtomicUsize>) {
    for conn in listener.incoming() {
        let Ok(conn) = conn else { return };
        if live.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            live.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let live2 = live.clone();
        let spawned = std::thread::Builder::new()
            .name("proxy-conn".into())
            .stack_size(128 * 1024)
            .spawn(move || {
                serve(conn);
                live2.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            live.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Reads the request line and refuses it: a CONNECT is closed without a
/// byte (the forwarder turns that into a reset), anything else gets a
/// JSON 404 (no credential route is configured yet).
fn serve(conn: UnixStream) {
    let _ = conn.set_read_timeout(Some(HEAD_TIMEOUT));
    let mut reader = BufReader::new(&conn).take(8 * 1024);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    if line.starts_with("CONNECT ") {
        return;
    }
    let body = r#"{"error":{"code":"route_not_found","message":"no credential route is configured for this sandbox"}}"#;
    let mut w = &conn;
    let _ = write!(
        w,
        "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}
