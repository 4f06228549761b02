//! The lease issuer: a P-256 key generated per process (so every lease
//! dies with the gate), signing and verifying lease JWTs.

use super::LeaseClaims;
use crate::auth::error::AuthError;
use crate::auth::jwt::{self, Parts};
use crate::crypto::{b64url, es256, hex, sha256, CryptoError};
use crate::json::{Map, Value};
use crate::obj;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

/// `iss` and `aud` of every lease.
pub const ISSUER: &str = "latchgate";

/// Longest lease JWT `verify` looks at.
const MAX_LEASE_BYTES: usize = 8 * 1024;

/// The seven registered claims every lease must carry.
const STANDARD_CLAIMS: [&str; 7] = ["iss", "aud", "sub", "exp", "nbf", "iat", "jti"];

/// Most leases whose verified claims are remembered (see `verified`).
const VERIFIED_CACHE: usize = 4096;

/// One signing key and its public parts.
#[derive(Debug)]
struct KeyState {
    key: es256::KeyPair,
    kid: String,
    x: [u8; 32],
    y: [u8; 32],
}

impl KeyState {
    fn generate() -> Result<KeyState, CryptoError> {
        let key = es256::KeyPair::generate()?;
        let mut kid = hex::encode(&sha256(&key.spki_der()));
        kid.truncate(16);
        let (x, y) = key.public_xy();
        Ok(KeyState { key, kid, x, y })
    }
}

/// Signs and verifies leases with this process's key.
#[derive(Debug)]
pub struct LeaseIssuer {
    /// The current key; `rotate` replaces it (revoke-all).
    state: RwLock<Arc<KeyState>>,
    /// Leases this issuer signed, by exact token text, with the kid that
    /// verified them. A token is immutable, so its signature and claims need
    /// checking once; `exp`/`nbf` (and the kid, after a rotation) are still
    /// checked on every use. Saves an ES256 verification per request.
    verified: Mutex<HashMap<String, (String, LeaseClaims)>>,
}

impl LeaseIssuer {
    /// A new issuer with a fresh random key; `kid` is the first 16 hex
    /// characters of SHA-256 over the key's SPKI DER.
    pub fn new() -> Result<LeaseIssuer, CryptoError> {
        Ok(LeaseIssuer {
            state: RwLock::new(Arc::new(KeyState::generate()?)),
            verified: Mutex::new(HashMap::new()),
        })
    }

    fn current(&self) -> Result<Arc<KeyState>, AuthError> {
        self.state
            .read()
            .map(|s| Arc::clone(&s))
            .map_err(|_| AuthError::invalid_lease("lease key unavailable"))
    }

    /// Replaces the signing key: every lease issued so far stops verifying
    /// (revoke-all). Fails only if the key cannot be generated or the lock
    /// is poisoned; then nothing changed.
    pub fn rotate(&self) -> Result<(), CryptoError> {
        let fresh = Arc::new(KeyState::generate()?);
        let mut state = self
            .state
            .write()
            .map_err(|_| CryptoError::Key("lease key lock poisoned"))?;
        *state = fresh;
        drop(state);
        if let Ok(mut cache) = self.verified.lock() {
            cache.clear();
        }
        Ok(())
    }

    /// The key id in lease headers and the JWKS.
    pub fn kid(&self) -> String {
        self.current().map(|s| s.kid.clone()).unwrap_or_default()
    }

    /// Signs `claims` as a compact ES256 JWT.
    pub fn issue(&self, claims: &LeaseClaims) -> Result<String, CryptoError> {
        let state = self
            .current()
            .map_err(|_| CryptoError::Key("lease key lock poisoned"))?;
        let header = obj! { "alg" => "ES256", "typ" => "JWT", "kid" => state.kid.as_str() };
        let input = format!(
            "{}.{}",
            jwt::encode_segment(&header),
            jwt::encode_segment(&claims_json(claims))
        );
        let sig = state.key.sign(input.as_bytes())?;
        let token = format!("{input}.{}", b64url::encode(&sig));
        self.remember(&token, &state.kid, claims);
        Ok(token)
    }

