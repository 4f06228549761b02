//! `make bench`: sandbox start (issue 6). `latchgate sandbox -- /bin/true`
//! against plain bwrap with the same namespaces and the same mounts running
//! /bin/true directly, measured in the same run, interleaved (A B A B ...)
//! so both see the same machine state. Replaces its own section of
//! BENCHMARKS.md. Aim: at most 1.25x bwrap and at most 10 ms more.

mod common;
use std::os::unix::net::UnixListener;
use std::path::Path;
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

/// Plain bwrap with latchgate's namespaces and exactly its mounts: the
/// same `layout::build` the launcher uses (generated files bound from
/// scratch files instead of copied from memfds; sandbox-init bound too but
/// not run), running /bin/true directly.
fn plain_bwrap(dir: &Path, ws: &Path, gate: &Path) -> Command {
    use latchgate::sandbox::layout::{self, Arg, Identity, LayoutInput};
    let id = Identity {
        uid: 1000,
        gid: 1000,
        name: "dev".into(),
    };
    let l = layout::build(&LayoutInput {
        workspace: ws,
        ro_mounts: &[],
        agent_dirs: &[],
        gate_socket: gate,
        proxy_socket: gate,
        identity: &id,
    })
    .unwrap();
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
    ]);
    let init = dir.join("sandbox-init");
    std::fs::write(&init, latchgate::sandbox::init_image::IMAGE).unwrap();
    let mut words: Vec<String> = Vec::new();
    for (i, a) in l.args.iter().enumerate() {
        match a {
            Arg::Words(w) => words.extend(w.iter().cloned()),
            Arg::Data { dest, bytes, .. } => {
                let f = dir.join(format!("data-{i}"));
                std::fs::write(&f, bytes).unwrap();
                words.extend([
                    "--ro-bind".into(),
                    f.to_string_lossy().into_owned(),
                    dest.clone(),
                ]);
            }
        }
    }
    // Before the final --remount-ro pair, as the launcher places sandbox-init.
    let tail = words.split_off(words.len() - 4);
    words.extend([
        "--ro-bind".into(),
        init.to_string_lossy().into_owned(),
        layout::INIT_PATH.into(),
    ]);
    words.extend(tail);
    c.args(words)
        .args(["--chdir", "/workspace", "--clearenv", "--", "/bin/true"]);
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
        let y = time(&mut plain_bwrap(&dir, &ws, &gate));
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
         plain `bwrap` with the same namespaces and the same mounts (built by the same `layout::build`) running /bin/true directly. {RUNS} runs each after \
         {WARMUP} warm-up runs, interleaved. Machine: {machine}, {} cores, kernel {}, {bwrap_v}.\n\n\
         | | p50 | p95 |\n|---|---|---|\n\
         | latchgate sandbox | {a50:.2} ms | {a95:.2} ms |\n\
         | plain bwrap | {b50:.2} ms | {b95:.2} ms |\n\n\
         Ratio {ratio:.2}x, {extra:.2} ms more at p50: {verdict} the aim (at most 1.25x and at most 10 ms more). LatchGate v0.2 on this kind of machine: 130.6 ms \
         against bwrap's 3.7 ms.\n\n\
         Where the difference goes (measured 2026-11-23, session 6, on this machine: timestamps at each \
         step of the launcher over 100 launches, `perf trace` of init's steps and a `perf record` CPU profile of \
         200 launches; p50s). latchgate's own start until bwrap is spawned, about 1.1 ms: 0.3 ms for the \
         command line and configuration, 0.8 ms for the checks, identity, session directory, proxy socket, \
         layout, recorder and memfds. The spawn, about 1.2 ms until bwrap runs: fork, then in the child the \
         network namespace with loopback up (0.6 ms; the baseline's bwrap makes its own), the switch to the \
         agent's uid and the exec. sandbox-init from its exec to the agent's fork, about 0.8 ms: the forwarder's \
         socket, capability drop, Landlock, verification and the seccomp filter, whose attachment alone takes \
         about 0.18 ms of CPU (the kernel evaluates the filter for every system call number to build its cache). \
         After the agent exits, init and bwrap exit and latchgate stops the proxy, records sandbox_ended and \
         removes the session directory. Across the whole launch, page faults are the largest single cost in \
         latchgate's own CPU profile (about 0.8 ms per launch; a third of them the static-pie relocations at \
         start, a quarter the allocator's fresh pages), then the network namespace. \
         Changes from that study: the session directory moved to a tmpfs when /run is on disk (/dev/shm; on \
         this machine /run is on the root disk and removing the directory took 0.35 ms of the exit), its removal \
         overlaps the writing of the last event, and the allocator no longer frees every page at exit; by the step timers together \
         about 0.3 ms. Left: a vfork-style spawn instead of fork (about 0.2 ms), a binary-search seccomp filter \
         (about 0.1 ms) and a non-PIE binary (about 0.2 ms, rejected: it gives up address randomisation of the \
         gate's code). Even all of them leave the ratio near 1.3x: the 1.25x aim gives about 2 ms for the \
         supervisor, one more exec (sandbox-init), one more fork (the agent stays a child of PID 1, which \
         keeps the forwarder and relays signals) and the layers themselves, and those measure about 2.7 ms. \
         Against v0.2, which copied its 47 MB binary and slept in a probe on every launch, the start is about \
         10x faster.\n",
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
