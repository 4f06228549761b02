//! Issue 5: `latchgate-mcp serve` against the real gate, driven over its
//! stdio like an IDE does: version negotiation, the tool list, calls that
//! succeed, are denied or wait for an approval, malformed input, a gate
//! that restarts or goes away, TCP with the gate's advertised base URL,
//! list_changed when the gate comes up late, and the startup time.

mod common;

use common::upstream::Upstream;
use common::{Gate, Opts};
use latchgate::json::{self, Value};
use latchgate::obj;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// A running `latchgate-mcp serve`.
struct Mcp {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<String>,
    /// Messages read while waiting for something else (notifications).
    seen: Vec<Value>,
    log: PathBuf,
    next_id: i64,
}

impl Mcp {
    /// Spawns `latchgate-mcp serve ARGS` in `dir` with a clean environment
    /// for the variables it reads, plus `envs`.
    fn spawn(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Mcp {
        let log = dir.join(format!("mcp-{}.log", latchgate::crypto::uuid::v4()));
        let mut cmd = Command::new(common::mcp_bin());
        cmd.arg("serve").args(args).current_dir(dir);
        for v in [
            "LATCHGATE_URL",
            "LATCHGATE_SOCKET",
            "LATCHGATE_PUBLIC_URL",
            "LATCHGATE_AGENT_ID",
        ] {
            cmd.env_remove(v);
        }
        cmd.env("RUST_LOG", "debug");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
        let mut child = cmd.spawn().expect("spawn latchgate-mcp");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut line = String::new();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Mcp {
            child,
            stdin: Some(stdin),
            rx,
            seen: Vec::new(),
            log,
            next_id: 100,
        }
    }

    /// The server's stderr so far.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn send_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    fn send_line(&mut self, line: &str) {
        self.send_bytes(format!("{line}\n").as_bytes());
    }

    /// The next message; every stdout line must be one JSON-RPC message.
    fn next(&mut self, timeout: Duration) -> Option<Value> {
        match self.rx.recv_timeout(timeout) {
            Ok(line) => {
                let v = json::parse(line.trim_end().as_bytes())
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line:?}"));
                assert_eq!(
                    v.get("jsonrpc").and_then(Value::as_str),
                    Some("2.0"),
                    "{line}"
                );
                Some(v)
            }
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                panic!("latchgate-mcp closed stdout; log:\n{}", self.log())
            }
        }
    }

    /// The first message matching `pred` within `timeout`; others are kept.
    fn wait_for(&mut self, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.seen.iter().position(&pred) {
            return self.seen.remove(i);
        }
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.next(left) {
                Some(v) if pred(&v) => return v,
                Some(v) => self.seen.push(v),
                None => panic!(
                    "no {what} within {timeout:?}; seen {:?}; log:\n{}",
                    self.seen,
                    self.log()
                ),
            }
        }
    }

    /// The answer to request `id`.
    fn answer(&mut self, id: &Value, timeout: Duration) -> Value {
        let id = id.clone();
        self.wait_for(&format!("answer to {}", id.to_json()), timeout, move |m| {
            m.get("id") == Some(&id) && m.get("method").is_none()
        })
    }

    /// Sends a request and returns its id.
    fn start(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = Value::from(self.next_id);
        let msg =
            obj! { "jsonrpc" => "2.0", "id" => id.clone(), "method" => method, "params" => params };
        self.send_line(&msg.to_json());
        id
    }

    /// A request and its answer (within 30 s).
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.start(method, params);
        self.answer(&id, Duration::from_secs(30))
    }

    /// The `result` of a request (panics on a JSON-RPC error).
    fn result(&mut self, method: &str, params: Value) -> Value {
        let a = self.call(method, params);
        a.get("result")
            .cloned()
            .unwrap_or_else(|| panic!("{method}: {}", a.to_json()))
    }

    /// initialize + notifications/initialized; returns the result.
    fn initialize(&mut self, version: &str) -> Value {
        let r = self.result(
            "initialize",
            obj! {
                "protocolVersion" => version,
                "capabilities" => obj! {},
                "clientInfo" => obj! { "name" => "mcp_serve test", "version" => "1" },
            },
        );
        self.send_line(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        r
    }

    /// tools/call; returns (text, isError).
    fn tool(&mut self, name: &str, arguments: Value) -> (String, bool) {
        let r = self.result(
            "tools/call",
            obj! { "name" => name, "arguments" => arguments },
        );
        tool_text(&r)
    }
}

