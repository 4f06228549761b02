//! `latchgate doctor`: checks what this host offers the gate and the
//! sandbox, one verdict per check (`ok`, `warn`, `fail`) with the finding
//! and, for anything but `ok`, the fix.
//!
//! Every check runs on its own thread and the runner stops waiting at one
//! deadline ([`DEADLINE`]): a probe that hangs (a stuck filesystem, a bwrap
//! that never answers) becomes a `warn` saying so, and the run still ends
//! in time. Probes that start a process give it their own, shorter timeout
//! ([`probe`]). Nothing here changes the host.

pub mod bwrap;
pub mod files;
pub mod gate;
pub mod kernel;
pub mod probe;
pub mod userns;
pub mod wsl;

use crate::config::Config;
use crate::json::Value;
use crate::obj;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the runner waits for all checks together; with start-up and
/// output the whole command stays well under 5 s.
pub const DEADLINE: Duration = Duration::from_millis(4000);

/// How long a single probe (a child process, a socket request) may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to do.
    Ok,
    /// Works, but weaker or not yet set up; the fix says what would help.
    Warn,
    /// Something the gate or the sandbox needs is missing or unsafe.
    Fail,
}

impl Verdict {
    /// `ok`, `warn` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
}

/// What one check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The verdict.
    pub verdict: Verdict,
    /// What was found, in one sentence.
    pub detail: String,
    /// What to do about it (always present for warn and fail).
    pub fix: Option<String>,
}

