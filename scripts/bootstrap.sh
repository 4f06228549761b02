#!/usr/bin/env bash
# Installs everything `make test` needs on a fresh Debian machine with only the
# Rust toolchain: rustup targets, Debian packages, Python test clients (in .venv),
# the Claude Code CLI (npm, in .venv/node; never global).
# Idempotent and quiet: each step checks before it installs.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_pkgs=()
command -v musl-gcc >/dev/null || need_pkgs+=(musl-tools)
command -v bwrap >/dev/null || need_pkgs+=(bubblewrap)
command -v openssl >/dev/null || need_pkgs+=(openssl)
command -v file >/dev/null || need_pkgs+=(file)
# The sandbox tests run real tools inside the sandbox (the escape suite):
# the system's python3 and curl (a pyenv or venv python is not mounted
# inside), pgrep, setpriv.
[ -x /usr/bin/python3 ] || need_pkgs+=(python3)
[ -x /usr/bin/curl ] || need_pkgs+=(curl)
command -v pgrep >/dev/null || need_pkgs+=(procps)
command -v setpriv >/dev/null || need_pkgs+=(util-linux)
# Node.js runs npm (and Claude Code's install script). A Node.js from another
# source usually bundles npm; Debian's npm is only added when npm is missing.
command -v node >/dev/null || need_pkgs+=(nodejs)
command -v npm >/dev/null || need_pkgs+=(npm)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${need_pkgs[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

installed=$(rustup target list --installed)
for t in x86_64-unknown-linux-musl wasm32-unknown-unknown; do
  grep -qx "$t" <<<"$installed" || rustup target add "$t"
done

# Python clients for the real-client tests: the published SDKs, pinned.
# Reinstalled whenever requirements.txt changes (its hash is the stamp).
req_sum=$(sha256sum tests/python/requirements.txt | cut -d' ' -f1)
if [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$req_sum" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r tests/python/requirements.txt
  echo "$req_sum" >.venv/.requirements.sha256
fi

# The real Claude Code CLI for test_mcp.py, at the version (and integrity
# hashes) locked in tests/clients, installed under .venv/node: never global.
lock_sum=$(cat tests/clients/package.json tests/clients/package-lock.json | sha256sum | cut -d' ' -f1)
if [ "$(cat .venv/node/.lock.sha256 2>/dev/null)" != "$lock_sum" ] || [ ! -x .venv/node/node_modules/.bin/claude ]; then
  mkdir -p .venv/node
  cp tests/clients/package.json tests/clients/package-lock.json .venv/node/
  npm ci --prefix .venv/node --no-audit --no-fund --loglevel=error >/dev/null
  echo "$lock_sum" >.venv/node/.lock.sha256
fi
echo "bootstrap: ok"
