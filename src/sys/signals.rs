//! Shutdown signals without handlers: SIGINT and SIGTERM are blocked in every
//! thread (call `block_shutdown_signals` before spawning any) and the main
//! thread waits for them synchronously with sigwait(2).

use std::mem::MaybeUninit;

fn shutdown_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set it is given; sigaddset then
    // only touches that initialised set with valid signal numbers.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGINT);
        libc::sigaddset(set.as_mut_ptr(), libc::SIGTERM);
        set.assume_init()
    }
}

/// Blocks SIGINT and SIGTERM in the calling thread; threads spawned later
/// inherit the mask, so only `wait_for_shutdown` ever receives them.
pub fn block_shutdown_signals() -> std::io::Result<()> {
    let set = shutdown_set();
    // SAFETY: `set` is an initialised sigset_t; the old-mask pointer may be null.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(rc))
    }
}

/// Blocks until SIGINT or SIGTERM arrives; returns the signal number.
pub fn wait_for_shutdown() -> i32 {
    let set = shutdown_set();
    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` is initialised and `sig` is valid for writes.
        let rc = unsafe { libc::sigwait(&set, &mut sig) };
        if rc == 0 {
            return sig;
        }
    }
}
