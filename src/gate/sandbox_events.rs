//! `POST /v1/admin/events` (operator socket only): a `latchgate sandbox`
//! launcher records what its egress proxy did into the gate's chained
//! ledger, so `latchgate audit` shows who tried to reach what and when.
//!
//! Only the operator (the gate's own uid or root, or the TCP operator
//! token) may post, and only sandbox events: the `event_type` must be one
//! of [`EVENT_TYPES`], every other field a flat scalar under a plain name,
//! and the fields the gate itself vouches for (time, decision, who recorded
//! it, the chain's own fields) cannot be supplied. The gate adds
//! `recorded_by` (the operator identity) and `decision` (deny for
//! `sandbox_egress_denied`, else allow), then appends. A ledger failure is
//! a 500 and the launcher falls back to its local event file.

use super::errors::GateError;
use super::pipeline::audit;
use super::Gate;
use crate::json::{Map, Value};
use crate::net::http::{Request, Response};

/// The event types a sandbox launcher may record.
pub const EVENT_TYPES: &[&str] = &[
    "sandbox_started",
    "sandbox_ended",
    "sandbox_egress_denied",
    "sandbox_tunnel",
    "sandbox_route_request",
];

/// Fields only the gate or the ledger sets.
const RESERVED: &[&str] = &[
    "timestamp",
    "decision",
    "recorded_by",
    "dev_mode",
    "seq",
    "prev_hash",
    "hash",
    "receipt",
    "operator",
];

/// Most fields in one event, and the longest string value.
const MAX_FIELDS: usize = 32;
const MAX_STRING: usize = 2048;

/// Handles `POST /v1/admin/events`.
pub fn record(gate: &Gate, req: &Request, who: &str) -> Response {
    let fields = match check(&req.body) {
        Ok(f) => f,
        Err(msg) => return GateError::new(400, "bad_request").message(msg).response(),
    };
    let denied = fields.get("event_type").and_then(Value::as_str) == Some("sandbox_egress_denied");
    let mut event = fields;
    event.insert("decision", if denied { "deny" } else { "allow" });
    event.insert("recorded_by", who);
    if let Err(e) = audit::append(gate, Value::Object(event)) {
        return e.response();
    }
    Response::json(201, crate::obj! { "recorded" => true }.to_json())
}

/// The event's fields, or why they are refused.
fn check(body: &[u8]) -> Result<Map, String> {
    let v = crate::json::parse(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let Value::Object(m) = v else {
        return Err("body must be a JSON object of event fields".into());
    };
    match m.get("event_type").and_then(Value::as_str) {
        Some(t) if EVENT_TYPES.contains(&t) => {}
        Some(t) => {
            return Err(format!(
                "event_type `{t}` is not a sandbox event; allowed: {}",
                EVENT_TYPES.join(", ")
            ))
        }
        None => return Err("event_type: missing (a string)".into()),
    }
    if m.len() > MAX_FIELDS {
        return Err(format!("at most {MAX_FIELDS} fields per event"));
    }
    for (k, v) in m.iter() {
        let plain = !k.is_empty()
            && k.len() <= 64
            && k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !plain {
            return Err(format!(
                "field `{k}`: names are 1-64 characters of a-z, 0-9 and _"
            ));
        }
        if RESERVED.contains(&k.as_str()) {
            return Err(format!("field `{k}` is set by the gate, not the caller"));
        }
        match v {
            Value::String(s) if s.len() <= MAX_STRING => {}
            Value::String(_) => return Err(format!("field `{k}`: at most {MAX_STRING} bytes")),
            Value::Number(_) | Value::Bool(_) | Value::Null => {}
            _ => {
                return Err(format!(
                    "field `{k}`: must be a string, number, boolean or null"
                ))
            }
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn only_flat_sandbox_events_without_gate_fields() {
        let ok = check(br#"{"event_type":"sandbox_egress_denied","target":"evil.example:443","reason":"host_not_allowed","session_id":"abc","uid":1000}"#)
            .unwrap();
        assert_eq!(ok.len(), 5);
        for (body, needle) in [
            (
                &br#"{"event_type":"action_executed"}"#[..],
                "not a sandbox event",
            ),
            (br#"{"target":"x"}"#, "event_type: missing"),
            (br#"[1]"#, "JSON object"),
            (b"{", "not JSON"),
            (
                br#"{"event_type":"sandbox_tunnel","decision":"allow"}"#,
                "set by the gate",
            ),
            (
                br#"{"event_type":"sandbox_tunnel","timestamp":"2020"}"#,
                "set by the gate",
            ),
            (
                br#"{"event_type":"sandbox_tunnel","seq":1}"#,
                "set by the gate",
            ),
            (
                br#"{"event_type":"sandbox_tunnel","Target":"x"}"#,
                "names are",
            ),
            (
                br#"{"event_type":"sandbox_tunnel","t":{"a":1}}"#,
                "must be a string",
            ),
            (
                br#"{"event_type":"sandbox_tunnel","t":[1]}"#,
                "must be a string",
            ),
        ] {
            let e = check(body).unwrap_err();
            assert!(e.contains(needle), "{e}");
        }
        let long = format!(
            r#"{{"event_type":"sandbox_tunnel","t":"{}"}}"#,
            "x".repeat(3000)
        );
        assert!(check(long.as_bytes()).unwrap_err().contains("at most"));
    }
}
