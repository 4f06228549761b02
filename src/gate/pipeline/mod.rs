//! POST /v1/actions/{id}/execute, one step per file, in this order:
//!
//! drain → auth (lease + DPoP + jti) → rate limit → resolve → trust (module
//! digest) → validate (schema, JCS request hash) → fs precheck (file
//! actions: lease fs_root, path, deny globs, size) → render (template) →
//! policy (ACL, scopes, approval rules) → budget debit → either hold (202,
//! a durable pending approval) or the execution tail (`tail.rs`): grant →
//! intent → dispatch (WASM) → response check → effect verification →
//! receipt → ledger → respond.
//!
//! An operator's approval runs the held plan through the same tail.
//!
//! Every outcome after drain is a chained ledger event, written before the
//! answer; if that write fails the answer is 500 `evidence_persistence_failed`.
//! A debit is refunded only when the call fails before dispatch.

pub mod audit;
pub mod auth_step;
pub mod dispatch;
pub mod fs_step;
pub mod grant_step;
pub mod hold;
pub mod intent;
pub mod policy;
pub mod rate_step;
pub mod receipt_step;
pub mod render;
pub mod resolve;
pub mod response_check;
pub mod secrets_step;
pub mod tail;
pub mod trust;
pub mod validate;
pub mod verify;

use super::errors::GateError;
use super::Gate;
use crate::auth::lease::LeaseClaims;
use crate::json::Value;
use crate::net::http::{Request, Response};
use crate::registry::Action;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What the pipeline knows about a call so far (for the ledger event).
#[derive(Default)]
pub struct Call {
    /// Unique per call (UUIDv7).
    pub trace_id: String,
    /// The action id from the path (or the held plan).
    pub action_id: String,
    /// Who is calling, once known (lease subject or the held plan's).
    pub principal: Option<String>,
    /// The lease session.
    pub session_id: Option<String>,
    /// The lease id.
    pub lease_jti: Option<String>,
    /// The agent's self-reported name (`x-latchgate-agent-id`, as
    /// latchgate-mcp sends `LATCHGATE_AGENT_ID`): metadata, never identity.
    pub agent_id: Option<String>,
    /// The resolved action.
    pub action: Option<Arc<Action>>,
    /// The action's content digest.
    pub action_digest: Option<String>,
    /// `sha256:` JCS hash of the input.
    pub request_hash: Option<String>,
    /// The policy decision: (rule, policy version, reason).
    pub policy: Option<(String, String, String)>,
    /// Approval attribution for an approved run (the `approval` object).
    pub approval: Option<Value>,
    /// Grant id, once issued.
    pub grant_id: Option<String>,
    /// Set just before the provider runs: from here no refund.
    pub dispatched: bool,
    /// Run statistics, once dispatched.
    pub runtime: Option<Value>,
    /// Receipt id, once a receipt exists.
    pub receipt_id: Option<String>,
    /// The signed receipt, once built.
    pub receipt: Option<Value>,
}

impl Call {
    /// A new call with a fresh trace id.
    pub fn new(action_id: &str) -> Call {
        Call {
            trace_id: crate::crypto::uuid::v7(),
            action_id: action_id.to_string(),
            ..Call::default()
        }
    }
    /// Records who is calling from a verified lease.
    pub fn set_lease(&mut self, lease: &LeaseClaims) {
        self.principal = Some(lease.sub.clone());
        self.session_id = Some(lease.session_id.clone());
        self.lease_jti = Some(lease.jti.clone());
    }
}

/// Counts a call in flight for `status` while it lives.
pub struct InFlight<'a>(&'a Gate);