impl Drop for Mcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (text, isError) of a tool result.
fn tool_text(result: &Value) -> (String, bool) {
    let content = result.get("content").and_then(Value::as_array).unwrap();
    assert_eq!(content.len(), 1, "{}", result.to_json());
    assert_eq!(content[0].get("type").and_then(Value::as_str), Some("text"));
    let text = content[0].get("text").and_then(Value::as_str).unwrap();
    let is_error = result.get("isError").and_then(Value::as_bool).unwrap();
    (text.to_string(), is_error)
}

/// The JSON of an error result's text.
fn error_json(text: &str) -> Value {
    json::parse(text.as_bytes()).unwrap_or_else(|e| panic!("error text is not JSON ({e}): {text}"))
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// The receipt id at the end of a success text.
fn receipt_id(text: &str) -> String {
    let start = text
        .find("[receipt_id: ")
        .unwrap_or_else(|| panic!("no receipt id in {text:?}"))
        + "[receipt_id: ".len();
    let end = start + text[start..].find(']').unwrap();
    let id = text[start..end].to_string();
    assert_eq!(id.len(), 36, "{text}");
    id
}

fn socket_args(gate: &Gate) -> Vec<String> {
    vec!["--gate-socket".into(), gate.socket.display().to_string()]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn manifests() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/manifests")
}

#[test]
fn initialize_negotiates_and_tools_list_is_fast() {
    let gate = Gate::start("mcp-init");
    let args = socket_args(&gate);
    for (asked, answered) in [
        ("2024-11-05", "2024-11-05"),
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("1999-01-01", "2025-06-18"),
    ] {
        let mut m = Mcp::spawn(&gate.dir, &strs(&args), &[]);
        let r = m.initialize(asked);
        assert_eq!(s(&r, "protocolVersion"), answered);
        let caps = r.get("capabilities").unwrap();
        assert_eq!(
            caps.get("tools").unwrap().to_json(),
            r#"{"listChanged":true}"#
        );
        assert!(caps.get("resources").is_some());
        assert_eq!(s(r.get("serverInfo").unwrap(), "name"), "latchgate-mcp");
        assert_eq!(m.result("ping", obj! {}).to_json(), "{}");
    }

    // The gate's side: GET /v1/tools, with its digest as ETag.
    let r = gate.request("GET", "/v1/tools", &[], b"");
    assert_eq!(r.status, 200);
    let body = r.json();
    let digest = s(&body, "catalog_digest").to_string();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    assert_eq!(s(&body, "public_base_url"), "http://localhost:3000");
    let etag = r
        .headers
        .iter()
        .find(|(k, _)| k == "etag")
        .unwrap()
        .1
        .clone();
    assert_eq!(etag, format!("\"{digest}\""));
    let again = gate.request("GET", "/v1/tools", &[("If-None-Match", etag.clone())], b"");
    assert_eq!((again.status, again.body.len()), (304, 0));
    let stale = gate.request(
        "GET",
        "/v1/tools",
        &[("If-None-Match", "\"sha256:0\"".into())],
        b"",
    );
    assert_eq!(stale.status, 200);
    assert_eq!(stale.json(), body);

    // tools/list: one tool per action, http_fetch with schema and annotations.
    let mut m = Mcp::spawn(&gate.dir, &strs(&args), &[]);
    m.initialize("2025-06-18");
    let tools = m.result("tools/list", obj! {});
    let tools = tools
        .get("tools")
        .and_then(Value::as_array)
        .unwrap()
        .clone();
    let actions = gate.request("GET", "/v1/actions", &[], b"").json();
    assert_eq!(
        tools.len(),
        actions.get("actions").unwrap().as_array().unwrap().len()
    );
    let fetch = tools
        .iter()
        .find(|t| s(t, "name") == "http_fetch")
        .expect("http_fetch is a tool");
    assert!(
        s(fetch, "description").contains(
            "LatchGate protected action (version 1.0.0, risk: low). Execution is authorized, audited, and verified by LatchGate."
        ),
        "{}",
        fetch.to_json()
    );
    let schema = fetch.get("inputSchema").unwrap();
    assert_eq!(s(schema, "type"), "object");
    assert!(
        schema
            .get("properties")
            .and_then(|p| p.get("url"))
            .is_some(),
        "{}",
        schema.to_json()
    );
    assert_eq!(
        fetch.get("annotations").unwrap().to_json(),
        r#"{"readOnlyHint":true,"destructiveHint":false,"openWorldHint":true}"#
    );
    let delete = tools.iter().find(|t| s(t, "name") == "fs_delete").unwrap();
    let a = delete.get("annotations").unwrap();
    assert_eq!(
        a.get("destructiveHint").and_then(Value::as_bool),
        Some(true)
    );
    assert_eq!(a.get("openWorldHint").and_then(Value::as_bool), Some(false));

    // Resources.
    let list = m.result("resources/list", obj! {});
    assert_eq!(list.get("resources").unwrap().as_array().unwrap().len(), 2);
    let status = m.result("resources/read", obj! { "uri" => "latchgate://status" });
    let text = s(
        &status.get("contents").unwrap().as_array().unwrap()[0],
        "text",
    )
    .to_string();
    let status = json::parse(text.as_bytes()).unwrap();
    assert_eq!(
        status.get("gate_healthy").and_then(Value::as_bool),
        Some(true)
    );
    assert_eq!(s(&status, "protocol_version"), "2025-06-18");
    drop(m);

    // Startup: spawn until initialize and tools/list are both answered.
    let mut times = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        let mut m = Mcp::spawn(&gate.dir, &strs(&args), &[]);
        m.send_line(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#);
        m.send_line(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        m.send_line(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#);
        let r = m.answer(&Value::from(2), Duration::from_secs(10));
        times.push(started.elapsed());
        assert!(!r
            .get("result")
            .unwrap()
            .get("tools")
            .unwrap()
            .as_array()
            .unwrap()
            .is_empty());
    }
    times.sort();
    let (min, median) = (times[0], times[times.len() / 2]);
    eprintln!("latchgate-mcp startup (spawn -> initialize + tools/list answered): min {min:?}, median {median:?}");
    assert!(median < Duration::from_millis(200), "median {median:?}");
}

#[test]
fn calls_succeed_are_denied_and_wait_for_approval() {
    let up = Upstream::start();
    let dir = common::scratch("mcp-calls");
    // Everything but echo: echo is denied by the ACL.
    std::fs::write(
        dir.join("policy.toml"),
        "version = \"mcp\"\n[acl.\"*\"]\nallowed_actions = [\"http_fetch\", \"echo_high\"]\nallowed_side_effects = [\"*\"]\n",
    )
    .unwrap();
    let gate = Gate::start_with(
        "mcp-calls",
        Opts {
            dir: Some(dir.clone()),
            extra: format!(
                "manifests_dir = \"{}\"\npolicy_file = \"{}\"\n",
                manifests().display(),
                dir.join("policy.toml").display()
            ),
            hosts: vec![("httpbin.org".into(), "127.0.0.1".into())],
            ..Opts::default()
        },
    );
    let mut m = Mcp::spawn(
        &gate.dir,
        &strs(&socket_args(&gate)),
        &[("LATCHGATE_AGENT_ID", "mcp-test")],
    );
    m.initialize("2025-06-18");

    // Allowed: through the gate to the local upstream, with a receipt.
    let url = format!("https://httpbin.org:{}/get", up.port);
    let (text, is_error) = m.tool("http_fetch", obj! { "url" => url.as_str() });
    assert!(!is_error, "{text}");
    assert!(text.contains("\"status_code\": 200"), "{text}");
    let receipt = receipt_id(&text);
    assert_eq!(up.hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    let events = common::audit_events(&gate, 1);
    assert_eq!(
        s(&events[0], "receipt_id"),
        receipt,
        "{}",
        events[0].to_json()
    );
    // LATCHGATE_AGENT_ID names the agent in the ledger (self-reported metadata).
    assert_eq!(
        s(&events[0], "agent_id"),
        "mcp-test",
        "{}",
        events[0].to_json()
    );

    // Denied by policy: an error result with the reference's code.
    let (text, is_error) = m.tool("echo", obj! { "msg" => "hi" });
    assert!(is_error, "{text}");
    let e = error_json(&text);
    assert_eq!(s(&e, "code"), "policy_denied", "{text}");
    assert_eq!(s(&e, "action_id"), "echo");
    assert!(
        !s(&e, "message").is_empty() && !s(&e, "remediation").is_empty(),
        "{text}"
    );

    // Schema violation and unknown action.
    let (text, is_error) = m.tool("http_fetch", obj! { "nope" => 1 });
    assert!(is_error);
    assert_eq!(s(&error_json(&text), "code"), "schema_validation", "{text}");
    let (text, _) = m.tool("no_such_action", obj! {});
    assert_eq!(s(&error_json(&text), "code"), "action_not_found", "{text}");

    // Held: progress while it waits, ping answered meanwhile, then the
    // operator approves and the call completes with the receipt.
    let held = m.start(
        "tools/call",
        obj! {
            "name" => "echo_high",
            "arguments" => obj! { "msg" => "held" },
            "_meta" => obj! { "progressToken" => "tok-1" },
        },
    );
    let first = m.wait_for("a progress notification", Duration::from_secs(10), |v| {
        s(v, "method") == "notifications/progress"
    });
    let p = first.get("params").unwrap();
    assert_eq!(s(p, "progressToken"), "tok-1");
    assert_eq!(p.get("progress").and_then(Value::as_i64), Some(1));
    let pending = gate
        .admin("GET", "/v1/approvals?status=pending", b"")
        .json();
    let approvals = pending.get("approvals").unwrap().as_array().unwrap();
    assert_eq!(approvals.len(), 1, "{}", pending.to_json());
    let approval_id = s(&approvals[0], "approval_id").to_string();
    assert!(s(p, "message").contains(&approval_id), "{}", p.to_json());
    // The reader thread is free: ping is answered while the call waits.
    let t = Instant::now();
    assert_eq!(m.result("ping", obj! {}).to_json(), "{}");
    assert!(t.elapsed() < Duration::from_secs(1));
    // A second progress notification comes from the first poll.
    let second = m.wait_for(
        "a second progress notification",
        Duration::from_secs(10),
        |v| s(v, "method") == "notifications/progress",
    );
    assert_eq!(
        second
            .get("params")
            .unwrap()
            .get("progress")
            .and_then(Value::as_i64),
        Some(2)
    );
    let r = gate.admin("POST", &format!("/v1/approvals/{approval_id}/approve"), b"");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let approved_receipt = s(&r.json(), "receipt_id").to_string();
    let a = m.answer(&held, Duration::from_secs(15));
    let (text, is_error) = tool_text(a.get("result").unwrap());
    assert!(!is_error, "{text}");
    assert_eq!(receipt_id(&text), approved_receipt);
    assert!(text.contains(&approval_id));

    // A held call that nobody decides: the timeout names the approval.
    let mut quick = Mcp::spawn(
        &gate.dir,
        &[
            "--gate-socket",
            &gate.socket.display().to_string(),
            "--approval-timeout",
            "1",
        ],
        &[],
    );
    quick.initialize("2024-11-05");
    let (text, is_error) = quick.tool("echo_high", obj! { "msg" => "late" });
    assert!(is_error);
    let e = error_json(&text);
    assert_eq!(s(&e, "code"), "pending_approval", "{text}");
    let id = s(&e, "approval_id");
    assert_eq!(id.len(), 36, "{text}");
    assert!(
        s(&e, "message").contains(&format!("latchgate approvals approve {id}")),
        "{text}"
    );

    // The adapter names itself on its requests and in its log.
    assert!(m.log().contains("mcp-test"), "{}", m.log());
}

#[test]
fn malformed_input_gets_error_codes_and_never_stops_the_server() {
    let dir = common::scratch("mcp-bad");
    let sock = dir.join("no-gate.sock");
    let mut m = Mcp::spawn(&dir, &["--gate-socket", &sock.display().to_string()], &[]);
    m.initialize("2025-06-18");
    let code = |a: &Value| {
        a.get("error")
            .and_then(|e| e.get("code"))
            .and_then(Value::as_i64)
    };
    let null_id = |m: &mut Mcp| {
        m.wait_for("an error with a null id", Duration::from_secs(5), |v| {
            v.get("id").is_some_and(Value::is_null)
        })
    };

    m.send_line("this is not json");
    assert_eq!(code(&null_id(&mut m)), Some(-32700));
    m.send_line(r#"{"jsonrpc":"2.0","id":1,"method":"ping""#);
    assert_eq!(code(&null_id(&mut m)), Some(-32700));
    m.send_line(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#);
    assert_eq!(code(&null_id(&mut m)), Some(-32600));
    m.send_line(r#"{"jsonrpc":"1.0","id":5,"method":"ping"}"#);
    assert_eq!(
        code(&m.answer(&Value::from(5), Duration::from_secs(5))),
        Some(-32600)
    );
    m.send_line(r#"{"id":6,"method":"ping"}"#);
    assert_eq!(
        code(&m.answer(&Value::from(6), Duration::from_secs(5))),
        Some(-32600)
    );
    m.send_line(r#"{"jsonrpc":"2.0","id":7,"method":"no/such/method"}"#);
    assert_eq!(
        code(&m.answer(&Value::from(7), Duration::from_secs(5))),
        Some(-32601)
    );
    m.send_line(r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo","arguments":"x"}}"#);
    assert_eq!(
        code(&m.answer(&Value::from(8), Duration::from_secs(5))),
        Some(-32602)
    );
    m.send_line(r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":[1]}"#);
    assert_eq!(
        code(&m.answer(&Value::from(9), Duration::from_secs(5))),
        Some(-32602)
    );
    m.send_line(
        r#"{"jsonrpc":"2.0","id":10,"method":"initialize","params":{"protocolVersion":7}}"#,
    );
    assert_eq!(
        code(&m.answer(&Value::from(10), Duration::from_secs(5))),
        Some(-32602)
    );
    m.send_line(r#"{"jsonrpc":"2.0","id":11,"method":"resources/read","params":{"uri":"latchgate://nope"}}"#);
    assert_eq!(
        code(&m.answer(&Value::from(11), Duration::from_secs(5))),
        Some(-32002)
    );
    // A notification never gets an answer, even an unknown one.
    m.send_line(r#"{"jsonrpc":"2.0","method":"notifications/whatever"}"#);
    // Over 4 MiB in one line: refused, skipped whole, and the next line works.
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":12,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(4 * 1024 * 1024)
    );
    m.send_line(&big);
    assert_eq!(code(&null_id(&mut m)), Some(-32600));
    // Invalid UTF-8.
    m.send_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"\xff\"}\n");
    assert_eq!(code(&null_id(&mut m)), Some(-32700));
    let pong = m.call("ping", obj! {});
    assert_eq!(pong.get("result").unwrap().to_json(), "{}");
    assert!(m.seen.is_empty(), "unexpected messages: {:?}", m.seen);

    // End of input: exit 0.
    drop(m.stdin.take());
    let end = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(st) = m.child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < end, "no exit after EOF");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn survives_gate_restart_and_gate_down_and_announces_a_late_gate() {
    let dir = common::scratch("mcp-restart");
    let socket = dir.join("run/gate.sock");
    let url = format!("unix://{}", socket.display());
    // Started before the gate, through LATCHGATE_URL as the sandbox sets it.
    let mut m = Mcp::spawn(
        &dir,
        &["--catalog-interval", "1"],
        &[("LATCHGATE_URL", url.as_str())],
    );
    m.initialize("2025-03-26");
    let tools = m.result("tools/list", obj! {});
    assert_eq!(tools.to_json(), r#"{"tools":[]}"#);
    let (text, is_error) = m.tool("echo", obj! { "msg" => "x" });
    assert!(is_error);
    assert_eq!(s(&error_json(&text), "code"), "gate_unavailable", "{text}");

    // The gate comes up: list_changed, then the tools are there.
    let mut gate = Gate::start_with(
        "mcp-restart",
        Opts {
            dir: Some(dir.clone()),
            ..Opts::default()
        },
    );
    m.wait_for("tools/list_changed", Duration::from_secs(10), |v| {
        s(v, "method") == "notifications/tools/list_changed"
    });
    let tools = m.result("tools/list", obj! {});
    assert!(tools.get("tools").unwrap().as_array().unwrap().len() > 10);

    let (text, is_error) = m.tool("echo", obj! { "msg" => "one" });
    assert!(!is_error, "{text}");
    receipt_id(&text);
    let session = |m: &mut Mcp| {
        let r = m.result("resources/read", obj! { "uri" => "latchgate://status" });
        let text = s(&r.get("contents").unwrap().as_array().unwrap()[0], "text").to_string();
        s(&json::parse(text.as_bytes()).unwrap(), "session_id").to_string()
    };
    let first_session = session(&mut m);
    assert_eq!(first_session.len(), 36);

    // Restart: the old lease dies with the gate's issuer key.
    assert_eq!(gate.stop(), 0);
    gate.spawn();
    let (text, is_error) = m.tool("echo", obj! { "msg" => "two" });
    assert!(!is_error, "{text}\nlog:\n{}", m.log());
    receipt_id(&text);
    assert_ne!(session(&mut m), first_session);
    assert!(m.log().contains("leasing again"), "{}", m.log());

    // Gate down: an error result, and the server keeps answering.
    assert_eq!(gate.stop(), 0);
    let (text, is_error) = m.tool("echo", obj! { "msg" => "three" });
    assert!(is_error);
    let e = error_json(&text);
    assert_eq!(s(&e, "code"), "gate_unavailable", "{text}");
    assert!(
        s(&e, "message").contains(&socket.display().to_string()),
        "{text}"
    );
    assert_eq!(m.result("ping", obj! {}).to_json(), "{}");
    let tools = m.result("tools/list", obj! {});
    assert!(
        !tools.get("tools").unwrap().as_array().unwrap().is_empty(),
        "cached tools while down"
    );

    // And back again.
    gate.spawn();
    let (text, is_error) = m.tool("echo", obj! { "msg" => "four" });
    assert!(!is_error, "{text}");
}

#[test]
fn tcp_uses_the_base_url_the_gate_advertises() {
    let gate = Gate::start_with(
        "mcp-tcp",
        Opts {
            tcp: true,
            ..Opts::default()
        },
    );
    let addr = gate.tcp.clone().unwrap();
    let port = addr.rsplit_once(':').unwrap().1;
    // The gate's public_base_url is http://127.0.0.1:PORT; the client names
    // it localhost, as the seed's example does.
    let url = format!("http://localhost:{port}");
    let mut m = Mcp::spawn(&gate.dir, &["--gate-url", &url], &[]);
    m.initialize("2025-06-18");
    let (text, is_error) = m.tool("echo", obj! { "msg" => "tcp" });
    assert!(!is_error, "{text}\nlog:\n{}", m.log());
    receipt_id(&text);
}
