//! Landlock through the raw syscalls: a filesystem allow-list, TCP bind
//! ports and scopes for the calling thread and every thread it starts later.
//!
//! The ruleset handles every filesystem right the running kernel's ABI
//! knows (up to ABI 5), so a right no rule grants is denied everywhere; in
//! particular `EXECUTE` is handled and never granted. TCP (ABI >= 4): only
//! bind is handled (connect stays free). Scopes (ABI >= 6): signals and
//! abstract Unix sockets do not cross the domain boundary.
//!
//! `landlock_restrict_self` confines the calling thread only (and threads
//! it creates afterwards): call [`restrict_self`] before any other thread
//! exists. The caller must have set no_new_privs first.

use std::ffi::CString;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

// Filesystem rights (include/uapi/linux/landlock.h). ABI 1 has the first 13.
const FS_EXECUTE: u64 = 1 << 0;
const FS_WRITE_FILE: u64 = 1 << 1;
const FS_READ_FILE: u64 = 1 << 2;
const FS_READ_DIR: u64 = 1 << 3;
const FS_REMOVE_DIR: u64 = 1 << 4;
const FS_REMOVE_FILE: u64 = 1 << 5;
const FS_MAKE_CHAR: u64 = 1 << 6;
const FS_MAKE_DIR: u64 = 1 << 7;
const FS_MAKE_REG: u64 = 1 << 8;
const FS_MAKE_SOCK: u64 = 1 << 9;
const FS_MAKE_FIFO: u64 = 1 << 10;
const FS_MAKE_BLOCK: u64 = 1 << 11;
const FS_MAKE_SYM: u64 = 1 << 12;
/// ABI 2: link or rename a file into another directory.
const FS_REFER: u64 = 1 << 13;
/// ABI 3.
const FS_TRUNCATE: u64 = 1 << 14;
/// ABI 5: ioctl on character and block devices.
const FS_IOCTL_DEV: u64 = 1 << 15;

/// Network right (ABI 4): bind a TCP socket to a port.
const NET_BIND_TCP: u64 = 1 << 0;

// Scopes (ABI 6).
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;

/// landlock_create_ruleset flag: return the ABI version.
const CREATE_RULESET_VERSION: libc::c_long = 1 << 0;
/// landlock_add_rule types.
const RULE_PATH_BENEATH: libc::c_long = 1;
const RULE_NET_PORT: libc::c_long = 2;

/// The rights that mean something on a file that is not a directory; the
/// kernel rejects a rule on such a file that grants any other (EINVAL).
const FILE_RIGHTS: u64 = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV;

/// What a rule grants beneath its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read files and list directories.
    ReadOnly,
    /// Read, write, create, remove, rename and truncate files and
    /// directories. Never execute, device nodes, sockets, FIFOs or symlinks.
    ReadWrite,
    /// [`Access::ReadWrite`] plus creating Unix sockets (runtime directories).
    ReadWriteSockets,
}

impl Access {
    /// The rights before masking by the ABI and the file type.
    fn rights(self) -> u64 {
        let read = FS_READ_FILE | FS_READ_DIR;
        let write = read
            | FS_WRITE_FILE
            | FS_REMOVE_DIR
            | FS_REMOVE_FILE
            | FS_MAKE_DIR
            | FS_MAKE_REG
            | FS_REFER
            | FS_TRUNCATE;
        match self {
            Access::ReadOnly => read,
            Access::ReadWrite => write,
            Access::ReadWriteSockets => write | FS_MAKE_SOCK,
        }
    }
}

/// One path and what may be done beneath it (a file: to it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The file or directory (symlinks are followed).
    pub path: PathBuf,
    /// What the rule grants.
    pub access: Access,
}

/// What [`restrict_self`] did.
#[derive(Debug)]
pub enum Outcome {
    /// The kernel has no usable Landlock; nothing was restricted. The text
    /// says why ("kernel has none", ...).
    Unavailable(String),
    /// The calling thread is confined.
    Enforced(Enforced),
}

