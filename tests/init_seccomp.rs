//! sandbox-init's seccomp filter (init/src/seccomp.rs, compiled here from
//! its own source) run through a classic-BPF interpreter: for every syscall
//! number, both architectures and the arguments the filter looks at, the
//! action must be the one the blocklist below says. The blocklist is
//! written out again here on purpose (the seed's list, by name), so a
//! mistake in the filter's search or in its list shows up as a difference.
#![cfg(target_arch = "x86_64")]

extern crate alloc;

/// The few helpers of init's `sys` the filter builder calls: its fatal
/// errors become panics here.
#[allow(dead_code)]
mod sys {
    use core::ffi::c_int;

    pub trait Piece {}
    impl Piece for &str {}

    pub fn die(_what: &[&dyn Piece], _why: &[&dyn Piece], hint: &str) -> ! {
        panic!("sandbox-init would exit 125 ({hint})")
    }

    pub fn die_errno(_what: &[&dyn Piece], errno: c_int, hint: &str) -> ! {
        panic!("sandbox-init would exit 125 (errno {errno}, {hint})")
    }

    pub fn errno() -> c_int {
        0
    }
}

#[allow(dead_code)]
#[path = "../init/src/seccomp.rs"]
mod seccomp;

use libc::sock_filter;

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;
const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
const ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

/// The seed's blocklist: these answer EPERM whatever their arguments.
const DENIED: &[libc::c_long] = &[
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_open_tree,
    libc::SYS_move_mount,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_pidfd_getfd,
    libc::SYS_kcmp,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_sethostname,
    libc::SYS_setdomainname,
    libc::SYS_quotactl,
    libc::SYS_vhangup,
    libc::SYS_syslog,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_name_to_handle_at,
    libc::SYS_open_by_handle_at,
    libc::SYS_lookup_dcookie,
    libc::SYS_iopl,
    libc::SYS_ioperm,
    libc::SYS_uselib,
];

const CLONE_NAMESPACES: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u64;

/// struct seccomp_data.
#[derive(Clone, Copy)]
struct Call {
    nr: u32,
    arch: u32,
    args: [u64; 6],
}

impl Call {
    fn new(nr: libc::c_long, args: &[u64]) -> Call {
        let mut a = [0u64; 6];
        a[..args.len()].copy_from_slice(args);
        Call {
            nr: nr as u32,
            arch: AUDIT_ARCH_X86_64,
            args: a,
        }
    }

    /// The 32-bit word at `offset` of struct seccomp_data (nr, arch,
    /// instruction_pointer, args), little-endian.
    fn word(&self, offset: u32) -> u32 {
        let mut bytes = Vec::with_capacity(64);
        bytes.extend_from_slice(&self.nr.to_le_bytes());
        bytes.extend_from_slice(&self.arch.to_le_bytes());
        bytes.extend_from_slice(&0u64.to_le_bytes());
        for a in self.args {
            bytes.extend_from_slice(&a.to_le_bytes());
        }
        let o = offset as usize;
        u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap())
    }
}

/// Runs the filter the way the kernel does; returns the action and how
/// many instructions ran. Only the instructions the builder emits exist.
fn run(prog: &[sock_filter], call: &Call) -> (u32, usize) {
    let (mut a, mut pc, mut steps) = (0u32, 0usize, 0usize);
    loop {
        let i = prog[pc];
        steps += 1;
        let code = u32::from(i.code);
        let jump = |taken: bool| usize::from(if taken { i.jt } else { i.jf });
        pc += 1;
        match code {
            c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => a = call.word(i.k),
            c if c == libc::BPF_ALU | libc::BPF_AND | libc::BPF_K => a &= i.k,
            c if c == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K => pc += jump(a == i.k),
            c if c == libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K => pc += jump(a >= i.k),
            c if c == libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K => pc += jump(a & i.k != 0),
            c if c == libc::BPF_RET | libc::BPF_K => return (i.k, steps),
            other => panic!(
                "instruction {other:#x} at {} is not one the builder emits",
                pc - 1
            ),
        }
    }
}

