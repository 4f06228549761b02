//! `make bench`: `latchgate bridge` against socat on the seed's path (TCP
//! on 127.0.0.1 → a Unix socket server), measured in the same run,
//! interleaved: throughput (512 MB one way, median of runs) and added
//! latency (1-byte ping-pong on one connection, 10,000 round trips in
//! interleaved blocks; p50 and p99 via the bridge, via socat, and direct
//! to the Unix socket; added = via − direct). Replaces its own section of BENCHMARKS.md.
//! Aim: throughput at least socat's, p99 added latency at most 0.5 ms.
//! socat is installed with apt-get when missing (only this bench uses it).

mod common;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECTION: &str = "## Bridge";
const BULK_BYTES: usize = 512 << 20;
const BULK_RUNS: usize = 5;
const ROUND_TRIPS: usize = 10_000;
const WARMUP_TRIPS: usize = 1_000;
/// Round trips per path before switching to the next path.
const BLOCK: usize = 250;
const CHUNK: usize = 256 * 1024;

/// Sink server: reads to end of stream, answers the byte count (8 bytes LE).
fn sink(l: UnixListener) {
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = vec![0u8; CHUNK];
                let mut total = 0u64;
                loop {
                    match (&c).read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => total += n as u64,
                    }
                }
                let _ = (&c).write_all(&total.to_le_bytes());
            });
        }
    });
}

