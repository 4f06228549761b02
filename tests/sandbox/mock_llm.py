"""Host-side TLS mock of the Anthropic and OpenAI streaming APIs, for
tests/sandbox_routes.rs (the credential routes under a real sandbox).

    python3 mock_llm.py TLS_DIR RECORD_FILE

Keys it expects come from the environment (never argv, which other
processes can read): MOCK_ANTHROPIC_KEY (the `x-api-key` the proxy must
inject) and MOCK_OPENAI_KEY (`Authorization: Bearer <key>`).

Listens on 127.0.0.1 on a free port with TLS_DIR/server.pem (the test CA's
certificate, which names api.anthropic.com and api.openai.com) and prints
that port on one line once it accepts connections.

Serves, one thread per connection:
- POST /v1/messages with "stream": true: a real Anthropic SSE sequence
  (message_start, content_block_start, ping, content_block_delta x N,
  content_block_stop, message_delta, message_stop), chunked, each event
  flushed as it is written, PAUSE seconds between deltas;
- POST /v1/chat/completions with "stream": true: OpenAI chat.completion.chunk
  events then `data: [DONE]`, close-delimited (no length, no chunking);
- anything else: 404 JSON. A wrong key gets 401 JSON (recorded too).

Every request becomes one JSON line in RECORD_FILE, written before the
response's last event so a client that has the whole reply finds its record:
method, path, headers (any occurrence of a real key replaced by
"<REAL_KEY>", everything else verbatim, so the test can look for the session
token in it), which auth headers came, `real_key_matched`, the body, and the
CLOCK_MONOTONIC time each delta was sent (the sandbox shares the clock).
The real keys are never written anywhere.
"""

import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAUSE = 0.3
ANTHROPIC_TEXT = ["Hello", " from", " the", " mock", " Claude."]
OPENAI_TEXT = ["Hi", " from", " the", " mock", " GPT."]
AUTH_HEADERS = ("authorization", "x-api-key", "proxy-authorization", "x-latchgate-proxy-token")

KEYS = {
    "anthropic": os.environ.get("MOCK_ANTHROPIC_KEY", ""),
    "openai": os.environ.get("MOCK_OPENAI_KEY", ""),
}
RECORD_LOCK = threading.Lock()


def redact(value):
    for key in KEYS.values():
        if key:
            value = value.replace(key, "<REAL_KEY>")
    return value


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-llm"
    # TCP_NODELAY, as real API servers: each event leaves when written.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    # -- request side -------------------------------------------------------

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Trailer fields, then the empty line.
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def record(self, route, matched, body, sent, status):
        entry = {
            "method": self.command,
            "path": self.path,
            "route": route,
            "status": status,
            "headers": [[k, redact(v)] for k, v in self.headers.items()],
            "auth_headers": sorted({k.lower() for k in self.headers.keys() if k.lower() in AUTH_HEADERS}),
            "real_key_matched": matched,
            "body": redact(body.decode("utf-8", "replace")),
            "sent": sent,
        }
        line = json.dumps(entry) + "\n"
        with RECORD_LOCK:
            with open(self.server.record_path, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()

    # -- response side ------------------------------------------------------

    def json_reply(self, status, obj):
        b = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
        self.wfile.flush()

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self):
        body = self.read_body()
        if self.path == "/v1/messages":
            route = "anthropic"
            matched = bool(KEYS[route]) and self.headers.get("x-api-key") == KEYS[route]
        elif self.path == "/v1/chat/completions":
            route = "openai"
            matched = bool(KEYS[route]) and self.headers.get("Authorization") == "Bearer " + KEYS[route]
        else:
            self.record(None, False, body, [], 404)
            self.json_reply(404, {"error": {"type": "not_found_error", "message": "no such path"}})
            return
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            req = {}
        if not matched or req.get("stream") is not True:
            status = 401 if not matched else 400
            self.record(route, matched, body, [], status)
            self.json_reply(status, {"type": "error", "error": {"type": "mock_refused", "message": "bad key or no stream"}})
            return
        if route == "anthropic":
            self.stream_anthropic(body, req)
        else:
            self.stream_openai(body, req)

    def stream_anthropic(self, body, req):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", "req_mock_1")
        self.end_headers()

        def event(name, data):
            self.chunk(("event: %s\ndata: %s\n\n" % (name, json.dumps(data))).encode())

        model = req.get("model", "claude-mock")
        event("message_start", {"type": "message_start", "message": {
            "id": "msg_mock_1", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 1}}})
        event("content_block_start", {"type": "content_block_start", "index": 0,
                                      "content_block": {"type": "text", "text": ""}})
        event("ping", {"type": "ping"})
        sent = []
        for i, piece in enumerate(ANTHROPIC_TEXT):
            if i:
                time.sleep(PAUSE)
            event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                          "delta": {"type": "text_delta", "text": piece}})
            sent.append(time.monotonic())
        event("content_block_stop", {"type": "content_block_stop", "index": 0})
        event("message_delta", {"type": "message_delta",
                                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                "usage": {"output_tokens": len(ANTHROPIC_TEXT)}})
        self.record("anthropic", True, body, sent, 200)
        event("message_stop", {"type": "message_stop"})
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def stream_openai(self, body, req):
        # Close-delimited: HTTP/1.1 without a length or chunking ends at close.
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        model = req.get("model", "gpt-mock")

        def chunk_event(delta, finish=None):
            data = {"id": "chatcmpl-mock-1", "object": "chat.completion.chunk", "created": 1700000000,
                    "model": model, "system_fingerprint": None,
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            self.wfile.write(("data: %s\n\n" % json.dumps(data)).encode())
            self.wfile.flush()

        chunk_event({"role": "assistant", "content": ""})
        sent = []
        for i, piece in enumerate(OPENAI_TEXT):
            if i:
                time.sleep(PAUSE)
            chunk_event({"content": piece})
            sent.append(time.monotonic())
        chunk_event({}, "stop")
        self.record("openai", True, body, sent, 200)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def do_GET(self):
        self.record(None, False, b"", [], 404)
        self.json_reply(404, {"error": {"type": "not_found_error", "message": "no such path"}})


def main():
    tls_dir, record_path = sys.argv[1], sys.argv[2]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.record_path = record_path
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(tls_dir, "server.pem"), os.path.join(tls_dir, "server.key"))
    # The handshake runs on the connection's thread (first read), not in accept.
    server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
