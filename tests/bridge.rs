//! `latchgate bridge` (issue 8) against small servers in this process:
//! TCP→UDS, UDS→TCP and TCP→TCP, many connections at once, a 32 MB
//! transfer, half-close, --ready-fd, SIGTERM drain, an unreachable target,
//! --max-connections, --idle-timeout and every argument refusal.
//! Every start goes through --ready-fd (`3>&1` in sh), so each test
//! connects the moment the byte arrives.

mod common;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Generous bound for anything that must not hang.
const PATIENCE: Duration = Duration::from_secs(10);

/// A running bridge with its stderr collected.
struct Bridge {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Bridge {
    /// Starts `latchgate bridge ARGS --ready-fd 3` and returns once the
    /// ready byte has arrived.
    fn start(args: &[&str]) -> Bridge {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" bridge "$@" --ready-fd 3 3>&1"#)
            .arg(common::bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut b = [0u8; 1];
            let _ = tx.send(out.read(&mut b).map(|n| (n, b[0])));
        });
        let mut bridge = Bridge { child, stderr };
        match rx.recv_timeout(PATIENCE) {
            Ok(Ok((1, b'\n'))) => bridge,
            other => {
                let status = bridge.wait(Duration::from_millis(500));
                panic!(
                    "no ready byte ({other:?}, exit {status:?}); stderr:\n{}",
                    bridge.stderr()
                )
            }
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn signal(&self, sig: &str) {
        common::unsafe_free_kill(self.child.id(), sig);
    }

    /// Waits up to `limit` for the exit.
    fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits for stderr to contain `what`.
    fn stderr_shows(&self, what: &str) -> bool {
        let until = Instant::now() + PATIENCE;
        while Instant::now() < until {
            if self.stderr().contains(what) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bridge_cmd(args: &[&str]) -> std::process::Output {
    let mut child = Command::new(common::bin())
        .arg("bridge")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + PATIENCE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > until {
            let _ = child.kill();
            panic!("latchgate bridge {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().unwrap()
}

fn loopback() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap().to_string();
    (l, a)
}

fn free_addr() -> String {
    format!("127.0.0.1:{}", common::free_port())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Serves each connection on its own thread with `f`.
fn serve_tcp(l: TcpListener, f: fn(&mut dyn Duplex)) {
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || f(&mut Tcp(c)));
        }
    });
}

fn serve_unix(l: UnixListener, f: fn(&mut dyn Duplex)) {
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || f(&mut Unix(c)));
        }
    });
}

/// A server-side connection of either kind.
trait Duplex: Read + Write {
    fn close_write(&mut self);
}
struct Tcp(TcpStream);
struct Unix(UnixStream);
impl Read for Tcp {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(b)
    }
}
impl Write for Tcp {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.write(b)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl Duplex for Tcp {
    fn close_write(&mut self) {
        let _ = self.0.shutdown(Shutdown::Write);
    }
}
impl Read for Unix {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(b)
    }
}
impl Write for Unix {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.write(b)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl Duplex for Unix {
    fn close_write(&mut self) {
        let _ = self.0.shutdown(Shutdown::Write);
    }
}

/// Echoes until end of stream, then ends its own side.
fn echo(c: &mut dyn Duplex) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if c.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
    c.close_write();
}

/// Reads the whole request (to the client's half-close), then replies.
fn reply_after_eof(c: &mut dyn Duplex) {
    let mut got = Vec::new();
    if c.read_to_end(&mut got).is_err() {
        return;
    }
    let _ = c.write_all(format!("got {} bytes: ", got.len()).as_bytes());
    let _ = c.write_all(&got);
    c.close_write();
}

fn tcp_client(addr: &str) -> TcpStream {
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(PATIENCE)).unwrap();
    c
}

fn unix_client(path: &Path) -> UnixStream {
    let c = UnixStream::connect(path).unwrap();
    c.set_read_timeout(Some(PATIENCE)).unwrap();
    c
}

/// One echo exchange on an open connection.
fn exchange<S: Read + Write>(mut c: S, msg: &[u8]) {
    c.write_all(msg).unwrap();
    let mut back = vec![0u8; msg.len()];
    c.read_exact(&mut back).unwrap();
    assert_eq!(back, msg);
}

