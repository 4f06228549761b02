//! RFC 8785 JSON Canonicalization Scheme.
//!
//! Object keys sorted by their UTF-16 code units, no whitespace, strings
//! escaped per RFC 8785 §3.2.2.2, numbers as ECMAScript writes them.
//! Integers with |i| ≤ 2^53 print exactly; larger ones go through f64 as
//! JavaScript would see them (so 9007199254740993 prints as
//! 9007199254740992). Nesting deeper than [`MAX_DEPTH`] is refused.
use super::write::{write_f64, write_int, write_scalar, write_string};
use super::{Number, Value};
use std::cmp::Ordering;

/// Deepest nesting of arrays/objects accepted (top-level container = 1).
pub const MAX_DEPTH: usize = 64;

/// Largest integer magnitude that an IEEE double holds exactly.
const EXACT_INT: u64 = 1 << 53;

/// Why a value cannot be canonicalised.
#[derive(Clone, Debug, PartialEq)]
pub enum JcsError {
    /// Nesting deeper than the limit.
    TooDeep,
}

impl std::fmt::Display for JcsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JcsError::TooDeep => write!(f, "JSON nested deeper than {MAX_DEPTH} levels"),
        }
    }
}

impl std::error::Error for JcsError {}

/// The JCS text of `v`.
pub fn canonical(v: &Value) -> Result<String, JcsError> {
    let mut out = String::new();
    write_jcs(v, &mut out, 0)?;
    Ok(out)
}

/// `"sha256:" + hex(SHA-256(JCS(v)))`.
pub fn canonical_sha256(v: &Value) -> Result<String, JcsError> {
    Ok(format!("sha256:{}", canonical_sha256_hex(v)?))
}

/// Lowercase hex SHA-256 of the JCS text, without the `sha256:` prefix
/// (the form `result_hash` uses).
pub fn canonical_sha256_hex(v: &Value) -> Result<String, JcsError> {
    let text = canonical(v)?;
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    Ok(hex(digest.as_ref()))
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
        }
    }
    out
}

