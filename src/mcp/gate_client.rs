//! The gate as the adapter sees it: the catalog (`GET /v1/tools`), a lease
//! bound to an ES256 key held in memory, DPoP-signed execute and poll
//! requests, and health.
//!
//! The key is made on first use and kept for the life of the process, so a
//! lease taken after a gate restart is bound to the same key (the gate lets
//! the same principal and key poll an approval made under an older lease).
//! A lease is taken lazily on the first authenticated request, renewed when
//! less than [`RENEW_MARGIN_SECS`] remain, and taken again once when the
//! gate answers 401 `invalid_lease` or `lease_expired` (it restarted: leases
//! die with its random issuer key), after which the request is retried once.
//! That retry is safe: a 401 means the gate refused before doing anything.

use super::log::{log, Level};
use super::transport::Endpoint;
use crate::auth::dpop_client;
use crate::crypto::es256::KeyPair;
use crate::json::{self, Value};
use crate::obj;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A lease is renewed when fewer seconds than this remain.
pub const RENEW_MARGIN_SECS: i64 = 60;
/// Bound on each read and write of leases, polls, health and the catalog.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on each read and write of an execute request: the gate answers
/// when the action has run, which its own limits keep well under this.
const EXECUTE_TIMEOUT: Duration = Duration::from_secs(330);
/// Bound on a health check.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// An HTTP answer from the gate, its body parsed (null when not JSON).
#[derive(Clone, Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body as JSON, or null.
    pub body: Value,
}

impl Answer {
    /// The `error` code of an error body, or "".
    pub fn code(&self) -> &str {
        self.body.get("error").and_then(Value::as_str).unwrap_or("")
    }

    /// A string field of the body.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }
}

/// Why a request got no usable answer.
#[derive(Clone, Debug)]
pub enum Failure {
    /// The gate could not be reached (not running, socket missing, timeout).
    Unavailable(String),
    /// The gate refused to issue a lease.
    LeaseRefused(Answer),
    /// The gate answered something this adapter cannot read.
    BadAnswer(String),
    /// Local failure (key generation, signing).
    Internal(String),
}

/// A lease in hand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The lease JWT.
    pub token: String,
    /// The gate's session id for it.
    pub session_id: String,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
}

/// The action set as `GET /v1/tools` returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct Catalog {
    /// `catalog_digest`: changes whenever the action set does.
    pub digest: String,
    /// The gate's `public_base_url`, when it says.
    pub public_base_url: Option<String>,
    /// One entry per action (objects with at least `action_id`).
    pub tools: Vec<Value>,
}

/// The outcome of a catalog read.
#[derive(Clone, Debug, PartialEq)]
pub enum Fetched {
    /// The digest named in the request is still current (304).
    Unchanged,
    /// The current catalog.
    Fresh(Catalog),
}

/// Settings for [`GateClient::new`].
pub struct ClientConfig {
    /// Where the gate listens.
    pub endpoint: Endpoint,
    /// `htu` base from the flag or environment.
    pub explicit_base: Option<String>,
    /// `htu` base when nothing else names one.
    pub fallback_base: String,
    /// Sent as `x-latchgate-agent-id`.
    pub agent_id: String,
    /// Requested as the lease's `fs_root` (dropped if the gate refuses it).
    pub fs_root: Option<String>,
}

