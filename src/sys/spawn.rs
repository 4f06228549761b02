//! Starting bwrap: a child that shares the launcher's memory until it
//! execs (`clone` with `CLONE_VM | CLONE_VFORK`, as posix_spawn does), the
//! few steps that must happen in it before exec, then exec.
//!
//! Why not fork: a fork copies the launcher's page tables and marks its
//! memory copy-on-write, and then both sides take page faults for it (the
//! launcher on its next writes, the child when exec throws the copy away);
//! on the sandbox's start path that was about 0.2 ms. Why not std's
//! `Command`: it uses posix_spawn only when nothing has to happen between
//! fork and exec, and here the network namespace, the user change and
//! PDEATHSIG do.
//!
//! The child runs on its own stack in the launcher's memory while the
//! launcher is suspended (`CLONE_VFORK`: until the child execs or exits).
//! It therefore makes raw system calls only: no allocation, no lock, and
//! none of libc's wrappers that act on every thread (musl's setresuid and
//! setgroups signal all of the process's threads, which would be the
//! launcher's). A step that fails leaves its number and errno in a pipe
//! that `spawn` reads once the launcher resumes.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What the child does before exec, in this order.
#[derive(Clone, Debug, Default)]
pub struct ChildSetup {
    /// Root-assisted mode: enter this network namespace (a descriptor from
    /// `netns::Pending::finish`, made with its loopback up while still
    /// root) before anything else.
    pub netns: Option<RawFd>,
    /// Root-assisted mode: become this (uid, gid) before exec, dropping every
    /// supplementary group; bwrap then runs unprivileged, as in rootless mode.
    pub run_as: Option<(u32, u32)>,
    /// Descriptors the child keeps across exec (close-on-exec cleared).
    pub keep_fds: Vec<RawFd>,
    /// Put the child in a process group of its own, so the terminal's
    /// keyboard signals reach latchgate only (it forwards them).
    pub own_process_group: bool,
    /// The child's stdin, stdout and stderr (the agent's terminal), or
    /// `None` to keep latchgate's.
    pub stdio: Option<[RawFd; 3]>,
}

/// A program and its arguments, converted before the child starts (it
/// allocates nothing). The environment is empty.
pub struct Program {
    path: CString,
    argv: Vec<CString>,
}

impl Program {
    /// `path` run with `args` (argv\[0\] is `path`); a NUL byte in any of
    /// them is an error.
    pub fn new(path: &Path, args: &[String]) -> io::Result<Program> {
        let nul = |_| io::Error::new(io::ErrorKind::InvalidInput, "an argument holds a NUL byte");
        let path = CString::new(path.as_os_str().as_bytes()).map_err(nul)?;
        let mut argv = vec![path.clone()];
        for a in args {
            argv.push(CString::new(a.as_bytes()).map_err(nul)?);
        }
        Ok(Program { path, argv })
    }
}

/// The child's steps, named in a failure.
#[derive(Clone, Copy)]
enum Step {
    EnterNetns = 1,
    Setgroups,
    Setresgid,
    Setresuid,
    Pdeathsig,
    ParentGone,
    KeepFd,
    ProcessGroup,
    Stdio,
    Signals,
    Exec,
}

impl Step {
    /// Every step, in order: the report carries a step as its index here.
    const ALL: [Step; 11] = [
        Step::EnterNetns,
        Step::Setgroups,
        Step::Setresgid,
        Step::Setresuid,
        Step::Pdeathsig,
        Step::ParentGone,
        Step::KeepFd,
        Step::ProcessGroup,
        Step::Stdio,
        Step::Signals,
        Step::Exec,
    ];

    /// The step a report names, if any.
    fn from_report(n: u32) -> Option<Step> {
        Step::ALL.into_iter().find(|s| *s as u32 == n)
    }

