"""Held calls and operator approvals (issue 3), end to end: the published SDK
(latchgate==0.2.0, unchanged) over the Unix socket, the `latchgate approvals`
CLI over the operator socket, and the ledger read back with `latchgate audit`.

`echo_high` (tests/fixtures/manifests) is the echo provider declared high
risk, so every call of it is held for an operator (policy rule approval.risk).
"""
import asyncio
import hashlib
import json
import os
import time
from unittest import mock

import latchgate._client
import pytest
from conftest import MANIFESTS
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from latchgate import (
    LatchGateApprovalRequired,
    LatchGateAuthError,
    LatchGateBudgetExhausted,
    LatchGateClient,
    LatchGateDenied,
)

PUBLIC = "http://localhost:3000"
CONFIG = f'manifests_dir = "{MANIFESTS}"\n'
OPERATOR = f"uid:{os.getuid()}"  # the CLI's peer uid on the operator socket


def run(coro):
    return asyncio.run(coro)


def client(gate) -> LatchGateClient:
    return LatchGateClient(socket=str(gate.socket), public_base_url=PUBLIC)


async def hold(c: LatchGateClient, params: dict) -> str:
    """Executes echo_high, which must be held; returns the approval id."""
    with pytest.raises(LatchGateApprovalRequired) as e:
        await c.execute("echo_high", params)
    assert e.value.action_id == "echo_high"
    assert e.value.approval_id
    return e.value.approval_id


def cli_json(gate, *args: str, code: int = 0):
    r = gate.cli(*args, "--json")
    assert r.returncode == code, f"{args}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    return json.loads(r.stdout)


def cli_text(gate, *args: str, code: int = 0) -> str:
    r = gate.cli(*args)
    assert r.returncode == code, f"{args}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    return r.stdout


def listed(gate) -> dict:
    """`approvals list --json` as {approval_id: entry}."""
    out = cli_json(gate, "approvals", "list")
    assert out["count"] == len(out["approvals"])
    return {a["approval_id"]: a for a in out["approvals"]}


def executed_for(gate, approval_id: str) -> list:
    """The action_executed events that ran approval `approval_id`."""
    return [
        e
        for e in gate.audit("--event-type", "action_executed")
        if (e.get("approval") or {}).get("approval_id") == approval_id
    ]


def only(events: list, **want) -> dict:
    """The one event whose fields equal `want`."""
    hits = [e for e in events if all(e.get(k) == v for k, v in want.items())]
    assert len(hits) == 1, f"{want}: {len(hits)} matches in {json.dumps(events, indent=1)}"
    return hits[0]


def _jcs(v) -> bytes:
    # RFC 8785 for what a receipt holds (strings, integers, objects, arrays,
    # null, booleans; ASCII keys): sorted keys, no whitespace, raw UTF-8.
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def check_receipt_signature(gate, receipt: dict) -> None:
    """Recomputes result_hash from the receipt's fields and checks the Ed25519
    receipt_signature with the public key in the ledger's keys.json."""
    hashed = {
        k: receipt[k]
        for k in (
            "receipt_id",
            "grant_id",
            "provider_module_digest",
            "provider_receipt",
            "normalized_result",
            "verification_outcome",
            "effect_evidence",
            "started_at",
            "finished_at",
            "failure_class",
        )
    }
    for k in ("started_at", "finished_at"):
        assert hashed[k].endswith("Z")
        hashed[k] = hashed[k][:-1] + "+00:00"
    assert hashlib.sha256(_jcs(hashed)).hexdigest() == receipt["result_hash"]
    keys = json.loads((gate.dir / "data" / "ledger" / "keys.json").read_text())["keys"]
    key = only(keys, kid=receipt["signing_key_id"])
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(key["x_hex"])).verify(
        bytes.fromhex(receipt["receipt_signature"]), receipt["result_hash"].encode()
    )


