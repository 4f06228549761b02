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
         Against v0.2, which copied its 47 MB binary and slept in a probe on every launch, the start is \
         about 10x faster.\n\n\
         ### Where the difference goes\n\n\
         Measured on this machine in sessions 7-9 (2026-11-24) with `perf stat`, `perf record`, `perf sched` \
         and /proc/stat over 100-400 launches:\n\n\
         - It is CPU work on the critical path, not waiting: both commands keep one vCPU busy for the whole launch \
         (busy time over the whole machine equals wall time). The process tree of `latchgate sandbox` uses about \
         8.5 ms of CPU per launch against plain bwrap's 6.0 ms, with 410 page faults against 196 and 17-20 context \
         switches against 8-10.\n\
         - The launcher's main thread, about 1.5 ms: the start and exit of a 10.7 MB static PIE (its relocations \
         write 49 pages at every start; its path touches code spread over the binary, mapped by fault-around and \
         unmapped at exit), first touches of heap pages, and about 150 system calls (configuration, the session \
         directory with the proxy socket and the generated /etc files, the sealed memfd of sandbox-init).\n\
         - sandbox-init, about 0.8 ms: its own exec, Landlock rules (a path opened per rule), the seccomp \
         filter's translation and JIT, the fork of the agent, and its exit.\n\
         - The network namespace (about 0.7 ms of kernel work) is made by plain bwrap too. In root-assisted mode \
         the launcher makes it, with loopback up, on a helper thread moved to another CPU while its main thread \
         prepares the rest, started as soon as the flags are parsed (session 9; interleaved A/B, 300 launches x3 \
         each: p50 0.12-0.24 ms less for the thread, and up to 0.23 ms less again for starting it that early). Without \
         the move the scheduler queued the thread on the launcher's own CPU, where it gained nothing (session 7). \
         Its time varies: in thirty back-to-back launches (`perf sched`) it took 0.6-0.7 ms in some and 1.3-2.5 ms \
         of kernel CPU in others, and then the launcher waited 0.2-0.7 ms for it; this is most of the run-to-run \
         spread below.\n\n\
         Changes that brought it from 1.35x (sessions 5-6) to here, each measured by interleaved A/B:\n\n\
         - the launcher reads sandbox-init's ready byte and bwrap's info when it needs them (a signal to pass \
         on, the deadline, the exit) instead of waking for each;\n\
         - threads start when first needed: the proxy's accept thread and the event writer at the agent's first \
         connection or event, sandbox-init's forwarder at the first connection (SIGIO on its listening socket);\n\
         - sandbox-init runs from its sealed memfd through /proc/self/fd, not copied into the sandbox;\n\
         - the generated /etc files are bound from the session directory (`--ro-bind-data` cost about 0.05 ms \
         more per file);\n\
         - sandbox-init's seccomp filter finds the syscall by binary search (attaching a filter runs it once per \
         syscall number; the linear one took about 0.15 ms), and it makes about 60 fewer system calls;\n\
         - mimalloc reserves 64 MiB, not 1 GiB, at the first allocation (`latchgate --version` went from 0.82 \
         to 0.61 ms);\n\
         - bwrap is started with clone(CLONE_VM | CLONE_VFORK) and raw system calls instead of std's fork: no \
         page-table copy, no copy-on-write faults (p50 0.34 and 0.52 ms less);\n\
         - the network namespace on a helper thread, above.\n\n\
         Runs of this benchmark: 1.22-1.32x over twelve runs in session 7; 1.19-1.29x over fifteen in session 8 \
         (median 1.24x, eleven within the aim); 1.14-1.31x over thirty-five in session 9, with the namespace's thread \
         started as soon as the flags are parsed (median 1.21x; thirty within the aim; four of the five others, \
         1.26-1.31x, came in one half hour in which interleaved launches gave about 1.27x throughout), while plain bwrap \
         itself moved between 6.7 and 11.6 ms with the machine's speed.\n\n\
         Tried and dropped, no difference in an interleaved A/B: a spawn that does not wait for bwrap's exec, \
         committing mimalloc's arena at once. Left: the launcher's footprint (function ordering at link time would \
         need lld; a non-PIE build would remove the relocation writes but give up ASLR for the binary).\n",
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
