//! Compact and pretty JSON writers, plus the string and number forms that
//! the JCS writer shares.
//!
//! Strings escape only `"`, `\` and control characters (`\b \f \n \r \t`,
//! others as lowercase `\u00xx`); everything else is written literally.
//! Floats use the ECMAScript `Number.prototype.toString` form (shortest
//! round-trip digits), which is also what RFC 8785 requires.
use super::{Number, Value};
use std::fmt::Write;

pub(super) fn write_compact(v: &Value, out: &mut String) {
    match v {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_compact(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_compact(item, out);
            }
            out.push('}');
        }
        scalar => write_scalar(scalar, out, write_number),
    }
}

/// Indented form: two spaces per level, `"key": value`, empty containers
/// as `[]`/`{}`, no trailing newline. `indent` is the current level.
pub(super) fn write_pretty(v: &Value, out: &mut String, indent: usize) {
    match v {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent + 1);
                write_pretty(item, out, indent + 1);
            }
            newline(out, indent);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent + 1);
                write_string(key, out);
                out.push_str(": ");
                write_pretty(item, out, indent + 1);
            }
            newline(out, indent);
            out.push('}');
        }
        other => write_compact(other, out),
    }
}

fn newline(out: &mut String, indent: usize) {
    out.push('\n');
    for _ in 0..indent {
        out.push_str("  ");
    }
}

/// Writes a non-container value; `number` decides how numbers look
/// (the compact and JCS writers differ only for huge integers).
pub(super) fn write_scalar(v: &Value, out: &mut String, number: fn(Number, &mut String)) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => number(*n, out),
        Value::String(s) => write_string(s, out),
        // Containers are handled by the callers; never reached.
        Value::Array(_) | Value::Object(_) => out.push_str("null"),
    }
}

/// Integers exactly, floats in ECMAScript form.
fn write_number(n: Number, out: &mut String) {
    match n {
        Number::Int(i) => write_int(i, out),
        Number::Float(f) => write_f64(f, out),
    }
}

/// An integer in decimal.
pub(super) fn write_int(i: i64, out: &mut String) {
    // Writing into a String cannot fail.
    let _ = write!(out, "{i}");
}

/// A quoted, escaped JSON string (the RFC 8785 escaping rules).
pub(super) fn write_string(s: &str, out: &mut String) {
    out.push('"');
    let mut run_start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `i` is an ASCII byte, so both slice ends are char boundaries.
        out.push_str(s.get(run_start..i).unwrap_or_default());
        run_start = i + 1;
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0x0f));
        } else {
            out.push_str(short);
        }
    }
    out.push_str(s.get(run_start..).unwrap_or_default());
    out.push('"');
}

fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16).unwrap_or('0')
}

/// ECMAScript `Number.prototype.toString(f)` (ECMA-262 Number::toString):
/// shortest round-trip digits; plain notation for 1e-7 < |f| < 1e21,
/// exponent form (`1e+21`, `1.5e-7`) outside; `-0` as `0`. NaN and
/// infinities (which `Number::Float` never holds) are written as `null`,
/// as `JSON.stringify` does.
pub(super) fn write_f64(f: f64, out: &mut String) {
    if !f.is_finite() {
        out.push_str("null");
        return;
    }
    if f == 0.0 {
        out.push('0');
        return;
    }
    let (digits, exp) = shortest_digits(f.abs());
    let k = digits.len() as i64;
    // The value is 0.digits × 10^n.
    let n = exp + 1;
    if f < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        push_zeros(out, n - k);
    } else if 0 < n && n <= 21 {
        // 0 < n < k here, so the split is inside the digits.
        let (int_part, frac_part) = digits.split_at_checked(n as usize).unwrap_or((&digits, ""));
        out.push_str(int_part);
        out.push('.');
        out.push_str(frac_part);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        push_zeros(out, -n);
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at_checked(1).unwrap_or((&digits, ""));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        let _ = write!(out, "{}", (n - 1).abs());
    }
}

/// The shortest digits that round-trip to `f` (> 0) and the decimal
/// exponent of the first one: `f ≈ d.ddd × 10^exp`.
fn shortest_digits(f: f64) -> (String, i64) {
    // Rust's `{:e}` gives the shortest round-trip digits, closest to `f`.
    let (digits, exp) = sci_digits(&format!("{f:e}"));
    // Candidates exactly as close as each other need 16+ digits (the
    // spacing of doubles); only then check the tie rule.
    if digits.len() >= 16 {
        if let Some(even) = even_on_tie(f, &digits, exp) {
            return (even, exp);
        }
    }
    (digits, exp)
}

