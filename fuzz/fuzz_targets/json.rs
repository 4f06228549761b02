//! The strict JSON parser (`src/json/parse.rs`) and the writers
//! (`src/json/write.rs`).
//!
//! Properties: no panic; parse → write → parse gives the same value (numbers
//! compared as doubles: `5.0` may come back as the integer 5); the compact
//! writer is a fixed point (writing the re-parsed value gives the same
//! text); the pretty form parses to the same value; the depth limit is
//! monotonic (a document accepted under a limit is accepted, unchanged,
//! under any larger one).
#![no_main]

use latchgate::json::{parse, parse_with, Limits, Number, Value, MAX_DEPTH_CAP};
use libfuzzer_sys::fuzz_target;

/// The default limit of `parse`.
const DEFAULT_DEPTH: usize = 64;

fuzz_target!(|data: &[u8]| {
    let parsed = parse(data);
    // A second limit, derived from the input, on the same bytes.
    let depth = data.len() % (MAX_DEPTH_CAP + 8);
    let limited = parse_with(data, Limits { max_depth: depth });
    match (&parsed, &limited) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "the depth limit changed the value"),
        (Ok(_), Err(e)) => assert!(depth < DEFAULT_DEPTH, "refused under a larger limit: {e}"),
        (Err(e), Ok(_)) => assert!(depth > DEFAULT_DEPTH, "refused under a larger limit: {e}"),
        (Err(a), Err(_)) => assert!(a.offset <= data.len(), "offset past the end"),
    }
    let Ok(v) = parsed else {
        return;
    };

    let text = v.to_json();
    let again = parse(text.as_bytes())
        .unwrap_or_else(|e| panic!("our own output does not parse: {e}: {text}"));
    assert!(same(&v, &again), "round trip changed the value: {text}");
    assert_eq!(again.to_json(), text, "the writer is not a fixed point");

    let pretty = v.to_pretty();
    let again = parse(pretty.as_bytes())
        .unwrap_or_else(|e| panic!("our own pretty output does not parse: {e}: {pretty}"));
    assert!(
        same(&v, &again),
        "pretty round trip changed the value: {pretty}"
    );
});

/// Equal values; numbers by value (an integral float may come back as an
/// integer), objects in the same order.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => same_number(*x, *y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && same(v1, v2))
        }
        _ => a == b,
    }
}

fn same_number(a: Number, b: Number) -> bool {
    match (a, b) {
        (Number::Int(x), Number::Int(y)) => x == y,
        (Number::Float(x), Number::Float(y)) => x == y,
        // A float is written in its shortest form: at 2^53 and above that
        // text may be an integer literal, read back as the exact integer,
        // which is the same double (and the same text when written again).
        (Number::Int(i), Number::Float(f)) | (Number::Float(f), Number::Int(i)) => i as f64 == f,
    }
}
