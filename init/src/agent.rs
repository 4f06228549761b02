//! Steps 2, 11 and 12: init's signals, the fork of the agent, and PID 1's
//! loop that forwards signals to the agent, reaps every child and exits
//! with the agent's status.

use alloc::vec::Vec;
use core::ffi::{c_char, c_int, CStr};

use crate::{exec, landlock, sys};

/// Signals init passes on to the agent's process group.
const FORWARDED: [c_int; 6] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// FORWARDED plus SIGCHLD and SIGIO (the forwarder's first connection):
/// the signals init blocks and takes with sigwaitinfo. Blocked, they queue
/// even for a namespace's PID 1 (which the kernel otherwise spares signals
/// it has no handler for).
fn init_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain old data, initialised by sigemptyset.
    let mut set: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t; every number is a valid signal.
    unsafe {
        libc::sigemptyset(&mut set);
        for sig in FORWARDED {
            libc::sigaddset(&mut set, sig);
        }
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigaddset(&mut set, libc::SIGIO);
    }
    set
}

/// Step 2: blocks init's signals so they wait for sigwaitinfo, or exits 125.
pub fn block_signals() {
    let set = init_signals();
    // SAFETY: `set` is a valid sigset_t; the old mask is not wanted.
    if unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, core::ptr::null_mut()) } != 0 {
        sys::die_errno(&[&"sigprocmask"], sys::errno(), "");
    }
}

/// Step 2: init must be PID 1 of its own PID namespace (reaping orphans,
/// and its exit tearing the namespace down, rely on it), or exits 125.
pub fn require_pid1() {
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    if pid != 1 {
        sys::die(
            &[&"not PID 1"],
            &[&"getpid() is ", &i64::from(pid)],
            "run under bwrap --unshare-pid --as-pid-1",
        );
    }
}

/// Step 11: forks the agent and returns its pid (also its process group),
/// or exits 125. Init is single-threaded here, so the child may do
/// anything before execve.
pub fn spawn(
    cmd: &[&CStr],
    envp: *const *const c_char,
    tty: bool,
    landlock_abi: u32,
) -> libc::pid_t {
    let Some(&name) = cmd.first() else {
        sys::die(&[&"agent"], &[&"no command"], "a bug");
    };
    let mut argv: Vec<*const c_char> = cmd.iter().map(|arg| arg.as_ptr()).collect();
    argv.push(core::ptr::null());

    if tty {
        // Init leads its own session (bwrap --new-session) and has no
        // controlling tty yet: take fd 0 as it.
        // SAFETY: TIOCSCTTY takes an int argument (0: do not steal).
        if unsafe { libc::ioctl(0, libc::TIOCSCTTY as libc::Ioctl, 0 as c_int) } != 0 {
            sys::die_errno(
                &[&"--tty: make fd 0 the controlling terminal (TIOCSCTTY)"],
                sys::errno(),
                "fd 0 must be a terminal no other session controls",
            );
        }
    }

    // SAFETY: init is single-threaded here (the forwarder starts after).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        sys::die_errno(&[&"fork the agent"], sys::errno(), "");
    }
    if pid == 0 {
        child(name, &argv, envp, tty, landlock_abi);
    }
    // The child does this too; doing it here as well means the group
    // exists before init forwards any signal to it. EACCES once the child
    // has exec'd is expected and harmless.
    // SAFETY: plain setpgid call on our child.
    unsafe { libc::setpgid(pid, pid) };
    pid
}

