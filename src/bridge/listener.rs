//! The bridge's listening socket. TCP: std's bind (SO_REUSEADDR set).
//! Unix: a stale socket file (nobody listening) is replaced, a live
//! socket or any other file is refused; the socket is created under a
//! tight umask, given `--socket-mode` right after bind, and its file is
//! removed when the listener is dropped (if it is still ours).

use super::addr::Listen;
use super::stream::Stream;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// How long the check of an existing socket waits for its listener.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Umask while the socket file is created: owner read/write only, until
/// the requested mode is set.
const BIND_UMASK: u32 = 0o177;

/// A bound, listening, non-blocking socket.
#[derive(Debug)]
pub struct Listener {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Tcp(TcpListener),
    Unix {
        listener: UnixListener,
        path: PathBuf,
        /// (device, inode) of the socket file we created.
        id: (u64, u64),
    },
}

/// Binds and listens on `at`; `mode` is applied to a Unix socket file.
/// The error names the address and the OS error.
pub fn bind(at: &Listen, mode: u32) -> Result<Listener, String> {
    match at {
        Listen::Tcp(addr) => {
            let l = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            l.set_nonblocking(true)
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            Ok(Listener { kind: Kind::Tcp(l) })
        }
        Listen::Unix(path) => bind_unix(path, mode),
    }
}

fn bind_unix(path: &Path, mode: u32) -> Result<Listener, String> {
    let shown = path.display();
    clear_stale(path)?;
    let old = crate::sys::set_umask(BIND_UMASK);
    let bound = UnixListener::bind(path);
    crate::sys::set_umask(old);
    let listener = bound.map_err(|e| format!("cannot listen on {shown}: {e}"))?;
    let finish = || -> io::Result<(u64, u64)> {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        listener.set_nonblocking(true)?;
        let m = std::fs::symlink_metadata(path)?;
        Ok((m.dev(), m.ino()))
    };
    match finish() {
        Ok(id) => Ok(Listener {
            kind: Kind::Unix {
                listener,
                path: path.to_path_buf(),
                id,
            },
        }),
        Err(e) => {
            let _ = std::fs::remove_file(path);
            Err(format!("cannot set up the socket {shown}: {e}"))
        }
    }
}

/// Removes `path` if it is a socket nobody listens on; refuses a live
/// socket and anything that is not a socket.
fn clear_stale(path: &Path) -> Result<(), String> {
    let shown = path.display();
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot listen on {shown}: {e}")),
    };
    if !meta.file_type().is_socket() {
        return Err(format!(
            "cannot listen on {shown}: the path exists and is not a socket (not replaced)"
        ));
    }
    match probe(path) {
        Ok(true) => Err(format!(
            "cannot listen on {shown}: another process is listening on this socket"
        )),
        Ok(false) => std::fs::remove_file(path)
            .map_err(|e| format!("cannot replace the stale socket {shown}: {e}")),
        Err(e) => Err(format!(
            "cannot listen on {shown}: cannot tell whether the existing socket is in use: {e}"
        )),
    }
}

/// True when something listens on the socket at `path` (a connection is
/// accepted, or the listener's backlog is full and the connect waits).
fn probe(path: &Path) -> io::Result<bool> {
    let (tx, rx) = mpsc::sync_channel(1);
    let p = path.to_path_buf();
    std::thread::Builder::new()
        .name("bridge-probe".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let _ = tx.send(UnixStream::connect(&p));
        })?;
    match rx.recv_timeout(PROBE_TIMEOUT) {
        Ok(Ok(_)) => Ok(true),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(false),
        Ok(Err(e)) => Err(e),
        Err(_) => Ok(true),
    }
}

