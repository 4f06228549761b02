//! The agent's side of a proxy connection, as read by the proxy. While a
//! request head is read, every read is bounded by one deadline for the
//! whole head (a client trickling a byte at a time cannot hold a thread);
//! otherwise each read may wait up to the idle timeout.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// A reading handle on the agent connection (a clone of the socket).
pub struct AgentReader {
    sock: UnixStream,
    head_deadline: Option<Instant>,
    idle: Duration,
    /// The timeout currently set on the socket, to skip redundant calls.
    current: Option<Duration>,
}

impl AgentReader {
    /// Wraps a socket; reads start in idle mode.
    pub fn new(sock: UnixStream, idle: Duration) -> AgentReader {
        AgentReader {
            sock,
            head_deadline: None,
            // A zero timeout would mean "block forever" to the socket API.
            idle: idle.max(Duration::from_millis(1)),
            current: None,
        }
    }

    /// From now on, reads must all finish before `deadline`.
    pub fn head_mode(&mut self, deadline: Instant) {
        self.head_deadline = Some(deadline);
    }

    /// From now on, each read may wait up to the idle timeout.
    pub fn idle_mode(&mut self) {
        self.head_deadline = None;
    }

    fn set_timeout(&mut self) -> io::Result<()> {
        let t = match self.head_deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "request head took too long",
                    ));
                }
                left
            }
            None => self.idle,
        };
        if self.current != Some(t) {
            self.sock.set_read_timeout(Some(t))?;
            self.current = Some(t);
        }
        Ok(())
    }
}

impl Read for AgentReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.set_timeout()?;
        self.sock.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn head_deadline_bounds_a_trickle() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut r = AgentReader::new(a, Duration::from_secs(60));
        r.head_mode(Instant::now() + Duration::from_millis(300));
        let writer = std::thread::spawn(move || {
            // One byte every 100 ms: each read succeeds, the total does not.
            for _ in 0..20 {
                if b.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let start = Instant::now();
        let mut buf = [0u8; 1];
        let mut got = 0;
        let err = loop {
            match r.read(&mut buf) {
                Ok(n) => got += n,
                Err(e) => break e,
            }
        };
        assert!(got >= 1, "the first bytes were read");
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ),
            "{err}"
        );
        assert!(start.elapsed() < Duration::from_millis(1500));
        drop(r);
        writer.join().unwrap();
    }

    #[test]
    fn idle_mode_waits_up_to_the_idle_timeout() {
        let (a, _b) = UnixStream::pair().unwrap();
        let mut r = AgentReader::new(a, Duration::from_millis(100));
        let start = Instant::now();
        let e = r.read(&mut [0u8; 1]).unwrap_err();
        assert!(matches!(
            e.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        ));
        assert!(start.elapsed() >= Duration::from_millis(90));
    }
}