/// The details of an enforced ruleset, for the start-up line.
#[derive(Debug)]
pub struct Enforced {
    /// The kernel's Landlock ABI version.
    pub abi: u32,
    /// Rules that were added.
    pub granted: Vec<Rule>,
    /// Rules whose path does not exist (nothing granted there).
    pub missing: Vec<Rule>,
    /// Whether TCP bind is restricted (ABI >= 4) to the given ports.
    pub bind_restricted: bool,
    /// Whether signal and abstract Unix socket scoping applies (ABI >= 6).
    pub scoped: bool,
}

/// The kernel's Landlock ABI, or why it cannot be used.
pub fn abi() -> Result<u32, String> {
    // SAFETY: with a NULL attribute, size 0 and the VERSION flag the kernel
    // reads no memory and only returns the ABI number.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0 as libc::size_t,
            CREATE_RULESET_VERSION,
        )
    };
    if r >= 1 {
        return Ok(u32::try_from(r).unwrap_or(u32::MAX));
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => Err("kernel has none".into()),
        _ => Err(format!("landlock_create_ruleset(VERSION) failed: {e}")),
    }
}

/// Every filesystem right the kernel's ABI knows (and this code knows).
fn handled_fs(abi: u32) -> u64 {
    let mut handled = FS_EXECUTE
        | FS_WRITE_FILE
        | FS_READ_FILE
        | FS_READ_DIR
        | FS_REMOVE_DIR
        | FS_REMOVE_FILE
        | FS_MAKE_CHAR
        | FS_MAKE_DIR
        | FS_MAKE_REG
        | FS_MAKE_SOCK
        | FS_MAKE_FIFO
        | FS_MAKE_BLOCK
        | FS_MAKE_SYM;
    if abi >= 2 {
        handled |= FS_REFER;
    }
    if abi >= 3 {
        handled |= FS_TRUNCATE;
    }
    if abi >= 5 {
        handled |= FS_IOCTL_DEV;
    }
    handled
}

/// struct landlock_ruleset_attr; each ABI reads a prefix of it.
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// struct landlock_path_beneath_attr (packed in the uapi header).
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// struct landlock_net_port_attr.
#[repr(C)]
struct NetPortAttr {
    allowed_access: u64,
    port: u64,
}

/// How much of [`RulesetAttr`] the ABI reads (fs; +net from 4; +scoped from 6).
fn attr_size(abi: u32) -> usize {
    if abi >= 6 {
        size_of::<RulesetAttr>()
    } else if abi >= 4 {
        offset_of!(RulesetAttr, scoped)
    } else {
        offset_of!(RulesetAttr, handled_access_net)
    }
}

/// Confines the calling thread (and the threads it starts later) to
/// `rules`, TCP bind to `bind_ports` (ABI >= 4) and the scopes (ABI >= 6).
/// A rule whose path does not exist is skipped and reported. Landlock
/// missing from the kernel is `Ok(Unavailable)`; any failure once the
/// kernel has it is an error (the caller must fail closed).
pub fn restrict_self(rules: &[Rule], bind_ports: &[u16]) -> Result<Outcome, String> {
    let abi = match abi() {
        Ok(abi) => abi,
        Err(why) => return Ok(Outcome::Unavailable(why)),
    };
    let attr = RulesetAttr {
        handled_access_fs: handled_fs(abi),
        handled_access_net: if abi >= 4 { NET_BIND_TCP } else { 0 },
        scoped: if abi >= 6 {
            SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        } else {
            0
        },
    };
    let ruleset = create_ruleset(&attr, attr_size(abi))?;
    let mut granted = Vec::new();
    let mut missing = Vec::new();
    for rule in rules {
        if add_path_rule(&ruleset, rule, attr.handled_access_fs)? {
            granted.push(rule.clone());
        } else {
            missing.push(rule.clone());
        }
    }
    if abi >= 4 {
        for &port in bind_ports {
            add_port_rule(&ruleset, port)?;
        }
    }
    // SAFETY: a plain syscall on our ruleset descriptor, which stays open
    // for the call; flags 0.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_restrict_self,
            ruleset.as_raw_fd() as libc::c_long,
            0 as libc::c_long,
        )
    };
    if r != 0 {
        return Err(format!(
            "landlock_restrict_self failed: {} (is no_new_privs set?)",
            std::io::Error::last_os_error()
        ));
    }
    Ok(Outcome::Enforced(Enforced {
        abi,
        granted,
        missing,
        bind_restricted: abi >= 4,
        scoped: abi >= 6,
    }))
}

