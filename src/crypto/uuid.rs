//! UUIDs as lowercase hyphenated text: v4 (random) and v7 (time-ordered).
//!
//! v7 layout (RFC 9562 §5.7, with the §6.2 method 1 counter): 48-bit Unix
//! milliseconds, version 7, a 12-bit counter in `rand_a`, variant, 62 random
//! bits. Within one process ids strictly increase: the counter steps on
//! each call in the same millisecond, and when it overflows (or the clock
//! goes backwards) the timestamp is carried forward instead of reused.
//!
//! These are identifiers, not secrets, so they cannot fail: should the
//! system RNG ever fail (not expected on Linux, where it is getrandom(2)),
//! the random bits come from SHA-256 of (time, pid, a process counter)
//! instead, which keeps them unique.

use super::{random, sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Largest value of the 12-bit counter.
const COUNTER_MAX: u16 = 0x0fff;

/// Last (milliseconds, counter) handed out; one per process for `v7`.
struct V7Clock(Mutex<(u64, u16)>);

/// The process-wide v7 state.
static V7_CLOCK: V7Clock = V7Clock::new();

/// Counter mixed into the fallback bits so no two calls share them.
static FALLBACK_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A random (version 4) UUID.
pub fn v4() -> String {
    let mut b = [0u8; 16];
    random_bits(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    format_uuid(&b)
}

/// A time-ordered (version 7) UUID; later calls sort after earlier ones.
pub fn v7() -> String {
    let mut rand = [0u8; 10];
    random_bits(&mut rand);
    let (ms, counter) = V7_CLOCK.next(now_ms(), rand_counter_start(&rand));
    format_uuid(&v7_bytes(ms, counter, &rand))
}

/// Fills `buf` (at most 32 bytes) from the system RNG, or from the unique
/// fallback described in the module doc if the RNG fails.
fn random_bits(buf: &mut [u8]) {
    if random::fill(buf).is_ok() {
        return;
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut seed = Vec::with_capacity(28);
    seed.extend_from_slice(&nanos.to_be_bytes());
    seed.extend_from_slice(&std::process::id().to_be_bytes());
    seed.extend_from_slice(
        &FALLBACK_COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .to_be_bytes(),
    );
    let digest = sha256(&seed);
    for (dst, src) in buf.iter_mut().zip(digest.iter()) {
        *dst = *src;
    }
}

/// Current Unix time in milliseconds (0 if the clock is before 1970).
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A fresh counter start for a new millisecond: random in the lower half,
/// so there is always room to count up before overflowing.
fn rand_counter_start(rand: &[u8; 10]) -> u16 {
    u16::from_be_bytes([rand[0], rand[1]]) & 0x07ff
}

impl V7Clock {
    const fn new() -> Self {
        V7Clock(Mutex::new((0, 0)))
    }

    /// Picks (milliseconds, counter) strictly after the last one handed out.
    fn next(&self, now: u64, fresh_counter: u16) -> (u64, u16) {
        // A poisoned lock only means another thread panicked mid-update; the
        // pair is still a valid last stamp, so keep using it.
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (last_ms, last_counter) = *last;
        let next = if now > last_ms {
            (now, fresh_counter)
        } else if last_counter < COUNTER_MAX {
            (last_ms, last_counter + 1)
        } else {
            (last_ms.saturating_add(1), fresh_counter)
        };
        *last = next;
        next
    }
}

/// Lays out the v7 fields; bytes 2.. of `rand` fill `rand_b`.
fn v7_bytes(ms: u64, counter: u16, rand: &[u8; 10]) -> [u8; 16] {
    let ms = ms.to_be_bytes();
    let counter = counter.to_be_bytes();
    [
        ms[2],
        ms[3],
        ms[4],
        ms[5],
        ms[6],
        ms[7],
        0x70 | (counter[0] & 0x0f),
        counter[1],
        0x80 | (rand[2] & 0x3f),
        rand[3],
        rand[4],
        rand[5],
        rand[6],
        rand[7],
        rand[8],
        rand[9],
    ]
}

/// 8-4-4-4-12 lowercase hex.
fn format_uuid(b: &[u8; 16]) -> String {
    let hex = super::hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_shape(id: &str, version: char) {
        assert_eq!(id.len(), 36);
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(id
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
        assert_eq!(id.chars().nth(14), Some(version));
        assert!(matches!(id.chars().nth(19), Some('8' | '9' | 'a' | 'b')));
    }

    #[test]
    fn v4_shape_and_uniqueness() {
        let a = v4();
        let b = v4();
        assert_shape(&a, '4');
        assert_ne!(a, b);
    }

    #[test]
    fn v7_shape_time_and_order() {
        let before = now_ms();
        let ids: Vec<String> = (0..10_000).map(|_| v7()).collect();
        for id in &ids {
            assert_shape(id, '7');
        }
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1], "{} !< {}", pair[0], pair[1]);
        }
        // The timestamp prefix is (at least) the wall clock at creation.
        let first_ms = u64::from_str_radix(&ids[0].replace('-', "")[..12], 16).unwrap();
        assert!(first_ms >= before);
        assert!(first_ms < before + 60_000);
    }

    #[test]
    fn v7_stamp_carries_on_overflow_and_clock_going_back() {
        let clock = V7Clock::new();
        let ms = 1_700_000_000_000;
        assert_eq!(clock.next(ms, 5), (ms, 5));
        assert_eq!(clock.next(ms, 9), (ms, 6));
        // Clock goes backwards: keep the last millisecond, count on.
        assert_eq!(clock.next(1, 9), (ms, 7));
        // A later millisecond takes the fresh counter.
        assert_eq!(clock.next(ms + 5, 2), (ms + 5, 2));
        *clock.0.lock().unwrap() = (ms + 5, COUNTER_MAX);
        assert_eq!(clock.next(ms + 5, 3), (ms + 6, 3));
    }

    #[test]
    fn v7_layout() {
        let rand = [0xff; 10];
        let b = v7_bytes(0x0102_0304_0506, 0x0abc, &rand);
        assert_eq!(format_uuid(&b), "01020304-0506-7abc-bfff-ffffffffffff");
    }
}
