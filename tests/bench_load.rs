//! `make bench`: the load generator and measurements behind BENCHMARKS.md.
//! Ignored in `make test` (benchmarks are not pass/fail); run with
//! `cargo test --release --test bench_load -- --ignored --nocapture`.
//!
//! The load generator is this file: Rust threads, one keep-alive Unix-socket
//! connection each, DPoP proofs signed with ring (ES256) per request — the
//! same work any real client does. It shares the 2 cores with the gate, so
//! the figures are a floor on what the gate can do, not a ceiling.

mod common;
use common::{Agent, Gate};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

struct KeepAlive {
    w: UnixStream,
    r: BufReader<UnixStream>,
}

impl KeepAlive {
    fn connect(sock: &std::path::Path) -> KeepAlive {
        let s = UnixStream::connect(sock).unwrap();
        KeepAlive {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        }
    }
    fn call(&mut self, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> u16 {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        self.w.write_all(&out).unwrap();
        let mut line = String::new();
        self.r.read_line(&mut line).unwrap();
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut len = 0;
        loop {
            line.clear();
            self.r.read_line(&mut line).unwrap();
            if line.trim_end().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        self.r.read_exact(&mut body).unwrap();
        status
    }
}

/// What earlier sessions changed and measured, kept with each regeneration.
const HISTORY: &str = "Session 6 (2026-11-23, on a quiet machine): two changes from a CPU profile of the gate under this load: (1) Ed25519 signing (the grant and the receipt, two per execute) now goes through ring, whose fixed-base multiplication uses a precomputed comb table; ed25519-compact's windowed multiplication had been about a quarter of a connection thread's CPU. The signatures are byte-identical (Ed25519 is deterministic; a unit test compares the two for 64 keys), and verification stays with ed25519-compact. (2) WASM linear memory is sized to what the provider uses, with explicit bounds checks, instead of wasmtime's default 4 GiB reservation plus guard region per instance; mapping and unmapping that reservation on every execute (with a TLB shootdown in a threaded process) was most of the run thread's time. Same machine, same hour: before both, execute p50 0.632/0.658 ms, 3,858/3,883 calls/s, deny 0.396/0.409 ms; with (1), 0.573/0.598/0.620 ms and 4,530–5,011 calls/s; with both, five runs gave execute p50 0.516–0.560 ms, throughput 3,140–5,034 calls/s (one outlier, the others 4,316–5,034), deny 0.328–0.367 ms and restart 8.0–9.4 ms. The execute, throughput, restart, RSS and size aims are met; the deny-path aim of 0.3 ms is missed by about 0.03–0.07 ms. Session 9 (2026-11-24): the ledger wakes its head-writing thread once per head write (at most every 200 ms) instead of once per durable batch, a futex wake and an inter-processor interrupt fewer per call; with two gates side by side, 12 alternating rounds of 400 denies, p50 0.012-0.018 ms less (faster in 8 and 11 of 12 rounds; same-binary control 5 of 12).";

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// Runs `per_thread` calls on each of `threads` connections; returns latencies and wall time.
fn load(
    gate: &Gate,
    threads: usize,
    per_thread: usize,
    action: &str,
    want: u16,
) -> (Vec<Duration>, Duration) {
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..threads {
        let socket = gate.socket.clone();
        let agent = Agent::lease(gate, None);
        let action = action.to_string();
        handles.push(std::thread::spawn(move || {
            let mut c = KeepAlive::connect(&socket);
            let path = format!("/v1/actions/{action}/execute");
            let mut lat = Vec::with_capacity(per_thread);
            for _ in 0..per_thread {
                let t = Instant::now();
                let h = agent.headers("POST", &path, &Default::default());
                let status = c.call("POST", &path, &h, b"{\"bench\":true}");
                lat.push(t.elapsed());
                assert_eq!(status, want);
            }
            lat
        }));
    }
    let mut all: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let wall = start.elapsed();
    all.sort();
    (all, wall)
}

/// The deny path's verdict against its 0.3 ms aim and, when it misses,
/// where the time goes, from this run's own floor.
fn deny_verdict(p50: f64, floor: f64, gate_cpu: f64) -> String {
    const AIM: f64 = 0.3;
    if p50 <= AIM {
        return format!("\nDeny path: {p50:.3} ms, meets the aim of {AIM} ms.\n");
    }
    let room = if floor >= AIM {
        "the floor alone is over the aim, so on this machine no audited deny can meet it"
            .to_string()
    } else {
        format!(
            "to meet the aim here it would have to fit in {:.3} ms",
            AIM - floor
        )
    };
    format!(
        "\nDeny path: {p50:.3} ms, misses the aim of {AIM} ms by {:.3} ms. \
         Of it, {floor:.3} ms ({:.0}% of the aim) is the floor above, which no audited, authenticated deny avoids: \
         the client's proof and its verification, the round trip, and the fdatasync that makes the deny's ledger event durable before the answer. \
         The other {:.3} ms is the gate's own part (HTTP parse, lease and policy checks, the event's JSON, chain hash and write, two thread wake-ups); \
         {room}. The gate used {gate_cpu:.3} ms of CPU per deny, the proof's verification included. \
         The ways under the floor are refused: answering before the event is durable (a crash would lose denies already answered), \
         or looking up the action before checking the proof (unauthenticated callers could tell which actions exist).\n",
        p50 - AIM,
        100.0 * floor / AIM,
        p50 - floor,
    )
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU time (user + system, all threads) a process has used so far, in ms.
/// /proc reports it in USER_HZ ticks, which Linux fixes at 100 a second.
fn cpu_ms(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = s.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after_name
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
    (f[11] + f[12]) * 10.0
}

fn fdatasync_ms(dir: &std::path::Path) -> f64 {
    use std::os::unix::fs::OpenOptionsExt;
    let p = dir.join("fsync-probe");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&p)
        .unwrap();
    let mut v = Vec::new();
    for _ in 0..300 {
        f.write_all(&[b'x'; 300]).unwrap();
        let t = Instant::now();
        f.sync_data().unwrap();
        v.push(t.elapsed());
    }
    v.sort();
    pct(&v, 0.5)
}

#[test]
#[ignore]
fn bench() {
    let mut report = String::new();
    let machine = format!(
        "{} cores, {}, kernel {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(
                |c| c.lines().find(|l| l.starts_with("model name")).map(|l| l
                    .split(':')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_string())
            )
            .unwrap_or_default(),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
    );

    // Start to healthy: first start on a fresh data directory (keys created,
    // providers compiled), then restarts on the same one (compiled providers
    // come from the authenticated module cache). Median of 5 each.
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for i in 0..5 {
        let t = Instant::now();
        let mut g = Gate::start(&format!("bench-start{i}"));
        cold.push(t.elapsed());
        assert_eq!(g.stop(), 0);
        let t = Instant::now();
        g.spawn();
        warm.push(t.elapsed());
        drop(g);
    }
    cold.sort();
    warm.sort();
    let cold_ms = pct(&cold, 0.5);
    let healthy_ms = pct(&warm, 0.5);

    // Idle RSS: on the first run (providers just compiled; the allocator keeps
    // Cranelift's freed memory and the compiler's code pages are resident)
    // and after a restart (compiled providers come from the cache).
    let mut gate = Gate::start("bench");
    std::thread::sleep(Duration::from_millis(500));
    let first_rss = rss_kib(gate.child.as_ref().unwrap().id());
    assert_eq!(gate.stop(), 0);
    gate.spawn();
    std::thread::sleep(Duration::from_millis(500));
    let pid = gate.child.as_ref().unwrap().id();
    let idle_rss = rss_kib(pid);
    let fsync = fdatasync_ms(&gate.dir);

    // Floor: an unauthenticated /healthz round trip on a keep-alive connection.
    let mut c = KeepAlive::connect(&gate.socket);
    let mut hz = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        assert_eq!(c.call("GET", "/healthz", &[], b""), 200);
        hz.push(t.elapsed());
    }
    hz.sort();

