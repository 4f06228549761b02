"""`latchgate-mcp` (issue 5) driven by real clients against the real gate:
the official MCP Python SDK (`mcp`, pinned in requirements.txt) and the
Claude Code CLI (`@anthropic-ai/claude-code`, pinned in tests/clients,
installed into .venv/node by scripts/bootstrap.sh).

Unless a test says otherwise, the adapter runs as `latchgate-mcp serve
--gate-socket <gate socket>`, relying on the default public base URL
http://localhost:3000, which is the test gate's own, with only the SDK's
default environment (HOME, PATH, ...) plus LATCHGATE_AGENT_ID=pytest. Its
stderr goes to <gate dir>/mcp.log and is printed when a test fails.
"""
import functools
import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import anyio
import pytest
from conftest import MANIFESTS, ROOT, mcp_bin
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

# The SDK offers its newest handshake version (2025-11-25), which the adapter
# does not speak: it must answer its own newest.
NEWEST = "2025-06-18"
SUPPORTED = ["2024-11-05", "2025-03-26", "2025-06-18"]
RECEIPT = re.compile(r"\n\n\[receipt_id: ([^\]\s]+)\]")
CLAUDE = ROOT / ".venv" / "node" / "node_modules" / ".bin" / "claude"
# Only http_fetch: every other action (echo included) is refused by the ACL.
FETCH_ONLY = 'version = "mcp-t1"\n[acl."*"]\nallowed_actions = ["http_fetch"]\nallowed_side_effects = ["*"]\n'


def policy_gate(make_gate, tmp_path, text):
    policy = tmp_path / "policy.toml"
    policy.write_text(text)
    return make_gate(f'policy_file = "{policy}"\n')


async def session(gate, body, *args: str, transport=None, env=None, handler=None):
    """Runs `body(session, initialize_result)` against a fresh adapter on
    `gate`'s socket (SDK client, stdio), with a 60 s limit on the whole.
    `transport` replaces `--gate-socket S`; `env` adds to its environment;
    `handler` gets the server's notifications."""
    if transport is None:
        transport = ["--gate-socket", str(gate.socket)]
    params = StdioServerParameters(
        command=mcp_bin(),
        args=["serve", *transport, *args],
        env={"LATCHGATE_AGENT_ID": "pytest", "RUST_LOG": "info", **(env or {})},
    )
    with open(gate.dir / "mcp.log", "a") as errlog:
        with anyio.fail_after(60):
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write, message_handler=handler) as s:
                    init = await s.initialize()
                    return await body(s, init)


def run(gate, body, *args: str, **kw):
    try:
        return anyio.run(functools.partial(session, gate, body, *args, **kw))
    except BaseException:
        log = gate.dir / "mcp.log"
        print("latchgate-mcp stderr:\n" + (log.read_text() if log.exists() else "(none)"))
        raise


def text_of(result) -> str:
    assert len(result.content) == 1, result
    assert result.content[0].type == "text", result
    return result.content[0].text


def success(result) -> tuple[object, str]:
    """(output, receipt id) of a successful tool result."""
    text = text_of(result)
    assert result.is_error is False, text
    m = RECEIPT.search(text)
    assert m, f"no [receipt_id: ...] in {text!r}"
    try:
        return json.loads(text[: m.start()]), m.group(1)
    except ValueError:
        raise AssertionError(f"the output before the receipt id is not JSON: {text!r}") from None


def failure(result) -> dict:
    """The compact JSON error of an isError tool result."""
    text = text_of(result)
    assert result.is_error is True, text
    return json.loads(text)


