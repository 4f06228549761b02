//! Clear JSON errors for bad calls, each recorded in the ledger; egress
//! only to declared sinks and never to private addresses unless allowed.

mod common;
use common::upstream::Upstream;
use common::{audit_events, Agent, Gate, Opts};
use latchgate::json::Value;
use latchgate::obj;

fn denied_in_ledger(gate: &Gate, code: &str) -> bool {
    audit_events(gate, 50)
        .iter()
        .any(|e| e.get("error").and_then(Value::as_str) == Some(code))
}

#[test]
fn schema_unknown_action_oversize_are_clear_and_recorded() {
    let gate = Gate::start("errors");
    let agent = Agent::lease(&gate, None);

    let r = agent.execute(&gate, "http_fetch", &obj! { "url" => 5 });
    assert_eq!((r.status, r.code()), (422, "schema_violation".to_string()));
    assert!(r
        .json()
        .get("deny_reason")
        .and_then(Value::as_str)
        .unwrap()
        .contains("/url"));
    let r = agent.execute(
        &gate,
        "http_fetch",
        &obj! { "url" => "https://httpbin.org/get", "extra" => 1 },
    );
    assert_eq!((r.status, r.code()), (422, "schema_violation".to_string()));
    assert!(denied_in_ledger(&gate, "schema_violation"));

    let r = agent.execute(&gate, "no_such_action", &obj! {});
    assert_eq!((r.status, r.code()), (404, "action_not_found".to_string()));
    assert!(denied_in_ledger(&gate, "action_not_found"));

    // Over the action's max_request_bytes (64 KiB) but under the transport cap.
    let big = format!("{{\"url\":\"https://httpbin.org/{}\"}}", "a".repeat(70_000));
    let r = agent.execute_raw(&gate, "http_fetch", big.as_bytes(), &Default::default());
    assert_eq!((r.status, r.code()), (413, "payload_too_large".to_string()));
    assert!(denied_in_ledger(&gate, "payload_too_large"));

    // Over the transport cap (1 MiB): rejected before auth, still JSON.
    let huge = vec![b' '; 2 * 1024 * 1024];
    let r = agent.execute_raw(&gate, "echo", &huge, &Default::default());
    assert_eq!(r.status, 413);
    assert_eq!(r.code(), "payload_too_large");
}

#[test]
fn egress_declared_sinks_private_addresses_and_tls() {
    let up = Upstream::start();
    // httpbin.org (declared by http_fetch) is mapped to the local upstream.
    let gate = Gate::start_with(
        "egress",
        Opts {
            hosts: vec![("httpbin.org".into(), "127.0.0.1".into())],
            ..Default::default()
        },
    );
    let agent = Agent::lease(&gate, None);

    let url = format!("https://httpbin.org:{}/get", up.port);
    let r = agent.execute(&gate, "http_fetch", &obj! { "url" => url.as_str() });
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(
        v.get("verification_outcome").and_then(Value::as_str),
        Some("verified")
    );
    let data = v.get("output").and_then(|o| o.get("data")).unwrap();
    assert_eq!(data.get("status_code").and_then(Value::as_u64), Some(200));
    assert!(data
        .get("body")
        .and_then(Value::as_str)
        .unwrap()
        .contains("\"path\":\"/get\""));

    // A redirect is returned, never followed.
    let r = agent.execute(
        &gate,
        "http_fetch",
        &obj! { "url" => format!("https://httpbin.org:{}/redirect", up.port) },
    );
    let data = r
        .json()
        .get("output")
        .and_then(|o| o.get("data"))
        .cloned()
        .unwrap();
    assert_eq!(data.get("status_code").and_then(Value::as_u64), Some(302));

    // Undeclared sink: held for an operator (default policy), nothing runs.
    let hits = up.hits.load(std::sync::atomic::Ordering::SeqCst);
    let r = agent.execute(
        &gate,
        "http_fetch",
        &obj! { "url" => format!("https://upstream.test:{}/get", up.port) },
    );
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.json().get("decision").and_then(Value::as_str),
        Some("pending_approval")
    );
    assert_eq!(up.hits.load(std::sync::atomic::Ordering::SeqCst), hits);
}

#[test]
fn private_addresses_are_refused_without_allow_private() {
    let up = Upstream::start();
    let gate = Gate::start_with(
        "private",
        Opts {
            hosts: vec![("httpbin.org".into(), "127.0.0.1".into())],
            no_private: true,
            ..Default::default()
        },
    );
    let agent = Agent::lease(&gate, None);
    let r = agent.execute(
        &gate,
        "http_fetch",
        &obj! { "url" => format!("https://httpbin.org:{}/get", up.port) },
    );
    assert_eq!(
        (r.status, r.code()),
        (403, "egress_denied".to_string()),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(r
        .json()
        .get("deny_reason")
        .and_then(Value::as_str)
        .unwrap()
        .contains("private_address"));
    assert_eq!(up.hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(denied_in_ledger(&gate, "egress_denied"));
}