/// A client of one gate, shared by every thread of the server.
pub struct GateClient {
    endpoint: Endpoint,
    explicit_base: Option<String>,
    fallback_base: String,
    advertised_base: Mutex<Option<String>>,
    /// True once the gate answered a catalog read (so the advertised base
    /// is known, or the gate does not advertise one).
    base_probed: AtomicBool,
    agent_id: String,
    key: Mutex<Option<Arc<KeyPair>>>,
    lease: Mutex<Option<Lease>>,
    fs_root: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a plain assignment or clone: a panic
    // elsewhere cannot leave the value half-written.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads a 200 answer of `POST /v1/leases`.
pub fn parse_lease(body: &Value) -> Result<Lease, String> {
    let token = body
        .get("lease_jwt")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && !t.contains(char::is_whitespace))
        .ok_or("the lease answer has no lease_jwt")?;
    let session_id = body
        .get("session_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let expires_ms = body
        .get("expires_at")
        .and_then(Value::as_str)
        .and_then(crate::time::parse_rfc3339)
        .ok_or("the lease answer has no valid expires_at")?;
    Ok(Lease {
        token: token.to_string(),
        session_id: session_id.to_string(),
        expires_at: expires_ms.div_euclid(1000),
    })
}

/// Reads a 200 answer of `GET /v1/tools`.
pub fn parse_catalog(body: &Value) -> Result<Catalog, String> {
    let digest = body
        .get("catalog_digest")
        .and_then(Value::as_str)
        .ok_or("GET /v1/tools: no catalog_digest")?;
    let tools = body
        .get("tools")
        .and_then(Value::as_array)
        .ok_or("GET /v1/tools: no tools array")?;
    Ok(Catalog {
        digest: digest.to_string(),
        public_base_url: body
            .get("public_base_url")
            .and_then(Value::as_str)
            .map(|s| s.trim_end_matches('/').to_string()),
        tools: tools
            .iter()
            .filter(|t| t.get("action_id").and_then(Value::as_str).is_some())
            .cloned()
            .collect(),
    })
}

impl GateClient {
    /// A client; nothing is contacted yet.
    pub fn new(cfg: ClientConfig) -> GateClient {
        GateClient {
            endpoint: cfg.endpoint,
            explicit_base: cfg.explicit_base,
            fallback_base: cfg.fallback_base,
            advertised_base: Mutex::new(None),
            base_probed: AtomicBool::new(false),
            agent_id: cfg.agent_id,
            key: Mutex::new(None),
            lease: Mutex::new(None),
            fs_root: Mutex::new(cfg.fs_root),
        }
    }

    /// The gate's address, for messages.
    pub fn describe(&self) -> String {
        self.endpoint.describe()
    }

    /// The `htu` base in effect: the flag, else what the gate advertised,
    /// else the fallback.
    pub fn public_base_url(&self) -> String {
        if let Some(b) = &self.explicit_base {
            return b.clone();
        }
        if let Some(b) = lock(&self.advertised_base).clone() {
            return b;
        }
        self.fallback_base.clone()
    }

    /// The current lease, if one is held.
    pub fn lease_info(&self) -> Option<Lease> {
        lock(&self.lease).clone()
    }

