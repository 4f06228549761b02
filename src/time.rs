//! Wall-clock helpers: Unix seconds and RFC 3339 text (UTC only).
//!
//! Calendar maths uses Howard Hinnant's days-from-civil / civil-from-days
//! algorithms (proleptic Gregorian, any i64 instant, no overflow).
use std::time::{SystemTime, UNIX_EPOCH};

const SECS_PER_DAY: i64 = 86_400;
const MILLIS_PER_DAY: i64 = 86_400_000;

/// Seconds since the Unix epoch now (negative if the clock is before 1970).
pub fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// Milliseconds since the Unix epoch now.
pub fn unix_now_millis() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |m| -m),
    }
}

/// `2026-11-23T03:09:25Z` for Unix seconds.
pub fn rfc3339_secs(unix: i64) -> String {
    let mut out = date_time(unix.div_euclid(SECS_PER_DAY), unix.rem_euclid(SECS_PER_DAY));
    out.push('Z');
    out
}

/// `2026-11-23T03:09:25.123Z` for Unix milliseconds (always 3 digits).
pub fn rfc3339_millis(unix_ms: i64) -> String {
    let (mut out, millis) = split_millis(unix_ms);
    out.push_str(&format!(".{millis:03}Z"));
    out
}

/// chrono's `to_rfc3339()` for a UTC instant in milliseconds:
/// `2026-11-23T03:09:25.123+00:00`, with no fraction when the
/// milliseconds are zero (`2026-11-23T03:09:25+00:00`).
pub fn rfc3339_offset(unix_ms: i64) -> String {
    let (mut out, millis) = split_millis(unix_ms);
    if millis != 0 {
        out.push_str(&format!(".{millis:03}"));
    }
    out.push_str("+00:00");
    out
}

/// Unix milliseconds for RFC 3339 text `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
/// `T`/`Z` may be lowercase; fraction digits past milliseconds are
/// truncated. Leap seconds (`:60`) and out-of-range fields are rejected.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let year = num(b, 0, 4)?;
    let month = num(b, 5, 2)?;
    let day = num(b, 8, 2)?;
    let hour = num(b, 11, 2)?;
    let minute = num(b, 14, 2)?;
    let second = num(b, 17, 2)?;
    let seps = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(at, c)| b.get(at) != Some(&c)) {
        return None;
    }
    if !matches!(b.get(10), Some(b'T' | b't')) {
        return None;
    }
    let (millis, mut at) = fraction(b, 19)?;
    let offset_min = match b.get(at) {
        Some(b'Z' | b'z') => {
            at += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let oh = num(b, at + 1, 2)?;
            let om = num(b, at + 4, 2)?;
            if b.get(at + 3) != Some(&b':') || oh > 23 || om > 59 {
                return None;
            }
            at += 6;
            let total = oh * 60 + om;
            if sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return None,
    };
    if at != b.len() {
        return None;
    }
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 59;
    if !valid {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * SECS_PER_DAY + hour * 3600 + minute * 60 + second - offset_min * 60;
    Some(secs * 1000 + millis)
}

/// `YYYY-MM-DDTHH:MM:SS` and the millisecond remainder.
fn split_millis(unix_ms: i64) -> (String, i64) {
    let days = unix_ms.div_euclid(MILLIS_PER_DAY);
    let ms_of_day = unix_ms.rem_euclid(MILLIS_PER_DAY);
    (date_time(days, ms_of_day / 1000), ms_of_day % 1000)
}

/// `YYYY-MM-DDTHH:MM:SS` for a day number and second of that day.
fn date_time(days: i64, secs_of_day: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    // Like chrono: four digits for years 0..=9999, else an explicit sign.
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{year:+05}")
    };
    format!("{year}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}")
}

