//! TOML scalars: the four string forms, integers, floats, booleans and
//! date-times (validated, kept as their text).
use super::cursor::{is_control, Cursor, Mark};
use super::{TValue, TomlError};

/// A basic string `"..."` with escapes, on one line. The cursor is at `"`.
pub(super) fn basic_string(cur: &mut Cursor) -> Result<String, TomlError> {
    let open = cur.mark();
    cur.bump();
    let mut out = String::new();
    loop {
        out.push_str(cur.take_while(|b| b != b'"' && b != b'\\' && !is_control(b)));
        match cur.peek() {
            Some(b'"') => {
                cur.bump();
                return Ok(out);
            }
            Some(b'\\') => escape(cur, &mut out)?,
            None | Some(b'\n' | b'\r') => return Err(unterminated(cur, open)),
            Some(_) => return Err(control_in_string(cur)),
        }
    }
}

/// A literal string `'...'`: no escapes, one line. The cursor is at `'`.
pub(super) fn literal_string(cur: &mut Cursor) -> Result<String, TomlError> {
    let open = cur.mark();
    cur.bump();
    let text = cur.take_while(|b| b != b'\'' && !is_control(b));
    match cur.peek() {
        Some(b'\'') => {
            cur.bump();
            Ok(text.to_string())
        }
        None | Some(b'\n' | b'\r') => Err(unterminated(cur, open)),
        Some(_) => Err(control_in_string(cur)),
    }
}

/// A multi-line basic string `"""..."""`. The cursor is at the first `"`.
/// A newline right after the opening quotes is dropped, and a backslash at
/// the end of a line removes it and the whitespace that follows. Newlines
/// come out as `\n`.
pub(super) fn multiline_basic_string(cur: &mut Cursor) -> Result<String, TomlError> {
    let open = cur.mark();
    cur.bump_n(3);
    cur.newline()?;
    let mut out = String::new();
    loop {
        out.push_str(cur.take_while(|b| b != b'"' && b != b'\\' && !is_control(b)));
        match cur.peek() {
            Some(b'"') => {
                if closing_quotes(cur, b'"', &mut out)? {
                    return Ok(out);
                }
            }
            Some(b'\\') if is_line_ending_backslash(cur) => {
                cur.bump();
                loop {
                    cur.skip_ws();
                    if !cur.newline()? {
                        break;
                    }
                }
            }
            Some(b'\\') => escape(cur, &mut out)?,
            Some(b'\n' | b'\r') => {
                cur.newline()?;
                out.push('\n');
            }
            None => return Err(unterminated(cur, open)),
            Some(_) => return Err(control_in_string(cur)),
        }
    }
}

/// A multi-line literal string `'''...'''`. The cursor is at the first `'`.
pub(super) fn multiline_literal_string(cur: &mut Cursor) -> Result<String, TomlError> {
    let open = cur.mark();
    cur.bump_n(3);
    cur.newline()?;
    let mut out = String::new();
    loop {
        out.push_str(cur.take_while(|b| b != b'\'' && !is_control(b)));
        match cur.peek() {
            Some(b'\'') => {
                if closing_quotes(cur, b'\'', &mut out)? {
                    return Ok(out);
                }
            }
            Some(b'\n' | b'\r') => {
                cur.newline()?;
                out.push('\n');
            }
            None => return Err(unterminated(cur, open)),
            Some(_) => return Err(control_in_string(cur)),
        }
    }
}

/// At a run of quotes inside a multi-line string: fewer than three are
/// content; three to five close the string, the extra one or two being
/// content; six or more are an error. Returns true when closed.
fn closing_quotes(cur: &mut Cursor, quote: u8, out: &mut String) -> Result<bool, TomlError> {
    let mut n = 0;
    while cur.peek_at(n) == Some(quote) {
        n += 1;
    }
    if n > 5 {
        cur.bump_n(5);
        return Err(cur.err("too many quotes at the end of a multi-line string"));
    }
    let content = if n >= 3 { n - 3 } else { n };
    for _ in 0..content {
        out.push(char::from(quote));
    }
    cur.bump_n(n);
    Ok(n >= 3)
}

/// A `\` followed only by spaces/tabs up to the end of the line.
fn is_line_ending_backslash(cur: &Cursor) -> bool {
    let mut k = 1;
    while let Some(b' ' | b'\t') = cur.peek_at(k) {
        k += 1;
    }
    match cur.peek_at(k) {
        Some(b'\n') => true,
        Some(b'\r') => cur.peek_at(k + 1) == Some(b'\n'),
        _ => false,
    }
}

