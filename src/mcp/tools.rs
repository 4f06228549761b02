//! Actions as MCP tools, and gate answers as MCP tool results, shaped as
//! LatchGate v0.2's adapter shapes them.
//!
//! A tool: `name` = action id; `description` = the manifest's description,
//! then "LatchGate protected action (version V, risk: R). Execution is
//! authorized, audited, and verified by LatchGate."; `inputSchema` = the
//! request schema, else `{"type":"object","additionalProperties":true}`;
//! `annotations`:
//! - `readOnlyHint`: every declared side effect is a read (`*_read`), or
//!   there are none;
//! - `destructiveHint`: not read-only, and critical risk or a `*_delete`
//!   side effect;
//! - `openWorldHint`: the action has an egress allowlist (reaches the
//!   network).
//!
//! A success result is the output (a string as is, `null` as "(no
//! output)", anything else as indented JSON), then `[receipt_id: X]`, then
//! a warning line when verification was not fully successful. An error
//! result (`isError: true`) is one line of JSON: `{code, message,
//! action_id?, trace_id, approval_id?, receipt_id?, remediation?,
//! gate_error?}` with the reference's codes.

use crate::json::{Map, Value};
use crate::obj;

/// The sentence every tool description ends with.
fn latchgate_sentence(version: &str, risk: &str) -> String {
    format!(
        "LatchGate protected action (version {version}, risk: {risk}). Execution is authorized, audited, and verified by LatchGate."
    )
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn side_effects(entry: &Value) -> Vec<&str> {
    entry
        .get("declared_side_effects")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The tool's description.
pub fn description(entry: &Value) -> String {
    let tail = latchgate_sentence(str_of(entry, "version"), str_of(entry, "risk_level"));
    match str_of(entry, "description").trim() {
        "" => tail,
        d => format!("{d}\n\n{tail}"),
    }
}

/// The tool's annotations.
pub fn annotations(entry: &Value) -> Value {
    let effects = side_effects(entry);
    let read_only = effects.iter().all(|e| *e == "read" || e.ends_with("_read"));
    let destructive = !read_only
        && (str_of(entry, "risk_level") == "critical"
            || effects
                .iter()
                .any(|e| *e == "delete" || e.ends_with("_delete")));
    let open_world = entry
        .get("egress")
        .map(|e| e.get("proxy_allowlist").is_some())
        .unwrap_or(false);
    obj! {
        "readOnlyHint" => read_only,
        "destructiveHint" => destructive,
        "openWorldHint" => open_world,
    }
}

/// The tool's input schema: the request schema (an object schema, `type`
/// added when missing), else any object.
pub fn input_schema(entry: &Value) -> Value {
    match entry.get("request_schema") {
        Some(Value::Object(m)) => {
            let mut m = m.clone();
            if !m.contains_key("type") {
                m.insert("type", "object");
            }
            Value::Object(m)
        }
        _ => obj! { "type" => "object", "additionalProperties" => true },
    }
}

/// The MCP tool for one `/v1/tools` entry.
pub fn tool(entry: &Value) -> Value {
    obj! {
        "name" => str_of(entry, "action_id"),
        "description" => description(entry),
        "inputSchema" => input_schema(entry),
        "annotations" => annotations(entry),
    }
}

fn text_result(text: String, is_error: bool) -> Value {
    obj! {
        "content" => vec![obj! { "type" => "text", "text" => text }],
        "isError" => is_error,
    }
}

/// The success result for a 200 execute answer.
pub fn success(body: &Value) -> Value {
    let mut text = match body.get("output") {
        None | Some(Value::Null) => "(no output)".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_pretty(),
    };
    text.push_str(&format!("\n\n[receipt_id: {}]", str_of(body, "receipt_id")));
    let fully = body
        .get("verification")
        .and_then(|v| v.get("is_fully_successful"))
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if !fully {
        let outcome = match str_of(body, "verification_outcome") {
            "" => "unknown",
            o => o,
        };
        text.push_str(&format!(
            "\n[warning: verification {outcome}: the effect was not confirmed as fully successful]"
        ));
    }
    text_result(text, false)
}

/// The success result for a held call an operator approved (the gate
/// runs it on approval; its output stays with the operator).
pub fn approved(receipt_id: &str, approval_id: &str) -> Value {
    text_result(
        format!(
            "Approved by an operator (approval {approval_id}) and executed. The output went to the approving operator; the receipt records it.\n\n[receipt_id: {receipt_id}]"
        ),
        false,
    )
}

/// A tool error result.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ToolError {
    /// One of the reference's codes (`policy_denied`, `gate_unavailable`, …).
    pub code: &'static str,
    /// For people.
    pub message: String,
    /// The action called.
    pub action_id: Option<String>,
    /// The gate's trace id (a local `tr_<uuidv7>` when the gate gave none).
    pub trace_id: Option<String>,
    /// A held call's approval id.
    pub approval_id: Option<String>,
    /// A receipt the gate wrote for a failed run.
    pub receipt_id: Option<String>,
    /// What to do about it.
    pub remediation: Option<String>,
    /// The gate's own error code, when it differs from `code`.
    pub gate_error: Option<String>,
}

impl ToolError {
    /// An error with a code and message.
    pub fn new(code: &'static str, message: impl Into<String>) -> ToolError {
        ToolError {
            code,
            message: message.into(),
            ..ToolError::default()
        }
    }

    /// Names the action.
    pub fn action(mut self, action_id: &str) -> ToolError {
        self.action_id = Some(action_id.to_string());
        self
    }

    /// The `isError` result.
    pub fn result(&self) -> Value {
        let mut m = Map::new();
        m.insert("code", self.code);
        m.insert("message", self.message.as_str());
        let trace = self
            .trace_id
            .clone()
            .unwrap_or_else(|| format!("tr_{}", crate::crypto::uuid::v7()));
        let optional = [
            ("action_id", &self.action_id),
            ("trace_id", &Some(trace)),
            ("approval_id", &self.approval_id),
            ("receipt_id", &self.receipt_id),
            ("remediation", &self.remediation),
            ("gate_error", &self.gate_error),
        ];
        for (k, v) in optional {
            if let Some(v) = v {
                m.insert(k, v.as_str());
            }
        }
        text_result(Value::Object(m).to_json(), true)
    }
}

/// The reference's code for a gate error code and status.
pub fn code_for(status: u16, gate_code: &str) -> &'static str {
    match gate_code {
        "policy_denied" | "scope_not_permitted" | "forbidden" => "policy_denied",
        "budget_exhausted" | "budget_session_not_found" | "rate_limited" => "budget_exhausted",
        "action_not_found" | "action_not_registered" => "action_not_found",
        "schema_violation" | "payload_too_large" | "bad_request" => "schema_validation",
        "egress_denied" => "egress_blocked",
        "lease_expired" | "invalid_lease" => "lease_expired",
        "grant_revoked" => "revoked",
        "action_execution_failed" => "sandbox_error",
        _ => match status {
            404 => "action_not_found",
            401 | 403 => "auth_failed",
            429 => "budget_exhausted",
            400..=499 => "policy_denied",
            _ => "gate_unavailable",
        },
    }
}

