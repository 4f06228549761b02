//! Compact JWS plumbing shared by leases and DPoP proofs: split, decode a
//! segment as a JSON object, encode a segment.

use crate::crypto::b64url;
use crate::json::{self, Map, Value};

/// The three segments of a compact JWS.
pub(crate) struct Parts<'a> {
    /// base64url header text.
    pub header: &'a str,
    /// base64url payload text.
    pub payload: &'a str,
    /// base64url signature text.
    pub signature: &'a str,
}

impl<'a> Parts<'a> {
    /// Splits `token` into exactly three non-empty-header segments.
    pub fn split(token: &'a str) -> Option<Parts<'a>> {
        let mut it = token.split('.');
        let header = it.next()?;
        let payload = it.next()?;
        let signature = it.next()?;
        if it.next().is_some() || header.is_empty() || payload.is_empty() {
            return None;
        }
        Some(Parts {
            header,
            payload,
            signature,
        })
    }

    /// The bytes the signature covers: `header.payload` as sent.
    pub fn signing_input(&self) -> String {
        format!("{}.{}", self.header, self.payload)
    }

    /// The signature as the 64 raw r‖s bytes ES256 uses.
    pub fn signature_bytes(&self) -> Option<[u8; 64]> {
        b64url::decode(self.signature)?.try_into().ok()
    }
}

/// Decodes a base64url segment holding a JSON object.
pub(crate) fn decode_object(segment: &str) -> Option<Map> {
    let bytes = b64url::decode(segment)?;
    match json::parse(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// base64url of the compact JSON text of `v`.
pub(crate) fn encode_segment(v: &Value) -> String {
    b64url::encode(v.to_json().as_bytes())
}

/// The string member `key`, if present and a string.
pub(crate) fn str_member<'m>(m: &'m Map, key: &str) -> Option<&'m str> {
    m.get(key).and_then(Value::as_str)
}

/// The integer member `key`, if present and an integer (not a float).
pub(crate) fn int_member(m: &Map, key: &str) -> Option<i64> {
    match m.get(key) {
        Some(Value::Number(json::Number::Int(i))) => Some(*i),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_requires_exactly_three_parts() {
        let p = Parts::split("a.b.c").unwrap();
        assert_eq!((p.header, p.payload, p.signature), ("a", "b", "c"));
        assert_eq!(p.signing_input(), "a.b");
        assert!(Parts::split("a.b").is_none());
        assert!(Parts::split("a.b.c.d").is_none());
        assert!(Parts::split(".b.c").is_none());
        assert!(Parts::split("a..c").is_none());
        assert!(Parts::split("").is_none());
    }

    #[test]
    fn decode_object_only_accepts_objects() {
        let seg = b64url::encode(br#"{"a":1}"#);
        let m = decode_object(&seg).unwrap();
        assert_eq!(int_member(&m, "a"), Some(1));
        assert!(decode_object(&b64url::encode(b"[1]")).is_none());
        assert!(decode_object(&b64url::encode(b"{")).is_none());
        assert!(decode_object("!!").is_none());
    }

    #[test]
    fn int_member_rejects_floats_and_strings() {
        let m = decode_object(&b64url::encode(br#"{"a":1.5,"b":"2","c":3}"#)).unwrap();
        assert_eq!(int_member(&m, "a"), None);
        assert_eq!(int_member(&m, "b"), None);
        assert_eq!(int_member(&m, "c"), Some(3));
        assert_eq!(str_member(&m, "b"), Some("2"));
    }
}
