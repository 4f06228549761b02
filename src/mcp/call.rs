//! One `tools/call`: execute through the gate and, when the gate holds the
//! call for an operator (202), wait for the decision.
//!
//! While held: a progress notification (when the request carried
//! `_meta.progressToken`) at the start and after each poll of
//! `GET /v1/approvals/{id}/poll`, which is asked again after the gate's
//! `retry_after_seconds` (clamped to 1..=30) for at most the approval
//! timeout. Approved → success with the receipt id; denied →
//! `policy_denied`; failed → `sandbox_error`; expired → `approval_expired`;
//! no decision in time → `pending_approval` naming the approval id. A gate
//! that is briefly down (or answers 5xx) while we wait is polled again.

use super::gate_client::{is_plain_id, Failure, GateClient};
use super::jsonrpc::{notification, Writer};
use super::log::{log, Level};
use super::tools::{self, ToolError};
use crate::json::Value;
use crate::obj;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Shortest and longest wait between polls, seconds.
const POLL_MIN_SECS: u64 = 1;
const POLL_MAX_SECS: u64 = 30;
/// Wait between polls when the gate names none or is unreachable.
const POLL_DEFAULT_SECS: u64 = 2;
/// Granularity of the cancellation check while waiting.
const CANCEL_CHECK: Duration = Duration::from_millis(50);

/// What a call needs from the server.
pub struct CallContext<'a> {
    /// The gate.
    pub gate: &'a GateClient,
    /// Where progress notifications go.
    pub writer: &'a Writer,
    /// The request's `_meta.progressToken`, if any.
    pub progress_token: Option<Value>,
    /// Set when the client cancels the request.
    pub cancelled: &'a AtomicBool,
    /// How long to wait for an operator.
    pub approval_timeout: Duration,
}

/// The error result for a request that got no usable answer.
pub fn failure(f: &Failure, action: &str) -> ToolError {
    match f {
        Failure::Unavailable(m) => {
            let mut e = ToolError::new("gate_unavailable", m.as_str()).action(action);
            e.remediation = Some(
                "start the gate (latchgate up), or point latchgate-mcp at it with --gate-socket, --gate-url or LATCHGATE_URL"
                    .into(),
            );
            e
        }
        Failure::LeaseRefused(a) => {
            let mut e = tools::from_gate(a.status, &a.body, action);
            e.gate_error = Some(a.code().to_string()).filter(|c| !c.is_empty());
            e.code = "auth_failed";
            e.message = format!("the gate refused a lease: {}", e.message);
            e
        }
        Failure::BadAnswer(m) => ToolError::new("gate_unavailable", m.as_str()).action(action),
        Failure::Internal(m) => ToolError::new("auth_failed", m.as_str()).action(action),
    }
}

/// Runs the call; `None` when the client cancelled it (no answer is sent).
pub fn run(ctx: &CallContext<'_>, action: &str, arguments: &Value) -> Option<Value> {
    if !is_plain_id(action) {
        let e = ToolError::new("action_not_found", format!("no tool named {action:?}"));
        return Some(e.result());
    }
    let answer = match ctx.gate.execute(action, arguments) {
        Ok(a) => a,
        Err(f) => return Some(failure(&f, action).result()),
    };
    if ctx.cancelled.load(Ordering::SeqCst) {
        return None;
    }
    match answer.status {
        200 => Some(tools::success(&answer.body)),
        202 => wait_for_approval(ctx, action, &answer.body),
        s => Some(tools::from_gate(s, &answer.body, action).result()),
    }
}

/// Sleeps `d`, waking early when cancelled; false when cancelled.
fn sleep_unless_cancelled(cancelled: &AtomicBool, d: Duration) -> bool {
    let end = Instant::now() + d;
    loop {
        if cancelled.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep(CANCEL_CHECK.min(end - now));
    }
}

