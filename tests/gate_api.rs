//! The client API against the real binary: health, leases, discovery,
//! execute, receipts, and what the ledger records.

mod common;
use common::{audit_events, Agent, Gate};
use latchgate::json::Value;
use latchgate::obj;

#[test]
fn health_discovery_and_lease_shapes() {
    let gate = Gate::start("api");
    let r = gate.request("GET", "/healthz", &[], b"");
    assert_eq!(
        (r.status, r.json().to_json()),
        (200, r#"{"status":"ok"}"#.to_string())
    );
    let r = gate.request("GET", "/readyz", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json().get("status").and_then(Value::as_str),
        Some("ready")
    );

    let list = gate.request("GET", "/v1/actions", &[], b"").json();
    let ids: Vec<&str> = list
        .get("actions")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.get("action_id").and_then(Value::as_str).unwrap())
        .collect();
    assert!(
        ids.contains(&"http_fetch") && ids.contains(&"echo"),
        "{ids:?}"
    );

    let d = gate
        .request("GET", "/v1/actions/http_fetch", &[], b"")
        .json();
    assert!(d
        .get("provider_module_digest")
        .and_then(Value::as_str)
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(d.get("risk_level").and_then(Value::as_str), Some("low"));
    let domains = d
        .get("egress")
        .and_then(|e| e.get("proxy_allowlist"))
        .and_then(|p| p.get("allowed_domains"))
        .unwrap();
    assert!(domains
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x.as_str() == Some("httpbin.org")));
    let s = gate
        .request("GET", "/v1/actions/http_fetch/schema/request", &[], b"")
        .json();
    assert!(s.get("properties").and_then(|p| p.get("url")).is_some());
    // Unknown ids: 404 with a JSON error code.
    for path in ["/v1/actions/nope", "/v1/actions/nope/schema/request"] {
        let r = gate.request("GET", path, &[], b"");
        assert_eq!(
            (r.status, r.code()),
            (404, "action_not_found".to_string()),
            "{path}"
        );
    }
    let r = gate.request("GET", "/v1/nothing", &[], b"");
    assert_eq!((r.status, r.code()), (404, "not_found".to_string()));
    let r = gate.request("DELETE", "/v1/actions", &[], b"");
    assert_eq!(
        (r.status, r.code()),
        (405, "method_not_allowed".to_string())
    );

    // Lease shape.
    let key = latchgate::crypto::es256::KeyPair::generate().unwrap();
    let body = obj! { "scopes" => vec![Value::from("tools:call")], "dpop_jwk" => key.jwk() };
    let r = gate.request("POST", "/v1/leases", &[], body.to_json().as_bytes());
    assert_eq!(r.status, 200);
    let v = r.json();
    for k in ["lease_jwt", "session_id", "lease_jti", "expires_at"] {
        assert!(v.get(k).and_then(Value::as_str).is_some(), "missing {k}");
    }
    assert!(v
        .get("expires_at")
        .and_then(Value::as_str)
        .unwrap()
        .ends_with('Z'));

    // Bad lease requests: clear JSON errors naming the field.
    let bad = [
        (r#"{"scopes":[],"dpop_jwk":{}}"#, 400),
        (r#"{"scopes":["tools:call"],"dpop_jwk":{"kty":"RSA"}}"#, 400),
        (
            r#"{"scopes":["tools:call"],"dpop_jwk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}}"#,
            400,
        ),
        // Unknown fields and wrong types: 422, as the reference's typed decoder.
        (
            r#"{"scopes":["tools:call"],"dpop_jwk":{},"agent_id":"x"}"#,
            422,
        ),
        ("not json", 400),
    ];
    for (b, want) in bad {
        let r = gate.request("POST", "/v1/leases", &[], b.as_bytes());
        assert_eq!(r.status, want, "{b}: {}", String::from_utf8_lossy(&r.body));
        assert!(!r.code().is_empty(), "{b}");
    }
    let jwks = gate
        .request("GET", "/.well-known/jwks.json", &[], b"")
        .json();
    assert_eq!(
        jwks.get("keys").unwrap().as_array().unwrap()[0]
            .get("alg")
            .and_then(Value::as_str),
        Some("ES256")
    );
}

#[test]
fn execute_echo_receipt_and_ledger() {
    let gate = Gate::start("echo");
    let agent = Agent::lease(&gate, None);
    let input = obj! { "hello" => "world", "n" => 3 };
    let r = agent.execute(&gate, "echo", &input);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v.get("decision").and_then(Value::as_str), Some("executed"));
    assert_eq!(v.get("output").and_then(|o| o.get("data")), Some(&input));
    assert_eq!(
        v.get("verification_outcome").and_then(Value::as_str),
        Some("unverifiable_declared")
    );
    for k in ["trace_id", "grant_id", "receipt_id"] {
        assert_eq!(
            v.get(k).and_then(Value::as_str).map(str::len),
            Some(36),
            "{k}"
        );
    }
    assert!(
        v.get("runtime")
            .and_then(|r| r.get("fuel_consumed"))
            .and_then(Value::as_u64)
            .unwrap()
            > 0
    );

    let rid = v.get("receipt_id").and_then(Value::as_str).unwrap();
    let path = format!("/v1/receipts/{rid}");
    let rec = gate.request(
        "GET",
        &path,
        &agent.headers("GET", &path, &Default::default()),
        b"",
    );
    assert_eq!(rec.status, 200, "{}", String::from_utf8_lossy(&rec.body));
    let rec = rec.json();
    assert_eq!(
        rec.get("signature_status").and_then(Value::as_str),
        Some("valid")
    );
    assert_eq!(
        rec.get("result_hash").and_then(Value::as_str).map(str::len),
        Some(64)
    );
    assert_eq!(
        rec.get("normalized_result")
            .and_then(|n| n.get("kind"))
            .and_then(Value::as_str),
        Some("success")
    );

    // Receipts need a lease: none -> 401.
    let r = gate.request("GET", &path, &[], b"");
    assert_eq!(
        (r.status, r.code()),
        (401, "missing_auth_header".to_string())
    );

    let events = audit_events(&gate, 10);
    // The refused read is recorded (newest first), then the execution.
    assert_eq!(
        events[0].get("event_type").and_then(Value::as_str),
        Some("receipt_read_denied")
    );
    assert_eq!(
        events[0].get("receipt_id").and_then(Value::as_str),
        Some(rid)
    );
    let exec = events
        .iter()
        .find(|e| e.get("event_type").and_then(Value::as_str) == Some("action_executed"))
        .expect("executed event");
    assert_eq!(exec.get("receipt_id").and_then(Value::as_str), Some(rid));
    assert_eq!(exec.get("decision").and_then(Value::as_str), Some("allow"));
    assert_eq!(
        exec.get("principal").and_then(Value::as_str),
        Some("dev:anonymous")
    );
    // The readable table: a header and one row per event, newest first.
    let out = gate.cli(&["audit", "--limit", "5"]);
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    assert!(
        header.contains("TIMESTAMP") && header.contains("DECISION") && header.contains("ACTION"),
        "{table}"
    );
    let rows: Vec<&str> = lines.collect();
    assert!(
        rows[0].contains("deny") && rows[0].contains("receipt_read_denied"),
        "{table}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("allow") && r.contains("echo") && r.contains("dev:anonymous")),
        "{table}"
    );
    // Bad flag values name the flag and what is allowed.
    let out = gate.cli(&["audit", "--decision", "maybe"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--decision"));
    // The event never carries the request body.
    assert!(!exec.to_json().contains("\"hello\":\"world\"") || exec.get("receipt").is_some());
}

#[test]
fn budgets_are_debited_and_exhausted() {
    let gate = Gate::start("budget");
    let agent = Agent::lease(&gate, Some(2));
    for _ in 0..2 {
        assert_eq!(agent.execute(&gate, "echo", &obj! {}).status, 200);
    }
    let r = agent.execute(&gate, "echo", &obj! {});
    assert_eq!((r.status, r.code()), (403, "budget_exhausted".to_string()));
}

/// `POST /v1/admin/events` takes sandbox events from the operator only: a
/// sandbox event lands in the ledger with `recorded_by` and the gate's own
/// decision; any other event type or gate-owned field is refused; the
/// agents' socket has no such route.
#[test]
fn operator_records_sandbox_events_only() {
    let gate = Gate::start("admin-events");
    let ok = gate.admin(
        "POST",
        "/v1/admin/events",
        br#"{"event_type":"sandbox_egress_denied","target":"evil.example:443","reason":"host_not_allowed","session_id":"s-1"}"#,
    );
    assert_eq!(ok.status, 201, "{}", ok.code());
    for body in [
        &br#"{"event_type":"action_executed","action_id":"echo"}"#[..],
        br#"{"event_type":"sandbox_tunnel","decision":"deny"}"#,
        br#"{"event_type":"sandbox_tunnel","nested":{"a":1}}"#,
        b"not json",
    ] {
        let r = gate.admin("POST", "/v1/admin/events", body);
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(r.code(), "bad_request");
    }
    let agent_side = gate.request(
        "POST",
        "/v1/admin/events",
        &[],
        br#"{"event_type":"sandbox_started"}"#,
    );
    assert_eq!(agent_side.status, 404);
    let events = audit_events(&gate, 20);
    let recorded: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e.get("event_type")
                .and_then(|t| t.as_str())
                .is_some_and(|t| t.starts_with("sandbox_"))
        })
        .collect();
    assert_eq!(recorded.len(), 1, "{events:?}");
    let e = recorded[0];
    assert_eq!(e.get("decision").and_then(|v| v.as_str()), Some("deny"));
    assert_eq!(
        e.get("target").and_then(|v| v.as_str()),
        Some("evil.example:443")
    );
    assert!(e
        .get("recorded_by")
        .and_then(|v| v.as_str())
        .is_some_and(|w| w.starts_with("uid:")));
}
