//! The gateway's streaming `"model"` scanner (`src/gateway/model.rs`), fed
//! the request body in pieces as it streams upstream.
//!
//! Input: bytes 0..4 are piece sizes (cycled), the rest is the body.
//! Properties: no panic; the result does not depend on where the body was
//! split; a found name is short and printable; and for a body the JSON
//! parser accepts as an object with a plain top-level `"model"` string, the
//! scanner finds exactly that string (it never reads a nested one).
#![no_main]

use latchgate::gateway::model::ModelSniffer;
use latchgate::json::{parse, Value};
use libfuzzer_sys::fuzz_target;

/// Longest name the scanner keeps, in bytes (`MAX_NAME`).
const MAX_NAME: usize = 128;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (sizes, body) = data.split_at(4);
    let whole = sniff(body, &[usize::MAX]);
    let bytewise = sniff(body, &[1]);
    let sizes: Vec<usize> = sizes.iter().map(|&s| usize::from(s % 64) + 1).collect();
    let pieces = sniff(body, &sizes);
    assert_eq!(whole, bytewise, "byte-at-a-time feeding changed the result");
    assert_eq!(whole, pieces, "the split points changed the result");

    if let Some(name) = &whole {
        assert!(
            name.chars().count() <= MAX_NAME,
            "name of {} chars",
            name.chars().count()
        );
        assert!(
            !name.chars().any(char::is_control),
            "control character in {name:?}"
        );
    }

    // No escapes anywhere (the scanner keeps escaped bytes raw), so the
    // parsed string is the bytes on the wire.
    if body.contains(&b'\\') {
        return;
    }
    if let Ok(Value::Object(m)) = parse(body) {
        if let Some(Value::String(s)) = m.get("model") {
            if s.len() <= MAX_NAME && !s.chars().any(char::is_control) {
                assert_eq!(
                    whole.as_deref(),
                    Some(s.as_str()),
                    "missed the top-level model"
                );
            }
        } else if let Some(found) = &whole {
            panic!("found {found:?} in an object without a string model");
        }
    }
});

fn sniff(body: &[u8], sizes: &[usize]) -> Option<String> {
    let mut s = ModelSniffer::new();
    let mut rest = body;
    for &n in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        s.feed(piece);
        rest = tail;
    }
    s.model().map(str::to_string)
}