/// Sends a progress notification when the client asked for them.
fn progress(ctx: &CallContext<'_>, step: &mut u64, message: &str) {
    let Some(token) = &ctx.progress_token else {
        return;
    };
    *step += 1;
    let params = obj! {
        "progressToken" => token.clone(),
        "progress" => *step,
        "message" => message,
    };
    if let Err(e) = ctx
        .writer
        .send(&notification("notifications/progress", params))
    {
        log!(Level::Warn, "cannot write a progress notification: {e}");
    }
}

fn held_error(
    code: &'static str,
    message: String,
    action: &str,
    approval_id: &str,
    trace: Option<&str>,
) -> Value {
    let mut e = ToolError::new(code, message).action(action);
    e.approval_id = Some(approval_id.to_string());
    e.trace_id = trace.map(str::to_string);
    if code == "pending_approval" {
        e.remediation = Some(format!(
            "ask an operator: latchgate approvals approve {approval_id}, then retry"
        ));
    }
    e.result()
}

fn wait_for_approval(ctx: &CallContext<'_>, action: &str, held: &Value) -> Option<Value> {
    let trace = held.get("trace_id").and_then(Value::as_str);
    let Some(id) = held
        .get("approval_id")
        .and_then(Value::as_str)
        .filter(|id| is_plain_id(id))
    else {
        let e = ToolError::new(
            "pending_approval",
            "held for approval, but the gate named no usable approval id",
        )
        .action(action);
        return Some(e.result());
    };
    log!(Level::Info, "tools/call {action}: held for approval {id}");
    let started = Instant::now();
    let deadline = started + ctx.approval_timeout;
    let mut step = 0u64;
    progress(
        ctx,
        &mut step,
        &format!(
            "{action} waits for an operator's approval ({id}): latchgate approvals approve {id}"
        ),
    );
    let mut wait = Duration::from_secs(POLL_DEFAULT_SECS);
    loop {
        let now = Instant::now();
        if now >= deadline {
            let secs = ctx.approval_timeout.as_secs();
            return Some(held_error(
                "pending_approval",
                format!("no decision on approval {id} within {secs} s; ask an operator: latchgate approvals approve {id}, then retry"),
                action,
                id,
                trace,
            ));
        }
        if !sleep_unless_cancelled(ctx.cancelled, wait.min(deadline - now)) {
            log!(
                Level::Info,
                "tools/call {action}: cancelled while waiting for {id}"
            );
            return None;
        }
        wait = Duration::from_secs(POLL_DEFAULT_SECS);
        let a = match ctx.gate.poll(id) {
            Ok(a) => a,
            Err(Failure::Unavailable(m)) => {
                log!(Level::Debug, "poll {id}: {m}; trying again");
                continue;
            }
            Err(f) => {
                let mut e = failure(&f, action);
                e.approval_id = Some(id.to_string());
                return Some(e.result());
            }
        };
        if a.status >= 500 {
            log!(Level::Debug, "poll {id}: HTTP {}; trying again", a.status);
            continue;
        }
        if a.status != 200 {
            let why = match a.status {
                404 => format!("the gate no longer knows approval {id}"),
                s => format!("polling approval {id} failed: HTTP {s} {}", a.code()),
            };
            return Some(held_error("pending_approval", why, action, id, trace));
        }
        let reason = a.field("reason").filter(|r| !r.is_empty());
        match a.field("status").unwrap_or_default() {
            "pending" | "claimed" => {
                let secs = a
                    .body
                    .get("retry_after_seconds")
                    .and_then(Value::as_u64)
                    .unwrap_or(POLL_DEFAULT_SECS)
                    .clamp(POLL_MIN_SECS, POLL_MAX_SECS);
                wait = Duration::from_secs(secs);
                let waited = started.elapsed().as_secs();
                progress(
                    ctx,
                    &mut step,
                    &format!("still waiting for approval {id} ({waited} s): latchgate approvals approve {id}"),
                );
            }
            "approved" => {
                let receipt = a.field("receipt_id").unwrap_or_default();
                return Some(tools::approved(receipt, id));
            }
            "denied" => {
                let why = reason.unwrap_or("operator_denied");
                let msg = format!("an operator denied approval {id}: {why}");
                return Some(held_error("policy_denied", msg, action, id, trace));
            }
            "failed" => {
                let why = reason.unwrap_or("the approved run failed");
                let msg = format!("approval {id} was granted but the run failed: {why}");
                return Some(held_error("sandbox_error", msg, action, id, trace));
            }
            "expired" => {
                let msg = format!("approval {id} expired before an operator decided");
                return Some(held_error("approval_expired", msg, action, id, trace));
            }
            other => {
                let msg = format!("unexpected approval status {other:?} for {id}");
                return Some(held_error("pending_approval", msg, action, id, trace));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::gate_client::{Answer, ClientConfig};
    use crate::mcp::transport::Endpoint;

    fn down_gate() -> GateClient {
        GateClient::new(ClientConfig {
            endpoint: Endpoint::Unix("/nonexistent/lgt-mcp/gate.sock".into()),
            explicit_base: None,
            fallback_base: "http://localhost:3000".into(),
            agent_id: "t".into(),
            fs_root: None,
        })
    }

    fn error_code(v: &Value) -> String {
        assert_eq!(v.get("isError").and_then(Value::as_bool), Some(true));
        let text = v.get("content").unwrap().as_array().unwrap()[0]
            .get("text")
            .and_then(Value::as_str)
            .unwrap();
        let e = crate::json::parse(text.as_bytes()).unwrap();
        e.get("code").and_then(Value::as_str).unwrap().to_string()
    }

    #[test]
    fn gate_down_and_bad_names_are_tool_errors() {
        let gate = down_gate();
        let writer = Writer::new(Box::new(std::io::sink()));
        let cancelled = AtomicBool::new(false);
        let ctx = CallContext {
            gate: &gate,
            writer: &writer,
            progress_token: None,
            cancelled: &cancelled,
            approval_timeout: Duration::from_secs(1),
        };
        assert_eq!(
            error_code(&run(&ctx, "echo", &obj! {}).unwrap()),
            "gate_unavailable"
        );
        assert_eq!(
            error_code(&run(&ctx, "../x", &obj! {}).unwrap()),
            "action_not_found"
        );
    }

    #[test]
    fn waiting_ends_at_the_timeout_or_on_cancel() {
        let gate = down_gate();
        let writer = Writer::new(Box::new(std::io::sink()));
        let cancelled = AtomicBool::new(false);
        let ctx = CallContext {
            gate: &gate,
            writer: &writer,
            progress_token: Some(Value::from("p")),
            cancelled: &cancelled,
            approval_timeout: Duration::from_secs(1),
        };
        let held =
            obj! { "decision" => "pending_approval", "approval_id" => "a-1", "trace_id" => "t-1" };
        let started = Instant::now();
        let r = wait_for_approval(&ctx, "echo_high", &held).unwrap();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(error_code(&r), "pending_approval");
        cancelled.store(true, Ordering::SeqCst);
        assert!(wait_for_approval(&ctx, "echo_high", &held).is_none());
        let bad = obj! { "approval_id" => "../x" };
        assert_eq!(
            error_code(&wait_for_approval(&ctx, "e", &bad).unwrap()),
            "pending_approval"
        );
    }

    #[test]
    fn lease_refusals_are_auth_failures() {
        let a = Answer {
            status: 403,
            body: obj! { "error" => "identity_forbidden", "message" => "uid 1000 is not mapped" },
        };
        let e = failure(&Failure::LeaseRefused(a), "echo");
        assert_eq!(e.code, "auth_failed");
        assert!(e.message.contains("uid 1000"));
        assert_eq!(e.gate_error.as_deref(), Some("identity_forbidden"));
    }
}
