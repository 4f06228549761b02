//! Execution receipts in the reference wire format, their `result_hash`,
//! the Ed25519 receipt signature and its verification.
//!
//! `result_hash` is the bare lowercase hex SHA-256 of the JCS of exactly
//! `{receipt_id, grant_id, provider_module_digest, provider_receipt,
//! normalized_result, verification_outcome, effect_evidence, started_at,
//! finished_at, failure_class}`, where inside the hashed object the two
//! timestamps end in `+00:00` instead of the wire's `Z` (the reference
//! hashes chrono's `to_rfc3339()` output). `receipt_signature` is the hex
//! Ed25519 signature of the ASCII `result_hash`; `signing_key_id` is the
//! key's id (first 16 hex chars of the public key).

use super::keys::{decode_signature, KeyRing};
use super::LedgerError;
use crate::crypto::ed25519::{self, SigningKey};
use crate::crypto::{self, hex};
use crate::json::{self, Map, Value};
use crate::obj;

/// The ten fields covered by `result_hash`, in wire order.
const HASHED_FIELDS: [&str; 10] = [
    "receipt_id",
    "grant_id",
    "provider_module_digest",
    "provider_receipt",
    "normalized_result",
    "verification_outcome",
    "effect_evidence",
    "started_at",
    "finished_at",
    "failure_class",
];

/// What the run produced, tagged by `kind` on the wire.
#[derive(Clone, Debug, PartialEq)]
pub enum NormalizedResult {
    /// `{"kind":"success","summary":…}`.
    Success {
        /// A short, non-secret summary of the output.
        summary: Value,
    },
    /// `{"kind":"provider_failure","reason":…}`.
    ProviderFailure {
        /// Why the provider failed.
        reason: String,
    },
    /// `{"kind":"timeout"}`.
    Timeout,
    /// `{"kind":"cancelled"}`.
    Cancelled,
    /// `{"kind":"internal_error","reason":…}`.
    InternalError {
        /// What went wrong in the gate.
        reason: String,
    },
}

impl NormalizedResult {
    /// The tagged wire object.
    pub fn to_json(&self) -> Value {
        match self {
            NormalizedResult::Success { summary } => {
                obj! { "kind" => "success", "summary" => summary.clone() }
            }
            NormalizedResult::ProviderFailure { reason } => {
                obj! { "kind" => "provider_failure", "reason" => reason.as_str() }
            }
            NormalizedResult::Timeout => obj! { "kind" => "timeout" },
            NormalizedResult::Cancelled => obj! { "kind" => "cancelled" },
            NormalizedResult::InternalError { reason } => {
                obj! { "kind" => "internal_error", "reason" => reason.as_str() }
            }
        }
    }
}

/// How the effect was checked, tagged by `status` on the wire.
#[derive(Clone, Debug, PartialEq)]
pub enum VerificationOutcome {
    /// `{"status":"verified","evidence":…}`.
    Verified {
        /// What proved the effect.
        evidence: Value,
    },
    /// `{"status":"verification_failed","reason":…}`.
    VerificationFailed {
        /// Why verification failed.
        reason: String,
    },
    /// `{"status":"unverifiable_declared"}`.
    UnverifiableDeclared,
    /// `{"status":"provider_failed_before_verification"}`.
    ProviderFailedBeforeVerification,
    /// `{"status":"skipped"}`.
    Skipped,
}

impl VerificationOutcome {
    /// The tagged wire object.
    pub fn to_json(&self) -> Value {
        match self {
            VerificationOutcome::Verified { evidence } => {
                obj! { "status" => "verified", "evidence" => evidence.clone() }
            }
            VerificationOutcome::VerificationFailed { reason } => {
                obj! { "status" => "verification_failed", "reason" => reason.as_str() }
            }
            VerificationOutcome::UnverifiableDeclared => {
                obj! { "status" => "unverifiable_declared" }
            }
            VerificationOutcome::ProviderFailedBeforeVerification => {
                obj! { "status" => "provider_failed_before_verification" }
            }
            VerificationOutcome::Skipped => obj! { "status" => "skipped" },
        }
    }
}

