//! Starting bwrap: the few steps that must happen in the child between
//! fork and exec (std's `Command::pre_exec`), each a plain syscall.

use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// What the child does before exec, in this order.
#[derive(Clone, Debug, Default)]
pub struct ChildSetup {
    /// Root-assisted mode: enter a new network namespace and bring its
    /// loopback up while still root (real CAP_NET_ADMIN, works on every kernel).
    pub new_netns_with_loopback: bool,
    /// Root-assisted mode: become this (uid, gid) before exec, dropping every
    /// supplementary group; bwrap then runs unprivileged, as in rootless mode.
    pub run_as: Option<(u32, u32)>,
    /// Descriptors the child keeps across exec (close-on-exec cleared).
    pub keep_fds: Vec<RawFd>,
    /// Put the child in a process group of its own, so the terminal's
    /// keyboard signals reach latchgate only (it forwards them).
    pub own_process_group: bool,
}

/// Spawns `cmd` after `setup`; the child is killed (SIGKILL) if this thread
/// or process dies, so call it from the thread that lives longest (main).
pub fn spawn(cmd: &mut Command, setup: ChildSetup) -> io::Result<Child> {
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs in the forked child before exec and calls
    // only async-signal-safe syscalls (unshare, socket, ioctl, close,
    // setgroups, setresgid, setresuid, prctl, getppid, fcntl, setpgid) on
    // stack data; it allocates nothing and takes no locks.
    unsafe {
        cmd.pre_exec(move || child_steps(&setup, parent));
    }
    cmd.spawn()
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn child_steps(setup: &ChildSetup, parent: libc::pid_t) -> io::Result<()> {
    if setup.new_netns_with_loopback {
        // SAFETY: unshare takes a flag word and touches no memory.
        check(unsafe { libc::unshare(libc::CLONE_NEWNET) })?;
        loopback_up()?;
    }
    if let Some((uid, gid)) = setup.run_as {
        let groups = [gid as libc::gid_t];
        // SAFETY: `groups` is a valid array of one gid for the call.
        check(unsafe { libc::setgroups(1, groups.as_ptr()) })?;
        // SAFETY: plain id changes; the return codes are checked.
        check(unsafe { libc::setresgid(gid, gid, gid) })?;
        // SAFETY: as above; after this the child holds no privilege.
        check(unsafe { libc::setresuid(uid, uid, uid) })?;
    }
    // After any credential change: the kernel clears PDEATHSIG on one.
    // SAFETY: prctl with integer arguments touches no memory.
    check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) })?;
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } != parent {
        // The parent died before PDEATHSIG was armed: never run orphaned.
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    for &fd in &setup.keep_fds {
        // SAFETY: F_SETFD on a descriptor number; an invalid one fails cleanly.
        check(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) })?;
    }
    if setup.own_process_group {
        // SAFETY: setpgid(0, 0) only changes this process's group.
        check(unsafe { libc::setpgid(0, 0) })?;
    }
    Ok(())
}

/// Sets IFF_UP on `lo` in the current network namespace (SIOCSIFFLAGS).
fn loopback_up() -> io::Result<()> {
    // SAFETY: socket takes integers and returns a new descriptor or -1.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    check(fd)?;
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `req` is a valid ifreq naming "lo" for both ioctls; the
    // union member written is the flags field SIOCSIFFLAGS reads.
    let rc = unsafe {
        let got = libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req);
        if got < 0 {
            got
        } else {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req)
        }
    };
    let err = io::Error::last_os_error();
    // SAFETY: closes the socket opened above.
    unsafe { libc::close(fd) };
    if rc < 0 {
        Err(err)
    } else {
        Ok(())
    }
}

/// Sends `sig` to process `pid` (a negative pid names a process group).
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill takes integers only.
    check(unsafe { libc::kill(pid, sig) })
}

/// The effective uid of this process.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}