impl<'a> InFlight<'a> {
    /// Counts one more call.
    pub fn enter(gate: &'a Gate) -> InFlight<'a> {
        gate.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(gate)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The `x-latchgate-agent-id` header when it is a plain name (1..64 of
/// `[A-Za-z0-9._:@-]`); anything else is dropped, not recorded.
fn agent_id(req: &Request) -> Option<String> {
    let v = req.header("x-latchgate-agent-id")?;
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:@-".contains(&b));
    ok.then(|| v.to_string())
}

/// How a call ended when it did not fail.
enum Answer {
    /// It ran: 200 with this body (recorded by `execute`).
    Executed(Value),
    /// It waits for an operator: 202 with this body (already recorded).
    Held(Value),
}

/// Handles POST /v1/actions/{id}/execute.
pub fn execute(gate: &Gate, req: &Request, action_id: &str) -> Response {
    if gate.draining.load(Ordering::SeqCst) {
        return GateError::new(503, "draining").response();
    }
    let _counted = InFlight::enter(gate);
    let mut call = Call::new(action_id);
    call.agent_id = agent_id(req);
    match run(gate, req, &mut call) {
        Ok(Answer::Executed(body)) => match audit::record_executed(gate, &call) {
            Ok(()) => Response::json(200, body.to_json()),
            Err(e) => e.response(),
        },
        Ok(Answer::Held(body)) => Response::json(202, body.to_json()),
        Err(err) => match audit::record_refusal(gate, &call, &err) {
            Ok(()) => err.response(),
            Err(e) => e.response(),
        },
    }
}

fn run(gate: &Gate, req: &Request, call: &mut Call) -> Result<Answer, GateError> {
    let snap = gate.snapshot();
    let path = format!("/v1/actions/{}/execute", call.action_id);
    let lease = auth_step::authenticate(gate, req, "POST", &path)?;
    call.set_lease(&lease);
    if let Err(e) = rate_step::check(gate, &snap.policy, &lease.sub) {
        call.policy = Some(("rate_limit".into(), snap.policy.version.clone(), e.detail()));
        return Err(e);
    }
    let action = resolve::lookup(&snap, &call.action_id)?;
    call.action = Some(Arc::clone(&action));
    call.action_digest = Some(action.digest.clone());
    let provider = trust::provider(gate, &action)?;
    let (input, request_hash) = validate::input(&action, &req.body)?;
    call.request_hash = Some(request_hash.clone());
    fs_step::check(&action, lease.fs_root.as_deref(), &input)?;
    let task = render::task(&action, &input)?;
    let decision = policy::decide(&snap.policy, &lease, &action, &task, &input);
    call.policy = Some((
        decision.rule.to_string(),
        snap.policy.version.clone(),
        decision.reason.clone(),
    ));
    policy::enforce(&lease, &action, &decision)?;
    // Not denied: the call may touch its undeclared paths (an approval, or
    // the allowlist, covers the call as shown).
    let approved_paths = policy::unresolved_paths(&action, &input);

    secrets_step::check_required(gate, &action)?;

    // The budget is debited for a held call too: its run is reserved, and
    // a deny or expiry gives it back.
    let debited = match grant_step::debit(gate, &lease) {
        Ok(d) => d,
        Err(e) => {
            call.policy = Some((
                "budget.max_calls".into(),
                snap.policy.version.clone(),
                e.detail(),
            ));
            return Err(e);
        }
    };
    let budget = debited.then(|| lease.session_id.clone());
    if decision.outcome == crate::policy::Outcome::Hold {
        let held = hold::create(
            gate,
            call,
            &snap.policy,
            &lease,
            hold::Held {
                action: &action,
                provider: &provider,
                input,
                request_hash,
                decision: &decision,
                budget_debited: debited,
                approved_paths,
            },
        );
        if held.is_err() {
            if let Some(session) = &budget {
                gate.budgets.refund(session);
            }
        }
        return held.map(Answer::Held);
    }
    let exec = tail::Exec {
        sensitive: secrets_step::sensitive_values(&action, &input),
        subject: tail::Subject::from_lease(&lease),
        sinks: tail::widened_sinks(&action, &decision.widen_domains)?,
        action,
        provider,
        task,
        request_hash,
        budget,
        approval_hash: None,
        fs_root: lease.fs_root.clone(),
        approved_paths,
    };
    tail::run(gate, call, exec).map(Answer::Executed)
}