/// landlock_create_ruleset with the first `size` bytes of `attr`.
fn create_ruleset(attr: &RulesetAttr, size: usize) -> Result<OwnedFd, String> {
    // SAFETY: `attr` is a live RulesetAttr and `size` never exceeds its size.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            attr as *const RulesetAttr,
            size as libc::size_t,
            0 as libc::c_long,
        )
    };
    if fd < 0 {
        return Err(format!(
            "landlock_create_ruleset failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    let fd = i32::try_from(fd).map_err(|_| "landlock_create_ruleset: bad descriptor")?;
    // SAFETY: the kernel just returned this descriptor to us; nothing else
    // owns it, so OwnedFd may close it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens `path` with O_PATH (following symlinks). `Ok(None)` when it does
/// not exist.
fn open_path(path: &Path) -> Result<Option<OwnedFd>, String> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("Landlock rule: {} contains NUL", path.display()))?;
    // SAFETY: `c` is a NUL-terminated string that outlives the call.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => Ok(None),
            _ => Err(format!(
                "Landlock rule: cannot open {}: {e}",
                path.display()
            )),
        };
    }
    // SAFETY: open returned a fresh descriptor that nothing else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Whether the O_PATH descriptor `fd` is a directory.
fn is_dir(fd: &OwnedFd, path: &Path) -> Result<bool, String> {
    // SAFETY: stat is plain old data; all zeroes is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat works on O_PATH descriptors; `st` is a valid out-pointer.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(format!(
            "Landlock rule: cannot stat {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

/// Adds one path rule. `Ok(false)` when the path does not exist.
fn add_path_rule(ruleset: &OwnedFd, rule: &Rule, handled: u64) -> Result<bool, String> {
    let Some(fd) = open_path(&rule.path)? else {
        return Ok(false);
    };
    let mut allowed = rule.access.rights() & handled;
    if !is_dir(&fd, &rule.path)? {
        allowed &= FILE_RIGHTS;
    }
    let attr = PathBeneathAttr {
        allowed_access: allowed,
        parent_fd: fd.as_raw_fd(),
    };
    // SAFETY: `attr` is a live landlock_path_beneath_attr and both
    // descriptors stay open for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset.as_raw_fd() as libc::c_long,
            RULE_PATH_BENEATH,
            &attr as *const PathBeneathAttr,
            0 as libc::c_long,
        )
    };
    if r != 0 {
        return Err(format!(
            "Landlock rule for {}: {}",
            rule.path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(true)
}

/// Allows TCP bind to `port` (on any address).
fn add_port_rule(ruleset: &OwnedFd, port: u16) -> Result<(), String> {
    let attr = NetPortAttr {
        allowed_access: NET_BIND_TCP,
        port: u64::from(port),
    };
    // SAFETY: `attr` is a live landlock_net_port_attr and the ruleset
    // descriptor stays open for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset.as_raw_fd() as libc::c_long,
            RULE_NET_PORT,
            &attr as *const NetPortAttr,
            0 as libc::c_long,
        )
    };
    if r != 0 {
        return Err(format!(
            "Landlock rule for TCP bind port {port}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Set in the child run of [`confined_child`].
    const CHILD_ENV: &str = "LATCHGATE_TEST_LANDLOCK_CHILD";

    #[test]
    fn rights_never_include_execute_devices_or_symlinks() {
        for access in [
            Access::ReadOnly,
            Access::ReadWrite,
            Access::ReadWriteSockets,
        ] {
            let r = access.rights();
            assert_eq!(r & FS_EXECUTE, 0, "{access:?}");
            assert_eq!(r & (FS_MAKE_CHAR | FS_MAKE_BLOCK | FS_IOCTL_DEV), 0);
            assert_eq!(r & (FS_MAKE_SYM | FS_MAKE_FIFO), 0);
        }
        assert_eq!(Access::ReadOnly.rights(), FS_READ_FILE | FS_READ_DIR);
        assert_eq!(Access::ReadWrite.rights() & FS_MAKE_SOCK, 0);
        assert_ne!(Access::ReadWriteSockets.rights() & FS_MAKE_SOCK, 0);
        // Every right granted is handled from ABI 3 on (REFER from 2).
        assert_eq!(
            Access::ReadWriteSockets.rights() & !handled_fs(3),
            0,
            "a granted right the ruleset does not handle"
        );
    }

    #[test]
    fn handled_rights_grow_with_the_abi() {
        assert_ne!(handled_fs(1) & FS_EXECUTE, 0);
        assert_eq!(handled_fs(1) & FS_REFER, 0);
        assert_ne!(handled_fs(2) & FS_REFER, 0);
        assert_eq!(handled_fs(2) & FS_TRUNCATE, 0);
        assert_ne!(handled_fs(3) & FS_TRUNCATE, 0);
        assert_eq!(handled_fs(4) & FS_IOCTL_DEV, 0);
        assert_ne!(handled_fs(7) & FS_IOCTL_DEV, 0);
        assert_eq!(attr_size(1), 8);
        assert_eq!(attr_size(4), 16);
        assert_eq!(attr_size(6), 24);
    }

    /// Runs in a child process (this test binary, re-run): confines itself
    /// to a scratch directory and checks what is allowed and refused.
    #[test]
    fn confined_child() {
        let Some(dir) = std::env::var_os(CHILD_ENV) else {
            return;
        };
        let dir = PathBuf::from(dir);
        let rw = dir.join("rw");
        let ro = dir.join("ro");
        crate::sys::seccomp::set_no_new_privs().unwrap();
        let rules = [
            Rule {
                path: rw.clone(),
                access: Access::ReadWrite,
            },
            Rule {
                path: ro.clone(),
                access: Access::ReadOnly,
            },
            Rule {
                path: dir.join("absent"),
                access: Access::ReadOnly,
            },
        ];
        let Outcome::Enforced(e) = restrict_self(&rules, &[]).unwrap() else {
            panic!("not enforced although the kernel has Landlock");
        };
        assert_eq!(e.granted.len(), 2);
        assert_eq!(e.missing.len(), 1);
        std::fs::write(rw.join("new"), b"x").unwrap();
        std::fs::remove_file(rw.join("new")).unwrap();
        assert_eq!(std::fs::read(ro.join("f")).unwrap(), b"ro");
        let denied = |r: std::io::Result<()>| {
            assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EACCES));
        };
        denied(std::fs::write(ro.join("f"), b"w"));
        denied(std::fs::write(ro.join("g"), b"w"));
        denied(std::fs::read(dir.join("outside")).map(drop));
        denied(std::fs::read("/etc/hosts").map(drop));
        // Threads started now are confined too.
        let outside = dir.join("outside");
        let t = std::thread::spawn(move || std::fs::read(outside).map(drop));
        denied(t.join().unwrap());
        if e.bind_restricted {
            let bind = std::net::TcpListener::bind("127.0.0.1:0");
            assert_eq!(bind.unwrap_err().raw_os_error(), Some(libc::EACCES));
        }
        println!("landlock child: all checks passed");
    }

    #[test]
    fn confinement_applies_in_a_child() {
        if abi().is_err() {
            eprintln!("skipped: no Landlock on this kernel");
            return;
        }
        let dir = std::env::temp_dir().join(format!("lg-landlock-{}", crate::crypto::uuid::v4()));
        std::fs::create_dir_all(dir.join("rw")).unwrap();
        std::fs::create_dir_all(dir.join("ro")).unwrap();
        std::fs::write(dir.join("ro/f"), b"ro").unwrap();
        std::fs::write(dir.join("outside"), b"no").unwrap();
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "sys::landlock::tests::confined_child"])
            .args(["--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &dir)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "child failed:\n{text}");
        assert!(
            text.contains("landlock child: all checks passed"),
            "child did not run:\n{text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
