//! Signed caller tokens for `latchgate gateway`: a compact JWS (ES256 or
//! EdDSA) from one configured issuer, checked against that issuer's JWKS,
//! the gateway's audience and the token's validity window, in the spirit
//! of transaction-token validation.
//!
//! Only keys from the configured JWKS are ever used: header members that
//! point at other keys (`jwk`, `jku`, `x5u`, `x5c`) are ignored, never
//! fetched or trusted, and header extensions (`crit`) are refused.

use crate::auth::jwt::{self, Parts};
use crate::crypto::{b64url, ed25519, es256};
use crate::json::{self, Map, Number, Value};
use std::fmt;

/// Longest token looked at, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Most keys a JWKS may hold: a token without `kid` is tried against every
/// key of its algorithm, so this bounds the work one request can cause.
pub const MAX_KEYS: usize = 64;
/// Largest clock-skew allowance accepted: leeway absorbs skew, it must not
/// quietly extend token lifetimes.
pub const MAX_LEEWAY_SECS: u64 = 3600;

/// Refusal code: too large, not three segments, not base64url JSON, or a
/// claim of the wrong type (including a missing `exp`).
pub const MALFORMED: &str = "token_malformed";
/// Refusal code: `alg` is not ES256/EdDSA, or no issuer key has it.
pub const ALGORITHM: &str = "token_algorithm";
/// Refusal code: unacceptable `typ`, or a `crit` extension.
pub const HEADER: &str = "token_header";
/// Refusal code: `kid` names no issuer key.
pub const KEY: &str = "token_key";
/// Refusal code: the signature is malformed or does not verify.
pub const SIGNATURE: &str = "token_signature";
/// Refusal code: `iss` is missing or not the configured issuer.
pub const ISSUER: &str = "token_issuer";
/// Refusal code: `aud` is missing or does not name the configured audience.
pub const AUDIENCE: &str = "token_audience";
/// Refusal code: `exp` is past (beyond the leeway).
pub const EXPIRED: &str = "token_expired";
/// Refusal code: `nbf` or `iat` is in the future (beyond the leeway).
pub const NOT_YET_VALID: &str = "token_not_yet_valid";

/// Why a token was refused: a stable code (one of the constants above)
/// and a message for logs and the caller. The message never quotes the
/// token or any text taken from it (numbers such as `exp` aside).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwtError {
    /// Stable machine-readable reason, e.g. `token_expired`.
    pub code: &'static str,
    /// What was wrong, for people.
    pub message: String,
}

impl JwtError {
    fn new(code: &'static str, message: impl Into<String>) -> JwtError {
        JwtError {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for JwtError {}

/// The two accepted JWS algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alg {
    Es256,
    EdDsa,
}

impl Alg {
    /// The algorithm for a header `alg` value; anything else is `None`.
    fn from_name(name: &str) -> Option<Alg> {
        match name {
            "ES256" => Some(Alg::Es256),
            "EdDSA" => Some(Alg::EdDsa),
            _ => None,
        }
    }

    /// The JOSE name.
    fn name(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }
}

/// Public key material of one issuer key.
#[derive(Clone, Debug)]
enum PublicKey {
    /// A P-256 point, checked to be on the curve when loaded.
    P256 { x: [u8; 32], y: [u8; 32] },
    /// An Ed25519 public key (small-order keys fail at verification).
    Ed25519([u8; 32]),
}

impl PublicKey {
    /// The only algorithm this key verifies.
    fn alg(&self) -> Alg {
        match self {
            PublicKey::P256 { .. } => Alg::Es256,
            PublicKey::Ed25519(_) => Alg::EdDsa,
        }
    }

    /// True when `sig` is this key's signature over `msg`.
    fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        match self {
            PublicKey::P256 { x, y } => es256::verify(x, y, msg, sig),
            PublicKey::Ed25519(public) => ed25519::verify(public, msg, sig),
        }
    }
}

/// One JWKS entry.
#[derive(Clone, Debug)]
struct IssuerKey {
    kid: Option<String>,
    key: PublicKey,
}

/// Issuer keys and the claims a token must carry.
#[derive(Clone, Debug)]
pub struct Validator {
    issuer: String,
    audience: String,
    keys: Vec<IssuerKey>,
    leeway: i64,
}

impl Validator {
    /// `jwks` is the text of a JWKS file ({"keys":[...]}) with EC P-256 keys
    /// (kty "EC", crv "P-256", x, y) and/or Ed25519 keys (kty "OKP", crv "Ed25519", x),
    /// each optionally with "kid" and "alg" ("ES256"/"EdDSA"); unknown key types are
    /// an error naming the key's index (fail closed: a typo must not silently drop a key).
    ///
    /// Also refused: an empty issuer or audience, leeway above
    /// [`MAX_LEEWAY_SECS`], an empty key list or more than [`MAX_KEYS`],
    /// a private key (`d`), `use` other than "sig", an `alg` that does not
    /// fit the key, a P-256 point off the curve, and a repeated `kid`.
    pub fn new(
        issuer: &str,
        audience: &str,
        jwks: &str,
        leeway_secs: u64,
    ) -> Result<Validator, String> {
        if issuer.is_empty() {
            return Err("token issuer must not be empty".into());
        }
        if audience.is_empty() {
            return Err("token audience must not be empty".into());
        }
        let leeway = match i64::try_from(leeway_secs) {
            Ok(secs) if leeway_secs <= MAX_LEEWAY_SECS => secs,
            _ => {
                return Err(format!(
                    "token leeway {leeway_secs}s is above the limit of {MAX_LEEWAY_SECS}s"
                ))
            }
        };
        Ok(Validator {
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            keys: parse_jwks(jwks)?,
            leeway,
        })
    }

