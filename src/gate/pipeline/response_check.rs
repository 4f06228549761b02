//! Step 11: the provider's output is untrusted. It must be a JSON object
//! (depth ≤ 10) with a boolean `ok`, and match the response schema if the
//! manifest has one. A provider error (`ok: false`) is a provider failure,
//! never a 422 as in v0.2. A file operation the host refused fails the run
//! like an egress refusal; a provider error after a failed file operation
//! is answered with that operation's error (status and `fs_*` code).

use super::dispatch::Outcome;
use crate::gate::errors::GateError;
use crate::gate::fsio::FsError;
use crate::json::Value;
use crate::obj;
use crate::registry::Action;

/// Why the run did not succeed.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The host refused an egress attempt (policy).
    EgressRefused(String),
    /// The provider reported an error (`ok: false`).
    Provider(String),
    /// The output was not a valid result object or broke the response schema.
    BadOutput(String),
    /// A file operation was refused by the host, or failed and the
    /// provider reported failure.
    Fs(FsError),
}

/// The checked output.
pub struct Checked {
    /// The output as returned to the caller (`null` when unparseable).
    pub output: Value,
    /// Set when the run failed.
    pub failure: Option<Failure>,
}

/// Checks `outcome.output` against the action's rules.
pub fn check(action: &Action, outcome: &Outcome) -> Checked {
    let parsed = crate::json::parse_with(&outcome.output, crate::json::Limits { max_depth: 32 });
    let output = match parsed {
        Ok(v) => v,
        Err(e) => {
            return Checked {
                output: Value::Null,
                failure: Some(Failure::BadOutput(format!("output is not JSON: {e}"))),
            }
        }
    };
    if let Some(r) = outcome.refusals.first() {
        let msg = format!("{}: {}", r.code, r.message);
        return Checked {
            output,
            failure: Some(Failure::EgressRefused(msg)),
        };
    }
    if let Some(f) = outcome.fs_errors.iter().find(|f| f.kind.is_refusal()) {
        return Checked {
            output,
            failure: Some(Failure::Fs(f.clone())),
        };
    }
    let failure = match output.get("ok").and_then(Value::as_bool) {
        None => Some(Failure::BadOutput("output lacks a boolean `ok`".into())),
        Some(false) if !outcome.fs_errors.is_empty() => {
            outcome.fs_errors.last().cloned().map(Failure::Fs)
        }
        Some(false) => {
            let msg = output
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("provider reported failure");
            Some(Failure::Provider(msg.to_string()))
        }
        Some(true) => match &action.response_schema {
            Some(schema) => schema.validate(&output).err().map(|errs| {
                let text: Vec<String> = errs
                    .iter()
                    .map(|e| format!("{}: {}", e.path, e.message))
                    .collect();
                Failure::BadOutput(format!(
                    "output violates the response schema: {}",
                    text.join("; ")
                ))
            }),
            None => None,
        },
    };
    Checked { output, failure }
}

impl Checked {
    /// The receipt's `normalized_result`.
    pub fn normalized_result(&self) -> Value {
        match &self.failure {
            None => obj! { "kind" => "success", "summary" => "provider returned ok" },
            Some(Failure::EgressRefused(m))
            | Some(Failure::Provider(m))
            | Some(Failure::BadOutput(m)) => {
                obj! { "kind" => "provider_failure", "reason" => m.as_str() }
            }
            Some(Failure::Fs(f)) => {
                obj! { "kind" => "provider_failure", "reason" => f.to_string() }
            }
        }
    }
    /// The receipt's `failure_class`.
    pub fn failure_class(&self) -> Option<&'static str> {
        match &self.failure {
            None => None,
            Some(Failure::EgressRefused(_)) => Some("policy_violation"),
            Some(Failure::Fs(f)) if f.kind.is_refusal() => Some("policy_violation"),
            Some(Failure::Fs(_)) => Some("provider_error"),
            Some(Failure::Provider(_)) | Some(Failure::BadOutput(_)) => Some("provider_error"),
        }
    }
    /// The error answer for a failed run (the receipt id lets the caller fetch the evidence).
    pub fn error_for_caller(&self, receipt_id: Option<&str>) -> Option<GateError> {
        let err = match self.failure.as_ref()? {
            Failure::EgressRefused(m) => GateError::new(403, "egress_denied").reason(m.clone()),
            Failure::Provider(m) => {
                GateError::new(502, "action_execution_failed").reason(m.clone())
            }
            Failure::BadOutput(m) => {
                GateError::new(502, "action_execution_failed").reason(m.clone())
            }
            Failure::Fs(f) => f.gate_error(),
        };
        Some(match receipt_id {
            Some(id) => err.with("receipt_id", id),
            None => err,
        })
    }
}
