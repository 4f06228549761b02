//! The receipt/ledger public keys ever used (`keys.json`), for verifying
//! receipts, checkpoints and the signed head, online and offline.
//!
//! Format (the reference's `receipt-keys.jwks`; old keys are never removed):
//! `{"keys":[{"kid","x_hex","kty":"OKP","crv":"Ed25519","alg":"EdDSA","added_at"}]}`
//! where `kid` is the first 16 hex characters of `x_hex`.

use super::fsutil;
use super::LedgerError;
use crate::crypto::hex;
use crate::json::{self, Value};
use crate::obj;
use std::path::Path;

/// File name of the key ring inside the ledger directory.
pub const KEYS_FILE: &str = "keys.json";

/// Short key id: the first 16 hex characters of the public key.
pub fn key_id(public_key: &[u8; 32]) -> String {
    let mut id = hex::encode(public_key);
    id.truncate(16);
    id
}

/// One public key and when it was first used.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyEntry {
    /// Key id (first 16 hex chars of the public key).
    pub kid: String,
    /// The Ed25519 public key.
    pub public_key: [u8; 32],
    /// RFC 3339 time it was added.
    pub added_at: String,
}

/// The set of trusted public keys, by key id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyRing {
    entries: Vec<KeyEntry>,
}

impl KeyRing {
    /// An empty ring.
    pub fn new() -> KeyRing {
        KeyRing::default()
    }

    /// Loads `path`; a missing file is an empty ring, a malformed one an error.
    pub fn load(path: &Path) -> Result<KeyRing, LedgerError> {
        match fsutil::read_optional(path)? {
            None => Ok(KeyRing::new()),
            Some(bytes) => {
                let v = json::parse(&bytes)
                    .map_err(|e| LedgerError::Keys(format!("{}: {e}", path.display())))?;
                KeyRing::from_json(&v)
            }
        }
    }

    /// Reads the JWKS-style document described in the module docs.
    pub fn from_json(v: &Value) -> Result<KeyRing, LedgerError> {
        let bad = |why: &str| LedgerError::Keys(format!("keys.json: {why}"));
        let list = v
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("missing \"keys\" array"))?;
        let mut ring = KeyRing::new();
        for item in list {
            let kid = item
                .get("kid")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("entry without kid"))?;
            let x = item
                .get("x_hex")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("entry without x_hex"))?;
            let added_at = item.get("added_at").and_then(Value::as_str).unwrap_or("");
            let public_key = decode_key(x).ok_or_else(|| bad("x_hex is not 32 bytes of hex"))?;
            if key_id(&public_key) != kid {
                return Err(bad(&format!("kid {kid} does not match its key")));
            }
            ring.add(public_key, added_at)?;
        }
        Ok(ring)
    }

    /// The document written to keys.json (and served as receipt keys).
    pub fn to_json(&self) -> Value {
        let keys: Vec<Value> = self
            .entries
            .iter()
            .map(|e| {
                obj! {
                    "kid" => e.kid.as_str(),
                    "x_hex" => hex::encode(&e.public_key),
                    "kty" => "OKP",
                    "crv" => "Ed25519",
                    "alg" => "EdDSA",
                    "added_at" => e.added_at.as_str(),
                }
            })
            .collect();
        obj! { "keys" => keys }
    }

    /// Writes the ring to `dir/keys.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<(), LedgerError> {
        let mut text = self.to_json().to_pretty();
        text.push('\n');
        fsutil::write_atomic(dir, KEYS_FILE, text.as_bytes())
    }

    /// Adds a key; `Ok(false)` if it is already present. A different key
    /// with the same id is refused (ids must be unambiguous).
    pub fn add(&mut self, public_key: [u8; 32], added_at: &str) -> Result<bool, LedgerError> {
        let kid = key_id(&public_key);
        if let Some(existing) = self.entries.iter().find(|e| e.kid == kid) {
            if existing.public_key == public_key {
                return Ok(false);
            }
            return Err(LedgerError::Keys(format!(
                "two different keys share kid {kid}"
            )));
        }
        self.entries.push(KeyEntry {
            kid,
            public_key,
            added_at: added_at.to_string(),
        });
        Ok(true)
    }

    /// The public key for `kid`.
    pub fn get(&self, kid: &str) -> Option<&[u8; 32]> {
        self.entries
            .iter()
            .find(|e| e.kid == kid)
            .map(|e| &e.public_key)
    }

    /// All entries, oldest first.
    pub fn entries(&self) -> &[KeyEntry] {
        &self.entries
    }
}

/// 64 hex characters to a 32-byte key.
fn decode_key(text: &str) -> Option<[u8; 32]> {
    hex::decode(text)?.try_into().ok()
}

/// 128 hex characters to a 64-byte signature.
pub(crate) fn decode_signature(text: &str) -> Option<[u8; 64]> {
    hex::decode(text)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::testutil::{key, TempDir};

    #[test]
    fn round_trips_through_the_file() {
        let t = TempDir::new("keys");
        let mut ring = KeyRing::new();
        assert!(ring
            .add(key(1).public_key(), "2024-01-01T00:00:00.000Z")
            .unwrap());
        assert!(ring
            .add(key(2).public_key(), "2024-02-01T00:00:00.000Z")
            .unwrap());
        assert!(!ring.add(key(1).public_key(), "later").unwrap());
        ring.save(t.path()).unwrap();
        let back = KeyRing::load(&t.path().join(KEYS_FILE)).unwrap();
        assert_eq!(back, ring);
        assert_eq!(back.get(&key(2).key_id()), Some(&key(2).public_key()));
        assert_eq!(back.get("0000000000000000"), None);
        let doc = back.to_json();
        let first = &doc.get("keys").unwrap().as_array().unwrap()[0];
        assert_eq!(first.get("kty").unwrap().as_str(), Some("OKP"));
        assert_eq!(
            first.get("kid").unwrap().as_str(),
            Some(key(1).key_id().as_str())
        );
    }

    #[test]
    fn missing_file_is_empty_and_garbage_is_an_error() {
        let t = TempDir::new("keys-bad");
        assert!(KeyRing::load(&t.path().join(KEYS_FILE))
            .unwrap()
            .entries()
            .is_empty());
        std::fs::write(t.path().join(KEYS_FILE), b"{nope").unwrap();
        assert!(KeyRing::load(&t.path().join(KEYS_FILE)).is_err());
    }

    #[test]
    fn rejects_kid_that_does_not_match_key() {
        let pk = key(3).public_key();
        let doc = obj! { "keys" => vec![obj! {
            "kid" => "ffffffffffffffff",
            "x_hex" => hex::encode(&pk),
            "added_at" => "x",
        }] };
        assert!(KeyRing::from_json(&doc).is_err());
        let short = obj! { "keys" => vec![obj! { "kid" => "ab", "x_hex" => "ab" }] };
        assert!(KeyRing::from_json(&short).is_err());
    }
}
