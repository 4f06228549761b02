//! Strict JSON parser (RFC 8259) with depth and size limits.
//!
//! Rejects: invalid UTF-8, trailing data, leading zeros, `NaN`/`Infinity`,
//! numbers that overflow `f64`, control characters and lone surrogates in
//! strings, duplicate object keys and nesting deeper than the limit.
//! Works on the input bytes in place: string runs without escapes are copied
//! in one slice, and no allocation happens per character.
use super::{Map, Number, Value};
use std::collections::HashSet;

/// Limits applied while parsing outside data.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Maximum nesting depth of arrays/objects (top level = 1).
    /// Values above [`MAX_DEPTH_CAP`] are treated as that cap.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_depth: 64 }
    }
}

/// Hard ceiling on `Limits::max_depth`: the parser recurses once per level,
/// so the stack stays bounded whatever limit a caller passes.
pub const MAX_DEPTH_CAP: usize = 1024;

/// Up to this many keys, duplicates are found by a linear scan of the
/// object; larger objects switch to a hash set (no quadratic blow-up).
const LINEAR_KEY_SCAN: usize = 16;

/// Bytes that end a plain run inside a string: `"`, `\` and control
/// characters. Indexed by a `u8`, so the lookup cannot go out of bounds.
const STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Why a document was rejected, with the byte offset.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    /// Byte offset into the input where the problem was found.
    pub offset: usize,
    /// What is wrong, for people.
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

impl std::error::Error for ParseError {}

/// Parses one JSON document with default limits.
pub fn parse(input: &[u8]) -> Result<Value, ParseError> {
    parse_with(input, Limits::default())
}

/// Parses one JSON document with explicit limits.
pub fn parse_with(input: &[u8], limits: Limits) -> Result<Value, ParseError> {
    // Validate UTF-8 once up front; afterwards every slice we take starts
    // and ends next to an ASCII byte, so `str::get` always succeeds.
    let text = std::str::from_utf8(input).map_err(|e| ParseError {
        offset: e.valid_up_to(),
        message: "invalid UTF-8".to_string(),
    })?;
    let mut p = Parser {
        text,
        bytes: input,
        pos: 0,
        max_depth: limits.max_depth.min(MAX_DEPTH_CAP),
        items: Vec::new(),
        entries: Vec::new(),
    };
    p.skip_ws();
    let value = p.value(0)?;
    p.skip_ws();
    if p.pos != input.len() {
        return Err(p.err("unexpected data after the JSON value"));
    }
    Ok(value)
}

