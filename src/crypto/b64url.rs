//! base64url without padding (RFC 4648 §5), as JOSE uses it.
//!
//! The decoder is strict so that every byte string has exactly one accepted
//! text: no padding, no characters outside the alphabet, no whitespace, and
//! the unused low bits of the last character must be zero.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url text of `bytes`, without padding.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        // A chunk of k bytes yields k + 1 characters.
        for i in 0..=chunk.len() {
            let idx = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[idx as usize]));
        }
    }
    out
}

/// Decodes strict base64url; `None` when the text is not canonical.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    // A lone trailing character carries only 6 bits: never valid.
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3 + 2);
    for chunk in bytes.chunks(4) {
        let mut n: u32 = 0;
        for (i, &c) in chunk.iter().enumerate() {
            n |= u32::from(value(c)?) << (18 - 6 * i);
        }
        let [_, b0, b1, b2] = n.to_be_bytes();
        match chunk.len() {
            4 => out.extend_from_slice(&[b0, b1, b2]),
            3 => {
                // 18 bits for 2 bytes: the low 2 bits must be zero.
                if b2 != 0 {
                    return None;
                }
                out.extend_from_slice(&[b0, b1]);
            }
            2 => {
                // 12 bits for 1 byte: the low 4 bits must be zero.
                if b1 != 0 || b2 != 0 {
                    return None;
                }
                out.push(b0);
            }
            _ => return None,
        }
    }
    Some(out)
}

fn value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        // RFC 4648 §10 vectors with padding removed.
        let cases = [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, enc) in cases {
            assert_eq!(encode(plain.as_bytes()), enc);
            assert_eq!(decode(enc).as_deref(), Some(plain.as_bytes()));
        }
    }

    #[test]
    fn url_alphabet() {
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(decode("-_8"), Some(vec![0xfb, 0xff]));
    }

    #[test]
    fn round_trip_all_lengths() {
        let data: Vec<u8> = (0..=255u8).rev().collect();
        for len in 0..data.len() {
            let enc = encode(&data[..len]);
            assert_eq!(decode(&enc).as_deref(), Some(&data[..len]));
        }
    }

    #[test]
    fn rejects_padding_bad_chars_and_non_canonical_bits() {
        assert_eq!(decode("Zg=="), None);
        assert_eq!(decode("Zm8="), None);
        assert_eq!(decode("Zm9v+g"), None);
        assert_eq!(decode("Zm9v/g"), None);
        assert_eq!(decode("Zm 9v"), None);
        assert_eq!(decode("Z"), None);
        // "Zh" decodes to 'f' but with non-zero trailing bits.
        assert_eq!(decode("Zh"), None);
        // "Zm9" is canonical for "fo"; "Zm-" is not.
        assert_eq!(decode("Zm-"), None);
    }
}
