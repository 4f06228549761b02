# LatchGate build. Every artifact is a static musl binary (see .cargo/config.toml).
TARGET  := x86_64-unknown-linux-musl
BIN_DIR := target/$(TARGET)/release
CARGO   ?= cargo
PREFIX  ?= /usr/local
# latchgate-mcp must stay small (issue 5): checked by `make build`.
MCP_MAX_BYTES := 3145728
# sandbox-init (init/, embedded in latchgate) must stay tiny (issue 6: 256 KB).
INIT_BIN := target/sandbox-init/$(TARGET)/release/sandbox-init
INIT_MAX_BYTES := 262144

.PHONY: all build test bootstrap providers providers-check lint unit integration python run bench clean

all: build

build:
	$(CARGO) build --release --locked
	@file $(BIN_DIR)/latchgate | grep -q 'static' || { echo "latchgate is not statically linked"; exit 1; }
	@file $(BIN_DIR)/latchgate-mcp | grep -q 'static' || { echo "latchgate-mcp is not statically linked"; exit 1; }
	@size=$$(stat -c %s $(BIN_DIR)/latchgate-mcp); [ "$$size" -le $(MCP_MAX_BYTES) ] || \
	  { echo "latchgate-mcp is $$size bytes, over the limit of $(MCP_MAX_BYTES) bytes (issue 5: at most 3 MiB): did something under src/mcp pull in the gate or wasmtime?"; exit 1; }
	@file $(INIT_BIN) | grep -q 'static' || { echo "sandbox-init is not statically linked"; exit 1; }
	@size=$$(stat -c %s $(INIT_BIN)); [ "$$size" -le $(INIT_MAX_BYTES) ] || \
	  { echo "sandbox-init is $$size bytes, over the limit of $(INIT_MAX_BYTES) bytes (issue 6: at most 256 KB)"; exit 1; }

bootstrap:
	scripts/bootstrap.sh

# Rebuild the WASM providers byte-identically from vendor/providers.
providers:
	scripts/build-providers.sh

providers-check:
	scripts/build-providers.sh --check

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --locked --all-targets -- -D warnings
	$(CARGO) clippy --release --locked -p sandbox-init --target $(TARGET) --target-dir target/sandbox-init -- -D warnings

unit:
	$(CARGO) test --profile fast-test --locked --lib

integration: build
	LATCHGATE_BIN=$(CURDIR)/$(BIN_DIR)/latchgate $(CARGO) test --profile fast-test --locked --test '*'

python: build
	LATCHGATE_BIN=$(CURDIR)/$(BIN_DIR)/latchgate .venv/bin/python -m pytest -q tests/python

test: bootstrap providers-check build lint unit integration python
	@echo "make test: all suites passed"

run: build
	$(BIN_DIR)/latchgate up

bench: build
	scripts/bench.sh

clean:
	$(CARGO) clean
	rm -rf vendor/providers/target .venv
