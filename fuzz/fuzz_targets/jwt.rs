//! Signed tokens: the gateway's caller tokens (`src/gateway/jwt.rs`, JWKS
//! loading and `Validator::check`), and the gate's leases
//! (`src/auth/jwt.rs` segments through `LeaseIssuer::verify`, the whole
//! `Authorization: DPoP` + `DPoP` check of `auth::authenticate`, and the
//! lease request body `LeaseRequest::parse`).
//!
//! Input: byte 0 picks the mode:
//! 0. a raw token for the gateway validator (fixed JWKS);
//! 1. / 2. header and payload bytes (byte 1 is the header's length), signed
//!    with the JWKS's Ed25519 / P-256 key, so the claim checks are reached;
//! 3. JWKS text for `Validator::new` (byte 1 is the leeway);
//! 4. `Authorization` and `DPoP` header values (split at the first LF) for
//!    the gate, the same text as a lease, and as a lease request body.
//!
//! Properties: no panic; a token is only ever accepted with the configured
//! issuer, an audience naming ours and an unexpired `exp`.
#![no_main]

mod common;

use latchgate::auth::{authenticate, LeaseIssuer, LeaseRequest, ReplayCache};
use latchgate::crypto::{b64url, ed25519::SigningKey, es256::KeyPair};
use latchgate::gateway::jwt::{Validator, MAX_LEEWAY_SECS};
use latchgate::json::{Map, Value};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "llm-gateway";
const LEEWAY: u64 = 30;
const NOW: i64 = 1_750_000_000;

struct Fixture {
    ed: SigningKey,
    ec: KeyPair,
    validator: Validator,
    issuer: LeaseIssuer,
    replay: ReplayCache,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let ed = SigningKey::from_seed([7; 32]).expect("ed25519 seed");
        let ec = common::p256_test_key();
        let (x, y) = ec.public_xy();
        let jwks = format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{}","kid":"ed"}},{{"kty":"EC","crv":"P-256","x":"{}","y":"{}","kid":"ec","alg":"ES256"}}]}}"#,
            b64url::encode(&ed.public_key()),
            b64url::encode(&x),
            b64url::encode(&y)
        );
        let validator = Validator::new(ISSUER, AUDIENCE, &jwks, LEEWAY).expect("fixed JWKS");
        Fixture {
            ed,
            ec,
            validator,
            issuer: LeaseIssuer::new().expect("lease key"),
            replay: ReplayCache::new(180, 1024),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    match mode % 5 {
        0 => {
            if let Ok(token) = std::str::from_utf8(rest) {
                check_token(f, token);
            }
        }
        1 | 2 => {
            let Some((&n, rest)) = rest.split_first() else {
                return;
            };
            let (header, payload) = rest.split_at(usize::from(n).min(rest.len()));
            let input = format!("{}.{}", b64url::encode(header), b64url::encode(payload));
            let sig = if mode % 5 == 1 {
                f.ed.sign(input.as_bytes())
            } else {
                match f.ec.sign(input.as_bytes()) {
                    Ok(s) => s,
                    Err(_) => return,
                }
            };
            check_token(f, &format!("{input}.{}", b64url::encode(&sig)));
        }
        3 => {
            let Some((&leeway, jwks)) = rest.split_first() else {
                return;
            };
            if let Ok(text) = std::str::from_utf8(jwks) {
                let leeway = u64::from(leeway) * 20; // crosses MAX_LEEWAY_SECS
                let v = Validator::new(ISSUER, AUDIENCE, text, leeway);
                assert!(v.is_err() || leeway <= MAX_LEEWAY_SECS);
                if let Ok(v) = v {
                    let _ = v.check("e30.e30.AAAA", NOW);
                }
            }
        }
        _ => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            let (authorization, dpop) = text.split_once('\n').unwrap_or((text, ""));
            let htu = "http://localhost:3000/v1/actions/echo/execute";
            let r = authenticate(
                Some(authorization),
                Some(dpop),
                "POST",
                htu,
                &f.issuer,
                &f.replay,
                NOW,
            );
            assert!(r.is_err(), "a lease this issuer never signed was accepted");
            let lease = authorization
                .split_once(' ')
                .map_or(authorization, |(_, t)| t);
            assert!(
                f.issuer.verify(lease, NOW).is_err(),
                "a foreign lease verified"
            );
            if let Ok(body) = latchgate::json::parse(rest) {
                let _ = LeaseRequest::parse(&body);
            }
        }
    }
});

/// Checks `token`; an accepted one must carry our issuer, audience and a
/// live `exp`.
fn check_token(f: &Fixture, token: &str) {
    let Ok(claims) = f.validator.check(token, NOW) else {
        return;
    };
    assert_eq!(str_of(&claims, "iss"), Some(ISSUER));
    match claims.get("aud") {
        Some(Value::String(s)) => assert_eq!(s, AUDIENCE),
        Some(Value::Array(a)) => assert!(a.iter().any(|v| v.as_str() == Some(AUDIENCE))),
        other => panic!("accepted with aud {other:?}"),
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_f64)
        .expect("exp is a number");
    assert!(
        exp > (NOW - LEEWAY as i64) as f64,
        "accepted with exp {exp}"
    );
}

fn str_of<'m>(m: &'m Map, key: &str) -> Option<&'m str> {
    m.get(key).and_then(Value::as_str)
}