def test_held_call_approved_and_polled(make_gate):
    g = make_gate(CONFIG)

    async def main():
        async with client(g) as c:
            await c.connect(agent_id="pytest")
            aid = await hold(c, {"msg": "hi"})

            st = await c.get_approval_status(aid)
            assert (st.status, st.approval_id, st.action_id) == ("pending", aid, "echo_high")
            assert st.receipt_id is None
            assert isinstance(st.retry_after_seconds, int) and st.retry_after_seconds >= 1

            entry = listed(g)[aid]
            assert entry["status"] == "pending"
            assert entry["action_id"] == "echo_high"
            assert entry["principal"] == "dev:anonymous"
            assert entry["risk_level"] == "high"
            assert entry["session_id"] == c.session_id
            shown = cli_json(g, "approvals", "show", aid)
            assert shown["input"] == {"msg": "hi"}
            assert shown["policy_rule"] == "approval.risk"
            assert shown["request_hash"] == entry["request_hash"]
            assert cli_json(g, "status")["pending_approvals"] == 1

            out = cli_text(g, "approvals", "approve", aid)
            st = await c.get_approval_status(aid)
            assert st.status == "approved", st.raw
            assert st.receipt_id and st.receipt_id in out
            receipt = await c.get_receipt(st.receipt_id)
            return aid, st.receipt_id, receipt, entry

    aid, rid, receipt, entry = run(main())
    assert receipt.receipt_id == rid
    assert receipt.provider_receipt == {"ok": True, "data": {"msg": "hi"}}
    assert receipt.normalized_result["kind"] == "success"
    assert listed(g)[aid]["status"] == "approved"
    assert cli_json(g, "status")["pending_approvals"] == 0

    held = only(g.audit("--event-type", "pending_approval"), approval_id=aid)
    assert held["decision"] == "pending_approval"
    assert held["policy_rule"] == "approval.risk"
    assert held["action_id"] == "echo_high"
    assert held["principal"] == "dev:anonymous"
    assert held["request_hash"] == entry["request_hash"]

    [ran] = executed_for(g, aid)
    assert ran["decision"] == "allow"
    assert ran["approval"]["decision"] == "allow"
    assert ran["approval"]["approved_by"] == OPERATOR
    assert ran["approval"]["approval_hash"].startswith("sha256:")
    assert ran["policy_rule"] == "approval.risk"
    assert ran["request_hash"] == held["request_hash"]
    assert ran["receipt_id"] == rid
    assert ran["grant_id"] == receipt.grant_id
    # The receipt the SDK fetched is the one the ledger holds, and it is signed.
    ledger_receipt = ran["receipt"]
    assert ledger_receipt["receipt_id"] == rid
    assert ledger_receipt["grant_id"] == receipt.grant_id
    assert ledger_receipt["result_hash"] == receipt.result_hash
    assert ledger_receipt["provider_module_digest"] == receipt.provider_module_digest
    check_receipt_signature(g, ledger_receipt)

    assert g.stop() == 0
    verify = g.cli("verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_denied_call_stays_denied(make_gate):
    g = make_gate(CONFIG)

    async def main():
        async with client(g) as c:
            await c.connect(agent_id="pytest")
            aid = await hold(c, {"msg": "no"})
            out = cli_text(g, "approvals", "deny", aid, "--reason", "not today")
            assert "denied" in out and aid in out
            st = await c.get_approval_status(aid)
            assert (st.status, st.reason, st.receipt_id) == ("denied", "not today", None)

            # Approving afterwards changes nothing: exit 3, the stored outcome.
            out = cli_text(g, "approvals", "approve", aid, code=3)
            assert "already denied" in out and aid in out
            again = cli_json(g, "approvals", "approve", aid, code=3)
            assert (again["decision"], again["status"]) == ("already_denied", "denied")
            assert again["deny_reason"] == "not today"
            # Denying again is the same decision: exit 0, nothing done.
            assert "already denied" in cli_text(g, "approvals", "deny", aid)

            st = await c.get_approval_status(aid)
            assert (st.status, st.reason) == ("denied", "not today")
            return aid

    aid = run(main())
    assert listed(g)[aid]["status"] == "denied"
    denied = only(g.audit("--event-type", "approval_denied"), approval_id=aid)
    assert denied["decision"] == "deny"
    assert denied["deny_reason"] == "not today"
    assert denied["denied_by"] == OPERATOR
    assert denied["policy_rule"] == "approval.risk"
    assert executed_for(g, aid) == []
    assert [e for e in g.audit() if e["event_type"] == "action_executed"] == []


def test_approve_twice_runs_once(make_gate):
    g = make_gate(CONFIG)

    async def main():
        async with client(g) as c:
            await c.connect(agent_id="pytest")
            aid = await hold(c, {"msg": "once"})
            first = cli_json(g, "approvals", "approve", aid)
            assert first["decision"] == "executed"
            assert first["output"] == {"ok": True, "data": {"msg": "once"}}
            assert first["approval"]["approval_id"] == aid

            out = cli_text(g, "approvals", "approve", aid)
            assert "already approved" in out and first["receipt_id"] in out
            second = cli_json(g, "approvals", "approve", aid)
            assert second["decision"] == "already_approved"
            assert second["receipt_id"] == first["receipt_id"]
            # A different decision on a decided approval is a no-op with exit 3.
            assert "already approved" in cli_text(g, "approvals", "deny", aid, code=3)

            st = await c.get_approval_status(aid)
            assert (st.status, st.receipt_id) == ("approved", first["receipt_id"])
            return aid, first["receipt_id"]

    aid, rid = run(main())
    [ran] = executed_for(g, aid)
    assert ran["receipt_id"] == rid
    assert g.audit("--event-type", "approval_denied") == []


def test_pending_approval_survives_restart(make_gate):
    g = make_gate(CONFIG)

    async def main():
        async with client(g) as c:
            await c.connect(agent_id="pytest")
            aid = await hold(c, {"msg": "after restart"})
            g.restart()

            assert listed(g)[aid]["status"] == "pending"
            assert cli_json(g, "status")["pending_approvals"] == 1
            # A restart ends every lease.
            with pytest.raises(LatchGateAuthError):
                await c.get_approval_status(aid)
            # A new lease with a new key is another caller: the approval is
            # not found for it (no probing of other sessions' approvals)...
            async with client(g) as other:
                await other.connect(agent_id="other")
                with pytest.raises(LatchGateDenied, match="not found"):
                    await other.get_approval_status(aid)
            # ...while the same principal leasing again with the same DPoP key
            # owns it. (The SDK makes a new key on every connect(); keeping the
            # key is what an agent that persists its key would do.)
            key = c._keypair
            with mock.patch.object(latchgate._client.DPoPKeyPair, "generate", return_value=key):
                await c.connect()
            assert (await c.get_approval_status(aid)).status == "pending"

            approved = cli_json(g, "approvals", "approve", aid)
            assert approved["decision"] == "executed"
            assert approved["output"] == {"ok": True, "data": {"msg": "after restart"}}
            st = await c.get_approval_status(aid)
            assert (st.status, st.receipt_id) == ("approved", approved["receipt_id"])
            return aid, approved["receipt_id"]

    aid, rid = run(main())
    [ran] = executed_for(g, aid)
    assert ran["receipt_id"] == rid
    only(g.audit("--event-type", "pending_approval"), approval_id=aid)


def test_expired_approval_cannot_be_approved(make_gate):
    g = make_gate(CONFIG + "approval_ttl_seconds = 2\n")

    async def main():
        async with client(g) as c:
            await c.connect(agent_id="pytest")
            early = await hold(c, {"msg": "expires while the gate runs"})
            time.sleep(1.2)
            late = await hold(c, {"msg": "expires while the gate is down"})
            time.sleep(1.0)  # `early` is 2.2 s old: expired

            st = await c.get_approval_status(early)
            assert st.status == "expired", st.raw
            assert st.receipt_id is None
            assert listed(g)[early]["status"] == "expired"
            assert "expired" in cli_text(g, "approvals", "approve", early, code=3)
            return early, late

    early, late = run(main())
    # `late` (held 1 s ago, 2 s TTL) expires while the gate is stopped.
    assert g.stop() == 0
    time.sleep(1.3)
    g.start()
    for aid in (early, late):
        out = cli_text(g, "approvals", "approve", aid, code=3)
        assert "expired" in out and aid in out
        assert listed(g)[aid]["status"] == "expired"
        assert executed_for(g, aid) == []
        only(g.audit("--event-type", "approval_expired"), approval_id=aid)
    assert cli_json(g, "status")["pending_approvals"] == 0


def test_budget_max_calls(make_gate):
    g = make_gate()

    async def main():
        async with client(g) as c:
            await c.connect(agent_id="pytest", max_calls=3)
            for i in range(3):
                r = await c.execute("echo", {"i": i})
                assert r.output == {"ok": True, "data": {"i": i}}
            with pytest.raises(LatchGateBudgetExhausted):
                await c.execute("echo", {"i": 3})

    run(main())
    spent = only(g.audit("--event-type", "action_denied"), error="budget_exhausted")
    assert spent["policy_rule"] == "budget.max_calls"


def test_budget_held_call_reserves_and_denial_refunds(make_gate):
    g = make_gate(CONFIG)

    async def main():
        async with client(g) as c:
            await c.connect(agent_id="pytest", max_calls=1)
            aid = await hold(c, {"msg": "reserve"})
            # The held call holds the lease's only call.
            with pytest.raises(LatchGateBudgetExhausted):
                await c.execute("echo", {"n": 0})
            cli_text(g, "approvals", "deny", aid)
            assert (await c.get_approval_status(aid)).status == "denied"
            # The denial gave it back: exactly one more call.
            r = await c.execute("echo", {"n": 1})
            assert r.output == {"ok": True, "data": {"n": 1}}
            with pytest.raises(LatchGateBudgetExhausted):
                await c.execute("echo", {"n": 2})

    run(main())
    executed = g.audit("--event-type", "action_executed")
    assert [e["action_id"] for e in executed] == ["echo"]
