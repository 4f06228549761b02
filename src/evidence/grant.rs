//! Execution grants: the gate's signed permission for exactly one run of
//! one action with one request, bound to the caller's key.
//!
//! Signature format (`latchgate-grant-v1`, internal to the gate):
//!
//! ```text
//! preimage  = "latchgate-grant-v1:"
//!             ns(grant_id) ns(subject) ns(sender_binding) ns(action_id)
//!             ns(action_digest) ns(provider_module_digest) ns(request_hash)
//!             ns(issued_at) ns(expires_at) ns(revocation_epoch as decimal)
//!             (ns(approval_hash) | "~" when there is none)
//! ns(x)     = decimal byte length of x + ":" + x + ","      (a netstring)
//! signable  = lowercase hex SHA-256(preimage)
//! signature = Ed25519(grant key, ASCII bytes of signable), hex
//! ```
//!
//! Unlike the reference's plain `id:subject:binding:…` join, netstrings
//! stay unambiguous when a field contains `:` (every digest does), and the
//! preimage covers every field, including the action and provider digest.
//! Grants are signed with their own key, never the receipt key.

use super::keys::{decode_signature, key_id};
use crate::crypto::ed25519::{self, SigningKey};
use crate::crypto::{self, hex};
use crate::json::Value;
use crate::obj;

/// Domain separation prefix of the grant preimage.
pub const GRANT_DOMAIN: &str = "latchgate-grant-v1:";

/// An execution grant. `signature` and `signing_key_id` are empty until
/// [`Grant::sign`] fills them.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    /// Unique grant id.
    pub grant_id: String,
    /// The principal the grant was issued to.
    pub subject: String,
    /// Sender binding (the DPoP key thumbprint, `cnf.jkt`).
    pub sender_binding: String,
    /// The action id.
    pub action_id: String,
    /// Digest of the action manifest.
    pub action_digest: String,
    /// Digest of the provider module allowed to run.
    pub provider_module_digest: String,
    /// `sha256:` hash of the canonical request.
    pub request_hash: String,
    /// Issue time, RFC 3339 UTC.
    pub issued_at: String,
    /// Expiry time, RFC 3339 UTC.
    pub expires_at: String,
    /// Revocation epoch at issue time (a later `revoke-all` invalidates it).
    pub revocation_epoch: u64,
    /// Hash of the approval that allowed it, when one was needed.
    pub approval_hash: Option<String>,
    /// Hex Ed25519 signature over [`Grant::signable`].
    pub signature: String,
    /// Id of the grant key that signed.
    pub signing_key_id: String,
}

/// Appends `x` as a netstring.
fn netstring(out: &mut String, x: &str) {
    out.push_str(&x.len().to_string());
    out.push(':');
    out.push_str(x);
    out.push(',');
}

impl Grant {
    /// The exact bytes hashed into [`Grant::signable`].
    pub fn preimage(&self) -> String {
        let mut p = String::from(GRANT_DOMAIN);
        for field in [
            &self.grant_id,
            &self.subject,
            &self.sender_binding,
            &self.action_id,
            &self.action_digest,
            &self.provider_module_digest,
            &self.request_hash,
            &self.issued_at,
            &self.expires_at,
        ] {
            netstring(&mut p, field);
        }
        netstring(&mut p, &self.revocation_epoch.to_string());
        match &self.approval_hash {
            Some(h) => netstring(&mut p, h),
            None => p.push('~'),
        }
        p
    }

    /// The signable hash: lowercase hex SHA-256 of the preimage.
    pub fn signable(&self) -> String {
        crypto::sha256_hex(self.preimage().as_bytes())
    }

    /// Signs with the grant key, filling `signature` and `signing_key_id`.
    pub fn sign(&mut self, key: &SigningKey) {
        self.signature = hex::encode(&key.sign(self.signable().as_bytes()));
        self.signing_key_id = key.key_id();
    }

    /// True when `signature` is valid for this grant's fields under
    /// `public_key`, and `signing_key_id` names that key.
    pub fn verify(&self, public_key: &[u8; 32]) -> bool {
        if self.signing_key_id != key_id(public_key) {
            return false;
        }
        match decode_signature(&self.signature) {
            Some(sig) => ed25519::verify(public_key, self.signable().as_bytes(), &sig),
            None => false,
        }
    }

    /// True when `now_ms` is within [issued_at, expires_at) and the grant
    /// belongs to `current_epoch`. Unparseable times are never live.
    pub fn is_live(&self, now_ms: i64, current_epoch: u64) -> bool {
        let (Some(issued), Some(expires)) = (
            crate::time::parse_rfc3339(&self.issued_at),
            crate::time::parse_rfc3339(&self.expires_at),
        ) else {
            return false;
        };
        now_ms >= issued && now_ms < expires && self.revocation_epoch == current_epoch
    }

