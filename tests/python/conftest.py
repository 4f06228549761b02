"""Fixtures: a local HTTPS upstream (test CA) and the real latchgate binary."""
import http.server
import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TLS = ROOT / "tests" / "fixtures" / "tls"
# Test action manifests (echo_high, echo_write, ...): `manifests_dir = "<MANIFESTS>"`.
MANIFESTS = ROOT / "tests" / "fixtures" / "manifests"


def _bin() -> str:
    return os.environ.get("LATCHGATE_BIN") or str(ROOT / "target/x86_64-unknown-linux-musl/release/latchgate")


def mcp_bin() -> str:
    """The `latchgate-mcp` under test: $LATCHGATE_MCP_BIN, else the one beside
    the gate binary ($LATCHGATE_BIN, as the Makefile sets it)."""
    return os.environ.get("LATCHGATE_MCP_BIN") or str(Path(_bin()).with_name("latchgate-mcp"))


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        body = json.dumps({"ok": True, "path": self.path, "agent": self.headers.get("User-Agent")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def upstream():
    """HTTPS server on 127.0.0.1 with a certificate for httpbin.org from the test CA."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(TLS / "server.pem", TLS / "server.key")
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningGate:
    """The real gate in `tmp`: config in tmp/latchgate.toml, data in tmp/data,
    client socket tmp/run/gate.sock. `extra` is TOML appended after the
    generated top-level keys and before the [egress] table, so it may hold
    both top-level keys and its own tables."""

    def __init__(self, tmp: Path, tcp: bool, extra: str = ""):
        self.dir = tmp
        self.socket = tmp / "run" / "gate.sock"
        self.port = _free_port() if tcp else None
        if extra and not extra.endswith("\n"):
            extra += "\n"
        cfg = tmp / "latchgate.toml"
        cfg.write_text(
            f'data_dir = "{tmp / "data"}"\n'
            f'listen_uds_path = "{self.socket}"\n'
            f"{extra}"
            f"[egress]\n"
            f'ca_file = "{TLS / "ca.pem"}"\n'
            f'allow_private = ["127.0.0.0/8"]\n'
            f"[egress.hosts]\n"
            f'"httpbin.org" = "127.0.0.1"\n'
        )
        self.config = cfg
        self.start()

    def start(self) -> None:
        """Starts `latchgate up` on this dir's config; returns once /healthz answers 200."""
        tmp = self.dir
        args = [_bin(), "up", "--config", str(self.config)]
        if self.port is not None:
            args += ["--expose-http", f"127.0.0.1:{self.port}"]
        self.log = open(tmp / "gate.log", "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.socket.exists():
                try:
                    with socket.socket(socket.AF_UNIX) as s:
                        s.connect(str(self.socket))
                        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        if b"200" in s.recv(100):
                            return
                except OSError:
                    pass
            if self.proc.poll() is not None:
                raise RuntimeError((tmp / "gate.log").read_text())
            time.sleep(0.02)
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError("gate did not start: " + (tmp / "gate.log").read_text())

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, LATCHGATE_CONFIG=str(self.config))
        return subprocess.run([_bin(), *args], env=env, capture_output=True, text=True)

    def stop(self) -> int:
        self.proc.terminate()
        code = self.proc.wait(timeout=30)
        self.log.close()
        return code

    def restart(self) -> None:
        """SIGTERM (must exit 0), then start again on the same dir and config."""
        code = self.stop()
        assert code == 0, f"gate exited {code} on SIGTERM: {(self.dir / 'gate.log').read_text()}"
        self.start()

    def kill(self) -> None:
        """Kills the gate if it still runs (fixture teardown)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def audit(self, *args: str) -> list:
        """`latchgate audit --json --limit 200 ARGS...`, parsed (asserts exit 0)."""
        r = self.cli("audit", "--json", "--limit", "200", *args)
        assert r.returncode == 0, r.stdout + r.stderr
        return json.loads(r.stdout)


def _gate(tmp_path, monkeypatch, tcp):
    monkeypatch.delenv("LATCHGATE_URL", raising=False)
    g = RunningGate(tmp_path, tcp=tcp)
    yield g
    g.kill()


@pytest.fixture()
def gate(tmp_path, monkeypatch):
    """A gate on its Unix socket only (public_base_url http://localhost:3000)."""
    yield from _gate(tmp_path, monkeypatch, tcp=False)


@pytest.fixture()
def gate_tcp(tmp_path, monkeypatch):
    """A gate started with --expose-http (public_base_url http://127.0.0.1:PORT)."""
    yield from _gate(tmp_path, monkeypatch, tcp=True)


@pytest.fixture()
def make_gate(tmp_path, monkeypatch):
    """Factory: make_gate(extra="", tcp=False) starts a gate with `extra` TOML
    in its config (each in its own subdirectory of tmp_path, so one test may
    start several); all are killed at teardown."""
    monkeypatch.delenv("LATCHGATE_URL", raising=False)
    gates = []

    def make(extra: str = "", tcp: bool = False) -> RunningGate:
        d = tmp_path / f"g{len(gates)}"
        d.mkdir()
        g = RunningGate(d, tcp=tcp, extra=extra)
        gates.append(g)
        return g

    yield make
    for g in gates:
        g.kill()
