//! DPoP proofs (`src/auth/dpop.rs`, `verify_proof`) with a fixed method,
//! URL, access token and time, and the `htu` normalisation
//! (`src/auth/htu.rs`) they are compared with.
//!
//! Input: byte 0 picks the mode:
//! 0. the raw proof text;
//! 1. the proof's payload bytes, under a valid header (the bound key's
//!    `jwk`) and signed with the bound key, so every claim check is reached
//!    (a client holding its own key can sign anything);
//! 2. the header bytes, with a valid payload, signed with the bound key.
//!
//! Properties: no panic; an accepted proof was made for this method, URL
//! and token, is fresh (`iat` within the window) and has a 1..=128-byte
//! `jti`.
#![no_main]

mod common;

use latchgate::auth::dpop::{IAT_CLOCK_SKEW_SECS, IAT_MAX_AGE_SECS, MAX_JTI_BYTES};
use latchgate::auth::{htu, verify_proof, ProofExpectation};
use latchgate::crypto::{b64url, es256::KeyPair, sha256};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const NOW: i64 = 1_750_000_000;
const METHOD: &str = "POST";
const HTU: &str = "http://localhost:3000/v1/actions/echo/execute";
const TOKEN: &str = "lease-token";

struct Fixture {
    key: KeyPair,
    jkt: String,
    header: String,
    payload: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = common::p256_test_key();
        let jkt = key.thumbprint();
        let header = format!(
            r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{}}}"#,
            key.jwk().to_json()
        );
        let payload = format!(
            r#"{{"jti":"b3f1c6c2-1d7e-4c51-9a43-0d6f3f9b8c11","htm":"{METHOD}","htu":"{HTU}","iat":{NOW},"ath":"{}"}}"#,
            b64url::encode(&sha256(TOKEN.as_bytes()))
        );
        Fixture {
            key,
            jkt,
            header,
            payload,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let proof = match mode % 3 {
        0 => match std::str::from_utf8(rest) {
            Ok(p) => p.to_string(),
            Err(_) => return,
        },
        1 => sign(f, f.header.as_bytes(), rest),
        _ => sign(f, rest, f.payload.as_bytes()),
    };
    let expect = ProofExpectation {
        method: METHOD,
        htu: HTU,
        access_token: TOKEN,
        jkt: &f.jkt,
    };
    if let Ok(claims) = verify_proof(&proof, &expect, NOW) {
        assert!(claims.iat >= NOW - IAT_MAX_AGE_SECS && claims.iat <= NOW + IAT_CLOCK_SKEW_SECS);
        assert!(!claims.jti.is_empty() && claims.jti.len() <= MAX_JTI_BYTES);
    }
    // The comparison form of a claimed htu: never a panic, and the fixed
    // parts (scheme, authority) come out lower-case.
    if let Ok(text) = std::str::from_utf8(rest) {
        let n = htu::normalize(text);
        if let Some((scheme, _)) = n.split_once("://") {
            assert_eq!(scheme, scheme.to_lowercase());
        }
    }
});

/// `header.payload.signature` with the bound key.
fn sign(f: &Fixture, header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", b64url::encode(header), b64url::encode(payload));
    match f.key.sign(input.as_bytes()) {
        Ok(sig) => format!("{input}.{}", b64url::encode(&sig)),
        Err(_) => String::new(),
    }
}
