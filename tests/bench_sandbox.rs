//! `make bench`: sandbox start (issue 6). `latchgate sandbox -- /bin/true`
//! against plain bwrap with the same namespaces and the same mounts running
//! /bin/true directly, measured in the same run, interleaved (A B A B ...)
//! so both see the same machine state. Replaces its own section of
//! BENCHMARKS.md. Aim: at most 1.25x bwrap and at most 10 ms more.

mod common;
use std::os::unix::net::UnixListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SECTION: &str = "## Sandbox start";
const RUNS: usize = 100;
const WARMUP: usize = 10;

fn time(cmd: &mut Command) -> Duration {
    let t = Instant::now();
    let st = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let d = t.elapsed();
    assert!(st.success(), "{cmd:?} failed: {st}");
    d
}

fn ms(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Plain bwrap with latchgate's namespaces and mounts (see
/// src/sandbox/launch.rs and layout.rs), minus sandbox-init.
fn plain_bwrap(ws: &std::path::Path, gate: &std::path::Path) -> Command {
    let mut c = Command::new("bwrap");
    c.args([
        "--unshare-user",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-uts",
        "--unshare-cgroup",
        "--unshare-net",
        "--disable-userns",
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--as-pid-1",
        "--new-session",
        "--ro-bind",
        "/usr",
        "/usr",
    ]);
    for d in ["/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"] {
        match std::fs::read_link(d) {
            Ok(t) => {
                c.args(["--symlink"]).arg(t).arg(d);
            }
            Err(_) if std::path::Path::new(d).is_dir() => {
                c.args(["--ro-bind", d, d]);
            }
            Err(_) => {}
        }
    }
    for f in [
        "ld.so.cache",
        "ld.so.conf",
        "ld.so.conf.d",
        "ssl",
        "ca-certificates",
        "nsswitch.conf",
        "localtime",
    ] {
        let p = format!("/etc/{f}");
        c.args(["--ro-bind-try", &p, &p]);
    }
    c.args([
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--tmpfs", "/tmp", "--bind",
    ])
    .arg(ws)
    .arg("/workspace")
    .arg("--bind")
    .arg(gate)
    .arg("/run/latchgate/gate.sock")
    .args([
        "--remount-ro",
        "/dev",
        "--remount-ro",
        "/",
        "--chdir",
        "/workspace",
        "--clearenv",
        "--",
        "/bin/true",
    ]);
    c
}

#[test]
#[ignore]
fn bench_sandbox_start() {
    let dir = common::scratch("bench-sbx");
    let ws = dir.join("ws");
    std::fs::create_dir_all(ws.join(".git/hooks")).unwrap();
    std::fs::write(ws.join(".git/config"), "").unwrap();
    for d in [".claude", ".vscode"] {
        std::fs::create_dir_all(ws.join(d)).unwrap();
    }
    std::fs::write(ws.join(".mcp.json"), "{}").unwrap();
    let gate = dir.join("gate.sock");
    let _l = UnixListener::bind(&gate).unwrap();
    std::fs::write(
        dir.join("none.toml"),
        format!("data_dir = \"{}\"\n", dir.join("data").display()),
    )
    .unwrap();
    let ours = || {
        let mut c = Command::new(common::bin());
        c.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("LATCHGATE_CONFIG", dir.join("none.toml"))
            .arg("sandbox")
            .arg("--workspace")
            .arg(&ws)
            .arg("--gate-socket")
            .arg(&gate)
            .args(["--", "/bin/true"]);
        c
    };
    let mut a = Vec::new();
    let mut b = Vec::new();
    for i in 0..RUNS + WARMUP {
        let x = time(&mut ours());
        let y = time(&mut plain_bwrap(&ws, &gate));
        if i >= WARMUP {
            a.push(x);
            b.push(y);
        }
    }
    a.sort();
    b.sort();
    let (a50, b50) = (ms(&a, 0.5), ms(&b, 0.5));
    let (a95, b95) = (ms(&a, 0.95), ms(&b, 0.95));
    let ratio = a50 / b50;
    let extra = a50 - b50;
    let verdict = if ratio <= 1.25 && extra <= 10.0 {
        "meets"
    } else {
        "misses"
    };
    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let bwrap_v = Command::new("bwrap")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let section = format!(
        "{SECTION}\n\n\
         `latchgate sandbox -- /bin/true` (every layer: bwrap namespaces and mounts, the egress proxy socket, \
         sandbox-init's loopback check, forwarder, capability drop, Landlock, seccomp and verification) against \
         plain `bwrap` with the same namespaces and mounts running /bin/true directly. {RUNS} runs each after \
         {WARMUP} warm-up runs, interleaved. Machine: {machine}, {} cores, kernel {}, {bwrap_v}.\n\n\
         | | p50 | p95 |\n|---|---|---|\n\
         | latchgate sandbox | {a50:.2} ms | {a95:.2} ms |\n\
         | plain bwrap | {b50:.2} ms | {b95:.2} ms |\n\n\
         Ratio {ratio:.2}x, {extra:.2} ms more at p50: {verdict} the aim (at most 1.25x and at most 10 ms more). LatchGate v0.2 on this kind of machine: 130.6 ms \
         against bwrap's 3.7 ms.\n",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        kernel.trim(),
    );
    println!("{section}");
    let path = std::env::var("BENCHMARKS_MD")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/BENCHMARKS.md").to_string());
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let kept = match old.find(SECTION) {
        Some(i) => {
            let rest = &old[i + SECTION.len()..];
            let end = rest
                .find("\n## ")
                .map(|j| i + SECTION.len() + j + 1)
                .unwrap_or(old.len());
            format!("{}{}", &old[..i], &old[end..])
        }
        None => old,
    };
    std::fs::write(&path, format!("{}\n\n{section}", kept.trim_end())).unwrap();
}
