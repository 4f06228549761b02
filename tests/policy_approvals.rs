//! Issue 3 against the real binary: the policy matrix (every rule kind
//! allows, denies or holds, and every outcome is a ledger event naming the
//! rule), approvals (race, widening, no-ops), budgets with refunds, rate
//! limits, revoke-all, reload, the operator socket, and unresolved intents
//! after a crash.

mod common;

use common::upstream::Upstream;
use common::{Agent, Gate, Opts};
use latchgate::json::{self, Value};
use latchgate::obj;
use std::path::PathBuf;

fn manifests() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/manifests")
}

/// A gate with the test manifests, `policy` as its policy file, and the
/// local upstream reachable as upstream.test.
fn gate_with_policy(name: &str, policy: &str, extra: &str) -> Gate {
    let dir = common::scratch(name);
    std::fs::write(dir.join("policy.toml"), policy).unwrap();
    Gate::start_with(
        name,
        Opts {
            dir: Some(dir.clone()),
            extra: format!(
                "manifests_dir = \"{}\"\npolicy_file = \"{}\"\n{extra}",
                manifests().display(),
                dir.join("policy.toml").display()
            ),
            hosts: vec![("upstream.test".into(), "127.0.0.1".into())],
            ..Opts::default()
        },
    )
}

fn set_policy(gate: &Gate, policy: &str) {
    std::fs::write(gate.dir.join("policy.toml"), policy).unwrap();
    let out = gate.cli(&["reload"]);
    assert!(
        out.status.success(),
        "reload: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// The newest ledger event (the outcome of the call just made).
fn last_event(gate: &Gate) -> Value {
    common::audit_events(gate, 1).remove(0)
}

const OPEN: &str =
    "version = \"open\"\n[acl.\"*\"]\nallowed_actions = [\"*\"]\nallowed_side_effects = [\"*\"]\n";

/// Asserts one call's answer and its ledger event.
fn expect(gate: &Gate, r: &common::Resp, status: u16, decision: &str, rule: &str) {
    assert_eq!(
        r.status,
        status,
        "rule {rule}: {}",
        String::from_utf8_lossy(&r.body)
    );
    let ev = last_event(gate);
    assert_eq!(
        s(&ev, "decision"),
        decision,
        "rule {rule}: event {}",
        ev.to_json()
    );
    assert_eq!(s(&ev, "policy_rule"), rule, "event {}", ev.to_json());
    assert!(
        !s(&ev, "policy_version").is_empty(),
        "event {}",
        ev.to_json()
    );
    if status == 403 && s(&r.json(), "error") == "policy_denied" {
        assert_eq!(s(&r.json(), "policy_rule"), rule);
        assert!(!s(&r.json(), "deny_reason").is_empty());
        assert!(!s(&r.json(), "remediation").is_empty());
    }
    if status == 202 {
        let body = r.json();
        assert_eq!(s(&body, "decision"), "pending_approval");
        assert_eq!(s(&ev, "approval_id"), s(&body, "approval_id"));
        assert_eq!(s(&ev, "trace_id"), s(&body, "trace_id"));
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            ["approval_id", "decision", "request_hash", "trace_id"]
        );
    }
}

#[test]
fn policy_matrix_every_rule_decides_and_is_recorded() {
    let up = Upstream::start();
    let gate = gate_with_policy("policy-matrix", OPEN, "");
    let agent = Agent::lease(&gate, None);
    let echo = obj! { "msg" => "hi" };
    let undeclared = obj! { "url" => format!("https://upstream.test:{}/get", up.port) };

    // acl.allow
    expect(
        &gate,
        &agent.execute(&gate, "echo", &echo),
        200,
        "allow",
        "acl.allow",
    );
    // approval.risk
    expect(
        &gate,
        &agent.execute(&gate, "echo_high", &echo),
        202,
        "pending_approval",
        "approval.risk",
    );
    // approval.undeclared_domain (http_fetch does not declare upstream.test)
    expect(
        &gate,
        &agent.execute(&gate, "http_fetch", &undeclared),
        202,
        "pending_approval",
        "approval.undeclared_domain",
    );
    // scope: echo_scoped needs files:write, the lease holds tools:call only
    expect(
        &gate,
        &agent.execute(&gate, "echo_scoped", &echo),
        403,
        "deny",
        "scope",
    );

    set_policy(
        &gate,
        "version = \"other\"\n[acl.\"someone-else\"]\nallowed_actions = [\"*\"]\n",
    );
    expect(
        &gate,
        &agent.execute(&gate, "echo", &echo),
        403,
        "deny",
        "acl.no_entry",
    );

    set_policy(&gate, "version = \"narrow\"\n[acl.\"dev:anonymous\"]\nallowed_actions = [\"echo\", \"echo_write\"]\nallowed_side_effects = []\n");
    expect(
        &gate,
        &agent.execute(&gate, "echo", &echo),
        200,
        "allow",
        "acl.allow",
    );
    expect(
        &gate,
        &agent.execute(&gate, "http_fetch", &undeclared),
        403,
        "deny",
        "acl.action",
    );
    expect(
        &gate,
        &agent.execute(&gate, "echo_write", &echo),
        403,
        "deny",
        "acl.side_effect",
    );

    set_policy(
        &gate,
        &format!("{OPEN}[approval]\nalways = [\"echo_write\"]\nnever = [\"http_fetch\"]\n"),
    );
    expect(
        &gate,
        &agent.execute(&gate, "echo_write", &echo),
        202,
        "pending_approval",
        "approval.always",
    );
    expect(
        &gate,
        &agent.execute(&gate, "http_fetch", &undeclared),
        403,
        "deny",
        "approval.never_undeclared_domain",
    );

    set_policy(&gate, &format!("{OPEN}[approval]\nalways = [\"echo_write\"]\n[[allowlist]]\nprincipal = \"dev:anonymous\"\naction = \"echo_write\"\n[[allowlist]]\nprincipal = \"dev:anonymous\"\naction = \"echo_high\"\n"));
    expect(
        &gate,
        &agent.execute(&gate, "echo_write", &echo),
        200,
        "allow",
        "allowlist",
    );
    // The allowlist never waives risk.
    expect(
        &gate,
        &agent.execute(&gate, "echo_high", &echo),
        202,
        "pending_approval",
        "approval.risk",
    );

    set_policy(
        &gate,
        &format!("{OPEN}[rate_limits]\ndefault = {{ calls = 2, window_seconds = 60 }}\n"),
    );
    let fresh = Agent::lease(&gate, None);
    expect(
        &gate,
        &fresh.execute(&gate, "echo", &echo),
        200,
        "allow",
        "acl.allow",
    );
    expect(
        &gate,
        &fresh.execute(&gate, "echo", &echo),
        200,
        "allow",
        "acl.allow",
    );
    let limited = fresh.execute(&gate, "echo", &echo);
    expect(&gate, &limited, 429, "deny", "rate_limit");
    assert_eq!(limited.code(), "rate_limited");
    let retry: u64 = limited
        .headers
        .iter()
        .find(|(k, _)| k == "retry-after")
        .map(|(_, v)| v.parse().unwrap())
        .expect("retry-after header");
    assert!((1..=60).contains(&retry), "retry-after {retry}");

    // The policy check CLI explains the same decisions offline.
    let out = gate.cli(&[
        "policy",
        "check",
        "--principal",
        "dev:anonymous",
        "--action",
        "echo_high",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json::parse(&out.stdout).unwrap();
    assert_eq!(s(&v, "rule"), "approval.risk");
    let out = gate.cli(&[
        "policy",
        "check",
        "--principal",
        "dev:anonymous",
        "--action",
        "http_fetch",
        "--input",
        &undeclared.to_json(),
    ]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stdout).contains("approval.undeclared_domain"));
    let out = gate.cli(&[
        "policy",
        "check",
        "--principal",
        "nobody",
        "--action",
        "echo",
        "--policy",
        "/nonexistent/p.toml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/p.toml"));
}

#[test]
fn approving_an_undeclared_host_widens_egress_for_that_call_only() {
    let up = Upstream::start();
    let gate = gate_with_policy("approve-widen", OPEN, "");
    let agent = Agent::lease(&gate, None);
    let input = obj! { "url" => format!("https://upstream.test:{}/get", up.port) };
    let held = agent.execute(&gate, "http_fetch", &input);
    assert_eq!(held.status, 202, "{}", String::from_utf8_lossy(&held.body));
    let id = s(&held.json(), "approval_id").to_string();

    let show = gate.admin("GET", &format!("/v1/approvals/{id}"), b"");
    assert_eq!(show.status, 200);
    let detail = show.json();
    assert_eq!(s(&detail, "status"), "pending");
    assert_eq!(
        detail.get("approved_domains").unwrap().to_json(),
        "[\"upstream.test\"]"
    );
    assert_eq!(detail.get("input").unwrap(), &input);

    let out = gate.cli(&["approvals", "approve", &id]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("approved and executed"));
    assert_eq!(up.hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    let ev = last_event(&gate);
    assert_eq!(s(&ev, "event_type"), "action_executed");
    assert_eq!(s(ev.get("approval").unwrap(), "approval_id"), id);
    assert!(s(ev.get("approval").unwrap(), "approval_hash").starts_with("sha256:"));

    // The next call to the same host is held again: the widening was for that call.
    let again = agent.execute(&gate, "http_fetch", &input);
    assert_eq!(again.status, 202);

    // The operator API filters the ledger.
    let r = gate.admin(
        "GET",
        "/v1/audit/events?action_id=http_fetch&decision=pending_approval&principal=dev:anonymous&limit=10",
        b"",
    );
    assert_eq!(r.status, 200);
    let events = r
        .json()
        .get("events")
        .and_then(Value::as_array)
        .cloned()
        .unwrap();
    assert_eq!(events.len(), 2);
    assert!(events
        .iter()
        .all(|e| s(e, "policy_rule") == "approval.undeclared_domain"));
    let trace = s(&events[0], "trace_id").to_string();
    let r = gate.admin("GET", &format!("/v1/audit/events?trace_id={trace}"), b"");
    assert_eq!(
        r.json()
            .get("events")
            .and_then(Value::as_array)
            .unwrap()
            .len(),
        1
    );
    let r = gate.admin("GET", "/v1/audit/events?after=yesterday", b"");
    assert_eq!((r.status, r.code().as_str()), (400, "bad_request"));
    let r = gate.admin("GET", "/v1/audit/verify", b"");
    assert_eq!(r.json().get("intact"), Some(&Value::Bool(true)));
}

#[test]
fn concurrent_approvals_execute_exactly_once() {
    let gate = gate_with_policy("approve-race", OPEN, "");
    let agent = Agent::lease(&gate, None);
    for round in 0..50 {
        let held = agent.execute(&gate, "echo_high", &obj! { "round" => round });
        assert_eq!(held.status, 202);
        let id = s(&held.json(), "approval_id").to_string();
        let path = format!("/v1/approvals/{id}/approve");
        let sock = gate.admin_socket();
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let (sock, path) = (sock.clone(), path.clone());
                std::thread::spawn(move || {
                    common::try_request(&sock, "POST", &path, &[], b"").unwrap()
                })
            })
            .collect();
        let answers: Vec<common::Resp> = racers.into_iter().map(|t| t.join().unwrap()).collect();
        let executed = answers
            .iter()
            .filter(|r| r.status == 200 && s(&r.json(), "decision") == "executed")
            .count();
        assert_eq!(
            executed,
            1,
            "round {round}: {:?}",
            answers
                .iter()
                .map(|r| String::from_utf8_lossy(&r.body).to_string())
                .collect::<Vec<_>>()
        );
        for r in &answers {
            let d = s(&r.json(), "decision").to_string();
            assert!(
                d == "executed" || d == "already_approved" || r.code() == "conflict",
                "round {round}: {}",
                String::from_utf8_lossy(&r.body)
            );
        }
    }
    // The ledger agrees: 50 approved executions, one per approval.
    let events = common::audit_events(&gate, 1000);
    let mut ids: Vec<&str> = events
        .iter()
        .filter(|e| s(e, "event_type") == "action_executed")
        .filter_map(|e| e.get("approval").map(|a| s(a, "approval_id")))
        .collect();
    assert_eq!(ids.len(), 50);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50);
}