def test_sdk_tools_call_receipt_and_denial(make_gate, tmp_path, upstream):
    gate = policy_gate(make_gate, tmp_path, FETCH_ONLY)
    url = f"https://httpbin.org:{upstream}/get?x=1"

    async def body(s: ClientSession, init):
        assert init.protocol_version == NEWEST
        assert s.protocol_version == NEWEST
        assert init.server_info.name == "latchgate-mcp"
        assert init.server_info.version
        assert init.capabilities.tools is not None

        await s.send_ping()
        tools = {t.name: t for t in (await s.list_tools()).tools}
        assert len(tools) >= 80, sorted(tools)
        fetch = tools["http_fetch"]
        assert fetch.input_schema["type"] == "object"
        assert "url" in fetch.input_schema["properties"], fetch.input_schema
        # The manifest's own description, then the reference's sentence.
        assert re.search(r"LatchGate protected action \(version [^,]+, risk: low\)\. Execution is authorized, "
                         r"audited, and verified by LatchGate\.$", fetch.description), fetch.description
        assert fetch.annotations.open_world_hint is True
        assert fetch.annotations.destructive_hint is False
        echo = tools["echo"]
        assert echo.input_schema == {"type": "object", "additionalProperties": True}
        assert (echo.annotations.read_only_hint, echo.annotations.destructive_hint,
                echo.annotations.open_world_hint) == (True, False, False)

        resources = {str(r.uri) for r in (await s.list_resources()).resources}
        assert {"latchgate://actions", "latchgate://status"} <= resources
        status = await s.read_resource("latchgate://status")
        st = json.loads(status.contents[0].text)
        assert st["agent_id"] == "pytest" and st["gate_healthy"] is True, st
        assert st["protocol_version"] == NEWEST, st

        output, receipt_id = success(await s.call_tool("http_fetch", {"url": url}))
        assert output["ok"] is True, output
        assert output["data"]["status_code"] == 200
        assert json.loads(output["data"]["body"])["path"] == "/get?x=1"

        denied = failure(await s.call_tool("echo", {"a": 1}))
        assert denied["code"] == "policy_denied", denied
        assert denied.get("action_id") == "echo", denied
        assert denied["message"], denied
        return receipt_id

    receipt_id = run(gate, body)

    events = gate.audit()
    assert any(e["event_type"] == "lease_issued" for e in events), events
    [ran] = [e for e in events if e["event_type"] == "action_executed"]
    assert (ran["action_id"], ran["decision"], ran["receipt_id"]) == ("http_fetch", "allow", receipt_id)
    assert ran["policy_version"] == "mcp-t1"
    [denied] = [e for e in events if e["event_type"] == "action_denied"]
    assert (denied["action_id"], denied["error"], denied["policy_rule"]) == ("echo", "policy_denied", "acl.action")
    assert denied["session_id"] == ran["session_id"]


def test_sdk_schema_error_and_unknown_tool(gate):
    async def body(s: ClientSession, init):
        bad = failure(await s.call_tool("http_fetch", {"url": 42}))
        assert bad["code"] == "schema_validation", bad
        # Unknown tool: the reference's action_not_found tool error, or the
        # MCP spec's protocol error -32602; either, never a crash.
        try:
            missing = failure(await s.call_tool("no_such_action", {}))
            assert missing["code"] == "action_not_found", missing
        except MCPError as e:
            assert e.error.code == -32602, e.error
        out, _ = success(await s.call_tool("echo", {"still": "works"}))
        assert out == {"ok": True, "data": {"still": "works"}}

    run(gate, body)


def test_sdk_survives_gate_restart_and_outage(gate):
    """A restart mid-session (leases gone): the next call leases again and
    succeeds. Gate down: a gate_unavailable result, the server keeps running."""

    async def body(s: ClientSession, init):
        out, first = success(await s.call_tool("echo", {"n": 1}))
        assert out == {"ok": True, "data": {"n": 1}}
        await anyio.to_thread.run_sync(gate.restart)
        out, second = success(await s.call_tool("echo", {"n": 2}))
        assert out == {"ok": True, "data": {"n": 2}} and second != first

        assert await anyio.to_thread.run_sync(gate.stop) == 0
        down = failure(await s.call_tool("echo", {"n": 3}))
        assert down["code"] == "gate_unavailable", down
        await s.send_ping()
        await anyio.to_thread.run_sync(gate.start)
        out, _ = success(await s.call_tool("echo", {"n": 4}))
        assert out == {"ok": True, "data": {"n": 4}}
        return first, second

    receipts = run(gate, body)
    ran = [e["receipt_id"] for e in gate.audit("--event-type", "action_executed")]
    assert set(receipts) <= set(ran)
    assert sum(e["event_type"] == "lease_issued" for e in gate.audit()) >= 2


async def echo_once(s: ClientSession, init):
    out, receipt_id = success(await s.call_tool("echo", {"via": "transport"}))
    assert out == {"ok": True, "data": {"via": "transport"}}
    return receipt_id


def test_transport_from_latchgate_url(gate):
    """No flag: $LATCHGATE_URL=unix://PATH (as the sandbox sets it)."""
    receipt_id = run(gate, echo_once, transport=[], env={"LATCHGATE_URL": f"unix://{gate.socket}"})
    assert receipt_id in [e["receipt_id"] for e in gate.audit("--event-type", "action_executed")]


def test_transport_gate_url_tcp(gate_tcp):
    """--gate-url http://IP:PORT: the public base URL defaults to it."""
    receipt_id = run(gate_tcp, echo_once, transport=["--gate-url", f"http://127.0.0.1:{gate_tcp.port}"])
    assert receipt_id in [e["receipt_id"] for e in gate_tcp.audit("--event-type", "action_executed")]


