//! A bounded thread-per-connection HTTP/1.1 server over Unix and TCP sockets.
//!
//! Each accepted connection gets its own thread (blocking I/O, read and write
//! timeouts); past `max_connections` a connection gets a 503 JSON answer and
//! is closed at once, never queued. `Shutdown::begin` stops the accept loops.

use super::http::{self, ReadError, Request, Response};
use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Who is on the other end of a connection.
#[derive(Clone, Debug)]
pub enum Peer {
    /// A Unix socket peer with its uid (SO_PEERCRED), when the kernel told us.
    Unix { uid: Option<u32> },
    /// A TCP peer address.
    Tcp(std::net::SocketAddr),
}

/// The request handler: one call per request, on the connection's thread.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, req: &Request, peer: &Peer) -> Response;
}

/// Server limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Most connections served at once per server (shared by its listeners).
    pub max_connections: usize,
    /// Largest request body.
    pub max_body: usize,
    /// Time allowed to receive a whole request once it starts, and idle keep-alive time.
    pub read_timeout: Duration,
    /// Time allowed for writing a response.
    pub write_timeout: Duration,
}

/// Tracks in-flight connections and the stop flag; shared with the accept loops.
#[derive(Default)]
pub struct Shutdown {
    stopping: AtomicBool,
    active: AtomicUsize,
    idle: (Mutex<()>, Condvar),
    listener_fds: Mutex<Vec<std::os::fd::RawFd>>,
    /// Open connections, so shutdown can end idle keep-alive ones at once.
    conn_fds: Mutex<std::collections::HashSet<std::os::fd::RawFd>>,
}

impl Shutdown {
    /// True once shutdown began.
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
    /// Stops accepting: marks the flag and wakes every accept loop.
    pub fn begin(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Ok(fds) = self.listener_fds.lock() {
            for fd in fds.iter() {
                crate::sys::shutdown_listener(*fd);
            }
        }
        // Stop reading on every connection: an idle keep-alive one sees EOF
        // and closes; one mid-request still writes its answer, then closes.
        if let Ok(fds) = self.conn_fds.lock() {
            for fd in fds.iter() {
                crate::sys::shutdown_read(*fd);
            }
        }
    }
    /// Waits until no connection is active or the deadline passes; returns
    /// the number still active.
    pub fn wait_idle(&self, deadline: Instant) -> usize {
        let (lock, cvar) = &self.idle;
        let Ok(mut guard) = lock.lock() else {
            return self.active.load(Ordering::SeqCst);
        };
        loop {
            let n = self.active.load(Ordering::SeqCst);
            let now = Instant::now();
            if n == 0 || now >= deadline {
                return n;
            }
            match cvar.wait_timeout(guard, (deadline - now).min(Duration::from_millis(50))) {
                Ok((g, _)) => guard = g,
                Err(_) => return self.active.load(Ordering::SeqCst),
            }
        }
    }
    /// Connections being served right now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }
}

/// A listening socket.
pub enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

/// Stack for connection threads: enough for the handler plus a WASM run
/// (wasmtime's guest stack limit is set well below this).
const CONN_STACK: usize = 2 * 1024 * 1024;