#[test]
fn decided_approvals_are_no_ops_with_the_stored_outcome() {
    let gate = gate_with_policy("approve-noop", OPEN, "");
    let agent = Agent::lease(&gate, None);
    let hold = || {
        let r = agent.execute(&gate, "echo_high", &obj! { "x" => 1 });
        assert_eq!(r.status, 202);
        s(&r.json(), "approval_id").to_string()
    };
    let a = hold();
    let out = gate.cli(&["approvals", "deny", &a, "--reason", "not today"]);
    assert!(out.status.success());
    let out = gate.cli(&["approvals", "approve", &a]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("already denied"));
    let r = gate.admin("POST", &format!("/v1/approvals/{a}/approve"), b"");
    assert_eq!(s(&r.json(), "decision"), "already_denied");
    assert_eq!(s(&r.json(), "deny_reason"), "not today");

    let b = hold();
    assert!(gate.cli(&["approvals", "approve", &b]).status.success());
    let out = gate.cli(&["approvals", "deny", &b]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("already approved"));
    let out = gate.cli(&["approvals", "approve", &b]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("already approved"));

    let r = gate.admin(
        "POST",
        "/v1/approvals/0190aaaa-0000-7000-8000-000000000000/approve",
        b"",
    );
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
    let out = gate.cli(&["approvals", "approve", "../../etc"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an approval id"));
}

#[test]
fn budget_allows_max_calls_and_refunds_failures_before_dispatch() {
    let gate = gate_with_policy("budget", OPEN, "");
    let echo = obj! { "n" => 1 };
    let agent = Agent::lease(&gate, Some(3));
    for _ in 0..3 {
        assert_eq!(agent.execute(&gate, "echo", &echo).status, 200);
    }
    let r = agent.execute(&gate, "echo", &echo);
    expect(&gate, &r, 403, "deny", "budget.max_calls");
    assert_eq!(r.code(), "budget_exhausted");

    // A held call reserves one call; denying it gives it back.
    let agent = Agent::lease(&gate, Some(1));
    let held = agent.execute(&gate, "echo_high", &echo);
    assert_eq!(held.status, 202);
    assert_eq!(
        agent.execute(&gate, "echo", &echo).code(),
        "budget_exhausted"
    );
    let id = s(&held.json(), "approval_id").to_string();
    assert!(gate.cli(&["approvals", "deny", &id]).status.success());
    assert_eq!(agent.execute(&gate, "echo", &echo).status, 200);
    assert_eq!(
        agent.execute(&gate, "echo", &echo).code(),
        "budget_exhausted"
    );

    // A schema failure comes before the debit and costs nothing; a provider
    // failure after dispatch (connection refused upstream) is not refunded.
    let agent = Agent::lease(&gate, Some(2));
    let bad = agent.execute_raw(&gate, "echo", b"not json", &common::ProofTweak::default());
    assert_eq!(bad.status, 422);
    let failed = agent.execute(
        &gate,
        "fetch_write",
        &obj! { "url" => "https://upstream.test:1/x" },
    );
    assert!(
        failed.status >= 500,
        "{}",
        String::from_utf8_lossy(&failed.body)
    );
    assert_eq!(agent.execute(&gate, "echo", &echo).status, 200);
    assert_eq!(
        agent.execute(&gate, "echo", &echo).code(),
        "budget_exhausted"
    );
}

#[test]
fn revoke_all_ends_existing_leases() {
    let gate = gate_with_policy("revoke-all", OPEN, "");
    let agent = Agent::lease(&gate, None);
    assert_eq!(agent.execute(&gate, "echo", &obj! {}).status, 200);
    let out = gate.cli(&["revoke-all"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("epoch 0 -> 1"));
    let r = agent.execute(&gate, "echo", &obj! {});
    assert_eq!((r.status, r.code().as_str()), (401, "invalid_lease"));
    let ev = common::audit_events(&gate, 3);
    assert!(ev.iter().any(|e| s(e, "event_type") == "revoke_all"));
    // A new lease works.
    let again = Agent::lease(&gate, None);
    assert_eq!(again.execute(&gate, "echo", &obj! {}).status, 200);
    let st = gate.admin("GET", "/v1/admin/epoch", b"");
    assert_eq!(st.json().get("epoch").unwrap().to_json(), "1");
}

#[test]
fn reload_swaps_policy_and_refuses_bad_files() {
    let gate = gate_with_policy("reload", OPEN, "");
    let agent = Agent::lease(&gate, None);
    assert_eq!(agent.execute(&gate, "echo", &obj! {}).status, 200);
    std::fs::write(
        gate.dir.join("policy.toml"),
        "version = \"bad\"\n[acl.\"*\"]\nallowed_actionz = []\n",
    )
    .unwrap();
    let out = gate.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("allowed_actionz") && err.contains("line 3"),
        "{err}"
    );
    // The old policy still serves.
    assert_eq!(agent.execute(&gate, "echo", &obj! {}).status, 200);
    let st = gate.admin("GET", "/v1/admin/status", b"").json();
    assert_eq!(s(&st, "policy_version"), "open");
    // A bad manifest directory is refused the same way.
    set_policy(&gate, "version = \"closed\"\n");
    let r = agent.execute(&gate, "echo", &obj! {});
    assert_eq!(r.status, 403);
    assert_eq!(s(&r.json(), "policy_rule"), "acl.no_entry");
}

#[test]
fn operator_api_needs_the_operator_socket_or_the_token() {
    let dir = common::scratch("admin-tcp");
    let token = "t0ken-0123456789abcdef0123456789abcdef";
    let token_file = dir.join("admin.token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let port = common::free_port();
    let addr = format!("127.0.0.1:{port}");
    let gate = Gate::start_with(
        "admin-tcp",
        Opts {
            dir: Some(dir.clone()),
            extra: format!(
                "listen_admin_http_addr = \"{addr}\"\nadmin_token_file = \"{}\"\n",
                token_file.display()
            ),
            ..Opts::default()
        },
    );
    // The operator socket is 0600 and answers our own uid.
    use std::os::unix::fs::MetadataExt;
    let mode = std::fs::metadata(gate.admin_socket()).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(gate.admin("GET", "/v1/admin/status", b"").status, 200);
    // Operator routes are not on the client socket.
    assert_eq!(
        gate.request("GET", "/v1/admin/status", &[], b"").status,
        404
    );
    assert_eq!(gate.request("GET", "/v1/approvals", &[], b"").status, 404);
    // TCP: no token, wrong token, right token.
    let r = common::tcp_request(&addr, "GET", "/v1/admin/status", &[], b"");
    assert_eq!((r.status, r.code().as_str()), (401, "unauthorized"));
    let r = common::tcp_request(
        &addr,
        "GET",
        "/v1/admin/status",
        &[("Authorization", "Bearer wrong".into())],
        b"",
    );
    assert_eq!(r.status, 401);
    let r = common::tcp_request(
        &addr,
        "GET",
        "/v1/admin/status",
        &[("Authorization", format!("Bearer {token}"))],
        b"",
    );
    assert_eq!(r.status, 200);
    // The CLI over TCP.
    let out = std::process::Command::new(common::bin())
        .args([
            "status",
            "--admin-url",
            &format!("http://{addr}"),
            "--token-file",
        ])
        .arg(&token_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A TCP operator listener without a token is a configuration error.
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            "data_dir = \"{}\"\nlisten_admin_http_addr = \"127.0.0.1:1\"\n",
            dir.join("d2").display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(common::bin())
        .args(["up", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("admin_token_file"));
}

#[test]
fn a_call_cut_off_by_a_crash_is_reported_never_rerun() {
    let up = Upstream::start();
    let mut gate = gate_with_policy("unresolved", OPEN, "");
    let agent = Agent::lease(&gate, None);
    let input = obj! { "url" => format!("https://upstream.test:{}/slow/20", up.port) };
    let (sock, body) = (gate.socket.clone(), input.to_json());
    let path = "/v1/actions/fetch_write/execute";
    let mut h = agent.headers("POST", path, &common::ProofTweak::default());
    h.push(("Content-Type", "application/json".into()));
    let caller =
        std::thread::spawn(move || common::try_request(&sock, "POST", path, &h, body.as_bytes()));
    // Wait until the provider is talking to the upstream, then crash.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while up.hits.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the call never reached the upstream"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    gate.kill9();
    let _ = caller.join();
    gate.spawn();
    let st = gate.admin("GET", "/v1/admin/status", b"").json();
    let unresolved = st
        .get("unresolved_intents")
        .and_then(Value::as_array)
        .unwrap();
    assert_eq!(unresolved.len(), 1, "{}", st.to_json());
    assert_eq!(s(&unresolved[0], "action_id"), "fetch_write");
    let out = gate.cli(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("no receipt") && text.contains("fetch_write"),
        "{text}"
    );
    assert!(gate.log().contains("have no receipt"));
    // Never re-run: the upstream saw exactly the one call.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(up.hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}