/// Why an execution failed (`failure_class`; absent means success).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureClass {
    /// `provider_error`.
    ProviderError,
    /// `timeout`.
    Timeout,
    /// `policy_violation`.
    PolicyViolation,
    /// `verification_failed`.
    VerificationFailed,
    /// `cancelled`.
    Cancelled,
    /// `internal_error`.
    InternalError,
}

impl FailureClass {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::ProviderError => "provider_error",
            FailureClass::Timeout => "timeout",
            FailureClass::PolicyViolation => "policy_violation",
            FailureClass::VerificationFailed => "verification_failed",
            FailureClass::Cancelled => "cancelled",
            FailureClass::InternalError => "internal_error",
        }
    }
}

/// Everything a receipt states, before hashing and signing.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceiptParts {
    /// Unique receipt id.
    pub receipt_id: String,
    /// The grant this execution consumed.
    pub grant_id: String,
    /// `sha256:` digest of the provider module that ran.
    pub provider_module_digest: String,
    /// The provider's own (untrusted) output.
    pub provider_receipt: Value,
    /// Normalized outcome, tagged by `kind` (see [`NormalizedResult`]).
    pub normalized_result: Value,
    /// Effect verification outcome, tagged by `status` (see [`VerificationOutcome`]).
    pub verification_outcome: Value,
    /// Effect evidence (empty today, as in the reference).
    pub effect_evidence: Vec<Value>,
    /// Start time, RFC 3339 UTC ending in `Z`.
    pub started_at: String,
    /// End time, RFC 3339 UTC ending in `Z`.
    pub finished_at: String,
    /// Failure class (a [`FailureClass`] wire string), `None` on success.
    pub failure_class: Option<String>,
}

/// Wire tags accepted in `normalized_result.kind`.
const KINDS: [&str; 5] = [
    "success",
    "provider_failure",
    "timeout",
    "cancelled",
    "internal_error",
];

/// Wire tags accepted in `verification_outcome.status`.
const STATUSES: [&str; 5] = [
    "verified",
    "verification_failed",
    "unverifiable_declared",
    "provider_failed_before_verification",
    "skipped",
];

/// Wire strings accepted in `failure_class`.
const FAILURE_CLASSES: [&str; 6] = [
    "provider_error",
    "timeout",
    "policy_violation",
    "verification_failed",
    "cancelled",
    "internal_error",
];

/// Refuses parts that would produce a receipt outside the reference format.
fn check_parts(parts: &ReceiptParts) -> Result<(), LedgerError> {
    for (name, t) in [
        ("started_at", &parts.started_at),
        ("finished_at", &parts.finished_at),
    ] {
        if !t.ends_with('Z') || crate::time::parse_rfc3339(t).is_none() {
            return Err(LedgerError::Invalid(format!(
                "{name} is not RFC 3339 UTC with Z: {t:?}"
            )));
        }
    }
    let tag = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    match tag(&parts.normalized_result, "kind") {
        Some(k) if KINDS.contains(&k.as_str()) => {}
        other => {
            return Err(LedgerError::Invalid(format!(
                "normalized_result kind {other:?} is not allowed"
            )))
        }
    }
    match tag(&parts.verification_outcome, "status") {
        Some(s) if STATUSES.contains(&s.as_str()) => {}
        other => {
            return Err(LedgerError::Invalid(format!(
                "verification_outcome status {other:?} is not allowed"
            )))
        }
    }
    if let Some(fc) = &parts.failure_class {
        if !FAILURE_CLASSES.contains(&fc.as_str()) {
            return Err(LedgerError::Invalid(format!(
                "failure_class {fc:?} is not allowed"
            )));
        }
    }
    Ok(())
}

