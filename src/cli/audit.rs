//! `latchgate audit`: read the ledger (newest first), as a table or JSON.

use super::{arg_error, ledger_dir, unexpected, value_str};
use crate::evidence::EventFilter;
use crate::json::Value;
use lexopt::prelude::*;
use std::ffi::OsString;
use std::path::PathBuf;

const HELP: &str = "\
Usage: latchgate audit [--limit N] [--json] [filters] [--ledger DIR] [--config FILE]

Reads the ledger directly (the gate may be running or stopped), newest first.
  -l, --limit N        events to show (default 20, 1..=100000)
  --json               a JSON array of the full events instead of the table
  --action ID          only this action
  --principal P        only this principal
  --decision D         allow | allow_unverified | deny | pending_approval | error
  --event-type T       e.g. action_executed, action_denied, lease_issued
  --trace-id T         one call
  --session-id S       one lease session
  --after TIME         RFC 3339, e.g. 2026-11-23T10:00:00Z
  --before TIME        RFC 3339
  --ledger DIR         ledger directory (default: <data_dir>/ledger from the config)";

/// Runs `audit`.
pub fn run(args: Vec<OsString>) -> Result<i32, String> {
    let mut p = lexopt::Parser::from_args(args);
    let mut filter = EventFilter {
        limit: Some(20),
        ..Default::default()
    };
    let mut json = false;
    let mut ledger: Option<PathBuf> = None;
    let mut config: Option<PathBuf> = None;
    while let Some(arg) = p.next().map_err(arg_error)? {
        match arg {
            Short('l') | Long("limit") => {
                let v = value_str(&mut p, "--limit")?;
                let n: usize = v
                    .parse()
                    .map_err(|_| format!("--limit: `{v}` is not a number; allowed 1..=100000"))?;
                if !(1..=100_000).contains(&n) {
                    return Err(format!("--limit: {n} is out of range; allowed 1..=100000"));
                }
                filter.limit = Some(n);
            }
            Long("json") => json = true,
            Long("action") => filter.action_id = Some(value_str(&mut p, "--action")?),
            Long("principal") => filter.principal = Some(value_str(&mut p, "--principal")?),
            Long("decision") => {
                let d = value_str(&mut p, "--decision")?;
                const ALLOWED: &[&str] = &[
                    "allow",
                    "allow_unverified",
                    "deny",
                    "pending_approval",
                    "error",
                ];
                if !ALLOWED.contains(&d.as_str()) {
                    return Err(format!(
                        "--decision: `{d}` is not one of {}",
                        ALLOWED.join(", ")
                    ));
                }
                filter.decision = Some(d);
            }
            Long("event-type") => filter.event_type = Some(value_str(&mut p, "--event-type")?),
            Long("trace-id") => filter.trace_id = Some(value_str(&mut p, "--trace-id")?),
            Long("session-id") => filter.session_id = Some(value_str(&mut p, "--session-id")?),
            Long("after") => filter.after_ms = Some(time_flag(&mut p, "--after")?),
            Long("before") => filter.before_ms = Some(time_flag(&mut p, "--before")?),
            Long("ledger") => ledger = Some(PathBuf::from(value_str(&mut p, "--ledger")?)),
            Long("config") => config = Some(PathBuf::from(value_str(&mut p, "--config")?)),
            Short('h') | Long("help") => {
                println!("{HELP}");
                return Ok(0);
            }
            other => return Err(unexpected(other, "audit")),
        }
    }
    let dir = ledger_dir(ledger, config.as_deref())?;
    let events = crate::evidence::query_events(&dir, &filter)
        .map_err(|e| format!("cannot read the ledger: {e}"))?;
    if json {
        println!("{}", Value::Array(events).to_pretty());
        return Ok(0);
    }
    println!(
        "{:<24}  {:<16}  {:<21}  {:<22}  {:<16}  REASON",
        "TIMESTAMP", "DECISION", "EVENT", "ACTION/TARGET", "PRINCIPAL"
    );
    for e in &events {
        let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
        // Sandbox events name a destination and a reason instead of an
        // action and a policy reason.
        let either = |a: &str, b: &str| if s(a) == "-" { s(b) } else { s(a) };
        let reason: String = either("deny_reason", "reason").chars().take(60).collect();
        println!(
            "{:<24}  {:<16}  {:<21}  {:<22}  {:<16}  {}",
            s("timestamp"),
            s("decision"),
            s("event_type"),
            either("action_id", "target"),
            s("principal"),
            if reason == "-" { String::new() } else { reason }
        );
    }
    if events.is_empty() {
        eprintln!("(no events match)");
    }
    Ok(0)
}

fn time_flag(p: &mut lexopt::Parser, flag: &str) -> Result<i64, String> {
    let v = value_str(p, flag)?;
    crate::time::parse_rfc3339(&v).ok_or_else(|| {
        format!("{flag}: `{v}` is not an RFC 3339 time such as 2026-11-23T10:00:00Z")
    })
}
