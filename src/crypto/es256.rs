//! ES256: ECDSA over P-256 with SHA-256, signatures as raw r‖s (JOSE).

use super::{b64url, random, sha256, CryptoError};
use crate::json::Value;
use ring::agreement;
use ring::signature::{
    EcdsaKeyPair, KeyPair as _, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use std::fmt;

/// DER prefix of a P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1,
/// BIT STRING of 66 bytes); the uncompressed point follows.
const SPKI_P256_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A P-256 signing key pair.
pub struct KeyPair {
    inner: EcdsaKeyPair,
    x: [u8; 32],
    y: [u8; 32],
}

impl fmt::Debug for KeyPair {
    /// Shows only the public coordinates.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "es256::KeyPair(x={})", b64url::encode(&self.x))
    }
}

impl KeyPair {
    /// A new random key pair.
    pub fn generate() -> Result<KeyPair, CryptoError> {
        let pkcs8 = generate_pkcs8()?;
        Self::from_pkcs8(&pkcs8)
    }

    /// Loads an unencrypted PKCS#8 v1 P-256 key (DER) that includes its
    /// public key, as `generate_pkcs8` and OpenSSL write it.
    pub fn from_pkcs8(der: &[u8]) -> Result<KeyPair, CryptoError> {
        let inner = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, random::rng())
            .map_err(|_| CryptoError::Key("not a P-256 PKCS#8 key"))?;
        let (x, y) = split_point(inner.public_key().as_ref())
            .ok_or(CryptoError::Key("unexpected P-256 public key encoding"))?;
        Ok(KeyPair { inner, x, y })
    }

    /// ES256 signature of `msg` as raw r‖s (randomised nonce).
    pub fn sign(&self, msg: &[u8]) -> Result<[u8; 64], CryptoError> {
        let sig = self
            .inner
            .sign(random::rng(), msg)
            .map_err(|_| CryptoError::Sign)?;
        sig.as_ref().try_into().map_err(|_| CryptoError::Sign)
    }

    /// The public point's affine coordinates (big-endian, 32 bytes each).
    pub fn public_xy(&self) -> ([u8; 32], [u8; 32]) {
        (self.x, self.y)
    }

    /// The public key as a JWK: `{"kty":"EC","crv":"P-256","x":..,"y":..}`.
    pub fn jwk(&self) -> Value {
        crate::obj! {
            "kty" => "EC",
            "crv" => "P-256",
            "x" => b64url::encode(&self.x),
            "y" => b64url::encode(&self.y),
        }
    }

    /// The RFC 7638 thumbprint of this key's JWK.
    pub fn thumbprint(&self) -> String {
        jwk_thumbprint(&b64url::encode(&self.x), &b64url::encode(&self.y))
    }

    /// The public key as DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Vec<u8> {
        let mut der = Vec::with_capacity(SPKI_P256_PREFIX.len() + 65);
        der.extend_from_slice(&SPKI_P256_PREFIX);
        der.push(0x04);
        der.extend_from_slice(&self.x);
        der.extend_from_slice(&self.y);
        der
    }
}

/// A new random P-256 key as PKCS#8 v1 DER (for keys written to disk).
pub fn generate_pkcs8() -> Result<Vec<u8>, CryptoError> {
    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, random::rng())
        .map(|doc| doc.as_ref().to_vec())
        .map_err(|_| CryptoError::Key("P-256 key generation failed"))
}

/// Verifies a raw r‖s ES256 signature over `msg` for the point (x, y).
/// False for any malformed input, including points not on the curve.
pub fn verify(x: &[u8; 32], y: &[u8; 32], msg: &[u8], sig: &[u8]) -> bool {
    if sig.len() != 64 {
        return false;
    }
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, uncompressed(x, y))
        .verify(msg, sig)
        .is_ok()
}

/// True when (x, y) is a valid P-256 public point (on the curve, not the
/// identity, coordinates below the field prime).
///
/// ring has no direct point check, so this runs a throwaway ECDH with an
/// ephemeral key: ring validates the peer point fully before using it.
pub fn is_valid_point(x: &[u8; 32], y: &[u8; 32]) -> bool {
    let Ok(ours) = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, random::rng())
    else {
        return false;
    };
    let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, uncompressed(x, y));
    agreement::agree_ephemeral(ours, &peer, |_| ()).is_ok()
}

