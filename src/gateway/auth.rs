//! Who may use the gateway. Two checks, both deny by default:
//!
//! 1. the connecting process's uid (SO_PEERCRED) must be in `allowed_uids`
//!    (default: the gateway's own uid) — else 403 `peer_not_allowed`;
//! 2. when configured, a credential in the request — else 401: a bearer
//!    token equal (constant time) to `token_file`'s, or a signed token
//!    (JWT, ES256 or EdDSA) valid for `[gateway.jwt]`.
//!
//! The credential is taken from `Txn-Token`, `Authorization: Bearer`, or
//! `x-api-key`, in that order of preference, so an SDK configured with the
//! token as its API key works unmodified. All three headers are stripped
//! before anything goes upstream (the provider's key replaces them).

use super::config::GatewayConfig;
use super::jwt::Validator;
use crate::proxy::head::Headers;
use std::path::Path;

/// Shortest bearer token accepted in `token_file`.
const MIN_TOKEN_LEN: usize = 32;

/// What a request must present besides its peer uid.
enum Credential {
    /// Peer uid only.
    None,
    /// A shared bearer token.
    Token(Vec<u8>),
    /// A signed token from the configured issuer.
    Jwt(Validator),
}

/// The loaded access rules.
pub struct Access {
    allowed_uids: Vec<u32>,
    credential: Credential,
}

/// A refusal: status (401/403), code and message for the JSON body.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    /// 401 or 403.
    pub status: u16,
    /// Stable error code.
    pub code: &'static str,
    /// What to fix (never the presented credential).
    pub message: String,
}

impl Access {
    /// Reads the token or JWKS file named by the configuration.
    pub fn load(cfg: &GatewayConfig) -> Result<Access, String> {
        let allowed_uids = if cfg.allowed_uids.is_empty() {
            vec![crate::sys::uid()]
        } else {
            cfg.allowed_uids.clone()
        };
        let credential = if let Some(path) = &cfg.token_file {
            Credential::Token(read_token(path)?)
        } else if let Some(j) = &cfg.jwt {
            let text = std::fs::read_to_string(&j.jwks_file)
                .map_err(|e| format!("gateway.jwt.jwks_file {}: {e}", j.jwks_file.display()))?;
            let v = Validator::new(&j.issuer, &j.audience, &text, j.leeway_secs)
                .map_err(|e| format!("gateway.jwt.jwks_file {}: {e}", j.jwks_file.display()))?;
            Credential::Jwt(v)
        } else {
            Credential::None
        };
        Ok(Access {
            allowed_uids,
            credential,
        })
    }

    /// One line for the start-up banner.
    pub fn describe(&self) -> String {
        let uids: Vec<String> = self.allowed_uids.iter().map(u32::to_string).collect();
        let what = match self.credential {
            Credential::None => "no token",
            Credential::Token(_) => "a bearer token",
            Credential::Jwt(_) => "a signed token (JWT)",
        };
        format!("peer uids {}, {what}", uids.join(", "))
    }

    /// The connecting process's uid must be allowed.
    pub fn check_peer(&self, uid: Option<u32>) -> Result<u32, Refusal> {
        match uid {
            Some(u) if self.allowed_uids.contains(&u) => Ok(u),
            Some(u) => Err(Refusal {
                status: 403,
                code: "peer_not_allowed",
                message: format!(
                    "uid {u} may not use this gateway; add it to gateway.allowed_uids"
                ),
            }),
            None => Err(Refusal {
                status: 403,
                code: "peer_not_allowed",
                message: "the kernel did not report the peer's uid; refusing".into(),
            }),
        }
    }

