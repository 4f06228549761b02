//! Confined file access with openat2(2) (Linux 5.6+): every path is
//! resolved beneath a directory fd with `RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`, so neither `..`, an
//! absolute path, a symlink (in any component, the last one included) nor
//! a /proc magic link can leave that directory. The kernel enforces this
//! during the lookup itself, so there is no check-then-use race.
//!
//! A kernel without openat2 (ENOSYS) makes every call fail with
//! `ErrorKind::Unsupported`: callers must fail closed, never fall back to
//! a weaker open.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// How to open a path beneath a directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Read only. Non-blocking, so a FIFO or device cannot stall the open.
    Read,
    /// Read and write an existing file (non-blocking open, no creation).
    ReadWrite,
    /// Create a new file for reading and writing (`O_EXCL`: fails with
    /// `AlreadyExists` if anything, a dangling symlink included, is there).
    CreateNew,
    /// A directory, as an `O_PATH` handle (usable as the `dir` of later calls).
    Directory,
}

impl Mode {
    fn flags(self) -> libc::c_int {
        match self {
            Mode::Read => libc::O_RDONLY | libc::O_NONBLOCK,
            Mode::ReadWrite => libc::O_RDWR | libc::O_NONBLOCK,
            Mode::CreateNew => libc::O_RDWR | libc::O_CREAT | libc::O_EXCL,
            Mode::Directory => libc::O_PATH | libc::O_DIRECTORY,
        }
    }
}

/// What `lstat_at` reports about a directory entry (never following it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The entry is a symbolic link.
    pub is_symlink: bool,
    /// The entry is a regular file.
    pub is_file: bool,
    /// Device and inode (identify the file).
    pub dev: u64,
    pub ino: u64,
}

/// Mode bits of new files (the process umask still applies).
const NEW_FILE_MODE: u64 = 0o644;

/// How often a lookup is retried when the kernel reports a concurrent
/// rename it could not rule out (EAGAIN) or a signal (EINTR).
const RETRIES: u32 = 8;

fn c_path(path: &str) -> io::Result<CString> {
    CString::new(path).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
}

fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "openat2(2) is not available on this kernel (Linux 5.6 or later is needed); \
         file actions are refused rather than run without confinement",
    )
}

/// One openat2 call with retries; `dir` may be `AT_FDCWD`.
fn openat2(dir: RawFd, path: &str, flags: libc::c_int, resolve: u64) -> io::Result<OwnedFd> {
    let c = c_path(path)?;
    // SAFETY: open_how is a plain struct of integers (the kernel requires
    // unknown and padding fields to be zero), so all-zero is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    // openat2 refuses O_PATH combined with anything but O_DIRECTORY,
    // O_NOFOLLOW and O_CLOEXEC (EINVAL).
    let extra = if flags & libc::O_PATH != 0 {
        libc::O_CLOEXEC
    } else {
        libc::O_CLOEXEC | libc::O_NOCTTY
    };
    how.flags = (flags | extra) as u64;
    how.mode = if flags & libc::O_CREAT != 0 {
        NEW_FILE_MODE
    } else {
        0
    };
    how.resolve = resolve;
    let mut attempts = 0;
    loop {
        // SAFETY: `c` is a NUL-terminated string and `how` a fully
        // initialised open_how that both outlive the call; the size passed
        // is exactly that of `how`. The kernel only reads them.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir,
                c.as_ptr(),
                &mut how as *mut libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if rc >= 0 {
            let fd = RawFd::try_from(rc).map_err(|_| io::Error::other("fd out of range"))?;
            // SAFETY: the syscall succeeded, so `fd` is a new descriptor
            // this process owns and nothing else refers to.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ENOSYS) => return Err(unsupported()),
            Some(libc::EAGAIN) | Some(libc::EINTR) if attempts < RETRIES => attempts += 1,
            _ => return Err(err),
        }
    }
}

/// Opens the directory `root` (absolute) as an `O_PATH` handle, refusing
/// any symlink on the way: `root` must already be canonical (the lease
/// stored it so), and a symlink planted since is refused (ELOOP).
pub fn open_root(root: &Path) -> io::Result<OwnedFd> {
    let text = root
        .to_str()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "root is not UTF-8"))?;
    openat2(
        libc::AT_FDCWD,
        text,
        Mode::Directory.flags(),
        libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS,
    )
}

/// Opens `path` (relative) beneath `dir`. Escaping `dir` fails with EXDEV,
/// any symlink with ELOOP, a missing entry with ENOENT.
pub fn open_beneath(dir: BorrowedFd<'_>, path: &str, mode: Mode) -> io::Result<OwnedFd> {
    openat2(
        dir.as_raw_fd(),
        path,
        mode.flags() | libc::O_NOFOLLOW,
        libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS,
    )
}

