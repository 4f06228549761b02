//! Check 2: unprivileged user namespaces, which bwrap needs.
//!
//! First the sysctls that forbid them (read by `platform::userns_obstacle`:
//! `user.max_user_namespaces`, Debian's `kernel.unprivileged_userns_clone`,
//! Ubuntu's `kernel.apparmor_restrict_unprivileged_userns`), then a real
//! probe with a timeout:
//!
//! - normally `unshare -U true` (util-linux; skipped with a note when absent);
//! - under Ubuntu's AppArmor restriction `unshare -U` still succeeds (the
//!   namespace merely has no capabilities), so the probe is bwrap itself
//!   doing what the sandbox does; run as root that probe would prove
//!   nothing (root keeps its capabilities, while the agent's bwrap runs as
//!   the invoking user), so root looks for a loaded AppArmor profile for
//!   bwrap instead.

use super::probe::{self, Outcome};
use super::{split_fix, Ctx, Finding, PROBE_TIMEOUT};
use crate::sandbox::discover::which;
use crate::sandbox::platform::{find_bwrap, userns_obstacle, APPARMOR};

/// The loaded AppArmor profiles, one `NAME (MODE)` per line.
const APPARMOR_PROFILES: &str = "/sys/kernel/security/apparmor/profiles";

/// The fix when the kernel allows user namespaces but creating one fails.
const BLOCKED_FIX: &str = "user namespaces are blocked for this process; inside a container its seccomp profile or missing capabilities usually do this: run the sandbox on the host, or let the container create user namespaces (e.g. `docker run --security-opt seccomp=unconfined`)";

/// The probes the verdict may need; each runs only when asked.
pub struct Probes<'a> {
    /// `unshare -U true`; `None` when unshare is not on PATH.
    pub unshare: &'a dyn Fn() -> Option<Outcome>,
    /// bwrap setting up a minimal sandbox; `None` when bwrap is not on PATH.
    pub bwrap: &'a dyn Fn() -> Option<Outcome>,
    /// The loaded AppArmor profiles; `None` when they cannot be read.
    pub apparmor_profiles: &'a dyn Fn() -> Option<String>,
}

/// Whether a loaded profile list has one for bwrap (by name or path).
pub fn has_bwrap_profile(profiles: &str) -> bool {
    profiles.lines().any(|line| {
        let name = line.rsplit_once(" (").map_or(line, |(n, _)| n).trim();
        name == "bwrap" || name.ends_with("/bwrap")
    })
}

/// "exit 1: message" for a probe that exited non-zero.
fn failure(code: Option<i32>, stderr: &str) -> String {
    let status = code.map_or("killed by a signal".to_string(), |c| format!("exit {c}"));
    let msg = stderr.trim();
    if msg.is_empty() {
        status
    } else {
        format!("{status}: {}", msg.lines().next().unwrap_or(msg))
    }
}

/// The AppArmor finding, with `note` added to the finding.
fn apparmor_fail(note: &str) -> Finding {
    let (detail, fix) = split_fix(APPARMOR);
    Finding::fail(format!("{detail} ({note})"), fix.unwrap_or_default())
}

/// Under the AppArmor restriction: is bwrap allowed its namespaces?
fn apparmor(root: bool, p: &Probes) -> Finding {
    let restricted = "AppArmor restricts unprivileged user namespaces";
    if root {
        return match (p.apparmor_profiles)() {
            Some(list) if has_bwrap_profile(&list) => Finding::ok(format!(
                "{restricted}, and bwrap has a loaded AppArmor profile"
            )),
            Some(_) => apparmor_fail(
                "no loaded profile for bwrap; the agent's bwrap runs as the invoking user, not as root",
            ),
            None => Finding::warn(
                format!("{restricted}; cannot read {APPARMOR_PROFILES} to see whether bwrap has a profile"),
                split_fix(APPARMOR).1.unwrap_or_default(),
            ),
        };
    }
    match (p.bwrap)() {
        Some(Outcome::Exited { code: Some(0), .. }) => Finding::ok(format!(
            "{restricted}, but bwrap is allowed them (a profile; bwrap probe ok)"
        )),
        Some(Outcome::Exited { code, stderr, .. }) => {
            apparmor_fail(&format!("bwrap probe: {}", failure(code, &stderr)))
        }
        Some(Outcome::TimedOut) => Finding::warn(
            format!(
                "{restricted}; the bwrap probe did not finish within {} s",
                PROBE_TIMEOUT.as_secs()
            ),
            split_fix(APPARMOR).1.unwrap_or_default(),
        ),
        Some(Outcome::NotStarted(why)) => apparmor_fail(&why),
        None => apparmor_fail("bwrap is not on PATH to probe"),
    }
}

