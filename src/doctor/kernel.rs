//! Kernel checks: the release (Landlock needs 5.13), the Landlock ABI
//! (4 adds TCP rules), and seccomp filters (the sandbox needs them).

use super::{Ctx, Finding};

/// Where the kernel release is read (no uname(2), no unsafe).
const OSRELEASE: &str = "/proc/sys/kernel/osrelease";

/// The first release with Landlock.
const LANDLOCK_SINCE: (u32, u32) = (5, 13);

/// The kernel release string (`6.8.0-45-generic`), trimmed.
pub fn release() -> Result<String, String> {
    std::fs::read_to_string(OSRELEASE)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("cannot read {OSRELEASE}: {e}"))
}

/// `major.minor[.patch]` from a release such as `5.15.153.1-microsoft-standard-WSL2`
/// or `6.1`; anything after the numbers is ignored.
pub fn parse_release(release: &str) -> Option<(u32, u32, u32)> {
    let numeric: &str = release
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()?;
    let mut parts = numeric.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, minor, patch))
}

/// The verdict for a kernel release.
pub fn version_finding(release: &str) -> Finding {
    match parse_release(release) {
        None => Finding::warn(
            format!("cannot tell the kernel version from `{release}`"),
            format!("check `cat {OSRELEASE}`; Landlock needs Linux 5.13 or newer"),
        ),
        Some((major, minor, _)) if (major, minor) < LANDLOCK_SINCE => Finding::warn(
            format!("Linux {release} is older than 5.13: no Landlock, the sandbox's file rules rest on bwrap's mounts alone"),
            "upgrade to Linux 6.7 or newer (Landlock with TCP rules)",
        ),
        Some(_) => Finding::ok(format!("Linux {release}")),
    }
}

/// Check 1: the kernel release.
pub fn check_version(_: &Ctx) -> Finding {
    match release() {
        Ok(r) => version_finding(&r),
        Err(e) => Finding::warn(e, "is /proc mounted? the other checks may be unreliable"),
    }
}

/// The verdict for a Landlock ABI version.
pub fn landlock_finding(abi: u32) -> Finding {
    match abi {
        0 => Finding::warn(
            "no Landlock: the sandbox's file rules rest on bwrap's mounts alone",
            "use Linux 5.13 or newer built with CONFIG_SECURITY_LANDLOCK=y and `landlock` in the lsm= boot parameter",
        ),
        1..=3 => Finding::warn(
            format!("Landlock ABI {abi}: no TCP rules: the network namespace alone confines connects"),
            "Linux 6.7 or newer gives Landlock ABI 4 (TCP connect rules); on WSL2 update the WSL kernel (`wsl --update`)",
        ),
        n => Finding::ok(format!("Landlock ABI {n} (file and TCP rules)")),
    }
}

/// Check 3: the Landlock ABI this kernel offers.
pub fn check_landlock(_: &Ctx) -> Finding {
    landlock_finding(crate::sys::kernel::landlock_abi())
}

/// The verdict for seccomp availability.
pub fn seccomp_finding(available: bool) -> Finding {
    if available {
        Finding::ok("seccomp filters available")
    } else {
        Finding::fail(
            "seccomp is not available: the sandbox will not start",
            "use a kernel built with CONFIG_SECCOMP=y and CONFIG_SECCOMP_FILTER=y",
        )
    }
}

/// Check 4: seccomp filters.
pub fn check_seccomp(_: &Ctx) -> Finding {
    seccomp_finding(crate::sys::kernel::seccomp_available())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Verdict;

    #[test]
    fn releases_parse() {
        assert_eq!(parse_release("6.18.44-fc-v657"), Some((6, 18, 44)));
        assert_eq!(parse_release("6.8.0-45-generic"), Some((6, 8, 0)));
        assert_eq!(
            parse_release("5.15.153.1-microsoft-standard-WSL2"),
            Some((5, 15, 153))
        );
        assert_eq!(parse_release("4.4.0-19041-Microsoft"), Some((4, 4, 0)));
        assert_eq!(parse_release("6.1"), Some((6, 1, 0)));
        assert_eq!(parse_release("6.10-rc1"), Some((6, 10, 0)));
        assert_eq!(parse_release(""), None);
        assert_eq!(parse_release("linux"), None);
        assert_eq!(parse_release("6"), None);
        assert_eq!(parse_release("99999999999.1"), None);
    }

    #[test]
    fn old_kernels_warn_about_landlock() {
        assert_eq!(version_finding("5.13.0").verdict, Verdict::Ok);
        assert_eq!(version_finding("6.2.0-generic").verdict, Verdict::Ok);
        let old = version_finding("5.4.0-150-generic");
        assert_eq!(old.verdict, Verdict::Warn);
        assert!(old.detail.contains("no Landlock"), "{old:?}");
        assert_eq!(version_finding("5.12.19").verdict, Verdict::Warn);
        assert_eq!(version_finding("garbage").verdict, Verdict::Warn);
    }

    #[test]
    fn landlock_abi_levels() {
        assert_eq!(landlock_finding(0).verdict, Verdict::Warn);
        assert!(landlock_finding(0).detail.starts_with("no Landlock"));
        let three = landlock_finding(3);
        assert_eq!(three.verdict, Verdict::Warn);
        assert!(three
            .detail
            .contains("no TCP rules: the network namespace alone confines connects"));
        assert_eq!(landlock_finding(1).verdict, Verdict::Warn);
        assert_eq!(landlock_finding(4).verdict, Verdict::Ok);
        assert_eq!(landlock_finding(7).verdict, Verdict::Ok);
    }

    #[test]
    fn seccomp_missing_fails() {
        assert_eq!(seccomp_finding(true).verdict, Verdict::Ok);
        let f = seccomp_finding(false);
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(f.detail.contains("will not start") && f.fix.is_some());
    }
}
