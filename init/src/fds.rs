//! Steps 1 and 10: inherited descriptors, and the ready signal.

use core::ffi::{c_int, c_long, c_uint};

use crate::sys;

/// Upper bound for the fallback loop when RLIMIT_NOFILE is unlimited: the
/// kernel's default fs.nr_open, above which no descriptor can exist.
const NR_OPEN_DEFAULT: u64 = 1 << 20;

/// Step 1: marks every inherited descriptor from 3 up close-on-exec, so
/// nothing the launcher or bwrap leaked reaches the agent. Init itself can
/// still use them (the ready fd). Exits 125 on failure.
pub fn cloexec_inherited() {
    // SAFETY: close_range with CLOEXEC only sets flags; no descriptor is closed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as c_long,
            c_long::from(c_uint::MAX),
            libc::CLOSE_RANGE_CLOEXEC as c_long,
        )
    };
    if r == 0 {
        return;
    }
    match sys::errno() {
        // ENOSYS: no close_range (< 5.9); EINVAL: no CLOSE_RANGE_CLOEXEC (< 5.11).
        libc::ENOSYS | libc::EINVAL => cloexec_loop(),
        e => sys::die_errno(&[&"close_range(3, ~0, CLOSE_RANGE_CLOEXEC)"], e, ""),
    }
}

/// The slow way: FD_CLOEXEC on each open descriptor below RLIMIT_NOFILE.
fn cloexec_loop() {
    // SAFETY: rlimit is plain old data, filled in by getrlimit.
    let mut lim: libc::rlimit = unsafe { core::mem::zeroed() };
    // SAFETY: `lim` is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        sys::die_errno(&[&"getrlimit(RLIMIT_NOFILE)"], sys::errno(), "");
    }
    let end = lim.rlim_cur.min(NR_OPEN_DEFAULT);
    let end = c_int::try_from(end).unwrap_or(c_int::MAX);
    for fd in 3..end {
        // SAFETY: F_GETFD on any number is harmless (EBADF if not open).
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags < 0 {
            continue;
        }
        // SAFETY: F_SETFD with an int flag set.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } != 0 {
            let fd = i64::from(fd);
            sys::die_errno(
                &[&"mark inherited fd ", &fd, &" close-on-exec"],
                sys::errno(),
                "",
            );
        }
    }
}

/// Step 1: the `--ready-fd` must be open, or exits 125.
pub fn check_open(fd: c_int) {
    // SAFETY: F_GETFD on any number is harmless.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        let n = i64::from(fd);
        sys::die_errno(
            &[&"--ready-fd ", &n],
            sys::errno(),
            "the launcher must pass that descriptor open",
        );
    }
}

/// Step 10: writes `R` to the ready fd and closes it: the launcher's sign
/// that every layer holds. Exits 125 if the byte cannot be written.
pub fn signal_ready(fd: c_int) {
    loop {
        // SAFETY: one byte from a static buffer.
        let n = unsafe { libc::write(fd, b"R".as_ptr().cast(), 1) };
        if n == 1 {
            break;
        }
        if n < 0 && sys::errno() == libc::EINTR {
            continue;
        }
        sys::die_errno(
            &[&"write to --ready-fd"],
            sys::errno(),
            "did the launcher go away?",
        );
    }
    sys::close(fd);
}
