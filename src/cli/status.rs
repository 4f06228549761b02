//! `latchgate status`: what the running gate is doing — listeners, actions,
//! policy, pending approvals, calls in flight, and any call that was
//! dispatched when the gate last stopped and has no receipt (reported for a
//! human to check, never re-run).

use super::operator::{error_text, parse_only_endpoint, FLAGS_HELP};
use crate::json::Value;
use std::ffi::OsString;

fn help() -> String {
    format!(
        "\
Usage: latchgate status [--json]

Asks the running gate over its operator socket.
  --json               print the gate's JSON answer
{FLAGS_HELP}

Exit: 0 the gate answered, 1 it could not be reached."
    )
}

/// Runs `status`.
pub fn run(args: Vec<OsString>) -> Result<i32, String> {
    let Some((ep, json)) = parse_only_endpoint(args, "status", &help())? else {
        return Ok(0);
    };
    let (code, body) = match ep.call("GET", "/v1/admin/status", None) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("latchgate: {e}");
            return Ok(1);
        }
    };
    if code != 200 {
        eprintln!("latchgate: {}", error_text(code, &body));
        return Ok(1);
    }
    if json {
        println!("{}", body.to_pretty());
        return Ok(0);
    }
    let s = |k: &str| match body.get(k) {
        Some(Value::String(t)) => t.clone(),
        Some(v) => v.to_json(),
        None => "-".into(),
    };
    let state = if body.get("draining") == Some(&Value::Bool(true)) {
        "draining"
    } else {
        "serving"
    };
    println!(
        "latchgate {}  {state}  up {} s (since {})",
        s("version"),
        s("uptime_seconds"),
        s("started_at")
    );
    if let Some(list) = body.get("listeners").and_then(Value::as_array) {
        for l in list {
            let g = |k: &str| l.get(k).and_then(Value::as_str).unwrap_or("-");
            println!(
                "  listener         {:<8} {:<4} {}",
                g("role"),
                g("kind"),
                g("address")
            );
        }
    }
    println!("  actions          {}", s("actions"));
    println!(
        "  policy           {} ({})",
        s("policy_version"),
        s("policy_source")
    );
    println!("  identity         {}", s("identity"));
    println!("  pending          {} approval(s)", s("pending_approvals"));
    println!("  in flight        {} call(s)", s("in_flight"));
    println!("  revocation epoch {}", s("revocation_epoch"));
    println!(
        "  ledger           {} (healthy: {})",
        s("ledger"),
        s("ledger_healthy")
    );
    let unresolved = body
        .get("unresolved_intents")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if unresolved.is_empty() {
        println!("  unresolved       none");
    } else {
        println!(
            "  unresolved       {} call(s) were dispatched when the gate last stopped and have no receipt; check their effect by hand:",
            unresolved.len()
        );
        for i in &unresolved {
            let g = |k: &str| i.get(k).and_then(Value::as_str).unwrap_or("-");
            println!(
                "    {}  action {}  principal {}  grant {}  trace {}",
                g("timestamp"),
                g("action_id"),
                g("principal"),
                g("grant_id"),
                g("trace_id")
            );
        }
    }
    Ok(0)
}