    fn remember(&self, token: &str, kid: &str, claims: &LeaseClaims) {
        let Ok(mut cache) = self.verified.lock() else {
            return;
        };
        if cache.len() >= VERIFIED_CACHE {
            let now = crate::time::unix_now();
            cache.retain(|_, (_, c)| c.exp > now);
            if cache.len() >= VERIFIED_CACHE {
                cache.clear();
            }
        }
        cache.insert(token.to_string(), (kid.to_string(), claims.clone()));
    }

    fn check_times(lease: LeaseClaims, now: i64) -> Result<LeaseClaims, AuthError> {
        if lease.exp <= now {
            return Err(AuthError::lease_expired("lease has expired"));
        }
        if lease.nbf > now {
            return Err(AuthError::invalid_lease("lease is not yet valid (nbf)"));
        }
        Ok(lease)
    }

    /// Verifies a lease at Unix time `now` and returns its claims.
    ///
    /// Zero leeway: valid while `nbf <= now < exp`. An expired lease is
    /// `lease_expired`; every other failure is `invalid_lease`.
    pub fn verify(&self, token: &str, now: i64) -> Result<LeaseClaims, AuthError> {
        if token.len() > MAX_LEASE_BYTES {
            return Err(AuthError::invalid_lease("lease too large"));
        }
        let state = self.current()?;
        let known = self
            .verified
            .lock()
            .ok()
            .and_then(|c| c.get(token).cloned());
        // A cached entry counts only for the current key (a rotation may
        // race with a verification that cached under the old one).
        if let Some((kid, lease)) = known {
            if kid == state.kid {
                return Self::check_times(lease, now);
            }
        }
        let parts = Parts::split(token)
            .ok_or_else(|| AuthError::invalid_lease("malformed lease: expected 3 parts"))?;
        let header = jwt::decode_object(parts.header)
            .ok_or_else(|| AuthError::invalid_lease("malformed lease header"))?;
        if jwt::str_member(&header, "alg") != Some("ES256") {
            return Err(AuthError::invalid_lease("lease alg must be ES256"));
        }
        if jwt::str_member(&header, "typ") != Some("JWT") {
            return Err(AuthError::invalid_lease("lease typ must be JWT"));
        }
        if jwt::str_member(&header, "kid") != Some(state.kid.as_str()) {
            return Err(AuthError::invalid_lease(
                "lease was not issued by this gate (unknown kid), or it was revoked",
            ));
        }
        let sig = parts
            .signature_bytes()
            .ok_or_else(|| AuthError::invalid_lease("lease signature is malformed"))?;
        if !es256::verify(&state.x, &state.y, parts.signing_input().as_bytes(), &sig) {
            return Err(AuthError::invalid_lease(
                "lease signature verification failed",
            ));
        }
        let claims = jwt::decode_object(parts.payload)
            .ok_or_else(|| AuthError::invalid_lease("malformed lease payload"))?;
        let lease = parse_claims(&claims)?;
        let lease = Self::check_times(lease, now)?;
        self.remember(token, &state.kid, &lease);
        Ok(lease)
    }

    /// The public key set served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        let Ok(state) = self.current() else {
            return obj! { "keys" => Vec::<Value>::new() };
        };
        let key = obj! {
            "kty" => "EC",
            "crv" => "P-256",
            "kid" => state.kid.as_str(),
            "use" => "sig",
            "alg" => "ES256",
            "x" => b64url::encode(&state.x),
            "y" => b64url::encode(&state.y),
        };
        obj! { "keys" => vec![key] }
    }
}

/// The JWT claim set for `c`, in the reference's member order.
fn claims_json(c: &LeaseClaims) -> Value {
    let mut m = Map::new();
    m.insert("iss", ISSUER);
    m.insert("aud", ISSUER);
    m.insert("sub", c.sub.as_str());
    m.insert("exp", c.exp);
    m.insert("nbf", c.nbf);
    m.insert("iat", c.iat);
    m.insert("jti", c.jti.as_str());
    m.insert("session_id", c.session_id.as_str());
    let scope: Vec<Value> = c.scope.iter().map(Value::from).collect();
    m.insert("scope", scope);
    if let Some(max) = c.max_calls {
        m.insert("budgets", obj! { "max_calls" => max });
    }
    m.insert("cnf", obj! { "jkt" => c.cnf_jkt.as_str() });
    if let Some(owner) = &c.owner {
        m.insert("owner", owner.as_str());
    }
    if let Some(root) = &c.fs_root {
        m.insert("fs_root", root.as_str());
    }
    Value::Object(m)
}

