//! `make bench`: start-up of `latchgate-mcp` (issue 5), the figure an IDE
//! waits for each time it starts the adapter. Ignored in `make test`; run by
//! scripts/bench.sh after tests/bench_load.rs, it replaces its own section of
//! BENCHMARKS.md and keeps everything else.
//!
//! One run: spawn `latchgate-mcp serve --gate-socket S` against a running
//! gate, send `initialize`, wait for its answer, send
//! `notifications/initialized` and `tools/list` (as a real client does), and
//! stop the clock when the tool list has arrived. Median of 50 runs after 5
//! warm-up runs.

mod common;
use common::Gate;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Heading of this benchmark's section in BENCHMARKS.md.
const SECTION: &str = "## latchgate-mcp start-up";
const RUNS: usize = 50;
const WARMUP: usize = 5;

/// `latchgate-mcp` under test: $LATCHGATE_MCP_BIN, else beside the gate binary.
fn mcp_bin() -> PathBuf {
    match std::env::var_os("LATCHGATE_MCP_BIN") {
        Some(p) => PathBuf::from(p),
        None => common::bin().with_file_name("latchgate-mcp"),
    }
}

/// One start-up: (spawn to initialize answered, spawn to tools/list answered,
/// number of tools listed).
fn once(gate: &Gate) -> (Duration, Duration, usize) {
    let start = Instant::now();
    let mut child = Command::new(mcp_bin())
        .arg("serve")
        .arg("--gate-socket")
        .arg(&gate.socket)
        .env_remove("LATCHGATE_URL")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn latchgate-mcp");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdin
        .write_all(
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\",\
              \"capabilities\":{},\"clientInfo\":{\"name\":\"bench\",\"version\":\"0\"}}}\n",
        )
        .unwrap();
    stdout.read_line(&mut line).unwrap();
    let init = start.elapsed();
    assert!(line.contains("\"protocolVersion\""), "initialize: {line}");
    stdin
        .write_all(
            b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n\
              {\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}\n",
        )
        .unwrap();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    let listed = start.elapsed();
    let v = latchgate::json::parse(line.as_bytes()).expect("tools/list answer is JSON");
    let tools = v
        .get("result")
        .and_then(|r| r.get("tools"))
        .and_then(|t| t.as_array())
        .map(|t| t.len())
        .unwrap_or_else(|| panic!("tools/list: {line}"));
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "latchgate-mcp exited with {status}");
    (init, listed, tools)
}

fn ms(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// `text` without its old section (from SECTION to the next `## ` or the end).
fn without_section(text: &str) -> String {
    let Some(at) = text.find(SECTION) else {
        return text.to_string();
    };
    let rest = &text[at + SECTION.len()..];
    let end = rest.find("\n## ").map(|i| &rest[i + 1..]).unwrap_or("");
    format!("{}{end}", &text[..at])
}

#[test]
#[ignore]
fn bench_mcp_startup() {
    let gate = Gate::start("bench-mcp");
    for _ in 0..WARMUP {
        once(&gate);
    }
    let mut init = Vec::with_capacity(RUNS);
    let mut listed = Vec::with_capacity(RUNS);
    let mut tools = 0;
    for _ in 0..RUNS {
        let (i, l, n) = once(&gate);
        init.push(i);
        listed.push(l);
        tools = n;
    }
    init.sort();
    listed.sort();
    let size = std::fs::metadata(mcp_bin()).map(|m| m.len()).unwrap_or(0);
    let median = ms(&listed, 0.5);

    let mut s = format!("{SECTION}\n\n");
    s.push_str(&format!(
        "`tests/bench_mcp.rs`: spawn `latchgate-mcp serve --gate-socket S` against a running gate, \
         `initialize`, then `notifications/initialized` + `tools/list` ({tools} tools), as a real MCP \
         client does; the clock stops when the tool list has arrived. {RUNS} runs after {WARMUP} warm-up runs.\n\n"
    ));
    s.push_str("| measure | latchgate-mcp (Rust) | LatchGate v0.2 | target |\n|---|---|---|---|\n");
    s.push_str(&format!(
        "| spawn to initialize + tools/list answered, median | {median:.2} ms | 19.4 ms | ≤ 5 ms |\n"
    ));
    s.push_str(&format!(
        "| same, p90 / min / max | {:.2} / {:.2} / {:.2} ms | — | |\n",
        ms(&listed, 0.9),
        ms(&listed, 0.0),
        ms(&listed, 1.0)
    ));
    s.push_str(&format!(
        "| spawn to initialize answered, median | {:.2} ms | — | |\n",
        ms(&init, 0.5)
    ));
    s.push_str(&format!(
        "| binary size (static, stripped) | {:.2} MB ({size} bytes) | — | ≤ 3 MiB (3,145,728 bytes) |\n\n",
        size as f64 / 1e6
    ));
    s.push_str(&format!(
        "Goal (issue 5): ≤ 5 ms — {}.\n",
        if median <= 5.0 { "met" } else { "NOT met" }
    ));
    print!("{s}");

    let out = std::env::var("BENCH_OUT")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/BENCHMARKS.md").to_string());
    let old = std::fs::read_to_string(&out).unwrap_or_default();
    let mut text = without_section(&old);
    if !text.is_empty() && !text.ends_with("\n\n") {
        text.push('\n');
    }
    text.push_str(&s);
    std::fs::write(out, text).unwrap();
}
