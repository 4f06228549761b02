//! A 32-byte symmetric secret kept in a key file (mode 0600), and
//! HMAC-SHA256 with it (ring).

use super::{keyfile, CryptoError};
use std::path::Path;

/// Loads the 32-byte secret at `path`, or creates a random one (0600, atomically).
pub fn load_or_create(path: &Path) -> Result<[u8; 32], CryptoError> {
    if let Some(secret) = keyfile::read::<32>(path)? {
        return Ok(secret);
    }
    let mut secret = [0u8; 32];
    super::random::fill(&mut secret)?;
    if keyfile::create(path, &secret)? {
        return Ok(secret);
    }
    // Created concurrently by someone else: use theirs.
    keyfile::read::<32>(path)?.ok_or_else(|| CryptoError::KeyFile {
        path: path.to_path_buf(),
        reason: "file vanished while being created".into(),
    })
}

/// HMAC-SHA256 of `parts` (concatenated) under `key`.
pub fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut ctx = ring::hmac::Context::with_key(&k);
    for p in parts {
        ctx.update(p);
    }
    let tag = ctx.sign();
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_python_and_depends_on_key() {
        // python3: hmac.new(bytes([7]*32), b"abcdef", hashlib.sha256).hexdigest()
        let key = [7u8; 32];
        let a = hmac_sha256(&key, &[b"abc", b"def"]);
        assert_eq!(
            crate::crypto::hex::encode(&a),
            "f7908560611e2c7fba72d0997127f32e20625f51db88d3edf68ef9aa19c76da6"
        );
        assert_ne!(a, hmac_sha256(&[8u8; 32], &[b"abcdef"]));
    }

    #[test]
    fn secret_file_is_created_once() {
        let dir = std::env::temp_dir().join(format!("lg-secret-{}", crate::crypto::uuid::v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s.key");
        let a = load_or_create(&p).unwrap();
        let b = load_or_create(&p).unwrap();
        assert_eq!(a, b);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
