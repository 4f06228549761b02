//! The body of `POST /v1/leases`, checked field by field.
//!
//! Shape errors (unknown top-level key, missing required field, wrong JSON
//! type) are 422, as the reference's typed decoder gives; bad values (empty
//! or malformed scope, unusable key, zero budget) are 400. Both use the
//! code `invalid_request` and a message naming the field.

use crate::crypto::{b64url, es256};
use crate::json::{Map, Value};

/// Top-level keys the body may have.
const KNOWN_KEYS: [&str; 4] = ["scopes", "dpop_jwk", "budgets", "fs_root"];
/// Most scopes one lease may request.
const MAX_SCOPES: usize = 32;
/// Built-in scopes; anything else must be a custom `ns:name`.
const BUILTIN_SCOPES: [&str; 2] = ["tools:call", "audit:read"];

/// A validated lease request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRequest {
    /// Requested scopes, duplicates removed, order kept.
    pub scopes: Vec<String>,
    /// The DPoP key's x coordinate (canonical base64url, 32 bytes).
    pub jwk_x: String,
    /// The DPoP key's y coordinate (canonical base64url, 32 bytes).
    pub jwk_y: String,
    /// RFC 7638 thumbprint of the DPoP key: the lease's `cnf.jkt`.
    pub jkt: String,
    /// `budgets.max_calls`, if given (always positive).
    pub max_calls: Option<u64>,
    /// `fs_root` exactly as sent; the gate validates the path.
    pub fs_root: Option<String>,
}

/// Why a lease request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRequestError {
    /// 422 for a body of the wrong shape, 400 for a bad value.
    pub status: u16,
    /// Always `invalid_request`.
    pub code: &'static str,
    /// What is wrong, naming the field.
    pub message: String,
}

impl std::fmt::Display for LeaseRequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for LeaseRequestError {}

fn shape(message: impl Into<String>) -> LeaseRequestError {
    LeaseRequestError {
        status: 422,
        code: "invalid_request",
        message: message.into(),
    }
}

fn value(message: impl Into<String>) -> LeaseRequestError {
    LeaseRequestError {
        status: 400,
        code: "invalid_request",
        message: message.into(),
    }
}

impl LeaseRequest {
    /// Validates a parsed request body.
    pub fn parse(body: &Value) -> Result<LeaseRequest, LeaseRequestError> {
        let m = body
            .as_object()
            .ok_or_else(|| shape("request body must be a JSON object"))?;
        if let Some(k) = m.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
            return Err(shape(format!(
                "unknown field `{k}`; expected one of scopes, dpop_jwk, budgets, fs_root"
            )));
        }
        let scopes = parse_scopes(m.get("scopes"))?;
        let (jwk_x, jwk_y) = parse_jwk(m.get("dpop_jwk"))?;
        let max_calls = parse_budgets(m.get("budgets"))?;
        let fs_root = match m.get("fs_root") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(shape("fs_root must be a string")),
        };
        let jkt = es256::jwk_thumbprint(&jwk_x, &jwk_y);
        Ok(LeaseRequest {
            scopes,
            jwk_x,
            jwk_y,
            jkt,
            max_calls,
            fs_root,
        })
    }
}

