//! Start-up reconciliation: an `execution_intent` in the ledger with no
//! later event for its grant means a call was dispatched (or about to be)
//! when the gate stopped. Its effect may or may not have happened, and there
//! is no receipt. Such intents are reported by `latchgate status` for a
//! human to check; nothing is ever re-run.

use crate::evidence::Ledger;
use crate::json::Value;
use crate::obj;
use std::collections::HashMap;

/// The unresolved intents of `ledger`, oldest first.
pub fn unresolved(ledger: &Ledger) -> Result<Vec<Value>, String> {
    let mut open: HashMap<String, (usize, Value)> = HashMap::new();
    let mut seq = 0usize;
    crate::evidence::query::for_each(ledger.dir(), |event| {
        let Some(grant) = event.get("grant_id").and_then(Value::as_str) else {
            return;
        };
        let kind = event.get("event_type").and_then(Value::as_str);
        if kind == Some("execution_intent") {
            let field = |k: &str| event.get(k).cloned().unwrap_or(Value::Null);
            let summary = obj! {
                "grant_id" => grant,
                "trace_id" => field("trace_id"),
                "action_id" => field("action_id"),
                "principal" => field("principal"),
                "request_hash" => field("request_hash"),
                "timestamp" => field("timestamp"),
            };
            seq += 1;
            open.insert(grant.to_string(), (seq, summary));
        } else {
            open.remove(grant);
        }
    })
    .map_err(|e| format!("reading the ledger for unresolved intents: {e}"))?;
    let mut list: Vec<(usize, Value)> = open.into_values().collect();
    list.sort_by_key(|(n, _)| *n);
    Ok(list.into_iter().map(|(_, v)| v).collect())
}
