//! `latchgate gateway` and `latchgate bridge` end to end, as seed 001 runs
//! them: a stock SDK (`anthropic`, `openai` from PyPI, in the repo's venv)
//! with `base_url=http://127.0.0.1:PORT` and the placeholder key
//! `gateway-injected` -> `latchgate bridge` (TCP -> Unix) -> `latchgate
//! gateway` -> a local TLS mock of the provider APIs (the test CA, names
//! mapped by `[egress.hosts]`). No socat anywhere.

mod common;

use common::{bin, scratch};
use latchgate::json::{self, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const ANTHROPIC_KEY: &str = "sk-ant-real-0b5e6c0ffee";
const OPENAI_KEY: &str = "sk-oai-real-7a11ce5eed";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Kills and reaps its process when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The TLS mock (tests/sandbox/mock_llm.py) and where it records.
struct Mock {
    _proc: Proc,
    port: u16,
    record: PathBuf,
}

fn mock(dir: &Path) -> Mock {
    let record = dir.join("mock-record.jsonl");
    let mut child = Command::new("python3")
        .arg(repo().join("tests/sandbox/mock_llm.py"))
        .arg(repo().join("tests/fixtures/tls"))
        .arg(&record)
        .env("MOCK_ANTHROPIC_KEY", ANTHROPIC_KEY)
        .env("MOCK_OPENAI_KEY", OPENAI_KEY)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 mock");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("mock port");
    Mock {
        _proc: Proc(child),
        port,
        record,
    }
}

fn mock_records(m: &Mock) -> Vec<Value> {
    std::fs::read_to_string(&m.record)
        .unwrap_or_default()
        .lines()
        .map(|l| json::parse(l.as_bytes()).unwrap())
        .collect()
}

/// latchgate.toml for the gateway: egress to the mock, plus `gateway`.
fn config(dir: &Path, m: &Mock, gateway: &str) -> PathBuf {
    let p = dir.join("latchgate.toml");
    std::fs::write(
        &p,
        format!(
            "data_dir = \"{data}\"\n[egress]\nca_file = \"{ca}\"\nallow_private = [\"127.0.0.0/8\"]\n\
             [egress.hosts]\n\"api.anthropic.com\" = \"127.0.0.1:{port}\"\n\"api.openai.com\" = \"127.0.0.1:{port}\"\n\
             [gateway]\n{gateway}\n",
            data = dir.join("data").display(),
            ca = repo().join("tests/fixtures/tls/ca.pem").display(),
            port = m.port,
        ),
    )
    .unwrap();
    p
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running gateway on `dir/run/gw.sock`.
struct Gw {
    proc: Proc,
    sock: PathBuf,
    ledger: PathBuf,
}

fn gateway(dir: &Path, cfg: &Path) -> Gw {
    let run = dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    let sock = run.join("gw.sock");
    let child = Command::new(bin())
        .args(["gateway", "--listen-unix"])
        .arg(&sock)
        .arg("--config")
        .arg(cfg)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        .env("OPENAI_API_KEY", OPENAI_KEY)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the gateway socket", Duration::from_secs(10), || {
        UnixStream::connect(&sock).is_ok()
    });
    Gw {
        proc: Proc(child),
        sock,
        ledger: dir.join("data/gateway-ledger"),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `latchgate bridge --listen 127.0.0.1:PORT --connect SOCK`, ready.
fn bridge(sock: &Path) -> (Proc, u16) {
    let port = free_port();
    let child = Command::new(bin())
        .args([
            "bridge",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--connect",
        ])
        .arg(sock)
        .spawn()
        .unwrap();
    wait_until("the bridge", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (Proc(child), port)
}

fn python() -> PathBuf {
    let p = repo().join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} missing: run scripts/bootstrap.sh (the SDKs are test requirements)",
        p.display()
    );
    p
}

fn sdk(mode: &str, port: u16, key: Option<&str>) -> Value {
    let mut c = Command::new(python());
    c.arg(repo().join("tests/gateway/sdk_client.py"))
        .arg(mode)
        .arg(format!("http://127.0.0.1:{port}"));
    if let Some(k) = key {
        c.arg(k);
    }
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "sdk_client {mode}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json::parse(stdout.trim().as_bytes()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn audit(ledger: &Path) -> Vec<Value> {
    let out = Command::new(bin())
        .args(["audit", "--json", "--limit", "100", "--ledger"])
        .arg(ledger)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json::parse(&out.stdout)
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(|x| x.as_str()).unwrap_or("")
}

fn n(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(|x| x.as_u64()).unwrap_or(0)
}

/// The SDK's deltas arrived one by one, as the mock paused between them.
fn assert_streamed(reply: &Value, expected_text: &str) {
    assert_eq!(s(reply, "text"), expected_text, "{}", reply.to_json());
    let times: Vec<f64> = reply
        .get("arrived")
        .and_then(|a| a.as_array())
        .unwrap()
        .iter()
        .filter_map(|t| t.as_f64())
        .collect();
    assert_eq!(times.len(), 5, "{}", reply.to_json());
    for w in times.windows(2) {
        assert!(
            w[1] - w[0] >= 0.2,
            "deltas arrived together (buffered): {times:?}"
        );
    }
}

/// The mock saw the real key, never the placeholder or another credential.
fn assert_real_key_only(m: &Mock, path: &str) {
    let recs = mock_records(m);
    let rec = recs
        .iter()
        .find(|r| s(r, "path") == path)
        .unwrap_or_else(|| panic!("the mock saw no {path}: {recs:?}"));
    assert_eq!(
        rec.get("real_key_matched").and_then(|b| b.as_bool()),
        Some(true),
        "{}",
        rec.to_json()
    );
    let text = rec.to_json();
    assert!(
        !text.contains("gateway-injected"),
        "placeholder forwarded: {text}"
    );
    assert!(!text.to_ascii_lowercase().contains("x-provider"), "{text}");
    let auth: Vec<&str> = rec
        .get("auth_headers")
        .and_then(|a| a.as_array())
        .unwrap()
        .iter()
        .filter_map(|h| h.as_str())
        .collect();
    assert_eq!(auth.len(), 1, "more than the injected credential: {auth:?}");
}

#[test]
fn sdks_through_bridge_and_gateway_get_the_real_key_and_stream() {
    let dir = scratch("gw-sdk");
    let m = mock(&dir);
    let cfg = config(&dir, &m, "");
    let gw = gateway(&dir, &cfg);
    let (_bridge, port) = bridge(&gw.sock);

    let reply = sdk("anthropic", port, None);
    assert_streamed(&reply, "Hello from the mock Claude.");
    assert_real_key_only(&m, "/v1/messages");

    let reply = sdk("openai", port, None);
    assert_streamed(&reply, "Hi from the mock GPT.");
    assert_real_key_only(&m, "/v1/chat/completions");

    // Each request is a ledger event: provider, model, status, bytes,
    // caller; never the key or a body.
    let events = audit(&gw.ledger);
    let me = format!("uid:{}", latchgate::sys::uid());
    for (provider, path, model) in [
        ("anthropic", "/v1/messages", "claude-sonnet-4-5"),
        ("openai", "/v1/chat/completions", "gpt-4o-mini"),
    ] {
        let e = events
            .iter()
            .find(|e| s(e, "provider") == provider)
            .unwrap_or_else(|| panic!("no {provider} event: {events:?}"));
        assert_eq!(s(e, "event_type"), "gateway_request");
        assert_eq!(s(e, "decision"), "allow");
        assert_eq!(s(e, "path"), path);
        assert_eq!(s(e, "model"), model);
        assert_eq!(s(e, "principal"), me);
        assert_eq!(n(e, "status"), 200);
        assert!(
            n(e, "bytes_up") > 0 && n(e, "bytes_down") > 0,
            "{}",
            e.to_json()
        );
        assert!(n(e, "duration_ms") >= 1000, "{}", e.to_json());
    }
    let all = Value::Array(events).to_json();
    assert!(!all.contains(ANTHROPIC_KEY) && !all.contains(OPENAI_KEY));
    assert!(!all.contains("Say hello"), "a body reached the ledger");
    let verify = Command::new(bin())
        .args(["verify", "--ledger"])
        .arg(&gw.ledger)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

/// One request over the gateway socket with curl; (status, body).
fn curl(sock: &Path, path: &str, headers: &[&str]) -> (u16, String) {
    let mut c = Command::new("curl");
    c.args(["-sS", "-o", "-", "-w", "\n%{http_code}", "--unix-socket"])
        .arg(sock)
        .arg(format!("http://gateway{path}"));
    for h in headers {
        c.args(["-H", h]);
    }
    c.args([
        "-H",
        "content-type: application/json",
        "--data",
        r#"{"model":"claude-sonnet-4-5","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
    ]);
    let out: Output = c.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn error_code(body: &str) -> String {
    let v = json::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{e}: {body}"));
    s(v.get("error").unwrap_or(&Value::Null), "code").to_string()
}

#[test]
fn callers_are_checked_by_uid_and_token() {
    let dir = scratch("gw-auth");
    let m = mock(&dir);
    // A peer uid that is not ours: everything is 403.
    let cfg = config(&dir, &m, "allowed_uids = [4242]");
    let gw = gateway(&dir, &cfg);
    let (status, body) = curl(&gw.sock, "/v1/messages", &["x-api-key: gateway-injected"]);
    assert_eq!(
        (status, error_code(&body).as_str()),
        (403, "peer_not_allowed"),
        "{body}"
    );
    drop(gw);

    // A bearer token: the SDK's api_key carries it; the placeholder is 401.
    let dir = scratch("gw-token");
    let token = "tok-".repeat(10);
    let tf = dir.join("gateway.token");
    std::fs::write(&tf, &token).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tf, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = config(&dir, &m, &format!("token_file = \"{}\"", tf.display()));
    let gw = gateway(&dir, &cfg);
    let (_bridge, port) = bridge(&gw.sock);
    let refused = sdk("anthropic", port, None);
    assert_eq!(n(&refused, "error_status"), 401, "{}", refused.to_json());
    assert!(s(&refused, "error_body").contains("unauthorized"));
    let reply = sdk("anthropic", port, Some(&token));
    assert_streamed(&reply, "Hello from the mock Claude.");
    // The token never goes upstream either.
    let recs = Value::Array(mock_records(&m)).to_json();
    assert!(!recs.contains(&token), "{recs}");
    let events = audit(&gw.ledger);
    assert!(events
        .iter()
        .any(|e| s(e, "decision") == "deny" && s(e, "deny_reason") == "unauthorized"));
}

/// A compact ES256 JWS over `claims`, signed with `key`.
fn es256_token(key: &latchgate::crypto::es256::KeyPair, kid: &str, claims: &Value) -> String {
    use latchgate::crypto::b64url;
    let header = latchgate::obj! { "alg" => "ES256", "typ" => "JWT", "kid" => kid };
    let input = format!(
        "{}.{}",
        b64url::encode(header.to_json().as_bytes()),
        b64url::encode(claims.to_json().as_bytes())
    );
    let sig = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64url::encode(&sig))
}

#[test]
fn signed_tokens_are_checked_for_issuer_audience_and_expiry() {
    let dir = scratch("gw-jwt");
    let m = mock(&dir);
    let key = latchgate::crypto::es256::KeyPair::generate().unwrap();
    let mut jwk = key.jwk();
    if let Some(o) = jwk.as_object_mut() {
        o.insert("kid", "issuer-1");
    }
    let jwks = latchgate::obj! { "keys" => vec![jwk] };
    std::fs::write(dir.join("issuer.jwks"), jwks.to_json()).unwrap();
    let cfg = config(
        &dir,
        &m,
        &format!(
            "[gateway.jwt]\nissuer = \"https://issuer.test\"\naudience = \"llm-gateway\"\njwks_file = \"{}\"\nleeway_secs = 5",
            dir.join("issuer.jwks").display()
        ),
    );
    let gw = gateway(&dir, &cfg);
    let now = latchgate::time::unix_now();
    let claims = |aud: &str, exp: i64| {
        latchgate::obj! { "iss" => "https://issuer.test", "aud" => aud, "exp" => exp, "sub" => "agent-7" }
    };
    let good = es256_token(&key, "issuer-1", &claims("llm-gateway", now + 300));
    let (status, body) = curl(&gw.sock, "/v1/messages", &[&format!("Txn-Token: {good}")]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("message_stop"), "{body}");
    for (token, code) in [
        (
            es256_token(&key, "issuer-1", &claims("other", now + 300)),
            "token_audience",
        ),
        (
            es256_token(&key, "issuer-1", &claims("llm-gateway", now - 60)),
            "token_expired",
        ),
        ("not.a.token".to_string(), "token_malformed"),
    ] {
        let (status, body) = curl(&gw.sock, "/v1/messages", &[&format!("x-api-key: {token}")]);
        assert_eq!((status, error_code(&body).as_str()), (401, code), "{body}");
    }
    let events = audit(&gw.ledger);
    let ok = events
        .iter()
        .find(|e| s(e, "decision") == "allow")
        .expect("the accepted call");
    assert_eq!(s(ok, "subject"), "agent-7");
    assert!(!Value::Array(events.clone()).to_json().contains(&good));
}

#[test]
fn sigterm_stops_accepting_and_lets_a_stream_finish() {
    let dir = scratch("gw-term");
    let m = mock(&dir);
    let cfg = config(&dir, &m, "");
    let mut gw = gateway(&dir, &cfg);
    // A streaming request in flight (the mock takes ~1.5 s).
    let mut conn = UnixStream::connect(&gw.sock).unwrap();
    let body = r#"{"model":"m","max_tokens":8,"stream":true,"messages":[]}"#;
    write!(
        conn,
        "POST /v1/messages HTTP/1.1\r\nHost: gw\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut first = [0u8; 12];
    conn.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    common::unsafe_free_kill(gw.proc.0.id(), "TERM");
    wait_until("the socket to go", Duration::from_secs(5), || {
        UnixStream::connect(&gw.sock).is_err()
    });
    let mut rest = String::new();
    conn.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("message_stop"), "the stream was cut: {rest}");
    let status = gw.proc.0.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(!gw.sock.exists());
    let verify = Command::new(bin())
        .args(["verify", "--ledger"])
        .arg(&gw.ledger)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

#[test]
fn bad_configuration_and_flags_are_named() {
    let dir = scratch("gw-bad");
    std::fs::write(
        dir.join("bad.toml"),
        format!(
            "data_dir = \"{}\"\n[gateway]\nsocket_mode = \"777x\"\ndefault_provider = \"nope\"\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(bin());
        c.arg("gateway")
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin");
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let sock = dir.join("gw.sock");
    let sock = sock.to_str().unwrap();
    let cfg = dir.join("bad.toml");
    let (code, err) = run(
        &["--listen-unix", sock, "--config", cfg.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("gateway.socket_mode") && err.contains("gateway.default_provider"),
        "{err}"
    );
    let (code, err) = run(&["--socket-mode", "0400"], &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--socket-mode"), "{err}");
    let (code, err) = run(&["--bogus"], &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--bogus"), "{err}");
    std::fs::write(
        dir.join("ok.toml"),
        format!("data_dir = \"{}\"\n", dir.join("data").display()),
    )
    .unwrap();
    let ok = dir.join("ok.toml");
    let (code, err) = run(&["--config", ok.to_str().unwrap()], &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--listen-unix: required"), "{err}");
    // No provider key at all: refuses to start rather than 503 everything.
    let (code, err) = run(
        &["--listen-unix", sock, "--config", ok.to_str().unwrap()],
        &[],
    );
    assert_ne!(code, Some(0));
    assert!(err.contains("no provider key resolved"), "{err}");
}