def test_sdk_tools_list_changed_on_reload(make_gate, tmp_path):
    """A manifest added and `latchgate reload`: the adapter notices the new
    catalog digest and sends notifications/tools/list_changed; the next
    tools/list has the new tool."""
    mdir = tmp_path / "manifests"
    mdir.mkdir()
    shutil.copy(MANIFESTS / "echo_write.toml", mdir)
    gate = make_gate(f'manifests_dir = "{mdir}"\n')
    seen = []

    async def handler(message):
        seen.append(getattr(message, "method", None))

    async def body(s: ClientSession, init):
        assert init.capabilities.tools.list_changed is True
        before = {t.name for t in (await s.list_tools()).tools}
        assert "echo_write" in before and "echo_scoped" not in before
        shutil.copy(MANIFESTS / "echo_scoped.toml", mdir)
        r = await anyio.to_thread.run_sync(gate.cli, "reload")
        assert r.returncode == 0, r.stdout + r.stderr
        with anyio.fail_after(15):
            while "notifications/tools/list_changed" not in seen:
                await anyio.sleep(0.05)
        after = {t.name for t in (await s.list_tools()).tools}
        assert after - before == {"echo_scoped"}, after ^ before

    run(gate, body, "--catalog-interval", "1", handler=handler)


def pending_ids(gate) -> set:
    r = gate.cli("approvals", "list", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    return {a["approval_id"] for a in json.loads(r.stdout)["approvals"] if a["status"] == "pending"}


def test_sdk_approval_progress_timeout_then_approved(make_gate):
    """echo_high is held for an operator: progress notifications while the
    adapter polls; no decision in time -> pending_approval naming the
    approval id; approved while it waits -> the result with its receipt."""
    gate = make_gate(f'manifests_dir = "{MANIFESTS}"\n')

    async def body(s: ClientSession, init):
        progress = []

        async def on_progress(done, total, message):
            progress.append((done, total, message))

        held = failure(await s.call_tool("echo_high", {"n": 1}, progress_callback=on_progress))
        assert held["code"] == "pending_approval", held
        aid = held["approval_id"]
        assert aid in pending_ids(gate)
        assert f"latchgate approvals approve {aid}" in json.dumps(held), held
        assert progress, "no notifications/progress while the call was held"

        def approve_next():
            for _ in range(200):
                new = pending_ids(gate) - {aid}
                if new:
                    [other] = new
                    r = gate.cli("approvals", "approve", other)
                    assert r.returncode == 0, r.stdout + r.stderr
                    return other
                time.sleep(0.05)
            raise AssertionError("the second call was never held")

        async with anyio.create_task_group() as tg:
            approved = {}

            async def approver():
                approved["id"] = await anyio.to_thread.run_sync(approve_next)

            tg.start_soon(approver)
            result = await s.call_tool("echo_high", {"n": 2}, progress_callback=on_progress)
        # The poll answers with the receipt id only (the output went to the
        # approving operator): a success result naming both ids.
        text = text_of(result)
        assert result.is_error is False, text
        assert approved["id"] in text, text
        m = RECEIPT.search(text)
        assert m, text
        return approved["id"], m.group(1)

    approval_id, receipt_id = run(gate, body, "--approval-timeout", "3")
    ran = [e for e in gate.audit("--event-type", "action_executed")
           if (e.get("approval") or {}).get("approval_id") == approval_id]
    assert [e["receipt_id"] for e in ran] == [receipt_id]


class Raw:
    """latchgate-mcp on raw pipes: one JSON-RPC message per line."""

    def __init__(self, gate):
        env = {k: v for k, v in os.environ.items() if not k.startswith("LATCHGATE_")}
        self.log = open(gate.dir / "mcp-raw.log", "ab")
        self.proc = subprocess.Popen(
            [mcp_bin(), "serve", "--gate-socket", str(gate.socket)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, env=env,
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, data) -> None:
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        self.proc.stdin.write(raw + b"\n")
        self.proc.stdin.flush()

    def recv(self) -> dict:
        line = self.lines.get(timeout=20)
        assert line is not None, "latchgate-mcp closed stdout (crashed?)"
        return json.loads(line)

    def call(self, data) -> dict:
        self.send(data)
        return self.recv()

    def close(self) -> int:
        self.proc.stdin.close()
        code = self.proc.wait(timeout=20)
        self.log.close()
        return code


def init_msg(version: str, id_=1) -> dict:
    return {"jsonrpc": "2.0", "id": id_, "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {},
                       "clientInfo": {"name": "raw", "version": "0"}}}


@pytest.mark.parametrize("asked,answered", [*[(v, v) for v in SUPPORTED], ("2099-01-01", NEWEST)])
def test_version_negotiation(gate, asked, answered):
    c = Raw(gate)
    r = c.call(init_msg(asked))
    assert r["id"] == 1 and r["result"]["protocolVersion"] == answered, r
    assert c.close() == 0


def test_malformed_input_gets_jsonrpc_errors(gate):
    c = Raw(gate)
    assert "result" in c.call(init_msg(NEWEST))
    c.send({"jsonrpc": "2.0", "method": "notifications/initialized"})  # no answer

    def code(r):
        assert "result" not in r, r
        return r["error"]["code"]

    r = c.call(b"{not json")
    assert code(r) == -32700 and r["id"] is None
    assert code(c.call({"jsonrpc": "1.0", "id": 2, "method": "ping"})) == -32600
    assert code(c.call({"jsonrpc": "2.0", "id": 3, "method": "no/such"})) == -32601
    assert code(c.call({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"arguments": {}}})) == -32602
    assert code(c.call([{"jsonrpc": "2.0", "id": 5, "method": "ping"}])) == -32600
    # A line over the 4 MiB limit is refused, and the server reads on.
    big = c.call(b'{"jsonrpc":"2.0","id":6,"method":"ping","params":{"x":"' + b"a" * (5 << 20) + b'"}}')
    assert code(big) in (-32700, -32600), big
    c.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}})
    assert c.call({"jsonrpc": "2.0", "id": 7, "method": "ping"}) == {"jsonrpc": "2.0", "id": 7, "result": {}}
    assert c.close() == 0