    fn describe(self) -> &'static str {
        match self {
            Step::EnterNetns => "cannot enter the sandbox's network namespace",
            Step::Setgroups => "cannot drop the supplementary groups",
            Step::Setresgid => "cannot change to the agent's group",
            Step::Setresuid => "cannot change to the agent's user",
            Step::Pdeathsig => "cannot arm the parent-death signal",
            Step::ParentGone => "latchgate ended before bwrap started",
            Step::KeepFd => "cannot pass a descriptor to bwrap",
            Step::ProcessGroup => "cannot make a process group",
            Step::Stdio => "cannot attach the agent's terminal",
            Step::Signals => "cannot reset the signal mask",
            Step::Exec => "cannot execute bwrap",
        }
    }
}

/// Everything the child reads, prepared by the launcher.
struct ChildArgs<'a> {
    setup: &'a ChildSetup,
    parent: libc::pid_t,
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    report: RawFd,
}

/// The child's stack: it only makes system calls, so 64 KiB is plenty.
const CHILD_STACK: usize = 64 * 1024;

/// Starts the child and returns once it has exec'd `program` (with an
/// empty environment) after `setup`, or with the step that failed. Call it
/// from the thread that lives longest (main): the child is killed
/// (SIGKILL) when it dies.
pub fn spawn(program: &Program, setup: &ChildSetup) -> io::Result<i32> {
    let mut argv: Vec<*const libc::c_char> = program.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 returns.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 returned two new descriptors owned only here.
    let (report_r, report_w) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let args = ChildArgs {
        setup,
        // SAFETY: getpid has no preconditions.
        parent: unsafe { libc::getpid() },
        path: program.path.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        report: report_w.as_raw_fd(),
    };
    let mut stack = vec![0u8; CHILD_STACK];
    // The stack grows down on every architecture this builds for; keep
    // the top 16-byte aligned.
    let top = (stack.as_mut_ptr() as usize + CHILD_STACK) & !15;
    // SAFETY: `child_main` gets a pointer to `args`, which outlives the
    // child's use of it: CLONE_VFORK suspends this thread until the child
    // has exec'd or exited. `top` is the aligned end of `stack`, likewise
    // alive until then. The child shares this memory (CLONE_VM) and only
    // reads it, writing nothing but its own stack.
    let pid = unsafe {
        libc::clone(
            child_main,
            top as *mut libc::c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&args as *const ChildArgs).cast_mut().cast(),
        )
    };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    drop(stack);
    // The child has exec'd (the pipe reads as end of file once our end is
    // closed) or ended after writing why.
    drop(report_w);
    let mut b = [0u8; 8];
    if crate::sys::read_fd(report_r.as_raw_fd(), &mut b).ok() != Some(8) {
        return Ok(pid);
    }
    let mut status = 0;
    // SAFETY: reaps the child that just ended; `status` is valid for writes.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let step = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let errno = i32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let e = io::Error::from_raw_os_error(errno);
    let what = Step::from_report(step).map_or("failed before exec", Step::describe);
    Err(io::Error::new(e.kind(), format!("{what}: {e}")))
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The child: its steps, then exec; on a failure, the report and exit.
extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `ChildArgs` that `spawn` keeps alive while
    // suspended; only read here.
    let args = unsafe { &*(arg as *const ChildArgs) };
    let (step, errno) = match child_steps(args.setup, args.parent) {
        // SAFETY: path, argv and envp are a NUL-terminated string and two
        // null-terminated arrays of them, alive while `spawn` waits.
        Ok(()) => (
            Step::Exec,
            raw(unsafe { libc::syscall(libc::SYS_execve, args.path, args.argv, args.envp) }),
        ),
        Err(e) => (e.0, Err(e.1)),
    };
    let errno = errno.err().unwrap_or(0);
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&(step as u32).to_le_bytes());
    b[4..].copy_from_slice(&errno.to_le_bytes());
    // SAFETY: writes 8 bytes from this stack to the report pipe, then
    // ends this process alone (exit_group in a child that is its own
    // thread group).
    unsafe {
        libc::syscall(libc::SYS_write, args.report, b.as_ptr(), b.len());
        libc::syscall(libc::SYS_exit_group, 127);
    }
    127
}