/// Starts an accept loop thread for `listener`.
pub fn spawn<H: Handler>(
    listener: Listener,
    handler: Arc<H>,
    limits: Limits,
    shutdown: Arc<Shutdown>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let fd = match &listener {
        Listener::Unix(l) => l.as_raw_fd(),
        Listener::Tcp(l) => l.as_raw_fd(),
    };
    if let Ok(mut fds) = shutdown.listener_fds.lock() {
        fds.push(fd);
    }
    std::thread::Builder::new()
        .name("accept".into())
        .spawn(move || loop {
            let accepted = match &listener {
                Listener::Unix(l) => l.accept().map(|(s, _)| {
                    let uid = crate::sys::peer_uid(s.as_raw_fd());
                    (Conn::Unix(s), Peer::Unix { uid })
                }),
                Listener::Tcp(l) => l.accept().map(|(s, a)| {
                    let _ = s.set_nodelay(true);
                    (Conn::Tcp(s), Peer::Tcp(a))
                }),
            };
            if shutdown.stopping() {
                return;
            }
            let (conn, peer) = match accepted {
                Ok(c) => c,
                Err(_) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            let _ = conn.set_timeouts(limits.read_timeout, limits.write_timeout);
            if shutdown.active.fetch_add(1, Ordering::SeqCst) >= limits.max_connections {
                let mut conn = conn;
                let resp = Response::json(503, r#"{"error":"too_many_connections"}"#.into());
                let _ = http::write_response(&mut conn, &resp, false);
                release(&shutdown);
                continue;
            }
            let handler = Arc::clone(&handler);
            let limits_c = limits.clone();
            let shutdown_c = Arc::clone(&shutdown);
            let fd = conn.raw_fd();
            if let Ok(mut fds) = shutdown.conn_fds.lock() {
                fds.insert(fd);
            }
            let spawned = std::thread::Builder::new()
                .name("conn".into())
                .stack_size(CONN_STACK)
                .spawn(move || {
                    serve_connection(conn, &peer, &*handler, &limits_c, &shutdown_c);
                    // Unregistered after the socket is closed; a reused fd
                    // number shut down by a drain in between is harmless.
                    if let Ok(mut fds) = shutdown_c.conn_fds.lock() {
                        fds.remove(&fd);
                    }
                    release(&shutdown_c);
                });
            if spawned.is_err() {
                if let Ok(mut fds) = shutdown.conn_fds.lock() {
                    fds.remove(&fd);
                }
                release(&shutdown);
            }
        })
}

fn release(shutdown: &Shutdown) {
    shutdown.active.fetch_sub(1, Ordering::SeqCst);
    let (lock, cvar) = &shutdown.idle;
    let _guard = lock.lock();
    cvar.notify_all();
}

fn serve_connection<H: Handler>(
    conn: Conn,
    peer: &Peer,
    handler: &H,
    limits: &Limits,
    shutdown: &Shutdown,
) {
    let Ok(write_half) = conn.try_clone() else {
        return;
    };
    let mut writer = write_half;
    let mut reader = BufReader::with_capacity(8192, DeadlineReader::new(conn));
    loop {
        // One deadline for waiting for the request and receiving all of it:
        // a client trickling a byte at a time cannot hold a thread longer.
        reader.get_mut().deadline = Instant::now() + limits.read_timeout;
        let req = match http::read_request(&mut reader, limits.max_body) {
            Ok(r) => r,
            Err(ReadError::Closed) | Err(ReadError::Io(_)) => return,
            Err(ReadError::Bad(status, code, msg)) => {
                let body = crate::obj! { "error" => code, "message" => msg }.to_json();
                if http::write_response(&mut writer, &Response::json(status, body), false).is_ok() {
                    linger(&mut writer, &mut reader.get_mut().conn);
                }
                return;
            }
        };
        let resp = handler.handle(&req, peer);
        let keep_alive = req.keep_alive && !shutdown.stopping();
        if http::write_response(&mut writer, &resp, keep_alive).is_err() || !keep_alive {
            return;
        }
    }
}

/// Lingering close (as nginx does): after an early error answer, stop
/// writing and discard what the client is still sending for a short while,
/// so it reads our answer instead of a connection reset.
fn linger(writer: &mut Conn, reader: &mut Conn) {
    const MAX_DISCARD: usize = 16 * 1024 * 1024;
    let _ = writer.shutdown_write();
    let _ = reader.set_timeouts(Duration::from_secs(2), Duration::from_secs(2));
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut buf = [0u8; 16 * 1024];
    let mut discarded = 0;
    while discarded < MAX_DISCARD && Instant::now() < deadline {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => discarded += n,
        }
    }
}

/// The reading side of a connection, where every read must finish before
/// one deadline (a per-read timeout alone would let a client that sends a
/// byte just before each timeout keep its thread forever).
struct DeadlineReader {
    conn: Conn,
    deadline: Instant,
}

impl DeadlineReader {
    fn new(conn: Conn) -> DeadlineReader {
        DeadlineReader {
            conn,
            deadline: Instant::now(),
        }
    }
}

impl Read for DeadlineReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "request took too long to arrive",
            ));
        }
        self.conn.set_read_timeout(left)?;
        self.conn.read(buf)
    }
}

/// A connected stream of either kind.
enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Conn {
    fn set_timeouts(&self, read: Duration, write: Duration) -> std::io::Result<()> {
        match self {
            Conn::Unix(s) => {
                s.set_read_timeout(Some(read))?;
                s.set_write_timeout(Some(write))
            }
            Conn::Tcp(s) => {
                s.set_read_timeout(Some(read))?;
                s.set_write_timeout(Some(write))
            }
        }
    }
    fn set_read_timeout(&self, read: Duration) -> std::io::Result<()> {
        match self {
            Conn::Unix(s) => s.set_read_timeout(Some(read)),
            Conn::Tcp(s) => s.set_read_timeout(Some(read)),
        }
    }
    fn raw_fd(&self) -> std::os::fd::RawFd {
        match self {
            Conn::Unix(s) => s.as_raw_fd(),
            Conn::Tcp(s) => s.as_raw_fd(),
        }
    }
    fn shutdown_write(&self) -> std::io::Result<()> {
        match self {
            Conn::Unix(s) => s.shutdown(std::net::Shutdown::Write),
            Conn::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
        }
    }
    fn try_clone(&self) -> std::io::Result<Conn> {
        Ok(match self {
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
        })
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(buf),
            Conn::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(buf),
            Conn::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Unix(s) => s.flush(),
            Conn::Tcp(s) => s.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ok200;
    impl Handler for Ok200 {
        fn handle(&self, _req: &Request, _peer: &Peer) -> Response {
            Response::json(200, "{}".into())
        }
    }

    #[test]
    fn a_trickling_client_is_ended_at_the_request_deadline() {
        let path = std::env::temp_dir().join(format!("lg-trickle-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let limits = Limits {
            max_connections: 4,
            max_body: 1024,
            read_timeout: Duration::from_millis(400),
            write_timeout: Duration::from_secs(1),
        };
        let shutdown = Arc::new(Shutdown::default());
        spawn(
            Listener::Unix(listener),
            Arc::new(Ok200),
            limits,
            Arc::clone(&shutdown),
        )
        .unwrap();
        let mut c = UnixStream::connect(&path).unwrap();
        let start = Instant::now();
        // A byte every 100 ms: each read is quick, the request never ends.
        let mut ended = None;
        for b in b"GET / HTTP/1.1\r\nHost: h\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if c.write_all(&[*b]).is_err() {
                ended = Some(start.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let ended = ended.expect("the server kept reading a request that never ended");
        assert!(ended < Duration::from_secs(2), "ended after {ended:?}");
        shutdown.begin();
        let _ = std::fs::remove_file(&path);
    }
}
