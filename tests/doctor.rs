//! `latchgate doctor` against the release binary: every check reports a
//! verdict within 5 s on this machine; open permissions and a missing
//! bwrap fail with their fix; hanging probes do not hold the run; a running
//! gate is reachable and its ledger verifies, and a corrupted copy fails.

mod common;
use common::{Agent, Gate};
use latchgate::json::{self, Value};
use latchgate::obj;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CHECKS: [&str; 10] = [
    "kernel",
    "userns",
    "landlock",
    "seccomp",
    "bwrap",
    "wsl2",
    "directories",
    "key_files",
    "gate",
    "ledger",
];

/// One `--json` entry: check, verdict, detail, fix.
type Row = (String, String, String, Option<String>);

/// What one run printed.
struct Run {
    code: i32,
    stdout: String,
    elapsed: Duration,
}

/// Runs `latchgate doctor ARGS` with `env` added to (or, with `None`,
/// removed from) the environment.
fn doctor(args: &[&str], env: &[(&str, Option<&str>)]) -> Run {
    let mut cmd = Command::new(common::bin());
    cmd.arg("doctor").args(args);
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let start = Instant::now();
    let out = cmd.output().unwrap();
    let elapsed = start.elapsed();
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        elapsed,
    }
}

/// `doctor --json --config CONFIG` parsed into (check -> (verdict, detail, fix)).
fn doctor_json(config: &Path, env: &[(&str, Option<&str>)]) -> (Run, Vec<Row>) {
    let run = doctor(&["--json", "--config", config.to_str().unwrap()], env);
    let v = json::parse(run.stdout.as_bytes()).expect("--json output parses");
    let list = v.as_array().expect("an array").clone();
    let rows = list
        .iter()
        .map(|o| {
            let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
            (
                s("check").expect("check"),
                s("verdict").expect("verdict"),
                s("detail").expect("detail"),
                s("fix"),
            )
        })
        .collect();
    (run, rows)
}

fn row<'a>(rows: &'a [Row], check: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.0 == check)
        .unwrap_or_else(|| panic!("no {check} in {rows:?}"))
}

/// A config whose data directory and sockets are under `dir`.
fn config_in(dir: &Path) -> PathBuf {
    let config = dir.join("latchgate.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nlisten_uds_path = \"{}\"\n",
            dir.join("data").display(),
            dir.join("run/gate.sock").display()
        ),
    )
    .unwrap();
    config
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The exit code must follow the verdicts: 1 exactly when one is `fail`.
fn assert_consistent(run: &Run, verdicts: &[String]) {
    let failed = verdicts.iter().any(|v| v == "fail");
    assert_eq!(run.code, i32::from(failed), "{}", run.stdout);
}

#[test]
fn runs_on_this_machine_within_5_s_with_a_verdict_per_check() {
    let dir = common::scratch("doctor-host");
    let config = config_in(&dir);

    let text = doctor(&["--config", config.to_str().unwrap()], &[]);
    assert!(text.elapsed < Duration::from_secs(5), "{:?}", text.elapsed);
    let mut names = Vec::new();
    let mut verdicts = Vec::new();
    for line in text.stdout.lines() {
        if line.starts_with(' ') {
            assert!(
                !verdicts.is_empty(),
                "fix before any check:\n{}",
                text.stdout
            );
            continue;
        }
        let mut words = line.split_whitespace();
        let verdict = words.next().unwrap_or_default().to_string();
        assert!(
            ["ok", "warn", "fail"].contains(&verdict.as_str()),
            "line without a verdict: {line:?}\n{}",
            text.stdout
        );
        names.push(words.next().unwrap_or_default().to_string());
        assert!(words.next().is_some(), "line without a finding: {line:?}");
        verdicts.push(verdict);
    }
    assert_eq!(names, CHECKS, "{}", text.stdout);
    assert_consistent(&text, &verdicts);
    // Every warn and fail is followed by its fix.
    let lines: Vec<&str> = text.stdout.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("warn") || line.starts_with("fail") {
            assert!(
                lines
                    .get(i + 1)
                    .is_some_and(|l| l.starts_with("      fix: ")),
                "{line:?} has no fix:\n{}",
                text.stdout
            );
        }
    }

    let (run, rows) = doctor_json(&config, &[]);
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
    let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, CHECKS);
    for (check, verdict, detail, fix) in &rows {
        assert!(
            ["ok", "warn", "fail"].contains(&verdict.as_str()),
            "{check}: {verdict}"
        );
        assert!(!detail.is_empty(), "{check}");
        assert_eq!(fix.is_some(), verdict != "ok", "{check}: {verdict} {fix:?}");
    }
    let verdicts: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
    assert_consistent(&run, &verdicts);
    // Nothing set up yet under this config: no gate, no ledger.
    assert_eq!(row(&rows, "gate").1, "warn");
    assert_eq!(
        row(&rows, "gate").3.as_deref(),
        Some("start it with `latchgate up`")
    );
    assert_eq!(row(&rows, "ledger").1, "warn");
    assert!(row(&rows, "ledger").2.starts_with("no ledger yet"));
    assert_eq!(row(&rows, "key_files").1, "ok");
}