/// The agent's side of the fork: own process group, the terminal's
/// foreground, default signals, the nested Landlock scope, then execve.
/// Every failure exits 125 (the parent passes that on).
fn child(
    name: &CStr,
    argv: &[*const c_char],
    envp: *const *const c_char,
    tty: bool,
    abi: u32,
) -> ! {
    // SAFETY: plain setpgid call on ourselves.
    if unsafe { libc::setpgid(0, 0) } != 0 {
        sys::die_errno(&[&"agent: setpgid"], sys::errno(), "");
    }
    if tty {
        take_foreground();
    }

    // Default dispositions and an empty mask: the agent starts clean.
    // (Init never installed handlers; this also undoes an inherited SIG_IGN.)
    // SAFETY: sigset_t is plain old data, initialised by sigemptyset.
    let mut empty: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: valid signals and a valid sigset_t; the old mask is not wanted.
    let r = unsafe {
        for sig in FORWARDED {
            libc::signal(sig, libc::SIG_DFL);
        }
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, core::ptr::null_mut())
    };
    if r != 0 {
        sys::die_errno(&[&"agent: sigprocmask"], sys::errno(), "");
    }

    landlock::scope_agent(abi);
    exec::exec(name, argv, envp)
}

/// Makes our new process group the terminal's foreground group. We are in
/// a background group until this succeeds, so tcsetpgrp would raise
/// SIGTTOU: ignore it for the call, then restore the default.
fn take_foreground() {
    // SAFETY: plain signal/getpid/tcsetpgrp calls on fd 0.
    let r = unsafe {
        libc::signal(libc::SIGTTOU, libc::SIG_IGN);
        let r = libc::tcsetpgrp(0, libc::getpid());
        libc::signal(libc::SIGTTOU, libc::SIG_DFL);
        r
    };
    if r != 0 {
        sys::die_errno(&[&"agent: --tty: tcsetpgrp"], sys::errno(), "");
    }
}

/// Step 12: PID 1's loop. Forwards FORWARDED signals to the agent's process
/// group, reaps every child (orphans are reparented to PID 1), and exits
/// with the agent's code (128+signal if a signal killed it). That exit
/// tears the PID namespace down, forwarder and leftovers included.
pub fn supervise(agent: libc::pid_t, mut forwarder: Option<(c_int, libc::sockaddr_un)>) -> ! {
    let set = init_signals();
    loop {
        // SAFETY: siginfo_t is plain old data, filled in by sigwaitinfo.
        let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
        // SAFETY: `set` and `info` are valid.
        let sig = unsafe { libc::sigwaitinfo(&set, &mut info) };
        if sig < 0 {
            match sys::errno() {
                libc::EINTR => continue,
                e => sys::die_errno(&[&"sigwaitinfo"], e, ""),
            }
        }
        if sig == libc::SIGCHLD {
            reap(agent);
        } else if sig == libc::SIGIO {
            // The forwarder's first connection. If it cannot start, exiting
            // PID 1 takes the (already started) agent down too.
            if let Some((listener, proxy)) = forwarder.take() {
                if let Err(e) = crate::forward::start_at_first_connection(listener, proxy) {
                    sys::die_errno(
                        &[&"start the forwarder thread"],
                        e,
                        "out of memory or threads",
                    );
                }
            }
        } else {
            forward(agent, sig);
        }
    }
}

/// Passes `sig` to the agent's process group, or to the agent alone if it
/// has left that group.
fn forward(agent: libc::pid_t, sig: c_int) {
    // SAFETY: plain kill calls.
    unsafe {
        if libc::kill(-agent, sig) != 0 && sys::errno() == libc::ESRCH {
            libc::kill(agent, sig);
        }
    }
}

/// Reaps every child that has exited; exits if the agent is one of them.
fn reap(agent: libc::pid_t) {
    loop {
        let mut status: c_int = 0;
        // SAFETY: `status` is a valid out-pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid == agent {
            sys::exit(exit_code(status));
        }
        if pid > 0 {
            continue;
        }
        if pid < 0 && sys::errno() == libc::EINTR {
            continue;
        }
        // 0: children left, none exited; ECHILD: no children at all.
        return;
    }
}

/// The shell's convention: the exit status, or 128 + the killing signal.
fn exit_code(status: c_int) -> c_int {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        // Not reachable: without WUNTRACED waitpid reports only deaths.
        sys::EXIT_SETUP
    }
}
