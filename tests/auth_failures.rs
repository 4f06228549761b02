//! Each authentication failure gets the reference's status and code, and
//! each is a chained ledger event.

mod common;
use common::{audit_events, Agent, Gate, Opts, ProofTweak};
use latchgate::json::Value;

fn expect(gate: &Gate, agent: &Agent, tweak: ProofTweak, code: &str, reason_has: &str) {
    let r = agent.execute_raw(gate, "echo", b"{}", &tweak);
    assert_eq!(
        r.status,
        401,
        "{code}: {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.code(), code);
    if !reason_has.is_empty() {
        let reason = r
            .json()
            .get("deny_reason")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        assert!(
            reason.contains(reason_has),
            "{code}: reason {reason:?} lacks {reason_has:?}"
        );
    }
}

#[test]
fn every_auth_failure_has_its_code_and_is_recorded() {
    let gate = Gate::start("auth");
    let mut agent = Agent::lease(&gate, None);
    let other = Agent::lease(&gate, None);

    expect(
        &gate,
        &agent,
        ProofTweak {
            htm: Some("GET".into()),
            ..Default::default()
        },
        "invalid_dpop",
        "htm mismatch",
    );
    expect(
        &gate,
        &agent,
        ProofTweak {
            htu: Some("http://localhost:3000/v1/actions/other/execute".into()),
            ..Default::default()
        },
        "invalid_dpop",
        "htu mismatch",
    );
    expect(
        &gate,
        &agent,
        ProofTweak {
            iat_offset: -61,
            ..Default::default()
        },
        "invalid_dpop",
        "iat too old",
    );
    expect(
        &gate,
        &agent,
        ProofTweak {
            iat_offset: 6,
            ..Default::default()
        },
        "invalid_dpop",
        "iat too far in future",
    );
    expect(
        &gate,
        &agent,
        ProofTweak {
            signer: Some(1),
            ..Default::default()
        },
        "invalid_dpop",
        "signature verification failed",
    );
    expect(
        &gate,
        &agent,
        ProofTweak {
            ath_of: Some(other.lease.clone()),
            ..Default::default()
        },
        "invalid_dpop",
        "ath",
    );
    expect(
        &gate,
        &agent,
        ProofTweak {
            typ: Some("JWT".into()),
            ..Default::default()
        },
        "invalid_dpop",
        "typ",
    );

    // Wrong key: agent's proof key with the other agent's lease (cnf.jkt mismatch).
    let mixed = Agent {
        key: latchgate::crypto::es256::KeyPair::generate().unwrap(),
        lease: other.lease.clone(),
        session_id: other.session_id.clone(),
        public_base_url: other.public_base_url.clone(),
    };
    expect(
        &gate,
        &mixed,
        ProofTweak::default(),
        "invalid_dpop",
        "cnf.jkt",
    );

    // Replayed jti: the first use passes, the second is refused.
    let t = ProofTweak {
        jti: Some("fixed-jti-for-replay-test".into()),
        ..Default::default()
    };
    assert_eq!(agent.execute_raw(&gate, "echo", b"{}", &t).status, 200);
    expect(&gate, &agent, t, "replay_detected", "");

    // Tampered lease signature.
    let original = agent.lease.clone();
    let last = agent.lease.pop().unwrap();
    agent.lease.push(if last == 'A' { 'B' } else { 'A' });
    expect(&gate, &agent, ProofTweak::default(), "invalid_lease", "");
    agent.lease = original;

    // Missing headers.
    let r = gate.request("POST", "/v1/actions/echo/execute", &[], b"{}");
    assert_eq!(
        (r.status, r.code()),
        (401, "missing_auth_header".to_string())
    );
    let r = gate.request(
        "POST",
        "/v1/actions/echo/execute",
        &[("Authorization", format!("Bearer {}", agent.lease))],
        b"{}",
    );
    assert_eq!(
        (r.status, r.code()),
        (401, "invalid_auth_scheme".to_string())
    );
    let r = gate.request(
        "POST",
        "/v1/actions/echo/execute",
        &[("Authorization", format!("DPoP {}", agent.lease))],
        b"{}",
    );
    assert_eq!(
        (r.status, r.code()),
        (401, "missing_dpop_header".to_string())
    );

    // Every refusal above is in the ledger as a deny.
    let events = audit_events(&gate, 100);
    let denies: Vec<&Value> = events
        .iter()
        .filter(|e| e.get("decision").and_then(Value::as_str) == Some("deny"))
        .collect();
    for code in [
        "invalid_dpop",
        "replay_detected",
        "invalid_lease",
        "missing_auth_header",
        "invalid_auth_scheme",
        "missing_dpop_header",
    ] {
        assert!(
            denies
                .iter()
                .any(|e| e.get("error").and_then(Value::as_str) == Some(code)),
            "no ledger deny for {code}"
        );
    }
    assert!(denies.len() >= 13, "{} denies", denies.len());
}

#[test]
fn expired_lease_is_lease_expired() {
    let gate = Gate::start_with(
        "expired",
        Opts {
            extra: "lease_ttl_seconds = 1".into(),
            ..Default::default()
        },
    );
    let agent = Agent::lease(&gate, None);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    expect(&gate, &agent, ProofTweak::default(), "lease_expired", "");
}
