//! What the host must offer, checked without running anything slow: bwrap
//! on PATH, seccomp, Landlock; and when bwrap fails, the real reason
//! (user namespaces disabled, Ubuntu's AppArmor restriction) with the fix.

use std::path::PathBuf;

/// The install hint for a missing bwrap.
pub const INSTALL_BWRAP: &str = "install bubblewrap: sudo apt install bubblewrap (Debian/Ubuntu) or sudo dnf install bubblewrap (Fedora/RHEL)";

/// bwrap's path on `path` (the host's PATH).
pub fn find_bwrap(path: &str) -> Result<PathBuf, String> {
    super::discover::which("bwrap", path).ok_or_else(|| {
        format!("bubblewrap (bwrap) not found on PATH; the sandbox has no degraded mode: {INSTALL_BWRAP}")
    })
}

fn sysctl(name: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/sys/{name}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Why unprivileged user namespaces may be refused on this host, with the
/// fix; `None` when nothing known stands in the way.
pub fn userns_obstacle() -> Option<String> {
    obstacle(&sysctl)
}

/// `userns_obstacle` over any sysctl reader (tests give a fake one).
fn obstacle(sysctl: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if sysctl("user/max_user_namespaces").as_deref() == Some("0") {
        return Some(
            "user namespaces are disabled (user.max_user_namespaces = 0); fix: sudo sysctl -w user.max_user_namespaces=15000 (persist it in /etc/sysctl.d/)"
                .into(),
        );
    }
    if sysctl("kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Some(
            "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0); fix: sudo sysctl -w kernel.unprivileged_userns_clone=1"
                .into(),
        );
    }
    if sysctl("kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return Some(APPARMOR.into());
    }
    None
}

/// Ubuntu 23.10+ (kernel.apparmor_restrict_unprivileged_userns = 1): a
/// user namespace made by an unconfined program has no capabilities, so
/// bwrap cannot mount anything. The fix is a profile for bwrap, not
/// turning the restriction off for the whole system.
pub const APPARMOR: &str = "\
Ubuntu's AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1) and bwrap has no AppArmor profile that allows them.
  fix: give bwrap a profile (as root):
    cat > /etc/apparmor.d/bwrap <<'EOF'
    abi <abi/4.0>,
    include <tunables/global>
    profile bwrap /usr/bin/bwrap flags=(unconfined) {
      userns,
      include if exists <local/bwrap>
    }
    EOF
    apparmor_parser -r /etc/apparmor.d/bwrap
  (root-assisted mode does not avoid this: the agent's bwrap runs as the invoking user, never as root)";

/// A message for a sandbox that never reached the agent: bwrap's exit
/// status, the likely cause and its fix.
pub fn explain_setup_failure(status: &str) -> String {
    let mut msg = format!("latchgate sandbox: the sandbox could not be established ({status}); the command was not run");
    match userns_obstacle() {
        Some(why) => {
            msg.push_str("\n  cause: ");
            msg.push_str(&why);
        }
        None => msg.push_str(
            "\n  see the bwrap or sandbox-init message above; `latchgate doctor` checks user namespaces, Landlock and seccomp",
        ),
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_bwrap_names_the_install_command() {
        let e = find_bwrap("/nonexistent-dir").unwrap_err();
        assert!(
            e.contains("bubblewrap (bwrap) not found on PATH")
                && e.contains("apt install bubblewrap")
        );
    }

    #[test]
    fn obstacles_are_recognised_by_their_sysctl() {
        let only = |name: &'static str, value: &'static str| {
            move |k: &str| (k == name).then(|| value.to_string())
        };
        let aa = obstacle(&only("kernel/apparmor_restrict_unprivileged_userns", "1")).unwrap();
        assert!(aa.contains("AppArmor") && !aa.contains("not found"), "{aa}");
        let max = obstacle(&only("user/max_user_namespaces", "0")).unwrap();
        assert!(max.contains("max_user_namespaces"));
        assert!(obstacle(&only("kernel/apparmor_restrict_unprivileged_userns", "0")).is_none());
        assert!(obstacle(&|_| None).is_none());
    }

    #[test]
    fn apparmor_fix_is_a_profile_not_the_sysctl() {
        assert!(APPARMOR.contains("apparmor_restrict_unprivileged_userns"));
        assert!(APPARMOR.contains("userns,"));
        assert!(!APPARMOR.contains("sysctl -w kernel.apparmor"));
    }
}