#[test]
fn bad_flags_exit_2() {
    let run = Command::new(common::bin())
        .args(["doctor", "--frobnicate"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("--frobnicate"));
    let run = Command::new(common::bin())
        .args(["doctor", "--config"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
}

#[test]
fn open_data_dir_and_readable_key_fail_with_the_chmod_fix() {
    let dir = common::scratch("doctor-perms");
    let config = config_in(&dir);
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    chmod(&data, 0o755);
    let key = data.join("receipt-signing.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    chmod(&key, 0o644);
    std::fs::write(data.join("notes.txt"), "not a key").unwrap();
    chmod(&data.join("notes.txt"), 0o644);

    let (run, rows) = doctor_json(&config, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let dirs = row(&rows, "directories");
    assert_eq!(dirs.1, "fail", "{dirs:?}");
    assert!(dirs.2.contains("0755"), "{dirs:?}");
    assert_eq!(
        dirs.3.as_deref(),
        Some(format!("chmod 700 {}", data.display()).as_str())
    );
    let keys = row(&rows, "key_files");
    assert_eq!(keys.1, "fail", "{keys:?}");
    assert!(
        keys.2.contains("receipt-signing.key") && keys.2.contains("0644"),
        "{keys:?}"
    );
    assert!(!keys.2.contains("notes.txt"));
    assert_eq!(
        keys.3.as_deref(),
        Some(format!("chmod 600 {}", key.display()).as_str())
    );

    // The same in the text output, fix lines included.
    let text = doctor(&["--config", config.to_str().unwrap()], &[]);
    assert_eq!(text.code, 1);
    assert!(
        text.stdout
            .contains(&format!("      fix: chmod 600 {}", key.display())),
        "{}",
        text.stdout
    );

    // Fixed as told: both checks pass.
    chmod(&data, 0o700);
    chmod(&key, 0o600);
    let (_, rows) = doctor_json(&config, &[]);
    assert_eq!(row(&rows, "directories").1, "ok", "{rows:?}");
    assert_eq!(row(&rows, "key_files").1, "ok", "{rows:?}");
}

#[test]
fn no_bwrap_on_path_fails_with_the_install_line() {
    let dir = common::scratch("doctor-nobwrap");
    let config = config_in(&dir);
    let (run, rows) = doctor_json(&config, &[("PATH", Some("/nonexistent-bin"))]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let bwrap = row(&rows, "bwrap");
    assert_eq!(bwrap.1, "fail", "{bwrap:?}");
    assert!(bwrap.2.contains("not on PATH"), "{bwrap:?}");
    assert_eq!(
        bwrap.3.as_deref(),
        Some(latchgate::sandbox::platform::INSTALL_BWRAP)
    );
}

#[test]
fn hanging_probes_do_not_hold_the_run() {
    let dir = common::scratch("doctor-hang");
    let config = config_in(&dir);
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    // The shell's child keeps the output pipe open after the shell is killed.
    for name in ["bwrap", "unshare"] {
        let p = bin.join(name);
        std::fs::write(&p, "#!/bin/sh\n/bin/sleep 20\necho never\n").unwrap();
        chmod(&p, 0o755);
    }
    let path = bin.to_str().unwrap();
    let (run, rows) = doctor_json(&config, &[("PATH", Some(path))]);
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
    let bwrap = row(&rows, "bwrap");
    assert_eq!(bwrap.1, "warn", "{bwrap:?}");
    assert!(bwrap.2.contains("did not answer within 2 s"), "{bwrap:?}");
    // The user namespace probe (unshare, or bwrap under AppArmor) timed
    // out too, unless a sysctl already decided the verdict.
    let userns = row(&rows, "userns");
    assert!(
        userns.2.contains("did not finish within 2 s") || userns.1 == "fail",
        "{userns:?}"
    );
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    chmod(dst, 0o700);
    for entry in std::fs::read_dir(src).unwrap() {
        let e = entry.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn running_gate_is_reachable_and_a_corrupted_ledger_fails() {
    let mut gate = Gate::start("doctor-gate");
    let agent = Agent::lease(&gate, None);
    for i in 0..4 {
        assert_eq!(agent.execute(&gate, "echo", &obj! { "i" => i }).status, 200);
    }
    let (run, rows) = doctor_json(&gate.config, &[]);
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
    let g = row(&rows, "gate");
    assert_eq!(g.1, "ok", "{g:?}");
    assert!(g.2.ends_with("status ok"), "{g:?}");
    let l = row(&rows, "ledger");
    assert_eq!(l.1, "ok", "{l:?}");
    assert!(l.2.contains("verifies"), "{l:?}");
    assert_eq!(row(&rows, "directories").1, "ok", "{rows:?}");
    let keys = row(&rows, "key_files");
    assert_eq!(keys.1, "ok", "{keys:?}");
    assert!(keys.2.contains("receipt-signing.key"), "{keys:?}");
    let verdicts: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
    assert_consistent(&run, &verdicts);
    assert_eq!(gate.stop(), 0, "log:\n{}", gate.log());

    // A copy of the data directory with one byte of a record edited
    // (inside a value, so the line is still valid JSON).
    let copy = common::scratch("doctor-broken");
    let config = config_in(&copy);
    chmod(&copy, 0o700);
    copy_dir(&gate.data(), &copy.join("data"));
    copy_dir(&gate.ledger(), &copy.join("data/ledger"));
    let events = copy.join("data/ledger/events.jsonl");
    let text = std::fs::read_to_string(&events).unwrap();
    let edited = text.replacen("\"decision\":\"allow\"", "\"decision\":\"allaw\"", 1);
    assert_ne!(edited, text, "no allow decision in the ledger:\n{text}");
    std::fs::write(&events, edited).unwrap();

    let (run, rows) = doctor_json(&config, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let l = row(&rows, "ledger");
    assert_eq!(l.1, "fail", "{l:?}");
    assert!(l.2.contains("BROKEN at seq"), "{l:?}");
    assert!(
        l.3.as_deref()
            .unwrap_or_default()
            .contains("latchgate verify --ledger"),
        "{l:?}"
    );
    assert_eq!(row(&rows, "gate").1, "warn", "{rows:?}");
}
