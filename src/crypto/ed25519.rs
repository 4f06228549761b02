//! Ed25519 signing keys (receipts, grants, checkpoints) and strict
//! verification, from `ed25519-compact`.
//!
//! Signing itself goes through ring (already linked for TLS): Ed25519 is
//! deterministic (RFC 8032), so both produce the same bytes, and ring's
//! fixed-base multiplication with its precomputed comb table is several
//! times faster than ed25519-compact's windowed one; the gate signs a grant
//! and a receipt on every execute, and the profile showed ed25519-compact's
//! signing at about a quarter of a connection thread's CPU. A test checks
//! that the two agree. Verification stays with ed25519-compact, which
//! rejects small-order keys and points.

use super::{hex, random, CryptoError};
use ed25519_compact::{KeyPair, PublicKey, Seed, Signature};
use std::fmt;
use std::path::Path;

/// An Ed25519 signing key. Signatures are deterministic (RFC 8032).
pub struct SigningKey {
    pair: KeyPair,
    /// The same key, for ring's faster signing.
    signer: ring::signature::Ed25519KeyPair,
}

impl fmt::Debug for SigningKey {
    /// Shows only the key id: the seed must never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.key_id())
    }
}

impl SigningKey {
    /// Loads the raw 32-byte seed at `path`, or creates it (mode 0600,
    /// atomically) when the file does not exist.
    ///
    /// A file of any other size, with group/other permission bits, or
    /// holding the all-zero seed is an error naming the path.
    pub fn load_or_create(path: &Path) -> Result<SigningKey, CryptoError> {
        let seed = super::secret::load_or_create(path)?;
        Self::from_seed(seed).map_err(|_| CryptoError::KeyFile {
            path: path.to_path_buf(),
            reason: "invalid seed (all zero)".into(),
        })
    }

    /// A new random key.
    pub fn generate() -> Result<SigningKey, CryptoError> {
        let mut seed = [0u8; 32];
        random::fill(&mut seed)?;
        Self::from_seed(seed)
    }

    /// The key for a 32-byte seed (the all-zero seed is refused).
    pub fn from_seed(seed: [u8; 32]) -> Result<SigningKey, CryptoError> {
        let pair = KeyPair::try_from_seed(Seed::new(seed))
            .map_err(|_| CryptoError::Key("invalid Ed25519 seed"))?;
        // ring derives the public key from the seed again and refuses the
        // pair unless it matches ed25519-compact's.
        let signer = ring::signature::Ed25519KeyPair::from_seed_and_public_key(&seed, &pair.pk[..])
            .map_err(|_| CryptoError::Key("invalid Ed25519 seed"))?;
        Ok(SigningKey { pair, signer })
    }

    /// The 64-byte signature of `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.signer.sign(msg).as_ref());
        out
    }

    /// The 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        *self.pair.pk
    }

    /// Lowercase hex of the public key.
    pub fn public_hex(&self) -> String {
        hex::encode(&self.public_key())
    }

    /// Short key id: the first 16 hex characters of the public key.
    pub fn key_id(&self) -> String {
        let mut id = self.public_hex();
        id.truncate(16);
        id
    }
}

/// Verifies `sig` over `msg` for `public`. Strict: rejects non-canonical
/// encodings and small-order keys and points.
pub fn verify(public: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    PublicKey::new(*public)
        .verify(msg, &Signature::new(*sig))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keyfile::tests::temp_dir;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn arr<const N: usize>(h: &str) -> [u8; N] {
        hex::decode(h).unwrap().try_into().unwrap()
    }

    #[test]
    fn rfc8032_test_vector_1() {
        let key = SigningKey::from_seed(arr(
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        ))
        .unwrap();
        assert_eq!(
            key.public_hex(),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(key.key_id(), "d75a980182b10ab7");
        let sig = key.sign(b"");
        assert_eq!(
            hex::encode(&sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        assert!(verify(&key.public_key(), b"", &sig));
        assert!(!verify(&key.public_key(), b"x", &sig));
        let mut bad = sig;
        bad[0] ^= 1;
        assert!(!verify(&key.public_key(), b"", &bad));
    }

    #[test]
    fn verify_rejects_small_order_key_and_non_canonical_s() {
        // The identity point as public key with an all-zero-R signature.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut sig = [0u8; 64];
        sig[0] = 1;
        assert!(!verify(&identity, b"msg", &sig));
        // s >= L is rejected even for an otherwise valid signature.
        let key = SigningKey::from_seed([7u8; 32]).unwrap();
        let mut s = key.sign(b"m");
        s[63] |= 0xf0;
        assert!(!verify(&key.public_key(), b"m", &s));
    }

    #[test]
    fn ring_and_ed25519_compact_sign_the_same_bytes() {
        // Signing uses ring; ed25519-compact's own (deterministic) signature
        // over the same message must be byte-identical, for many keys and
        // message lengths (empty, one block, several blocks).
        for i in 0..64u8 {
            let mut seed = [0u8; 32];
            crate::crypto::random::fill(&mut seed).unwrap();
            seed[0] |= 1;
            let key = SigningKey::from_seed(seed).unwrap();
            let msg = vec![i; usize::from(i) * 37];
            let ours = key.sign(&msg);
            let compact = *key.pair.sk.sign(&msg, None);
            assert_eq!(ours, compact, "key {i}");
            assert!(verify(&key.public_key(), &msg, &ours));
        }
    }

    #[test]
    fn zero_seed_is_refused() {
        assert!(SigningKey::from_seed([0u8; 32]).is_err());
    }

    #[test]
    fn generate_signs_and_debug_hides_seed() {
        let key = SigningKey::generate().unwrap();
        let sig = key.sign(b"hello");
        assert!(verify(&key.public_key(), b"hello", &sig));
        assert_eq!(format!("{key:?}"), format!("SigningKey({})", key.key_id()));
    }

    #[test]
    fn load_or_create_persists_with_mode_0600() {
        let dir = temp_dir("ed25519");
        let path = dir.join("receipt-signing.key");
        let a = SigningKey::load_or_create(&path).unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 32);
        let b = SigningKey::load_or_create(&path).unwrap();
        assert_eq!(a.public_key(), b.public_key());

        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let e = SigningKey::load_or_create(&path).unwrap_err();
        assert!(e.to_string().contains("receipt-signing.key"), "{e}");

        fs::write(&path, [1u8; 31]).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let e = SigningKey::load_or_create(&path).unwrap_err();
        assert!(e.to_string().contains("receipt-signing.key"), "{e}");

        fs::write(&path, [0u8; 32]).unwrap();
        assert!(SigningKey::load_or_create(&path).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
