//! `head.json`: the latest durable chain head, signed, so a truncated or
//! deleted tail of events.jsonl is detected.
//!
//! Format: `{"seq", "hash", "key_id", "signature", "written_at"}` where
//! `hash` is the chain hash of record `seq` and `signature` is the hex
//! Ed25519 signature of `"latchgate-head-v1:" + seq (decimal) + ":" + hash`.
//! Rewritten atomically (temporary file + rename) after durable batches.

use super::fsutil;
use super::keys::{decode_signature, KeyRing};
use super::{now_rfc3339, LedgerError};
use crate::crypto::ed25519::{self, SigningKey};
use crate::crypto::hex;
use crate::json::{self, Value};
use crate::obj;
use std::path::Path;

/// File name of the signed head inside the ledger directory.
pub const HEAD_FILE: &str = "head.json";

/// Domain prefix of the head signature message.
pub const HEAD_DOMAIN: &str = "latchgate-head-v1:";

/// A signed chain head.
#[derive(Clone, Debug, PartialEq)]
pub struct Head {
    /// Sequence number of the newest durable record.
    pub seq: u64,
    /// Chain hash of that record (`sha256:…`).
    pub hash: String,
    /// Id of the signing key.
    pub key_id: String,
    /// Hex Ed25519 signature of [`head_message`].
    pub signature: String,
    /// When this head was written (informational, not signed).
    pub written_at: String,
}

/// The exact bytes a head signs.
pub fn head_message(seq: u64, hash: &str) -> String {
    format!("{HEAD_DOMAIN}{seq}:{hash}")
}

impl Head {
    /// Signs the head for record `seq` with chain hash `hash`.
    pub(crate) fn sign(seq: u64, hash: &str, key: &SigningKey) -> Head {
        Head {
            seq,
            hash: hash.to_string(),
            key_id: key.key_id(),
            signature: hex::encode(&key.sign(head_message(seq, hash).as_bytes())),
            written_at: now_rfc3339(),
        }
    }

    /// The JSON document.
    pub fn to_json(&self) -> Value {
        obj! {
            "seq" => self.seq,
            "hash" => self.hash.as_str(),
            "key_id" => self.key_id.as_str(),
            "signature" => self.signature.as_str(),
            "written_at" => self.written_at.as_str(),
        }
    }

    /// Reads the JSON document; the error says which field is wrong.
    pub fn from_json(v: &Value) -> Result<Head, String> {
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("head.json has no string {k}"))
        };
        Ok(Head {
            seq: v
                .get("seq")
                .and_then(Value::as_u64)
                .ok_or("head.json has no integer seq")?,
            hash: text("hash")?,
            key_id: text("key_id")?,
            signature: text("signature")?,
            written_at: v
                .get("written_at")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        })
    }

    /// True when the signature is valid for a key in `keys`.
    pub fn verify(&self, keys: &KeyRing) -> bool {
        let (Some(public), Some(sig)) = (keys.get(&self.key_id), decode_signature(&self.signature))
        else {
            return false;
        };
        ed25519::verify(public, head_message(self.seq, &self.hash).as_bytes(), &sig)
    }

    /// Writes `dir/head.json` atomically.
    pub(crate) fn write(&self, dir: &Path) -> Result<(), LedgerError> {
        let mut text = self.to_json().to_json();
        text.push('\n');
        fsutil::write_atomic(dir, HEAD_FILE, text.as_bytes())
    }

    /// Reads `dir/head.json`: `Ok(None)` when absent, `Ok(Some(Err(why)))`
    /// when present but malformed, I/O failures as errors.
    pub fn read(dir: &Path) -> Result<Option<Result<Head, String>>, LedgerError> {
        let Some(bytes) = fsutil::read_optional(&dir.join(HEAD_FILE))? else {
            return Ok(None);
        };
        Ok(Some(match json::parse(&bytes) {
            Ok(v) => Head::from_json(&v),
            Err(e) => Err(format!("head.json is not JSON: {e}")),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::testutil::{key, TempDir};

    #[test]
    fn signed_head_round_trips_and_verifies() {
        let t = TempDir::new("head");
        let k = key(4);
        let mut ring = KeyRing::new();
        ring.add(k.public_key(), "t").unwrap();
        assert_eq!(Head::read(t.path()).unwrap(), None);
        let h = Head::sign(42, "sha256:abcd", &k);
        h.write(t.path()).unwrap();
        let back = Head::read(t.path()).unwrap().unwrap().unwrap();
        assert_eq!(back, h);
        assert!(back.verify(&ring));
        assert!(!back.verify(&KeyRing::new()));
        let mut moved = back.clone();
        moved.seq = 41;
        assert!(!moved.verify(&ring));
        let mut rehashed = back;
        rehashed.hash = "sha256:abce".into();
        assert!(!rehashed.verify(&ring));
        assert_eq!(
            head_message(7, "sha256:aa"),
            "latchgate-head-v1:7:sha256:aa"
        );
    }

    #[test]
    fn malformed_head_is_reported_not_fatal() {
        let t = TempDir::new("head-bad");
        std::fs::write(t.path().join(HEAD_FILE), b"{\"seq\":\"x\"}").unwrap();
        assert!(Head::read(t.path()).unwrap().unwrap().is_err());
        std::fs::write(t.path().join(HEAD_FILE), b"garbage").unwrap();
        assert!(Head::read(t.path()).unwrap().unwrap().is_err());
    }
}
