#!/usr/bin/env bash
# Measures the gate and writes BENCHMARKS.md (see tests/bench_load.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
LATCHGATE_BIN="$PWD/target/x86_64-unknown-linux-musl/release/latchgate" \
  cargo test --release --locked --test bench_load -- --ignored --nocapture