/// The error result for a gate answer that is neither 200 nor 202.
pub fn from_gate(status: u16, body: &Value, action_id: &str) -> ToolError {
    let gate_code = str_of(body, "error");
    let code = code_for(status, gate_code);
    let message = ["message", "deny_reason"]
        .iter()
        .map(|k| str_of(body, k))
        .find(|m| !m.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| match gate_code {
            "" => format!("the gate answered HTTP {status}"),
            c => c.to_string(),
        });
    let field = |k: &str| {
        Some(str_of(body, k))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    ToolError {
        code,
        message,
        action_id: Some(action_id.to_string()),
        trace_id: field("trace_id"),
        approval_id: field("approval_id"),
        receipt_id: field("receipt_id"),
        remediation: field("remediation"),
        gate_error: Some(gate_code)
            .filter(|c| !c.is_empty() && *c != code)
            .map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn entry(effects: &[&str], risk: &str, egress: Value) -> Value {
        obj! {
            "action_id" => "x",
            "version" => "1.2.0",
            "description" => "Does x",
            "risk_level" => risk,
            "declared_side_effects" => Value::Array(effects.iter().map(|e| Value::from(*e)).collect()),
            "egress" => egress,
            "request_schema" => Value::Null,
        }
    }

    fn allowlist() -> Value {
        obj! { "proxy_allowlist" => obj! { "allowed_domains" => vec![Value::from("a.example")] } }
    }

    fn flags(v: &Value) -> (bool, bool, bool) {
        let a = v.get("annotations").unwrap();
        let f = |k: &str| a.get(k).and_then(Value::as_bool).unwrap();
        (f("readOnlyHint"), f("destructiveHint"), f("openWorldHint"))
    }

    #[test]
    fn tool_shape_and_annotations() {
        let t = tool(&entry(&["http_read"], "low", allowlist()));
        assert_eq!(t.get("name").and_then(Value::as_str), Some("x"));
        assert_eq!(
            t.get("description").and_then(Value::as_str),
            Some("Does x\n\nLatchGate protected action (version 1.2.0, risk: low). Execution is authorized, audited, and verified by LatchGate.")
        );
        assert_eq!(
            t.get("inputSchema").unwrap().to_json(),
            r#"{"type":"object","additionalProperties":true}"#
        );
        assert_eq!(flags(&t), (true, false, true));
        assert_eq!(
            flags(&tool(&entry(&[], "low", "none".into()))),
            (true, false, false)
        );
        assert_eq!(
            flags(&tool(&entry(&["http_write"], "high", allowlist()))),
            (false, false, true)
        );
        assert_eq!(
            flags(&tool(&entry(&["http_write"], "critical", allowlist()))),
            (false, true, true)
        );
        assert_eq!(
            flags(&tool(&entry(&["fs_delete"], "medium", "none".into()))),
            (false, true, false)
        );
        // Critical but read-only is not destructive.
        assert_eq!(
            flags(&tool(&entry(&["http_read"], "critical", allowlist()))),
            (true, false, true)
        );
    }

    #[test]
    fn request_schema_becomes_the_input_schema() {
        let mut e = entry(&[], "low", "none".into());
        let schema = obj! { "properties" => obj! { "url" => obj! { "type" => "string" } }, "required" => vec![Value::from("url")] };
        e.as_object_mut().unwrap().insert("request_schema", schema);
        let s = input_schema(&e);
        assert_eq!(s.get("type").and_then(Value::as_str), Some("object"));
        assert!(s.get("properties").and_then(|p| p.get("url")).is_some());
    }

    fn text(result: &Value) -> (String, bool) {
        let t = result.get("content").unwrap().as_array().unwrap()[0]
            .get("text")
            .and_then(Value::as_str)
            .unwrap()
            .to_string();
        (t, result.get("isError").and_then(Value::as_bool).unwrap())
    }

    #[test]
    fn success_text_carries_output_receipt_and_warning() {
        let ok = obj! { "output" => obj! { "a" => 1 }, "receipt_id" => "r1", "verification" => obj! { "is_fully_successful" => true } };
        assert_eq!(
            text(&success(&ok)),
            ("{\n  \"a\": 1\n}\n\n[receipt_id: r1]".into(), false)
        );
        let s = obj! { "output" => "plain", "receipt_id" => "r2" };
        assert_eq!(text(&success(&s)).0, "plain\n\n[receipt_id: r2]");
        let n = obj! { "output" => Value::Null, "receipt_id" => "r3", "verification_outcome" => "verification_failed", "verification" => obj! { "is_fully_successful" => false } };
        let (t, _) = text(&success(&n));
        assert!(
            t.starts_with(
                "(no output)\n\n[receipt_id: r3]\n[warning: verification verification_failed"
            ),
            "{t}"
        );
        let (t, e) = text(&approved("r4", "a1"));
        assert!(!e && t.ends_with("[receipt_id: r4]") && t.contains("a1"));
    }

    #[test]
    fn gate_errors_map_to_the_reference_codes() {
        let denied = obj! { "error" => "policy_denied", "deny_reason" => "no", "remediation" => "Run: latchgate policy grant P A", "principal" => "p" };
        let e = from_gate(403, &denied, "echo");
        assert_eq!((e.code, e.message.as_str()), ("policy_denied", "no"));
        assert_eq!(e.gate_error, None);
        let (t, is_error) = text(&e.result());
        assert!(is_error);
        let v = json::parse(t.as_bytes()).unwrap();
        assert_eq!(v.get("code").and_then(Value::as_str), Some("policy_denied"));
        assert_eq!(v.get("action_id").and_then(Value::as_str), Some("echo"));
        assert!(v
            .get("trace_id")
            .and_then(Value::as_str)
            .unwrap()
            .starts_with("tr_"));
        assert_eq!(
            v.get("remediation").and_then(Value::as_str),
            Some("Run: latchgate policy grant P A")
        );

        let cases = [
            (422, "schema_violation", "schema_validation"),
            (403, "budget_exhausted", "budget_exhausted"),
            (404, "action_not_found", "action_not_found"),
            (403, "egress_denied", "egress_blocked"),
            (401, "lease_expired", "lease_expired"),
            (403, "grant_revoked", "revoked"),
            (502, "action_execution_failed", "sandbox_error"),
            (401, "invalid_dpop", "auth_failed"),
            (403, "secret_missing", "auth_failed"),
            (429, "something_new", "budget_exhausted"),
            (409, "conflict", "policy_denied"),
            (404, "", "action_not_found"),
            (503, "draining", "gate_unavailable"),
        ];
        for (status, gate, want) in cases {
            let e = from_gate(status, &obj! { "error" => gate }, "a");
            assert_eq!(e.code, want, "{status} {gate}");
        }
        let e = from_gate(
            502,
            &obj! { "error" => "action_execution_failed", "receipt_id" => "r9", "trace_id" => "t9" },
            "a",
        );
        assert_eq!(e.gate_error.as_deref(), Some("action_execution_failed"));
        let v = json::parse(text(&e.result()).0.as_bytes()).unwrap();
        assert_eq!(v.get("receipt_id").and_then(Value::as_str), Some("r9"));
        assert_eq!(v.get("trace_id").and_then(Value::as_str), Some("t9"));
    }
}