/// One escape sequence; the cursor is at the backslash.
fn escape(cur: &mut Cursor, out: &mut String) -> Result<(), TomlError> {
    let at = cur.mark();
    cur.bump();
    let c = match cur.peek() {
        Some(b'b') => '\u{8}',
        Some(b't') => '\t',
        Some(b'n') => '\n',
        Some(b'f') => '\u{c}',
        Some(b'r') => '\r',
        Some(b'"') => '"',
        Some(b'\\') => '\\',
        Some(b'u') => return unicode_escape(cur, at, 4, out),
        Some(b'U') => return unicode_escape(cur, at, 8, out),
        None => return Err(cur.err_at(at, "unterminated string")),
        Some(_) => {
            let c = cur.peek_char().unwrap_or('?');
            let shown = if c.is_control() {
                format!("U+{:04X}", c as u32)
            } else {
                c.to_string()
            };
            return Err(cur.err_at(at, format!("invalid escape sequence `\\{shown}`")));
        }
    };
    cur.bump();
    out.push(c);
    Ok(())
}

/// `\uXXXX` or `\UXXXXXXXX`; the cursor is at the `u`/`U`.
fn unicode_escape(
    cur: &mut Cursor,
    at: Mark,
    len: usize,
    out: &mut String,
) -> Result<(), TomlError> {
    cur.bump();
    let start = cur.mark();
    for _ in 0..len {
        if !cur.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
            return Err(cur.err_at(
                at,
                format!("a unicode escape needs exactly {len} hex digits"),
            ));
        }
        cur.bump();
    }
    let hex = cur.since(start);
    let c = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
    let c =
        c.ok_or_else(|| cur.err_at(at, format!("escape `{hex}` is not a Unicode scalar value")))?;
    out.push(c);
    Ok(())
}

fn unterminated(cur: &Cursor, open: Mark) -> TomlError {
    cur.err_at(open, "unterminated string")
}

fn control_in_string(cur: &Cursor) -> TomlError {
    cur.err(format!("{} in a string (use an escape)", cur.found()))
}

/// Characters that can make up an unquoted value (number, bool, date).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.' | b':')
}

/// An unquoted value: boolean, integer, float or date-time.
pub(super) fn bare_value(cur: &mut Cursor) -> Result<TValue, TomlError> {
    let start = cur.mark();
    let mut token = cur.take_while(is_token_byte);
    // `1979-05-27 07:32:00`: a date, one space and a time are one value.
    let space_then_digit =
        cur.peek() == Some(b' ') && cur.peek_at(1).is_some_and(|b| b.is_ascii_digit());
    if space_then_digit && is_date_shape(token.as_bytes()) && token.len() == 10 {
        cur.bump();
        cur.take_while(is_token_byte);
        token = cur.since(start);
    }
    let fail = |message: String| cur.err_at(start, message);
    match token {
        "" => Err(fail(format!("expected a value, {}", cur.found()))),
        "true" => Ok(TValue::Boolean(true)),
        "false" => Ok(TValue::Boolean(false)),
        "inf" | "+inf" | "-inf" | "nan" | "+nan" | "-nan" => Err(fail(format!(
            "`{token}`: infinity and NaN floats are not supported"
        ))),
        _ if is_date_shape(token.as_bytes()) || is_time_shape(token.as_bytes()) => {
            if is_datetime(token.as_bytes()) {
                Ok(TValue::Datetime(token.to_string()))
            } else {
                Err(fail(format!("invalid date-time `{token}`")))
            }
        }
        _ if token.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-') => {
            number(token).map_err(fail)
        }
        _ => Err(fail(format!(
            "invalid value `{token}` (strings must be quoted)"
        ))),
    }
}

/// An integer or float token.
fn number(token: &str) -> Result<TValue, String> {
    let (sign, body) = match token.as_bytes().first() {
        Some(b'+') => ("", token.get(1..).unwrap_or_default()),
        Some(b'-') => ("-", token.get(1..).unwrap_or_default()),
        _ => ("", token),
    };
    let invalid = || format!("invalid number `{token}`");
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = body.strip_prefix(prefix) {
            if body.len() != token.len() {
                return Err(format!(
                    "`{token}`: hex, octal and binary integers cannot have a sign"
                ));
            }
            let clean = digits_only(digits, |c| c.is_digit(radix)).ok_or_else(invalid)?;
            return i64::from_str_radix(&clean, radix)
                .map(TValue::Integer)
                .map_err(|_| format!("integer `{token}` is out of range"));
        }
    }
    if body.contains(['.', 'e', 'E']) {
        return float(token, sign, body);
    }
    let clean = digits_only(body, |c| c.is_ascii_digit()).ok_or_else(invalid)?;
    if clean.len() > 1 && clean.starts_with('0') {
        return Err(format!("`{token}`: leading zeros are not allowed"));
    }
    format!("{sign}{clean}")
        .parse::<i64>()
        .map(TValue::Integer)
        .map_err(|_| format!("integer `{token}` is out of range"))
}

