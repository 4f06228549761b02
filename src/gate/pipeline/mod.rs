//! POST /v1/actions/{id}/execute, one step per file, in this order:
//!
//! drain → auth (lease + DPoP + jti) → resolve → trust (module digest) →
//! validate (schema, JCS request hash) → render (template) → policy (scopes,
//! egress sinks) → budget debit → grant → intent → dispatch (WASM) →
//! response check → effect verification → receipt → ledger → respond.
//!
//! Every outcome after drain is a chained ledger event, written before the
//! answer; if that write fails the answer is 500 `evidence_persistence_failed`.
//! A debit is refunded only when the call fails before dispatch.

pub mod audit;
pub mod auth_step;
pub mod dispatch;
pub mod grant_step;
pub mod intent;
pub mod policy;
pub mod receipt_step;
pub mod render;
pub mod resolve;
pub mod response_check;
pub mod trust;
pub mod validate;
pub mod verify;

use super::errors::GateError;
use super::Gate;
use crate::auth::lease::LeaseClaims;
use crate::json::Value;
use crate::net::http::{Request, Response};
use crate::obj;
use crate::registry::Action;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What the pipeline knows about a call so far (for the ledger event).
#[derive(Default)]
pub struct Call {
    /// Unique per call (UUIDv7).
    pub trace_id: String,
    /// The action id from the path.
    pub action_id: String,
    /// The verified lease, once auth passed.
    pub lease: Option<LeaseClaims>,
    /// The resolved action.
    pub action: Option<Arc<Action>>,
    /// The action's content digest.
    pub action_digest: Option<String>,
    /// `sha256:` JCS hash of the input.
    pub request_hash: Option<String>,
    /// Grant id, once issued.
    pub grant_id: Option<String>,
    /// Run statistics, once dispatched.
    pub runtime: Option<Value>,
    /// Receipt id, once a receipt exists.
    pub receipt_id: Option<String>,
    /// The signed receipt, once built.
    pub receipt: Option<Value>,
}

/// Handles POST /v1/actions/{id}/execute.
pub fn execute(gate: &Gate, req: &Request, action_id: &str) -> Response {
    if gate.draining.load(Ordering::SeqCst) {
        return GateError::new(503, "draining").response();
    }
    let mut call = Call {
        trace_id: crate::crypto::uuid::v7(),
        action_id: action_id.to_string(),
        ..Call::default()
    };
    match run(gate, req, &mut call) {
        Ok(body) => match audit::record_executed(gate, &call) {
            Ok(()) => Response::json(200, body.to_json()),
            Err(e) => e.response(),
        },
        Err(err) => match audit::record_refusal(gate, &call, &err) {
            Ok(()) => err.response(),
            Err(e) => e.response(),
        },
    }
}

fn run(gate: &Gate, req: &Request, call: &mut Call) -> Result<Value, GateError> {
    let path = format!("/v1/actions/{}/execute", call.action_id);
    let lease = auth_step::authenticate(gate, req, "POST", &path)?;
    call.lease = Some(lease.clone());
    let action = resolve::lookup(gate, &call.action_id)?;
    call.action = Some(Arc::clone(&action));
    call.action_digest = Some(action.digest.clone());
    let provider = trust::provider(gate, &action)?;
    let (input, request_hash) = validate::input(&action, &req.body)?;
    call.request_hash = Some(request_hash.clone());
    let task = render::task(&action, &input)?;
    policy::decide(&lease, &action, &task)?;

    let debited = grant_step::debit(gate, &lease)?;
    // From here until dispatch, any failure gives the call back.
    let prepared = (|| {
        let grant = grant_step::issue(gate, &lease, &action, &provider, &request_hash)?;
        intent::write(gate, call, &action, &grant)?;
        Ok::<_, GateError>(grant)
    })();
    let grant = match prepared {
        Ok(g) => g,
        Err(e) => {
            if debited {
                gate.budgets.refund(&lease.session_id);
            }
            return Err(e);
        }
    };
    call.grant_id = Some(grant.grant_id.clone());

    let started_ms = crate::time::unix_now_millis();
    let outcome = dispatch::run(gate, &action, &provider, &task)?;
    let finished_ms = crate::time::unix_now_millis();
    call.runtime = Some(outcome.runtime_json());

    let checked = response_check::check(&action, &outcome);
    let verification = verify::outcome(&action, &checked, &outcome);
    let receipt = receipt_step::build(
        gate,
        &grant,
        &provider,
        &checked,
        &verification,
        started_ms,
        finished_ms,
    )?;
    call.receipt_id = receipt
        .get("receipt_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    call.receipt = Some(receipt);

    // A provider failure or an egress refusal is still evidence (receipt above),
    // but the caller gets an error status, never a 200.
    if let Some(err) = checked.error_for_caller(call.receipt_id.as_deref()) {
        return Err(err);
    }
    let fully = verification.is_fully_successful();
    Ok(obj! {
        "decision" => "executed",
        "trace_id" => call.trace_id.as_str(),
        "action_id" => call.action_id.as_str(),
        "grant_id" => grant.grant_id.as_str(),
        "receipt_id" => call.receipt_id.clone(),
        "output" => checked.output.clone(),
        "verification_outcome" => verification.status(),
        "verification" => obj! { "outcome" => verification.status(), "is_fully_successful" => fully },
        "runtime" => outcome.runtime_json(),
    })
}

/// Whether a lease is present in the call (for audit fields).
pub fn principal(call: &Call) -> Option<&str> {
    call.lease.as_ref().map(|l| l.sub.as_str())
}
