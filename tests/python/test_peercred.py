"""Identity from the kernel (issue 3): with `[identity] provider = "peercred"`
the lease's principal is the Unix socket peer's uid mapped through
`[identity.peercred.principals]`, and the policy file's ACL decides per
principal. Two real uids call the same gate through the published SDK.

Needs root (to create the test user and to drop to its uid). Outside CI it is
skipped when not root; under CI it fails instead (no silent skips in CI).
"""
import json
import os
import pwd
import subprocess
import sys

import pytest

PEER_USER = "latchgate-peer"
NOBODY = 65534

# The client, run as root with the venv's python. With a uid/gid given it
# imports everything it needs first, then drops to that uid/gid with no
# supplementary groups before it touches the socket: SO_PEERCRED reports the
# credentials at connect(). (subprocess(user=...) cannot be used here: the
# venv's interpreter may live under /root, which other users cannot reach.)
CLIENT = r'''
import asyncio, errno, json, os, socket, sys
import anyio._backends._asyncio  # noqa: F401  (imported lazily by httpx otherwise)
import httpcore, httpx  # noqa: F401
from latchgate import LatchGateClient, LatchGateError

sock, admin = sys.argv[1], sys.argv[2]
if len(sys.argv) > 3:
    uid, gid = int(sys.argv[3]), int(sys.argv[4])
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)

async def main():
    out = {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(),
           "egid": os.getegid(), "groups": os.getgroups()}
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(admin)
        out["admin"] = "connected"
    except OSError as e:
        out["admin"] = errno.errorcode.get(e.errno, str(e.errno))
    stage = "connect"
    try:
        async with LatchGateClient(socket=sock, public_base_url="http://localhost:3000") as c:
            await c.connect(agent_id="peer-test")
            out["session_id"] = c.session_id
            stage = "execute"
            r = await c.execute("echo", {"uid": out["uid"]})
            out.update(ok=True, output=r.output, session_id=c.session_id)
    except LatchGateError as e:
        out.update(ok=False, stage=stage, exc=type(e).__name__, msg=str(e),
                   reason=getattr(e, "reason", None))
    print(json.dumps(out))

asyncio.run(main())
'''


@pytest.fixture()
def root():
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("test_peercred needs root; under CI it must run, not skip")
        pytest.skip("needs root (creates a user and switches uid)")


def peer_ids() -> tuple[int, int]:
    """The test user's uid and gid, creating the system user if missing."""
    r = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PEER_USER],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 or "already exists" in r.stderr, r.stderr
    pw = pwd.getpwnam(PEER_USER)
    assert pw.pw_uid != 0
    return pw.pw_uid, pw.pw_gid


def traversable(path) -> None:
    """Lets other users reach the gate's socket directory below `path`:
    adds o+x (search only, not listing) to `path` and every parent lacking it
    (pytest makes its temp dirs 0700; it tightens its base dir again itself)."""
    for d in [path, *path.parents]:
        mode = d.stat().st_mode & 0o7777
        if not mode & 0o001:
            d.chmod(mode | 0o011)


def call(gate, script, *drop: int) -> dict:
    r = subprocess.run(
        [sys.executable, str(script), str(gate.socket), str(gate.socket.parent / "gate-admin.sock"),
         *map(str, drop)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def test_peercred_principals_and_acl(root, make_gate, tmp_path):
    peer_uid, peer_gid = peer_ids()
    policy = tmp_path / "policy.toml"
    policy.write_text(
        'version = "peercred-t1"\n'
        '[acl."ops"]\n'
        'allowed_actions = ["echo"]\n'
        '[acl."peer-agent"]\n'
        "allowed_actions = []\n"
    )
    g = make_gate(
        'listen_uds_mode = "0666"\n'
        f'policy_file = "{policy}"\n'
        "[identity]\n"
        'provider = "peercred"\n'
        '[identity.peercred.principals."0"]\n'
        'principal = "ops"\n'
        'scopes = ["tools:call"]\n'
        f'[identity.peercred.principals."{peer_uid}"]\n'
        'principal = "peer-agent"\n'
        'scopes = ["tools:call"]\n'
    )
    traversable(g.dir)
    assert g.socket.parent.stat().st_mode & 0o777 == 0o711
    assert g.socket.stat().st_mode & 0o777 == 0o666
    admin = g.socket.parent / "gate-admin.sock"
    assert admin.stat().st_mode & 0o777 == 0o600
    script = tmp_path / "client.py"
    script.write_text(CLIENT)

    ops = call(g, script)
    assert ops["uid"] == 0
    assert ops["ok"] is True, ops
    assert ops["output"] == {"ok": True, "data": {"uid": 0}}
    assert ops["admin"] == "connected"

    peer = call(g, script, peer_uid, peer_gid)
    assert (peer["uid"], peer["euid"], peer["gid"], peer["egid"]) == (peer_uid,) * 2 + (peer_gid,) * 2
    assert peer["groups"] == []
    # The operator socket is the gate uid's (0600): the peer cannot reach it.
    assert peer["admin"] == "EACCES"
    # The lease is issued (the uid is mapped); the call is refused by the ACL.
    assert peer["ok"] is False and peer["stage"] == "execute", peer
    assert peer["exc"] == "LatchGateDenied"
    assert peer["reason"].startswith("policy_denied: "), peer
    assert "acl" in peer["reason"] and '"peer-agent"' in peer["reason"]

    events = g.audit()
    issued = {e["principal"]: e for e in events if e["event_type"] == "lease_issued"}
    assert set(issued) == {"ops", "peer-agent"}
    assert issued["peer-agent"]["session_id"] == peer["session_id"]
    assert issued["ops"]["session_id"] == ops["session_id"]
    ran = [e for e in events if e["event_type"] == "action_executed"]
    assert [(e["principal"], e["action_id"], e["policy_rule"]) for e in ran] == [("ops", "echo", "acl.allow")]
    assert ran[0]["policy_version"] == "peercred-t1"
    [denied] = [e for e in events if e["event_type"] == "action_denied"]
    assert denied["principal"] == "peer-agent"
    assert denied["action_id"] == "echo"
    assert denied["error"] == "policy_denied"
    assert denied["policy_rule"] == "acl.action"
    assert denied["policy_version"] == "peercred-t1"
    assert denied["session_id"] == issued["peer-agent"]["session_id"]


def test_peercred_unmapped_uid_refused(root, make_gate, tmp_path):
    g = make_gate(
        'listen_uds_mode = "0666"\n'
        "[identity]\n"
        'provider = "peercred"\n'
        '[identity.peercred.principals."0"]\n'
        'principal = "ops"\n'
        'scopes = ["tools:call"]\n'
    )
    traversable(g.dir)
    script = tmp_path / "client.py"
    script.write_text(CLIENT)

    out = call(g, script, NOBODY, NOBODY)
    assert out["uid"] == NOBODY
    # 403 identity_forbidden on POST /v1/leases: the SDK maps a 403 to
    # LatchGateDenied (action "<connect>").
    assert out["ok"] is False and out["stage"] == "connect", out
    assert out["exc"] == "LatchGateDenied"
    assert out["reason"] == "identity_forbidden"

    events = g.audit()
    assert [e["event_type"] for e in events] == ["lease_denied"]
    assert events[0]["principal"] == f"uid:{NOBODY}"
    assert events[0]["decision"] == "deny"
    assert events[0]["deny_reason"].startswith("identity_forbidden")
