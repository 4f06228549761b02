//! The only place outside `init/` with `unsafe`: thin, documented wrappers
//! over the few libc calls the gate needs. Each block has a `// SAFETY:` note.

pub mod events;
pub mod kernel;
pub mod landlock;
pub mod memfd;
pub mod netns;
pub mod openat2;
pub mod pty;
pub mod readyfd;
pub mod seccomp;
pub mod signals;
pub mod spawn;
pub mod tty;

/// The real user id of this process.
pub fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// The real group id of this process.
pub fn gid() -> u32 {
    // SAFETY: getgid has no preconditions and cannot fail.
    unsafe { libc::getgid() }
}

/// Sets the process umask and returns the previous one.
pub fn set_umask(mask: u32) -> u32 {
    // SAFETY: umask has no preconditions and cannot fail.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

/// Shuts down a listening socket so a thread blocked in accept(2) returns.
pub fn shutdown_listener(fd: std::os::fd::RawFd) {
    // SAFETY: shutdown on any fd is memory-safe; errors (e.g. already
    // closed) are ignored because this is only a wake-up.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}

/// Stops further reads on a connected socket (a blocked read returns EOF).
pub fn shutdown_read(fd: std::os::fd::RawFd) {
    // SAFETY: shutdown on any fd is memory-safe; an error (closed fd, not a
    // socket) is ignored because this is only a wake-up during a drain.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RD);
    }
}

/// The peer's uid on a connected Unix socket (SO_PEERCRED).
pub fn peer_uid(fd: std::os::fd::RawFd) -> Option<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes and `len` holds the size
    // of `cred`, as getsockopt(SO_PEERCRED) requires.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(cred.uid)
}

/// True when `path` is on a tmpfs (statfs f_type TMPFS_MAGIC); false when
/// it is not or cannot be examined.
pub fn is_tmpfs(path: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs is plain data; all-zero is a valid value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` is valid for writes.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    // f_type is unsigned on musl, signed on glibc; the magic fits either.
    rc == 0 && st.f_type as i64 == libc::TMPFS_MAGIC
}

/// Current resident set size in KiB, from /proc/self/status (VmRSS).
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Loads a module wasmtime compiled and serialized earlier.
///
/// The caller must only pass bytes this process's own `Module::serialize`
/// produced and that were authenticated since (the module cache checks an
/// HMAC keyed by a secret in the 0700 data directory before calling this).
pub fn deserialize_module(
    engine: &wasmtime::Engine,
    artifact: &[u8],
) -> Result<wasmtime::Module, String> {
    // SAFETY: wasmtime requires that `artifact` come from `Module::serialize`
    // of a compatible engine and not be tampered with. Our only caller passes
    // bytes it wrote itself and whose HMAC-SHA256 (secret key, 0600 file in a
    // 0700 directory) it verified just before; wasmtime itself rejects
    // artifacts from another version or configuration.
    unsafe { wasmtime::Module::deserialize(engine, artifact) }.map_err(|e| format!("{e:#}"))
}

/// One read(2) on a raw descriptor, retried on EINTR.
pub fn read_fd(fd: std::os::fd::RawFd, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// One write(2) on a raw descriptor, retried on EINTR.
pub fn write_fd(fd: std::os::fd::RawFd, buf: &[u8]) -> std::io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tmpfs_is_recognised_and_other_file_systems_are_not() {
        // /dev/shm is a tmpfs on every Linux this runs on (CI included);
        // /proc is procfs; a missing path is simply "no".
        assert!(super::is_tmpfs(std::path::Path::new("/dev/shm")));
        assert!(!super::is_tmpfs(std::path::Path::new("/proc")));
        assert!(!super::is_tmpfs(std::path::Path::new("/no/such/dir")));
    }
}