/// Cursor over the validated input.
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    max_depth: usize,
    /// Elements of the arrays being parsed, innermost last; each array
    /// moves its own tail out at `]` into one exactly sized Vec.
    items: Vec<Value>,
    /// Entries of the objects being parsed, the same way.
    entries: Vec<(String, Value)>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn err(&self, message: &str) -> ParseError {
        err_at(self.pos, message)
    }

    /// The error for the current byte: end of input or an unexpected byte.
    fn unexpected(&self, expected: &str) -> ParseError {
        match self.peek() {
            None => self.err(&format!("unexpected end of input, expected {expected}")),
            Some(_) => self.err(&format!("expected {expected}")),
        }
    }

    /// The text between two offsets (always at ASCII boundaries here).
    fn slice(&self, start: usize, end: usize) -> Result<&'a str, ParseError> {
        self.text
            .get(start..end)
            .ok_or_else(|| err_at(start, "internal error: slice off a character boundary"))
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `b` or fails naming what was expected.
    fn expect(&mut self, b: u8, expected: &str) -> Result<(), ParseError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// Any value; `depth` is the number of containers around it.
    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.word("true", Value::Bool(true)),
            Some(b'f') => self.word("false", Value::Bool(false)),
            Some(b'n') => self.word("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.unexpected("a JSON value")),
        }
    }

    fn enter(&self, depth: usize) -> Result<(), ParseError> {
        if depth > self.max_depth {
            return Err(self.err(&format!("nesting deeper than {} levels", self.max_depth)));
        }
        Ok(())
    }

    fn word(&mut self, word: &str, value: Value) -> Result<Value, ParseError> {
        let end = self.pos.saturating_add(word.len());
        if self.bytes.get(self.pos..end) != Some(word.as_bytes()) {
            return Err(self.err("invalid literal"));
        }
        self.pos = end;
        Ok(value)
    }

    fn array(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.enter(depth)?;
        self.pos += 1; // '['
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(Vec::new()));
        }
        let base = self.items.len();
        loop {
            self.skip_ws();
            let item = self.value(depth)?;
            self.items.push(item);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(self.items.split_off(base)));
                }
                _ => return Err(self.unexpected("',' or ']'")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.enter(depth)?;
        self.pos += 1; // '{'
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(Map::new()));
        }
        let base = self.entries.len();
        let mut seen: Option<HashSet<String>> = None;
        loop {
            self.skip_ws();
            let key_at = self.pos;
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("a string key"));
            }
            let key = self.string()?;
            let so_far = self.entries.get(base..).unwrap_or_default();
            if is_duplicate(so_far, &mut seen, &key) {
                return Err(err_at(key_at, &format!("duplicate key {}", short(&key))));
            }
            self.skip_ws();
            self.expect(b':', "':'")?;
            self.skip_ws();
            let value = self.value(depth)?;
            self.entries.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    let count = self.entries.len() - base;
                    let mut map = Map::with_capacity(count);
                    for (key, value) in self.entries.drain(base..) {
                        map.push_unchecked(key, value);
                    }
                    return Ok(Value::Object(map));
                }
                _ => return Err(self.unexpected("',' or '}'")),
            }
        }
    }

    /// A string starting at the opening quote.
    fn string(&mut self) -> Result<String, ParseError> {
        let open = self.pos;
        self.pos += 1;
        // Only allocate a builder once an escape shows up.
        let mut built: Option<String> = None;
        loop {
            let run_start = self.pos;
            let rest = self.bytes.get(self.pos..).unwrap_or_default();
            let run = rest
                .iter()
                .position(|&b| STRING_STOP[usize::from(b)])
                .unwrap_or(rest.len());
            self.pos += run;
            let chunk = self.slice(run_start, self.pos)?;
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(match built {
                        Some(mut s) => {
                            s.push_str(chunk);
                            s
                        }
                        None => chunk.to_string(),
                    });
                }
                Some(b'\\') => {
                    let s = built.get_or_insert_with(String::new);
                    s.push_str(chunk);
                    self.escape(s)?;
                }
                Some(_) => return Err(self.err("control character in string (must be escaped)")),
                None => return Err(err_at(open, "unterminated string")),
            }
        }
    }

    /// One escape sequence starting at the backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), ParseError> {
        let at = self.pos;
        self.pos += 1;
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                return self.unicode_escape(at, out);
            }
            None => return Err(err_at(at, "unterminated string")),
            Some(_) => return Err(err_at(at, "invalid escape sequence")),
        };
        self.pos += 1;
        out.push(c);
        Ok(())
    }

    /// The rest of a `\uXXXX` escape (after the `u`); pairs surrogates.
    fn unicode_escape(&mut self, at: usize, out: &mut String) -> Result<(), ParseError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                let end = self.pos.saturating_add(2);
                if self.bytes.get(self.pos..end) != Some(b"\\u") {
                    return Err(err_at(at, "lone high surrogate in \\u escape"));
                }
                self.pos = end;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(err_at(at, "high surrogate not followed by a low surrogate"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(err_at(at, "lone low surrogate in \\u escape")),
            _ => first,
        };
        let c = char::from_u32(code).ok_or_else(|| err_at(at, "invalid \\u escape"))?;
        out.push(c);
        Ok(())
    }

    /// Four hex digits.
    fn hex4(&mut self) -> Result<u32, ParseError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(b) => (b as char).to_digit(16),
                None => None,
            };
            let d = d.ok_or_else(|| self.unexpected("four hex digits in \\u escape"))?;
            v = (v << 4) | d;
            self.pos += 1;
        }
        Ok(v)
    }

    /// Digits `0-9`; returns how many.
    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        // The integer part, accumulated as a negative number so that
        // i64::MIN fits; None once it overflows.
        let mut int: Option<i64> = Some(0);
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.err("leading zeros are not allowed"));
                }
            }
            Some(b'1'..=b'9') => {
                while let Some(d @ b'0'..=b'9') = self.peek() {
                    let digit = i64::from(d - b'0');
                    int = int
                        .and_then(|i| i.checked_mul(10))
                        .and_then(|i| i.checked_sub(digit));
                    self.pos += 1;
                }
            }
            _ => return Err(self.unexpected("a digit")),
        }
        let mut integral = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            integral = false;
            if self.digits() == 0 {
                return Err(self.unexpected("a digit after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            integral = false;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.unexpected("a digit in the exponent"));
            }
        }
        if integral {
            let exact = if negative {
                int
            } else {
                int.and_then(i64::checked_neg)
            };
            if let Some(i) = exact {
                return Ok(Value::Number(Number::Int(i)));
            }
        }
        let text = self.slice(start, self.pos)?;
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Number(Number::Float(f))),
            _ => Err(err_at(start, "number out of range")),
        }
    }
}

fn err_at(offset: usize, message: &str) -> ParseError {
    ParseError {
        offset,
        message: message.to_string(),
    }
}

