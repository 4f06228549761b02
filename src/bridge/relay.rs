//! The byte relay of one bridged connection: both directions at once (the
//! connection's thread plus one helper), blocking, bytes untouched, 64 KiB
//! buffers. An end of stream on one side is passed on as a half-close
//! (shutdown of the other side's write half) while the other direction
//! keeps flowing; an error, or no byte either way for the idle timeout,
//! closes both sides.

use super::stream::Stream;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Size of each direction's copy buffer (on the heap).
pub const BUF_SIZE: usize = 64 * 1024;
/// Stack of the helper thread (its buffer is on the heap).
const HELPER_STACK: usize = 64 * 1024;
/// Longest single wait before the idle clock is looked at again.
const MAX_TICK: Duration = Duration::from_secs(30);
/// Shortest such wait.
const MIN_TICK: Duration = Duration::from_millis(10);

/// Bytes moved by a finished connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Client to target.
    pub up: u64,
    /// Target to client.
    pub down: u64,
}

/// When either direction last moved a byte.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// How one direction ended.
#[derive(PartialEq, Eq)]
enum End {
    /// The source closed its sending side.
    Eof,
    /// An error, or idle too long.
    Failed,
}

/// Relays between `client` and `target` until both directions have ended,
/// then closes both.
pub fn run(client: Stream, target: Stream, idle: Duration) -> Totals {
    let idle = idle.max(MIN_TICK);
    // Wake up a few times per idle period so an idle connection is closed
    // close to the limit; the timeouts are per socket, shared by clones.
    let tick = (idle / 4).clamp(MIN_TICK, MAX_TICK);
    let setup = client
        .set_read_timeout(Some(tick))
        .and_then(|_| client.set_write_timeout(Some(idle)))
        .and_then(|_| target.set_read_timeout(Some(tick)))
        .and_then(|_| target.set_write_timeout(Some(idle)));
    let clones = client
        .try_clone()
        .and_then(|c| Ok((c, target.try_clone()?)));
    let (Ok(()), Ok((client_r, target_w))) = (setup, clones) else {
        close_both(&client, &target);
        return Totals::default();
    };
    let activity = Arc::new(Activity {
        start: Instant::now(),
        last_ms: AtomicU64::new(0),
    });
    let act = activity.clone();
    let helper = std::thread::Builder::new()
        .name("bridge-up".into())
        .stack_size(HELPER_STACK)
        .spawn(move || direction(&client_r, &target_w, &act, idle));
    let Ok(helper) = helper else {
        close_both(&client, &target);
        return Totals::default();
    };
    let down = direction(&target, &client, &activity, idle);
    let up = helper.join().unwrap_or(0);
    Totals { up, down }
}

/// One direction: copy, then pass the end on (half-close) or, after a
/// failure, close both sockets so the other direction's read returns.
fn direction(from: &Stream, to: &Stream, act: &Activity, idle: Duration) -> u64 {
    let (n, end) = pump(from, to, act, idle);
    match end {
        End::Eof => {
            let _ = to.shutdown(Shutdown::Write);
        }
        End::Failed => close_both(from, to),
    }
    n
}

/// Copies `from` to `to` until end of stream, an error, or both
/// directions idle for `idle`.
fn pump(mut from: &Stream, mut to: &Stream, act: &Activity, idle: Duration) -> (u64, End) {
    let mut buf = vec![0u8; BUF_SIZE];
    let mut total = 0u64;
    loop {
        match from.read(&mut buf) {
            Ok(0) => return (total, End::Eof),
            Ok(n) => {
                let Some(data) = buf.get(..n) else {
                    return (total, End::Failed);
                };
                if to.write_all(data).is_err() {
                    return (total, End::Failed);
                }
                total += n as u64;
                act.touch();
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if act.idle_for() >= idle {
                    return (total, End::Failed);
                }
            }
            Err(_) => return (total, End::Failed),
        }
    }
}

/// Shuts both sockets down so any blocked read or write on them returns.
fn close_both(a: &Stream, b: &Stream) {
    let _ = a.shutdown(Shutdown::Both);
    let _ = b.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::os::unix::net::UnixStream;

    fn tcp_pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        (a, b)
    }

    #[test]
    fn half_close_is_passed_on_and_the_reply_still_flows() {
        // client_far -- [client_near | relay | target_near] -- target_far
        let (client_far, client_near) = tcp_pair();
        let (target_near, target_far) = UnixStream::pair().unwrap();
        let relay = std::thread::spawn(move || {
            run(
                Stream::Tcp(client_near),
                Stream::Unix(target_near),
                Duration::from_secs(5),
            )
        });
        let server = std::thread::spawn(move || {
            let mut got = Vec::new();
            (&target_far).read_to_end(&mut got).unwrap(); // ends at the half-close
            (&target_far).write_all(b"reply:").unwrap();
            (&target_far).write_all(&got).unwrap();
            got
        });
        (&client_far).write_all(b"request").unwrap();
        client_far.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        (&client_far).read_to_end(&mut back).unwrap();
        assert_eq!(back, b"reply:request");
        assert_eq!(server.join().unwrap(), b"request");
        assert_eq!(relay.join().unwrap(), Totals { up: 7, down: 13 });
    }

    #[test]
    fn idle_in_both_directions_closes_both_sides() {
        let (client_far, client_near) = UnixStream::pair().unwrap();
        let (target_near, target_far) = UnixStream::pair().unwrap();
        let start = Instant::now();
        let totals = run(
            Stream::Unix(client_near),
            Stream::Unix(target_near),
            Duration::from_millis(200),
        );
        assert_eq!(totals, Totals::default());
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(2),
            "{took:?}"
        );
        let mut rest = Vec::new();
        (&client_far).read_to_end(&mut rest).unwrap();
        (&target_far).read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }

    #[test]
    fn one_busy_direction_keeps_the_connection_open() {
        // The target streams for longer than the idle timeout while the
        // client sends nothing: the connection must stay up.
        let (client_far, client_near) = UnixStream::pair().unwrap();
        let (target_near, target_far) = UnixStream::pair().unwrap();
        let relay = std::thread::spawn(move || {
            run(
                Stream::Unix(client_near),
                Stream::Unix(target_near),
                Duration::from_millis(300),
            )
        });
        for _ in 0..16 {
            (&target_far).write_all(b"tick").unwrap();
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(target_far);
        let mut got = Vec::new();
        (&client_far).read_to_end(&mut got).unwrap();
        assert_eq!(got, b"tick".repeat(16));
        drop(client_far);
        assert_eq!(relay.join().unwrap().down, 64);
    }

    #[test]
    fn a_reset_side_closes_the_other() {
        let (client_far, client_near) = tcp_pair();
        let (target_near, target_far) = UnixStream::pair().unwrap();
        let relay = std::thread::spawn(move || {
            run(
                Stream::Tcp(client_near),
                Stream::Unix(target_near),
                Duration::from_secs(30),
            )
        });
        (&client_far).write_all(b"x").unwrap();
        let mut one = [0u8; 1];
        (&target_far).read_exact(&mut one).unwrap();
        // Unread data at close makes the kernel send a reset.
        (&target_far).write_all(b"unread").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        drop(client_far);
        let start = Instant::now();
        let mut rest = Vec::new();
        let _ = (&target_far).read_to_end(&mut rest);
        assert!(start.elapsed() < Duration::from_secs(5));
        relay.join().unwrap();
    }
}
