//! Request authentication: lease JWT (ES256) + DPoP proof + jti replay.
//!
//! `authenticate` runs the whole check for one request; the pieces live in
//! `lease` (issue/verify), `dpop` (proof), `htu` (URL normalisation) and
//! `replay` (jti cache).

pub mod dpop;
pub mod dpop_client;
mod error;
pub mod htu;
pub(crate) mod jwt;
pub mod lease;
pub mod replay;

pub use dpop::{verify_proof, ProofClaims, ProofExpectation};
pub use error::AuthError;
pub use lease::{LeaseClaims, LeaseIssuer, LeaseRequest, LeaseRequestError};
pub use replay::ReplayCache;

/// Largest `Authorization` or `DPoP` header value looked at.
pub const MAX_AUTH_HEADER_BYTES: usize = 8 * 1024;

/// Authenticates a request carrying `Authorization: DPoP <lease>` and a
/// `DPoP: <proof>` header.
///
/// `method` is the request method, `expected_htu` is `public_base_url` +
/// path (never the Host header), `now` is Unix seconds. Order: headers
/// present and well-formed, lease, proof (bound to the lease's `cnf.jkt`
/// and to the lease string through `ath`), then the jti replay check, so
/// only fully valid proofs are remembered.
pub fn authenticate(
    authorization: Option<&str>,
    dpop: Option<&str>,
    method: &str,
    expected_htu: &str,
    issuer: &LeaseIssuer,
    replay: &ReplayCache,
    now: i64,
) -> Result<LeaseClaims, AuthError> {
    if now <= 0 {
        return Err(AuthError::clock_error());
    }
    let authorization = authorization.ok_or_else(AuthError::missing_auth_header)?;
    let token = dpop_token(authorization)?;
    let proof = dpop.ok_or_else(AuthError::missing_dpop_header)?;
    if proof.len() > MAX_AUTH_HEADER_BYTES {
        return Err(AuthError::invalid_dpop("DPoP header too large"));
    }
    let lease = issuer.verify(token, now)?;
    let expect = ProofExpectation {
        method,
        htu: expected_htu,
        access_token: token,
        jkt: &lease.cnf_jkt,
    };
    let claims = verify_proof(proof, &expect, now)?;
    replay.check_and_insert(&claims.jti, now)?;
    Ok(lease)
}