fn parse_scopes(v: Option<&Value>) -> Result<Vec<String>, LeaseRequestError> {
    let list = match v {
        None => return Err(shape("missing field `scopes`")),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(shape("scopes must be an array of strings")),
    };
    if list.is_empty() {
        return Err(value("scopes must not be empty"));
    }
    if list.len() > MAX_SCOPES {
        return Err(value(format!("scopes: at most {MAX_SCOPES} entries")));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for item in list {
        let s = item
            .as_str()
            .ok_or_else(|| shape("scopes must be an array of strings"))?;
        if !valid_scope(s) {
            return Err(value(format!(
                "invalid scope {s:?}: expected tools:call, audit:read or ns:name ([a-z0-9:_-], 4-64 chars)"
            )));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

/// `tools:call`, `audit:read`, or `ns:name`: 4–64 of `[a-z0-9:_-]` with a
/// colon that has text on both sides.
fn valid_scope(s: &str) -> bool {
    if BUILTIN_SCOPES.contains(&s) {
        return true;
    }
    let charset_ok = s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b':' | b'_' | b'-'));
    let shape_ok =
        matches!(s.split_once(':'), Some((ns, name)) if !ns.is_empty() && !name.is_empty());
    (4..=64).contains(&s.len()) && charset_ok && shape_ok
}

/// Checks `{kty:"EC", crv:"P-256", x, y}` and that (x, y) is a real P-256
/// point, so a lease is never bound to a key that cannot sign.
fn parse_jwk(v: Option<&Value>) -> Result<(String, String), LeaseRequestError> {
    let jwk: &Map = match v {
        None => return Err(shape("missing field `dpop_jwk`")),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(shape("dpop_jwk must be an object")),
    };
    if jwk.get("kty").and_then(Value::as_str) != Some("EC") {
        return Err(value("dpop_jwk.kty must be \"EC\""));
    }
    if jwk.get("crv").and_then(Value::as_str) != Some("P-256") {
        return Err(value("dpop_jwk.crv must be \"P-256\""));
    }
    if jwk.contains_key("d") {
        return Err(value("dpop_jwk must be a public key (has `d`)"));
    }
    let coord = |name: &str| -> Result<(String, [u8; 32]), LeaseRequestError> {
        let text = jwk
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| value(format!("dpop_jwk.{name} is required (base64url string)")))?;
        let bytes = b64url::decode(text)
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                value(format!(
                    "dpop_jwk.{name} must be 32 bytes of unpadded base64url"
                ))
            })?;
        Ok((text.to_string(), bytes))
    };
    let (x_text, x) = coord("x")?;
    let (y_text, y) = coord("y")?;
    if !es256::is_valid_point(&x, &y) {
        return Err(value("dpop_jwk is not a valid P-256 public key"));
    }
    Ok((x_text, y_text))
}