/// `int-part ( "." digits )? ( [eE] [+-]? digits )?` with at least one of
/// the optional parts; `body` is the token without its sign.
fn float(token: &str, sign: &str, body: &str) -> Result<TValue, String> {
    let invalid = || format!("invalid float `{token}`");
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (body, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let int_digits = digits_only(int_part, |c| c.is_ascii_digit()).ok_or_else(invalid)?;
    if int_digits.len() > 1 && int_digits.starts_with('0') {
        return Err(format!("`{token}`: leading zeros are not allowed"));
    }
    let mut text = format!("{sign}{int_digits}");
    if let Some(frac) = frac_part {
        text.push('.');
        text.push_str(&digits_only(frac, |c| c.is_ascii_digit()).ok_or_else(invalid)?);
    }
    if let Some(exp) = exponent {
        let (exp_sign, exp_digits) = match exp.as_bytes().first() {
            Some(b'+') => ("+", exp.get(1..).unwrap_or_default()),
            Some(b'-') => ("-", exp.get(1..).unwrap_or_default()),
            _ => ("", exp),
        };
        text.push('e');
        text.push_str(exp_sign);
        text.push_str(&digits_only(exp_digits, |c| c.is_ascii_digit()).ok_or_else(invalid)?);
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(TValue::Float(f)),
        Ok(_) => Err(format!("float `{token}` is out of range")),
        Err(_) => Err(invalid()),
    }
}

/// The digits of `s` with underscores removed, if every underscore sits
/// between two digits and `s` is not empty.
fn digits_only(s: &str, is_digit: impl Fn(char) -> bool) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    for group in s.split('_') {
        if group.is_empty() || !group.chars().all(&is_digit) {
            return None;
        }
        out.push_str(group);
    }
    Some(out)
}

/// Starts like `YYYY-`.
fn is_date_shape(b: &[u8]) -> bool {
    b.len() >= 5 && b.iter().take(4).all(u8::is_ascii_digit) && b.get(4) == Some(&b'-')
}

/// Starts like `HH:`.
fn is_time_shape(b: &[u8]) -> bool {
    b.len() >= 3 && b.iter().take(2).all(u8::is_ascii_digit) && b.get(2) == Some(&b':')
}

/// A full RFC 3339 / TOML date-time, local date-time, date or time.
fn is_datetime(b: &[u8]) -> bool {
    if is_time_shape(b) {
        return time_end(b, 0) == Some(b.len());
    }
    let Some(year) = digits(b, 0, 4) else {
        return false;
    };
    let (Some(month), Some(day)) = (digits(b, 5, 2), digits(b, 8, 2)) else {
        return false;
    };
    if b.get(7) != Some(&b'-')
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
    {
        return false;
    }
    if b.len() == 10 {
        return true;
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return false;
    }
    let Some(end) = time_end(b, 11) else {
        return false;
    };
    match b.get(end) {
        None => true,
        Some(b'Z' | b'z') => end + 1 == b.len(),
        Some(b'+' | b'-') => {
            let hh = digits(b, end + 1, 2);
            let mm = digits(b, end + 4, 2);
            b.get(end + 3) == Some(&b':')
                && hh.is_some_and(|h| h <= 23)
                && mm.is_some_and(|m| m <= 59)
                && end + 6 == b.len()
        }
        Some(_) => false,
    }
}

/// `HH:MM:SS(.fraction)?` at `at`; the index just after it.
fn time_end(b: &[u8], at: usize) -> Option<usize> {
    let hour = digits(b, at, 2)?;
    let minute = digits(b, at + 3, 2)?;
    let second = digits(b, at + 6, 2)?;
    let colons = b.get(at + 2) == Some(&b':') && b.get(at + 5) == Some(&b':');
    // 60 allows a leap second, as RFC 3339 does.
    if !colons || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut end = at + 8;
    if b.get(end) == Some(&b'.') {
        let frac_start = end + 1;
        end = frac_start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == frac_start {
            return None;
        }
    }
    Some(end)
}

/// `n` ASCII digits at `at` as a number.
fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let slice = b.get(at..at.checked_add(n)?)?;
    slice.iter().try_fold(0u32, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}