/// The verdict from the sysctl `obstacle` (see `platform::userns_obstacle`),
/// whether we are `root`, and the probes.
pub fn evaluate(obstacle: Option<String>, root: bool, p: &Probes) -> Finding {
    match obstacle {
        Some(text) if text == APPARMOR => apparmor(root, p),
        Some(text) => {
            let (detail, fix) = split_fix(&text);
            Finding::fail(
                detail,
                fix.unwrap_or_else(|| "enable unprivileged user namespaces".into()),
            )
        }
        None => match (p.unshare)() {
            None => Finding::ok(
                "no sysctl forbids unprivileged user namespaces (probe skipped: unshare from util-linux is not on PATH)",
            ),
            Some(Outcome::Exited { code: Some(0), .. }) => {
                Finding::ok("unprivileged user namespaces work (`unshare -U true` probe)")
            }
            Some(Outcome::Exited { code, stderr, .. }) => Finding::fail(
                format!(
                    "cannot create a user namespace: `unshare -U true` failed ({})",
                    failure(code, &stderr)
                ),
                BLOCKED_FIX,
            ),
            Some(Outcome::TimedOut) => Finding::warn(
                format!(
                    "`unshare -U true` did not finish within {} s",
                    PROBE_TIMEOUT.as_secs()
                ),
                "run `unshare -U true` by hand to see what blocks it",
            ),
            Some(Outcome::NotStarted(why)) => Finding::warn(
                format!("could not probe user namespaces: {why}"),
                "run `unshare -U true` by hand to see whether user namespaces work",
            ),
        },
    }
}