/// `n` ASCII digits at `at`, as a number.
fn num(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let digits = b.get(at..at.checked_add(n)?)?;
    digits.iter().try_fold(0i64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

/// An optional `.digits` at `at`: (milliseconds, index after it).
fn fraction(b: &[u8], at: usize) -> Option<(i64, usize)> {
    if b.get(at) != Some(&b'.') {
        return Some((0, at));
    }
    let mut end = at + 1;
    let mut millis = 0;
    let mut scale = 100;
    while let Some(c) = b.get(end).filter(|c| c.is_ascii_digit()) {
        millis += i64::from(c - b'0') * scale;
        scale /= 10;
        end += 1;
    }
    // At least one digit is required after the dot.
    (end > at + 1).then_some((millis, end))
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Hinnant).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let mp = (month + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + day - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// (year, month, day) for days since 1970-01-01 (Hinnant).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // March = 0
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339_secs(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_secs(1_795_403_365), "2026-11-23T03:09:25Z");
        assert_eq!(
            rfc3339_millis(1_795_403_365_123),
            "2026-11-23T03:09:25.123Z"
        );
        assert_eq!(rfc3339_millis(5), "1970-01-01T00:00:00.005Z");
        // Leap day 2024 and the day after.
        assert_eq!(rfc3339_secs(1_709_208_000), "2024-02-29T12:00:00Z");
        assert_eq!(rfc3339_secs(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339_secs(1_709_251_200), "2024-03-01T00:00:00Z");
        // Past the 32-bit rollover.
        assert_eq!(rfc3339_secs(2_147_483_648), "2038-01-19T03:14:08Z");
        assert_eq!(rfc3339_secs(4_102_444_800), "2100-01-01T00:00:00Z");
        assert_eq!(rfc3339_secs(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339_secs(951_782_400), "2000-02-29T00:00:00Z");
        // Before the epoch.
        assert_eq!(rfc3339_secs(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_secs(-62_135_596_800), "0001-01-01T00:00:00Z");
        // Outside four-digit years: signed like chrono; extremes do not panic.
        assert_eq!(rfc3339_secs(253_402_300_800), "+10000-01-01T00:00:00Z");
        assert_eq!(rfc3339_secs(-62_198_755_200), "-0001-01-01T00:00:00Z");
        assert!(rfc3339_secs(i64::MAX).ends_with('Z'));
        assert!(rfc3339_secs(i64::MIN).ends_with('Z'));
        assert!(rfc3339_millis(i64::MIN).ends_with('Z'));
        assert!(rfc3339_offset(i64::MAX).ends_with("+00:00"));
    }

    #[test]
    fn chrono_offset_form() {
        assert_eq!(
            rfc3339_offset(1_795_403_365_123),
            "2026-11-23T03:09:25.123+00:00"
        );
        assert_eq!(
            rfc3339_offset(1_795_403_365_000),
            "2026-11-23T03:09:25+00:00"
        );
        assert_eq!(
            rfc3339_offset(1_795_403_365_100),
            "2026-11-23T03:09:25.100+00:00"
        );
        assert_eq!(rfc3339_offset(0), "1970-01-01T00:00:00+00:00");
    }

    #[test]
    fn parse_known() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-11-23T03:09:25Z"),
            Some(1_795_403_365_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-23T03:09:25.123Z"),
            Some(1_795_403_365_123)
        );
        assert_eq!(
            parse_rfc3339("2026-11-23T03:09:25.1Z"),
            Some(1_795_403_365_100)
        );
        assert_eq!(
            parse_rfc3339("2026-11-23T03:09:25.123987654Z"),
            Some(1_795_403_365_123)
        );
        assert_eq!(
            parse_rfc3339("2026-11-23t03:09:25.123z"),
            Some(1_795_403_365_123)
        );
        assert_eq!(
            parse_rfc3339("2026-11-23T03:09:25.123+00:00"),
            Some(1_795_403_365_123)
        );
        assert_eq!(
            parse_rfc3339("2026-11-23T05:39:25+02:30"),
            Some(1_795_403_365_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-22T22:09:25-05:00"),
            Some(1_795_403_365_000)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T12:00:00Z"),
            Some(1_709_208_000_000)
        );
        assert_eq!(
            parse_rfc3339("2038-01-19T03:14:08Z"),
            Some(2_147_483_648_000)
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.999Z"), Some(-1));
    }

    #[test]
    fn parse_rejects() {
        for s in [
            "",
            "2026-11-23",
            "2026-11-23T03:09:25",
            "2026-11-23 03:09:25Z",
            "2026-11-23T03:09Z",
            "2026-11-23T03:09:25.Z",
            "2026-11-23T03:09:25ZZ",
            "2026-11-23T03:09:25+0000",
            "2026-11-23T03:09:25+24:00",
            "2026-11-23T03:09:25+00:60",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-01-00T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:60:00Z",
            "2024-01-01T00:00:60Z",
            "2024-01-01T00:00:0aZ",
            "+2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00Zé",
            "2024/01/01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(s), None, "{s:?}");
        }
    }

    #[test]
    fn round_trips() {
        for ms in [
            0,
            1,
            -1,
            999,
            1_709_208_000_123,
            4_102_444_800_000,
            -62_135_596_800_000,
        ] {
            assert_eq!(parse_rfc3339(&rfc3339_millis(ms)), Some(ms));
            assert_eq!(parse_rfc3339(&rfc3339_offset(ms)), Some(ms));
        }
        // Every day across four centuries maps back to itself.
        for days in (-146_097 * 2..146_097 * 2).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            assert!((1..=days_in_month(y, m)).contains(&d));
        }
    }

    #[test]
    fn clock_is_sane() {
        let secs = unix_now();
        let ms = unix_now_millis();
        assert!(secs > 1_700_000_000, "clock before 2023?");
        assert!((ms / 1000 - secs).abs() <= 1);
    }
}