    /// One request; every answer is Ok, only transport failures are errors.
    fn send(
        &self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<Answer, Failure> {
        let mut headers: Vec<(&str, &str)> = vec![("x-latchgate-agent-id", &self.agent_id)];
        if !body.is_empty() {
            headers.push(("Content-Type", "application/json"));
        }
        headers.extend_from_slice(extra);
        let started = Instant::now();
        match self.endpoint.request(method, path, &headers, body, timeout) {
            Ok(r) => {
                log!(
                    Level::Debug,
                    "{method} {path} -> {} in {} us",
                    r.status,
                    started.elapsed().as_micros()
                );
                Ok(Answer {
                    status: r.status,
                    body: json::parse(&r.body).unwrap_or(Value::Null),
                })
            }
            Err(e) => {
                log!(Level::Debug, "{method} {path} failed: {e}");
                Err(Failure::Unavailable(format!(
                    "cannot reach the gate at {}: {e}",
                    self.endpoint.describe()
                )))
            }
        }
    }

    /// `GET /healthz` answers 200.
    pub fn healthy(&self) -> bool {
        matches!(
            self.send("GET", "/healthz", &[], b"", HEALTH_TIMEOUT),
            Ok(a) if a.status == 200
        )
    }

    /// Reads the catalog; with `known` (a digest) the gate answers
    /// `Unchanged` when it is still current.
    pub fn fetch_catalog(&self, known: Option<&str>) -> Result<Fetched, Failure> {
        let etag = known.map(|d| format!("\"{d}\""));
        let mut headers = Vec::new();
        if let Some(e) = &etag {
            headers.push(("If-None-Match", e.as_str()));
        }
        let a = self.send("GET", "/v1/tools", &headers, b"", CONTROL_TIMEOUT)?;
        self.base_probed.store(true, Ordering::Relaxed);
        match a.status {
            304 => Ok(Fetched::Unchanged),
            200 => {
                let c = parse_catalog(&a.body).map_err(Failure::BadAnswer)?;
                if let Some(b) = &c.public_base_url {
                    *lock(&self.advertised_base) = Some(b.clone());
                }
                Ok(Fetched::Fresh(c))
            }
            s => Err(Failure::BadAnswer(format!(
                "GET /v1/tools answered {s}: is the gate older than this adapter?"
            ))),
        }
    }

    /// Learns the advertised `htu` base once, when no flag names one.
    fn ensure_base(&self) {
        if self.explicit_base.is_none() && !self.base_probed.load(Ordering::Relaxed) {
            let _ = self.fetch_catalog(None);
        }
    }

    fn key(&self) -> Result<Arc<KeyPair>, Failure> {
        let mut slot = lock(&self.key);
        if let Some(k) = slot.as_ref() {
            return Ok(Arc::clone(k));
        }
        let k = Arc::new(
            KeyPair::generate()
                .map_err(|e| Failure::Internal(format!("cannot make the DPoP key: {e}")))?,
        );
        *slot = Some(Arc::clone(&k));
        Ok(k)
    }

    /// The lease to use now: the held one, or a new one when none is held
    /// or it expires within the margin. One thread leases at a time.
    fn lease(&self) -> Result<Lease, Failure> {
        let mut slot = lock(&self.lease);
        if let Some(l) = slot.as_ref() {
            if l.expires_at - crate::time::unix_now() > RENEW_MARGIN_SECS {
                return Ok(l.clone());
            }
        }
        let key = self.key()?;
        let fresh = self.request_lease(&key)?;
        log!(
            Level::Info,
            "leased session {} until {}",
            fresh.session_id,
            crate::time::rfc3339_secs(fresh.expires_at)
        );
        *slot = Some(fresh.clone());
        Ok(fresh)
    }

    fn lease_body(key: &KeyPair, fs_root: Option<&str>) -> Vec<u8> {
        let mut body = obj! {
            "scopes" => vec![Value::from("tools:call")],
            "dpop_jwk" => key.jwk(),
        };
        if let (Some(root), Some(m)) = (fs_root, body.as_object_mut()) {
            m.insert("fs_root", root);
        }
        body.to_json().into_bytes()
    }

    /// `POST /v1/leases`, with `fs_root` = the working directory when the
    /// gate accepts it. A gate that refuses it (outside its allowed
    /// prefixes, a system directory) gets one more request without it:
    /// the lease then serves every action but the file ones.
    fn request_lease(&self, key: &KeyPair) -> Result<Lease, Failure> {
        let root = lock(&self.fs_root).clone();
        let body = Self::lease_body(key, root.as_deref());
        let mut a = self.send("POST", "/v1/leases", &[], &body, CONTROL_TIMEOUT)?;
        if let Some(r) = &root {
            if matches!(a.code(), "invalid_fs_root" | "fs_root_denied") {
                log!(
                    Level::Warn,
                    "the gate refused fs_root {r} ({}); leasing without one (file actions will be refused)",
                    a.field("message").unwrap_or(a.code())
                );
                *lock(&self.fs_root) = None;
                let body = Self::lease_body(key, None);
                a = self.send("POST", "/v1/leases", &[], &body, CONTROL_TIMEOUT)?;
            }
        }
        if a.status != 200 {
            return Err(Failure::LeaseRefused(a));
        }
        parse_lease(&a.body).map_err(Failure::BadAnswer)
    }

    fn forget_lease(&self, token: &str) {
        let mut slot = lock(&self.lease);
        if slot.as_ref().map(|l| l.token.as_str()) == Some(token) {
            *slot = None;
        }
    }

    /// An authenticated request (lease + DPoP), leasing again and retrying
    /// once when the gate no longer knows the lease, or — when no flag
    /// names the `htu` base — when it names another base.
    fn authed(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        timeout: Duration,
    ) -> Result<Answer, Failure> {
        self.ensure_base();
        let mut retried = false;
        loop {
            let lease = self.lease()?;
            let key = self.key()?;
            let htu = dpop_client::htu(&self.public_base_url(), path);
            let proof =
                dpop_client::proof(&key, method, &htu, &lease.token, crate::time::unix_now())
                    .map_err(|e| Failure::Internal(format!("cannot sign a DPoP proof: {e}")))?;
            let authorization = format!("DPoP {}", lease.token);
            let a = self.send(
                method,
                path,
                &[("Authorization", &authorization), ("DPoP", &proof)],
                body,
                timeout,
            )?;
            if a.status != 401 || retried {
                return Ok(a);
            }
            let reason = a.field("deny_reason").unwrap_or_default();
            match a.code() {
                "invalid_lease" | "lease_expired" => {
                    log!(
                        Level::Info,
                        "the gate refused the lease ({}): leasing again",
                        a.code()
                    );
                    self.forget_lease(&lease.token);
                }
                "invalid_dpop" if reason.contains("htu") && self.explicit_base.is_none() => {
                    log!(
                        Level::Info,
                        "htu refused ({reason}): reading the gate's base URL again"
                    );
                    self.base_probed.store(false, Ordering::Relaxed);
                    *lock(&self.advertised_base) = None;
                    self.ensure_base();
                }
                _ => return Ok(a),
            }
            retried = true;
        }
    }

    /// `POST /v1/actions/{action}/execute` with `input` as the body.
    /// `action` must already be checked to be a plain id.
    pub fn execute(&self, action: &str, input: &Value) -> Result<Answer, Failure> {
        let path = format!("/v1/actions/{action}/execute");
        self.authed("POST", &path, input.to_json().as_bytes(), EXECUTE_TIMEOUT)
    }

    /// `GET /v1/approvals/{id}/poll`. `id` must already be checked.
    pub fn poll(&self, approval_id: &str) -> Result<Answer, Failure> {
        let path = format!("/v1/approvals/{approval_id}/poll");
        self.authed("GET", &path, b"", CONTROL_TIMEOUT)
    }
}

/// True for ids safe to put in a URL path: 1..=128 of `[A-Za-z0-9_.-]`,
/// not starting with a dot.
pub fn is_plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_lease_answer() {
        let l = parse_lease(&obj! {
            "lease_jwt" => "a.b.c",
            "session_id" => "s1",
            "expires_at" => "2026-11-23T03:09:25Z",
        })
        .unwrap();
        assert_eq!(l.token, "a.b.c");
        assert_eq!(l.session_id, "s1");
        assert_eq!(
            crate::time::rfc3339_secs(l.expires_at),
            "2026-11-23T03:09:25Z"
        );
        assert!(parse_lease(
            &obj! { "lease_jwt" => "a b", "expires_at" => "2026-11-23T03:09:25Z" }
        )
        .is_err());
        assert!(parse_lease(&obj! { "lease_jwt" => "a.b.c" }).is_err());
        assert!(parse_lease(&Value::Null).is_err());
    }