/// True when `key` is already in the object being built. Past
/// `LINEAR_KEY_SCAN` keys, `seen` holds every key so far (and gets `key`).
fn is_duplicate(so_far: &[(String, Value)], seen: &mut Option<HashSet<String>>, key: &str) -> bool {
    if so_far.len() < LINEAR_KEY_SCAN {
        return so_far.iter().any(|(k, _)| k == key);
    }
    let set = seen.get_or_insert_with(|| so_far.iter().map(|(k, _)| k.clone()).collect());
    !set.insert(key.to_string())
}

/// A key for an error message: quoted, cut to 40 characters.
fn short(key: &str) -> String {
    let mut cut: String = key.chars().take(40).collect();
    if cut.len() < key.len() {
        cut.push('…');
    }
    format!("{cut:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Value {
        match parse(s.as_bytes()) {
            Ok(v) => v,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn bad(s: &[u8]) -> ParseError {
        match parse(s) {
            Ok(v) => panic!("{s:?} should fail, got {v:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn scalars() {
        assert_eq!(ok("null"), Value::Null);
        assert_eq!(ok(" true "), Value::Bool(true));
        assert_eq!(ok("false"), Value::Bool(false));
        assert_eq!(ok("0"), Value::Number(Number::Int(0)));
        assert_eq!(ok("-12"), Value::Number(Number::Int(-12)));
        assert_eq!(ok("1.5"), Value::Number(Number::Float(1.5)));
        assert_eq!(ok("-0.25e2"), Value::Number(Number::Float(-25.0)));
        assert_eq!(ok("1E3"), Value::Number(Number::Float(1000.0)));
        assert_eq!(ok("1e-2"), Value::Number(Number::Float(0.01)));
        assert_eq!(ok("\"hi\""), Value::String("hi".into()));
    }

    #[test]
    fn integers_and_overflow() {
        assert_eq!(
            ok("9223372036854775807"),
            Value::Number(Number::Int(i64::MAX))
        );
        assert_eq!(
            ok("-9223372036854775808"),
            Value::Number(Number::Int(i64::MIN))
        );
        assert_eq!(
            ok("9223372036854775808"),
            Value::Number(Number::Float(9223372036854775808.0))
        );
        // Exponent or fraction makes it a float even when integral.
        assert_eq!(ok("1e2"), Value::Number(Number::Float(100.0)));
        assert_eq!(ok("2.0"), Value::Number(Number::Float(2.0)));
        assert_eq!(bad(b"1e400").message, "number out of range");
        assert_eq!(bad(b"-1e309").offset, 0);
    }

    #[test]
    fn bad_numbers() {
        for s in [
            "01",
            "-01",
            "00",
            "1.",
            ".5",
            "-",
            "+1",
            "1e",
            "1e+",
            "0x10",
            "NaN",
            "Infinity",
            "-Infinity",
            "1.e3",
            "--1",
        ] {
            bad(s.as_bytes());
        }
        assert_eq!(bad(b"01").offset, 1);
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            ok(r#""a\"b\\c\/d\b\f\n\r\t""#),
            Value::String("a\"b\\c/d\u{8}\u{c}\n\r\t".into())
        );
        assert_eq!(ok(r#""\u00e9\u20AC""#), Value::String("é€".into()));
        assert_eq!(ok(r#""\ud83d\ude00""#), Value::String("😀".into()));
        assert_eq!(ok("\"日本語\""), Value::String("日本語".into()));
        assert_eq!(ok(r#""x\u0000y""#), Value::String("x\u{0}y".into()));
        assert_eq!(ok("\"\u{7f}\""), Value::String("\u{7f}".into()));
    }

    #[test]
    fn bad_strings() {
        assert_eq!(bad(b"\"abc").message, "unterminated string");
        assert_eq!(bad(b"\"a\nb\"").offset, 2);
        bad(b"\"\t\"");
        bad(b"\"\x01\"");
        assert_eq!(bad(br#""\x""#).message, "invalid escape sequence");
        bad(br#""\u12""#);
        bad(br#""\u12G4""#);
        assert!(bad(br#""\ud800""#).message.contains("lone high surrogate"));
        assert!(bad(br#""\ud800x""#).message.contains("lone high surrogate"));
        assert!(bad(br#""\ud800\u0041""#).message.contains("low surrogate"));
        assert!(bad(br#""\udc00""#).message.contains("lone low surrogate"));
        bad(b"'single'");
    }

    #[test]
    fn invalid_utf8() {
        let e = bad(b"\"ab\xff\"");
        assert_eq!((e.offset, e.message.as_str()), (3, "invalid UTF-8"));
        bad(b"\"\xed\xa0\x80\""); // encoded surrogate
        bad(b"\"\xc0\xaf\""); // overlong
        bad(b"\xef\xbb\xbf{}"); // BOM is not JSON
    }

    #[test]
    fn containers() {
        let v = ok(r#" { "a" : [1, 2, {"b": null}], "c": {} , "d": [] } "#);
        let a = v.get("a").and_then(Value::as_array).map(Vec::len);
        assert_eq!(a, Some(3));
        assert_eq!(v.get("c"), Some(&Value::Object(Map::new())));
        assert_eq!(v.get("d"), Some(&Value::Array(vec![])));
        let keys: Vec<&String> = v
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["a", "c", "d"]);
    }

    #[test]
    fn bad_containers() {
        for s in [
            "[1,]",
            "[,1]",
            "[1 2]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{a:1}",
            "{\"a\":}",
            "[",
            "{",
            "{\"a\"",
            "]",
            "}",
            "",
            " ",
            "[1]]",
            "{} {}",
            "1 2",
            "nul",
            "truex",
            "[true false]",
        ] {
            bad(s.as_bytes());
        }
        assert_eq!(bad(b"[1] x").offset, 4);
        assert_eq!(
            bad(b"").message,
            "unexpected end of input, expected a JSON value"
        );
    }

    #[test]
    fn duplicate_keys() {
        let e = bad(br#"{"a":1,"b":2,"a":3}"#);
        assert_eq!(e.offset, 13);
        assert!(e.message.contains("duplicate key \"a\""));
        // Escapes are decoded before comparing.
        bad(br#"{"a":1,"\u0061":2}"#);
        // Nested objects have their own key space.
        ok(r#"{"a":{"a":1},"b":{"a":2}}"#);
        // Large objects use the hash set path.
        let mut big = String::from("{");
        for i in 0..100 {
            big.push_str(&format!("\"k{i}\":{i},"));
        }
        big.push_str("\"k99\":0}");
        assert!(bad(big.as_bytes()).message.contains("k99"));
        big.truncate(big.len() - 8);
        big.push_str("\"k100\":0}");
        assert_eq!(ok(&big).as_object().map(Map::len), Some(101));
    }

    #[test]
    fn depth_limit() {
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        ok(&nest(64));
        assert!(bad(nest(65).as_bytes())
            .message
            .contains("nesting deeper than 64"));
        let two = Limits { max_depth: 2 };
        assert!(parse_with(b"[[1]]", two).is_ok());
        assert!(parse_with(b"[{\"a\":[]}]", two).is_err());
        assert!(parse_with(b"{\"a\":{}}", two).is_ok());
        assert!(parse_with(b"1", Limits { max_depth: 0 }).is_ok());
        assert!(parse_with(b"[]", Limits { max_depth: 0 }).is_err());
        // A huge limit is capped, so deep input errors instead of overflowing the stack.
        let huge = Limits {
            max_depth: usize::MAX,
        };
        assert!(parse_with(nest(100_000).as_bytes(), huge).is_err());
    }

    /// xorshift64*: deterministic pseudo-random bytes for the fuzz test.
    fn rng(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    #[test]
    fn never_panics_on_garbage() {
        let seeds = [
            r#"{"a":[1,-2.5e3,true,false,null,"x\u00e9\ud83d\ude00"],"b":{"c":"\n"}}"#,
            r#"[0,1e-7,"\\\"",{}]"#,
        ];
        let alphabet = b"{}[]\",:\\u0123456789abcdefABCDEF-+.eE tnrl\x00\x1f\x7f\xc3\xa9\xff\xed";
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for seed in seeds {
            // Every prefix of a valid document.
            for cut in 0..=seed.len() {
                let _ = parse(&seed.as_bytes()[..cut]);
            }
            // Random mutations of it.
            for _ in 0..20_000 {
                let mut doc = seed.as_bytes().to_vec();
                for _ in 0..(rng(&mut state) % 4 + 1) {
                    let at = (rng(&mut state) as usize) % doc.len();
                    let b = alphabet[(rng(&mut state) as usize) % alphabet.len()];
                    match rng(&mut state) % 3 {
                        0 => doc[at] = b,
                        1 => doc.insert(at, b),
                        _ => {
                            doc.remove(at);
                        }
                    }
                    if doc.is_empty() {
                        break;
                    }
                }
                if let Ok(v) = parse(&doc) {
                    // Whatever parses must write back to something that parses
                    // to the same value (compared canonically: 2.0 reads back as 2).
                    let back = parse(v.to_json().as_bytes()).map(|b| super::super::canonical(&b));
                    assert_eq!(back, Ok(super::super::canonical(&v)));
                }
            }
        }
        // Pure random byte strings.
        for _ in 0..20_000 {
            let len = (rng(&mut state) % 32) as usize;
            let doc: Vec<u8> = (0..len)
                .map(|_| alphabet[(rng(&mut state) as usize) % alphabet.len()])
                .collect();
            let _ = parse(&doc);
        }
    }
}