/// Ping-pong server: echoes every byte back as it arrives.
fn pong(l: UnixListener) {
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut b = [0u8; 64];
                loop {
                    match (&c).read(&mut b) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if (&c).write_all(&b[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
}

/// Either client kind.
enum Client {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Client {
    fn open(to: &Path, tcp: Option<&str>) -> Client {
        match tcp {
            Some(a) => {
                let s = TcpStream::connect(a).unwrap();
                s.set_nodelay(true).unwrap();
                Client::Tcp(s)
            }
            None => Client::Unix(UnixStream::connect(to).unwrap()),
        }
    }
    fn write_all(&self, b: &[u8]) {
        match self {
            Client::Tcp(s) => (&*s).write_all(b).unwrap(),
            Client::Unix(s) => (&*s).write_all(b).unwrap(),
        }
    }
    fn read_exact(&self, b: &mut [u8]) {
        match self {
            Client::Tcp(s) => (&*s).read_exact(b).unwrap(),
            Client::Unix(s) => (&*s).read_exact(b).unwrap(),
        }
    }
    fn end_writes(&self) {
        match self {
            Client::Tcp(s) => s.shutdown(Shutdown::Write).unwrap(),
            Client::Unix(s) => s.shutdown(Shutdown::Write).unwrap(),
        }
    }
}

/// MB/s for BULK_BYTES one way, to the sink's answer.
fn bulk(sock: &Path, tcp: Option<&str>) -> f64 {
    let data = vec![0x5au8; CHUNK];
    let t = Instant::now();
    let c = Client::open(sock, tcp);
    for _ in 0..BULK_BYTES / CHUNK {
        c.write_all(&data);
    }
    c.end_writes();
    let mut n = [0u8; 8];
    c.read_exact(&mut n);
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(u64::from_le_bytes(n), BULK_BYTES as u64);
    (BULK_BYTES as f64 / 1e6) / secs
}

/// `n` round trips of 1 byte on `c`, each timed, appended to `out`.
fn ping_pong(c: &Client, n: usize, out: &mut Vec<Duration>) {
    let mut b = [7u8; 1];
    for _ in 0..n {
        let t = Instant::now();
        c.write_all(&b);
        c.read_exact(&mut b);
        out.push(t.elapsed());
    }
}

fn us(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Waits until something accepts on `addr`.
fn wait_listening(addr: &str, child: &mut Child) {
    let until = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(child.try_wait().unwrap().is_none(), "{addr}: exited");
        assert!(Instant::now() < until, "{addr}: not listening");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A relay process (bridge or socat), killed on drop.
struct Relay(Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bridge(listen: &str, to: &Path) -> Relay {
    let mut c = Command::new(common::bin())
        .args(["bridge", "--listen", listen, "--connect"])
        .arg(to)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_listening(listen, &mut c);
    Relay(c)
}

fn socat(listen: &str, to: &Path) -> Relay {
    let port = listen.rsplit(':').next().unwrap();
    let mut c = Command::new("socat")
        .arg(format!("TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr"))
        .arg(format!("UNIX-CONNECT:{}", to.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_listening(listen, &mut c);
    Relay(c)
}

fn socat_version() -> Option<String> {
    let out = Command::new("socat").arg("-V").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let line = text.lines().find(|l| l.contains("socat version"))?;
    Some(line.trim().to_string())
}

/// socat, installed with apt-get when missing.
fn ensure_socat() -> String {
    if let Some(v) = socat_version() {
        return v;
    }
    let _ = Command::new("apt-get").arg("update").status();
    let _ = Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", "socat"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    socat_version().expect("socat is needed for this bench (apt-get install socat failed)")
}

struct Latency {
    p50: f64,
    p99: f64,
}

fn latency(mut s: Vec<Duration>) -> Latency {
    s.sort();
    Latency {
        p50: us(&s, 0.50),
        p99: us(&s, 0.99),
    }
}

#[test]
#[ignore]
fn bench_bridge() {
    let socat_v = ensure_socat();
    let dir = common::scratch("bench-bridge");
    let sink_sock = dir.join("sink.sock");
    let pong_sock = dir.join("pong.sock");
    sink(UnixListener::bind(&sink_sock).unwrap());
    pong(UnixListener::bind(&pong_sock).unwrap());
    let (ours_bulk, ours_pong) = (
        format!("127.0.0.1:{}", common::free_port()),
        format!("127.0.0.1:{}", common::free_port()),
    );
    let (socat_bulk, socat_pong) = (
        format!("127.0.0.1:{}", common::free_port()),
        format!("127.0.0.1:{}", common::free_port()),
    );
    let _relays = [
        bridge(&ours_bulk, &sink_sock),
        bridge(&ours_pong, &pong_sock),
        socat(&socat_bulk, &sink_sock),
        socat(&socat_pong, &pong_sock),
    ];

    // Throughput: one warm-up each, then interleaved runs.
    bulk(&sink_sock, Some(&ours_bulk));
    bulk(&sink_sock, Some(&socat_bulk));
    let (mut t_ours, mut t_socat, mut t_direct) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..BULK_RUNS {
        t_ours.push(bulk(&sink_sock, Some(&ours_bulk)));
        t_socat.push(bulk(&sink_sock, Some(&socat_bulk)));
        t_direct.push(bulk(&sink_sock, None));
    }
    let (t_ours, t_socat, t_direct) = (median(t_ours), median(t_socat), median(t_direct));

    // Latency: one connection per path, warmed up, then blocks of round
    // trips taken in turn so a burst of load elsewhere hits all three.
    let paths = [
        Client::open(&pong_sock, Some(&ours_pong)),
        Client::open(&pong_sock, Some(&socat_pong)),
        Client::open(&pong_sock, None),
    ];
    let mut samples = [Vec::new(), Vec::new(), Vec::new()];
    for c in &paths {
        ping_pong(c, WARMUP_TRIPS, &mut Vec::new());
    }
    for _ in 0..ROUND_TRIPS / BLOCK {
        for (c, out) in paths.iter().zip(samples.iter_mut()) {
            ping_pong(c, BLOCK, out);
        }
    }
    let [l_ours, l_socat, l_direct] = samples.map(latency);
    let added = |l: &Latency| (l.p50 - l_direct.p50, l.p99 - l_direct.p99);
    let (a50, a99) = added(&l_ours);
    let (s50, s99) = added(&l_socat);

    let meets_tp = t_ours >= t_socat;
    let meets_lat = a99 <= 500.0;
    let verdict = |ok: bool| if ok { "meets" } else { "misses" };
    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let section = format!(
        "{SECTION}\n\n\
         The seed's path: a client on TCP 127.0.0.1 → relay → a server on a Unix socket, \
         `latchgate bridge --listen 127.0.0.1:P --connect PATH` against \
         `socat TCP-LISTEN:P,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:PATH` ({socat_v}), \
         and the client straight on the Unix socket as the floor. Client and server run in the \
         bench process on the same machine ({machine}, {} cores, kernel {}). Throughput: \
         {} MB one way in 256 KiB writes until the server's byte count comes back, median of \
         {BULK_RUNS} interleaved runs. Latency: 1-byte ping-pong on one open connection, \
         {ROUND_TRIPS} round trips per path after {WARMUP_TRIPS} warm-up ones, taken in \
         interleaved blocks of {BLOCK}; added = via − direct.\n\n\
         | | throughput | round trip p50 | p99 | added p50 | added p99 |\n\
         |---|---|---|---|---|---|\n\
         | latchgate bridge | {t_ours:.0} MB/s | {:.1} µs | {:.1} µs | {a50:.1} µs | {a99:.1} µs |\n\
         | socat | {t_socat:.0} MB/s | {:.1} µs | {:.1} µs | {s50:.1} µs | {s99:.1} µs |\n\
         | direct (Unix socket) | {t_direct:.0} MB/s | {:.1} µs | {:.1} µs | | |\n\n\
         Throughput {:.2}x socat's: {} the aim (at least equal). Added p99 {:.3} ms: {} the aim \
         (at most 0.5 ms).\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        kernel.trim(),
        BULK_BYTES >> 20,
        l_ours.p50,
        l_ours.p99,
        l_socat.p50,
        l_socat.p99,
        l_direct.p50,
        l_direct.p99,
        t_ours / t_socat,
        verdict(meets_tp),
        a99 / 1000.0,
        verdict(meets_lat),
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