    /// Checks a compact JWS: header alg ES256 or EdDSA only (none/HS*/RS*/anything
    /// else refused), typ if present must be JWT or a "+jwt" media type, crit refused;
    /// kid selects the key when present (else try the keys of that algorithm); the
    /// signature verifies; claims: iss == issuer exactly, aud == audience (string or
    /// array containing it), exp required and > now - leeway, nbf/iat if present <=
    /// now + leeway; sizes bounded (token <= 8 KiB). Returns the claims on success.
    ///
    /// Nothing in the payload is read before the signature has verified.
    pub fn check(&self, token: &str, now_secs: i64) -> Result<Map, JwtError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(JwtError::new(
                MALFORMED,
                format!(
                    "token is {} bytes, above the limit of {MAX_TOKEN_BYTES}",
                    token.len()
                ),
            ));
        }
        let parts = Parts::split(token).ok_or_else(|| {
            JwtError::new(MALFORMED, "not a compact JWS: expected three segments")
        })?;
        let header = jwt::decode_object(parts.header)
            .ok_or_else(|| JwtError::new(MALFORMED, "header is not a base64url JSON object"))?;
        let alg = header_alg(&header)?;
        let candidates = self.keys_for(&header, alg)?;

        let sig = parts
            .signature_bytes()
            .ok_or_else(|| JwtError::new(SIGNATURE, "signature is not 64 bytes of base64url"))?;
        let input = parts.signing_input();
        if !candidates
            .iter()
            .any(|k| k.key.verify(input.as_bytes(), &sig))
        {
            return Err(JwtError::new(
                SIGNATURE,
                "signature does not verify with the issuer's keys",
            ));
        }