/// Check 2, on this host.
pub fn check(ctx: &Ctx) -> Finding {
    let unshare =
        || which("unshare", &ctx.path).map(|p| probe::run(&p, &["-U", "true"], PROBE_TIMEOUT));
    let bwrap = || {
        find_bwrap(&ctx.path).ok().map(|p| {
            probe::run(
                &p,
                &["--ro-bind", "/", "/", "--unshare-net", "true"],
                PROBE_TIMEOUT,
            )
        })
    };
    let profiles = || std::fs::read_to_string(APPARMOR_PROFILES).ok();
    let probes = Probes {
        unshare: &unshare,
        bwrap: &bwrap,
        apparmor_profiles: &profiles,
    };
    let mut finding = evaluate(userns_obstacle(), ctx.uid == 0, &probes);
    if let Ok(max) = std::fs::read_to_string("/proc/sys/user/max_user_namespaces") {
        finding.detail = format!(
            "{}; user.max_user_namespaces = {}",
            finding.detail,
            max.trim()
        );
    }
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Verdict;

    fn exited(code: i32, stderr: &str) -> Option<Outcome> {
        Some(Outcome::Exited {
            code: Some(code),
            stdout: String::new(),
            stderr: stderr.into(),
        })
    }

    /// Evaluates with fixed probe answers; a probe the logic must not need
    /// panics (test-only) so wrong routing is caught.
    fn eval(
        obstacle: Option<&str>,
        root: bool,
        unshare: Option<Outcome>,
        bwrap: Option<Outcome>,
        profiles: Option<&str>,
    ) -> Finding {
        let u = std::cell::RefCell::new(Some(unshare));
        let b = std::cell::RefCell::new(Some(bwrap));
        let unshare = || u.borrow_mut().take().expect("unshare probed twice");
        let bwrap = || b.borrow_mut().take().expect("bwrap probed twice");
        let profiles = || profiles.map(str::to_string);
        evaluate(
            obstacle.map(str::to_string),
            root,
            &Probes {
                unshare: &unshare,
                bwrap: &bwrap,
                apparmor_profiles: &profiles,
            },
        )
    }

    #[test]
    fn sysctl_obstacles_fail_with_their_fix() {
        let f = eval(
            Some("user namespaces are disabled (user.max_user_namespaces = 0); fix: sudo sysctl -w user.max_user_namespaces=15000"),
            false,
            None,
            None,
            None,
        );
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(f.detail.contains("max_user_namespaces = 0") && !f.detail.contains("fix:"));
        assert_eq!(
            f.fix.as_deref(),
            Some("sudo sysctl -w user.max_user_namespaces=15000")
        );
    }

    #[test]
    fn unshare_probe_decides_when_no_sysctl_objects() {
        let ok = eval(None, false, exited(0, ""), None, None);
        assert_eq!(ok.verdict, Verdict::Ok);
        let bad = eval(
            None,
            false,
            exited(1, "unshare: unshare failed: Operation not permitted\n"),
            None,
            None,
        );
        assert_eq!(bad.verdict, Verdict::Fail);
        assert!(bad
            .detail
            .contains("exit 1: unshare: unshare failed: Operation not permitted"));
        assert_eq!(bad.fix.as_deref(), Some(BLOCKED_FIX));
        let hung = eval(None, false, Some(Outcome::TimedOut), None, None);
        assert_eq!(hung.verdict, Verdict::Warn);
        let skipped = eval(None, false, None, None, None);
        assert_eq!(skipped.verdict, Verdict::Ok);
        assert!(skipped.detail.contains("probe skipped"));
    }

    #[test]
    fn apparmor_restriction_fails_unless_bwrap_is_allowed() {
        let f = eval(
            Some(APPARMOR),
            false,
            None,
            exited(1, "bwrap: setting up uid map: Permission denied"),
            None,
        );
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(f.detail.contains("AppArmor") && f.detail.contains("Permission denied"));
        let fix = f.fix.unwrap();
        assert!(fix.contains("profile bwrap /usr/bin/bwrap") && fix.contains("userns,"));
        // bwrap already has a profile: the restriction does not matter.
        let allowed = eval(Some(APPARMOR), false, None, exited(0, ""), None);
        assert_eq!(allowed.verdict, Verdict::Ok);
        let missing = eval(Some(APPARMOR), false, None, None, None);
        assert_eq!(missing.verdict, Verdict::Fail);
    }

    #[test]
    fn root_looks_for_a_loaded_bwrap_profile() {
        let with = "unprivileged_userns (enforce)\nbwrap (unconfined)\n";
        assert_eq!(
            eval(Some(APPARMOR), true, None, None, Some(with)).verdict,
            Verdict::Ok
        );
        let without = "unprivileged_userns (enforce)\n/usr/sbin/cupsd (enforce)\n";
        let f = eval(Some(APPARMOR), true, None, None, Some(without));
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(f.detail.contains("invoking user"));
        assert_eq!(
            eval(Some(APPARMOR), true, None, None, None).verdict,
            Verdict::Warn
        );
    }

    #[test]
    fn bwrap_profiles_are_recognised_by_name_or_path() {
        assert!(has_bwrap_profile("bwrap (enforce)"));
        assert!(has_bwrap_profile(
            "x (enforce)\n/usr/bin/bwrap (unconfined)\n"
        ));
        assert!(!has_bwrap_profile("unpriv_bwrap (enforce)\n"));
        assert!(!has_bwrap_profile(""));
    }
}