    // Warm up, then measure.
    let _ = load(&gate, 2, 200, "echo", 200);
    let (c1, _) = load(&gate, 1, 3000, "echo", 200);
    let (c16, wall16) = load(&gate, 16, 500, "echo", 200);
    let tput = c16.len() as f64 / wall16.as_secs_f64();
    let deny_cpu0 = cpu_ms(pid);
    let (deny, _) = load(&gate, 1, 2000, "no_such_action", 404);
    let deny_cpu = (cpu_ms(pid) - deny_cpu0) / deny.len() as f64;
    let loaded_rss = rss_kib(pid);
    let size = std::fs::metadata(common::bin())
        .map(|m| m.len())
        .unwrap_or(0);

    report.push_str("# Benchmarks\n\n");
    report.push_str(&format!(
        "Machine: {machine}. Generated by `make bench` ({}).\n\n",
        latchgate::time::rfc3339_secs(latchgate::time::unix_now())
    ));
    report.push_str("Load generator: `tests/bench_load.rs` — Rust threads, one keep-alive connection each over the gate's Unix socket, a fresh ES256 DPoP proof per request (as every real client must). It runs on the same 2 cores as the gate, so these figures include the client's signing cost.\n\n");
    report.push_str("Action: `echo` (built-in WASM provider, no egress). Every 200 is durable: its ledger event (with the signed receipt) is fdatasync'ed before the answer, with group commit.\n\n");
    report.push_str("| measure | LatchGate (Rust) | LatchGate v0.2 (issue #2, same kind of machine, Python SDK) | target |\n|---|---|---|---|\n");
    report.push_str(&format!(
        "| execute p50, 1 client | {:.3} ms | 3.12 ms | ≤ 0.6 ms |\n",
        pct(&c1, 0.5)
    ));
    report.push_str(&format!(
        "| execute p99, 1 client | {:.3} ms | — | |\n",
        pct(&c1, 0.99)
    ));
    report.push_str(&format!(
        "| execute p50 / p99, 16 clients | {:.3} / {:.3} ms | — | |\n",
        pct(&c16, 0.5),
        pct(&c16, 0.99)
    ));
    report.push_str(&format!(
        "| throughput, 16 clients | {tput:.0} calls/s | 667 calls/s | ≥ 3,500 |\n"
    ));
    report.push_str(&format!(
        "| deny path p50 (unknown action, audited) | {:.3} ms | 1.48 ms | ≤ 0.3 ms |\n",
        pct(&deny, 0.5)
    ));
    report.push_str(&format!(
        "| start to healthy, restart (median of 5) | {healthy_ms:.1} ms | 45.7 ms | ≤ 10 ms |\n"
    ));
    report.push_str(&format!(
        "| start to healthy, first run: keys created, providers compiled | {cold_ms:.1} ms | — | |\n"
    ));
    report.push_str(&format!(
        "| idle RSS (running gate after a restart) | {:.1} MB | 34 MB | ≤ 10 MB |\n",
        idle_rss as f64 / 1024.0
    ));
    report.push_str(&format!(
        "| idle RSS, first run (providers just compiled) | {:.1} MB | — | |\n",
        first_rss as f64 / 1024.0
    ));
    report.push_str(&format!(
        "| RSS after the load | {:.1} MB | — | |\n",
        loaded_rss as f64 / 1024.0
    ));
    report.push_str(&format!(
        "| binary size (static, stripped) | {:.1} MB | — | ≤ 12 MB |\n\n",
        size as f64 / 1e6
    ));
    // The DPoP proof every authenticated call carries: one ES256 signature
    // by the client and one verification by the gate.
    let es256_ms = {
        use latchgate::crypto::es256;
        let kp = es256::KeyPair::generate().unwrap();
        let (x, y) = kp.public_xy();
        let mut v = Vec::new();
        for i in 0..500u32 {
            let msg = format!("proof-{i}");
            let t = Instant::now();
            let sig = kp.sign(msg.as_bytes()).unwrap();
            assert!(es256::verify(&x, &y, msg.as_bytes(), &sig));
            v.push(t.elapsed());
        }
        v.sort();
        pct(&v, 0.5)
    };
    let deny_floor = pct(&hz, 0.5) + fsync + es256_ms;
    report
        .push_str("Measured in the same run, for comparison (the floors the figures sit on):\n\n");
    report.push_str(&format!("- `/healthz` round trip on the same socket (no auth, no ledger): p50 {:.3} ms, p99 {:.3} ms\n", pct(&hz, 0.5), pct(&hz, 0.99)));
    report.push_str(&format!(
        "- one `fdatasync` of a 300-byte append in the same directory: p50 {fsync:.3} ms\n"
    ));
    report.push_str(&format!(
        "- one ES256 signature plus its verification (the DPoP proof of every authenticated call), in this process: p50 {es256_ms:.3} ms\n"
    ));
    report.push_str(&format!(
        "- so an audited deny cannot be faster than about {deny_floor:.3} ms here (round trip + fdatasync + proof), before the gate parses, checks the lease and policy and writes its event\n"
    ));
    report.push_str(&format!(
        "- the gate's CPU per deny during that load (all its threads, user + system, from /proc): {deny_cpu:.3} ms\n"
    ));
    report.push_str(&deny_verdict(pct(&deny, 0.5), deny_floor, deny_cpu));
    report.push_str(
        "\nNotes: figures move by about ±10% between runs on this shared 2-core VM, more while other work runs. \
         The first-run RSS is higher because the allocator keeps the memory Cranelift freed and the compiler's code pages are resident; a restart loads compiled providers from the authenticated module cache.\n",
    );
    report.push_str(&format!("\n{HISTORY}\n"));
    print!("{report}");
    let out = std::env::var("BENCH_OUT")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/BENCHMARKS.md").to_string());
    std::fs::write(out, report).unwrap();
}
