//! DPoP proof verification (RFC 9449), in the reference's order:
//! shape, header (typ, alg, jwk), key binding, signature, htm, htu, iat,
//! ath. The jti replay check is separate (`replay`), run last by the caller.

use super::error::{AuthError, JKT_MISMATCH};
use super::htu;
use super::jwt::{self, Parts};
use crate::crypto::{b64url, ct_eq, es256, sha256};
use crate::json::{Map, Value};

/// Oldest accepted `iat`, in seconds before now.
pub const IAT_MAX_AGE_SECS: i64 = 60;
/// Furthest accepted `iat`, in seconds after now (client clock skew).
pub const IAT_CLOCK_SKEW_SECS: i64 = 5;
/// Longest proof accepted (the header limit is the real cap; this keeps
/// the work per proof bounded even if it changes).
pub const MAX_PROOF_BYTES: usize = 8 * 1024;
/// Longest accepted `jti` (a UUID is 36).
pub const MAX_JTI_BYTES: usize = 128;

/// The exact claims a proof must carry, no more and no fewer.
const CLAIMS: [&str; 5] = ["jti", "htm", "htu", "iat", "ath"];

/// What the request says a proof must match.
#[derive(Clone, Copy, Debug)]
pub struct ProofExpectation<'a> {
    /// The request method, uppercase (`POST`).
    pub method: &'a str,
    /// `public_base_url` + path (normalised here before comparing).
    pub htu: &'a str,
    /// The token after `DPoP ` (lease JWT or operator api key); `ath` is
    /// its SHA-256.
    pub access_token: &'a str,
    /// The RFC 7638 thumbprint the proof key must have.
    pub jkt: &'a str,
}

/// The claims of a verified proof the caller still needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofClaims {
    /// Unique proof id, for the replay cache.
    pub jti: String,
    /// Issue time (Unix seconds).
    pub iat: i64,
}

/// Verifies a DPoP proof against `expect` at Unix time `now`.
/// Every failure is 401 `invalid_dpop` with a reason saying which check.
pub fn verify_proof(
    proof: &str,
    expect: &ProofExpectation<'_>,
    now: i64,
) -> Result<ProofClaims, AuthError> {
    // 1. Shape: bounded size, three segments.
    if proof.len() > MAX_PROOF_BYTES {
        return Err(AuthError::invalid_dpop("proof too large"));
    }
    let parts = Parts::split(proof)
        .ok_or_else(|| AuthError::invalid_dpop("malformed proof: expected 3 parts"))?;

    // 2. Header: typ, alg, embedded public key.
    let header = jwt::decode_object(parts.header).ok_or_else(|| {
        AuthError::invalid_dpop("malformed proof header: not base64url JSON object")
    })?;
    if jwt::str_member(&header, "typ") != Some("dpop+jwt") {
        return Err(AuthError::invalid_dpop("invalid typ: expected dpop+jwt"));
    }
    if jwt::str_member(&header, "alg") != Some("ES256") {
        return Err(AuthError::invalid_dpop("unsupported alg: expected ES256"));
    }
    let key = ProofKey::from_header(&header)?;

    // 3. Key binding: the proof key is the one the token is bound to.
    let thumbprint = es256::jwk_thumbprint(key.x_b64, key.y_b64);
    if !ct_eq(thumbprint.as_bytes(), expect.jkt.as_bytes()) {
        return Err(AuthError::invalid_dpop(format!(
            "{JKT_MISMATCH}: proof key thumbprint does not match the bound key"
        )));
    }

    // 4. Signature over the segments exactly as sent (so nothing in the
    // payload is trusted before this point).
    let sig = parts.signature_bytes().ok_or_else(|| {
        AuthError::invalid_dpop("signature verification failed: malformed signature")
    })?;
    if !es256::verify(&key.x, &key.y, parts.signing_input().as_bytes(), &sig) {
        return Err(AuthError::invalid_dpop("signature verification failed"));
    }

    let claims = jwt::decode_object(parts.payload).ok_or_else(|| {
        AuthError::invalid_dpop("malformed proof payload: not base64url JSON object")
    })?;
    check_claim_set(&claims)?;

    // 5. Method.
    let htm = jwt::str_member(&claims, "htm")
        .ok_or_else(|| AuthError::invalid_dpop("htm must be a string"))?;
    if htm != expect.method {
        return Err(AuthError::invalid_dpop(format!(
            "htm mismatch: proof has {htm:?}, request is {:?}",
            expect.method
        )));
    }

    // 6. Target URI, normalised on both sides.
    let claimed_htu = jwt::str_member(&claims, "htu")
        .ok_or_else(|| AuthError::invalid_dpop("htu must be a string"))?;
    let (got, want) = (htu::normalize(claimed_htu), htu::normalize(expect.htu));
    if got != want {
        return Err(AuthError::invalid_dpop(format!(
            "htu mismatch: proof has {got:?}, expected {want:?}"
        )));
    }

    // 7. Freshness.
    let iat = jwt::int_member(&claims, "iat")
        .ok_or_else(|| AuthError::invalid_dpop("iat must be an integer"))?;
    if iat < now.saturating_sub(IAT_MAX_AGE_SECS) {
        return Err(AuthError::invalid_dpop(format!(
            "iat too old: {iat} is more than {IAT_MAX_AGE_SECS}s before now ({now})"
        )));
    }
    if iat > now.saturating_add(IAT_CLOCK_SKEW_SECS) {
        return Err(AuthError::invalid_dpop(format!(
            "iat too far in future: {iat} is more than {IAT_CLOCK_SKEW_SECS}s after now ({now})"
        )));
    }

    // 8. Token binding, constant time.
    let ath = jwt::str_member(&claims, "ath")
        .ok_or_else(|| AuthError::invalid_dpop("ath must be a string"))?;
    let want_ath = b64url::encode(&sha256(expect.access_token.as_bytes()));
    if !ct_eq(ath.as_bytes(), want_ath.as_bytes()) {
        return Err(AuthError::invalid_dpop(
            "ath mismatch: proof is not bound to this access token",
        ));
    }

    let jti = jwt::str_member(&claims, "jti")
        .ok_or_else(|| AuthError::invalid_dpop("jti must be a string"))?;
    if jti.is_empty() || jti.len() > MAX_JTI_BYTES {
        return Err(AuthError::invalid_dpop(format!(
            "jti must be 1 to {MAX_JTI_BYTES} bytes"
        )));
    }
    Ok(ProofClaims {
        jti: jti.to_string(),
        iat,
    })
}