# --- Claude Code -----------------------------------------------------------


@pytest.fixture()
def claude():
    """The Claude Code CLI from .venv/node (scripts/bootstrap.sh). Missing:
    skipped, except under CI, where it must run."""
    # npm installs Claude Code 2.1's native binary: running it needs no node.
    if os.access(CLAUDE, os.X_OK):
        return CLAUDE
    msg = f"Claude Code CLI not installed at {CLAUDE} (run scripts/bootstrap.sh)"
    if os.environ.get("CI"):
        pytest.fail(msg + "; under CI it must run, not skip")
    pytest.skip(msg)


def clean_env(home: Path) -> dict:
    """The environment with HOME=home, without anything naming another Claude
    configuration or API key, and without telemetry, auto-update or error
    reports (no API key is needed for `claude mcp list`)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CLAUDE", "ANTHROPIC_", "LATCHGATE_", "XDG_CONFIG"))}
    env.update(
        HOME=str(home),
        DISABLE_AUTOUPDATER="1",
        DISABLE_TELEMETRY="1",
        DISABLE_ERROR_REPORTING="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        NO_COLOR="1",
    )
    return env


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def test_claude_code_install_then_mcp_list(claude, gate, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    config = home / ".claude.json"
    # An existing user config: other keys and another server must survive.
    other = {"type": "stdio", "command": "/bin/true", "args": ["other"], "env": {}}
    config.write_text(json.dumps({"numStartups": 3, "mcpServers": {"other": other}}, indent=2))
    original = config.read_bytes()
    env = clean_env(home)
    sock = str(gate.socket)

    def install(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [mcp_bin(), "install", "--ide", "claude-code", "--gate-socket", sock, *extra],
            env=env, cwd=project, capture_output=True, text=True, timeout=30,
        )

    before = snapshot(tmp_path)
    dry = install("--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert str(config) in dry.stdout + dry.stderr, dry.stdout + dry.stderr
    assert "latchgate" in dry.stdout and sock in dry.stdout, dry.stdout
    assert snapshot(tmp_path) == before, "--dry-run changed the file system"

    first = install()
    assert first.returncode == 0, first.stdout + first.stderr
    written = json.loads(config.read_text())
    assert written["numStartups"] == 3
    assert written["mcpServers"]["other"] == other
    entry = written["mcpServers"]["latchgate"]
    assert os.path.realpath(entry["command"]) == os.path.realpath(mcp_bin()), entry
    assert entry["args"][0] == "serve" and entry["args"][entry["args"].index("--gate-socket") + 1] == sock, entry
    assert entry["env"]["LATCHGATE_AGENT_ID"] == "claude-code", entry
    assert not (project / ".mcp.json").exists(), "user scope wrote a project file"
    assert (home / ".claude.json.bak").read_bytes() == original, "no backup of the replaced file"

    second = install()
    assert second.returncode == 0, second.stdout + second.stderr
    assert json.loads(config.read_text()) == written, "a second install changed the config"

    listed = subprocess.run(
        [str(claude), "mcp", "list"], env=env, cwd=project, capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL,
    )
    out = listed.stdout + listed.stderr
    assert listed.returncode == 0, out
    lines = {ln.split(":", 1)[0]: ln for ln in out.splitlines() if ":" in ln}
    # Claude Code 2.1: "latchgate: /path/latchgate-mcp serve ... - ✔ Connected"
    assert "latchgate" in lines and "other" in lines, out
    assert lines["latchgate"].rstrip().endswith("Connected"), out
    assert "Failed" not in lines["latchgate"], out
