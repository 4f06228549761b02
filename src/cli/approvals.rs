//! `latchgate approvals list|show|approve|deny`: the operator's decisions
//! on held calls, over the operator socket.
//!
//! Exit codes: 0 done (or already in the state asked for), 1 error (gate
//! unreachable, the approved call failed), 3 a no-op because the approval
//! was already decided otherwise (denied, expired, failed) or is being
//! decided by someone else right now.

use super::operator::{error_text, Endpoint, FLAGS_HELP};
use super::{arg_error, value_str};
use crate::json::Value;
use crate::obj;
use lexopt::prelude::*;
use std::ffi::OsString;

fn help() -> String {
    format!(
        "\
Usage: latchgate approvals list [--status S] [--limit N] [--json]
       latchgate approvals show ID [--json]
       latchgate approvals approve ID [--json]
       latchgate approvals deny ID [--reason TEXT] [--json]

Held calls wait for an operator (300 s by default, `approval_ttl_seconds`).
`approve` runs the call exactly as it was held and prints its result;
`deny` refuses it. Deciding an approval that is already decided changes
nothing and prints the stored outcome.
  --status S           pending | claimed | approved | denied | failed | expired
  --limit N            at most N (1..=200, default 50)
  --reason TEXT        why it was denied (recorded in the ledger)
  --json               print the gate's JSON answer
{FLAGS_HELP}

Exit: 0 done, 1 error, 3 already decided otherwise or being decided now."
    )
}

const STATUSES: &[&str] = &[
    "pending", "claimed", "approved", "denied", "failed", "expired",
];

