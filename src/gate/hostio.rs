//! The host side of a provider's imports: `http_request` goes through the
//! egress layer (declared sinks only, public addresses only unless allowed,
//! no redirects, size and time limits; secret headers and an `[aws_sigv4]`
//! signature added there, over https only); `log` goes to stderr, bounded.
//!
//! The provider sends `{method, url, headers?, body?}`; it gets back
//! `{status_code, headers, body, url}` or `{"error": "<code>: <message>"}`.
//! What the host observed (status and origin) is kept for verification.
//!
//! `fs_request` (only for actions with `[fs]`, see `crate::gate::fsio`)
//! performs one file operation beneath the lease's fs_root; its observed
//! effects (hashes and sizes before and after) are kept likewise.

use crate::egress::{EgressError, HttpRequest, Sinks};
use crate::gate::fsio::{self, FsAccess, FsEffect, FsError};
use crate::gate::Gate;
use crate::json::{Map, Value};
use crate::obj;
use std::time::Instant;

/// One observed effect: the status the upstream really answered, and where.
#[derive(Clone, Debug)]
pub struct Observed {
    /// HTTP status.
    pub status: u16,
    /// `scheme://host[:port]` contacted.
    pub origin: String,
}

/// Host state for one run.
pub struct GateHost<'a> {
    gate: &'a Gate,
    sinks: &'a Sinks,
    /// `(header, value)` pairs the egress layer injects (https, sinks only).
    secret_headers: &'a [(String, String)],
    /// `[aws_sigv4]`: the egress layer signs each request with it (same
    /// rules as secret headers).
    sigv4: Option<&'a crate::egress::SigV4Signer>,
    /// Every secret value, raw and formatted, to redact from what comes back.
    redactions: Vec<&'a str>,
    max_response_bytes: usize,
    /// Effects the host saw.
    pub observed: Vec<Observed>,
    /// Egress refusals (policy: undeclared sink, private address, ...).
    pub refusals: Vec<EgressError>,
    /// Other egress failures (DNS, connect, TLS, timeout, ...).
    pub failures: Vec<EgressError>,
    /// What file operations may touch (None: no `[fs]`, every one refused).
    fs: Option<FsAccess<'a>>,
    /// File operations the host performed.
    pub fs_effects: Vec<FsEffect>,
    /// File operations refused or failed.
    pub fs_errors: Vec<FsError>,
}

/// Egress error codes that are policy refusals rather than network failures.
const REFUSALS: &[&str] = &[
    "undeclared_sink",
    "private_address",
    "port_not_allowed",
    "unsupported_scheme",
    "insecure_secret_transport",
    "signing_failed",
];

impl<'a> GateHost<'a> {
    /// Host state bound to an action's sinks, secrets and response limit.
    pub fn new(
        gate: &'a Gate,
        sinks: &'a Sinks,
        secrets: &'a crate::gate::pipeline::secrets_step::Injected,
        max_response_bytes: usize,
    ) -> Self {
        let mut redactions: Vec<&str> = secrets.raw.iter().map(String::as_str).collect();
        redactions.extend(secrets.headers.iter().map(|(_, v)| v.as_str()));
        redactions.retain(|v| !v.is_empty());
        // Longest first, so a formatted value is replaced whole.
        redactions.sort_by_key(|v| std::cmp::Reverse(v.len()));
        GateHost {
            gate,
            sinks,
            secret_headers: &secrets.headers,
            sigv4: secrets.sigv4.as_ref(),
            redactions,
            max_response_bytes,
            observed: Vec::new(),
            refusals: Vec::new(),
            failures: Vec::new(),
            fs: None,
            fs_effects: Vec::new(),
            fs_errors: Vec::new(),
        }
    }

    /// Grants file operations under `fs` (an action with `[fs]`).
    pub fn with_fs(mut self, fs: Option<FsAccess<'a>>) -> Self {
        self.fs = fs;
        self
    }

