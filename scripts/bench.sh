#!/usr/bin/env bash
# Measures the gate and latchgate-mcp and writes BENCHMARKS.md: first
# tests/bench_load.rs (writes the file), then tests/bench_mcp.rs (replaces
# only its own "## latchgate-mcp start-up" section, appended at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
export LATCHGATE_BIN="$PWD/target/x86_64-unknown-linux-musl/release/latchgate"
export LATCHGATE_MCP_BIN="$PWD/target/x86_64-unknown-linux-musl/release/latchgate-mcp"
cargo test --release --locked --test bench_load -- --ignored --nocapture
cargo test --release --locked --test bench_mcp -- --ignored --nocapture
cargo test --release --locked --test bench_sandbox -- --ignored --nocapture
# Egress proxy (issue 7): socat is only the tunnel's point of comparison.
command -v socat >/dev/null || { apt-get update -qq && apt-get install -y -qq socat; }
cargo test --release --locked --test bench_proxy -- --ignored --nocapture
cargo test --release --locked --test bench_bridge -- --ignored --nocapture