/// Runs `approvals`.
pub fn run(args: Vec<OsString>) -> Result<i32, String> {
    let mut p = lexopt::Parser::from_args(args);
    let mut ep = Endpoint::default();
    let mut sub: Option<String> = None;
    let mut id: Option<String> = None;
    let mut status: Option<String> = None;
    let mut limit: Option<usize> = None;
    let mut reason: Option<String> = None;
    let mut json = false;
    while let Some(arg) = p.next().map_err(arg_error)? {
        if let Long(name) = arg {
            if Endpoint::FLAGS.contains(&name) {
                let name = name.to_string();
                ep.take(&name, &mut p)?;
                continue;
            }
        }
        match arg {
            Short('h') | Long("help") => {
                println!("{}", help());
                return Ok(0);
            }
            Long("json") => json = true,
            Long("status") => {
                let s = value_str(&mut p, "--status")?;
                if !STATUSES.contains(&s.as_str()) {
                    return Err(format!(
                        "--status: `{s}` is not one of {}",
                        STATUSES.join(", ")
                    ));
                }
                status = Some(s);
            }
            Long("limit") => {
                let v = value_str(&mut p, "--limit")?;
                match v.parse::<usize>() {
                    Ok(n) if (1..=200).contains(&n) => limit = Some(n),
                    _ => return Err(format!("--limit: `{v}` is not a number in 1..=200")),
                }
            }
            Long("reason") => reason = Some(value_str(&mut p, "--reason")?),
            Value(v) if sub.is_none() => {
                sub = Some(
                    v.into_string()
                        .map_err(|_| "approvals: the subcommand is not UTF-8")?,
                )
            }
            Value(v) if id.is_none() => {
                let text = v
                    .into_string()
                    .map_err(|_| "approvals: the id is not UTF-8")?;
                if text.is_empty()
                    || text.len() > 64
                    || !text.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
                {
                    return Err(format!(
                        "approvals: `{text}` is not an approval id (a UUID such as 01936f4e-...)"
                    ));
                }
                id = Some(text);
            }
            other => return Err(super::unexpected(other, "approvals")),
        }
    }
    let need_id = |what: &str| {
        id.clone().ok_or_else(|| {
            format!("approvals {what}: missing the approval id (see `latchgate approvals list`)")
        })
    };
    match sub.as_deref() {
        Some("list") => list(&ep, status, limit, json),
        Some("show") => show(&ep, &need_id("show")?, json),
        Some("approve") => approve(&ep, &need_id("approve")?, json),
        Some("deny") => deny(&ep, &need_id("deny")?, reason, json),
        Some(other) => Err(format!(
            "approvals: unknown subcommand `{other}`; use list, show, approve or deny"
        )),
        None => Err("approvals: missing subcommand; use list, show, approve or deny".into()),
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("-")
}

fn list(
    ep: &Endpoint,
    status: Option<String>,
    limit: Option<usize>,
    json: bool,
) -> Result<i32, String> {
    let mut path = "/v1/approvals".to_string();
    let mut q = Vec::new();
    if let Some(st) = status {
        q.push(format!("status={st}"));
    }
    if let Some(l) = limit {
        q.push(format!("limit={l}"));
    }
    if !q.is_empty() {
        path = format!("{path}?{}", q.join("&"));
    }
    let (code, body) = ep.call("GET", &path, None)?;
    if code != 200 {
        return Err(error_text(code, &body));
    }
    if json {
        println!("{}", body.to_pretty());
        return Ok(0);
    }
    let items = body
        .get("approvals")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if items.is_empty() {
        println!("no approvals");
        return Ok(0);
    }
    println!(
        "{:<36}  {:<8}  {:<20}  {:<20}  {:<8}  EXPIRES",
        "APPROVAL", "STATUS", "ACTION", "PRINCIPAL", "RISK"
    );
    for a in &items {
        println!(
            "{:<36}  {:<8}  {:<20}  {:<20}  {:<8}  {}",
            s(a, "approval_id"),
            s(a, "status"),
            s(a, "action_id"),
            s(a, "principal"),
            s(a, "risk_level"),
            s(a, "expires_at")
        );
    }
    Ok(0)
}

fn show(ep: &Endpoint, id: &str, json: bool) -> Result<i32, String> {
    let (code, body) = ep.call("GET", &format!("/v1/approvals/{id}"), None)?;
    if code != 200 {
        return Err(error_text(code, &body));
    }
    if json {
        println!("{}", body.to_pretty());
        return Ok(0);
    }
    for k in [
        "approval_id",
        "status",
        "action_id",
        "action_version",
        "risk_level",
        "principal",
        "session_id",
        "created_at",
        "expires_at",
        "policy_rule",
        "policy_reason",
        "request_hash",
        "plan_hash",
        "fs_root",
        "decided_by",
        "receipt_id",
        "reason",
    ] {
        if let Some(v) = body.get(k) {
            let text = match v {
                Value::String(t) => t.clone(),
                Value::Null => continue,
                other => other.to_json(),
            };
            println!("{k:<16} {text}");
        }
    }
    if let Some(d) = body.get("approved_domains").and_then(Value::as_array) {
        if !d.is_empty() {
            let list: Vec<&str> = d.iter().filter_map(Value::as_str).collect();
            println!(
                "{:<16} {} (approving allows these hosts for this call)",
                "new hosts",
                list.join(", ")
            );
        }
    }
    if let Some(p) = body.get("approved_paths").and_then(Value::as_array) {
        if !p.is_empty() {
            let list: Vec<&str> = p.iter().filter_map(Value::as_str).collect();
            println!(
                "{:<16} {} (approving allows these paths for this call)",
                "new paths",
                list.join(", ")
            );
        }
    }
    if let Some(input) = body.get("input") {
        println!("input\n{}", input.to_pretty());
    }
    Ok(0)
}

/// The exit code of a no-op answer.
fn noop_code(decision: &str, wanted: &str) -> i32 {
    if decision == wanted {
        0
    } else {
        3
    }
}

fn approve(ep: &Endpoint, id: &str, json: bool) -> Result<i32, String> {
    let (code, body) = ep.call("POST", &format!("/v1/approvals/{id}/approve"), None)?;
    if json {
        println!("{}", body.to_pretty());
    }
    let decision = s(&body, "decision").to_string();
    match (code, decision.as_str()) {
        (200, "executed") => {
            if !json {
                println!(
                    "approved and executed: receipt {} (verification: {})",
                    s(&body, "receipt_id"),
                    s(&body, "verification_outcome")
                );
                if let Some(out) = body.get("output") {
                    println!("{}", out.to_pretty());
                }
            }
            Ok(0)
        }
        (200, d) if d.starts_with("already_") => {
            if !json {
                let mut line = format!(
                    "nothing done: approval {id} is already {}",
                    s(&body, "status")
                );
                if let Some(r) = body.get("receipt_id").and_then(Value::as_str) {
                    line.push_str(&format!(" (receipt {r})"));
                }
                for k in ["deny_reason", "reason"] {
                    if let Some(r) = body.get(k).and_then(Value::as_str) {
                        line.push_str(&format!(" ({r})"));
                    }
                }
                println!("{line}");
            }
            Ok(noop_code(d, "already_approved"))
        }
        (409, _) => {
            if !json {
                println!("nothing done: {}", error_text(code, &body));
            }
            Ok(3)
        }
        _ => {
            if !json {
                eprintln!(
                    "latchgate: the approved call failed: {}",
                    error_text(code, &body)
                );
                if let Some(r) = body.get("receipt_id").and_then(Value::as_str) {
                    eprintln!("latchgate: its receipt: {r}");
                }
            }
            Ok(1)
        }
    }
}

fn deny(ep: &Endpoint, id: &str, reason: Option<String>, json: bool) -> Result<i32, String> {
    let body_in = obj! { "reason" => reason };
    let (code, body) = ep.call("POST", &format!("/v1/approvals/{id}/deny"), Some(&body_in))?;
    if json {
        println!("{}", body.to_pretty());
    }
    let decision = s(&body, "decision").to_string();
    match (code, decision.as_str()) {
        (200, "deny") => {
            if !json {
                println!("denied: approval {id} ({})", s(&body, "deny_reason"));
            }
            Ok(0)
        }
        (200, d) if d.starts_with("already_") => {
            if !json {
                println!(
                    "nothing done: approval {id} is already {}",
                    s(&body, "status")
                );
            }
            Ok(noop_code(d, "already_denied"))
        }
        (409, _) => {
            if !json {
                println!("nothing done: {}", error_text(code, &body));
            }
            Ok(3)
        }
        _ => Err(error_text(code, &body)),
    }
}
