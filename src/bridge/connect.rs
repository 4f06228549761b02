//! Opening the target connection within the connect timeout. An IP target
//! uses connect with a timeout directly; a host name (resolved at each
//! connection) and a Unix socket (whose connect blocks while the
//! listener's backlog is full) are opened on a short-lived helper thread
//! that is given up on at the deadline.

use super::addr::Target;
use super::stream::Stream;
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Stack of the helper thread (musl's resolver keeps its buffers there).
const HELPER_STACK: usize = 128 * 1024;

/// Connects to `target` within `timeout`. `hold` is moved into the helper
/// thread when there is one and dropped when it ends, so a caller can
/// count a helper that outlives the timeout against its connection limit.
pub fn open<H: Send + 'static>(target: &Target, timeout: Duration, hold: H) -> io::Result<Stream> {
    match target {
        Target::Tcp(addr) => {
            drop(hold);
            tcp(*addr, timeout)
        }
        Target::Host { .. } | Target::Unix(_) => on_helper(target.clone(), timeout, hold),
    }
}

fn on_helper<H: Send + 'static>(target: Target, timeout: Duration, hold: H) -> io::Result<Stream> {
    let deadline = Instant::now() + timeout;
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("bridge-connect".into())
        .stack_size(HELPER_STACK)
        .spawn(move || {
            let _hold = hold;
            let r = blocking(&target, deadline);
            // The receiver may have given up: the stream is then dropped here.
            let _ = tx.send(r);
        })?;
    match rx.recv_timeout(timeout) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(timed_out(timeout)),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(io::Error::other("connect helper ended")),
    }
}

fn blocking(target: &Target, deadline: Instant) -> io::Result<Stream> {
    match target {
        Target::Tcp(addr) => tcp(*addr, left(deadline)?),
        Target::Unix(path) => UnixStream::connect(path).map(Stream::Unix),
        Target::Host { name, port } => {
            let addrs: Vec<SocketAddr> = (name.as_str(), *port).to_socket_addrs()?.collect();
            let mut last = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
            for addr in addrs {
                match tcp(addr, left(deadline)?) {
                    Ok(s) => return Ok(s),
                    Err(e) => last = e,
                }
            }
            Err(last)
        }
    }
}

/// A TCP connection with TCP_NODELAY (latency matters for SSE).
fn tcp(addr: SocketAddr, timeout: Duration) -> io::Result<Stream> {
    let s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_nodelay(true)?;
    Ok(Stream::Tcp(s))
}

/// Time left before `deadline`, or a timeout error.
fn left(deadline: Instant) -> io::Result<Duration> {
    let d = deadline.saturating_duration_since(Instant::now());
    if d.is_zero() {
        return Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"));
    }
    Ok(d)
}

fn timed_out(t: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no connection within {} s", t.as_secs_f64()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::unix::net::UnixListener;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("lg-bridge-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn connects_to_each_kind() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = Duration::from_secs(2);
        let s = open(&Target::Tcp(l.local_addr().unwrap()), t, ()).unwrap();
        assert!(matches!(&s, Stream::Tcp(x) if x.nodelay().unwrap()));
        let host = Target::Host {
            name: "localhost".into(),
            port,
        };
        // localhost may resolve to ::1 first, where nothing listens: the
        // next address is tried.
        assert!(matches!(open(&host, t, ()).unwrap(), Stream::Tcp(_)));
        let d = dir("kinds");
        let path = d.join("s.sock");
        let _u = UnixListener::bind(&path).unwrap();
        assert!(matches!(
            open(&Target::Unix(path), t, ()).unwrap(),
            Stream::Unix(_)
        ));
    }

    #[test]
    fn refused_and_missing_targets_fail_at_once() {
        let free = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let t = Duration::from_secs(5);
        let start = Instant::now();
        let e = open(&Target::Tcp(free), t, ()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        let d = dir("missing");
        let e = open(&Target::Unix(d.join("none.sock")), t, ()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_full_unix_backlog_times_out_and_the_helper_is_counted_until_it_ends() {
        let d = dir("backlog");
        let path = d.join("full.sock");
        let listener = UnixListener::bind(&path).unwrap();
        // Fill the backlog from a thread: its connects block once it is full.
        let stop = Arc::new(AtomicBool::new(false));
        let (p2, s2) = (path.clone(), stop.clone());
        let filler = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !s2.load(Ordering::SeqCst) && held.len() < 5000 {
                match UnixStream::connect(&p2) {
                    Ok(s) => held.push(s),
                    Err(_) => break,
                }
            }
            held.len()
        });
        std::thread::sleep(Duration::from_millis(500));
        if filler.is_finished() {
            // The descriptor limit came before the backlog filled up
            // (somaxconn above it): nothing to block on here.
            eprintln!("skipped: the backlog could not be filled");
            return;
        }
        let hold = Arc::new(());
        let start = Instant::now();
        let e = open(
            &Target::Unix(path.clone()),
            Duration::from_millis(300),
            hold.clone(),
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        let took = start.elapsed();
        assert!(took < Duration::from_secs(2), "{took:?}");
        // The helper is still blocked in connect and still holds its share.
        assert_eq!(Arc::strong_count(&hold), 2);
        // Accepting frees the backlog: the helper's connect completes, it
        // drops its stream and its share.
        stop.store(true, Ordering::SeqCst);
        listener.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(5);
        while Arc::strong_count(&hold) > 1 && Instant::now() < until {
            while listener.accept().is_ok() {}
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(Arc::strong_count(&hold), 1);
        drop(listener);
        assert!(filler.join().unwrap() > 0);
    }
}
