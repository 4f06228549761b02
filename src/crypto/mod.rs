//! Thin wrappers over the crypto we use: SHA-256, ES256 (P-256) and
//! randomness from `ring`, Ed25519 from `ed25519-compact`, plus the
//! encodings (hex, base64url) and identifiers (UUIDv4/v7) built on them.
//!
//! Nothing here parses protocol data beyond the encodings; callers decide
//! what a failure means.

pub mod b64url;
pub mod ed25519;
pub mod es256;
pub mod hex;
mod keyfile;
pub mod random;
pub mod secret;
pub mod uuid;

pub use es256::jwk_thumbprint;

use std::fmt;
use std::path::PathBuf;

/// Why a crypto operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CryptoError {
    /// The system random generator failed.
    Random,
    /// Key generation or key parsing failed (the text says which step).
    Key(&'static str),
    /// A signing operation failed.
    Sign,
    /// A key file could not be read, created or accepted.
    KeyFile {
        /// The file in question.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptoError::Random => write!(f, "system random generator failed"),
            CryptoError::Key(what) => write!(f, "key error: {what}"),
            CryptoError::Sign => write!(f, "signing failed"),
            CryptoError::KeyFile { path, reason } => {
                write!(f, "key file {}: {reason}", path.display())
            }
        }
    }
}

impl std::error::Error for CryptoError {}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    // SHA-256 digests are always 32 bytes, so the lengths match.
    out.copy_from_slice(digest.as_ref());
    out
}

/// Lowercase hex of the SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(&sha256(data))
}

/// Compares two byte strings in time that depends only on their lengths.
///
/// Different lengths return false at once (lengths are not secret here:
/// every caller compares fixed-size digests or encodings of them).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= x ^ y;
    }
    // black_box keeps the optimiser from turning the loop into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_answers() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256(b"abc")[0], 0xba);
    }

    #[test]
    fn ct_eq_compares_contents_and_lengths() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(!ct_eq(b"\x00", b"\x80"));
    }

    #[test]
    fn errors_display_their_context() {
        let e = CryptoError::KeyFile {
            path: PathBuf::from("/x/key"),
            reason: "bad size".into(),
        };
        assert_eq!(e.to_string(), "key file /x/key: bad size");
    }
}
