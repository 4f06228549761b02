//! sandbox-init: the first program inside a latchgate sandbox (bwrap
//! --as-pid-1 runs it as PID 1 of the sandbox's PID namespace).
//!
//! It sets up, in this order, and fails closed (message on fd 2, exit 125,
//! the agent never started) if any step fails:
//!
//! 1. inherited fds close-on-exec, the command line, not dumpable;
//! 2. signals blocked for sigwaitinfo; PID 1 check;
//! 3. loopback `lo` up;
//! 4. the forwarder's listening socket bound (before Landlock denies
//!    bind); the proxy socket checked; /proc/self/status opened;
//! 5. every capability set emptied;
//! 6. NO_NEW_PRIVS;
//! 7. Landlock;
//! 8. seccomp;
//! 9. all of it read back from /proc/self/status;
//! 10. `R` on the ready fd;
//! 11. fork: the agent (own process group, the tty's foreground, a nested
//!     Landlock scope) execs CMD;
//! 12. init forwards signals, starts the forwarder threads at the agent's
//!     first connection (SIGIO on the listening socket, asked for in step
//!     4), reaps, and exits with the agent's status.
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

extern crate alloc;

mod agent;
mod args;
mod caps;
mod exec;
mod fds;
mod forward;
mod landlock;
mod loopback;
mod rt;
mod seccomp;
mod sys;
mod verify;

use core::ffi::{c_char, c_int};

/// Entry point, called by musl's crt.
///
/// # Safety
/// Only musl's crt calls this, with the process's argc, argv and envp.
#[no_mangle]
pub unsafe extern "C" fn main(
    argc: c_int,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    // 1. Inherited descriptors close-on-exec, the command line, not dumpable
    //    (the agent becomes dumpable again at execve; init and its forwarder
    //    threads stay out of reach of ptrace and /proc/1/mem).
    fds::cloexec_inherited();
    // Named for `ps` on the host: run from its memfd, the kernel would call
    // it by the descriptor's number.
    sys::set_name(c"sandbox-init");
    let argc = usize::try_from(argc).unwrap_or(0);
    // SAFETY: musl's crt passes argc pointers to NUL-terminated strings in
    // argv; they live, unchanged, for the whole process.
    let argv = unsafe { sys::c_strings(argv, argc) };
    let args = args::parse(&argv);
    if let Some(fd) = args.ready_fd {
        fds::check_open(fd);
    }
    if sys::prctl(libc::PR_SET_DUMPABLE, 0) != 0 {
        sys::die_errno(&[&"prctl(PR_SET_DUMPABLE, 0)"], sys::errno(), "");
    }

    // 2. Signals wait for sigwaitinfo (step 12); init must be PID 1.
    agent::block_signals();
    agent::require_pid1();

    // 3. Loopback up.
    loopback::ensure_up();

    // 4. What later steps need, acquired while nothing denies it yet.
    let listener = forward::listen(args.forward_port);
    forward::signal_first_connection(listener);
    let proxy = forward::proxy_address(args.proxy_socket);
    let status = verify::Status::open();

    // 5. No capabilities in any set.
    caps::drop_all(&status);

    // 6. NO_NEW_PRIVS (Landlock and seccomp require it).
    caps::set_no_new_privs();

    // 7. Landlock (0: absent, and --landlock auto allowed that).
    let landlock_abi = landlock::restrict(&args);

    // 8. seccomp, last: init is still single-threaded.
    seccomp::install();

    // 9. Read it all back.
    verify::check(status);

    // 10. Tell the launcher the sandbox holds.
    if let Some(fd) = args.ready_fd {
        fds::signal_ready(fd);
    }

    // 11. The agent.
    let agent = agent::spawn(&args.cmd, envp, args.tty, landlock_abi);

    // 12. PID 1's duties; the forwarder starts at the first connection.
    agent::supervise(agent, Some((listener, proxy)))
}
