//! Standard base64 (RFC 4648 §4, with `=` padding) for file contents.
//!
//! The decoder is strict, so every byte string has exactly one accepted
//! text: the length is a multiple of 4, padding only at the end (at most
//! two `=`), no whitespace or characters outside the alphabet, and the
//! unused low bits of the last character are zero.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// base64 text of `bytes`, padded.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        // A chunk of k bytes yields k + 1 characters, then padding.
        for i in 0..4 {
            if i <= chunk.len() {
                let idx = ((n >> (18 - 6 * i)) & 0x3f) as usize;
                out.push(char::from(ALPHABET.get(idx).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The 6-bit value of one alphabet character.
fn value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// The exact number of bytes `text` decodes to, if its length and padding
/// are well formed (the characters are not checked).
pub fn decoded_len(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    if !b.len().is_multiple_of(4) {
        return None;
    }
    let pad = b.iter().rev().take_while(|&&c| c == b'=').count();
    if pad > 2 {
        return None;
    }
    Some(b.len() / 4 * 3 - pad)
}

/// Decodes strict, padded base64; `None` when the text is not canonical.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let len = decoded_len(text)?;
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(len);
    let chunks = bytes.chunks(4);
    let last = chunks.len().saturating_sub(1);
    for (i, chunk) in chunks.enumerate() {
        let pad = chunk.iter().filter(|&&c| c == b'=').count();
        // Padding only in the last chunk, and only at its end.
        if pad > 0 && (i != last || chunk.iter().rev().take(pad).any(|&c| c != b'=')) {
            return None;
        }
        let mut n: u32 = 0;
        for (j, &c) in chunk.iter().take(4 - pad).enumerate() {
            n |= value(c)? << (18 - 6 * j);
        }
        let [_, b0, b1, b2] = n.to_be_bytes();
        match pad {
            0 => out.extend_from_slice(&[b0, b1, b2]),
            1 if b2 == 0 => out.extend_from_slice(&[b0, b1]),
            2 if b1 == 0 && b2 == 0 => out.push(b0),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, coded) in cases {
            assert_eq!(encode(plain.as_bytes()), coded);
            assert_eq!(decode(coded).unwrap(), plain.as_bytes());
            assert_eq!(decoded_len(coded), Some(plain.len()));
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&encode(&all)).unwrap(), all);
        assert_eq!(encode(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn rejects_non_canonical_text() {
        for bad in [
            "Zg", "Zg=", "Zg===", "Z===", "Zh==", "Zm9=", "Zg==Zg==", "Zm 9v", "Zm9v\n", "Zm-_",
            "=Zm9", "Zm=v",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }
}
