//! Reading events back for audit: all of them, or a filtered page newest
//! first. Reads events.jsonl directly, so it works offline and online
//! (a line still being written is skipped).

use super::ledger::EVENTS_FILE;
use super::lines::{Ending, Lines};
use super::LedgerError;
use crate::json::{self, Value};
use std::collections::VecDeque;
use std::fs::File;
use std::path::Path;

/// Which events an audit query wants. Every set field must match exactly.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventFilter {
    /// `action_id` equals.
    pub action_id: Option<String>,
    /// `principal` equals.
    pub principal: Option<String>,
    /// `decision` equals.
    pub decision: Option<String>,
    /// `event_type` equals.
    pub event_type: Option<String>,
    /// `trace_id` equals.
    pub trace_id: Option<String>,
    /// `session_id` equals.
    pub session_id: Option<String>,
    /// `timestamp` strictly after this many ms since the epoch.
    pub after_ms: Option<i64>,
    /// `timestamp` strictly before this many ms since the epoch.
    pub before_ms: Option<i64>,
    /// At most this many results (the newest); `None` for all.
    pub limit: Option<usize>,
}

impl EventFilter {
    /// True when `record` passes every set condition. With a time bound,
    /// records without a parseable `timestamp` do not match.
    pub fn matches(&self, record: &Value) -> bool {
        // Checkpoints are bookkeeping, not decisions: shown only when asked for.
        let is_checkpoint = record.get("event_type").and_then(Value::as_str) == Some("checkpoint");
        if is_checkpoint && self.event_type.as_deref() != Some("checkpoint") {
            return false;
        }
        let fields = [
            ("action_id", &self.action_id),
            ("principal", &self.principal),
            ("decision", &self.decision),
            ("event_type", &self.event_type),
            ("trace_id", &self.trace_id),
            ("session_id", &self.session_id),
        ];
        for (name, want) in fields {
            if let Some(want) = want {
                if record.get(name).and_then(Value::as_str) != Some(want.as_str()) {
                    return false;
                }
            }
        }
        if self.after_ms.is_none() && self.before_ms.is_none() {
            return true;
        }
        let Some(ts) = record
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(crate::time::parse_rfc3339)
        else {
            return false;
        };
        self.after_ms.is_none_or(|a| ts > a) && self.before_ms.is_none_or(|b| ts < b)
    }
}

/// Calls `f` on every complete record in file order. A missing file has
/// no records; an unparseable complete line is an error.
pub fn for_each(dir: &Path, mut f: impl FnMut(Value)) -> Result<(), LedgerError> {
    let path = dir.join(EVENTS_FILE);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(LedgerError::io(&path, "open", e)),
    };
    for item in Lines::new(file) {
        let line = item.map_err(|e| LedgerError::io(&path, "read", e))?;
        match line.ending {
            Ending::Complete => {}
            Ending::Torn => break,
            Ending::TooLong => {
                return Err(LedgerError::Corrupt {
                    line: line.no,
                    reason: "line is longer than any record".into(),
                })
            }
        }
        let record = json::parse(&line.bytes).map_err(|e| LedgerError::Corrupt {
            line: line.no,
            reason: format!("not JSON: {e}"),
        })?;
        f(record);
    }
    Ok(())
}

/// Every record of the ledger in `dir`, oldest first.
pub fn read_events(dir: &Path) -> Result<Vec<Value>, LedgerError> {
    let mut out = Vec::new();
    for_each(dir, |r| out.push(r))?;
    Ok(out)
}

/// Records matching `filter`, newest first, at most `filter.limit`.
pub fn query_events(dir: &Path, filter: &EventFilter) -> Result<Vec<Value>, LedgerError> {
    let mut window = VecDeque::new();
    for_each(dir, |r| {
        if filter.matches(&r) {
            window.push_back(r);
            if filter.limit.is_some_and(|l| window.len() > l) {
                window.pop_front();
            }
        }
    })?;
    Ok(window.into_iter().rev().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::testutil::TempDir;
    use crate::obj;

    fn write(dir: &Path, records: &[Value]) {
        let mut text = String::new();
        for r in records {
            text.push_str(&r.to_json());
            text.push('\n');
        }
        std::fs::write(dir.join(EVENTS_FILE), text).unwrap();
    }

    fn ev(n: i64, decision: &str, principal: &str) -> Value {
        obj! {
            "seq" => n,
            "trace_id" => format!("t{n}"),
            "timestamp" => crate::time::rfc3339_millis(1_700_000_000_000 + n * 1000),
            "event_type" => "execute",
            "decision" => decision,
            "principal" => principal,
            "action_id" => "http_get",
        }
    }

    #[test]
    fn filters_newest_first_with_limit() {
        let t = TempDir::new("query");
        let all: Vec<Value> = (1..=6)
            .map(|n| ev(n, if n % 2 == 0 { "deny" } else { "allow" }, "alice"))
            .collect();
        write(t.path(), &all);
        assert_eq!(read_events(t.path()).unwrap().len(), 6);

        let f = EventFilter {
            decision: Some("deny".into()),
            limit: Some(2),
            ..Default::default()
        };
        let got: Vec<i64> = query_events(t.path(), &f)
            .unwrap()
            .iter()
            .map(|r| r.get("seq").unwrap().as_i64().unwrap())
            .collect();
        assert_eq!(got, vec![6, 4]);

        let f = EventFilter {
            after_ms: Some(1_700_000_002_000),
            before_ms: Some(1_700_000_005_000),
            ..Default::default()
        };
        let got: Vec<i64> = query_events(t.path(), &f)
            .unwrap()
            .iter()
            .map(|r| r.get("seq").unwrap().as_i64().unwrap())
            .collect();
        assert_eq!(got, vec![4, 3]);

        let f = EventFilter {
            principal: Some("bob".into()),
            ..Default::default()
        };
        assert!(query_events(t.path(), &f).unwrap().is_empty());
        let f = EventFilter {
            trace_id: Some("t5".into()),
            action_id: Some("http_get".into()),
            ..Default::default()
        };
        assert_eq!(query_events(t.path(), &f).unwrap().len(), 1);
    }

    #[test]
    fn missing_file_is_empty_torn_tail_skipped_garbage_refused() {
        let t = TempDir::new("query-edge");
        assert!(read_events(t.path()).unwrap().is_empty());
        std::fs::write(t.path().join(EVENTS_FILE), b"{\"seq\":1}\n{\"seq\":2").unwrap();
        assert_eq!(read_events(t.path()).unwrap().len(), 1);
        std::fs::write(t.path().join(EVENTS_FILE), b"{\"seq\":1}\nnope\n").unwrap();
        assert!(read_events(t.path()).is_err());
    }

    #[test]
    fn time_bounds_exclude_records_without_timestamp() {
        let f = EventFilter {
            after_ms: Some(0),
            ..Default::default()
        };
        assert!(!f.matches(&obj! { "seq" => 1 }));
        assert!(EventFilter::default().matches(&obj! { "seq" => 1 }));
    }
}
