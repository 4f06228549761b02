//! DPoP proofs on the client side (RFC 9449), as `latchgate-mcp` and any
//! other Rust client of the gate sign them.
//!
//! A proof is a compact JWS, ES256: header `{typ:"dpop+jwt", alg:"ES256",
//! jwk}`, payload exactly `{jti, htm, htu, iat, ath}` (the five claims the
//! gate's verifier requires, no more), signature raw r‖s. `ath` binds the
//! proof to the access token it travels with: base64url SHA-256 of the
//! token text after `DPoP `.

use crate::crypto::{b64url, es256::KeyPair, sha256, CryptoError};
use crate::obj;

/// The `htu` for `path` on a gate whose public base URL is `base`: the
/// base without trailing `/`, then the path (which starts with `/`). The
/// gate builds its expectation the same way, so the two agree.
pub fn htu(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// `ath`: base64url (no padding) of SHA-256 over the access token.
pub fn ath(access_token: &str) -> String {
    b64url::encode(&sha256(access_token.as_bytes()))
}

/// A DPoP proof signed by `key` for `method` (uppercase) on `htu`, bound
/// to `access_token`, issued at Unix second `iat`, with a fresh random jti.
pub fn proof(
    key: &KeyPair,
    method: &str,
    htu: &str,
    access_token: &str,
    iat: i64,
) -> Result<String, CryptoError> {
    let header = obj! {
        "typ" => "dpop+jwt",
        "alg" => "ES256",
        "jwk" => key.jwk(),
    };
    let payload = obj! {
        "jti" => crate::crypto::uuid::v4(),
        "htm" => method,
        "htu" => htu,
        "iat" => iat,
        "ath" => ath(access_token),
    };
    let signing_input = format!(
        "{}.{}",
        b64url::encode(header.to_json().as_bytes()),
        b64url::encode(payload.to_json().as_bytes())
    );
    let sig = key.sign(signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", b64url::encode(&sig)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::dpop::{verify_proof, ProofExpectation};

    const NOW: i64 = 1_750_000_000;
    const HTU: &str = "http://localhost:3000/v1/actions/echo/execute";

    fn expect<'a>(key_jkt: &'a str, token: &'a str) -> ProofExpectation<'a> {
        ProofExpectation {
            method: "POST",
            htu: HTU,
            access_token: token,
            jkt: key_jkt,
        }
    }

    #[test]
    fn proof_passes_the_gate_verifier() {
        let key = KeyPair::generate().unwrap();
        let jkt = key.thumbprint();
        let p = proof(&key, "POST", HTU, "lease-token", NOW).unwrap();
        let claims = verify_proof(&p, &expect(&jkt, "lease-token"), NOW).unwrap();
        assert_eq!(claims.iat, NOW);
        assert_eq!(claims.jti.len(), 36);
        // A second proof has another jti (the gate refuses replays).
        let q = proof(&key, "POST", HTU, "lease-token", NOW).unwrap();
        let again = verify_proof(&q, &expect(&jkt, "lease-token"), NOW).unwrap();
        assert_ne!(claims.jti, again.jti);
    }

    #[test]
    fn proof_is_bound_to_token_method_url_and_key() {
        let key = KeyPair::generate().unwrap();
        let jkt = key.thumbprint();
        let p = proof(&key, "POST", HTU, "lease-token", NOW).unwrap();
        let e = verify_proof(&p, &expect(&jkt, "another-token"), NOW).unwrap_err();
        assert!(e.reason.contains("ath"), "{}", e.reason);
        let get = proof(&key, "GET", HTU, "lease-token", NOW).unwrap();
        let e = verify_proof(&get, &expect(&jkt, "lease-token"), NOW).unwrap_err();
        assert!(e.reason.contains("htm"), "{}", e.reason);
        let other_url = proof(&key, "POST", "http://localhost:3000/x", "lease-token", NOW).unwrap();
        let e = verify_proof(&other_url, &expect(&jkt, "lease-token"), NOW).unwrap_err();
        assert!(e.reason.contains("htu"), "{}", e.reason);
        let other = KeyPair::generate().unwrap().thumbprint();
        assert!(verify_proof(&p, &expect(&other, "lease-token"), NOW).is_err());
        // Too old for the gate's 60 s window.
        assert!(verify_proof(&p, &expect(&jkt, "lease-token"), NOW + 61).is_err());
    }

    #[test]
    fn payload_has_exactly_the_five_claims() {
        let key = KeyPair::generate().unwrap();
        let p = proof(&key, "GET", HTU, "t", NOW).unwrap();
        let payload = p.split('.').nth(1).unwrap();
        let v = crate::json::parse(&b64url::decode(payload).unwrap()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["jti", "htm", "htu", "iat", "ath"]);
        assert_eq!(
            v.get("ath").and_then(|a| a.as_str()),
            Some(ath("t").as_str())
        );
    }

    #[test]
    fn htu_joins_base_and_path_without_double_slash() {
        assert_eq!(
            htu("http://localhost:3000/", "/v1/x"),
            "http://localhost:3000/v1/x"
        );
        assert_eq!(
            htu("http://localhost:3000", "/v1/x"),
            "http://localhost:3000/v1/x"
        );
    }
}
