//! Runs a helper program (`bwrap --version`, `unshare -U true`) with a
//! deadline: the child is killed when it does not finish in time, and its
//! output is read on side threads so a grandchild that keeps the pipe open
//! cannot hold the caller either.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Most output kept from a probe, per stream.
const MAX_OUTPUT: u64 = 64 * 1024;

/// How a probe ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The program exited (`code` is `None` when a signal ended it).
    Exited {
        /// Exit status.
        code: Option<i32>,
        /// What it printed on stdout (lossy UTF-8, at most 64 KiB).
        stdout: String,
        /// What it printed on stderr (lossy UTF-8, at most 64 KiB).
        stderr: String,
    },
    /// It was still running at the deadline and was killed.
    TimedOut,
    /// It could not be started (the reason).
    NotStarted(String),
}

/// Reads one stream to its end (or the cap) on a side thread.
fn reader<R: Read + Send + 'static>(stream: Option<R>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut s) = stream {
        let _ = std::thread::Builder::new()
            .name("doctor-probe-io".into())
            .spawn(move || {
                let mut buf = Vec::new();
                let _ = (&mut s).take(MAX_OUTPUT).read_to_end(&mut buf);
                let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
            });
    }
    rx
}

/// Runs `program args` with stdin closed and waits at most `timeout`.
pub fn run(program: &Path, args: &[&str], timeout: Duration) -> Outcome {
    let start = Instant::now();
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return Outcome::NotStarted(format!("cannot run {}: {e}", program.display())),
    };
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < timeout => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Outcome::TimedOut;
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Outcome::NotStarted(format!("cannot wait for {}: {e}", program.display()));
            }
        }
    };
    // The child has exited; its output is complete unless a grandchild
    // still holds the pipe, in which case what arrived so far is not
    // waited for beyond a short grace.
    let grace = Duration::from_millis(200);
    Outcome::Exited {
        code: status.code(),
        stdout: out.recv_timeout(grace).unwrap_or_default(),
        stderr: err.recv_timeout(grace).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_exit_code_and_output() {
        let o = run(
            Path::new("/bin/sh"),
            &["-c", "echo out; echo err >&2; exit 3"],
            Duration::from_secs(5),
        );
        assert_eq!(
            o,
            Outcome::Exited {
                code: Some(3),
                stdout: "out\n".into(),
                stderr: "err\n".into()
            }
        );
    }

    #[test]
    fn a_hanging_program_is_killed_at_the_deadline() {
        let start = Instant::now();
        // The shell's own child keeps stdout open after the shell is killed.
        let o = run(
            Path::new("/bin/sh"),
            &["-c", "sleep 20; true"],
            Duration::from_millis(200),
        );
        assert_eq!(o, Outcome::TimedOut);
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_missing_program_is_reported_not_panicked() {
        let o = run(Path::new("/nonexistent/prog"), &[], Duration::from_secs(1));
        assert!(matches!(o, Outcome::NotStarted(ref m) if m.contains("/nonexistent/prog")));
    }
}
