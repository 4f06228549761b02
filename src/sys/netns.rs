//! The sandbox's network namespace in root-assisted mode: made (with its
//! loopback up, while still root) on a helper thread while the launcher
//! prepares the rest, then entered by the child that execs bwrap
//! (`spawn::ChildSetup::netns`).
//!
//! Why a thread: making a network namespace is about 0.7 ms of kernel
//! work (its loopback device, sysctl tables, per-protocol state), a third
//! of the launcher's time before bwrap can start. It depends on nothing
//! the launcher prepares, so it runs beside that work instead of before
//! it. `unshare(CLONE_NEWNET)` changes the calling thread only; the thread
//! keeps the namespace alive as a descriptor of `/proc/thread-self/ns/net`
//! and ends. The launcher's own threads stay in the host's namespace.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::thread::JoinHandle;

/// A network namespace being made on a helper thread.
pub struct Pending(JoinHandle<io::Result<OwnedFd>>);

/// Starts making a new network namespace with loopback up. Needs
/// CAP_SYS_ADMIN and CAP_NET_ADMIN (root-assisted mode). The thread blocks
/// every signal, so signals keep reaching the launcher's main thread.
pub fn start() -> io::Result<Pending> {
    // The thread may not end before `move_off_this_cpu` is done with it:
    // musl clears an ended thread's tid, and pthread_setaffinity_np with a
    // tid of 0 would move the calling (main) thread instead.
    let placed = std::sync::Arc::new(std::sync::Mutex::new(()));
    let placing = placed.lock();
    let wait_placed = placed.clone();
    let handle = std::thread::Builder::new()
        .name("netns".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            block_signals();
            let made = make();
            drop(wait_placed.lock());
            made
        })?;
    move_off_this_cpu(&handle);
    drop(placing);
    Ok(Pending(handle))
}

impl Pending {
    /// Waits for the namespace: a descriptor to `setns` into, or why it
    /// could not be made.
    pub fn finish(self) -> io::Result<OwnedFd> {
        self.0
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the network namespace thread failed")))
    }
}

/// Blocks every signal in the calling thread: the launcher takes its
/// signals on the main thread only (a signalfd), and this thread may start
/// before it blocks them.
fn block_signals() {
    // SAFETY: sigset_t is plain data, filled by sigfillset before use;
    // pthread_sigmask changes the calling thread's mask only.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
}

/// In the helper thread: the namespace, its loopback, its descriptor.
fn make() -> io::Result<OwnedFd> {
    // SAFETY: unshare takes a flag only; CLONE_NEWNET moves this thread
    // alone into a new network namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!(
                "cannot make a new network namespace: {e} (as root, latchgate makes it itself and needs CAP_SYS_ADMIN; \
                 without that, as in an unprivileged container, run latchgate as a non-root user: its bwrap makes the namespace in a user namespace)"
            ),
        ));
    }
    loopback_up().map_err(|errno| {
        let e = io::Error::from_raw_os_error(errno);
        io::Error::new(
            e.kind(),
            format!("cannot bring up loopback in the new network namespace: {e}"),
        )
    })?;
    let path = c"/proc/thread-self/ns/net";
    // SAFETY: `path` is a NUL-terminated string; open returns a new
    // descriptor or -1.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("cannot open the new network namespace (/proc/thread-self/ns/net): {e}"),
        ));
    }
    // SAFETY: `fd` was just opened and is owned only here.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Lets the new thread run on any allowed CPU but the caller's, if there
/// is one, so that it works beside the launcher at once. A hint only, so
/// failures are ignored. Without it the scheduler queues a new thread on
/// its creator's CPU, where (measured on a 2-CPU VM) it waited about half
/// a millisecond for the launcher to block and then only delayed it.
fn move_off_this_cpu(handle: &JoinHandle<io::Result<OwnedFd>>) {
    use std::os::unix::thread::JoinHandleExt;
    // SAFETY: sched_getcpu has no preconditions; it returns -1 on failure.
    let Ok(cpu) = usize::try_from(unsafe { libc::sched_getcpu() }) else {
        return;
    };
    // The kernel's CPU mask: a bit per CPU in 64-bit words, as many as a
    // cpu_set_t holds (1,024 CPUs).
    let mut mask = [0u64; 16];
    let bytes = std::mem::size_of_val(&mask);
    // SAFETY: `mask` is valid for writes of `bytes` bytes; pid 0 is the
    // calling thread. The raw call returns the bytes written, or -1.
    let got = unsafe { libc::syscall(libc::SYS_sched_getaffinity, 0, bytes, mask.as_mut_ptr()) };
    let (word, bit) = (cpu / 64, 1u64 << (cpu % 64));
    let allowed: u32 = mask.iter().map(|w| w.count_ones()).sum();
    if got <= 0 || word >= mask.len() || mask[word] & bit == 0 || allowed < 2 {
        return;
    }
    mask[word] &= !bit;
    // SAFETY: the thread behind `handle` has not ended (`start` keeps it
    // from ending until this returns) and is joined only later; `mask`
    // holds `bytes` bytes, the size of a cpu_set_t.
    unsafe {
        libc::pthread_setaffinity_np(
            handle.as_pthread_t() as usize as libc::pthread_t,
            bytes,
            mask.as_ptr().cast(),
        );
    }
}

/// Sets IFF_UP on `lo` in the calling thread's network namespace
/// (SIOCSIFFLAGS); the error is an errno.
fn loopback_up() -> Result<(), i32> {
    let errno = || io::Error::last_os_error().raw_os_error().unwrap_or(0);
    // SAFETY: socket takes integers and returns a new descriptor or -1.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: `fd` was just opened and is owned only here (closed on drop).
    let _sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `req` is a valid ifreq naming "lo"; SIOCGIFFLAGS writes its
    // flags member.
    if unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req) } != 0 {
        return Err(errno());
    }
    // SAFETY: as above; SIOCSIFFLAGS reads the flags member written here.
    let rc = unsafe {
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req)
    };
    if rc != 0 {
        return Err(errno());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn the_calling_thread_keeps_its_cpus() {
        // Only the helper thread is moved off the caller's CPU.
        let cpus = || {
            std::fs::read_to_string("/proc/thread-self/status")
                .unwrap()
                .lines()
                .find(|l| l.starts_with("Cpus_allowed_list:"))
                .map(str::to_string)
        };
        let before = cpus();
        assert!(before.is_some());
        for _ in 0..20 {
            let _ = start().and_then(Pending::finish);
            assert_eq!(cpus(), before);
        }
    }

    #[test]
    fn makes_a_namespace_other_than_ours_and_leaves_ours_alone() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            // Making a network namespace needs root outside a user namespace.
            assert!(start().unwrap().finish().is_err());
            return;
        }
        let ours = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        let fd = start().unwrap().finish().unwrap();
        let made = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        assert_ne!(made, ours);
        assert_eq!(
            std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
            ours,
            "the calling thread stays in its namespace"
        );
        assert_eq!(
            std::fs::read_link("/proc/self/ns/net").unwrap(),
            ours,
            "the process stays in its namespace"
        );
    }
}
