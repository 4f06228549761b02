//! The TOML reader (`src/toml/`) and everything that validates TOML text:
//! latchgate.toml (`src/config/load.rs`, with its `[gateway]` and
//! `[sandbox]` tables validated as `latchgate gateway` and `latchgate
//! sandbox` do) and policy files (`src/policy/file.rs`).
//!
//! Properties: no panic; every value and error points at a line of the
//! text (1-based, within it) and a column >= 1; a parsed document converts
//! to JSON or says why not, and that JSON canonicalises unless it is deeper
//! than the JCS limit.
#![no_main]

use latchgate::toml::{Item, TValue, Table};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = u32::try_from(text.split('\n').count()).unwrap_or(u32::MAX);
    match latchgate::toml::parse(text) {
        Ok(root) => {
            check_lines(&root, lines);
            if let Ok(json) = latchgate::registry::toml_to_json(&TValue::Table(root)) {
                let _ = latchgate::json::canonical(&json);
            }
        }
        Err(e) => {
            assert!(
                e.line >= 1 && e.line <= lines,
                "error line {} of {lines}",
                e.line
            );
            assert!(e.col >= 1, "error column {}", e.col);
            assert!(!e.message.is_empty());
        }
    }

    if let Ok(cfg) = latchgate::config::load_from_str(text, "fuzz.toml", None) {
        if let Some((origin, table)) = &cfg.gateway {
            let _ = latchgate::gateway::config::from_table(origin, table);
        }
        if let Some((origin, table)) = &cfg.sandbox {
            let _ = latchgate::sandbox::config::from_gate_table(origin, table);
        }
    }
    if let Ok(policy) = latchgate::policy::Policy::parse(text, "fuzz-policy.toml") {
        let _ = policy.unknown_actions(&["echo", "http_fetch"]);
        let _ = policy.rate_limit_for("agent");
    }
});

fn check_lines(t: &Table, lines: u32) {
    for (_, item) in t.iter() {
        check_item(item, lines);
    }
}

fn check_item(item: &Item, lines: u32) {
    assert!(
        item.line >= 1 && item.line <= lines,
        "line {} of {lines}",
        item.line
    );
    match &item.value {
        TValue::Table(t) => check_lines(t, lines),
        TValue::Array(items) => items.iter().for_each(|i| check_item(i, lines)),
        _ => {}
    }
}