/// What the blocklist says for `call`.
fn expected(call: &Call) -> u32 {
    if call.arch != AUDIT_ARCH_X86_64 || call.nr >= 0x4000_0000 {
        return KILL;
    }
    let nr = libc::c_long::from(call.nr);
    let low = |i: usize| call.args[i] as u32;
    match nr {
        libc::SYS_clone3 => ENOSYS,
        libc::SYS_clone if u64::from(low(0)) & CLONE_NAMESPACES != 0 => EPERM,
        libc::SYS_ioctl if [libc::TIOCSTI as u32, libc::TIOCLINUX as u32].contains(&low(1)) => {
            EPERM
        }
        libc::SYS_socket if low(0) == libc::AF_PACKET as u32 => EPERM,
        libc::SYS_socket
            if [libc::AF_INET as u32, libc::AF_INET6 as u32].contains(&low(0))
                && [libc::SOCK_RAW as u32, 10].contains(&(low(1) & 0xf)) =>
        {
            EPERM
        }
        n if DENIED.contains(&n) => EPERM,
        _ => ALLOW,
    }
}

fn check(prog: &[sock_filter], call: Call) -> usize {
    let (got, steps) = run(prog, &call);
    assert_eq!(
        got,
        expected(&call),
        "syscall {} arch {:#x} args {:x?}",
        call.nr,
        call.arch,
        call.args
    );
    steps
}

#[test]
fn every_syscall_number_gets_the_blocklists_answer() {
    let prog = seccomp::build();
    let mut longest = 0;
    for nr in 0..1024 {
        longest = longest.max(check(&prog, Call::new(nr, &[])));
        let mut other = Call::new(nr, &[]);
        other.arch = AUDIT_ARCH_I386;
        check(&prog, other);
    }
    for nr in [0x4000_0000, 0x4000_0001, 0x4000_0000 + 59, u32::MAX as i64] {
        check(&prog, Call::new(nr, &[]));
    }
    // A search, not a line: no number runs through more than a few
    // comparisons (the line it replaced took up to ~60 for an allowed one).
    assert!(
        longest <= 16,
        "the longest path runs {longest} instructions"
    );
    for &n in DENIED {
        assert_eq!(run(&prog, &Call::new(n, &[])).0, EPERM, "syscall {n}");
    }
}

#[test]
fn the_arguments_the_filter_looks_at() {
    let prog = seccomp::build();
    let sigchld = libc::SIGCHLD as u64;
    for flags in [
        sigchld,
        libc::CLONE_VM as u64 | libc::CLONE_THREAD as u64,
        libc::CLONE_NEWUSER as u64 | sigchld,
        libc::CLONE_NEWNET as u64,
        libc::CLONE_NEWNS as u64,
        libc::CLONE_NEWPID as u64 | (1 << 40),
        1 << 40,
    ] {
        check(&prog, Call::new(libc::SYS_clone, &[flags]));
    }
    for cmd in [
        libc::TIOCSTI as u64,
        libc::TIOCLINUX as u64,
        libc::TIOCSTI as u64 | (1 << 32),
        libc::TIOCGWINSZ as u64,
        libc::TCGETS as u64,
    ] {
        check(&prog, Call::new(libc::SYS_ioctl, &[1, cmd]));
    }
    let families = [
        libc::AF_UNIX,
        libc::AF_INET,
        libc::AF_INET6,
        libc::AF_PACKET,
        libc::AF_NETLINK,
    ];
    let types = [
        libc::SOCK_STREAM,
        libc::SOCK_DGRAM,
        libc::SOCK_RAW,
        10,
        libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
    ];
    for family in families {
        for ty in types {
            check(
                &prog,
                Call::new(libc::SYS_socket, &[family as u64, ty as u64]),
            );
        }
    }
}