/// Looks at `name`, one entry of the directory `dir`, without following
/// it (fstatat with `AT_SYMLINK_NOFOLLOW`).
pub fn lstat_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<Entry> {
    let c = c_path(name)?;
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `c` is NUL-terminated and `st` is valid for writes of one
    // `stat`; both outlive the call.
    let rc = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            c.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstatat succeeded, so it filled the whole struct (which was
    // zero-initialised anyway).
    let st = unsafe { st.assume_init() };
    let kind = st.st_mode & libc::S_IFMT;
    Ok(Entry {
        is_symlink: kind == libc::S_IFLNK,
        is_file: kind == libc::S_IFREG,
        dev: st.st_dev,
        ino: st.st_ino,
    })
}

/// Removes the non-directory entry `name` of `dir` (unlinkat, flags 0: a
/// symlink is removed itself, never its target).
pub fn unlink_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    let c = c_path(name)?;
    // SAFETY: `c` is NUL-terminated and outlives the call; `dir` is a live fd.
    let rc = unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::path::PathBuf;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "lg-openat2-{name}-{}-{}",
            std::process::id(),
            crate::crypto::uuid::v7()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::canonicalize(&dir).unwrap()
    }

    fn errno(r: io::Result<OwnedFd>) -> i32 {
        match r {
            Ok(_) => panic!("open succeeded"),
            Err(e) => e.raw_os_error().unwrap_or(-1),
        }
    }

    #[test]
    fn stays_beneath_the_root() {
        let base = scratch("beneath");
        let root = base.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/f.txt"), b"hi").unwrap();
        std::fs::write(base.join("outside.txt"), b"secret").unwrap();
        std::os::unix::fs::symlink(base.join("outside.txt"), root.join("link")).unwrap();
        std::os::unix::fs::symlink("sub", root.join("dirlink")).unwrap();

        let dir = open_root(&root).unwrap();
        let fd = open_beneath(dir.as_fd(), "sub/f.txt", Mode::Read).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(fd), &mut text).unwrap();
        assert_eq!(text, "hi");

        assert_eq!(
            errno(open_beneath(dir.as_fd(), "../outside.txt", Mode::Read)),
            libc::EXDEV
        );
        let abs = base.join("outside.txt");
        assert_eq!(
            errno(open_beneath(dir.as_fd(), abs.to_str().unwrap(), Mode::Read)),
            libc::EXDEV
        );
        assert_eq!(
            errno(open_beneath(dir.as_fd(), "link", Mode::Read)),
            libc::ELOOP
        );
        assert_eq!(
            errno(open_beneath(dir.as_fd(), "dirlink/f.txt", Mode::Read)),
            libc::ELOOP
        );
        assert_eq!(
            errno(open_beneath(
                dir.as_fd(),
                "/proc/self/root/etc/passwd",
                Mode::Read
            )),
            libc::EXDEV
        );
        assert_eq!(
            errno(open_beneath(dir.as_fd(), "nope", Mode::Read)),
            libc::ENOENT
        );
        // O_EXCL: an existing file, or a dangling symlink, is not replaced.
        assert_eq!(
            errno(open_beneath(dir.as_fd(), "sub/f.txt", Mode::CreateNew)),
            libc::EEXIST
        );
        std::os::unix::fs::symlink(base.join("nowhere"), root.join("dangling")).unwrap();
        assert!(errno(open_beneath(dir.as_fd(), "dangling", Mode::CreateNew)) != 0);
        assert!(!base.join("nowhere").exists());
        assert!(open_beneath(dir.as_fd(), "sub/new.txt", Mode::CreateNew).is_ok());
        assert!(root.join("sub/new.txt").is_file());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn root_must_not_contain_a_symlink() {
        let base = scratch("root");
        std::fs::create_dir_all(base.join("real")).unwrap();
        std::os::unix::fs::symlink(base.join("real"), base.join("alias")).unwrap();
        assert!(open_root(&base.join("real")).is_ok());
        assert_eq!(errno(open_root(&base.join("alias"))), libc::ELOOP);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn lstat_and_unlink_never_follow() {
        let base = scratch("unlink");
        std::fs::write(base.join("target.txt"), b"keep").unwrap();
        std::fs::write(base.join("f.txt"), b"x").unwrap();
        std::os::unix::fs::symlink(base.join("target.txt"), base.join("l")).unwrap();
        let dir = open_root(&base).unwrap();
        let f = lstat_at(dir.as_fd(), "f.txt").unwrap();
        assert!(f.is_file && !f.is_symlink);
        let l = lstat_at(dir.as_fd(), "l").unwrap();
        assert!(l.is_symlink && !l.is_file);
        unlink_at(dir.as_fd(), "l").unwrap();
        assert!(base.join("target.txt").exists());
        unlink_at(dir.as_fd(), "f.txt").unwrap();
        assert!(!base.join("f.txt").exists());
        assert_eq!(
            unlink_at(dir.as_fd(), "f.txt").unwrap_err().raw_os_error(),
            Some(libc::ENOENT)
        );
        assert!(c_path("a\0b").is_err());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