/// RFC 7638 thumbprint of a P-256 JWK: base64url(SHA-256) of its required
/// members in lexicographic order, no whitespace.
///
/// `x_b64` and `y_b64` must already be validated base64url text (the
/// alphabet needs no JSON escaping, so this string is the JCS form).
pub fn jwk_thumbprint(x_b64: &str, y_b64: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x_b64}","y":"{y_b64}"}}"#);
    b64url::encode(&sha256(canonical.as_bytes()))
}

/// SEC1 uncompressed point 04‖x‖y.
fn uncompressed(x: &[u8; 32], y: &[u8; 32]) -> [u8; 65] {
    let mut p = [0u8; 65];
    p[0] = 0x04;
    p[1..33].copy_from_slice(x);
    p[33..].copy_from_slice(y);
    p
}

/// Splits a 65-byte uncompressed point into (x, y).
fn split_point(p: &[u8]) -> Option<([u8; 32], [u8; 32])> {
    match p {
        [0x04, rest @ ..] if rest.len() == 64 => {
            let x = rest.get(..32)?.try_into().ok()?;
            let y = rest.get(32..)?.try_into().ok()?;
            Some((x, y))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::hex;

    fn arr32(h: &str) -> [u8; 32] {
        hex::decode(h).unwrap().try_into().unwrap()
    }

    // RFC 6979 A.2.5: P-256 key.
    const UX: &str = "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6";
    const UY: &str = "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";

    #[test]
    fn rfc6979_p256_sha256_known_answers_verify() {
        let (x, y) = (arr32(UX), arr32(UY));
        let sample = hex::decode(
            "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716\
             f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
        )
        .unwrap();
        let test = hex::decode(
            "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367\
             019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083",
        )
        .unwrap();
        assert!(verify(&x, &y, b"sample", &sample));
        assert!(verify(&x, &y, b"test", &test));
        assert!(!verify(&x, &y, b"test", &sample));
        assert!(!verify(&x, &y, b"sample", &sample[..63]));
        let mut bad = sample.clone();
        bad[10] ^= 1;
        assert!(!verify(&x, &y, b"sample", &bad));
        // Same signature, point moved off the curve.
        let mut off = y;
        off[31] ^= 1;
        assert!(!verify(&x, &off, b"sample", &sample));
    }

    #[test]
    fn point_validation() {
        let (x, y) = (arr32(UX), arr32(UY));
        assert!(is_valid_point(&x, &y));
        let mut off = y;
        off[31] ^= 1;
        assert!(!is_valid_point(&x, &off));
        assert!(!is_valid_point(&[0u8; 32], &[0u8; 32]));
        assert!(!is_valid_point(&[0xff; 32], &y));
    }

    #[test]
    fn thumbprint_known_answer() {
        // Computed independently with Python hashlib/base64 over the
        // RFC 7638 member string of the RFC 6979 P-256 key.
        let x = b64url::encode(&arr32(UX));
        let y = b64url::encode(&arr32(UY));
        assert_eq!(x, "YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y");
        assert_eq!(y, "eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpk");
        assert_eq!(
            jwk_thumbprint(&x, &y),
            "DOvxvJiAdIqVWIkFt5hDtCunXLF0BV4-JGv4f-ALSm0"
        );
    }

    #[test]
    fn sign_verify_round_trip_and_key_forms() {
        let kp = KeyPair::generate().unwrap();
        let (x, y) = kp.public_xy();
        let sig = kp.sign(b"payload").unwrap();
        assert!(verify(&x, &y, b"payload", &sig));
        assert!(!verify(&x, &y, b"payloae", &sig));
        assert!(is_valid_point(&x, &y));

        let spki = kp.spki_der();
        assert_eq!(spki.len(), 91);
        assert_eq!(&spki[..26], &SPKI_P256_PREFIX);
        assert_eq!(&spki[27..59], &x);

        let jwk = kp.jwk();
        assert_eq!(jwk.get("kty").and_then(Value::as_str), Some("EC"));
        assert_eq!(jwk.get("crv").and_then(Value::as_str), Some("P-256"));
        let jx = jwk.get("x").and_then(Value::as_str).unwrap();
        let jy = jwk.get("y").and_then(Value::as_str).unwrap();
        assert_eq!(b64url::decode(jx).unwrap(), x);
        assert_eq!(kp.thumbprint(), jwk_thumbprint(jx, jy));

        let der = generate_pkcs8().unwrap();
        let a = KeyPair::from_pkcs8(&der).unwrap();
        let b = KeyPair::from_pkcs8(&der).unwrap();
        assert_eq!(a.public_xy(), b.public_xy());
        assert!(KeyPair::from_pkcs8(b"not a key").is_err());
    }
}
