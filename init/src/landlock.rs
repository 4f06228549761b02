//! Step 7 (and the agent's extra scope in step 11): Landlock, the
//! filesystem and TCP allow-list, through the raw syscalls.
//!
//! The ruleset handles every right the running kernel's ABI knows, so
//! anything not granted by a `--fs-*` rule is denied. TCP (ABI >= 4):
//! connect only to the forwarder port, bind nowhere. Scopes (ABI >= 6):
//! no abstract Unix sockets or signals across the domain boundary.

use core::ffi::{c_int, c_long, c_void};
use core::mem::{offset_of, size_of};

use crate::args::{Args, FsAccess, FsRule, LandlockMode};
use crate::sys;

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

// Network rights (ABI 4).
const NET_BIND_TCP: u64 = 1 << 0;
const NET_CONNECT_TCP: u64 = 1 << 1;

// Scopes (ABI 6).
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;

/// landlock_create_ruleset flag: return the ABI version.
const CREATE_RULESET_VERSION: c_long = 1 << 0;
/// landlock_add_rule types.
const RULE_PATH_BENEATH: c_long = 1;
const RULE_NET_PORT: c_long = 2;

/// The rights that mean something on a file that is not a directory; the
/// kernel rejects a rule on such a file that grants any other (EINVAL).
const FILE_RIGHTS: u64 = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV;

/// The scopes every sandbox process gets (ABI >= 6).
const SCOPES: u64 = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL;

/// struct landlock_ruleset_attr; each ABI reads a prefix of it (see
/// [`attr_size`]).
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

/// The rights of each `--fs-*` kind, before masking by the ABI.
fn rights(access: FsAccess) -> u64 {
    match access {
        FsAccess::ReadOnly => FS_EXECUTE | FS_READ_FILE | FS_READ_DIR,
        // Never MAKE_CHAR, MAKE_BLOCK or IOCTL_DEV.
        FsAccess::ReadWrite => {
            FS_EXECUTE
                | FS_WRITE_FILE
                | FS_READ_FILE
                | FS_READ_DIR
                | FS_REMOVE_DIR
                | FS_REMOVE_FILE
                | FS_MAKE_DIR
                | FS_MAKE_REG
                | FS_MAKE_SOCK
                | FS_MAKE_FIFO
                | FS_MAKE_SYM
                | FS_REFER
                | FS_TRUNCATE
        }
        FsAccess::Device => FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE | FS_IOCTL_DEV,
        FsAccess::List => FS_READ_DIR,
    }
}

/// Every filesystem right the kernel's ABI knows.
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

/// How much of [`RulesetAttr`] the ABI reads: the size must match the
/// fields filled in (fs; fs+net from 4; fs+net+scoped from 6).
fn attr_size(abi: u32) -> usize {
    if abi >= 6 {
        size_of::<RulesetAttr>()
    } else if abi >= 4 {
        offset_of!(RulesetAttr, scoped)
    } else {
        offset_of!(RulesetAttr, handled_access_net)
    }
}

/// Step 7: restricts init (and so everything it starts) to the `--fs-*`
/// rules and the forwarder port. Returns the kernel's Landlock ABI, 0 when
/// Landlock is absent and `--landlock auto` allowed going on without it.
/// Exits 125 on any other failure.
pub fn restrict(args: &Args) -> u32 {
    let abi = abi_version(args.landlock);
    if abi == 0 {
        return 0;
    }
    let attr = RulesetAttr {
        handled_access_fs: handled_fs(abi),
        handled_access_net: if abi >= 4 {
            NET_BIND_TCP | NET_CONNECT_TCP
        } else {
            0
        },
        scoped: if abi >= 6 { SCOPES } else { 0 },
    };
    let ruleset = create_ruleset(&attr, attr_size(abi));
    for rule in &args.fs {
        add_path_rule(ruleset, rule, attr.handled_access_fs);
    }
    if abi >= 4 {
        add_port_rule(ruleset, args.forward_port);
    }
    restrict_self(ruleset);
    sys::close(ruleset);
    abi
}

/// Step 11, in the agent's process: a nested domain with only the scopes,
/// so the agent can neither signal init and its forwarder threads nor
/// reach their abstract sockets (they stay in the parent domain). Nothing
/// to do below ABI 6. Exits 125 on failure.
pub fn scope_agent(abi: u32) {
    if abi < 6 {
        return;
    }
    let attr = RulesetAttr {
        handled_access_fs: 0,
        handled_access_net: 0,
        scoped: SCOPES,
    };
    let ruleset = create_ruleset(&attr, size_of::<RulesetAttr>());
    restrict_self(ruleset);
    sys::close(ruleset);
}