    /// The request's credential, when one is required. Returns the token's
    /// subject (`sub`) for the ledger when it is a JWT that has one.
    pub fn check_request(
        &self,
        headers: &Headers,
        now_secs: i64,
    ) -> Result<Option<String>, Refusal> {
        let missing = |what: &str| Refusal {
            status: 401,
            code: "unauthorized",
            message: format!(
                "this gateway needs {what} in Txn-Token, Authorization: Bearer or x-api-key"
            ),
        };
        match &self.credential {
            Credential::None => Ok(None),
            Credential::Token(expected) => {
                if presented(headers)
                    .iter()
                    .any(|c| crate::crypto::ct_eq(c.as_bytes(), expected))
                {
                    Ok(None)
                } else {
                    Err(missing("its bearer token"))
                }
            }
            Credential::Jwt(v) => {
                let candidates = presented(headers);
                // The first value shaped like a compact JWS is the token.
                let Some(token) = candidates.iter().find(|c| c.matches('.').count() == 2) else {
                    return Err(missing("a signed token"));
                };
                match v.check(token, now_secs) {
                    Ok(claims) => Ok(claims
                        .get("sub")
                        .and_then(|s| s.as_str())
                        .map(|s| s.chars().take(200).collect())),
                    Err(e) => Err(Refusal {
                        status: 401,
                        code: e.code,
                        message: e.message,
                    }),
                }
            }
        }
    }
}

/// Credential candidates in order: Txn-Token, Bearer, x-api-key.
fn presented(headers: &Headers) -> Vec<&str> {
    let mut out = Vec::new();
    if let Some(t) = headers.all("txn-token").next() {
        out.push(t);
    }
    if let Some(a) = headers.all("authorization").next() {
        let mut parts = a.splitn(2, ' ');
        if let (Some(scheme), Some(v)) = (parts.next(), parts.next()) {
            if scheme.eq_ignore_ascii_case("bearer") {
                out.push(v.trim());
            }
        }
    }
    if let Some(k) = headers.all("x-api-key").next() {
        out.push(k);
    }
    out
}

/// The token file: owner-only, at least 32 visible characters.
fn read_token(path: &Path) -> Result<Vec<u8>, String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("gateway.token_file {}: {e}", path.display()))?;
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "gateway.token_file {} has mode {:o}; it must be readable by its owner only (chmod 600 it)",
            path.display(),
            meta.mode() & 0o777
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("gateway.token_file {}: {e}", path.display()))?;
    let token = text.trim();
    if token.len() < MIN_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "gateway.token_file {}: the token must be at least {MIN_TOKEN_LEN} visible characters",
            path.display()
        ));
    }
    Ok(token.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[(&str, &str)]) -> Headers {
        Headers(
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn with(credential: Credential) -> Access {
        Access {
            allowed_uids: vec![1000],
            credential,
        }
    }

    #[test]
    fn peer_uid_must_be_listed() {
        let a = with(Credential::None);
        assert_eq!(a.check_peer(Some(1000)), Ok(1000));
        let e = a.check_peer(Some(0)).unwrap_err();
        assert_eq!((e.status, e.code), (403, "peer_not_allowed"));
        assert!(e.message.contains("uid 0"));
        assert_eq!(a.check_peer(None).unwrap_err().status, 403);
        assert_eq!(a.check_request(&headers(&[]), 0), Ok(None));
    }

    #[test]
    fn bearer_token_in_any_of_the_three_places() {
        let t = "t".repeat(40);
        let a = with(Credential::Token(t.as_bytes().to_vec()));
        for h in [
            headers(&[("x-api-key", &t)]),
            headers(&[("authorization", &format!("Bearer {t}"))]),
            headers(&[("authorization", &format!("bearer {t}"))]),
            headers(&[("txn-token", &t)]),
            headers(&[("x-api-key", "gateway-injected"), ("txn-token", &t)]),
        ] {
            assert_eq!(a.check_request(&h, 0), Ok(None), "{h:?}");
        }
        for h in [
            headers(&[]),
            headers(&[("x-api-key", "gateway-injected")]),
            headers(&[("authorization", &format!("Basic {t}"))]),
            headers(&[("x-api-key", &t[1..])]),
        ] {
            let e = a.check_request(&h, 0).unwrap_err();
            assert_eq!((e.status, e.code), (401, "unauthorized"), "{h:?}");
            assert!(!e.message.contains(&t));
        }
    }

    #[test]
    fn token_file_must_be_private_and_long() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("lg-gw-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("token");
        std::fs::write(&p, format!("{}\n", "k".repeat(40))).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_token(&p).unwrap_err().contains("chmod 600"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_token(&p).unwrap().len(), 40);
        std::fs::write(&p, "short").unwrap();
        assert!(read_token(&p).unwrap_err().contains("at least 32"));
    }
}
