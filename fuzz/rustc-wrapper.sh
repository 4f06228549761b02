#!/usr/bin/env bash
# RUSTC_WRAPPER for the fuzz build (scripts/fuzz.sh sets it): coverage
# instrumentation only where coverage is wanted.
#
# cargo-fuzz puts the SanitizerCoverage flags in RUSTFLAGS, so every crate
# gets them, wasmtime and Cranelift included, which no target runs; with
# them those crates built several times slower (cargo --timings:
# cranelift-codegen 99 s -> 44 s, wasmparser 37 s -> 7 s). Here the flags
# stay for our code (the library and the targets) and are dropped for the
# dependencies; the rest of RUSTFLAGS (`--cfg fuzzing`, debug assertions,
# any sanitizer) is kept for all.
set -euo pipefail
rustc="$1"
shift
case "${CARGO_PKG_NAME:-}" in
  latchgate | latchgate-fuzz) exec "$rustc" "$@" ;;
esac
args=()
for a in "$@"; do
  case "$a" in
    -Cpasses=sancov-module | -Cllvm-args=-sanitizer-coverage-* | -Cllvm-args=-simplifycfg-branch-fold-threshold=*) ;;
    *) args+=("$a") ;;
  esac
done
exec "$rustc" "${args[@]}"
