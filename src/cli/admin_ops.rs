//! `latchgate reload`, `latchgate revoke-all`, `latchgate drain`: operations
//! on the running gate, over its operator socket. Each is a ledger event.

use super::operator::{error_text, parse_only_endpoint, FLAGS_HELP};
use crate::json::Value;
use std::ffi::OsString;

/// Which operation.
#[derive(Clone, Copy)]
pub enum Op {
    /// Load manifests and policy again; a bad file changes nothing.
    Reload,
    /// Every lease and not-yet-dispatched grant stops working.
    RevokeAll,
    /// Refuse new calls (503 `draining`); calls in flight finish.
    Drain,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Reload => "reload",
            Op::RevokeAll => "revoke-all",
            Op::Drain => "drain",
        }
    }
    fn what(self) -> &'static str {
        match self {
            Op::Reload => "Loads the manifests and the policy again and swaps them in whole.\nA bad file is refused and the previous set keeps serving.",
            Op::RevokeAll => "Every lease issued so far stops working (agents must lease again), and\nevery grant not yet dispatched is refused. Held approvals stay held.",
            Op::Drain => "New calls get 503 draining; calls in flight finish. Stop the gate after.",
        }
    }
}

/// Runs the operation.
pub fn run(op: Op, args: Vec<OsString>) -> Result<i32, String> {
    let help = format!(
        "Usage: latchgate {} [--json]\n\n{}\n  --json               print the gate's JSON answer\n{FLAGS_HELP}\n\nExit: 0 done, 1 refused or unreachable.",
        op.name(),
        op.what()
    );
    let Some((ep, json)) = parse_only_endpoint(args, op.name(), &help)? else {
        return Ok(0);
    };
    let path = format!("/v1/admin/{}", op.name());
    let (code, body) = match ep.call("POST", &path, None) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("latchgate: {e}");
            return Ok(1);
        }
    };
    if json {
        println!("{}", body.to_pretty());
    }
    if code != 200 {
        eprintln!("latchgate: {}: {}", op.name(), error_text(code, &body));
        return Ok(1);
    }
    if !json {
        let n = |k: &str| body.get(k).map(Value::to_json).unwrap_or_default();
        match op {
            Op::Reload => {
                println!(
                    "reloaded: {} actions, policy {}",
                    n("actions"),
                    body.get("policy_version")
                        .and_then(Value::as_str)
                        .unwrap_or("-")
                );
                for w in body
                    .get("warnings")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    println!("warning: {}", w.as_str().unwrap_or_default());
                }
            }
            Op::RevokeAll => println!(
                "revoked: every lease and undispatched grant (epoch {} -> {})",
                n("previous_epoch"),
                n("current_epoch")
            ),
            Op::Drain => println!("draining: {} call(s) in flight", n("in_flight")),
        }
    }
    Ok(0)
}
