"""What runs inside `latchgate sandbox` for tests/sandbox_routes.rs, with
only the environment the sandbox gives it. Prints one JSON object.

    python sdk_agent.py anthropic|openai|tokens [--scan DIR] [--site DIR]

- anthropic: the `anthropic` SDK, `anthropic.Anthropic()` without arguments
  (ANTHROPIC_BASE_URL is the route, ANTHROPIC_API_KEY the session token),
  streams /v1/messages and notes the CLOCK_MONOTONIC time each text delta
  arrives.
- openai: the same with the `openai` SDK, `OpenAI()` and a streaming
  chat.completions call (OPENAI_BASE_URL, OPENAI_API_KEY).
- tokens: plain urllib against the anthropic route without a token, with
  wrong ones, to an unknown route, then once with the right token.

With --scan DIR, after the call: copies every readable /proc/*/environ and
every readable memory region of every process it may read (/proc/PID/maps +
/proc/PID/mem, its own included) into DIR. The test searches those copies
and the whole workspace on the host for the real keys; the agent never
knows them, so nothing here could put them there.

--site DIR adds the venv's site-packages when the test runs this with the
system python of the same version (a venv whose base interpreter the
agent's user cannot reach, e.g. a pyenv under /root).
"""

import json
import os
import sys
import time

MODEL_PROMPT = [{"role": "user", "content": "Say hello."}]


def env_report():
    token = os.environ.get("LATCHGATE_PROXY_TOKEN")
    return {
        "token": token,
        "env": {k: v for k, v in os.environ.items() if k.endswith(("_BASE_URL", "_API_KEY", "PROXY", "proxy"))},
    }


def run_anthropic():
    import anthropic

    client = anthropic.Anthropic()
    deltas, arrived, kinds = [], [], []
    stream = client.messages.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=MODEL_PROMPT, stream=True
    )
    for event in stream:
        kinds.append(event.type)
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            arrived.append(time.monotonic())
            deltas.append(event.delta.text)
    return {"text": "".join(deltas), "arrived": arrived, "events": kinds, "sdk": anthropic.__version__}


def run_openai():
    import openai

    client = openai.OpenAI()
    deltas, arrived, finish = [], [], None
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MODEL_PROMPT, stream=True)
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        if choice.delta.content:
            arrived.append(time.monotonic())
            deltas.append(choice.delta.content)
        if choice.finish_reason:
            finish = choice.finish_reason
    return {"text": "".join(deltas), "arrived": arrived, "finish": finish, "sdk": openai.__version__}


def run_tokens():
    import urllib.error
    import urllib.request

    base = os.environ["ANTHROPIC_BASE_URL"]
    token = os.environ["LATCHGATE_PROXY_TOKEN"]
    # Same length, one character changed: not a length check.
    wrong = ("0" if token[0] != "0" else "1") + token[1:]
    proxy = base.rsplit("/", 1)[0]
    # Straight to the route, whatever the proxy variables say.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    body = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": MODEL_PROMPT, "stream": True}).encode()

    def call(url, headers):
        h = {"content-type": "application/json", "anthropic-version": "2023-06-01"}
        h.update(headers)
        req = urllib.request.Request(url, data=body, headers=h, method="POST")
        try:
            with opener.open(req, timeout=15) as r:
                status, ctype, data = r.status, r.headers.get("content-type"), r.read()
        except urllib.error.HTTPError as e:
            status, ctype, data = e.code, e.headers.get("content-type"), e.read()
        out = {"status": status, "content_type": ctype, "raw": data.decode("utf-8", "replace")[:2000]}
        try:
            out["json"] = json.loads(data)
        except ValueError:
            out["json"] = None
        return out

    msgs = base + "/v1/messages"
    return {
        "cases": {
            "no_token": call(msgs, {}),
            "wrong_x_api_key": call(msgs, {"x-api-key": wrong}),
            "wrong_bearer": call(msgs, {"Authorization": "Bearer " + wrong}),
            "wrong_proxy_header": call(msgs, {"X-LatchGate-Proxy-Token": wrong}),
            "token_prefix": call(msgs, {"x-api-key": token[:-1]}),
            "unknown_route": call(proxy + "/nosuchroute/x", {"X-LatchGate-Proxy-Token": token}),
            # Last, so the mock seeing exactly one request proves it was reachable.
            "right_token": call(msgs, {"X-LatchGate-Proxy-Token": token}),
        }
    }


def regions(pid):
    """(start, end) of the readable mappings of a process."""
    out = []
    with open("/proc/%s/maps" % pid) as f:
        for line in f:
            parts = line.split()
            start, end = (int(x, 16) for x in parts[0].split("-"))
            if parts[1][0] == "r" and start < 2**63:
                out.append((start, end))
    return out


def dump_memory(pid, path):
    """Copies every readable region of `pid` into `path`: (bytes, regions skipped)."""
    total, skipped = 0, 0
    with open("/proc/%s/mem" % pid, "rb", 0) as mem, open(path, "wb") as out:
        for start, end in regions(pid):
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except (OSError, OverflowError, ValueError):
                skipped += 1  # [vvar] and the like: not readable through mem
                continue
            out.write(data)
            total += len(data)
            del data
    return total, skipped


def scan(outdir):
    os.makedirs(outdir, exist_ok=True)
    me = str(os.getpid())
    report = {"self": me, "environ": {}, "memory": {}}
    for pid in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int):
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                data = f.read()
            with open(os.path.join(outdir, "environ-%s" % pid), "wb") as f:
                f.write(data)
            report["environ"][pid] = len(data)
        except OSError as e:
            report["environ"][pid] = "unreadable: %s" % e.strerror
        try:
            total, skipped = dump_memory(pid, os.path.join(outdir, "mem-%s" % pid))
            report["memory"][pid] = {"bytes": total, "skipped": skipped}
        except OSError as e:
            report["memory"][pid] = "unreadable: %s" % e.strerror
            try:
                os.remove(os.path.join(outdir, "mem-%s" % pid))
            except OSError:
                pass
    return report


def main():
    mode = sys.argv[1]
    opts = dict(zip(sys.argv[2::2], sys.argv[3::2]))
    if "--site" in opts:
        import site

        site.addsitedir(opts["--site"])
    result = {"mode": mode}
    result.update(env_report())
    try:
        if mode == "anthropic":
            result.update(run_anthropic())
        elif mode == "openai":
            result.update(run_openai())
        elif mode == "tokens":
            result.update(run_tokens())
        else:
            raise SystemExit("unknown mode " + mode)
    except Exception as e:  # reported, so the test shows what went wrong
        result["error"] = "%s: %s" % (type(e).__name__, e)
    if "--scan" in opts:
        result["scan"] = scan(opts["--scan"])
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