/// Reads the claims of a lease whose signature has been verified. Every
/// member the gate relies on must be present with the right type.
fn parse_claims(m: &Map) -> Result<LeaseClaims, AuthError> {
    for name in STANDARD_CLAIMS {
        if !m.contains_key(name) {
            return Err(AuthError::invalid_lease(format!(
                "lease is missing claim {name}"
            )));
        }
    }
    if jwt::str_member(m, "iss") != Some(ISSUER) || jwt::str_member(m, "aud") != Some(ISSUER) {
        return Err(AuthError::invalid_lease("lease iss/aud must be latchgate"));
    }
    let string = |name: &str| {
        jwt::str_member(m, name)
            .map(str::to_string)
            .ok_or_else(|| AuthError::invalid_lease(format!("lease claim {name} must be a string")))
    };
    let int = |name: &str| {
        jwt::int_member(m, name).ok_or_else(|| {
            AuthError::invalid_lease(format!("lease claim {name} must be an integer"))
        })
    };
    let scope = m
        .get("scope")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .map(|s| s.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| AuthError::invalid_lease("lease claim scope must be an array of strings"))?;
    let max_calls = match m.get("budgets") {
        None => None,
        Some(b) => match b.get("max_calls") {
            None => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                AuthError::invalid_lease("lease budgets.max_calls must be a non-negative integer")
            })?),
        },
    };
    let cnf_jkt = m
        .get("cnf")
        .and_then(|c| c.get("jkt"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| AuthError::invalid_lease("lease is missing cnf.jkt"))?;
    let owner = match m.get("owner") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| AuthError::invalid_lease("lease claim owner must be a string"))?,
        ),
    };
    let fs_root = match m.get("fs_root") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| AuthError::invalid_lease("lease claim fs_root must be a string"))?,
        ),
    };
    Ok(LeaseClaims {
        sub: string("sub")?,
        iat: int("iat")?,
        nbf: int("nbf")?,
        exp: int("exp")?,
        jti: string("jti")?,
        session_id: string("session_id")?,
        scope,
        max_calls,
        cnf_jkt,
        owner,
        fs_root,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const NOW: i64 = 1_750_000_000;

    pub(crate) fn sample(jkt: &str) -> LeaseClaims {
        LeaseClaims {
            sub: "dev:anonymous".into(),
            iat: NOW,
            nbf: NOW,
            exp: NOW + 300,
            jti: "0190a0b0-0000-7000-8000-000000000001".into(),
            session_id: "0190a0b0-0000-7000-8000-000000000002".into(),
            scope: vec!["tools:call".into(), "audit:read".into()],
            max_calls: Some(100),
            cnf_jkt: jkt.into(),
            owner: Some("alice".into()),
            fs_root: Some("/home/alice/project".into()),
        }
    }

    fn payload_of(token: &str) -> Map {
        jwt::decode_object(token.split('.').nth(1).unwrap()).unwrap()
    }

    /// Re-signs `payload` with the issuer's real key and header.
    fn resign(issuer: &LeaseIssuer, header: &Value, payload: &Value) -> String {
        let input = format!(
            "{}.{}",
            jwt::encode_segment(header),
            jwt::encode_segment(payload)
        );
        let sig = issuer
            .current()
            .unwrap()
            .key
            .sign(input.as_bytes())
            .unwrap();
        format!("{input}.{}", b64url::encode(&sig))
    }

    fn real_header(issuer: &LeaseIssuer) -> Value {
        obj! { "alg" => "ES256", "typ" => "JWT", "kid" => issuer.kid() }
    }

    #[test]
    fn rotate_revokes_every_issued_lease() {
        let issuer = LeaseIssuer::new().unwrap();
        let token = issuer.issue(&sample("jkt")).unwrap();
        assert!(issuer.verify(&token, NOW).is_ok());
        let old_kid = issuer.kid();
        issuer.rotate().unwrap();
        assert_ne!(issuer.kid(), old_kid);
        let err = issuer.verify(&token, NOW).unwrap_err();
        assert_eq!(err.code, "invalid_lease");
        let fresh = issuer.issue(&sample("jkt")).unwrap();
        assert!(issuer.verify(&fresh, NOW).is_ok());
    }

    #[test]
    fn round_trip_and_wire_shape() {
        let issuer = LeaseIssuer::new().unwrap();
        let claims = sample("jkt-value");
        let token = issuer.issue(&claims).unwrap();
        assert_eq!(issuer.verify(&token, NOW).unwrap(), claims);
        assert_eq!(issuer.verify(&token, NOW + 299).unwrap(), claims);

        let header = jwt::decode_object(token.split('.').next().unwrap()).unwrap();
        assert_eq!(
            Value::Object(header).to_json(),
            format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{}"}}"#, issuer.kid())
        );
        let p = payload_of(&token);
        let keys: Vec<&str> = p.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "iss",
                "aud",
                "sub",
                "exp",
                "nbf",
                "iat",
                "jti",
                "session_id",
                "scope",
                "budgets",
                "cnf",
                "owner",
                "fs_root"
            ]
        );
        assert_eq!(p.get("cnf").unwrap().to_json(), r#"{"jkt":"jkt-value"}"#);
        assert_eq!(p.get("budgets").unwrap().to_json(), r#"{"max_calls":100}"#);

        // Optional members are omitted, and read back as None.
        let bare = LeaseClaims {
            max_calls: None,
            owner: None,
            fs_root: None,
            ..sample("j")
        };
        let token = issuer.issue(&bare).unwrap();
        let p = payload_of(&token);
        assert!(!p.contains_key("budgets") && !p.contains_key("owner"));
        assert!(!p.contains_key("fs_root"));
        assert_eq!(issuer.verify(&token, NOW).unwrap(), bare);
    }

    #[test]
    fn kid_is_spki_hash_prefix_and_jwks_matches() {
        let issuer = LeaseIssuer::new().unwrap();
        let want = hex::encode(&sha256(&issuer.current().unwrap().key.spki_der()));
        assert_eq!(issuer.kid(), &want[..16]);
        let jwks = issuer.jwks();
        let keys = jwks.get("keys").and_then(Value::as_array).unwrap();
        assert_eq!(keys.len(), 1);
        let k = &keys[0];
        for (name, want) in [
            ("kty", "EC"),
            ("crv", "P-256"),
            ("use", "sig"),
            ("alg", "ES256"),
        ] {
            assert_eq!(k.get(name).and_then(Value::as_str), Some(want));
        }
        assert_eq!(
            k.get("kid").and_then(Value::as_str),
            Some(issuer.kid().as_str())
        );
        // The JWKS key verifies a lease signature.
        let x: [u8; 32] = b64url::decode(k.get("x").unwrap().as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let y: [u8; 32] = b64url::decode(k.get("y").unwrap().as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let token = issuer.issue(&sample("j")).unwrap();
        let (input, sig) = token.rsplit_once('.').unwrap();
        assert!(es256::verify(
            &x,
            &y,
            input.as_bytes(),
            &b64url::decode(sig).unwrap()
        ));
    }

    #[test]
    fn expiry_and_not_before_have_zero_leeway() {
        let issuer = LeaseIssuer::new().unwrap();
        let token = issuer.issue(&sample("j")).unwrap();
        let e = issuer.verify(&token, NOW + 300).unwrap_err();
        assert_eq!((e.status, e.code), (401, "lease_expired"));
        let e = issuer.verify(&token, NOW - 1).unwrap_err();
        assert_eq!(e.code, "invalid_lease");
        assert!(e.reason.contains("nbf"));
    }

    #[test]
    fn tampered_lease_is_rejected() {
        let issuer = LeaseIssuer::new().unwrap();
        let token = issuer.issue(&sample("j")).unwrap();
        // Swap in a payload granting more scope, keep the old signature.
        let mut forged = sample("j");
        forged.scope.push("admin:all".into());
        let forged_payload = jwt::encode_segment(&claims_json(&forged));
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[1] = &forged_payload;
        let e = issuer.verify(&parts.join("."), NOW).unwrap_err();
        assert_eq!(e.code, "invalid_lease");
        assert!(e.reason.contains("signature"));
        // Flip a signature character.
        let mut t = token.clone().into_bytes();
        let last = t.len() - 2;
        t[last] = if t[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            issuer
                .verify(&String::from_utf8(t).unwrap(), NOW)
                .unwrap_err()
                .code,
            "invalid_lease"
        );
        // Truncations and garbage.
        for bad in [
            "",
            "a.b",
            "a.b.c",
            &token[..token.len() - 1],
            &format!("{token}.x"),
        ] {
            assert_eq!(
                issuer.verify(bad, NOW).unwrap_err().code,
                "invalid_lease",
                "{bad}"
            );
        }
    }

    #[test]
    fn wrong_kid_or_other_issuer_is_rejected() {
        let a = LeaseIssuer::new().unwrap();
        let b = LeaseIssuer::new().unwrap();
        let token = b.issue(&sample("j")).unwrap();
        let e = a.verify(&token, NOW).unwrap_err();
        assert_eq!(e.code, "invalid_lease");
        assert!(e.reason.contains("kid"));
        // Right kid, wrong key: B's lease relabelled with A's kid.
        let payload = Value::Object(payload_of(&token));
        let relabelled = format!(
            "{}.{}.{}",
            jwt::encode_segment(&real_header(&a)),
            jwt::encode_segment(&payload),
            token.rsplit('.').next().unwrap()
        );
        assert!(a
            .verify(&relabelled, NOW)
            .unwrap_err()
            .reason
            .contains("signature"));
    }

    #[test]
    fn header_alg_and_typ_are_enforced() {
        let issuer = LeaseIssuer::new().unwrap();
        let payload = claims_json(&sample("j"));
        let h = obj! { "alg" => "none", "typ" => "JWT", "kid" => issuer.kid() };
        assert!(issuer
            .verify(&resign(&issuer, &h, &payload), NOW)
            .unwrap_err()
            .reason
            .contains("alg"));
        let h = obj! { "alg" => "ES256", "typ" => "dpop+jwt", "kid" => issuer.kid() };
        assert!(issuer
            .verify(&resign(&issuer, &h, &payload), NOW)
            .unwrap_err()
            .reason
            .contains("typ"));
    }

    #[test]
    fn every_standard_claim_is_required_and_typed() {
        let issuer = LeaseIssuer::new().unwrap();
        let header = real_header(&issuer);
        for name in STANDARD_CLAIMS
            .iter()
            .chain(["session_id", "scope", "cnf"].iter())
        {
            let mut p = claims_json(&sample("j"));
            p.as_object_mut().unwrap().remove(name);
            let e = issuer
                .verify(&resign(&issuer, &header, &p), NOW)
                .unwrap_err();
            assert_eq!(e.code, "invalid_lease", "{name}");
        }
        let cases: [(&str, Value); 5] = [
            ("iss", "other".into()),
            ("aud", "other".into()),
            ("exp", (NOW as f64 + 300.5).into()),
            ("scope", "tools:call".into()),
            ("owner", 5i64.into()),
        ];
        let mut p = claims_json(&sample("j"));
        p.as_object_mut().unwrap().insert("fs_root", 7i64);
        let e = issuer
            .verify(&resign(&issuer, &header, &p), NOW)
            .unwrap_err();
        assert!(e.reason.contains("fs_root"), "{}", e.reason);
        for (name, v) in cases {
            let mut p = claims_json(&sample("j"));
            p.as_object_mut().unwrap().insert(name, v);
            let e = issuer
                .verify(&resign(&issuer, &header, &p), NOW)
                .unwrap_err();
            assert_eq!(e.code, "invalid_lease", "{name}");
        }
        // Control: the untouched payload passes.
        assert!(issuer
            .verify(&resign(&issuer, &header, &claims_json(&sample("j"))), NOW)
            .is_ok());
    }
}