/// Exactly the five claims: none missing, none extra.
fn check_claim_set(claims: &Map) -> Result<(), AuthError> {
    for name in CLAIMS {
        if !claims.contains_key(name) {
            return Err(AuthError::invalid_dpop(format!("missing claim {name}")));
        }
    }
    if let Some(extra) = claims.keys().find(|k| !CLAIMS.contains(&k.as_str())) {
        return Err(AuthError::invalid_dpop(format!(
            "unexpected claim {extra:?}"
        )));
    }
    Ok(())
}

/// The proof's embedded P-256 public key.
struct ProofKey<'h> {
    x_b64: &'h str,
    y_b64: &'h str,
    x: [u8; 32],
    y: [u8; 32],
}

impl<'h> ProofKey<'h> {
    /// Reads `jwk` from the header: EC, P-256, 32-byte x and y in strict
    /// base64url, and no private part. Whether the point is on the curve
    /// is settled by the key-binding check (the bound key was validated
    /// when the lease was issued) and again by ring at signature time.
    fn from_header(header: &'h Map) -> Result<ProofKey<'h>, AuthError> {
        let jwk = match header.get("jwk") {
            Some(Value::Object(m)) => m,
            Some(_) => return Err(AuthError::invalid_dpop("invalid jwk: must be an object")),
            None => return Err(AuthError::invalid_dpop("missing jwk in proof header")),
        };
        if jwt::str_member(jwk, "kty") != Some("EC") || jwt::str_member(jwk, "crv") != Some("P-256")
        {
            return Err(AuthError::invalid_dpop(
                "invalid jwk: expected kty EC and crv P-256",
            ));
        }
        if jwk.contains_key("d") {
            return Err(AuthError::invalid_dpop(
                "invalid jwk: must not contain a private key",
            ));
        }
        let coord = |name: &str| -> Result<(&'h str, [u8; 32]), AuthError> {
            let text = jwt::str_member(jwk, name)
                .ok_or_else(|| AuthError::invalid_dpop(format!("invalid jwk: missing {name}")))?;
            let bytes = b64url::decode(text)
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| {
                    AuthError::invalid_dpop(format!(
                        "invalid jwk: {name} must be 32 bytes of base64url"
                    ))
                })?;
            Ok((text, bytes))
        };
        let (x_b64, x) = coord("x")?;
        let (y_b64, y) = coord("y")?;
        Ok(ProofKey { x_b64, y_b64, x, y })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crypto::es256::KeyPair;
    use crate::obj;

    pub(crate) const NOW: i64 = 1_750_000_000;
    const HTU: &str = "http://localhost:3000/v1/actions/http_fetch/execute";
    const LEASE: &str = "lease.token.a";

    /// Signs `header` and `payload` with `key`, JOSE style.
    pub(crate) fn sign_jws(key: &KeyPair, header: &Value, payload: &Value) -> String {
        let input = format!(
            "{}.{}",
            jwt::encode_segment(header),
            jwt::encode_segment(payload)
        );
        let sig = key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", b64url::encode(&sig))
    }

    pub(crate) fn header_for(key: &KeyPair) -> Value {
        obj! { "typ" => "dpop+jwt", "alg" => "ES256", "jwk" => key.jwk() }
    }

    pub(crate) fn claims(jti: &str, htm: &str, htu: &str, iat: i64, token: &str) -> Value {
        obj! {
            "jti" => jti,
            "htm" => htm,
            "htu" => htu,
            "iat" => iat,
            "ath" => b64url::encode(&sha256(token.as_bytes())),
        }
    }

    /// A proof as the Python SDK builds it.
    pub(crate) fn proof(key: &KeyPair, htm: &str, htu: &str, iat: i64, token: &str) -> String {
        sign_jws(
            key,
            &header_for(key),
            &claims("b3f1c6c2-1d7e-4c51-9a43-0d6f3f9b8c11", htm, htu, iat, token),
        )
    }

    fn expect<'a>(key_jkt: &'a str, token: &'a str) -> ProofExpectation<'a> {
        ProofExpectation {
            method: "POST",
            htu: HTU,
            access_token: token,
            jkt: key_jkt,
        }
    }

    fn err(r: Result<ProofClaims, AuthError>) -> AuthError {
        let e = r.unwrap_err();
        assert_eq!((e.status, e.code), (401, "invalid_dpop"), "{e}");
        e
    }

    fn assert_deny(r: Result<ProofClaims, AuthError>, contains: &str) {
        let e = err(r);
        assert!(
            e.reason.contains(contains),
            "reason {:?} lacks {contains:?}",
            e.reason
        );
    }

    // --- the 13 cases of vectors/dpop-cases.json ---

    #[test]
    fn valid_proof() {
        let key = KeyPair::generate().unwrap();
        let jkt = key.thumbprint();
        let p = proof(&key, "POST", HTU, NOW, LEASE);
        let got = verify_proof(&p, &expect(&jkt, LEASE), NOW).unwrap();
        assert_eq!(got.iat, NOW);
        assert_eq!(got.jti, "b3f1c6c2-1d7e-4c51-9a43-0d6f3f9b8c11");
        // Edges of the iat window are inside it.
        let p = proof(&key, "POST", HTU, NOW - IAT_MAX_AGE_SECS, LEASE);
        assert!(verify_proof(&p, &expect(&jkt, LEASE), NOW).is_ok());
        let p = proof(&key, "POST", HTU, NOW + IAT_CLOCK_SKEW_SECS, LEASE);
        assert!(verify_proof(&p, &expect(&jkt, LEASE), NOW).is_ok());
    }

    #[test]
    fn wrong_method() {
        let key = KeyPair::generate().unwrap();
        let jkt = key.thumbprint();
        let p = proof(&key, "POST", HTU, NOW, LEASE);
        let e = ProofExpectation {
            method: "GET",
            ..expect(&jkt, LEASE)
        };
        assert_deny(verify_proof(&p, &e, NOW), "htm mismatch");
        // Case matters: the SDK always sends uppercase.
        let p = proof(&key, "post", HTU, NOW, LEASE);
        assert_deny(verify_proof(&p, &expect(&jkt, LEASE), NOW), "htm mismatch");
    }

    #[test]
    fn wrong_url() {
        let key = KeyPair::generate().unwrap();
        let jkt = key.thumbprint();
        let p = proof(
            &key,
            "POST",
            "http://localhost:3000/v1/actions/other/execute",
            NOW,
            LEASE,
        );
        assert_deny(verify_proof(&p, &expect(&jkt, LEASE), NOW), "htu mismatch");
        // Normalisation applies to both sides.
        let p = proof(
            &key,
            "POST",
            "HTTP://LOCALHOST:3000/v1/actions/http_fetch/execute?x#y",
            NOW,
            LEASE,
        );
        assert!(verify_proof(&p, &expect(&jkt, LEASE), NOW).is_ok());
        let p = proof(
            &key,
            "POST",
            "http://localhost:3000/V1/actions/http_fetch/execute",
            NOW,
            LEASE,
        );
        assert_deny(verify_proof(&p, &expect(&jkt, LEASE), NOW), "htu mismatch");
    }

    #[test]
    fn expired_iat() {
        let key = KeyPair::generate().unwrap();
        let jkt = key.thumbprint();
        let p = proof(&key, "POST", HTU, NOW - IAT_MAX_AGE_SECS - 1, LEASE);
        assert_deny(verify_proof(&p, &expect(&jkt, LEASE), NOW), "iat too old");
    }

    #[test]
    fn future_iat() {
        let key = KeyPair::generate().unwrap();
        let jkt = key.thumbprint();
        let p = proof(&key, "POST", HTU, NOW + IAT_CLOCK_SKEW_SECS + 1, LEASE);
        assert_deny(
            verify_proof(&p, &expect(&jkt, LEASE), NOW),
            "iat too far in future",
        );
    }

    #[test]
    fn wrong_key_binding() {
        let key = KeyPair::generate().unwrap();
        let other = KeyPair::generate().unwrap();
        let other_jkt = other.thumbprint();
        let p = proof(&key, "POST", HTU, NOW, LEASE);
        let r = verify_proof(&p, &expect(&other_jkt, LEASE), NOW);
        assert!(r.as_ref().unwrap_err().is_jkt_mismatch());
        assert_deny(r, "cnf.jkt");
    }

    #[test]
    fn wrong_ath() {
        let key = KeyPair::generate().unwrap();
        let jkt = key.thumbprint();
        let p = proof(&key, "POST", HTU, NOW, "lease_A");
        assert_deny(verify_proof(&p, &expect(&jkt, "lease_B"), NOW), "ath");
    }

    #[test]
    fn tampered_header() {
        let key = KeyPair::generate().unwrap();
        let jkt = key.thumbprint();
        let p = proof(&key, "POST", HTU, NOW, LEASE);
        let dot = p.find('.').unwrap();
        for extra in ["A", "x", "_", "e30"] {
            let tampered = format!("{}{extra}{}", &p[..dot], &p[dot..]);
            err(verify_proof(&tampered, &expect(&jkt, LEASE), NOW));
        }
    }

    #[test]
    fn tampered_payload() {
        let key = KeyPair::generate().unwrap();
        let jkt = key.thumbprint();
        let p = proof(&key, "POST", HTU, NOW, LEASE);
        let dot = p.rfind('.').unwrap();
        for extra in ["A", "x"] {
            let tampered = format!("{}{extra}{}", &p[..dot], &p[dot..]);
            assert_deny(
                verify_proof(&tampered, &expect(&jkt, LEASE), NOW),
                "signature verification failed",
            );
        }
    }

    #[test]
    fn header_key_vs_signing_key_mismatch() {
        let a = KeyPair::generate().unwrap();
        let b = KeyPair::generate().unwrap();
        let b_jkt = b.thumbprint();
        // Signed by A, embeds B; the verifier is bound to B.
        let p = sign_jws(&a, &header_for(&b), &claims("j", "POST", HTU, NOW, LEASE));
        assert_deny(
            verify_proof(&p, &expect(&b_jkt, LEASE), NOW),
            "signature verification failed",
        );
    }

    #[test]
    fn missing_jwk_header() {
        let key = KeyPair::generate().unwrap();
        let jkt = key.thumbprint();
        let header = obj! { "typ" => "dpop+jwt", "alg" => "ES256" };
        let p = sign_jws(&key, &header, &claims("j", "POST", HTU, NOW, LEASE));
        assert_deny(verify_proof(&p, &expect(&jkt, LEASE), NOW), "jwk");
    }

    #[test]
    fn wrong_typ() {
        let key = KeyPair::generate().unwrap();
        let jkt = key.thumbprint();
        let header = obj! { "typ" => "JWT", "alg" => "ES256", "jwk" => key.jwk() };
        let p = sign_jws(&key, &header, &claims("j", "POST", HTU, NOW, LEASE));
        assert_deny(verify_proof(&p, &expect(&jkt, LEASE), NOW), "typ");
    }

    #[test]
    fn two_part_token() {
        let key = KeyPair::generate().unwrap();
        let jkt = key.thumbprint();
        let p = proof(&key, "POST", HTU, NOW, LEASE);
        let two = &p[..p.rfind('.').unwrap()];
        err(verify_proof(two, &expect(&jkt, LEASE), NOW));
        err(verify_proof(&format!("{p}.x"), &expect(&jkt, LEASE), NOW));
    }

    // --- beyond the vector file ---

    #[test]
    fn alg_and_jwk_shape() {
        let key = KeyPair::generate().unwrap();
        let jkt = key.thumbprint();
        let c = claims("j", "POST", HTU, NOW, LEASE);
        let h = obj! { "typ" => "dpop+jwt", "alg" => "none", "jwk" => key.jwk() };
        assert_deny(
            verify_proof(&sign_jws(&key, &h, &c), &expect(&jkt, LEASE), NOW),
            "alg",
        );
        let h = obj! { "typ" => "dpop+jwt", "alg" => "ES256", "jwk" => "str" };
        assert_deny(
            verify_proof(&sign_jws(&key, &h, &c), &expect(&jkt, LEASE), NOW),
            "jwk",
        );
        let mut jwk = key.jwk();
        jwk.as_object_mut().unwrap().insert("crv", "P-384");
        let h = obj! { "typ" => "dpop+jwt", "alg" => "ES256", "jwk" => jwk };
        assert_deny(
            verify_proof(&sign_jws(&key, &h, &c), &expect(&jkt, LEASE), NOW),
            "jwk",
        );
        let mut jwk = key.jwk();
        jwk.as_object_mut().unwrap().insert("x", "AAAA");
        let h = obj! { "typ" => "dpop+jwt", "alg" => "ES256", "jwk" => jwk };
        assert_deny(
            verify_proof(&sign_jws(&key, &h, &c), &expect(&jkt, LEASE), NOW),
            "32 bytes",
        );
        let mut jwk = key.jwk();
        jwk.as_object_mut().unwrap().insert("d", "AAAA");
        let h = obj! { "typ" => "dpop+jwt", "alg" => "ES256", "jwk" => jwk };
        assert_deny(
            verify_proof(&sign_jws(&key, &h, &c), &expect(&jkt, LEASE), NOW),
            "private",
        );
    }

    #[test]
    fn claim_set_must_be_exact() {
        let key = KeyPair::generate().unwrap();
        let jkt = key.thumbprint();
        let h = header_for(&key);
        let mut c = claims("j", "POST", HTU, NOW, LEASE);
        c.as_object_mut().unwrap().insert("nonce", "n");
        assert_deny(
            verify_proof(&sign_jws(&key, &h, &c), &expect(&jkt, LEASE), NOW),
            "unexpected claim",
        );
        for missing in CLAIMS {
            let mut c = claims("j", "POST", HTU, NOW, LEASE);
            c.as_object_mut().unwrap().remove(missing);
            let r = verify_proof(&sign_jws(&key, &h, &c), &expect(&jkt, LEASE), NOW);
            assert_deny(r, &format!("missing claim {missing}"));
        }
        let mut c = claims("j", "POST", HTU, NOW, LEASE);
        c.as_object_mut().unwrap().insert("iat", NOW as f64 + 0.5);
        assert_deny(
            verify_proof(&sign_jws(&key, &h, &c), &expect(&jkt, LEASE), NOW),
            "iat",
        );
        let mut c = claims("j", "POST", HTU, NOW, LEASE);
        c.as_object_mut().unwrap().insert("iat", NOW.to_string());
        assert_deny(
            verify_proof(&sign_jws(&key, &h, &c), &expect(&jkt, LEASE), NOW),
            "iat",
        );
        let long = "j".repeat(MAX_JTI_BYTES + 1);
        let c = claims(&long, "POST", HTU, NOW, LEASE);
        assert_deny(
            verify_proof(&sign_jws(&key, &h, &c), &expect(&jkt, LEASE), NOW),
            "jti",
        );
        let c = claims("", "POST", HTU, NOW, LEASE);
        assert_deny(
            verify_proof(&sign_jws(&key, &h, &c), &expect(&jkt, LEASE), NOW),
            "jti",
        );
    }

    #[test]
    fn garbage_never_panics() {
        let key = KeyPair::generate().unwrap();
        let jkt = key.thumbprint();
        let oversized = "a".repeat(MAX_PROOF_BYTES + 1);
        for p in [
            "",
            ".",
            "..",
            "a.b.c",
            "é.é.é",
            "\0.\0.\0",
            oversized.as_str(),
        ] {
            err(verify_proof(p, &expect(&jkt, LEASE), NOW));
        }
        // Extreme clocks do not overflow.
        let p = proof(&key, "POST", HTU, NOW, LEASE);
        assert_deny(
            verify_proof(&p, &expect(&jkt, LEASE), i64::MAX),
            "iat too old",
        );
        assert_deny(
            verify_proof(&p, &expect(&jkt, LEASE), i64::MIN),
            "iat too far in future",
        );
    }
}