/// Result of checking a stored receipt (`signature_status` on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureStatus {
    /// Hash and signature check out against a known key.
    Valid,
    /// The fields do not match `result_hash`, or the signature is wrong.
    Invalid,
    /// No `receipt_signature`.
    MissingSignature,
    /// No `signing_key_id`.
    MissingKeyId,
    /// `signing_key_id` is not in the key ring.
    UnknownKeyId,
    /// `receipt_signature` is not 128 hex characters.
    MalformedSignature,
}

impl SignatureStatus {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureStatus::Valid => "valid",
            SignatureStatus::Invalid => "invalid",
            SignatureStatus::MissingSignature => "missing_signature",
            SignatureStatus::MissingKeyId => "missing_key_id",
            SignatureStatus::UnknownKeyId => "unknown_key_id",
            SignatureStatus::MalformedSignature => "malformed_signature",
        }
    }
}

/// `"...Z"` → `"...+00:00"`, the form hashed inside `result_hash`; any
/// other text is returned unchanged.
pub fn hash_timestamp(wire: &str) -> String {
    match wire.strip_suffix('Z') {
        Some(base) => format!("{base}+00:00"),
        None => wire.to_string(),
    }
}

/// `t` (RFC 3339 UTC ending in `Z`) rewritten the way chrono's serde
/// writes a UTC instant: a fraction of 0, 3, 6 or 9 digits, whichever is
/// shortest without loss (`…:00.000Z` → `…:00Z`, `….120000Z` → `….120Z`).
/// With that wire form, the textual `Z` → `+00:00` of [`hash_timestamp`]
/// equals chrono's `to_rfc3339()` of the same instant, so a verifier that
/// re-parses the times computes the same `result_hash`.
fn autosi_utc(t: &str) -> Option<String> {
    crate::time::parse_rfc3339(t)?;
    let body = t.strip_suffix('Z')?;
    let (secs, frac) = body.split_once('.').unwrap_or((body, ""));
    if secs.len() != 19 || secs.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    if frac.len() > 9
        || !frac.bytes().all(|c| c.is_ascii_digit())
        || (body.contains('.') && frac.is_empty())
    {
        return None;
    }
    let nanos = format!("{frac:0<9}");
    let digits = if nanos == "000000000" {
        0
    } else if nanos.ends_with("000000") {
        3
    } else if nanos.ends_with("000") {
        6
    } else {
        9
    };
    let mut out = secs.to_string();
    if digits > 0 {
        out.push('.');
        out.push_str(nanos.get(..digits)?);
    }
    out.push('Z');
    Some(out)
}

/// Builds the signed receipt (wire form) from `parts`.
///
/// Timestamps must be RFC 3339 UTC ending in `Z` (they are re-emitted in
/// chrono's shortest form, see `autosi_utc`); tags and the failure class
/// must be reference values.
pub fn sign(mut parts: ReceiptParts, key: &SigningKey) -> Result<Value, LedgerError> {
    for (name, t) in [
        ("started_at", &mut parts.started_at),
        ("finished_at", &mut parts.finished_at),
    ] {
        *t = autosi_utc(t).ok_or_else(|| {
            LedgerError::Invalid(format!("{name} is not RFC 3339 UTC with Z: {t:?}"))
        })?;
    }
    check_parts(&parts)?;
    // The ten hashed fields, in wire order.
    let mut m = Map::new();
    m.insert("receipt_id", parts.receipt_id);
    m.insert("grant_id", parts.grant_id);
    m.insert("provider_module_digest", parts.provider_module_digest);
    m.insert("provider_receipt", parts.provider_receipt);
    m.insert("normalized_result", parts.normalized_result);
    m.insert("verification_outcome", parts.verification_outcome);
    m.insert("effect_evidence", parts.effect_evidence);
    m.insert("started_at", parts.started_at);
    m.insert("finished_at", parts.finished_at);
    m.insert("failure_class", parts.failure_class);
    let hashed = Value::Object(m);
    let hash = result_hash(&hashed)?;
    let signature = key.sign(hash.as_bytes());
    // Re-emit in the reference's wire order with the signature fields.
    let Value::Object(mut fields) = hashed else {
        return Err(LedgerError::Invalid("receipt is not an object".into()));
    };
    let mut out = Map::new();
    for name in &HASHED_FIELDS[..7] {
        out.insert(*name, fields.remove(name).unwrap_or(Value::Null));
    }
    out.insert("result_hash", hash);
    out.insert("receipt_signature", hex::encode(&signature));
    out.insert("signing_key_id", key.key_id());
    for name in &HASHED_FIELDS[7..] {
        out.insert(*name, fields.remove(name).unwrap_or(Value::Null));
    }
    Ok(Value::Object(out))
}