        let claims = jwt::decode_object(parts.payload)
            .ok_or_else(|| JwtError::new(MALFORMED, "payload is not a base64url JSON object"))?;
        self.check_claims(&claims, now_secs)?;
        Ok(claims)
    }

    /// The keys to try: the one `kid` names (it must fit `alg`), or else
    /// every key of `alg`.
    fn keys_for(&self, header: &Map, alg: Alg) -> Result<Vec<&IssuerKey>, JwtError> {
        match header.get("kid") {
            None => {
                let keys: Vec<&IssuerKey> =
                    self.keys.iter().filter(|k| k.key.alg() == alg).collect();
                if keys.is_empty() {
                    return Err(JwtError::new(
                        ALGORITHM,
                        format!("the issuer has no {} key", alg.name()),
                    ));
                }
                Ok(keys)
            }
            Some(Value::String(kid)) => {
                let key = self
                    .keys
                    .iter()
                    .find(|k| k.kid.as_deref() == Some(kid.as_str()))
                    .ok_or_else(|| JwtError::new(KEY, "kid names no issuer key"))?;
                // A key is bound to one algorithm: never let the header
                // choose how a key is used.
                if key.key.alg() != alg {
                    return Err(JwtError::new(
                        ALGORITHM,
                        format!(
                            "the key named by kid is an {} key, the header says {}",
                            key.key.alg().name(),
                            alg.name()
                        ),
                    ));
                }
                Ok(vec![key])
            }
            Some(_) => Err(JwtError::new(MALFORMED, "kid must be a string")),
        }
    }

    /// Issuer, audience and validity window of verified claims.
    fn check_claims(&self, claims: &Map, now: i64) -> Result<(), JwtError> {
        if jwt::str_member(claims, "iss") != Some(self.issuer.as_str()) {
            return Err(JwtError::new(
                ISSUER,
                "iss is missing or not the configured issuer",
            ));
        }
        check_audience(claims.get("aud"), &self.audience)?;

        let exp = numeric_date(claims, "exp", false)?
            .ok_or_else(|| JwtError::new(MALFORMED, "exp claim is required"))?;
        if exp <= now.saturating_sub(self.leeway) {
            return Err(JwtError::new(
                EXPIRED,
                format!("expired at {exp} (now {now}, leeway {}s)", self.leeway),
            ));
        }
        for name in ["nbf", "iat"] {
            if let Some(t) = numeric_date(claims, name, true)? {
                if t > now.saturating_add(self.leeway) {
                    return Err(JwtError::new(
                        NOT_YET_VALID,
                        format!(
                            "{name} {t} is in the future (now {now}, leeway {}s)",
                            self.leeway
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The header's algorithm, after the `typ` and `crit` checks.
fn header_alg(header: &Map) -> Result<Alg, JwtError> {
    let alg = jwt::str_member(header, "alg")
        .and_then(Alg::from_name)
        .ok_or_else(|| JwtError::new(ALGORITHM, "header alg must be ES256 or EdDSA"))?;
    match header.get("typ") {
        None => {}
        Some(Value::String(typ)) if typ_is_jwt(typ) => {}
        Some(_) => {
            return Err(JwtError::new(
                HEADER,
                "typ must be JWT or a +jwt media type",
            ))
        }
    }
    // Every extension we would have to understand is one we do not.
    if header.contains_key("crit") {
        return Err(JwtError::new(
            HEADER,
            "crit header extensions are not supported",
        ));
    }
    Ok(alg)
}

/// True for `JWT` or a `+jwt` media type (`txntoken+jwt`), case-insensitive,
/// with or without the `application/` prefix (RFC 7515 §4.1.9).
fn typ_is_jwt(typ: &str) -> bool {
    let lower = typ.to_ascii_lowercase();
    let subtype = lower.strip_prefix("application/").unwrap_or(&lower);
    if subtype.contains('/') {
        return false;
    }
    subtype == "jwt" || (subtype.len() > "+jwt".len() && subtype.ends_with("+jwt"))
}

/// `aud` is `want`, or an array of strings containing it.
fn check_audience(aud: Option<&Value>, want: &str) -> Result<(), JwtError> {
    let matches = match aud {
        Some(Value::String(s)) => s == want,
        Some(Value::Array(list)) => {
            if list.iter().any(|v| v.as_str().is_none()) {
                return Err(JwtError::new(
                    AUDIENCE,
                    "aud must be a string or an array of strings",
                ));
            }
            list.iter().any(|v| v.as_str() == Some(want))
        }
        None => return Err(JwtError::new(AUDIENCE, "aud claim is required")),
        Some(_) => {
            return Err(JwtError::new(
                AUDIENCE,
                "aud must be a string or an array of strings",
            ))
        }
    };
    if !matches {
        return Err(JwtError::new(
            AUDIENCE,
            "aud does not name the configured audience",
        ));
    }
    Ok(())
}

/// A NumericDate claim in whole seconds; `None` when absent. RFC 7519
/// allows fractions: they round toward refusal (`exp` down, `nbf`/`iat`
/// up with `round_up`).
fn numeric_date(claims: &Map, name: &str, round_up: bool) -> Result<Option<i64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(Number::Int(i))) => Ok(Some(*i)),
        // The parser yields only finite floats, and `as` saturates at the
        // ends of the i64 range, so this cannot panic or wrap.
        Some(Value::Number(Number::Float(f))) => {
            let whole = if round_up { f.ceil() } else { f.floor() };
            Ok(Some(whole as i64))
        }
        Some(_) => Err(JwtError::new(MALFORMED, format!("{name} must be a number"))),
    }
}

/// Parses the JWKS text into issuer keys; errors name the entry's index.
fn parse_jwks(text: &str) -> Result<Vec<IssuerKey>, String> {
    let doc = json::parse(text.as_bytes()).map_err(|e| format!("jwks: not JSON: {e}"))?;
    let entries = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("jwks: expected an object with a \"keys\" array")?;
    if entries.is_empty() {
        return Err("jwks: \"keys\" is empty".into());
    }
    if entries.len() > MAX_KEYS {
        return Err(format!(
            "jwks: {} keys, above the limit of {MAX_KEYS}",
            entries.len()
        ));
    }
    let mut keys: Vec<IssuerKey> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let key = parse_jwk(entry).map_err(|e| format!("jwks key {i}: {e}"))?;
        if let Some(kid) = &key.kid {
            if keys.iter().any(|k| k.kid.as_ref() == Some(kid)) {
                return Err(format!("jwks key {i}: duplicate kid {kid:?}"));
            }
        }
        keys.push(key);
    }
    Ok(keys)
}

/// One JWKS entry: an EC P-256 or OKP Ed25519 public key.
fn parse_jwk(entry: &Value) -> Result<IssuerKey, String> {
    let m = entry.as_object().ok_or("not a JSON object")?;
    if m.contains_key("d") {
        return Err("holds a private key (\"d\"): list only public keys".into());
    }
    let kty = opt_str(m, "kty")?.ok_or("missing kty")?;
    let crv = opt_str(m, "crv")?;
    let key = match (kty, crv) {
        ("EC", Some("P-256")) => {
            let (x, y) = (coordinate(m, "x")?, coordinate(m, "y")?);
            if !es256::is_valid_point(&x, &y) {
                return Err("x, y is not a point on P-256".into());
            }
            PublicKey::P256 { x, y }
        }
        ("OKP", Some("Ed25519")) => {
            if m.contains_key("y") {
                return Err("an Ed25519 key has no y".into());
            }
            PublicKey::Ed25519(coordinate(m, "x")?)
        }
        ("EC", _) => return Err("kty EC needs crv P-256".into()),
        ("OKP", _) => return Err("kty OKP needs crv Ed25519".into()),
        (other, _) => return Err(format!("unsupported kty {other:?} (expected EC or OKP)")),
    };
    if let Some(alg) = opt_str(m, "alg")? {
        if alg != key.alg().name() {
            return Err(format!(
                "alg {alg:?} does not fit a {kty} key (expected {})",
                key.alg().name()
            ));
        }
    }
    if let Some(usage) = opt_str(m, "use")? {
        if usage != "sig" {
            return Err(format!("use {usage:?} is not \"sig\""));
        }
    }
    let kid = opt_str(m, "kid")?.map(str::to_string);
    Ok(IssuerKey { kid, key })
}

/// The string member `name`: `None` when absent, an error for another type.
fn opt_str<'m>(m: &'m Map, name: &str) -> Result<Option<&'m str>, String> {
    match m.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

/// A 32-byte base64url member (`x`/`y` of P-256, `x` of Ed25519).
fn coordinate(m: &Map, name: &str) -> Result<[u8; 32], String> {
    let text = opt_str(m, name)?.ok_or_else(|| format!("missing {name}"))?;
    b64url::decode(text)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| format!("{name} must be 32 bytes of base64url"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::ed25519::SigningKey;
    use crate::crypto::es256::KeyPair;
    use crate::obj;

    const NOW: i64 = 1_750_000_000;
    const ISS: &str = "https://issuer.example";
    const AUD: &str = "latchgate-gateway";
    const LEEWAY: u64 = 30;

    struct Fixture {
        ec: KeyPair,
        ed: SigningKey,
        v: Validator,
    }

    fn with_kid(mut jwk: Value, kid: &str) -> Value {
        jwk.as_object_mut().unwrap().insert("kid", kid);
        jwk
    }

    fn ed_jwk(k: &SigningKey) -> Value {
        obj! { "kty" => "OKP", "crv" => "Ed25519", "x" => b64url::encode(&k.public_key()) }
    }

    fn jwks(keys: Vec<Value>) -> String {
        obj! { "keys" => keys }.to_json()
    }

    /// One ES256 key (kid "ec-1", alg given) and one Ed25519 key (kid "ed-1").
    fn fixture() -> Fixture {
        let ec = KeyPair::generate().unwrap();
        let ed = SigningKey::generate().unwrap();
        let mut ec_jwk = with_kid(ec.jwk(), "ec-1");
        ec_jwk.as_object_mut().unwrap().insert("alg", "ES256");
        let text = jwks(vec![ec_jwk, with_kid(ed_jwk(&ed), "ed-1")]);
        let v = Validator::new(ISS, AUD, &text, LEEWAY).unwrap();
        Fixture { ec, ed, v }
    }

    fn claims() -> Value {
        obj! { "iss" => ISS, "aud" => AUD, "sub" => "agent-7", "iat" => NOW, "exp" => NOW + 300 }
    }

    fn with(mut v: Value, key: &str, value: impl Into<Value>) -> Value {
        v.as_object_mut().unwrap().insert(key, value);
        v
    }

    fn without(mut v: Value, key: &str) -> Value {
        v.as_object_mut().unwrap().remove(key);
        v
    }

    fn assemble(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> [u8; 64]) -> String {
        let input = format!(
            "{}.{}",
            jwt::encode_segment(header),
            jwt::encode_segment(claims)
        );
        let sig = sign(input.as_bytes());
        format!("{input}.{}", b64url::encode(&sig))
    }

    fn es_token(k: &KeyPair, header: &Value, claims: &Value) -> String {
        assemble(header, claims, |m| k.sign(m).unwrap())
    }

    fn ed_token(k: &SigningKey, header: &Value, claims: &Value) -> String {
        assemble(header, claims, |m| k.sign(m))
    }

    fn es_header() -> Value {
        obj! { "alg" => "ES256", "typ" => "JWT", "kid" => "ec-1" }
    }

    fn ed_header() -> Value {
        obj! { "alg" => "EdDSA", "typ" => "JWT", "kid" => "ed-1" }
    }

    /// Asserts a refusal with `code`, and that the message quotes no part
    /// of the token.
    fn refused(v: &Validator, token: &str, now: i64, code: &str) -> JwtError {
        let e = v.check(token, now).unwrap_err();
        assert_eq!(e.code, code, "{e}");
        for segment in token.split('.').filter(|s| s.len() >= 8) {
            assert!(
                !e.message.contains(segment),
                "message quotes the token: {e}"
            );
        }
        e
    }

    #[test]
    fn valid_es256_and_eddsa_pass_and_return_claims() {
        let f = fixture();
        let t = es_token(&f.ec, &es_header(), &claims());
        let got = f.v.check(&t, NOW).unwrap();
        assert_eq!(jwt::str_member(&got, "sub"), Some("agent-7"));
        assert_eq!(Value::Object(got), claims());

        let t = ed_token(&f.ed, &ed_header(), &claims());
        let got = f.v.check(&t, NOW).unwrap();
        assert_eq!(jwt::str_member(&got, "iss"), Some(ISS));
    }

    #[test]
    fn kid_is_optional_and_typ_variants_are_accepted() {
        let f = fixture();
        // No kid: the keys of the header's algorithm are tried.
        let t = es_token(&f.ec, &obj! { "alg" => "ES256" }, &claims());
        assert!(f.v.check(&t, NOW).is_ok());
        let t = ed_token(&f.ed, &obj! { "alg" => "EdDSA" }, &claims());
        assert!(f.v.check(&t, NOW).is_ok());
        for typ in [
            "JWT",
            "jwt",
            "application/jwt",
            "txntoken+jwt",
            "application/at+JWT",
        ] {
            let t = es_token(&f.ec, &with(es_header(), "typ", typ), &claims());
            assert!(f.v.check(&t, NOW).is_ok(), "typ {typ}");
        }
        // Keys without kid are found by algorithm too.
        let ec = KeyPair::generate().unwrap();
        let v = Validator::new(ISS, AUD, &jwks(vec![ec.jwk()]), 0).unwrap();
        let t = es_token(&ec, &obj! { "alg" => "ES256" }, &claims());
        assert!(v.check(&t, NOW).is_ok());
        // ...but a kid in the token must name a key.
        let t = es_token(&ec, &es_header(), &claims());
        refused(&v, &t, NOW, KEY);
    }

    #[test]
    fn several_keys_of_one_algorithm_are_all_tried() {
        let (a, b) = (KeyPair::generate().unwrap(), KeyPair::generate().unwrap());
        let v = Validator::new(ISS, AUD, &jwks(vec![a.jwk(), b.jwk()]), 0).unwrap();
        for k in [&a, &b] {
            let t = es_token(k, &obj! { "alg" => "ES256" }, &claims());
            assert!(v.check(&t, NOW).is_ok());
        }
        let c = KeyPair::generate().unwrap();
        let t = es_token(&c, &obj! { "alg" => "ES256" }, &claims());
        refused(&v, &t, NOW, SIGNATURE);
    }

    #[test]
    fn alg_none_hs256_rs256_and_missing_alg_are_refused() {
        let f = fixture();
        let body = jwt::encode_segment(&claims());
        let none = format!("{}.{body}.", jwt::encode_segment(&obj! { "alg" => "none" }));
        refused(&f.v, &none, NOW, ALGORITHM);
        // HS256 "signed" with the public key as HMAC secret (the classic
        // confusion attack): refused on the header alone.
        for alg in ["HS256", "RS256", "ES384", "es256", "EdDSA ", "Ed25519"] {
            let header = with(without(es_header(), "kid"), "alg", alg);
            let t = es_token(&f.ec, &header, &claims());
            refused(&f.v, &t, NOW, ALGORITHM);
        }
        let t = es_token(&f.ec, &without(es_header(), "alg"), &claims());
        refused(&f.v, &t, NOW, ALGORITHM);
        let t = es_token(&f.ec, &with(es_header(), "alg", 256), &claims());
        refused(&f.v, &t, NOW, ALGORITHM);
    }

    #[test]
    fn header_alg_must_fit_the_key_kid_names() {
        let f = fixture();
        // EdDSA header pointing at the EC key.
        let t = ed_token(&f.ed, &with(ed_header(), "kid", "ec-1"), &claims());
        refused(&f.v, &t, NOW, ALGORITHM);
        // A validator with only EC keys has nothing for EdDSA.
        let v = Validator::new(ISS, AUD, &jwks(vec![f.ec.jwk()]), 0).unwrap();
        let t = ed_token(&f.ed, &obj! { "alg" => "EdDSA" }, &claims());
        refused(&v, &t, NOW, ALGORITHM);
    }

    #[test]
    fn typ_and_crit_are_checked() {
        let f = fixture();
        for typ in ["dpop+jwt/x", "JOSE", "+jwt", "text/foo+jwt", "JWT ", ""] {
            let t = es_token(&f.ec, &with(es_header(), "typ", typ), &claims());
            refused(&f.v, &t, NOW, HEADER);
        }
        let t = es_token(&f.ec, &with(es_header(), "typ", 1), &claims());
        refused(&f.v, &t, NOW, HEADER);
        let crit: Vec<Value> = vec!["exp".into()];
        let t = es_token(&f.ec, &with(es_header(), "crit", crit), &claims());
        refused(&f.v, &t, NOW, HEADER);
    }

    #[test]
    fn wrong_key_and_tampering_fail_the_signature() {
        let f = fixture();
        let other = KeyPair::generate().unwrap();
        let t = es_token(&other, &es_header(), &claims());
        refused(&f.v, &t, NOW, SIGNATURE);
        let other = SigningKey::generate().unwrap();
        let t = ed_token(&other, &ed_header(), &claims());
        refused(&f.v, &t, NOW, SIGNATURE);

        // Payload swapped for one with a later exp, signature kept.
        for t in [
            es_token(&f.ec, &es_header(), &claims()),
            ed_token(&f.ed, &ed_header(), &claims()),
        ] {
            let parts: Vec<&str> = t.split('.').collect();
            let forged = jwt::encode_segment(&with(claims(), "exp", NOW + 86_400));
            let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
            refused(&f.v, &tampered, NOW, SIGNATURE);
            // Signature cut short or missing.
            let cut = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..80]);
            refused(&f.v, &cut, NOW, SIGNATURE);
            let empty = format!("{}.{}.", parts[0], parts[1]);
            refused(&f.v, &empty, NOW, SIGNATURE);
        }
    }

    #[test]
    fn issuer_must_match_exactly() {
        let f = fixture();
        for iss in [
            "https://issuer.example/",
            "https://ISSUER.example",
            "",
            "evil",
        ] {
            let t = es_token(&f.ec, &es_header(), &with(claims(), "iss", iss));
            refused(&f.v, &t, NOW, ISSUER);
        }
        let t = es_token(&f.ec, &es_header(), &without(claims(), "iss"));
        refused(&f.v, &t, NOW, ISSUER);
        let t = es_token(&f.ec, &es_header(), &with(claims(), "iss", 7));
        refused(&f.v, &t, NOW, ISSUER);
    }

    #[test]
    fn audience_string_or_array() {
        let f = fixture();
        let t = es_token(&f.ec, &es_header(), &with(claims(), "aud", "other"));
        refused(&f.v, &t, NOW, AUDIENCE);
        let t = es_token(&f.ec, &es_header(), &without(claims(), "aud"));
        let e = refused(&f.v, &t, NOW, AUDIENCE);
        assert!(e.message.contains("required"), "{e}");

        let aud: Vec<Value> = vec!["other".into(), AUD.into()];
        let t = es_token(&f.ec, &es_header(), &with(claims(), "aud", aud));
        assert!(f.v.check(&t, NOW).is_ok());
        let aud: Vec<Value> = vec!["other".into(), "more".into()];
        let t = es_token(&f.ec, &es_header(), &with(claims(), "aud", aud));
        refused(&f.v, &t, NOW, AUDIENCE);
        let t = es_token(&f.ec, &es_header(), &with(claims(), "aud", Vec::new()));
        refused(&f.v, &t, NOW, AUDIENCE);
        // A non-string element spoils the array even when ours is in it.
        let aud: Vec<Value> = vec![AUD.into(), 1.into()];
        let t = es_token(&f.ec, &es_header(), &with(claims(), "aud", aud));
        refused(&f.v, &t, NOW, AUDIENCE);
        let t = es_token(
            &f.ec,
            &es_header(),
            &with(claims(), "aud", obj! {"a" => AUD}),
        );
        refused(&f.v, &t, NOW, AUDIENCE);
    }

    #[test]
    fn exp_with_leeway() {
        let f = fixture();
        let leeway = LEEWAY as i64;
        let token = |exp: Value| es_token(&f.ec, &es_header(), &with(claims(), "exp", exp));
        // Expired, but within the leeway: accepted.
        assert!(f.v.check(&token((NOW - 1).into()), NOW).is_ok());
        assert!(f.v.check(&token((NOW - leeway + 1).into()), NOW).is_ok());
        // At and beyond the edge: refused.
        refused(&f.v, &token((NOW - leeway).into()), NOW, EXPIRED);
        refused(&f.v, &token((NOW - 3600).into()), NOW, EXPIRED);
        refused(&f.v, &token(i64::MIN.into()), NOW, EXPIRED);
        // With no leeway the edge is now itself.
        let v = Validator::new(ISS, AUD, &jwks(vec![f.ec.jwk()]), 0).unwrap();
        let t = es_token(
            &f.ec,
            &obj! { "alg" => "ES256" },
            &with(claims(), "exp", NOW),
        );
        refused(&v, &t, NOW, EXPIRED);
        // Fractions round down for exp.
        let edge = (NOW - leeway) as f64 + 0.9;
        refused(&f.v, &token(edge.into()), NOW, EXPIRED);
        assert!(f.v.check(&token((NOW as f64 + 0.5).into()), NOW).is_ok());
    }

    #[test]
    fn exp_is_required_and_numeric() {
        let f = fixture();
        let t = es_token(&f.ec, &es_header(), &without(claims(), "exp"));
        let e = refused(&f.v, &t, NOW, MALFORMED);
        assert!(e.message.contains("exp"), "{e}");
        let t = es_token(&f.ec, &es_header(), &with(claims(), "exp", "9999999999"));
        refused(&f.v, &t, NOW, MALFORMED);
        let t = es_token(&f.ec, &es_header(), &with(claims(), "exp", Value::Null));
        refused(&f.v, &t, NOW, MALFORMED);
    }

    #[test]
    fn nbf_and_iat_in_the_future() {
        let f = fixture();
        let leeway = LEEWAY as i64;
        for name in ["nbf", "iat"] {
            let token = |t: Value| es_token(&f.ec, &es_header(), &with(claims(), name, t));
            assert!(f.v.check(&token((NOW + leeway).into()), NOW).is_ok());
            let e = refused(&f.v, &token((NOW + leeway + 1).into()), NOW, NOT_YET_VALID);
            assert!(e.message.contains(name), "{e}");
            refused(&f.v, &token(i64::MAX.into()), NOW, NOT_YET_VALID);
            // Fractions round up for nbf/iat.
            let edge = (NOW + leeway) as f64 + 0.1;
            refused(&f.v, &token(edge.into()), NOW, NOT_YET_VALID);
            refused(&f.v, &token("soon".into()), NOW, MALFORMED);
        }
        // nbf in the past is fine; iat absent is fine.
        let c = without(with(claims(), "nbf", NOW - 100), "iat");
        assert!(f.v.check(&es_token(&f.ec, &es_header(), &c), NOW).is_ok());
    }

    #[test]
    fn unknown_kid_and_bad_kid_type() {
        let f = fixture();
        let t = es_token(&f.ec, &with(es_header(), "kid", "ec-2"), &claims());
        refused(&f.v, &t, NOW, KEY);
        let t = es_token(&f.ec, &with(es_header(), "kid", 1), &claims());
        refused(&f.v, &t, NOW, MALFORMED);
    }

    #[test]
    fn oversize_token_is_refused_before_anything_else() {
        let f = fixture();
        let pad = "a".repeat(MAX_TOKEN_BYTES);
        let t = es_token(&f.ec, &es_header(), &with(claims(), "pad", pad));
        assert!(t.len() > MAX_TOKEN_BYTES);
        let e = refused(&f.v, &t, NOW, MALFORMED);
        assert!(e.message.contains("limit"), "{e}");
        // Just under the limit still passes.
        let base = es_token(&f.ec, &es_header(), &with(claims(), "pad", "")).len();
        // Four base64url characters per three pad bytes.
        let room = (MAX_TOKEN_BYTES - base) / 4 * 3;
        let t = es_token(
            &f.ec,
            &es_header(),
            &with(claims(), "pad", "a".repeat(room)),
        );
        assert!(
            t.len() <= MAX_TOKEN_BYTES && t.len() > MAX_TOKEN_BYTES - 8,
            "{}",
            t.len()
        );
        assert!(f.v.check(&t, NOW).is_ok());
        // One byte over: the size check, not the signature, refuses it.
        let over = format!("{t}{}", "A".repeat(MAX_TOKEN_BYTES + 1 - t.len()));
        assert_eq!(over.len(), MAX_TOKEN_BYTES + 1);
        let e = refused(&f.v, &over, NOW, MALFORMED);
        assert!(e.message.contains("limit"), "{e}");
    }

    #[test]
    fn garbage_is_malformed() {
        let f = fixture();
        let seg = |s: &str| b64url::encode(s.as_bytes());
        let body = jwt::encode_segment(&claims());
        let cases = [
            String::new(),
            "garbage".into(),
            "a.b".into(),
            "a.b.c.d".into(),
            ".b.c".into(),
            format!("{}..", seg(r#"{"alg":"ES256"}"#)),
            format!("{}.{body}.AA", "!!!"),
            format!("{}.{body}.AA", seg(r#"["ES256"]"#)),
            format!("{}.{body}.AA", seg(r#"{"alg":"ES256""#)),
            format!("{}.{body}.AA", seg(r#"{"alg":"ES256","alg":"EdDSA"}"#)),
            format!("{}=.{body}.AA", seg(r#"{"alg":"ES256"}"#)),
            format!(" {}.{body}.AA", seg(r#"{"alg":"ES256"}"#)),
        ];
        for t in &cases {
            refused(&f.v, t, NOW, MALFORMED);
        }
        // A validly signed token whose payload is not a JSON object.
        let input = format!("{}.{}", jwt::encode_segment(&es_header()), seg("[1]"));
        let t = format!(
            "{input}.{}",
            b64url::encode(&f.ec.sign(input.as_bytes()).unwrap())
        );
        refused(&f.v, &t, NOW, MALFORMED);
    }

    #[test]
    fn no_prefix_or_byte_flip_of_a_valid_token_passes_or_panics() {
        let f = fixture();
        let t = ed_token(&f.ed, &ed_header(), &claims());
        for end in 0..t.len() {
            assert!(f.v.check(&t[..end], NOW).is_err(), "prefix {end}");
        }
        let bytes = t.as_bytes();
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x20, 0x80] {
                let mut b = bytes.to_vec();
                b[i] ^= flip;
                if let Ok(s) = std::str::from_utf8(&b) {
                    assert!(f.v.check(s, NOW).is_err(), "flip {flip:#x} at {i}");
                }
            }
        }
    }

    #[test]
    fn bad_jwks_entries_name_their_index() {
        let ec = KeyPair::generate().unwrap();
        let ed = SigningKey::generate().unwrap();
        let good = ec.jwk();
        let mut off_curve = ec.jwk();
        let (x, mut y) = ec.public_xy();
        y[31] ^= 1;
        assert!(!es256::is_valid_point(&x, &y));
        off_curve
            .as_object_mut()
            .unwrap()
            .insert("y", b64url::encode(&y));
        let short_x = with(ec.jwk(), "x", b64url::encode(&[1u8; 31]));
        let bad_b64 = with(ed_jwk(&ed), "x", "not base64!");
        let cases: Vec<(Value, &str)> = vec![
            (
                obj! { "kty" => "RSA", "n" => "AQAB", "e" => "AQAB" },
                "unsupported kty",
            ),
            (with(good.clone(), "kty", "ec"), "unsupported kty"),
            (without(good.clone(), "kty"), "missing kty"),
            (with(good.clone(), "crv", "P-384"), "crv P-256"),
            (without(good.clone(), "crv"), "crv P-256"),
            (with(ed_jwk(&ed), "crv", "X25519"), "crv Ed25519"),
            (off_curve, "not a point"),
            (short_x, "32 bytes"),
            (bad_b64, "32 bytes"),
            (without(good.clone(), "y"), "missing y"),
            (with(ed_jwk(&ed), "y", "AA"), "no y"),
            (with(good.clone(), "alg", "EdDSA"), "alg"),
            (with(ed_jwk(&ed), "alg", "ES256"), "alg"),
            (with(good.clone(), "alg", "RS256"), "alg"),
            (with(good.clone(), "d", "AAAA"), "private key"),
            (with(good.clone(), "use", "enc"), "use"),
            (with(good.clone(), "kid", 5), "kid must be a string"),
            (Value::from("EC"), "not a JSON object"),
        ];
        for (entry, want) in cases {
            // The bad entry is second, after a good Ed25519 key.
            let text = jwks(vec![ed_jwk(&ed), entry]);
            let e = Validator::new(ISS, AUD, &text, 0).unwrap_err();
            assert!(e.contains("jwks key 1:"), "{e}");
            assert!(e.contains(want), "{e:?} lacks {want:?}");
        }
        // A correct alg and use are accepted.
        let fine = with(with(ed_jwk(&ed), "alg", "EdDSA"), "use", "sig");
        assert!(Validator::new(ISS, AUD, &jwks(vec![good, fine]), 0).is_ok());
    }

    #[test]
    fn bad_jwks_documents_and_settings() {
        let ec = KeyPair::generate().unwrap();
        let one = jwks(vec![ec.jwk()]);
        let dup = jwks(vec![with_kid(ec.jwk(), "k"), with_kid(ec.jwk(), "k")]);
        let many = jwks(vec![ec.jwk(); MAX_KEYS + 1]);
        let docs = [
            ("", "not JSON"),
            ("{", "not JSON"),
            ("[]", "\"keys\" array"),
            (r#"{"keys":{}}"#, "\"keys\" array"),
            (r#"{"keys":[]}"#, "empty"),
            (dup.as_str(), "jwks key 1: duplicate kid"),
            (many.as_str(), "limit"),
        ];
        for (text, want) in docs {
            let e = Validator::new(ISS, AUD, text, 0).unwrap_err();
            assert!(e.contains(want), "{e:?} lacks {want:?}");
        }
        assert!(Validator::new(ISS, AUD, &jwks(vec![ec.jwk(); MAX_KEYS]), 0).is_ok());
        assert!(Validator::new("", AUD, &one, 0)
            .unwrap_err()
            .contains("issuer"));
        assert!(Validator::new(ISS, "", &one, 0)
            .unwrap_err()
            .contains("audience"));
        assert!(Validator::new(ISS, AUD, &one, MAX_LEEWAY_SECS).is_ok());
        let e = Validator::new(ISS, AUD, &one, MAX_LEEWAY_SECS + 1).unwrap_err();
        assert!(e.contains("leeway"), "{e}");
        assert!(Validator::new(ISS, AUD, &one, u64::MAX).is_err());
    }

    #[test]
    fn error_displays_code_and_message() {
        let e = JwtError::new(EXPIRED, "expired at 1");
        assert_eq!(e.to_string(), "token_expired: expired at 1");
    }
}