    #[test]
    fn reads_a_catalog_answer() {
        let c = parse_catalog(&obj! {
            "catalog_digest" => "sha256:ab",
            "public_base_url" => "http://localhost:3000/",
            "tools" => vec![obj! { "action_id" => "echo" }, obj! { "x" => 1 }],
        })
        .unwrap();
        assert_eq!(c.digest, "sha256:ab");
        assert_eq!(c.public_base_url.as_deref(), Some("http://localhost:3000"));
        assert_eq!(c.tools.len(), 1);
        assert!(parse_catalog(&obj! { "tools" => Vec::<Value>::new() }).is_err());
    }

    #[test]
    fn plain_ids_only() {
        for ok in [
            "echo",
            "http_fetch",
            "a.b-c_1",
            "0190a1b2-0000-7000-8000-000000000000",
        ] {
            assert!(is_plain_id(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a?b",
            "a b",
            "a%2f",
            &"x".repeat(129),
        ] {
            assert!(!is_plain_id(bad), "{bad}");
        }
    }

    #[test]
    fn a_down_gate_is_unavailable_and_the_base_falls_back() {
        let c = GateClient::new(ClientConfig {
            endpoint: Endpoint::Unix("/nonexistent/lgt-mcp/gate.sock".into()),
            explicit_base: None,
            fallback_base: "http://localhost:3000".into(),
            agent_id: "t".into(),
            fs_root: None,
        });
        assert!(matches!(
            c.execute("echo", &obj! {}),
            Err(Failure::Unavailable(_))
        ));
        assert!(matches!(
            c.fetch_catalog(None),
            Err(Failure::Unavailable(_))
        ));
        assert!(!c.healthy());
        assert_eq!(c.public_base_url(), "http://localhost:3000");
        assert!(c.lease_info().is_none());
    }
}