impl Finding {
    /// An `ok` finding.
    pub fn ok(detail: impl Into<String>) -> Finding {
        Finding {
            verdict: Verdict::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    /// A `warn` finding with its fix.
    pub fn warn(detail: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            verdict: Verdict::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// A `fail` finding with its fix.
    pub fn fail(detail: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            verdict: Verdict::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// A finding under its check's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// The check's name (`kernel`, `userns`, ...).
    pub check: &'static str,
    /// What it found.
    pub finding: Finding,
}

/// What the checks look at: gathered once, shared by every check thread.
pub struct Ctx {
    /// The host's PATH (bwrap and unshare are looked up on it).
    pub path: String,
    /// Our real uid.
    pub uid: u32,
    /// The gate configuration, or why it could not be loaded.
    pub config: Result<Config, String>,
}

impl Ctx {
    /// The context of this process: its PATH, uid and the configuration
    /// (`--config FILE`, else the usual lookup).
    pub fn from_env(config: Option<&std::path::Path>) -> Ctx {
        Ctx {
            path: std::env::var_os("PATH")
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
            uid: crate::sys::uid(),
            config: crate::config::load(config).map_err(|e| e.to_string()),
        }
    }
}

/// The fix when the configuration does not load.
pub const CONFIG_FIX: &str =
    "correct the configuration file the error names, or name another with `--config FILE`";

impl Ctx {
    /// The configuration, or the `warn` a check that needs it reports
    /// (the `directories` check reports the error itself, as a failure).
    pub fn config_or_skip(&self) -> Result<&Config, Finding> {
        self.config.as_ref().map_err(|_| {
            Finding::warn(
                "skipped: the configuration did not load (see `directories`)",
                CONFIG_FIX,
            )
        })
    }
}

/// One check: its name and the function that runs it.
pub type Check = (&'static str, fn(&Ctx) -> Finding);

/// Every check, in the order they are reported.
pub const CHECKS: &[Check] = &[
    ("kernel", kernel::check_version),
    ("userns", userns::check),
    ("landlock", kernel::check_landlock),
    ("seccomp", kernel::check_seccomp),
    ("bwrap", bwrap::check),
    ("wsl2", wsl::check),
    ("directories", files::check_directories),
    ("key_files", files::check_key_files),
    ("gate", gate::check_health),
    ("ledger", gate::check_ledger),
];

/// Runs `checks` at once, each on its own thread, and waits at most
/// `deadline` for all of them. A check that has not answered by then is
/// reported as a `warn` (it is left running; the process exits soon after).
pub fn run_checks(ctx: Arc<Ctx>, checks: &[Check], deadline: Duration) -> Vec<CheckResult> {
    let start = Instant::now();
    let (tx, rx) = mpsc::channel::<(usize, Finding)>();
    let mut found: Vec<Option<Finding>> = vec![None; checks.len()];
    for (i, &(name, run)) in checks.iter().enumerate() {
        let tx = tx.clone();
        let ctx = Arc::clone(&ctx);
        let spawned = std::thread::Builder::new()
            .name(format!("doctor-{name}"))
            .spawn(move || {
                // The receiver may be gone after the deadline; that is fine.
                let _ = tx.send((i, run(&ctx)));
            });
        if let Err(e) = spawned {
            if let Some(slot) = found.get_mut(i) {
                *slot = Some(Finding::warn(
                    format!("could not start the check: {e}"),
                    "run `latchgate doctor` again when the system has more threads free",
                ));
            }
        }
    }
    drop(tx);
    while found.iter().any(Option::is_none) {
        let left = deadline.saturating_sub(start.elapsed());
        match rx.recv_timeout(left) {
            Ok((i, finding)) => {
                if let Some(slot) = found.get_mut(i) {
                    *slot = Some(finding);
                }
            }
            // Timeout, or every sender gone (all threads answered or died).
            Err(_) => break,
        }
    }
    checks
        .iter()
        .zip(found)
        .map(|(&(check, _), finding)| CheckResult {
            check,
            finding: finding.unwrap_or_else(|| late(check, deadline)),
        })
        .collect()
}

/// The finding of a check that had not answered at the deadline.
fn late(check: &str, deadline: Duration) -> Finding {
    let fix = if check == "ledger" {
        "a large ledger takes longer to verify: run `latchgate verify` (no time limit)"
    } else {
        "run `latchgate doctor` again; if it hangs again, look for a stuck mount, socket or process"
    };
    Finding::warn(
        format!(
            "no answer within {} ms (still working, or hung on a filesystem, socket or process)",
            deadline.as_millis()
        ),
        fix,
    )
}

/// The exit code for a set of results: 1 when anything failed, else 0.
pub fn exit_code(results: &[CheckResult]) -> i32 {
    if results.iter().any(|r| r.finding.verdict == Verdict::Fail) {
        1
    } else {
        0
    }
}

/// The human report: a line `VERDICT  CHECK  DETAIL` per check, followed,
/// for warn and fail, by the fix on indented lines.
pub fn render_text(results: &[CheckResult]) -> String {
    let mut out = String::new();
    for r in results {
        let f = &r.finding;
        out.push_str(&format!(
            "{:<5} {:<12} {}\n",
            f.verdict.as_str(),
            r.check,
            one_line(&f.detail)
        ));
        if let Some(fix) = &f.fix {
            let mut lines = fix.lines();
            if let Some(first) = lines.next() {
                out.push_str(&format!("      fix: {}\n", first.trim_start()));
            }
            for line in lines {
                out.push_str(&format!("      {line}\n"));
            }
        }
    }
    out
}

/// The machine report: `[{check, verdict, detail, fix}]` (`fix` null for ok).
pub fn to_json(results: &[CheckResult]) -> Value {
    Value::Array(
        results
            .iter()
            .map(|r| {
                obj! {
                    "check" => r.check,
                    "verdict" => r.finding.verdict.as_str(),
                    "detail" => r.finding.detail.clone(),
                    "fix" => r.finding.fix.clone(),
                }
            })
            .collect(),
    )
}

/// Keeps a detail on its check's line (outside text may hold line breaks).
fn one_line(s: &str) -> String {
    s.split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits a platform message of the form "finding; fix: what to do" (or
/// "finding\n  fix: what to do") into its two halves.
pub fn split_fix(text: &str) -> (String, Option<String>) {
    for sep in ["\n  fix: ", "; fix: "] {
        if let Some((detail, fix)) = text.split_once(sep) {
            return (detail.trim().to_string(), Some(fix.to_string()));
        }
    }
    (text.trim().to_string(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Arc<Ctx> {
        Arc::new(Ctx {
            path: String::new(),
            uid: 1000,
            config: Err("none".into()),
        })
    }

    #[test]
    fn runner_keeps_order_and_reports_a_hung_check_as_warn() {
        fn quick(_: &Ctx) -> Finding {
            Finding::ok("fine")
        }
        fn broken(_: &Ctx) -> Finding {
            Finding::fail("bad", "repair it")
        }
        fn hangs(_: &Ctx) -> Finding {
            std::thread::sleep(Duration::from_secs(30));
            Finding::ok("too late")
        }
        let checks: &[Check] = &[("a", quick), ("b", hangs), ("c", broken)];
        let start = Instant::now();
        let r = run_checks(ctx(), checks, Duration::from_millis(300));
        assert!(start.elapsed() < Duration::from_secs(2));
        let names: Vec<_> = r.iter().map(|r| r.check).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(r[0].finding, Finding::ok("fine"));
        assert_eq!(r[1].finding.verdict, Verdict::Warn);
        assert!(r[1].finding.detail.contains("no answer within 300 ms"));
        assert!(r[1]
            .finding
            .fix
            .as_deref()
            .unwrap_or_default()
            .contains("again"));
        assert_eq!(r[2].finding.verdict, Verdict::Fail);
        assert_eq!(exit_code(&r), 1);
        assert_eq!(exit_code(&r[..2]), 0);
    }

    #[test]
    fn text_has_a_verdict_on_every_check_line_and_indented_fixes() {
        let r = vec![
            CheckResult {
                check: "one",
                finding: Finding::ok("all\ngood"),
            },
            CheckResult {
                check: "two",
                finding: Finding::fail("broken", "step 1\n  step 2"),
            },
        ];
        let text = render_text(&r);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("ok    one") && lines[0].ends_with("all good"));
        assert!(lines[1].starts_with("fail  two"));
        assert_eq!(lines[2], "      fix: step 1");
        assert_eq!(lines[3], "        step 2");
    }

    #[test]
    fn json_has_the_four_fields() {
        let r = vec![
            CheckResult {
                check: "one",
                finding: Finding::ok("good"),
            },
            CheckResult {
                check: "two",
                finding: Finding::warn("meh", "do x"),
            },
        ];
        let v = to_json(&r);
        let a = v.as_array().unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].get("check").and_then(Value::as_str), Some("one"));
        assert_eq!(a[0].get("verdict").and_then(Value::as_str), Some("ok"));
        assert!(a[0].get("fix").unwrap().is_null());
        assert_eq!(a[1].get("fix").and_then(Value::as_str), Some("do x"));
    }

    #[test]
    fn every_check_is_listed_once_in_order() {
        let names: Vec<_> = CHECKS.iter().map(|c| c.0).collect();
        assert_eq!(
            names,
            [
                "kernel",
                "userns",
                "landlock",
                "seccomp",
                "bwrap",
                "wsl2",
                "directories",
                "key_files",
                "gate",
                "ledger"
            ]
        );
    }

    #[test]
    fn platform_messages_split_into_finding_and_fix() {
        let (d, f) = split_fix("disabled (x = 0); fix: sudo sysctl -w x=1");
        assert_eq!(d, "disabled (x = 0)");
        assert_eq!(f.as_deref(), Some("sudo sysctl -w x=1"));
        let (d, f) = split_fix(crate::sandbox::platform::APPARMOR);
        assert!(
            d.starts_with("Ubuntu's AppArmor") && !d.contains("fix"),
            "{d}"
        );
        assert!(f.unwrap().starts_with("give bwrap a profile"));
        assert_eq!(split_fix("plain"), ("plain".to_string(), None));
    }
}