    /// `text` with every injected secret value replaced by `[redacted]`.
    fn redact(&self, mut text: String) -> String {
        for value in &self.redactions {
            if text.contains(value) {
                text = text.replace(value, "[redacted]");
            }
        }
        text
    }

    fn request(&mut self, raw: &[u8], deadline: Instant) -> Result<Value, String> {
        let v = crate::json::parse(raw)
            .map_err(|e| format!("bad_request: request is not JSON: {e}"))?;
        let method = v
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("GET")
            .to_ascii_uppercase();
        let url = v
            .get("url")
            .and_then(Value::as_str)
            .ok_or("bad_request: missing url")?
            .to_string();
        let mut headers = Vec::new();
        if let Some(h) = v.get("headers").and_then(Value::as_object) {
            for (k, val) in h.iter() {
                let text = match val {
                    Value::String(s) => s.clone(),
                    other => other.to_json(),
                };
                headers.push((k.clone(), text));
            }
        }
        let body = match v.get("body") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone().into_bytes()),
            Some(other) => {
                if !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    headers.push(("Content-Type".into(), "application/json".into()));
                }
                Some(other.to_json().into_bytes())
            }
        };
        let req = HttpRequest {
            method,
            url,
            headers,
            body,
        };
        let resp = match self.gate.egress.send_signed(
            &req,
            self.sinks,
            self.secret_headers,
            self.sigv4,
            deadline,
            self.max_response_bytes,
        ) {
            Ok(r) => r,
            Err(e) => {
                let text = format!("{}: {}", e.code, e.message);
                if REFUSALS.contains(&e.code) {
                    self.refusals.push(e);
                } else {
                    self.failures.push(e);
                }
                return Err(text);
            }
        };
        let origin = crate::egress::Url::parse(&resp.url)
            .map(|u| u.origin())
            .unwrap_or_default();
        self.observed.push(Observed {
            status: resp.status,
            origin,
        });
        // An upstream may echo a request header back (httpbin does): what
        // the provider gets has every injected secret value redacted, so no
        // secret reaches WASM memory, the receipt or the ledger.
        let mut hdrs = Map::new();
        for (k, v) in &resp.headers {
            hdrs.insert(k.to_ascii_lowercase(), self.redact(v.clone()));
        }
        let body = match String::from_utf8(resp.body) {
            Ok(s) => Value::String(self.redact(s)),
            Err(_) => Value::from("<binary>"),
        };
        Ok(obj! {
            "status_code" => resp.status as u64,
            "headers" => Value::Object(hdrs),
            "body" => body,
            "url" => self.redact(resp.url.clone()),
        })
    }
}

impl crate::wasm::HostIo for GateHost<'_> {
    fn http_request(&mut self, request: &[u8], deadline: Instant) -> Vec<u8> {
        match self.request(request, deadline) {
            Ok(v) => v.to_json().into_bytes(),
            Err(msg) => obj! { "error" => msg }.to_json().into_bytes(),
        }
    }

    fn fs_request(&mut self, request: &[u8], deadline: Instant) -> Vec<u8> {
        let result = match &self.fs {
            Some(access) => fsio::perform(access, request, deadline),
            None => Err(FsError::new(
                fsio::FsErrorKind::OperationNotAllowed,
                "this action has no [fs] section",
            )),
        };
        match result {
            Ok((effect, data)) => {
                self.fs_effects.push(effect);
                data.to_json().into_bytes()
            }
            Err(e) => {
                let text = e.to_string();
                self.fs_errors.push(e);
                obj! { "error" => text }.to_json().into_bytes()
            }
        }
    }

    fn log(&mut self, level: u8, msg: &str) {
        let mut clean: String = msg
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        // Defence in depth: the provider never gets a secret (see `redact`).
        clean = self.redact(clean);
        eprintln!("provider log [{level}]: {clean}");
    }
}
