//! Terminals for the sandbox: a fresh pseudo-terminal for the agent, raw
//! mode on the user's terminal while it runs, and window sizes.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Whether `fd` is a terminal.
pub fn is_terminal(fd: RawFd) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

/// A new pseudo-terminal pair (master, slave), both close-on-exec, the
/// slave given `size` and the termios of `like` when that is a terminal.
pub fn open(like: RawFd, size: Option<libc::winsize>) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut master: libc::c_int = -1;
    let mut slave: libc::c_int = -1;
    // SAFETY: termios is plain data; zeroed is valid and overwritten below.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `t` is valid for writes; the result is checked.
    let have_t = unsafe { libc::tcgetattr(like, &mut t) } == 0;
    let tp: *const libc::termios = if have_t { &t } else { std::ptr::null() };
    let wp: *const libc::winsize = match &size {
        Some(w) => w,
        None => std::ptr::null(),
    };
    // SAFETY: master/slave are valid out-pointers; name may be null; the
    // termios and winsize pointers are null or point at live values.
    let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), tp, wp) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openpty returned two new descriptors owned only here.
    let (m, s) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    for fd in [m.as_raw_fd(), s.as_raw_fd()] {
        // SAFETY: F_SETFD on descriptors we own.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok((m, s))
}

/// The window size of terminal `fd`, if it is one.
pub fn window_size(fd: RawFd) -> Option<libc::winsize> {
    // SAFETY: winsize is plain data; zeroed is valid.
    let mut w: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize into `w`.
    if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut w) } == 0 {
        Some(w)
    } else {
        None
    }
}

/// Sets the window size of terminal `fd` (the kernel then sends SIGWINCH
/// to that terminal's foreground process group).
pub fn set_window_size(fd: RawFd, w: &libc::winsize) {
    // SAFETY: TIOCSWINSZ reads one winsize from `w`; failure is harmless.
    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, w) };
}

/// Raw mode on a terminal while alive; the previous settings come back on drop.
pub struct RawMode {
    fd: RawFd,
    saved: libc::termios,
}

impl RawMode {
    /// Puts terminal `fd` in raw mode (keys, Ctrl-C included, pass through
    /// as bytes to the agent's own terminal, which interprets them).
    pub fn enable(fd: RawFd) -> io::Result<RawMode> {
        // SAFETY: termios is plain data; zeroed is valid and overwritten.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: `t` is valid for writes.
        if unsafe { libc::tcgetattr(fd, &mut t) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let saved = t;
        // SAFETY: cfmakeraw edits the termios it is given.
        unsafe { libc::cfmakeraw(&mut t) };
        // SAFETY: `t` is a valid termios derived from this terminal's.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &t) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores settings read from this same terminal.
        unsafe { libc::tcsetattr(self.fd, libc::TCSAFLUSH, &self.saved) };
    }
}
