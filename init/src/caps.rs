//! Steps 5 and 6: empty every capability set, then NO_NEW_PRIVS.
//!
//! Order matters: the bounding set first (dropping from it needs
//! CAP_SETPCAP, which the capset at the end gives up), then ambient, then
//! effective/permitted/inheritable. With the bounding and ambient sets
//! empty, no execve can give the agent a capability back, even as uid 0.

use core::ffi::{c_int, c_ulong, CStr};

use crate::sys;
use crate::verify::Status;

/// v0.2 passed 6 here, the kernel said EINVAL, the error was ignored, and
/// the agent kept CAP_NET_ADMIN. The right value is 4.
const _: () = assert!(libc::PR_CAP_AMBIENT_CLEAR_ALL == 4);

/// _LINUX_CAPABILITY_VERSION_3: 64-bit sets as two 32-bit halves.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// struct __user_cap_header_struct.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: c_int,
}

/// struct __user_cap_data_struct (one per 32-bit half).
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Used when /proc/sys/kernel/cap_last_cap cannot be read: the highest
/// number capset v3 can carry. Kernels with fewer say EINVAL past their last.
const FALLBACK_LAST_CAP: c_ulong = 63;

/// Empties the bounding, ambient, effective, permitted and inheritable
/// sets, or exits 125.
pub fn drop_all(status: &Status) {
    // bwrap normally hands over an empty bounding set: then there is
    // nothing to drop (the loop below is some forty system calls). Step 9
    // reads every set back either way.
    if !status.line_is("CapBnd", "0000000000000000") {
        drop_bounding_set();
    }
    clear_ambient_set(status);
    clear_other_sets();
}

/// Step 6: sets NO_NEW_PRIVS and reads it back, or exits 125.
pub fn set_no_new_privs() {
    if sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1) != 0 {
        sys::die_errno(&[&"prctl(PR_SET_NO_NEW_PRIVS)"], sys::errno(), "");
    }
    let got = sys::prctl(libc::PR_GET_NO_NEW_PRIVS, 0);
    if got != 1 {
        sys::die(
            &[&"prctl(PR_GET_NO_NEW_PRIVS)"],
            &[&"returned ", &i64::from(got), &", expected 1"],
            "",
        );
    }
}

/// Drops every capability still in the bounding set. (`cap` is a c_ulong,
/// which is u64 on the 64-bit targets this builds for.)
fn drop_bounding_set() {
    let last = last_cap();
    for cap in 0..=last {
        match sys::prctl(libc::PR_CAPBSET_READ, cap) {
            0 => {}
            1 => {
                if sys::prctl(libc::PR_CAPBSET_DROP, cap) != 0 {
                    sys::die_errno(
                        &[&"drop capability ", &cap, &" from the bounding set"],
                        sys::errno(),
                        "needs CAP_SETPCAP; bwrap normally hands over an empty bounding set",
                    );
                }
            }
            // Past this kernel's last capability (only with the fallback).
            _ if sys::errno() == libc::EINVAL => break,
            _ => sys::die_errno(
                &[&"read capability ", &cap, &" of the bounding set"],
                sys::errno(),
                "",
            ),
        }
    }
}

/// Clears the ambient set. EINVAL is fatal unless the kernel has no
/// ambient capabilities at all (no CapAmb line in /proc/self/status).
fn clear_ambient_set(status: &Status) {
    let clear_all = libc::PR_CAP_AMBIENT_CLEAR_ALL as c_ulong;
    if sys::prctl(libc::PR_CAP_AMBIENT, clear_all) == 0 {
        return;
    }
    let e = sys::errno();
    if e == libc::EINVAL && !status.has_line("CapAmb") {
        return;
    }
    sys::die_errno(&[&"prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)"], e, "");
}

/// capset with every set empty: effective, permitted, inheritable.
fn clear_other_sets() {
    let header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let empty = CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    };
    let data = [empty; 2];
    // SAFETY: version 3 reads one header and two data structs, which is
    // exactly what the pointers describe.
    let r = unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) };
    if r != 0 {
        sys::die_errno(&[&"capset (clear all capabilities)"], sys::errno(), "");
    }
}

/// The highest capability number of this kernel.
fn last_cap() -> c_ulong {
    const PATH: &CStr = c"/proc/sys/kernel/cap_last_cap";
    let Ok(fd) = sys::open(PATH, libc::O_RDONLY | libc::O_CLOEXEC) else {
        return FALLBACK_LAST_CAP;
    };
    let mut buf = [0u8; 16];
    let read = sys::read_whole(fd, &mut buf);
    sys::close(fd);
    let Ok(n) = read else {
        return FALLBACK_LAST_CAP;
    };
    let digits = buf.get(..n).unwrap_or(&[]).trim_ascii();
    let mut last: c_ulong = 0;
    // A handful of digits at most: anything odd falls back.
    if digits.is_empty() || digits.len() > 3 || !digits.iter().all(u8::is_ascii_digit) {
        return FALLBACK_LAST_CAP;
    }
    for d in digits {
        last = last * 10 + c_ulong::from(d - b'0');
    }
    last
}
