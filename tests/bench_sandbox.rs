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
/// scratch files, as the launcher binds them from its session directory;
/// sandbox-init, which the launcher runs from a memfd, is not mounted),
/// running /bin/true directly.
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
         Where the difference goes (measured 2026-11-24, session 7, on this machine: `perf stat`, \
         sched_switch, process and syscall tracepoints over 20-200 launches). Both commands use about the \
         same CPU time (about 8.6 ms per launch over all their processes, against 8.5 ms for plain bwrap, \
         which makes its network namespace itself), so much of the difference is waiting, not work: this \
         machine is a VM whose idle vCPUs halt at once (no guest halt polling) and whose scheduler packs \
         tasks onto one vCPU, so every hand-off between processes or threads (a wakeup, a thread start or \
         join, an exec-time migration) costs tens to hundreds of microseconds and nothing overlaps. A launch \
         made 21 context switches against plain bwrap's 7. Changes from that study: the launcher reads \
         sandbox-init's ready byte and bwrap's info when it needs them (a signal to pass on, the deadline, \
         the exit) instead of waking for each; the proxy's accept thread starts at the agent's first \
         connection, the event writer thread at the first proxy event (the launcher's own two events are \
         written by its main thread, sandbox_started while bwrap works) and sandbox-init's forwarder \
         thread at the first connection too (SIGIO on its listening socket); sandbox-init runs from its \
         sealed memfd through /proc/self/fd instead of being copied into the sandbox and mounted (plain \
         bwrap no longer mounts it either); the generated /etc files are bound from the session directory \
         instead of copied in by bwrap (`--ro-bind-data` cost about 0.05 ms more per file); sandbox-init's \
         seccomp filter finds the syscall number by binary search (attaching a filter runs it once for \
         every syscall number; the linear one took about 0.15 ms) and makes about 60 fewer system calls \
         (the bounding set is not walked when /proc/self/status shows it empty, which bwrap leaves it; \
         paths are opened with the openat system call, without musl's extra fcntl per open); and \
         mimalloc reserves 64 MiB instead of \
         1 GiB at the first allocation (setting up its bitmaps for the reservation was about a quarter of a \
         short command's CPU: `latchgate --version` went from 0.82 to 0.61 ms). Before them this benchmark \
         gave 1.35x (1.34-1.38x over the sessions before); with them, over twelve runs on one evening \
         while the machine's speed drifted by a third, 1.22-1.32x (p50 2.0-3.0 ms more; four of the twelve \
         within the aim, the table above is the last). A process timeline \
         (medians of 40 launches each) places the rest: latchgate from its exec to bwrap's exec 2.2 ms, of \
         which about 1 ms is the network namespace that plain bwrap makes inside its own 7.6 ms; \
         sandbox-init from its exec to the agent's exec 0.75 ms; then after the agent exits, init's and \
         latchgate's exits (0.12 and 0.39 ms) on top of bwrap's. Tried and dropped: making the network \
         namespace on a thread while the launch is prepared, which gained nothing here because the \
         scheduler ran the new thread on the same vCPU, preempting the main one. \
         Session 8 (2026-11-24): bwrap is started with clone(CLONE_VM | CLONE_VFORK) and raw system calls \
         instead of std's fork, so the launcher's page tables are not copied and neither side takes \
         copy-on-write faults (interleaved A/B, 200 launches each: p50 0.34 and 0.52 ms less); fifteen \
         runs of this benchmark then gave 1.19-1.29x (median 1.24x, eleven of the fifteen within the aim). Tried and \
         dropped in that session, each with no difference in an interleaved A/B: a spawn that does not \
         wait for bwrap's exec (one hand-off fewer), and committing mimalloc's arena at once (29 mprotect \
         calls fewer). Counting CPU over the whole machine (/proc/stat, perf -a) both commands keep about \
         one vCPU busy for the whole launch; the launcher's process costs about 3 ms of CPU per launch, of \
         which 0.7 ms is the network namespace, about 0.6 ms page faults (mostly fault-around mapping of \
         the 10.7 MB binary: a launch maps 3.5 MB of it) and 0.3 ms its exit (unmapping them). What is \
         left is that footprint: the launcher's path touches code spread over most of the binary. \
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
