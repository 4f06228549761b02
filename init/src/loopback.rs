//! Step 3: the loopback interface must be up (the forwarder listens on it).
//!
//! bwrap brings `lo` up itself in rootless mode, and in root-assisted mode
//! the host-side helper does; "down" therefore means the namespace is not
//! what the launcher built. One attempt to bring it up (it works only if
//! init still holds CAP_NET_ADMIN over the netns), else fail.

use crate::sys;

/// Checks that `lo` is up, tries once to bring it up, or exits 125.
pub fn ensure_up() {
    // SAFETY: plain socket(2) call.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        sys::die_errno(&[&"socket(AF_INET) for the lo check"], sys::errno(), "");
    }

    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { core::mem::zeroed() };
    // "lo" plus the NUL that zeroed() already left in place.
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo") {
        *dst = *src as libc::c_char;
    }

    // SAFETY: `req` is a properly sized ifreq that SIOCGIFFLAGS fills in.
    if unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS as libc::Ioctl, &mut req) } != 0 {
        sys::die_errno(&[&"read the flags of lo (SIOCGIFFLAGS)"], sys::errno(), "");
    }
    // SAFETY: SIOCGIFFLAGS wrote the flags member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    if c_int_from(flags) & libc::IFF_UP != 0 {
        sys::close(fd);
        return;
    }

    req.ifr_ifru.ifru_flags = flags | (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    // SAFETY: `req` names "lo" and carries the new flags.
    if unsafe { libc::ioctl(fd, libc::SIOCSIFFLAGS as libc::Ioctl, &req) } != 0 {
        sys::die_errno(
            &[&"loopback interface lo is down and bringing it up failed"],
            sys::errno(),
            "bwrap (rootless) or the root-assisted helper should have brought it up",
        );
    }
    sys::close(fd);
}

/// The interface flags (a C short) as the int the IFF_* constants are.
fn c_int_from(flags: libc::c_short) -> libc::c_int {
    // Flags are a bit set: reinterpret as unsigned, never sign-extend.
    libc::c_int::from(flags as u16)
}