/// Reading gives end of stream or an error (reset), well before PATIENCE.
fn assert_closed<S: Read>(mut c: S) {
    let start = Instant::now();
    let mut b = [0u8; 16];
    match c.read(&mut b) {
        Ok(0) => {}
        Err(e) => assert!(
            !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "connection left hanging"
        ),
        Ok(n) => panic!("unexpected {n} bytes"),
    }
    assert!(start.elapsed() < Duration::from_secs(5));
}

/// Deterministic bytes that are not all alike.
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn tcp_to_uds_many_connections_at_once() {
    let dir = common::scratch("br-t2u");
    let sock = dir.join("gw.sock");
    serve_unix(UnixListener::bind(&sock).unwrap(), echo);
    let listen = free_addr();
    let b = Bridge::start(&["--listen", &listen, "--connect", s(&sock)]);
    let clients: Vec<_> = (0..64)
        .map(|i| {
            let listen = listen.clone();
            std::thread::spawn(move || {
                let c = tcp_client(&listen);
                for j in 0..20 {
                    let msg = pattern(1 + (i * 97 + j * 1031) % 20_000);
                    exchange(&c, &msg);
                }
                c.shutdown(Shutdown::Write).unwrap();
                assert_closed(&c);
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    assert!(!b.stderr().contains("cannot"), "{}", b.stderr());
}

#[test]
fn uds_to_tcp_with_socket_mode_then_sigterm_removes_the_socket() {
    let dir = common::scratch("br-u2t");
    let (l, target) = loopback();
    serve_tcp(l, echo);
    let sock = dir.join("b.sock");
    let mut b = Bridge::start(&[
        "--listen",
        s(&sock),
        "--connect",
        &target,
        "--socket-mode",
        "0600",
    ]);
    let meta = std::fs::symlink_metadata(&sock).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    exchange(unix_client(&sock), b"hello over a unix socket");
    b.signal("TERM");
    let st = b.wait(PATIENCE).expect("bridge exits after SIGTERM");
    assert_eq!(st.code(), Some(0), "{}", b.stderr());
    assert!(!sock.exists());
}

#[test]
fn tcp_to_tcp_32_mb_both_ways_intact() {
    let (l, target) = loopback();
    serve_tcp(l, echo);
    let listen = free_addr();
    let _b = Bridge::start(&["--listen", &listen, "--connect", &target]);
    let data = Arc::new(pattern(32 << 20));
    let c = tcp_client(&listen);
    let w = c.try_clone().unwrap();
    let d2 = data.clone();
    let writer = std::thread::spawn(move || {
        (&w).write_all(&d2).unwrap();
        w.shutdown(Shutdown::Write).unwrap(); // the echo ends at this EOF
    });
    let mut back = Vec::with_capacity(data.len());
    (&c).read_to_end(&mut back).unwrap();
    writer.join().unwrap();
    assert_eq!(back.len(), data.len());
    assert_eq!(
        latchgate::crypto::sha256(&back),
        latchgate::crypto::sha256(&data)
    );
}

#[test]
fn half_close_reaches_the_server_and_the_reply_comes_back() {
    let dir = common::scratch("br-half");
    // TCP client → UDS server.
    let sock = dir.join("gw.sock");
    serve_unix(UnixListener::bind(&sock).unwrap(), reply_after_eof);
    let listen = free_addr();
    let _b1 = Bridge::start(&["--listen", &listen, "--connect", s(&sock)]);
    let c = tcp_client(&listen);
    (&c).write_all(b"question").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    (&c).read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "got 8 bytes: question");
    // UDS client → TCP server.
    let (l, target) = loopback();
    serve_tcp(l, reply_after_eof);
    let bsock = dir.join("b.sock");
    let _b2 = Bridge::start(&["--listen", s(&bsock), "--connect", &target]);
    let c = unix_client(&bsock);
    (&c).write_all(b"ask").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    (&c).read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "got 3 bytes: ask");
}

#[test]
fn ready_byte_means_connectable_at_once() {
    let (l, target) = loopback();
    serve_tcp(l, echo);
    for i in 0..5 {
        let listen = free_addr();
        let _b = Bridge::start(&["--listen", &listen, "--connect", &target]);
        // No retry: the listener exists before the byte is written.
        exchange(tcp_client(&listen), format!("round {i}").as_bytes());
    }
    // A descriptor that was not passed, and a standard stream.
    let out = bridge_cmd(&[
        "--listen",
        &free_addr(),
        "--connect",
        &target,
        "--ready-fd",
        "9",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--ready-fd: descriptor 9 is not open"),
        "{err}"
    );
    let out = bridge_cmd(&[
        "--listen",
        &free_addr(),
        "--connect",
        &target,
        "--ready-fd",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--ready-fd: `1` is not allowed; give a whole number from 3"),
        "{err}"
    );
}

#[test]
fn sigterm_refuses_new_connections_and_lets_the_open_one_finish() {
    let dir = common::scratch("br-term");
    let (l, target) = loopback();
    serve_tcp(l, echo);
    let sock = dir.join("b.sock");
    let mut b = Bridge::start(&["--listen", s(&sock), "--connect", &target]);
    let mode = std::fs::symlink_metadata(&sock)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o660, "default --socket-mode");
    let open = unix_client(&sock);
    exchange(&open, b"before");
    b.signal("TERM");
    assert!(b.stderr_shows("stopping"), "{}", b.stderr());
    assert!(!sock.exists(), "socket file removed at once");
    assert!(UnixStream::connect(&sock).is_err());
    // The open connection still works and the bridge waits for it.
    std::thread::sleep(Duration::from_millis(200));
    assert!(b.child.try_wait().unwrap().is_none(), "exited too early");
    exchange(&open, b"after the signal");
    open.shutdown(Shutdown::Write).unwrap();
    assert_closed(&open);
    drop(open);
    let st = b.wait(PATIENCE).expect("exits once the connection ended");
    assert_eq!(st.code(), Some(0), "{}", b.stderr());
}

#[test]
fn second_signal_exits_at_once_and_tcp_connects_are_refused_while_draining() {
    let (l, target) = loopback();
    serve_tcp(l, echo);
    let listen = free_addr();
    let mut b = Bridge::start(&["--listen", &listen, "--connect", &target]);
    let open = tcp_client(&listen);
    exchange(&open, b"x");
    b.signal("TERM");
    assert!(b.stderr_shows("stopping"), "{}", b.stderr());
    let e = TcpStream::connect(&listen).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    exchange(&open, b"still relayed");
    b.signal("INT");
    let st = b
        .wait(Duration::from_secs(3))
        .expect("second signal ends it");
    assert_eq!(st.code(), Some(128 + 2), "{}", b.stderr());
    assert_closed(&open);
}

#[test]
fn unreachable_target_closes_the_client_and_the_bridge_keeps_serving() {
    let dir = common::scratch("br-unreach");
    let sock = dir.join("later.sock");
    let listen = free_addr();
    let b = Bridge::start(&["--listen", &listen, "--connect", s(&sock)]);
    let c = tcp_client(&listen);
    let _ = (&c).write_all(b"GET / HTTP/1.1\r\n\r\n");
    assert_closed(&c);
    assert!(
        b.stderr_shows(&format!("cannot connect to {}: ", sock.display())),
        "{}",
        b.stderr()
    );
    // The target comes up: the next connection is relayed.
    serve_unix(UnixListener::bind(&sock).unwrap(), echo);
    exchange(tcp_client(&listen), b"now it works");
    // A TCP target that refuses.
    let refused = free_addr();
    let listen2 = free_addr();
    let b2 = Bridge::start(&["--listen", &listen2, "--connect", &refused]);
    assert_closed(tcp_client(&listen2));
    assert!(b2.stderr_shows(&format!("cannot connect to {refused}: Connection refused")));
    assert_closed(tcp_client(&listen2));
}

#[test]
fn max_connections_closes_the_excess_at_once() {
    let dir = common::scratch("br-max");
    let sock = dir.join("gw.sock");
    serve_unix(UnixListener::bind(&sock).unwrap(), echo);
    let listen = free_addr();
    let b = Bridge::start(&[
        "--listen",
        &listen,
        "--connect",
        s(&sock),
        "--max-connections",
        "2",
    ]);
    let c1 = tcp_client(&listen);
    let c2 = tcp_client(&listen);
    exchange(&c1, b"one");
    exchange(&c2, b"two");
    assert_closed(tcp_client(&listen));
    assert!(b.stderr_shows("2 connections open (--max-connections)"));
    // A place frees up once a connection has ended.
    c1.shutdown(Shutdown::Write).unwrap();
    assert_closed(&c1);
    drop(c1);
    let until = Instant::now() + PATIENCE;
    loop {
        let c = tcp_client(&listen);
        if (&c).write_all(b"three").is_ok() {
            let mut back = [0u8; 5];
            if (&c).read_exact(&mut back).is_ok() {
                assert_eq!(&back, b"three");
                break;
            }
        }
        assert!(Instant::now() < until, "no place freed");
        std::thread::sleep(Duration::from_millis(20));
    }
    exchange(&c2, b"two still");
}

#[test]
fn idle_connection_is_closed_after_the_idle_timeout() {
    let (l, _) = loopback();
    // HOST:PORT, resolved at the connection.
    let target = format!("localhost:{}", l.local_addr().unwrap().port());
    serve_tcp(l, echo);
    let listen = free_addr();
    let _b = Bridge::start(&[
        "--listen",
        &listen,
        "--connect",
        &target,
        "--idle-timeout",
        "1",
    ]);
    let c = tcp_client(&listen);
    exchange(&c, b"then silence");
    let start = Instant::now();
    assert_closed(&c);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(900), "closed after {took:?}");
}

#[test]
fn listener_problems_exit_1_naming_the_address() {
    let dir = common::scratch("br-listen");
    let (held, busy) = loopback();
    let out = bridge_cmd(&["--listen", &busy, "--connect", "/x/gw.sock"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on {busy}: ")) && err.contains("os error"),
        "{err}"
    );
    drop(held);
    // A regular file at the socket path is left alone.
    let file = dir.join("file.sock");
    std::fs::write(&file, "data").unwrap();
    let out = bridge_cmd(&["--listen", s(&file), "--connect", "127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot listen on {}: the path exists and is not a socket",
            file.display()
        )),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "data");
    // A live socket is refused; a stale one is replaced.
    let live_path = dir.join("live.sock");
    let live = UnixListener::bind(&live_path).unwrap();
    let out = bridge_cmd(&["--listen", s(&live_path), "--connect", "127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another process is listening on this socket"),
        "{err}"
    );
    drop(live); // the file stays, nobody listens
    let (l, target) = loopback();
    serve_tcp(l, echo);
    let _b = Bridge::start(&["--listen", s(&live_path), "--connect", &target]);
    exchange(unix_client(&live_path), b"replaced the stale socket");
}

#[test]
fn bad_arguments_exit_2_with_a_message_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "--listen is required: IP:PORT"),
        (&["--listen", "127.0.0.1:8082"], "--connect is required"),
        (
            &[
                "--listen",
                "127.0.0.1:8082",
                "--connect",
                "/a/b",
                "--frobnicate",
            ],
            "unexpected argument `--frobnicate`",
        ),
        (
            &["--listen", "localhost:8082", "--connect", "/a/b"],
            "--listen: `localhost:8082` is not an address to listen on; give IP:PORT",
        ),
        (
            &["--listen", "127.0.0.1:8082", "--connect", "nohost"],
            "--connect: `nohost` has no port",
        ),
        (
            &[
                "--listen",
                "127.0.0.1:8082",
                "--connect",
                "/a/b",
                "--max-connections",
                "lots",
            ],
            "--max-connections: `lots` is not allowed; give a whole number from 1 to 16384",
        ),
        (
            &[
                "--listen",
                "127.0.0.1:8082",
                "--connect",
                "/a/b",
                "--idle-timeout",
                "0",
            ],
            "--idle-timeout: `0` is not allowed",
        ),
        (
            &["--listen", "/a/b", "--connect", "/a/b"],
            "--listen and --connect are the same address (/a/b)",
        ),
        (
            &[
                "--listen",
                "127.0.0.1:8082",
                "--connect",
                "/a/b",
                "--socket-mode",
                "600",
            ],
            "--socket-mode applies to a Unix socket --listen only",
        ),
        (
            &[
                "--listen",
                "/a/b",
                "--connect",
                "127.0.0.1:1",
                "--socket-mode",
                "999",
            ],
            "--socket-mode: `999` is not allowed",
        ),
    ];
    for (args, want) in cases {
        let out = bridge_cmd(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = bridge_cmd(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--connect",
        "--socket-mode",
        "--max-connections",
        "--connect-timeout",
        "--idle-timeout",
        "--ready-fd",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}
