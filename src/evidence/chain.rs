//! The hash chain and the signed checkpoints inside it.
//!
//! Every record in events.jsonl carries `seq` (1, 2, 3, …) and `prev_hash`
//! (`null` for seq 1, else `"sha256:" + hex(SHA-256(JCS(previous record as
//! stored)))`). A checkpoint is an ordinary chained record:
//!
//! ```text
//! {"seq", "prev_hash", "event_type":"checkpoint", "timestamp",
//!  "covers_seq": seq - 1, "head_hash": <hash of record covers_seq>,
//!  "key_id", "signature": hex Ed25519 over
//!  "latchgate-checkpoint-v1:" + covers_seq (decimal) + ":" + head_hash}
//! ```
//!
//! The writer emits one at least every [`CHECKPOINT_EVERY`] records, so a
//! longer run without one means checkpoints were stripped.

use super::keys::{decode_signature, KeyRing};
use super::{now_rfc3339, LedgerError};
use crate::crypto::ed25519::{self, SigningKey};
use crate::crypto::hex;
use crate::json::{self, Map, Value};

/// Records between two checkpoints, at most.
pub const CHECKPOINT_EVERY: u64 = 1000;

/// Largest record accepted, serialized (keeps every line re-readable).
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Deepest nesting accepted in a record (the JSON parser's default limit).
pub const MAX_DEPTH: usize = 64;

/// `event_type` of checkpoint records (reserved: callers may not use it).
pub const CHECKPOINT_TYPE: &str = "checkpoint";

/// Domain prefix of the checkpoint signature message.
pub const CHECKPOINT_DOMAIN: &str = "latchgate-checkpoint-v1:";

/// The chain hash of a stored record: `"sha256:" + hex(SHA-256(JCS))`.
pub fn record_hash(record: &Value) -> Result<String, LedgerError> {
    json::canonical_sha256(record)
        .map_err(|e| LedgerError::Invalid(format!("record cannot be canonicalised: {e:?}")))
}

/// The exact bytes a checkpoint signs.
pub fn checkpoint_message(covers_seq: u64, head_hash: &str) -> String {
    format!("{CHECKPOINT_DOMAIN}{covers_seq}:{head_hash}")
}

/// The checkpoint fields after `seq`/`prev_hash`, covering record
/// `covers_seq` whose hash is `head_hash`.
pub(crate) fn checkpoint_fields(covers_seq: u64, head_hash: &str, key: &SigningKey) -> Map {
    let sig = key.sign(checkpoint_message(covers_seq, head_hash).as_bytes());
    let mut m = Map::new();
    m.insert("event_type", CHECKPOINT_TYPE);
    m.insert("timestamp", now_rfc3339());
    m.insert("covers_seq", covers_seq);
    m.insert("head_hash", head_hash);
    m.insert("key_id", key.key_id());
    m.insert("signature", hex::encode(&sig));
    m
}

/// True when `record` is a checkpoint.
pub(crate) fn is_checkpoint(record: &Value) -> bool {
    record.get("event_type").and_then(Value::as_str) == Some(CHECKPOINT_TYPE)
}

/// Checks checkpoint `record` (at `seq`, after a record whose recomputed
/// hash is `prev_hash`): it covers exactly the previous record, names its
/// hash, and is signed by a key in `keys`. The error is the reason.
pub(crate) fn check_checkpoint(
    record: &Value,
    seq: u64,
    prev_hash: Option<&str>,
    keys: &KeyRing,
) -> Result<(), String> {
    let covers = record.get("covers_seq").and_then(Value::as_u64);
    if covers.is_none() || covers != seq.checked_sub(1) {
        return Err("checkpoint does not cover the previous record".into());
    }
    let head = record.get("head_hash").and_then(Value::as_str);
    if head.is_none() || head != prev_hash {
        return Err("checkpoint head_hash does not match the chain".into());
    }
    let kid = record.get("key_id").and_then(Value::as_str).unwrap_or("");
    let Some(public) = keys.get(kid) else {
        return Err(format!("checkpoint signed by unknown key {kid:?}"));
    };
    let Some(sig) = record
        .get("signature")
        .and_then(Value::as_str)
        .and_then(decode_signature)
    else {
        return Err("checkpoint signature is malformed".into());
    };
    let msg = checkpoint_message(covers.unwrap_or(0), head.unwrap_or(""));
    if ed25519::verify(public, msg.as_bytes(), &sig) {
        Ok(())
    } else {
        Err("checkpoint signature is invalid".into())
    }
}

/// Nesting depth of `v` (a scalar is 0, `{}` is 1), stopping at `limit + 1`.
pub(crate) fn depth(v: &Value, limit: usize) -> usize {
    fn walk(v: &Value, here: usize, limit: usize) -> usize {
        if here > limit {
            return here;
        }
        match v {
            Value::Array(a) => a
                .iter()
                .map(|x| walk(x, here + 1, limit))
                .max()
                .unwrap_or(here + 1),
            Value::Object(m) => m
                .iter()
                .map(|(_, x)| walk(x, here + 1, limit))
                .max()
                .unwrap_or(here + 1),
            _ => here,
        }
    }
    walk(v, 0, limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::testutil::key;
    use crate::obj;

    fn ring(seed: u8) -> KeyRing {
        let mut r = KeyRing::new();
        r.add(key(seed).public_key(), "t").unwrap();
        r
    }

    fn checkpoint(seq: u64, prev: &str, seed: u8) -> Value {
        let mut m = Map::new();
        m.insert("seq", seq);
        m.insert("prev_hash", prev);
        for (k, v) in checkpoint_fields(seq - 1, prev, &key(seed)).iter() {
            m.insert(k.as_str(), v.clone());
        }
        Value::Object(m)
    }

    #[test]
    fn record_hash_is_prefixed_jcs_sha256() {
        let v = obj! { "b" => 1, "a" => "x" };
        let expect = format!(
            "sha256:{}",
            crate::crypto::sha256_hex(br#"{"a":"x","b":1}"#)
        );
        assert_eq!(record_hash(&v).unwrap(), expect);
    }

    #[test]
    fn checkpoint_checks() {
        let prev = "sha256:00ff";
        let cp = checkpoint(11, prev, 1);
        assert!(is_checkpoint(&cp));
        assert_eq!(check_checkpoint(&cp, 11, Some(prev), &ring(1)), Ok(()));
        // Wrong position, wrong chain, unknown key, forged signature.
        assert!(check_checkpoint(&cp, 12, Some(prev), &ring(1)).is_err());
        assert!(check_checkpoint(&cp, 11, Some("sha256:00fe"), &ring(1)).is_err());
        assert!(check_checkpoint(&cp, 11, Some(prev), &ring(2)).is_err());
        let mut forged = cp.clone();
        forged
            .as_object_mut()
            .unwrap()
            .insert("signature", hex::encode(&[0u8; 64]));
        assert!(check_checkpoint(&forged, 11, Some(prev), &ring(1)).is_err());
        let mut moved = cp.clone();
        moved.as_object_mut().unwrap().insert("covers_seq", 9);
        assert!(check_checkpoint(&moved, 11, Some(prev), &ring(1)).is_err());
        assert_eq!(
            checkpoint_message(10, prev),
            "latchgate-checkpoint-v1:10:sha256:00ff"
        );
    }

    #[test]
    fn depth_counts_nesting() {
        assert_eq!(depth(&Value::Null, 64), 0);
        assert_eq!(depth(&obj! {}, 64), 1);
        assert_eq!(depth(&obj! { "a" => vec![Value::from(1)] }, 64), 2);
        let mut deep = Value::Null;
        for _ in 0..100 {
            deep = Value::Array(vec![deep]);
        }
        assert!(depth(&deep, 64) > 64);
    }
}