impl Listener {
    /// Accepts one pending connection as a blocking stream (TCP_NODELAY on
    /// TCP); `WouldBlock` when none is pending.
    pub fn accept(&self) -> io::Result<Stream> {
        let s = match &self.kind {
            Kind::Tcp(l) => {
                let (s, _) = l.accept()?;
                // Latency matters more than packet count (SSE events).
                let _ = s.set_nodelay(true);
                Stream::Tcp(s)
            }
            Kind::Unix { listener, .. } => Stream::Unix(listener.accept()?.0),
        };
        s.set_blocking()?;
        Ok(s)
    }

    /// The listening descriptor (for poll).
    pub fn raw_fd(&self) -> RawFd {
        match &self.kind {
            Kind::Tcp(l) => l.as_raw_fd(),
            Kind::Unix { listener, .. } => listener.as_raw_fd(),
        }
    }

    /// The bound address as shown to people.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Tcp(l) => match l.local_addr() {
                Ok(a) => a.to_string(),
                Err(_) => "TCP".into(),
            },
            Kind::Unix { path, .. } => path.display().to_string(),
        }
    }
}

impl Drop for Listener {
    /// Removes our socket file, unless someone replaced it meanwhile.
    fn drop(&mut self) {
        if let Kind::Unix { path, id, .. } = &self.kind {
            let ours = std::fs::symlink_metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == *id);
            if ours {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lg-bridge-l-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    // bind() of a Unix socket changes the process umask for an instant;
    // it is covered by tests/bridge.rs (a separate process), so these
    // tests never call it and other tests' files keep their modes.

    fn ours(path: &Path) -> Listener {
        let listener = UnixListener::bind(path).unwrap();
        let m = std::fs::symlink_metadata(path).unwrap();
        listener.set_nonblocking(true).unwrap();
        Listener {
            kind: Kind::Unix {
                listener,
                path: path.to_path_buf(),
                id: (m.dev(), m.ino()),
            },
        }
    }

    #[test]
    fn accepts_and_removes_its_socket_file_on_drop() {
        let d = dir("drop");
        let path = d.join("b.sock");
        let l = ours(&path);
        assert!(matches!(l.accept(), Err(e) if e.kind() == io::ErrorKind::WouldBlock));
        let c = UnixStream::connect(&path).unwrap();
        assert!(matches!(l.accept().unwrap(), Stream::Unix(_)));
        drop(c);
        drop(l);
        assert!(!path.exists());
    }

    #[test]
    fn stale_socket_is_cleared_live_one_and_files_are_refused() {
        let d = dir("stale");
        let path = d.join("s.sock");
        drop(UnixListener::bind(&path).unwrap()); // file left, nobody listening
        clear_stale(&path).unwrap();
        assert!(!path.exists());
        let live = UnixListener::bind(&path).unwrap();
        let e = clear_stale(&path).unwrap_err();
        assert!(
            e.contains("another process is listening") && e.contains("s.sock"),
            "{e}"
        );
        assert!(path.exists());
        drop(live);
        let file = d.join("plain");
        std::fs::write(&file, "keep").unwrap();
        let e = clear_stale(&file).unwrap_err();
        assert!(e.contains("is not a socket") && e.contains("plain"), "{e}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
        clear_stale(&d.join("absent.sock")).unwrap();
    }

    #[test]
    fn a_replaced_socket_file_is_left_alone() {
        let d = dir("replaced");
        let path = d.join("r.sock");
        let l = ours(&path);
        std::fs::remove_file(&path).unwrap();
        let other = UnixListener::bind(&path).unwrap();
        drop(l);
        assert!(path.exists());
        drop(other);
    }

    #[test]
    fn tcp_bind_errors_name_the_address() {
        let l = bind(&Listen::Tcp("127.0.0.1:0".parse().unwrap()), 0).unwrap();
        let addr = l.describe();
        let e = bind(&Listen::Tcp(addr.parse().unwrap()), 0).unwrap_err();
        assert!(e.starts_with(&format!("cannot listen on {addr}: ")), "{e}");
        assert!(e.contains("os error"), "{e}");
    }
}
