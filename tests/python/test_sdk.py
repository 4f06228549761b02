"""The published Python SDK (latchgate==0.2.0), unchanged, against the real gate."""
import asyncio
import json

import pytest
from latchgate import (
    LatchGateApprovalRequired,
    LatchGateBudgetExhausted,
    LatchGateClient,
    LatchGateDenied,
)


def run(coro):
    return asyncio.run(coro)


async def _flow(client: LatchGateClient, port: int):
    await client.connect(agent_id="pytest")
    result = await client.execute("http_fetch", {"url": f"https://httpbin.org:{port}/get?x=1"})
    assert result.receipt_id and result.trace_id and result.grant_id
    assert result.output["ok"] is True
    data = result.output["data"]
    assert data["status_code"] == 200
    assert json.loads(data["body"])["path"] == "/get?x=1"
    assert result.verification["outcome"] == "verified"
    assert result.verification["is_fully_successful"] is True
    receipt = await client.get_receipt(result.receipt_id)
    assert receipt.receipt_id == result.receipt_id
    assert receipt.grant_id == result.grant_id
    assert len(receipt.result_hash) == 64
    assert receipt.provider_module_digest.startswith("sha256:")
    assert receipt.normalized_result["kind"] == "success"
    return result


def test_sdk_over_unix_socket(gate, upstream):
    async def main():
        async with LatchGateClient(socket=str(gate.socket), public_base_url="http://localhost:3000") as c:
            return await _flow(c, upstream)

    result = run(main())
    audit = gate.cli("audit", "--json", "--limit", "5")
    assert audit.returncode == 0, audit.stderr
    events = json.loads(audit.stdout)
    assert any(e.get("receipt_id") == result.receipt_id and e["decision"] == "allow" for e in events)
    assert gate.stop() == 0
    verify = gate.cli("verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_sdk_over_tcp(gate_tcp, upstream):
    async def main():
        async with LatchGateClient(base_url=f"http://127.0.0.1:{gate_tcp.port}") as c:
            return await _flow(c, upstream)

    run(main())


def test_sdk_error_mapping(gate, upstream):
    async def main():
        async with LatchGateClient(socket=str(gate.socket), public_base_url="http://localhost:3000") as c:
            await c.connect(agent_id="pytest", max_calls=1)
            with pytest.raises(LatchGateDenied) as e:
                await c.execute("http_fetch", {"url": 42})
            assert "schema_violation" in str(e.value)
            # An undeclared host is held for an operator (default policy),
            # and the held call reserves the lease's only call.
            with pytest.raises(LatchGateApprovalRequired) as held:
                await c.execute("http_fetch", {"url": f"https://not-declared.example:{upstream}/get"})
            assert held.value.approval_id
            with pytest.raises(LatchGateBudgetExhausted):
                await c.execute("echo", {"a": 2})

    run(main())
