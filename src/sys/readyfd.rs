//! A readiness descriptor passed down by a launcher (`latchgate bridge
//! --ready-fd N`): checked and taken over at start-up, so the one "ready"
//! byte can later be written to it and the descriptor closed.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Takes ownership of the inherited descriptor `fd`: refuses 0, 1 and 2
/// (std's standard streams) and negative numbers, checks that `fd` is open
/// and open for writing, and marks it close-on-exec.
///
/// Call it once per descriptor, at start-up, before this process opens
/// anything itself: a descriptor that is open at that point can only have
/// been inherited, so nothing else in the process owns it.
pub fn adopt(fd: RawFd) -> io::Result<OwnedFd> {
    if fd <= 2 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "descriptors 0, 1 and 2 are the standard streams",
        ));
    }
    // SAFETY: F_GETFL only reads the file status flags of `fd`; any integer
    // is accepted (a closed one gives EBADF).
    let status = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if status < 0 {
        return Err(io::Error::last_os_error());
    }
    if status & libc::O_ACCMODE == libc::O_RDONLY || status & libc::O_PATH != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the descriptor is not open for writing",
        ));
    }
    // SAFETY: F_GETFD reads the descriptor flags of the open `fd`.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: F_SETFD only sets the descriptor flags of the open `fd`.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is open (checked above) and, per this function's
    // contract, inherited and owned by nothing else in the process; from
    // here the returned OwnedFd is its only owner and closes it once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::{AsRawFd, IntoRawFd};

    #[test]
    fn standard_streams_and_closed_descriptors_are_refused() {
        for fd in [-1, 0, 1, 2] {
            let e = adopt(fd).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "fd {fd}");
        }
        // Far above any descriptor limit: never open, never someone else's.
        let e = adopt(1_000_000).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF));
    }

    #[test]
    fn read_only_descriptor_is_refused_and_write_end_is_adopted() {
        let (r, w) = std::io::pipe().unwrap();
        let e = adopt(r.as_raw_fd()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let owned = adopt(w.into_raw_fd()).unwrap();
        let mut file = std::fs::File::from(owned);
        file.write_all(b"\n").unwrap();
        drop(file);
        let mut got = Vec::new();
        let mut r = r;
        r.read_to_end(&mut got).unwrap(); // EOF: the adopted fd was closed
        assert_eq!(got, b"\n");
    }
}
