//! The gate's own seccomp-BPF filter: a blocklist of calls a running gate
//! never makes, installed on every thread at once (TSYNC).
//!
//! ```text
//! arch != native                          -> KILL_PROCESS
//! x86_64: nr >= 0x40000000 (x32 ABI)      -> KILL_PROCESS
//! clone3                                  -> ENOSYS (libc falls back to clone)
//! clone with a namespace flag (CLONE_NEW*) -> EPERM
//! personality other than 0 or 0xffffffff  -> EPERM (query and PER_LINUX stay)
//! every syscall in DENIED                 -> EPERM
//! anything else                           -> ALLOW
//! ```
//!
//! Threads (clone without namespace flags), mmap/mprotect with PROT_EXEC
//! (wasmtime's JIT), signals, madvise, timers, sockets and files stay
//! allowed: what the gate may touch is Landlock's job, not this filter's.

use libc::{c_long, seccomp_data, sock_filter, sock_fprog};
use std::mem::offset_of;

/// AUDIT_ARCH_X86_64 (EM_X86_64 | 64-bit | little-endian).
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
/// AUDIT_ARCH_AARCH64 (EM_AARCH64 | 64-bit | little-endian).
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("the gate's seccomp filter supports x86_64 and aarch64 only");

/// x86_64: syscall numbers with this bit set are the x32 ABI.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// kexec_file_load on aarch64: missing from the libc crate's aarch64 list
/// (asm-generic/unistd.h: __NR_kexec_file_load 294).
#[cfg(target_arch = "aarch64")]
const SYS_KEXEC_FILE_LOAD: c_long = 294;
/// kexec_file_load (the libc crate has it on x86_64).
#[cfg(target_arch = "x86_64")]
const SYS_KEXEC_FILE_LOAD: c_long = libc::SYS_kexec_file_load;

/// Namespace flags refused in clone(2). Not CLONE_NEWTIME (0x80): for
/// clone(2) that bit belongs to the exit signal in the low byte.
const CLONE_NAMESPACES: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32;

/// personality(0xffffffff) only queries the current persona.
const PERSONALITY_QUERY: u32 = 0xffff_ffff;

/// Syscalls that answer EPERM: running programs, other processes' memory,
/// mounts and namespaces, kernel code, global system state, credentials,
/// and kernel facilities with a history of exploits.
const DENIED: &[c_long] = &[
    // Running another program.
    libc::SYS_execve,
    libc::SYS_execveat,
    // Other processes.
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_pidfd_getfd,
    libc::SYS_kcmp,
    // Mounts and namespaces.
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
    // Kernel code.
    libc::SYS_kexec_load,
    SYS_KEXEC_FILE_LOAD,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    // System state.
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_syslog,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_sethostname,
    libc::SYS_setdomainname,
    libc::SYS_vhangup,
    // Credentials.
    libc::SYS_setuid,
    libc::SYS_setgid,
    libc::SYS_setreuid,
    libc::SYS_setregid,
    libc::SYS_setresuid,
    libc::SYS_setresgid,
    libc::SYS_setfsuid,
    libc::SYS_setfsgid,
    libc::SYS_setgroups,
    libc::SYS_capset,
    // Kernel facilities.
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    // File handles bypass path-based checks (Landlock's too).
    libc::SYS_name_to_handle_at,
    libc::SYS_open_by_handle_at,
    // x86 only: port I/O and a.out libraries.
    #[cfg(target_arch = "x86_64")]
    libc::SYS_iopl,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_ioperm,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_uselib,
];

/// Return values.
const KILL_PROCESS: u32 = libc::SECCOMP_RET_KILL_PROCESS;
const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
const ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

/// Offsets into struct seccomp_data.
const NR: u32 = offset_of!(seccomp_data, nr) as u32;
const ARCH: u32 = offset_of!(seccomp_data, arch) as u32;
const ARGS: u32 = offset_of!(seccomp_data, args) as u32;

/// How many syscalls the filter refuses (wholly or for some arguments):
/// the list, clone3, clone with namespace flags and personality.
pub fn refused_count() -> usize {
    DENIED.len() + 3
}