/// A raw syscall's result: the value, or its errno. libc's `syscall`
/// returns -1 and sets errno, which in this child is the launcher's
/// (suspended) thread's errno: read at once, never relied on after.
fn raw(rc: libc::c_long) -> Result<libc::c_long, i32> {
    if rc < 0 {
        Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(rc)
    }
}

fn child_steps(setup: &ChildSetup, parent: libc::pid_t) -> Result<(), (Step, i32)> {
    let at = |step: Step, rc: libc::c_long| raw(rc).map(|_| ()).map_err(|e| (step, e));
    // SAFETY (all syscalls below): each takes integers or pointers to data
    // on this stack or prepared by `spawn`, and acts on this process only.
    unsafe {
        if let Some(fd) = setup.netns {
            at(
                Step::EnterNetns,
                libc::syscall(libc::SYS_setns, fd, libc::CLONE_NEWNET),
            )?;
        }
        if let Some((uid, gid)) = setup.run_as {
            let groups = [gid as libc::gid_t];
            at(
                Step::Setgroups,
                libc::syscall(libc::SYS_setgroups, 1, groups.as_ptr()),
            )?;
            at(
                Step::Setresgid,
                libc::syscall(libc::SYS_setresgid, gid, gid, gid),
            )?;
            // After this the child holds no privilege.
            at(
                Step::Setresuid,
                libc::syscall(libc::SYS_setresuid, uid, uid, uid),
            )?;
        }
        // After any credential change: the kernel clears PDEATHSIG on one.
        at(
            Step::Pdeathsig,
            libc::syscall(
                libc::SYS_prctl,
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL,
                0,
                0,
                0,
            ),
        )?;
        if libc::syscall(libc::SYS_getppid) != libc::c_long::from(parent) {
            // The parent died before PDEATHSIG was armed: never run orphaned.
            return Err((Step::ParentGone, libc::ESRCH));
        }
        for &fd in &setup.keep_fds {
            at(
                Step::KeepFd,
                libc::syscall(libc::SYS_fcntl, fd, libc::F_SETFD, 0),
            )?;
        }
        if setup.own_process_group {
            at(Step::ProcessGroup, libc::syscall(libc::SYS_setpgid, 0, 0))?;
        }
        if let Some(stdio) = setup.stdio {
            for (target, fd) in (0..).zip(stdio) {
                // The copy on 0, 1 or 2 has close-on-exec clear (dup3
                // refuses to copy a descriptor onto itself).
                if fd == target {
                    at(
                        Step::Stdio,
                        libc::syscall(libc::SYS_fcntl, fd, libc::F_SETFD, 0),
                    )?;
                } else {
                    at(Step::Stdio, libc::syscall(libc::SYS_dup3, fd, target, 0))?;
                }
            }
        }
        // As std's spawn does: the launcher's blocked signals (read from its
        // signalfd) must not stay blocked in bwrap, and SIGPIPE, which
        // Rust's runtime ignores, gets its default back (an ignored signal
        // stays ignored across exec). The kernel's sigaction for SIG_DFL:
        // handler 0, no flags, no restorer, empty mask.
        let empty: u64 = 0;
        at(
            Step::Signals,
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &empty,
                0usize,
                8usize,
            ),
        )?;
        let dfl: [u64; 4] = [0; 4];
        at(
            Step::Signals,
            libc::syscall(
                libc::SYS_rt_sigaction,
                libc::SIGPIPE,
                dfl.as_ptr(),
                0usize,
                8usize,
            ),
        )?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::events::{self, Exit};

    fn run(path: &str, args: &[&str], setup: &ChildSetup) -> io::Result<Exit> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let pid = spawn(&Program::new(Path::new(path), &args)?, setup)?;
        events::wait(pid)
    }

    #[test]
    fn runs_the_program_with_an_empty_environment_and_no_blocked_signals() {
        // sh exits 0 only if it got no environment (beyond what sh sets
        // itself) and SIGPIPE (bit 12), which this test process ignores,
        // not ignored.
        let script = "[ -z \"$HOME$USER$LATCHGATE_TEST\" ] && \
                      ign=$(grep '^SigIgn:' /proc/self/status | cut -f2) && \
                      [ $(( 0x$ign & 0x1000 )) -eq 0 ]";
        std::env::set_var("LATCHGATE_TEST", "1");
        let exit = run("/bin/sh", &["-c", script], &ChildSetup::default()).unwrap();
        assert_eq!(exit, Exit::Code(0));
        assert_eq!(
            run("/bin/sh", &["-c", "exit 7"], &ChildSetup::default()).unwrap(),
            Exit::Code(7)
        );
        // A signal blocked in the spawning thread (as the launcher blocks
        // the ones its signalfd reads) is not blocked in the child; grep
        // (not sh, which clears its mask itself) reads the mask.
        let blocked = |how: libc::c_int| {
            // SAFETY: the set is initialised by sigemptyset before use;
            // only this test's thread's mask changes.
            unsafe {
                let mut set = std::mem::zeroed::<libc::sigset_t>();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGUSR2);
                libc::pthread_sigmask(how, &set, std::ptr::null_mut());
            }
        };
        blocked(libc::SIG_BLOCK);
        let exit = run(
            "/bin/grep",
            &["-q", "^SigBlk:[[:space:]]*0*$", "/proc/self/status"],
            &ChildSetup::default(),
        );
        blocked(libc::SIG_UNBLOCK);
        assert_eq!(exit.unwrap(), Exit::Code(0));
    }

    #[test]
    fn a_failed_exec_names_the_step_and_the_error() {
        let e = run("/nonexistent/bwrap", &[], &ChildSetup::default()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().starts_with("cannot execute bwrap: "), "{e}");
    }

    #[test]
    fn a_failed_step_stops_before_exec() {
        let setup = ChildSetup {
            keep_fds: vec![987_654],
            ..ChildSetup::default()
        };
        let e = run("/bin/true", &[], &setup).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot pass a descriptor to bwrap: "),
            "{e}"
        );
    }

    #[test]
    fn enters_the_given_network_namespace_with_loopback_up() {
        if euid() != 0 {
            // Making a network namespace needs root (CI runs as root; the
            // netns module's own test covers the refusal).
            return;
        }
        let netns = crate::sys::netns::start().unwrap().finish().unwrap();
        let made = std::fs::read_link(format!("/proc/self/fd/{}", netns.as_raw_fd())).unwrap();
        // In the namespace made, with loopback (and only loopback) up: its
        // 127.0.0.1 routes exist only once lo is up.
        let script = format!(
            "[ \"$(readlink /proc/self/ns/net)\" = '{}' ] && \
             [ $(grep -c : /proc/self/net/dev) -eq 1 ] && \
             grep -q '^ *lo:' /proc/self/net/dev && \
             grep -q 127.0.0.1 /proc/self/net/fib_trie",
            made.display()
        );
        let setup = ChildSetup {
            netns: Some(netns.as_raw_fd()),
            ..ChildSetup::default()
        };
        assert_eq!(
            run("/bin/sh", &["-c", &script], &setup).unwrap(),
            Exit::Code(0)
        );
        // A descriptor that is not a namespace is refused by that step.
        let file = std::fs::File::open("/dev/null").unwrap();
        let setup = ChildSetup {
            netns: Some(file.as_raw_fd()),
            ..ChildSetup::default()
        };
        let e = run("/bin/true", &[], &setup).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot enter the sandbox's network namespace: "),
            "{e}"
        );
    }

    #[test]
    fn every_step_reads_back_from_its_report_number() {
        for step in Step::ALL {
            let back = Step::from_report(step as u32).map(Step::describe);
            assert_eq!(back, Some(step.describe()));
        }
        assert!(Step::from_report(0).is_none());
        assert!(Step::from_report(Step::ALL.len() as u32 + 1).is_none());
    }

    #[test]
    fn a_nul_byte_in_an_argument_is_refused_before_any_child() {
        let e = Program::new(Path::new("/bin/true"), &["a\0b".to_string()])
            .err()
            .unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