    /// The grant as JSON (reference field names for the signature).
    pub fn to_json(&self) -> Value {
        obj! {
            "grant_id" => self.grant_id.as_str(),
            "subject" => self.subject.as_str(),
            "sender_binding" => self.sender_binding.as_str(),
            "action_id" => self.action_id.as_str(),
            "action_digest" => self.action_digest.as_str(),
            "provider_module_digest" => self.provider_module_digest.as_str(),
            "request_hash" => self.request_hash.as_str(),
            "issued_at" => self.issued_at.as_str(),
            "expires_at" => self.expires_at.as_str(),
            "revocation_epoch" => self.revocation_epoch,
            "approval_hash" => self.approval_hash.as_deref(),
            "grant_signature" => self.signature.as_str(),
            "grant_signing_key_id" => self.signing_key_id.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::testutil::key;

    fn grant() -> Grant {
        Grant {
            grant_id: "g-1".into(),
            subject: "agent:alice".into(),
            sender_binding: "jkt-abc".into(),
            action_id: "http_get".into(),
            action_digest: "sha256:aa".into(),
            provider_module_digest: "sha256:bb".into(),
            request_hash: "sha256:cc".into(),
            issued_at: "2024-05-01T12:00:00.000Z".into(),
            expires_at: "2024-05-01T12:01:00.000Z".into(),
            revocation_epoch: 3,
            approval_hash: None,
            signature: String::new(),
            signing_key_id: String::new(),
        }
    }

    #[test]
    fn preimage_matches_the_documented_format() {
        let mut g = grant();
        assert_eq!(
            g.preimage(),
            "latchgate-grant-v1:3:g-1,11:agent:alice,7:jkt-abc,8:http_get,9:sha256:aa,9:sha256:bb,\
             9:sha256:cc,24:2024-05-01T12:00:00.000Z,24:2024-05-01T12:01:00.000Z,1:3,~"
        );
        g.approval_hash = Some("sha256:dd".into());
        assert!(g.preimage().ends_with(",1:3,9:sha256:dd,"));
        assert_eq!(g.signable(), crypto::sha256_hex(g.preimage().as_bytes()));
    }

    #[test]
    fn sign_verify_and_every_field_is_bound() {
        let k = key(5);
        let mut g = grant();
        g.sign(&k);
        assert!(g.verify(&k.public_key()));
        assert_eq!(g.signing_key_id, k.key_id());
        assert!(!g.verify(&key(6).public_key()));

        let edits: [fn(&mut Grant); 11] = [
            |g| g.grant_id.push('x'),
            |g| g.subject.push('x'),
            |g| g.sender_binding.push('x'),
            |g| g.action_id.push('x'),
            |g| g.action_digest.push('x'),
            |g| g.provider_module_digest.push('x'),
            |g| g.request_hash.push('x'),
            |g| g.issued_at.push('x'),
            |g| g.expires_at.push('x'),
            |g| g.revocation_epoch += 1,
            |g| g.approval_hash = Some(String::new()),
        ];
        for edit in edits {
            let mut h = g.clone();
            edit(&mut h);
            assert!(!h.verify(&k.public_key()), "{h:?}");
        }
    }

    #[test]
    fn colon_shifts_do_not_collide() {
        let mut a = grant();
        a.subject = "agent".into();
        a.sender_binding = "alice:jkt".into();
        let mut b = grant();
        b.subject = "agent:alice".into();
        b.sender_binding = "jkt".into();
        assert_ne!(a.signable(), b.signable());
    }

    #[test]
    fn malformed_signature_and_liveness() {
        let k = key(5);
        let mut g = grant();
        g.sign(&k);
        let mut cut = g.clone();
        cut.signature.truncate(10);
        assert!(!cut.verify(&k.public_key()));
        let mut unsigned = grant();
        unsigned.signing_key_id = k.key_id();
        assert!(!unsigned.verify(&k.public_key()));

        let t0 = crate::time::parse_rfc3339("2024-05-01T12:00:00.000Z").unwrap();
        assert!(g.is_live(t0, 3));
        assert!(g.is_live(t0 + 59_999, 3));
        assert!(!g.is_live(t0 + 60_000, 3));
        assert!(!g.is_live(t0 - 1, 3));
        assert!(!g.is_live(t0, 4));
        let v = g.to_json();
        assert_eq!(v.get("revocation_epoch").unwrap().as_u64(), Some(3));
        assert_eq!(
            v.get("grant_signature").unwrap().as_str(),
            Some(g.signature.as_str())
        );
    }
}