/// Splits Rust's "d.ddde<exp>" into its digits and exponent.
fn sci_digits(sci: &str) -> (String, i64) {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let digits = mantissa.chars().filter(char::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0))
}

/// When `f` lies exactly midway between Rust's pick and a neighbour with
/// as many digits that also round-trips, ECMAScript takes the even one
/// (Rust rounds such ties up): returns that neighbour when it is even.
fn even_on_tie(f: f64, digits: &str, exp: i64) -> Option<String> {
    let d: u64 = digits.parse().ok()?;
    let k = digits.len() as i64;
    // The exact value of `f`: a double has at most 767 significant digits.
    let (exact, exact_exp) = sci_digits(&format!("{f:.800e}"));
    let exact = exact.trim_end_matches('0');
    for alt in [d.checked_sub(1)?, d.checked_add(1)?] {
        let alt_digits = alt.to_string();
        let round_trips = format!("{alt_digits}e{}", exp - (k - 1)).parse::<f64>() == Ok(f);
        if alt_digits.len() != digits.len() || !round_trips || alt % 2 != 0 {
            continue;
        }
        // The midpoint d ± 0.5, as digits with the same leading exponent.
        let mid = (d.min(alt) * 10 + 5).to_string();
        if exact == mid && exact_exp == exp {
            return Some(alt_digits);
        }
    }
    None
}

fn push_zeros(out: &mut String, count: i64) {
    for _ in 0..count {
        out.push('0');
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse, Map};
    use super::*;

    fn es(f: f64) -> String {
        let mut s = String::new();
        write_f64(f, &mut s);
        s
    }

    #[test]
    fn ecmascript_numbers() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (1.5, "1.5"),
            (4.5, "4.5"),
            (0.1, "0.1"),
            (0.002, "0.002"),
            (100.0, "100"),
            (123.456, "123.456"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (1e30, "1e+30"),
            (0.000001, "0.000001"),
            (0.0000015, "0.0000015"),
            (1e-7, "1e-7"),
            (1.25e-7, "1.25e-7"),
            (-1e-7, "-1e-7"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN, "-1.7976931348623157e+308"),
            (9007199254740992.0, "9007199254740992"),
            (1424953923781206.2, "1424953923781206.2"),
        ];
        for (f, want) in cases {
            assert_eq!(es(*f), *want, "formatting {f:e}");
        }
        // The RFC 8785 sample literal, more digits than a double holds.
        assert_eq!(
            "333333333.33333329".parse().map(es),
            Ok("333333333.3333333".to_string())
        );
        assert_eq!(es(f64::NAN), "null");
        assert_eq!(es(f64::INFINITY), "null");
    }

    #[test]
    fn compact() {
        let mut inner = Map::new();
        inner.insert("z", 1);
        inner.insert(
            "a",
            Value::Array(vec![Value::Null, true.into(), 2.5.into()]),
        );
        let v = crate::obj! { "s" => "q\"\\/\n\t\u{1}\u{7f}é😀", "o" => inner, "e" => Map::new() };
        assert_eq!(
            v.to_json(),
            "{\"s\":\"q\\\"\\\\/\\n\\t\\u0001\u{7f}é😀\",\"o\":{\"z\":1,\"a\":[null,true,2.5]},\"e\":{}}"
        );
        assert_eq!(Value::from(i64::MIN).to_json(), "-9223372036854775808");
        assert_eq!(
            Value::from("\u{1f}\u{8}\u{c}\r").to_json(),
            "\"\\u001f\\b\\f\\r\""
        );
    }

    #[test]
    fn pretty() {
        let v = crate::obj! {
            "a" => 1,
            "b" => Value::Array(vec![Value::from("x"), crate::obj! { "c" => Value::Null }]),
            "d" => Value::Array(vec![]),
            "e" => Map::new(),
        };
        let want = "{\n  \"a\": 1,\n  \"b\": [\n    \"x\",\n    {\n      \"c\": null\n    }\n  ],\n  \"d\": [],\n  \"e\": {}\n}";
        assert_eq!(v.to_pretty(), want);
        assert_eq!(Value::from(3).to_pretty(), "3");
        assert_eq!(parse(want.as_bytes()), Ok(v));
    }

    #[test]
    fn round_trip() {
        let text = r#"{"a":[1,-2,3.25,1e+300,"\u0000x"],"b":{"c":false},"d":"日本"}"#;
        let v = parse(text.as_bytes());
        assert_eq!(v.as_ref().map(Value::to_json).as_deref(), Ok(text));
    }
}
