//! `--ready-fd N`: the descriptor a launcher passed down, checked at
//! start-up and written to once the listener is bound and listening, so
//! the launcher can connect the moment it reads the byte.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;

/// The byte written: a newline, as s6-style readiness readers expect.
pub const BYTE: &[u8] = b"\n";

/// An adopted readiness descriptor, not yet signalled.
#[derive(Debug)]
pub struct Ready(OwnedFd);

/// Takes over descriptor `n` (not 0-2, open for writing). Call before the
/// process opens anything else (see `sys::readyfd::adopt`).
pub fn take(n: i32) -> Result<Ready, String> {
    if (0..=2).contains(&n) {
        return Err(format!(
            "--ready-fd: {n} is a standard stream; give an inherited descriptor of 3 or more"
        ));
    }
    match crate::sys::readyfd::adopt(n) {
        Ok(fd) => Ok(Ready(fd)),
        Err(e) if e.raw_os_error() == Some(libc::EBADF) => Err(format!(
            "--ready-fd: descriptor {n} is not open (pass it to latchgate, e.g. `3>&1` in a shell)"
        )),
        Err(e) => Err(format!("--ready-fd: descriptor {n}: {e}")),
    }
}

impl Ready {
    /// Writes the byte and closes the descriptor.
    pub fn signal(self) -> io::Result<()> {
        let mut f = File::from(self.0);
        f.write_all(BYTE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::IntoRawFd;

    #[test]
    fn standard_streams_and_closed_descriptors_are_refused() {
        for n in [0, 1, 2] {
            assert!(take(n).unwrap_err().contains("standard stream"));
        }
        let e = take(1_000_000).unwrap_err();
        assert!(e.contains("descriptor 1000000 is not open"), "{e}");
    }

    #[test]
    fn signal_writes_one_byte_and_closes() {
        let (mut r, w) = std::io::pipe().unwrap();
        let ready = take(w.into_raw_fd()).unwrap();
        ready.signal().unwrap();
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap(); // returns: the write end is closed
        assert_eq!(got, BYTE);
    }
}
