//! The byte relay of a CONNECT tunnel: both directions at once (this
//! thread plus one helper), blocking, bytes untouched. An end of stream
//! is passed on as a half-close; an error or a tunnel idle in both
//! directions for the idle timeout closes both sides.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes moved by a finished tunnel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Agent to upstream (early data included).
    pub up: u64,
    /// Upstream to agent.
    pub down: u64,
}

/// Stack of the helper thread (its buffer is on the heap).
const HELPER_STACK: usize = 64 * 1024;
/// Longest single wait before the idle clock is looked at again.
const MAX_TICK: Duration = Duration::from_secs(30);

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

/// Sends `early` (bytes that came with the CONNECT head) upstream, then
/// relays both ways until both directions have ended.
pub fn run(agent: &UnixStream, upstream: TcpStream, early: &[u8], idle: Duration) -> Totals {
    let idle = idle.max(Duration::from_millis(1));
    let tick = idle.min(MAX_TICK);
    // Timeouts are per socket, shared by the clones below.
    let setup = agent
        .set_read_timeout(Some(tick))
        .and_then(|_| agent.set_write_timeout(Some(idle)))
        .and_then(|_| upstream.set_read_timeout(Some(tick)))
        .and_then(|_| upstream.set_write_timeout(Some(idle)));
    let clones = agent
        .try_clone()
        .and_then(|a| Ok((a, upstream.try_clone()?)));
    let (Ok(()), Ok((agent_r, upstream_w))) = (setup, clones) else {
        close_both(agent, &upstream);
        return Totals::default();
    };
    if (&upstream).write_all(early).is_err() {
        close_both(agent, &upstream);
        return Totals::default();
    }
    let activity = Arc::new(Activity {
        start: Instant::now(),
        last_ms: AtomicU64::new(0),
    });
    let act = activity.clone();
    let helper = std::thread::Builder::new()
        .name("proxy-tunnel".into())
        .stack_size(HELPER_STACK)
        .spawn(move || {
            let (n, end) = pump(&agent_r, &upstream_w, &act, idle);
            match end {
                End::Eof => {
                    let _ = upstream_w.shutdown(Shutdown::Write);
                }
                End::Failed => close_both(&agent_r, &upstream_w),
            }
            n
        });
    let Ok(helper) = helper else {
        close_both(agent, &upstream);
        return Totals::default();
    };
    let (down, end) = pump(&upstream, agent, &activity, idle);
    match end {
        End::Eof => {
            let _ = agent.shutdown(Shutdown::Write);
        }
        End::Failed => close_both(agent, &upstream),
    }
    let up = helper.join().unwrap_or(0);
    Totals {
        up: up + early.len() as u64,
        down,
    }
}

/// Copies `from` to `to` until end of stream, an error, or both
/// directions idle for `idle`.
fn pump<R, W>(mut from: R, mut to: W, act: &Activity, idle: Duration) -> (u64, End)
where
    R: Read,
    W: Write,
{
    let mut buf = vec![0u8; 16 * 1024];
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

/// Shuts both sockets down so the other direction's blocked read returns.
fn close_both(agent: &UnixStream, upstream: &TcpStream) {
    let _ = agent.shutdown(Shutdown::Both);
    let _ = upstream.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn relays_both_ways_with_early_data_and_half_close() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap(); // ends at the agent's half-close
            s.write_all(b"reply:").unwrap();
            s.write_all(&got).unwrap();
            got
        });
        let (agent_far, agent_near) = UnixStream::pair().unwrap();
        let up = TcpStream::connect(addr).unwrap();
        let relay =
            std::thread::spawn(move || run(&agent_near, up, b"early+", Duration::from_secs(5)));
        let mut a = &agent_far;
        a.write_all(b"late").unwrap();
        agent_far.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        a.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"reply:early+late");
        assert_eq!(server.join().unwrap(), b"early+late");
        let totals = relay.join().unwrap();
        assert_eq!(totals, Totals { up: 10, down: 16 });
    }

    #[test]
    fn idle_in_both_directions_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        });
        let (agent_far, agent_near) = UnixStream::pair().unwrap();
        let up = TcpStream::connect(addr).unwrap();
        let start = Instant::now();
        let totals = run(&agent_near, up, b"", Duration::from_millis(200));
        assert_eq!(totals, Totals::default());
        assert!(start.elapsed() < Duration::from_secs(3));
        // The agent side sees the close.
        let mut rest = Vec::new();
        (&agent_far).read_to_end(&mut rest).unwrap();
        server.join().unwrap();
    }

    #[test]
    fn one_busy_direction_keeps_the_tunnel_open() {
        // The upstream streams for longer than the idle timeout while the
        // agent sends nothing: the tunnel must stay up.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            for _ in 0..16 {
                s.write_all(b"tick").unwrap();
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let (agent_far, agent_near) = UnixStream::pair().unwrap();
        let up = TcpStream::connect(addr).unwrap();
        let relay =
            std::thread::spawn(move || run(&agent_near, up, b"", Duration::from_millis(300)));
        let mut got = Vec::new();
        let mut a = &agent_far;
        a.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"tick".repeat(16));
        server.join().unwrap();
        drop(agent_far);
        assert_eq!(relay.join().unwrap().down, 64);
    }
}