/// `depth` counts the containers around `v`.
fn write_jcs(v: &Value, out: &mut String, depth: usize) -> Result<(), JcsError> {
    match v {
        Value::Array(items) => {
            let depth = enter(depth)?;
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_jcs(item, out, depth)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let depth = enter(depth)?;
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // Keys are unique (Map invariant), so the order is total.
            entries.sort_unstable_by(|a, b| utf16_cmp(a.0, b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_jcs(item, out, depth)?;
            }
            out.push('}');
        }
        scalar => write_scalar(scalar, out, write_number),
    }
    Ok(())
}

fn enter(depth: usize) -> Result<usize, JcsError> {
    let depth = depth + 1;
    if depth > MAX_DEPTH {
        return Err(JcsError::TooDeep);
    }
    Ok(depth)
}

/// A number as ECMAScript prints it.
fn write_number(n: Number, out: &mut String) {
    match n {
        Number::Int(i) if i.unsigned_abs() <= EXACT_INT => write_int(i, out),
        // Beyond 2^53 a JavaScript reader sees the nearest double.
        Number::Int(i) => write_f64(i as f64, out),
        Number::Float(f) => write_f64(f, out),
    }
}

/// Order of two strings by UTF-16 code units (RFC 8785 §3.2.3).
fn utf16_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

#[cfg(test)]
mod tests {
    use super::super::{parse, Map};
    use super::*;

    fn jcs_of(text: &str) -> String {
        match parse(text.as_bytes()).map(|v| canonical(&v)) {
            Ok(Ok(s)) => s,
            other => panic!("{text}: {other:?}"),
        }
    }

    /// The committed copy in tests/vectors, else the shared original beside the repo.
    fn golden_file() -> Vec<u8> {
        let here = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/jcs-golden.json");
        let shared = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/vectors/jcs-golden.json"
        );
        match std::fs::read(here).or_else(|_| std::fs::read(shared)) {
            Ok(bytes) => bytes,
            Err(e) => panic!("jcs-golden.json missing at {here} and {shared}: {e}"),
        }
    }

    #[test]
    fn golden_vectors() {
        let doc = parse(&golden_file()).ok();
        let cases = doc
            .as_ref()
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        assert_eq!(cases.len(), 8, "expected the 8 golden entries");
        for case in &cases {
            let name = case
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("?");
            let input = case.get("input").unwrap_or(&Value::Null);
            let text = canonical(input);
            if let Some(want) = case.get("canonical").and_then(Value::as_str) {
                assert_eq!(text.as_deref(), Ok(want), "{name}: canonical");
            }
            if let Some(want) = case.get("canonical_hex").and_then(Value::as_str) {
                let got = text.as_ref().map(|t| hex(t.as_bytes()));
                assert_eq!(got.as_deref(), Ok(want), "{name}: canonical_hex");
            }
            let want = case.get("sha256").and_then(Value::as_str);
            assert!(want.is_some(), "{name}: no sha256");
            assert_eq!(
                canonical_sha256(input).ok().as_deref(),
                want,
                "{name}: sha256"
            );
        }
    }

    #[test]
    fn sha256_forms() {
        // SHA-256 of "{}".
        let want = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
        let empty = Value::Object(Map::new());
        assert_eq!(canonical_sha256_hex(&empty).as_deref(), Ok(want));
        assert_eq!(canonical_sha256(&empty), Ok(format!("sha256:{want}")));
    }

    #[test]
    fn rfc8785_example() {
        // RFC 8785 §3.2.2 (the "numbers / string / literals" sample).
        let input = r#"{
          "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#;
        let want = r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#;
        assert_eq!(jcs_of(input), want);
    }

    #[test]
    fn rfc8785_numbers() {
        let cases = [
            ("1e30", "1e+30"),
            ("4.5", "4.5"),
            ("4.50", "4.5"),
            ("2e-3", "0.002"),
            ("0.000001", "0.000001"),
            ("1e-7", "1e-7"),
            ("333333333.33333329", "333333333.3333333"),
            ("-0.0", "0"),
            ("-0", "0"),
            ("1.0", "1"),
            ("100", "100"),
            ("1e21", "1e+21"),
            ("999999999999999999999", "1e+21"),
            ("1e20", "100000000000000000000"),
            ("9007199254740992", "9007199254740992"),
            ("-9007199254740992", "-9007199254740992"),
            // Exact in i64 but not in a double: printed as JavaScript sees it.
            ("9007199254740993", "9007199254740992"),
            ("9223372036854775807", "9223372036854776000"),
            ("-9223372036854775808", "-9223372036854776000"),
        ];
        for (input, want) in cases {
            assert_eq!(jcs_of(input), want, "JCS of {input}");
        }
        // RFC 8785 Appendix B: IEEE-754 bit patterns and their text.
        let bits: [(u64, &str); 22] = [
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
        ];
        for (b, want) in bits {
            let v = Value::Number(Number::Float(f64::from_bits(b)));
            assert_eq!(canonical(&v).as_deref(), Ok(want), "bits {b:#018x}");
        }
    }

    #[test]
    fn utf16_key_order() {
        // RFC 8785 §3.2.3: sorting by UTF-16 puts U+1F600 (D83D DE00)
        // before U+FB33, unlike UTF-8 or code point order.
        let input = r#"{
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        let want = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
            \"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\
            \"😀\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
        assert_eq!(jcs_of(input), want);
    }

    #[test]
    fn string_escapes() {
        let v = Value::from("\u{0}\u{8}\t\n\u{b}\u{c}\r\u{1f}\"\\/\u{7f}é");
        assert_eq!(
            canonical(&v).as_deref(),
            Ok("\"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f\\\"\\\\/\u{7f}é\"")
        );
    }

    #[test]
    fn depth_limit() {
        let mut v = Value::from(1);
        for _ in 0..MAX_DEPTH {
            v = Value::Array(vec![v]);
        }
        assert!(canonical(&v).is_ok());
        let deeper = Value::Array(vec![v.clone()]);
        assert_eq!(canonical(&deeper), Err(JcsError::TooDeep));
        assert_eq!(canonical_sha256(&deeper), Err(JcsError::TooDeep));
        let in_object = crate::obj! { "k" => v };
        assert_eq!(canonical(&in_object), Err(JcsError::TooDeep));
    }

    #[test]
    fn insertion_order_does_not_matter() {
        let a = crate::obj! { "b" => 1, "a" => crate::obj! { "y" => 2, "x" => 3 } };
        let b = crate::obj! { "a" => crate::obj! { "x" => 3, "y" => 2 }, "b" => 1 };
        assert_eq!(canonical_sha256(&a), canonical_sha256(&b));
        assert_eq!(canonical(&a).as_deref(), Ok(r#"{"a":{"x":3,"y":2},"b":1}"#));
    }
}