/// Recomputes `result_hash` from a wire receipt's ten hashed fields.
pub fn result_hash(receipt: &Value) -> Result<String, LedgerError> {
    let mut hashed = Map::new();
    for name in HASHED_FIELDS {
        let v = receipt
            .get(name)
            .ok_or_else(|| LedgerError::Invalid(format!("receipt has no {name}")))?;
        let v = match (name, v) {
            ("started_at" | "finished_at", Value::String(s)) => Value::String(hash_timestamp(s)),
            ("started_at" | "finished_at", _) => {
                return Err(LedgerError::Invalid(format!(
                    "receipt {name} is not a string"
                )));
            }
            _ => v.clone(),
        };
        hashed.insert(name, v);
    }
    let text = json::canonical(&Value::Object(hashed))
        .map_err(|e| LedgerError::Invalid(format!("receipt cannot be canonicalised: {e:?}")))?;
    Ok(crypto::sha256_hex(text.as_bytes()))
}

/// Checks a stored receipt: its fields against `result_hash`, then the
/// signature against the key named by `signing_key_id`.
pub fn verify_receipt(receipt: &Value, keys: &KeyRing) -> SignatureStatus {
    let sig_text = match receipt.get("receipt_signature") {
        None | Some(Value::Null) => return SignatureStatus::MissingSignature,
        Some(v) => v.as_str(),
    };
    let kid = match receipt.get("signing_key_id") {
        None | Some(Value::Null) => return SignatureStatus::MissingKeyId,
        Some(v) => v.as_str(),
    };
    let Some(public) = kid.and_then(|k| keys.get(k)) else {
        return SignatureStatus::UnknownKeyId;
    };
    let Some(signature) = sig_text.and_then(decode_signature) else {
        return SignatureStatus::MalformedSignature;
    };
    let Some(stored) = receipt.get("result_hash").and_then(Value::as_str) else {
        return SignatureStatus::Invalid;
    };
    match result_hash(receipt) {
        Ok(h) if crypto::ct_eq(h.as_bytes(), stored.as_bytes()) => {}
        _ => return SignatureStatus::Invalid,
    }
    if ed25519::verify(public, stored.as_bytes(), &signature) {
        SignatureStatus::Valid
    } else {
        SignatureStatus::Invalid
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::evidence::testutil::key;

    /// A fixed, valid set of receipt parts.
    pub(crate) fn parts() -> ReceiptParts {
        ReceiptParts {
            receipt_id: "rcpt-1".into(),
            grant_id: "grant-1".into(),
            provider_module_digest: "sha256:abcd".into(),
            provider_receipt: obj! { "status" => 200, "body_sha256" => "x" },
            normalized_result: NormalizedResult::Success {
                summary: Value::from("HTTP 200"),
            }
            .to_json(),
            verification_outcome: VerificationOutcome::Skipped.to_json(),
            effect_evidence: vec![],
            started_at: "2024-05-01T12:00:00.123Z".into(),
            finished_at: "2024-05-01T12:00:00.456Z".into(),
            failure_class: None,
        }
    }

    fn ring() -> KeyRing {
        let mut r = KeyRing::new();
        r.add(key(9).public_key(), "t").unwrap();
        r
    }

    #[test]
    fn hash_uses_plus_zero_offset_and_only_the_ten_fields() {
        let r = sign(parts(), &key(9)).unwrap();
        // Independent recomputation of the documented preimage.
        let pre = obj! {
            "receipt_id" => "rcpt-1",
            "grant_id" => "grant-1",
            "provider_module_digest" => "sha256:abcd",
            "provider_receipt" => obj! { "status" => 200, "body_sha256" => "x" },
            "normalized_result" => obj! { "kind" => "success", "summary" => "HTTP 200" },
            "verification_outcome" => obj! { "status" => "skipped" },
            "effect_evidence" => Vec::<Value>::new(),
            "started_at" => "2024-05-01T12:00:00.123+00:00",
            "finished_at" => "2024-05-01T12:00:00.456+00:00",
            "failure_class" => Value::Null,
        };
        let expect = crypto::sha256_hex(json::canonical(&pre).unwrap().as_bytes());
        assert_eq!(
            r.get("result_hash").unwrap().as_str(),
            Some(expect.as_str())
        );
        assert_eq!(expect.len(), 64);
        assert_eq!(
            r.get("started_at").unwrap().as_str(),
            Some("2024-05-01T12:00:00.123Z")
        );
        assert_eq!(
            r.get("signing_key_id").unwrap().as_str(),
            Some(key(9).key_id().as_str())
        );
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 13);
    }

    #[test]
    fn signed_receipt_verifies_and_edits_do_not() {
        let r = sign(parts(), &key(9)).unwrap();
        assert_eq!(verify_receipt(&r, &ring()), SignatureStatus::Valid);

        let mut edited = r.clone();
        edited
            .as_object_mut()
            .unwrap()
            .insert("grant_id", "grant-2");
        assert_eq!(verify_receipt(&edited, &ring()), SignatureStatus::Invalid);

        // Editing the hash too still fails: the signature covers the hash.
        let new_hash = result_hash(&edited).unwrap();
        edited
            .as_object_mut()
            .unwrap()
            .insert("result_hash", new_hash);
        assert_eq!(verify_receipt(&edited, &ring()), SignatureStatus::Invalid);

        let mut t = r.clone();
        t.as_object_mut()
            .unwrap()
            .insert("finished_at", "2024-05-01T12:00:01.456Z");
        assert_eq!(verify_receipt(&t, &ring()), SignatureStatus::Invalid);
    }

    #[test]
    fn statuses_for_missing_and_malformed_parts() {
        let r = sign(parts(), &key(9)).unwrap();
        let with = |k: &str, v: Value| {
            let mut x = r.clone();
            x.as_object_mut().unwrap().insert(k, v);
            x
        };
        let without = |k: &str| {
            let mut x = r.clone();
            x.as_object_mut().unwrap().remove(k);
            x
        };
        assert_eq!(
            verify_receipt(&without("receipt_signature"), &ring()),
            SignatureStatus::MissingSignature
        );
        assert_eq!(
            verify_receipt(&with("receipt_signature", Value::Null), &ring()),
            SignatureStatus::MissingSignature
        );
        assert_eq!(
            verify_receipt(&without("signing_key_id"), &ring()),
            SignatureStatus::MissingKeyId
        );
        assert_eq!(
            verify_receipt(&with("signing_key_id", "0123456789abcdef".into()), &ring()),
            SignatureStatus::UnknownKeyId
        );
        assert_eq!(
            verify_receipt(&r, &KeyRing::new()),
            SignatureStatus::UnknownKeyId
        );
        assert_eq!(
            verify_receipt(&with("receipt_signature", "zz".into()), &ring()),
            SignatureStatus::MalformedSignature
        );
        assert_eq!(
            verify_receipt(&with("receipt_signature", 5.into()), &ring()),
            SignatureStatus::MalformedSignature
        );
        assert_eq!(
            verify_receipt(&without("provider_receipt"), &ring()),
            SignatureStatus::Invalid
        );
        assert_eq!(
            verify_receipt(&Value::from("x"), &ring()),
            SignatureStatus::MissingSignature
        );
        let other = sign(parts(), &key(8)).unwrap();
        let forged = with(
            "receipt_signature",
            other.get("receipt_signature").unwrap().clone(),
        );
        assert_eq!(verify_receipt(&forged, &ring()), SignatureStatus::Invalid);
        assert_eq!(
            SignatureStatus::MalformedSignature.as_str(),
            "malformed_signature"
        );
    }

    #[test]
    fn tagged_variants_and_failure_class_on_the_wire() {
        let mut p = parts();
        p.normalized_result = NormalizedResult::ProviderFailure {
            reason: "502".into(),
        }
        .to_json();
        p.verification_outcome = VerificationOutcome::ProviderFailedBeforeVerification.to_json();
        p.failure_class = Some(FailureClass::ProviderError.as_str().into());
        let r = sign(p.clone(), &key(9)).unwrap();
        assert_eq!(
            r.get("normalized_result").unwrap().to_json(),
            r#"{"kind":"provider_failure","reason":"502"}"#
        );
        assert_eq!(
            r.get("verification_outcome")
                .unwrap()
                .get("status")
                .unwrap()
                .as_str(),
            Some("provider_failed_before_verification")
        );
        assert_eq!(
            r.get("failure_class").unwrap().as_str(),
            Some("provider_error")
        );
        assert_eq!(verify_receipt(&r, &ring()), SignatureStatus::Valid);
    }

    #[test]
    fn refuses_unknown_tags_and_classes() {
        let mut p = parts();
        p.normalized_result = obj! { "kind" => "great" };
        assert!(sign(p, &key(9)).is_err());
        let mut p = parts();
        p.verification_outcome = obj! { "state" => "skipped" };
        assert!(sign(p, &key(9)).is_err());
        let mut p = parts();
        p.failure_class = Some("oops".into());
        assert!(sign(p, &key(9)).is_err());
    }

    #[test]
    fn wire_times_take_chrono_form_and_hash_like_to_rfc3339() {
        let cases = [
            ("2024-05-01T12:00:00.000Z", "2024-05-01T12:00:00Z"),
            ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z"),
            ("2024-05-01T12:00:00.120Z", "2024-05-01T12:00:00.120Z"),
            ("2024-05-01T12:00:00.1Z", "2024-05-01T12:00:00.100Z"),
            (
                "2024-05-01T12:00:00.123456000Z",
                "2024-05-01T12:00:00.123456Z",
            ),
            (
                "2024-05-01T12:00:00.123456789Z",
                "2024-05-01T12:00:00.123456789Z",
            ),
        ];
        for (given, wire) in cases {
            assert_eq!(autosi_utc(given).as_deref(), Some(wire), "{given}");
        }
        for ms in [1_714_564_800_000, 1_714_564_800_123] {
            let mut p = parts();
            p.started_at = crate::time::rfc3339_millis(ms);
            let r = sign(p, &key(9)).unwrap();
            let wire = r.get("started_at").unwrap().as_str().unwrap();
            assert_eq!(hash_timestamp(wire), crate::time::rfc3339_offset(ms));
            assert_eq!(verify_receipt(&r, &ring()), SignatureStatus::Valid);
        }
        for bad in [
            "2024-05-01T12:00:00.Z",
            "2024-05-01T12:00:00.1234567890Z",
            "2024-05-01t12:00:00Z",
        ] {
            assert_eq!(autosi_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn refuses_non_utc_wire_times() {
        let mut p = parts();
        p.started_at = "2024-05-01T12:00:00+00:00".into();
        assert!(sign(p.clone(), &key(9)).is_err());
        p.started_at = "yesterday".into();
        assert!(sign(p.clone(), &key(9)).is_err());
        assert_eq!(
            hash_timestamp("2024-05-01T12:00:00Z"),
            "2024-05-01T12:00:00+00:00"
        );
        assert_eq!(
            hash_timestamp("2024-05-01T12:00:00+02:00"),
            "2024-05-01T12:00:00+02:00"
        );
    }
}
