//! Secrets for a call: resolved on the host just before dispatch into the
//! headers the manifest names (`header`, `format`), handed to the egress
//! layer only (which sends them over https to the action's sinks only).
//! The two keys of an `[aws_sigv4]` table become a signer instead, which
//! the egress layer uses to sign each request (same rules). The provider
//! never sees them; nothing here is logged.

use crate::gate::errors::GateError;
use crate::gate::Gate;
use crate::registry::Action;

/// The remediation for a missing secret.
fn missing(action: &Action, name: &str) -> GateError {
    GateError::new(403, "secret_missing")
        .reason(format!(
            "action `{}` needs secret {name}, which is not configured",
            action.id()
        ))
        .with("secret", name)
        .with(
            "remediation",
            format!("run: latchgate secrets set {name}   (or add [secrets] {name} = \"env:VAR\" to latchgate.toml)"),
        )
}

/// Fails when a required secret is configured nowhere (checked before a
/// call is held, so an operator is not asked to approve a call that cannot run).
pub fn check_required(gate: &Gate, action: &Action) -> Result<(), GateError> {
    for s in action.manifest.secrets.iter().filter(|s| s.required) {
        if gate.secrets.source_of(&s.name).is_none() {
            return Err(missing(action, &s.name));
        }
    }
    Ok(())
}

/// What a run injects, and what must never come back.
#[derive(Default)]
pub struct Injected {
    /// `(header, formatted value)` pairs for the egress layer.
    pub headers: Vec<(String, String)>,
    /// The raw values, redacted from anything an upstream sends back
    /// (the `[aws_sigv4]` keys included).
    pub raw: Vec<String>,
    /// `[aws_sigv4]`: signs each request in the egress layer.
    pub sigv4: Option<crate::egress::SigV4Signer>,
}

impl Drop for Injected {
    fn drop(&mut self) {
        for s in self
            .raw
            .iter_mut()
            .chain(self.headers.iter_mut().map(|(_, v)| v))
        {
            let mut bytes = std::mem::take(s).into_bytes();
            bytes.iter_mut().for_each(|b| *b = 0);
            std::hint::black_box(&bytes);
        }
    }
}

/// Overwrites a copy of a secret before it is freed.
fn wipe(s: String) {
    let mut bytes = s.into_bytes();
    bytes.fill(0);
    std::hint::black_box(&bytes);
}

/// The `(header, value)` pairs to inject. A missing required secret is 403
/// `secret_missing`; a source that cannot be read is 503
/// `secret_unavailable` (fail closed). Absent optional secrets are skipped.
/// The `[aws_sigv4]` keys are not headers: they build `Injected::sigv4`
/// (an unusable key, e.g. an access key id with a `/`, is 503
/// `secret_unavailable`, naming the secret, never its value).
pub fn resolve(gate: &Gate, action: &Action) -> Result<Injected, GateError> {
    let mut out = Injected::default();
    let sigv4 = action.manifest.aws_sigv4.as_ref();
    // Where the two signing keys are in `out.raw`: the signer is built from
    // exactly the values that are redacted.
    let mut key_at: Vec<(&str, usize)> = Vec::new();
    for s in &action.manifest.secrets {
        let value = gate
            .secrets
            .get(&s.name)
            .map_err(|e| GateError::new(503, "secret_unavailable").message(e))?;
        match value {
            Some(v) if sigv4.is_some_and(|c| c.uses(&s.name)) => {
                key_at.push((s.name.as_str(), out.raw.len()));
                out.raw.push(v.expose().to_string());
            }
            Some(v) => {
                out.headers
                    .push((s.header.clone(), s.format.replacen("{}", v.expose(), 1)));
                out.raw.push(v.expose().to_string());
            }
            None if s.required => return Err(missing(action, &s.name)),
            None => {}
        }
    }
    if let Some(c) = sigv4 {
        let key = |name: &str| {
            key_at
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, i)| out.raw.get(*i))
                .cloned()
        };
        let (access, secret) = match (key(&c.access_key_secret), key(&c.secret_key_secret)) {
            (Some(a), Some(s)) => (a, s),
            // Both are required secrets (a load rule), so both were found.
            (a, s) => {
                a.into_iter().chain(s).for_each(wipe);
                return Err(missing(action, &c.access_key_secret));
            }
        };
        // `new` takes the keys by value and wipes them on error too.
        let signer = crate::egress::SigV4Signer::new(access, secret, &c.service, c.region.clone())
            .map_err(|e| {
                GateError::new(503, "secret_unavailable")
                    .reason(format!(
                        "the [aws_sigv4] keys of action `{}` ({}, {}) cannot sign: {e}",
                        action.id(),
                        c.access_key_secret,
                        c.secret_key_secret
                    ))
                    .with("secret", c.access_key_secret.as_str())
            })?;
        out.sigv4 = Some(signer);
    }
    Ok(out)
}

/// The values of the action's `sensitive_inputs` in `input` (credentials an
/// API takes in the URL or body), raw and as a URL template encodes them, to
/// redact like secrets from what comes back.
pub fn sensitive_values(action: &Action, input: &crate::json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for v in action
        .manifest
        .sensitive_inputs
        .iter()
        .filter_map(|k| input.get(k))
    {
        let text = match v {
            crate::json::Value::String(s) if !s.is_empty() => s.clone(),
            crate::json::Value::Number(_) => v.to_json(),
            _ => continue,
        };
        let encoded = crate::registry::template::percent_encode(&text);
        if encoded != text {
            out.push(encoded);
        }
        out.push(text);
    }
    out
}
