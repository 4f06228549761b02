//! Read-only probes of what the kernel offers (no side effects, no waiting).

/// Landlock's ABI version on this kernel (0: not available).
pub fn landlock_abi() -> u32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute, size 0 and the VERSION flag the call
    // only returns a number; it touches no memory.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if v < 0 {
        0
    } else {
        v as u32
    }
}

/// Whether this kernel has seccomp filters (PR_GET_SECCOMP answers).
pub fn seccomp_available() -> bool {
    // SAFETY: PR_GET_SECCOMP takes no pointers and only returns a mode.
    unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 }
}
