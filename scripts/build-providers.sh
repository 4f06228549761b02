#!/usr/bin/env bash
# Builds the WASM providers in vendor/providers reproducibly.
#
#   scripts/build-providers.sh           build every crate, copy the modules to
#                                        vendor/providers/wasm/<name>.wasm and
#                                        write vendor/providers/SHA256SUMS
#   scripts/build-providers.sh --check   clean rebuild in a temp dir; fail
#                                        (exit 1, naming the file) if any byte
#                                        differs from the committed wasm/ and
#                                        SHA256SUMS
#
# A crate is any directory under vendor/providers holding a Cargo.toml; the
# module is named after its directory. Same toolchain + same sources => same
# bytes: the flags below are fixed, paths are remapped, no debug info, no
# target-cpu tuning, and the toolchain that built the committed modules is
# recorded in vendor/providers/TOOLCHAIN.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
PROV="$ROOT/vendor/providers"
TARGET_TRIPLE=wasm32-unknown-unknown
CARGO=${CARGO:-cargo}
RUSTC=${RUSTC:-rustc}
CARGO_HOME_DIR=${CARGO_HOME:-$HOME/.cargo}

mode=build
case "${1:-}" in
"") ;;
--check) mode=check ;;
*)
    echo "usage: $0 [--check]" >&2
    exit 2
    ;;
esac

# Nothing from the caller's environment may change the build.
unset CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS RUSTDOCFLAGS \
    RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER CARGO_BUILD_TARGET \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER CARGO_INCREMENTAL
for var in $(env | sed -n 's/^\(CARGO_PROFILE_[A-Z0-9_]*\)=.*/\1/p'); do
    unset "$var"
done
export LC_ALL=C TZ=UTC

# 64 KiB of guest stack (the default is 1 MiB): the providers are tiny and
# never recurse deeply, and a small initial memory keeps instantiation cheap.
export RUSTFLAGS="-C debuginfo=0 -C link-arg=-zstack-size=65536 \
--remap-path-prefix=$ROOT=/latchgate --remap-path-prefix=$CARGO_HOME_DIR=/cargo"

sysroot=$("$RUSTC" --print sysroot)
if [ ! -d "$sysroot/lib/rustlib/$TARGET_TRIPLE" ]; then
    echo "error: Rust target $TARGET_TRIPLE is not installed" \
        "(rustup target add $TARGET_TRIPLE, or scripts/bootstrap.sh)" >&2
    exit 1
fi
toolchain="rustc $("$RUSTC" -vV | sed -n 's/^release: //p') ($("$RUSTC" -vV | sed -n 's/^commit-hash: //p'))"

# Crate directories, sorted, excluding build output.
crates() {
    find "$PROV" -path "$PROV/target" -prune -o -name Cargo.toml -print |
        sed 's#/Cargo.toml$##' | sort
}

# build_all TARGET_DIR OUT_DIR: builds every crate and copies its module.
build_all() {
    local target_dir=$1 out_dir=$2 dir name
    mkdir -p "$out_dir"
    for dir in $(crates); do
        name=$(basename "$dir")
        (cd "$dir" && CARGO_TARGET_DIR="$target_dir" "$CARGO" build --quiet \
            --release --locked --offline --target "$TARGET_TRIPLE")
        install -m 0644 "$target_dir/$TARGET_TRIPLE/release/$name.wasm" "$out_dir/$name.wasm"
    done
}

# sums OUT_DIR: SHA256SUMS content, paths relative to vendor/providers.
sums() {
    (cd "$1/.." && sha256sum wasm/*.wasm | sort -k2)
}

if [ "$mode" = build ]; then
    rm -rf "$PROV/wasm"
    build_all "$PROV/target" "$PROV/wasm"
    sums "$PROV/wasm" >"$PROV/SHA256SUMS"
    echo "$toolchain" >"$PROV/TOOLCHAIN"
    echo "built $(ls "$PROV/wasm" | wc -l) providers with $toolchain:"
    cat "$PROV/SHA256SUMS"
    exit 0
fi

# --check
recorded=$(cat "$PROV/TOOLCHAIN" 2>/dev/null || echo "none")
if [ "$recorded" != "$toolchain" ]; then
    echo "error: vendor/providers/TOOLCHAIN: modules were built with '$recorded'," \
        "this toolchain is '$toolchain'; byte-identical rebuilds need the same one" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build_all "$tmp/target" "$tmp/wasm"
sums "$tmp/wasm" >"$tmp/SHA256SUMS"

status=0
for f in "$tmp"/wasm/*.wasm; do
    name=$(basename "$f")
    if [ ! -f "$PROV/wasm/$name" ]; then
        echo "MISSING: vendor/providers/wasm/$name is not committed" >&2
        status=1
    elif ! cmp -s "$f" "$PROV/wasm/$name"; then
        echo "DIFFERS: vendor/providers/wasm/$name does not match a clean rebuild" >&2
        status=1
    fi
done
for f in "$PROV"/wasm/*.wasm; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    if [ ! -f "$tmp/wasm/$name" ]; then
        echo "EXTRA: vendor/providers/wasm/$name has no crate" >&2
        status=1
    fi
done
if ! cmp -s "$tmp/SHA256SUMS" "$PROV/SHA256SUMS"; then
    echo "DIFFERS: vendor/providers/SHA256SUMS does not match a clean rebuild" >&2
    diff "$PROV/SHA256SUMS" "$tmp/SHA256SUMS" >&2 || true
    status=1
fi
if [ "$status" = 0 ]; then
    echo "providers: $(wc -l <"$tmp/SHA256SUMS") modules byte-identical to a clean rebuild"
fi
exit "$status"
