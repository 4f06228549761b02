#!/usr/bin/env bash
# Installs everything `make test` needs on a fresh Debian machine with only the
# Rust toolchain: rustup targets, Debian packages, Python test clients (in .venv).
# Idempotent: each step checks before it installs.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_pkgs=()
command -v musl-gcc >/dev/null || need_pkgs+=(musl-tools)
command -v bwrap >/dev/null || need_pkgs+=(bubblewrap)
command -v openssl >/dev/null || need_pkgs+=(openssl)
command -v file >/dev/null || need_pkgs+=(file)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${need_pkgs[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

installed=$(rustup target list --installed)
for t in x86_64-unknown-linux-musl wasm32-unknown-unknown; do
  grep -qx "$t" <<<"$installed" || rustup target add "$t"
done

# Python clients for the real-client tests: the published SDK, pinned.
if [ ! -f .venv/.ok-1 ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r tests/python/requirements.txt
  touch .venv/.ok-1
fi
echo "bootstrap: ok"