/// `budgets: {max_calls?}`; other keys (e.g. `max_cost_usd_cents` from the
/// SDKs) are ignored.
fn parse_budgets(v: Option<&Value>) -> Result<Option<u64>, LeaseRequestError> {
    let b = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(shape("budgets must be an object")),
    };
    match b.get("max_calls") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(crate::json::Number::Int(n))) => match u64::try_from(*n) {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(value("budgets.max_calls must be a positive integer")),
        },
        Some(_) => Err(shape("budgets.max_calls must be an integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::es256::KeyPair;
    use crate::obj;

    fn body_with(key: &KeyPair) -> Value {
        obj! {
            "scopes" => vec![Value::from("tools:call")],
            "dpop_jwk" => key.jwk(),
        }
    }

    fn set(mut v: Value, k: &str, x: impl Into<Value>) -> Value {
        v.as_object_mut().unwrap().insert(k, x);
        v
    }

    fn fails(v: &Value, status: u16, needle: &str) {
        let e = LeaseRequest::parse(v).unwrap_err();
        assert_eq!((e.status, e.code), (status, "invalid_request"), "{e}");
        assert!(
            e.message.contains(needle),
            "{:?} lacks {needle:?}",
            e.message
        );
    }

    #[test]
    fn sdk_body_is_accepted() {
        let key = KeyPair::generate().unwrap();
        let body = set(
            body_with(&key),
            "budgets",
            obj! { "max_calls" => 100, "max_cost_usd_cents" => 500 },
        );
        let r = LeaseRequest::parse(&body).unwrap();
        assert_eq!(r.scopes, ["tools:call"]);
        assert_eq!(r.max_calls, Some(100));
        assert_eq!(r.jkt, key.thumbprint());
        assert_eq!(r.fs_root, None);
        let r = LeaseRequest::parse(&set(body_with(&key), "fs_root", "/home/u/p")).unwrap();
        assert_eq!(r.fs_root.as_deref(), Some("/home/u/p"));
        assert_eq!(r.max_calls, None);
    }

    #[test]
    fn shape_errors_are_422() {
        let key = KeyPair::generate().unwrap();
        fails(&Value::Array(vec![]), 422, "object");
        fails(&set(body_with(&key), "agent_id", "x"), 422, "agent_id");
        let mut no_scopes = body_with(&key);
        no_scopes.as_object_mut().unwrap().remove("scopes");
        fails(&no_scopes, 422, "scopes");
        let mut no_jwk = body_with(&key);
        no_jwk.as_object_mut().unwrap().remove("dpop_jwk");
        fails(&no_jwk, 422, "dpop_jwk");
        fails(&set(body_with(&key), "scopes", "tools:call"), 422, "scopes");
        fails(
            &set(body_with(&key), "scopes", vec![Value::from(1i64)]),
            422,
            "scopes",
        );
        fails(&set(body_with(&key), "budgets", 5i64), 422, "budgets");
        fails(
            &set(body_with(&key), "budgets", obj! { "max_calls" => "5" }),
            422,
            "max_calls",
        );
        fails(&set(body_with(&key), "fs_root", 1i64), 422, "fs_root");
    }

    #[test]
    fn scopes_are_validated() {
        let key = KeyPair::generate().unwrap();
        let with = |s: &[&str]| {
            set(
                body_with(&key),
                "scopes",
                s.iter().map(|x| Value::from(*x)).collect::<Vec<_>>(),
            )
        };
        fails(&with(&[]), 400, "empty");
        for bad in [
            "admin",
            "a:b",
            "Tools:call",
            "ns:na me",
            ":abc",
            "abc:",
            "ns:é",
            &format!("ns:{}", "a".repeat(62)),
        ] {
            fails(&with(&[bad]), 400, "invalid scope");
        }
        for good in [
            "tools:call",
            "audit:read",
            "ns:x",
            "my-ns:tool_1",
            &format!("ns:{}", "a".repeat(61)),
        ] {
            assert!(LeaseRequest::parse(&with(&[good])).is_ok(), "{good}");
        }
        let r = LeaseRequest::parse(&with(&["tools:call", "ns:a", "tools:call"])).unwrap();
        assert_eq!(r.scopes, ["tools:call", "ns:a"]);
        let many: Vec<String> = (0..=MAX_SCOPES).map(|i| format!("ns:s{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        fails(&with(&refs), 400, "at most");
    }

    #[test]
    fn jwk_is_validated() {
        let key = KeyPair::generate().unwrap();
        let jwk_with = |k: &str, v: Value| {
            let mut j = key.jwk();
            j.as_object_mut().unwrap().insert(k, v);
            set(body_with(&key), "dpop_jwk", j)
        };
        fails(&set(body_with(&key), "dpop_jwk", "x"), 422, "dpop_jwk");
        fails(&jwk_with("kty", "RSA".into()), 400, "dpop_jwk.kty");
        fails(&jwk_with("crv", "P-384".into()), 400, "dpop_jwk.crv");
        fails(&jwk_with("x", "AAAA".into()), 400, "dpop_jwk.x");
        fails(&jwk_with("y", 5i64.into()), 400, "dpop_jwk.y");
        fails(&jwk_with("d", "AAAA".into()), 400, "public key");
        let x = key.jwk().get("x").unwrap().as_str().unwrap().to_string();
        fails(&jwk_with("x", format!("{x}=").into()), 400, "dpop_jwk.x");
        // 32 bytes but not on the curve.
        let (px, mut py) = key.public_xy();
        py[31] ^= 1;
        let off = obj! { "kty" => "EC", "crv" => "P-256", "x" => b64url::encode(&px), "y" => b64url::encode(&py) };
        fails(&set(body_with(&key), "dpop_jwk", off), 400, "valid P-256");
        // Extra public members (as WebCrypto exports) are tolerated.
        let r = LeaseRequest::parse(&jwk_with("ext", true.into())).unwrap();
        assert_eq!(r.jkt, key.thumbprint());
    }

    #[test]
    fn budgets_are_validated() {
        let key = KeyPair::generate().unwrap();
        let b = |v: Value| set(body_with(&key), "budgets", v);
        fails(&b(obj! { "max_calls" => 0i64 }), 400, "positive");
        fails(&b(obj! { "max_calls" => -3i64 }), 400, "positive");
        fails(&b(obj! { "max_calls" => 1.5f64 }), 422, "integer");
        assert_eq!(LeaseRequest::parse(&b(obj! {})).unwrap().max_calls, None);
        assert_eq!(
            LeaseRequest::parse(&b(Value::Null)).unwrap().max_calls,
            None
        );
        assert_eq!(
            LeaseRequest::parse(&b(obj! { "max_calls" => 7i64 }))
                .unwrap()
                .max_calls,
            Some(7)
        );
    }
}
