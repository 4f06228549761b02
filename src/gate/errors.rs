//! The gate's error type: a status, a stable code, optional detail fields,
//! rendered as a flat JSON body (`{"error": code, ...}`) as LatchGate v0.2 does.

use crate::json::{Map, Value};
use crate::net::http::Response;

/// An error answer.
#[derive(Debug, Clone)]
pub struct GateError {
    /// HTTP status.
    pub status: u16,
    /// Stable machine-readable code (`error` in the body).
    pub code: &'static str,
    /// Extra string fields (`message`, `deny_reason`, ...).
    pub fields: Vec<(&'static str, String)>,
    /// Extra response headers (e.g. `retry-after`).
    pub headers: Vec<(&'static str, String)>,
}

impl GateError {
    /// An error with a status and code only.
    pub fn new(status: u16, code: &'static str) -> GateError {
        GateError {
            status,
            code,
            fields: Vec::new(),
            headers: Vec::new(),
        }
    }
    /// Adds a string field to the body.
    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> GateError {
        self.fields.push((key, value.into()));
        self
    }
    /// Adds `message`.
    pub fn message(self, msg: impl Into<String>) -> GateError {
        self.with("message", msg)
    }
    /// Adds `deny_reason`.
    pub fn reason(self, reason: impl Into<String>) -> GateError {
        self.with("deny_reason", reason)
    }
    /// The most specific human text we have (for the ledger).
    pub fn detail(&self) -> String {
        self.fields
            .iter()
            .find(|(k, _)| *k == "deny_reason" || *k == "message")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| self.code.to_string())
    }
    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut m = Map::new();
        m.insert("error", self.code);
        for (k, v) in &self.fields {
            m.insert(*k, v.as_str());
        }
        Value::Object(m)
    }
    /// The HTTP response.
    pub fn response(&self) -> Response {
        let mut r = Response::json(self.status, self.body().to_json());
        for (k, v) in &self.headers {
            r = r.with_header(k, v.clone());
        }
        r
    }
}

/// 500 `internal_error` with a message for the ledger (never shown in detail to clients).
pub fn internal(msg: impl Into<String>) -> GateError {
    GateError::new(500, "internal_error").message(msg)
}
