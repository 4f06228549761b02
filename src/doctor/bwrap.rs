//! Check 5: bwrap on PATH and its version. Before 0.12.0 bubblewrap has a
//! setup-time symlink escape (GHSA-pxhw-h44j-8pfx).

use super::probe::{self, Outcome};
use super::{Ctx, Finding, PROBE_TIMEOUT};
use crate::sandbox::platform::{find_bwrap, INSTALL_BWRAP};

/// The first bubblewrap release without GHSA-pxhw-h44j-8pfx.
pub const SAFE_SINCE: (u32, u32, u32) = (0, 12, 0);

/// The version in `bwrap --version` output (`bubblewrap 0.8.0`).
pub fn parse_version(output: &str) -> Option<(u32, u32, u32)> {
    let word = output
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    let mut parts = word.split('.');
    let mut next = || -> Option<u32> {
        let digits: String = parts
            .next()?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    let major = next()?;
    let minor = next()?;
    let patch = next().unwrap_or(0);
    Some((major, minor, patch))
}

/// The verdict for bwrap at `path` whose `--version` printed `output`.
pub fn version_finding(path: &str, output: &str) -> Finding {
    let shown = output.trim();
    match parse_version(output) {
        None => Finding::warn(
            format!("{path} is present but its version is unknown (`{shown}`)"),
            "check `bwrap --version`; bubblewrap 0.12.0 or newer is recommended",
        ),
        Some(v) if v < SAFE_SINCE => Finding::warn(
            format!(
                "{shown} ({path}) is older than 0.12.0: GHSA-pxhw-h44j-8pfx (a symlink escape during sandbox setup)"
            ),
            "upgrade bubblewrap to 0.12.0 or newer (your distribution may have backported the fix; check its security tracker)",
        ),
        Some(_) => Finding::ok(format!("{shown} ({path})")),
    }
}

/// Check 5: bwrap present, and its version.
pub fn check(ctx: &Ctx) -> Finding {
    let bwrap = match find_bwrap(&ctx.path) {
        Ok(p) => p,
        Err(_) => {
            return Finding::fail(
                "bubblewrap (bwrap) is not on PATH: `latchgate sandbox` cannot run",
                INSTALL_BWRAP,
            )
        }
    };
    let shown = bwrap.display().to_string();
    match probe::run(&bwrap, &["--version"], PROBE_TIMEOUT) {
        Outcome::Exited {
            code: Some(0),
            stdout,
            ..
        } => version_finding(&shown, &stdout),
        Outcome::Exited { code, stderr, .. } => Finding::warn(
            format!(
                "`{shown} --version` failed ({}): {}",
                code.map_or("killed by a signal".to_string(), |c| format!("exit {c}")),
                stderr.trim()
            ),
            "check that bwrap is the real bubblewrap and runs: `bwrap --version`",
        ),
        Outcome::TimedOut => Finding::warn(
            format!(
                "`{shown} --version` did not answer within {} s",
                PROBE_TIMEOUT.as_secs()
            ),
            "check that bwrap is the real bubblewrap and runs: `bwrap --version`",
        ),
        Outcome::NotStarted(why) => Finding::fail(why, INSTALL_BWRAP),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Verdict;

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("bubblewrap 0.8.0\n"), Some((0, 8, 0)));
        assert_eq!(parse_version("bubblewrap 0.11.1"), Some((0, 11, 1)));
        assert_eq!(parse_version("bubblewrap 0.12.0"), Some((0, 12, 0)));
        assert_eq!(parse_version("bubblewrap 1.0"), Some((1, 0, 0)));
        assert_eq!(parse_version("bubblewrap 0.10.0-rc1"), Some((0, 10, 0)));
        assert_eq!(parse_version("bubblewrap"), None);
        assert_eq!(parse_version(""), None);
        assert_eq!(parse_version("bubblewrap 7"), None);
        assert_eq!(parse_version("bubblewrap 0.x.1"), None);
    }

    #[test]
    fn versions_compare_numerically_not_as_text() {
        assert!((0, 8, 0) < SAFE_SINCE);
        assert!((0, 11, 9) < SAFE_SINCE);
        assert!((0, 12, 0) >= SAFE_SINCE);
        assert!((0, 100, 0) >= SAFE_SINCE);
        assert!((1, 0, 0) >= SAFE_SINCE);
    }

    #[test]
    fn old_bwrap_warns_with_the_advisory() {
        let f = version_finding("/usr/bin/bwrap", "bubblewrap 0.8.0\n");
        assert_eq!(f.verdict, Verdict::Warn);
        assert!(f.detail.contains("GHSA-pxhw-h44j-8pfx"), "{f:?}");
        assert!(f.fix.unwrap().contains("0.12.0"));
        let ok = version_finding("/usr/bin/bwrap", "bubblewrap 0.12.0\n");
        assert_eq!(ok.verdict, Verdict::Ok);
        assert_eq!(ok.detail, "bubblewrap 0.12.0 (/usr/bin/bwrap)");
        assert_eq!(version_finding("/x", "what").verdict, Verdict::Warn);
    }

    #[test]
    fn missing_bwrap_fails_with_the_install_line() {
        let ctx = Ctx {
            path: "/nonexistent-dir".into(),
            uid: 1000,
            config: Err("none".into()),
        };
        let f = check(&ctx);
        assert_eq!(f.verdict, Verdict::Fail);
        assert_eq!(f.fix.as_deref(), Some(INSTALL_BWRAP));
    }
}
