//! RFC 8785 canonicalisation (`src/json/jcs.rs`) of parsed outside input:
//! the request hash of every tool call and the ledger's chain hashes.
//!
//! Properties: no panic; whatever the parser accepts (default depth) can be
//! canonicalised; the canonical text is valid JSON and a fixed point
//! (canonical(parse(canonical(x))) == canonical(x)); member order does not
//! matter; the hash is SHA-256 of the canonical text.
#![no_main]

use latchgate::crypto::sha256_hex;
use latchgate::json::{canonical, canonical_sha256, canonical_sha256_hex, parse, Map, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = parse(data) else {
        return;
    };
    let c1 = canonical(&v).expect("a parsed value canonicalises (same depth limit)");
    let v2 =
        parse(c1.as_bytes()).unwrap_or_else(|e| panic!("canonical text does not parse: {e}: {c1}"));
    let c2 = canonical(&v2).expect("canonical text canonicalises");
    assert_eq!(c1, c2, "canonical form is not a fixed point");

    let reversed = reverse_members(&v);
    assert_eq!(
        canonical(&reversed).as_deref(),
        Ok(c1.as_str()),
        "member order changed the canonical form"
    );

    let hex = canonical_sha256_hex(&v).expect("hash of a canonicalisable value");
    assert_eq!(hex, sha256_hex(c1.as_bytes()));
    assert_eq!(canonical_sha256(&v), Ok(format!("sha256:{hex}")));
});

/// The same value with every object's members in reverse order.
fn reverse_members(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(reverse_members).collect()),
        Value::Object(m) => {
            let mut out = Map::with_capacity(m.len());
            let entries: Vec<(&String, &Value)> = m.iter().collect();
            for (k, item) in entries.into_iter().rev() {
                out.insert(k.clone(), reverse_members(item));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}