/// The ABI version, or 0 if Landlock is absent and `mode` allows that.
fn abi_version(mode: LandlockMode) -> u32 {
    // SAFETY: with a NULL attribute, size 0 and the VERSION flag the
    // kernel reads nothing and returns the ABI number.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            core::ptr::null::<c_void>(),
            0 as c_long,
            CREATE_RULESET_VERSION,
        )
    };
    if r >= 1 {
        return u32::try_from(r).unwrap_or(u32::MAX);
    }
    let e = sys::errno();
    if r == 0 || (e != libc::ENOSYS && e != libc::EOPNOTSUPP) {
        sys::die_errno(&[&"landlock_create_ruleset(VERSION)"], e, "");
    }
    if mode == LandlockMode::Require {
        sys::die_errno(
            &[&"Landlock is not available"],
            e,
            "needs Linux >= 5.13 with landlock in the lsm= list; --landlock auto runs without it",
        );
    }
    sys::notice(&[
        &"notice: Landlock is not available in this kernel; going on without it (--landlock auto)",
    ]);
    0
}

/// landlock_create_ruleset with the first `size` bytes of `attr`, or exits 125.
fn create_ruleset(attr: &RulesetAttr, size: usize) -> c_int {
    // SAFETY: `attr` is a live RulesetAttr and `size` never exceeds its size.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            attr as *const RulesetAttr,
            size as c_long,
            0 as c_long,
        )
    };
    if fd < 0 {
        sys::die_errno(&[&"landlock_create_ruleset"], sys::errno(), "");
    }
    c_int::try_from(fd)
        .unwrap_or_else(|_| sys::die(&[&"landlock_create_ruleset"], &[&"bad descriptor"], ""))
}

/// Adds one `--fs-*` rule. A path that does not exist is skipped; any
/// other failure exits 125.
fn add_path_rule(ruleset: c_int, rule: &FsRule, handled: u64) {
    let fd = match sys::open(rule.path, libc::O_PATH | libc::O_CLOEXEC) {
        Ok(fd) => fd,
        Err(libc::ENOENT) => return,
        Err(e) => sys::die_errno(&[&"Landlock rule: open ", &rule.path], e, ""),
    };
    let mut allowed = rights(rule.access) & handled;
    if !is_dir(fd, rule) {
        allowed &= FILE_RIGHTS;
    }
    // Nothing left to grant (e.g. --fs-list on a file): no rule at all.
    if allowed != 0 {
        let attr = PathBeneathAttr {
            allowed_access: allowed,
            parent_fd: fd,
        };
        // SAFETY: `attr` is a live landlock_path_beneath_attr.
        let r = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                ruleset as c_long,
                RULE_PATH_BENEATH,
                &attr as *const PathBeneathAttr,
                0 as c_long,
            )
        };
        if r != 0 {
            sys::die_errno(&[&"Landlock rule for ", &rule.path], sys::errno(), "");
        }
    }
    sys::close(fd);
}

/// Whether the O_PATH descriptor `fd` is a directory; exits 125 if fstat fails.
fn is_dir(fd: c_int, rule: &FsRule) -> bool {
    // SAFETY: stat is plain old data; all zeroes is valid.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: fstat works on O_PATH descriptors; `st` is a valid out-pointer.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        sys::die_errno(&[&"Landlock rule: stat ", &rule.path], sys::errno(), "");
    }
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// Allows TCP connect to `port` (on any address: only loopback exists in
/// the sandbox's network namespace). Exits 125 on failure.
fn add_port_rule(ruleset: c_int, port: u16) {
    let attr = NetPortAttr {
        allowed_access: NET_CONNECT_TCP,
        port: u64::from(port),
    };
    // SAFETY: `attr` is a live landlock_net_port_attr.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset as c_long,
            RULE_NET_PORT,
            &attr as *const NetPortAttr,
            0 as c_long,
        )
    };
    if r != 0 {
        sys::die_errno(
            &[&"Landlock rule for TCP port ", &u64::from(port)],
            sys::errno(),
            "",
        );
    }
}

/// landlock_restrict_self, or exits 125.
fn restrict_self(ruleset: c_int) {
    // SAFETY: plain syscall on our ruleset descriptor; NO_NEW_PRIVS is set.
    if unsafe {
        libc::syscall(
            libc::SYS_landlock_restrict_self,
            ruleset as c_long,
            0 as c_long,
        )
    } != 0
    {
        sys::die_errno(&[&"landlock_restrict_self"], sys::errno(), "");
    }
}
