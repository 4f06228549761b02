//! Check 6: WSL. WSL2 runs a real Linux kernel and the sandbox works there
//! (rootless and root-assisted), with differences worth knowing: the WSL
//! 6.6 kernel stops at Landlock ABI 3 (no TCP rules), and systemd is PID 1
//! only when /etc/wsl.conf enables it. WSL1 has no Linux kernel at all.

use super::{Ctx, Finding};
use std::path::Path;

/// Present on WSL with Windows interop enabled.
const WSL_INTEROP: &str = "/proc/sys/fs/binfmt_misc/WSLInterop";

/// Which WSL, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wsl {
    /// Not WSL.
    No,
    /// WSL1: a syscall translation layer, not a Linux kernel.
    V1,
    /// WSL2: a Linux kernel in a light VM.
    V2,
}

/// Tells WSL apart from its kernel release and whether the interop entry
/// exists. WSL2 releases say `microsoft-standard` (`...-WSL2`); WSL1 ones
/// end in `-Microsoft`.
pub fn detect(release: &str, interop: bool) -> Wsl {
    let r = release.to_ascii_lowercase();
    if r.contains("wsl2") || r.contains("microsoft-standard") {
        Wsl::V2
    } else if r.contains("microsoft") {
        Wsl::V1
    } else if interop {
        // A custom WSL2 kernel with its own release string.
        Wsl::V2
    } else {
        Wsl::No
    }
}

/// The verdict for `wsl`, with the Landlock ABI and whether systemd is PID 1.
pub fn finding(wsl: Wsl, landlock_abi: u32, systemd: bool) -> Finding {
    match wsl {
        Wsl::No => Finding::ok("not WSL"),
        Wsl::V1 => Finding::fail(
            "WSL1 has no Linux kernel: no user namespaces, Landlock or seccomp for the sandbox",
            "convert the distribution to WSL2: `wsl --set-version <distro> 2` (in Windows)",
        ),
        Wsl::V2 if !systemd => Finding::warn(
            format!("WSL2 (Landlock ABI {landlock_abi}; WSL's 6.6 kernel stops at 3, no TCP rules); systemd is not running, so the gate's systemd unit cannot be used"),
            "add `[boot]` `systemd=true` to /etc/wsl.conf, then `wsl --shutdown` (in Windows); or start the gate by hand with `latchgate up`",
        ),
        Wsl::V2 => Finding::ok(format!(
            "WSL2 (Landlock ABI {landlock_abi}; WSL's 6.6 kernel stops at 3, no TCP rules); systemd is running"
        )),
    }
}

/// Check 6, on this host.
pub fn check(_: &Ctx) -> Finding {
    let release = super::kernel::release().unwrap_or_default();
    let wsl = detect(&release, Path::new(WSL_INTEROP).exists());
    let systemd = std::fs::read_to_string("/proc/1/comm").is_ok_and(|c| c.trim() == "systemd");
    finding(wsl, crate::sys::kernel::landlock_abi(), systemd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Verdict;

    #[test]
    fn wsl_is_detected_from_the_release_or_interop() {
        assert_eq!(detect("5.15.153.1-microsoft-standard-WSL2", false), Wsl::V2);
        assert_eq!(detect("6.6.36.3-microsoft-standard-WSL2+", true), Wsl::V2);
        assert_eq!(detect("4.4.0-19041-Microsoft", false), Wsl::V1);
        assert_eq!(detect("6.8.0-45-generic", false), Wsl::No);
        assert_eq!(detect("6.9.1-custom", true), Wsl::V2);
    }

    #[test]
    fn verdicts() {
        let not = finding(Wsl::No, 7, true);
        assert_eq!(not.verdict, Verdict::Ok);
        assert_eq!(not.detail, "not WSL");
        assert_eq!(finding(Wsl::V1, 0, false).verdict, Verdict::Fail);
        let no_systemd = finding(Wsl::V2, 3, false);
        assert_eq!(no_systemd.verdict, Verdict::Warn);
        assert!(no_systemd.detail.contains("Landlock ABI 3"));
        assert!(no_systemd.fix.unwrap().contains("systemd=true"));
        assert_eq!(finding(Wsl::V2, 3, true).verdict, Verdict::Ok);
    }
}