/// Sets no_new_privs: needed before a seccomp filter or a Landlock
/// domain can be installed without privileges; exec can never gain any.
pub fn set_no_new_privs() -> Result<(), String> {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only.
    let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if r != 0 {
        return Err(format!(
            "prctl(PR_SET_NO_NEW_PRIVS) failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Installs the filter on every thread of the process (TSYNC); threads and
/// children started later inherit it. Needs no_new_privs. Returns the
/// number of syscalls refused.
pub fn install() -> Result<usize, String> {
    let mut prog = build()?;
    let len = u16::try_from(prog.len()).map_err(|_| "seccomp filter too long".to_string())?;
    let fprog = sock_fprog {
        len,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: `fprog` points at `prog`, `len` instructions that stay alive
    // for the call (the kernel copies them).
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as c_long,
            libc::SECCOMP_FILTER_FLAG_TSYNC as c_long,
            &fprog as *const sock_fprog,
        )
    };
    match r {
        0 => Ok(refused_count()),
        // TSYNC: a positive value is the id of a thread that could not be
        // synchronised (it has a different filter already).
        tid if tid > 0 => Err(format!(
            "seccomp: thread {tid} could not take the filter (TSYNC)"
        )),
        _ => Err(format!(
            "seccomp(SECCOMP_SET_MODE_FILTER) failed: {}",
            std::io::Error::last_os_error()
        )),
    }
}

/// The filter program (see the module doc).
fn build() -> Result<Vec<sock_filter>, String> {
    let mut p = Prog(Vec::with_capacity(128));

    p.load(ARCH);
    p.ret_unless_eq(AUDIT_ARCH, KILL_PROCESS);
    p.load(NR);
    #[cfg(target_arch = "x86_64")]
    p.ret_if_ge(X32_SYSCALL_BIT, KILL_PROCESS);

    p.ret_if_eq(nr(libc::SYS_clone3)?, ENOSYS);
    p.if_eq(nr(libc::SYS_clone)?, |p| {
        // x86_64 and aarch64 both take the flags as the first argument.
        p.load_arg_low(0);
        p.ret_if_any(CLONE_NAMESPACES, EPERM);
        p.ret(ALLOW);
    })?;
    p.if_eq(nr(libc::SYS_personality)?, |p| {
        // The kernel takes the persona as unsigned int: the low word.
        p.load_arg_low(0);
        p.ret_if_eq(0, ALLOW);
        p.ret_if_eq(PERSONALITY_QUERY, ALLOW);
        p.ret(EPERM);
    })?;
    for &denied in DENIED {
        p.ret_if_eq(nr(denied)?, EPERM);
    }
    p.ret(ALLOW);
    Ok(p.0)
}

/// A syscall number as the 32-bit value seccomp_data.nr holds.
fn nr(n: c_long) -> Result<u32, String> {
    u32::try_from(n).map_err(|_| format!("seccomp: bad syscall number {n}"))
}

/// A filter under construction. Jumps are only ever "skip the next
/// instruction" (in the ret_* helpers) or computed over a finished branch
/// (in [`Prog::if_eq`]); no offset is counted by hand.
struct Prog(Vec<sock_filter>);

impl Prog {
    fn push(&mut self, code: u32, k: u32, jt: u8, jf: u8) {
        self.0.push(sock_filter {
            code: code as u16,
            jt,
            jf,
            k,
        });
    }

    /// A = 32-bit word at `offset` in seccomp_data.
    fn load(&mut self, offset: u32) {
        self.push(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, offset, 0, 0);
    }

    /// A = low 32 bits of syscall argument `index`.
    fn load_arg_low(&mut self, index: u32) {
        // The low word comes first in memory on little-endian targets.
        #[cfg(target_endian = "little")]
        let low = 0;
        #[cfg(target_endian = "big")]
        let low = 4;
        self.load(ARGS + 8 * index + low);
    }

    /// return `action`.
    fn ret(&mut self, action: u32) {
        self.push(libc::BPF_RET | libc::BPF_K, action, 0, 0);
    }

    /// if A == k: return `action`.
    fn ret_if_eq(&mut self, k: u32, action: u32) {
        self.push(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, k, 0, 1);
        self.ret(action);
    }

    /// if A != k: return `action`.
    fn ret_unless_eq(&mut self, k: u32, action: u32) {
        self.push(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, k, 1, 0);
        self.ret(action);
    }

    /// if A >= k (unsigned): return `action`.
    #[cfg(target_arch = "x86_64")]
    fn ret_if_ge(&mut self, k: u32, action: u32) {
        self.push(libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K, k, 0, 1);
        self.ret(action);
    }

    /// if A & mask != 0: return `action`.
    fn ret_if_any(&mut self, mask: u32, action: u32) {
        self.push(libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K, mask, 0, 1);
        self.ret(action);
    }

    /// if A == `k`: run `branch`, which must end in a return on every path
    /// (it may overwrite A); otherwise jump past it with A unchanged.
    fn if_eq(&mut self, k: u32, branch: impl FnOnce(&mut Prog)) -> Result<(), String> {
        let at = self.0.len();
        self.push(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, k, 0, 0);
        branch(self);
        let ends_in_return = self
            .0
            .last()
            .is_some_and(|i| u32::from(i.code) == libc::BPF_RET | libc::BPF_K);
        let skip = u8::try_from(self.0.len() - at - 1);
        match (self.0.get_mut(at), skip) {
            (Some(jump), Ok(skip)) if ends_in_return => {
                jump.jf = skip;
                Ok(())
            }
            _ => Err("seccomp: malformed filter branch".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Set in the child run of [`filtered_child`].
    const CHILD_ENV: &str = "LATCHGATE_TEST_SECCOMP_CHILD";

    /// A classic-BPF interpreter for the instructions the filter uses; it
    /// panics on anything else, on a jump out of the program or on running
    /// off its end.
    fn run(prog: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = Vec::new();
        data.extend_from_slice(&nr.to_ne_bytes());
        data.extend_from_slice(&arch.to_ne_bytes());
        data.extend_from_slice(&0u64.to_ne_bytes()); // instruction_pointer
        for a in args {
            data.extend_from_slice(&a.to_ne_bytes());
        }
        assert_eq!(data.len(), std::mem::size_of::<seccomp_data>());
        let mut a: u32 = 0;
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let code = u32::from(i.code);
            let jump = |taken: bool| pc + 1 + usize::from(if taken { i.jt } else { i.jf });
            pc = if code == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS {
                let at = i.k as usize;
                a = u32::from_ne_bytes(data[at..at + 4].try_into().unwrap());
                pc + 1
            } else if code == libc::BPF_ALU | libc::BPF_AND | libc::BPF_K {
                a &= i.k;
                pc + 1
            } else if code == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K {
                jump(a == i.k)
            } else if code == libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K {
                jump(a >= i.k)
            } else if code == libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K {
                jump(a & i.k != 0)
            } else if code == libc::BPF_RET | libc::BPF_K {
                return i.k;
            } else {
                panic!("unexpected BPF opcode {code:#x} at {pc}");
            };
            assert!(pc < prog.len(), "jump past the end");
        }
    }

    fn verdict(nr: c_long, arg0: u64) -> u32 {
        let prog = build().unwrap();
        run(&prog, AUDIT_ARCH, nr as u32, [arg0, 0, 0, 0, 0, 0])
    }

    #[test]
    fn wrong_architecture_and_x32_are_killed() {
        let prog = build().unwrap();
        let nr = libc::SYS_read as u32;
        assert_eq!(run(&prog, 0x4000_0003, nr, [0; 6]), KILL_PROCESS); // i386
        assert_eq!(run(&prog, AUDIT_ARCH, nr, [0; 6]), ALLOW);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            run(&prog, AUDIT_ARCH, X32_SYSCALL_BIT | 59, [0; 6]),
            KILL_PROCESS
        );
    }

    #[test]
    fn every_denied_call_gets_eperm() {
        for &n in DENIED {
            assert_eq!(verdict(n, 0), EPERM, "syscall {n}");
        }
        assert_eq!(verdict(libc::SYS_execve, 0), EPERM);
        assert_eq!(verdict(libc::SYS_execveat, 0), EPERM);
        assert_eq!(verdict(libc::SYS_ptrace, 0), EPERM);
        assert_eq!(verdict(libc::SYS_mount, 0), EPERM);
        assert_eq!(verdict(libc::SYS_setuid, 0), EPERM);
        assert_eq!(refused_count(), DENIED.len() + 3);
    }

    #[test]
    fn clone3_is_enosys_and_clone_namespaces_are_refused() {
        assert_eq!(verdict(libc::SYS_clone3, 0), ENOSYS);
        // musl's pthread_create.
        let thread = (libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM
            | libc::CLONE_SETTLS
            | libc::CLONE_PARENT_SETTID
            | libc::CLONE_CHILD_CLEARTID
            | libc::CLONE_DETACHED) as u64;
        assert_eq!(verdict(libc::SYS_clone, thread), ALLOW);
        // fork and posix_spawn.
        assert_eq!(verdict(libc::SYS_clone, libc::SIGCHLD as u64), ALLOW);
        let vfork = (libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD) as u64;
        assert_eq!(verdict(libc::SYS_clone, vfork), ALLOW);
        for ns in [
            libc::CLONE_NEWNS,
            libc::CLONE_NEWCGROUP,
            libc::CLONE_NEWUTS,
            libc::CLONE_NEWIPC,
            libc::CLONE_NEWUSER,
            libc::CLONE_NEWPID,
            libc::CLONE_NEWNET,
        ] {
            assert_eq!(
                verdict(libc::SYS_clone, ns as u64 | libc::SIGCHLD as u64),
                EPERM
            );
        }
    }

    #[test]
    fn personality_only_queries() {
        assert_eq!(verdict(libc::SYS_personality, 0xffff_ffff), ALLOW);
        assert_eq!(verdict(libc::SYS_personality, 0), ALLOW);
        assert_eq!(verdict(libc::SYS_personality, 0x0040000), EPERM); // ADDR_NO_RANDOMIZE
        assert_eq!(verdict(libc::SYS_personality, 0x0008), EPERM); // PER_BSD
    }

    #[test]
    fn what_the_gate_needs_is_allowed() {
        for n in [
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_openat,
            libc::SYS_close,
            libc::SYS_mmap,
            libc::SYS_mprotect,
            libc::SYS_munmap,
            libc::SYS_madvise,
            libc::SYS_futex,
            libc::SYS_rt_sigaction,
            libc::SYS_rt_sigprocmask,
            libc::SYS_rt_sigreturn,
            libc::SYS_sigaltstack,
            libc::SYS_tgkill,
            libc::SYS_clock_gettime,
            libc::SYS_clock_nanosleep,
            libc::SYS_socket,
            libc::SYS_connect,
            libc::SYS_accept4,
            libc::SYS_getrandom,
            libc::SYS_membarrier,
            libc::SYS_prctl,
            libc::SYS_exit,
            libc::SYS_exit_group,
            libc::SYS_wait4,
            libc::SYS_openat2,
            libc::SYS_fsync,
            libc::SYS_landlock_create_ruleset,
        ] {
            assert_eq!(verdict(n, 0), ALLOW, "syscall {n}");
        }
    }

    /// Runs in a child process (this test binary, re-run): installs the
    /// filter with a thread already running, then checks from both threads.
    #[test]
    fn filtered_child() {
        if std::env::var_os(CHILD_ENV).is_none() {
            return;
        }
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let early = std::thread::spawn(move || {
            wait.recv().unwrap();
            Command::new("/bin/true").spawn().map(drop)
        });
        set_no_new_privs().unwrap();
        assert_eq!(install().unwrap(), refused_count());
        let exec = Command::new("/bin/true").spawn();
        assert_eq!(exec.unwrap_err().raw_os_error(), Some(libc::EPERM));
        // TSYNC: the thread that existed before the filter has it too.
        go.send(()).unwrap();
        let early = early.join().unwrap();
        assert_eq!(early.unwrap_err().raw_os_error(), Some(libc::EPERM));
        // New threads still start (clone without namespace flags).
        let t = std::thread::spawn(|| 6 * 7);
        assert_eq!(t.join().unwrap(), 42);
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(status.contains("Seccomp:\t2"), "{status}");
        assert!(status.contains("NoNewPrivs:\t1"), "{status}");
        println!("filtered child: all checks passed");
    }

    #[test]
    fn filter_applies_in_a_child() {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "sys::seccomp::tests::filtered_child"])
            .args(["--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "child failed:\n{text}");
        assert!(
            text.contains("filtered child: all checks passed"),
            "child did not run:\n{text}"
        );
    }
}