/// The token of an `Authorization: DPoP <token>` value. The scheme name is
/// case-insensitive (RFC 9110 §11.1); the token is everything after one
/// space and must be a single non-empty word.
fn dpop_token(authorization: &str) -> Result<&str, AuthError> {
    if authorization.len() > MAX_AUTH_HEADER_BYTES {
        return Err(AuthError::invalid_lease("Authorization header too large"));
    }
    let (scheme, token) = authorization
        .split_once(' ')
        .ok_or_else(AuthError::invalid_auth_scheme)?;
    if !scheme.eq_ignore_ascii_case("DPoP") {
        return Err(AuthError::invalid_auth_scheme());
    }
    if token.is_empty() || token.contains(|c: char| c.is_ascii_whitespace()) {
        return Err(AuthError::invalid_lease("malformed DPoP token"));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::dpop::tests::{claims, header_for, proof, sign_jws};
    use super::lease::LeaseClaims;
    use super::*;
    use crate::crypto::es256::KeyPair;

    const NOW: i64 = 1_750_000_000;
    const HTU: &str = "http://localhost:3000/v1/actions/http_fetch/execute";

    struct Fixture {
        issuer: LeaseIssuer,
        replay: ReplayCache,
        key: KeyPair,
        lease: String,
    }

    fn fixture() -> Fixture {
        let issuer = LeaseIssuer::new().unwrap();
        let key = KeyPair::generate().unwrap();
        let claims = LeaseClaims {
            sub: "dev:anonymous".into(),
            iat: NOW,
            nbf: NOW,
            exp: NOW + 300,
            jti: crate::crypto::uuid::v7(),
            session_id: crate::crypto::uuid::v7(),
            scope: vec!["tools:call".into()],
            max_calls: None,
            cnf_jkt: key.thumbprint(),
            owner: None,
            fs_root: None,
        };
        let lease = issuer.issue(&claims).unwrap();
        Fixture {
            issuer,
            replay: ReplayCache::new(180, 1000),
            key,
            lease,
        }
    }

    impl Fixture {
        fn auth(
            &self,
            authz: Option<&str>,
            dpop: Option<&str>,
            now: i64,
        ) -> Result<LeaseClaims, AuthError> {
            authenticate(authz, dpop, "POST", HTU, &self.issuer, &self.replay, now)
        }
        fn bearer(&self) -> String {
            format!("DPoP {}", self.lease)
        }
    }

    fn code(r: Result<LeaseClaims, AuthError>) -> &'static str {
        r.unwrap_err().code
    }

    #[test]
    fn full_flow_then_replay() {
        let f = fixture();
        let p = proof(&f.key, "POST", HTU, NOW, &f.lease);
        let lease = f.auth(Some(&f.bearer()), Some(&p), NOW).unwrap();
        assert_eq!(lease.cnf_jkt, f.key.thumbprint());
        let e = f.auth(Some(&f.bearer()), Some(&p), NOW + 1).unwrap_err();
        assert_eq!((e.status, e.code), (401, "replay_detected"));
    }

    #[test]
    fn header_errors_in_order() {
        let f = fixture();
        let p = proof(&f.key, "POST", HTU, NOW, &f.lease);
        assert_eq!(code(f.auth(None, Some(&p), NOW)), "missing_auth_header");
        assert_eq!(code(f.auth(None, None, NOW)), "missing_auth_header");
        let bearer = format!("Bearer {}", f.lease);
        assert_eq!(
            code(f.auth(Some(&bearer), Some(&p), NOW)),
            "invalid_auth_scheme"
        );
        assert_eq!(
            code(f.auth(Some(&f.lease), Some(&p), NOW)),
            "invalid_auth_scheme"
        );
        assert_eq!(
            code(f.auth(Some(&f.bearer()), None, NOW)),
            "missing_dpop_header"
        );
        assert_eq!(code(f.auth(Some("DPoP "), Some(&p), NOW)), "invalid_lease");
        assert_eq!(
            code(f.auth(Some("DPoP a b"), Some(&p), NOW)),
            "invalid_lease"
        );
        let huge = format!("DPoP {}", "a".repeat(MAX_AUTH_HEADER_BYTES));
        assert_eq!(code(f.auth(Some(&huge), Some(&p), NOW)), "invalid_lease");
        let huge_proof = "a".repeat(MAX_AUTH_HEADER_BYTES + 1);
        assert_eq!(
            code(f.auth(Some(&f.bearer()), Some(&huge_proof), NOW)),
            "invalid_dpop"
        );
        assert_eq!(code(f.auth(Some(&f.bearer()), Some(&p), 0)), "clock_error");
        // Scheme name is case-insensitive.
        let lower = format!("dpop {}", f.lease);
        assert!(f.auth(Some(&lower), Some(&p), NOW).is_ok());
    }

    #[test]
    fn lease_failures_come_before_proof_checks() {
        let f = fixture();
        let p = proof(&f.key, "POST", HTU, NOW + 300, &f.lease);
        assert_eq!(
            code(f.auth(Some(&f.bearer()), Some(&p), NOW + 300)),
            "lease_expired"
        );
        assert_eq!(
            code(f.auth(Some("DPoP x.y.z"), Some(&p), NOW)),
            "invalid_lease"
        );
        // A failed request does not burn the jti.
        let p = proof(&f.key, "POST", HTU, NOW, &f.lease);
        assert_eq!(
            code(f.auth(Some("DPoP x.y.z"), Some(&p), NOW)),
            "invalid_lease"
        );
        assert!(f.replay.is_empty());
        assert!(f.auth(Some(&f.bearer()), Some(&p), NOW).is_ok());
    }

    #[test]
    fn proof_must_be_bound_to_this_lease_and_key() {
        let f = fixture();
        // Proof signed by another key: cnf.jkt mismatch.
        let other = KeyPair::generate().unwrap();
        let p = proof(&other, "POST", HTU, NOW, &f.lease);
        let e = f.auth(Some(&f.bearer()), Some(&p), NOW).unwrap_err();
        assert_eq!(e.code, "invalid_dpop");
        assert!(e.reason.contains("cnf.jkt"));
        // Proof for a different token: ath mismatch.
        let p = proof(&f.key, "POST", HTU, NOW, "another-lease");
        let e = f.auth(Some(&f.bearer()), Some(&p), NOW).unwrap_err();
        assert!(e.reason.contains("ath"));
        // Proof for another method.
        let p = sign_jws(
            &f.key,
            &header_for(&f.key),
            &claims("j2", "GET", HTU, NOW, &f.lease),
        );
        let e = f.auth(Some(&f.bearer()), Some(&p), NOW).unwrap_err();
        assert!(e.reason.contains("htm mismatch"));
    }

    /// A proof produced by the published Python SDK (latchgate 0.2.0,
    /// `DPoPKeyPair.sign_proof`) with its key, jti and iat pinned, against
    /// a fixed token. Generated once with python3 + cryptography; the bytes
    /// are the SDK's own JSON serialisation.
    #[test]
    fn python_sdk_proof_verifies() {
        let token = SDK_TOKEN;
        let expect = ProofExpectation {
            method: "POST",
            htu: "http://localhost:3000/v1/actions/http_fetch/execute",
            access_token: token,
            jkt: SDK_JKT,
        };
        let got = verify_proof(SDK_PROOF, &expect, SDK_IAT).unwrap();
        assert_eq!(got.jti, SDK_JTI);
        assert_eq!(got.iat, SDK_IAT);
        let e = verify_proof(SDK_PROOF, &expect, SDK_IAT + 61).unwrap_err();
        assert!(e.reason.contains("iat too old"));
    }

    const SDK_TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
    const SDK_IAT: i64 = 1_750_000_000;
    const SDK_JTI: &str = "3f2a9c4e-8b1d-4e6f-a0c2-5d7e9f1b3a48";
    /// Thumbprint of the SDK key (the RFC 6979 P-256 test key).
    const SDK_JKT: &str = "DOvxvJiAdIqVWIkFt5hDtCunXLF0BV4-JGv4f-ALSm0";
    const SDK_PROOF: &str = concat!(
        "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwiY3J2IjoiUC0yNTYiLCJ4Ijoi",
        "WVA3VXVpVmFuVEhKWWV0MHhqVnRhTUJKdUpJN1lmcHM1bWxpTG1EeW43WSIsInkiOiJlUVAtRUFpNHZKbWtHdW5wVmlp",
        "OFpQTHhzZ3d0ZnA5UmQ2UENsTlJHSXBrIn19",
        ".eyJqdGkiOiIzZjJhOWM0ZS04YjFkLTRlNmYtYTBjMi01ZDdlOWYxYjNhNDgiLCJodG0iOiJQT1NUIiwiaHR1IjoiaHR0",
        "cDovL2xvY2FsaG9zdDozMDAwL3YxL2FjdGlvbnMvaHR0cF9mZXRjaC9leGVjdXRlIiwiaWF0IjoxNzUwMDAwMDAwLCJh",
        "dGgiOiJuMG5SY3prVF9CYWdKMU1PWU9LNDRnbEpRUjNzR1JUWTVLM1lqRG1iMzY0In0",
        ".IkAmDmq67u_FEG0_rABwVNpVNqIFYrc6T2vK-8OKAei_mGUsqPTVxJNnJSO1ODCW76_pRnTO7HsaM-qJVB0_aA",
    );
}
