#!/usr/bin/env bash
# Runs the reliability studies of issue 9 at full size and rewrites their
# sections of RELIABILITY.md (tests/reliability.rs): slow clients (1,000 per
# server), load (100,000 executes from 64 clients), crash consistency (50
# kill -9 rounds) and bad input (the whole corpus). Sizes come from the
# RELIABILITY_* variables described at the top of tests/reliability.rs.
# Extra arguments go to the test harness, e.g. `scripts/reliability.sh load_full`.
# Takes several minutes; each study writes its section before it asserts.
set -euo pipefail
cd "$(dirname "$0")/.."

# 1,000 slow clients hold about 4 descriptors each in the test process (the
# proxy runs in it); the gate and the gateway inherit the limit as well.
want=8192
soft=$(ulimit -Sn)
if [ "$soft" != unlimited ] && [ "$soft" -lt "$want" ]; then
  hard=$(ulimit -Hn)
  if [ "$hard" = unlimited ] || [ "$hard" -ge "$want" ]; then
    ulimit -Sn "$want"
  else
    ulimit -Sn "$hard"
  fi
fi

export LATCHGATE_BIN="$PWD/target/x86_64-unknown-linux-musl/release/latchgate"
cargo test --release --locked --test reliability -- --ignored --nocapture --test-threads 1 "$@"
