#!/usr/bin/env bash
# Fuzzes every parser of outside input (issue 9): builds the cargo-fuzz
# targets in fuzz/ once, then runs each for a fixed time, seeded from
# fuzz/seeds/TARGET (committed) and fuzz/corpus/TARGET (the live corpus,
# kept between runs, not committed).
#
#   scripts/fuzz.sh --seconds N [--jobs J] [TARGET...]
#
# Prints one line per target:
#   fuzz: TARGET seconds=N execs=E execs/s=R corpus=C crashes=0|1
# and exits non-zero if any target crashed (a panic, a failed assertion, a
# timeout of more than 10 s on one input, or more than 2 GiB of memory),
# naming the input that did it (under fuzz/artifacts/TARGET/). Reproduce
# one with: fuzz/target/x86_64-unknown-linux-gnu/release/TARGET FILE
#
# Toolchain: the stable one, nothing else. cargo-fuzz's default sanitizer
# (ASan) needs nightly `-Z` flags, and CI cannot fetch another toolchain, so
# the targets are built with `--sanitizer none`, which stable supports: the
# coverage instrumentation and libFuzzer are the same, only ASan's memory
# checks are missing, and our code has no `unsafe` outside src/sys (which no
# target reaches). Panics, overflow checks (the build enables debug
# assertions) and the targets' own assertions are what find bugs here.
#
# FUZZ_SANITIZER=address adds AddressSanitizer (its runtime ships with the
# stable toolchain; only its `-Z` flag is unstable): the build then sets
# RUSTC_BOOTSTRAP=1, which lets stable rustc take nightly flags, for the fuzz
# build only, and uses its own target directory (fuzz/target/asan).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

# Pinned: the version whose build flags were checked against stable rustc.
CARGO_FUZZ_VERSION=0.13.2
TRIPLE=x86_64-unknown-linux-gnu

usage() {
  echo "usage: scripts/fuzz.sh --seconds N [--jobs J] [TARGET...]" >&2
  echo "  --seconds N  how long each target runs (a positive integer)" >&2
  echo "  --jobs J     targets run at once (default 1; at most the cores)" >&2
  echo "  TARGET       names from fuzz/fuzz_targets/ (default: all)" >&2
  exit 2
}

seconds=""
jobs=1
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) [ $# -ge 2 ] || usage; seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#--seconds=}"; shift ;;
    --jobs) [ $# -ge 2 ] || usage; jobs="$2"; shift 2 ;;
    --jobs=*) jobs="${1#--jobs=}"; shift ;;
    -h|--help) usage ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; usage ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --seconds needs a positive integer, got '${seconds}'" >&2; usage; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --jobs needs a positive integer, got '${jobs}'" >&2; usage; }
sanitizer="${FUZZ_SANITIZER:-none}"
case "$sanitizer" in
  none) target_dir=target ;;
  address) target_dir=target/asan; export RUSTC_BOOTSTRAP=1 ;;
  *) echo "fuzz.sh: FUZZ_SANITIZER must be none or address, got '$sanitizer'" >&2; exit 2 ;;
esac

all=()
for f in fuzz/fuzz_targets/*.rs; do
  all+=("$(basename "$f" .rs)")
done
if [ ${#targets[@]} -eq 0 ]; then
  targets=("${all[@]}")
fi
for t in "${targets[@]}"; do
  [ -f "fuzz/fuzz_targets/$t.rs" ] || { echo "fuzz.sh: no target '$t'; targets: ${all[*]}" >&2; exit 2; }
done

# libfuzzer-sys compiles libFuzzer (C++) in its build script.
if ! command -v c++ >/dev/null; then
  echo "fuzz.sh: installing g++ (libFuzzer is C++)"
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq g++ >/dev/null
fi

# cargo-fuzz, pinned, from crates.io (a source build: no prebuilt binary).
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  echo "fuzz.sh: installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --quiet
fi

# One build for all targets. cargo-fuzz's default target is the host's gnu
# triple, which overrides the musl default in .cargo/config.toml; the fuzz
# crate is its own workspace (fuzz/Cargo.toml) with its own lock file.
# 16 codegen units: cargo-fuzz's default of 1 makes this build several
# minutes longer on two cores for a few percent of fuzzing speed.
# fuzz/rustc-wrapper.sh keeps the coverage instrumentation for our code
# only (see there). cargo fuzz cannot pass --locked on: the lock file is
# checked first.
start=$(date +%s)
(cd fuzz && cargo fetch --locked --quiet --target "$TRIPLE" &&
  RUSTC_WRAPPER="$PWD/rustc-wrapper.sh" \
    cargo fuzz build --sanitizer "$sanitizer" --codegen-units 16 \
    --target "$TRIPLE" --target-dir "$root/fuzz/$target_dir")
echo "fuzz: build took $(( $(date +%s) - start ))s (sanitizer: $sanitizer)"

bin_dir="fuzz/$target_dir/$TRIPLE/release"

# Runs one target; writes its summary line to fuzz/artifacts/TARGET/summary.
run_one() {
  local t="$1" corpus="fuzz/corpus/$1" art="fuzz/artifacts/$1"
  mkdir -p "$corpus" "$art"
  rm -f "$art"/summary "$art"/log
  local status=0
  # New inputs go to the first directory (the live corpus); the seeds are
  # only read.
  "$bin_dir/$t" "$corpus" "fuzz/seeds/$t" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$art/" >"$art/log" 2>&1 || status=$?
  local execs rate entries crash=""
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$art/log" | tail -n1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$art/log" | tail -n1)
  entries=$(find "$corpus" -type f | wc -l)
  crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$art/log" | tail -n1)
  if [ "$status" -ne 0 ] || [ -n "$crash" ]; then
    {
      echo "fuzz: $t seconds=$seconds execs=${execs:-?} execs/s=${rate:-?} corpus=$entries crashes=1"
      echo "fuzz: $t crashed (exit $status); input: ${crash:-none written}; log: $art/log"
      grep -m1 -A4 -E "panicked at|ERROR: libFuzzer|==ERROR" "$art/log" | sed 's/^/    /' || true
    } >"$art/summary"
  else
    echo "fuzz: $t seconds=$seconds execs=${execs:-?} execs/s=${rate:-?} corpus=$entries crashes=0" >"$art/summary"
  fi
}

# Run the targets, at most $jobs at a time, and print the summaries in order.
pids=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
    wait -n || true
  done
done
for p in "${pids[@]}"; do
  wait "$p" || true
done

failed=0
for t in "${targets[@]}"; do
  cat "fuzz/artifacts/$t/summary"
  grep -q 'crashes=1' "fuzz/artifacts/$t/summary" && failed=1
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: FAILED: a target crashed (see the inputs above)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no crash"
