//! The content digest of a manifest: what plans and grants pin as
//! `action_digest`, so any change to a security-relevant field changes it.
//!
//! `sha256:` + hex(SHA-256("latchgate-action-v1:" + fields joined by "|")),
//! where each field is the JCS (RFC 8785) text of a JSON value. JCS quotes
//! and escapes strings, so a `|` inside a value can never be mistaken for a
//! separator. The `description` is the only field left out. The `[fs]`
//! section is appended as a last field only when present, so the digests
//! of manifests without one are unchanged.

use super::manifest::{Egress, Manifest};
use crate::json::{self, Value};

const DOMAIN: &str = "latchgate-action-v1:";

/// Computes the digest of `m`; fails only if a value cannot be
/// canonicalised.
pub fn content_digest(m: &Manifest) -> Result<String, String> {
    let mut text = String::from(DOMAIN);
    for (i, field) in fields(m).iter().enumerate() {
        if i > 0 {
            text.push('|');
        }
        text.push_str(
            &json::canonical(field)
                .map_err(|e| format!("cannot canonicalise the manifest: {e:?}"))?,
        );
    }
    Ok(sha256_prefixed(text.as_bytes()))
}

/// `sha256:` + lowercase hex of SHA-256(`bytes`).
pub fn sha256_prefixed(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in d.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn strings(v: &[String]) -> Value {
    Value::Array(v.iter().map(Value::from).collect())
}

fn schema(s: &Option<Value>) -> Value {
    s.clone().unwrap_or(Value::Null)
}

/// The security-relevant fields, in a fixed order.
fn fields(m: &Manifest) -> Vec<Value> {
    let l = &m.limits;
    let template = match &m.template {
        None => Value::Null,
        Some(t) => {
            let headers: Vec<Value> = t
                .header_sources()
                .into_iter()
                .map(|(n, v)| Value::Array(vec![n.into(), v.into()]))
                .collect();
            crate::obj! {
                "method" => t.method(),
                "url" => t.url_source(),
                "headers" => Value::Array(headers),
                "body" => t.body_source().cloned().unwrap_or(Value::Null),
            }
        }
    };
    let egress = match &m.egress {
        Egress::None => Value::Null,
        Egress::Allowlist(domains) => strings(domains),
    };
    let secrets: Vec<Value> = m
        .secrets
        .iter()
        .map(|s| {
            crate::obj! {
                "name" => s.name.as_str(),
                "required" => s.required,
                "header" => s.header.as_str(),
                "format" => s.format.as_str(),
            }
        })
        .collect();
    let verification = crate::obj! {
        "verifier" => m.verifier.as_str(),
        "expected_status" => Value::Array(m.verification.expected_status.iter().map(|s| Value::from(u64::from(*s))).collect()),
        "required_fields" => strings(&m.verification.required_fields),
    };
    let mut fields = vec![
        Value::from(m.id.as_str()),
        Value::from(m.version.as_str()),
        Value::from(m.provider.to_string()),
        Value::from(m.risk_level.as_str()),
        Value::Array(vec![
            l.fuel.into(),
            l.memory_mb.into(),
            l.timeout_seconds.into(),
            l.max_io_calls.into(),
            l.max_host_response_bytes.into(),
        ]),
        Value::Array(vec![
            m.io.max_request_bytes.into(),
            m.io.max_response_bytes.into(),
        ]),
        egress,
        template,
        schema(&m.request_schema),
        schema(&m.response_schema),
        Value::Array(secrets),
        strings(&m.declared_side_effects),
        verification,
        strings(&m.required_scopes),
    ];
    if let Some(fs) = &m.fs {
        fields.push(fs.digest_json());
    }
    // Appended only when set, so digests of manifests without them are unchanged.
    if let Some(sig) = &m.aws_sigv4 {
        let region = match &sig.region {
            crate::egress::RegionSource::Fixed(r) => r.clone(),
            crate::egress::RegionSource::FromHost => "from_host".to_string(),
        };
        fields.push(crate::obj! { "aws_sigv4" => crate::obj! {
            "access_key_secret" => sig.access_key_secret.as_str(),
            "secret_key_secret" => sig.secret_key_secret.as_str(),
            "service" => sig.service.as_str(),
            "region" => region,
        } });
    }
    if !m.sensitive_inputs.is_empty() {
        fields.push(crate::obj! { "sensitive_inputs" => strings(&m.sensitive_inputs) });
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::sha256_prefixed;

    #[test]
    fn sha256_known_answer() {
        assert_eq!(
            sha256_prefixed(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
