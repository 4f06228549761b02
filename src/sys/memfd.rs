//! Sealed in-memory files: how sandbox-init reaches the sandbox (run from
//! the memfd itself, or where that is refused, copied in by bwrap).

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::{FromRawFd, OwnedFd};

/// A memfd holding `bytes`, sealed against any change (write, grow,
/// shrink, further sealing) and rewound, close-on-exec.
pub fn sealed(name: &str, bytes: &[u8]) -> io::Result<OwnedFd> {
    let fd = create(name, libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING)?;
    fill_and_seal(fd, bytes)
}

/// [`sealed`], and executable: a program can be run from it through
/// `/proc/self/fd/N`, with no copy on any file system. Fails where the
/// kernel refuses executable memfds (`vm.memfd_noexec = 2`).
pub fn sealed_executable(name: &str, bytes: &[u8]) -> io::Result<OwnedFd> {
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // MFD_EXEC (Linux 6.3) keeps the file executable whatever
    // vm.memfd_noexec asks by default; older kernels do not know the flag
    // (EINVAL) and make every memfd executable.
    let fd = match create(name, flags | libc::MFD_EXEC) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => create(name, flags)?,
        other => other?,
    };
    fill_and_seal(fd, bytes)
}

fn create(name: &str, flags: libc::c_uint) -> io::Result<libc::c_int> {
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `cname` is a valid NUL-terminated string for the call.
    let fd = unsafe { libc::memfd_create(cname.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// Writes `bytes` into the new memfd `fd` (which this takes over), seals
/// it and rewinds it.
fn fill_and_seal(fd: libc::c_int, bytes: &[u8]) -> io::Result<OwnedFd> {
    // SAFETY: `fd` was just returned by memfd_create and is owned here only.
    let mut file = unsafe { File::from_raw_fd(fd) };
    file.write_all(bytes)?;
    file.seek(SeekFrom::Start(0))?;
    let seals = libc::F_SEAL_WRITE | libc::F_SEAL_GROW | libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL;
    // SAFETY: F_ADD_SEALS on our own memfd with a valid seal mask.
    if unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(OwnedFd::from(file))
}
