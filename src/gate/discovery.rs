//! Action discovery: list, detail and request schema (no auth, as v0.2),
//! and `/v1/tools`, the whole catalog in one answer for `latchgate-mcp`.
//! Unknown ids answer 404 with a JSON error body (v0.2 sends an empty body;
//! clients only look at the status, and every error of ours names a code).

use super::errors::GateError;
use super::{pipeline, Gate};
use crate::json::Value;
use crate::net::http::Response;
use crate::obj;
use crate::registry::manifest::Egress;

/// GET /v1/actions
pub fn list(gate: &Gate) -> Response {
    let snap = gate.snapshot();
    let actions: Vec<Value> = snap
        .registry
        .list()
        .iter()
        .map(|a| a.list_entry_json())
        .collect();
    Response::json(200, obj! { "actions" => actions }.to_json())
}

/// GET /v1/actions/{id}
pub fn detail(gate: &Gate, id: &str) -> Response {
    match gate.snapshot().registry.get(id) {
        Some(a) => {
            let digest =
                pipeline::trust::module_digest(&gate.builtin_digests, a).unwrap_or_default();
            Response::json(200, a.detail_json(&digest).to_json())
        }
        None => not_found(id),
    }
}

fn not_found(id: &str) -> Response {
    GateError::new(404, "action_not_found")
        .message(format!("no action `{id}` is registered"))
        .response()
}

/// GET /v1/actions/{id}/schema/request
pub fn request_schema(gate: &Gate, id: &str) -> Response {
    match gate.snapshot().registry.get(id) {
        Some(a) => Response::json(200, a.request_schema_json().to_json()),
        None => not_found(id),
    }
}

/// `catalog_digest`: SHA-256 over the sorted action digests, one per line.
/// Any change to the action set (added, removed, a manifest edited) changes it.
pub fn catalog_digest(registry: &crate::registry::Registry) -> String {
    let mut digests: Vec<&str> = registry.list().iter().map(|a| a.digest.as_str()).collect();
    digests.sort_unstable();
    format!(
        "sha256:{}",
        crate::crypto::sha256_hex(digests.join("\n").as_bytes())
    )
}

/// One entry of `/v1/tools`: what an MCP tool needs about an action.
fn tool_entry(a: &crate::registry::Action) -> Value {
    let m = &a.manifest;
    let egress = match &m.egress {
        Egress::None => Value::from("none"),
        Egress::Allowlist(domains) => obj! {
            "proxy_allowlist" => obj! {
                "allowed_domains" => Value::Array(domains.iter().map(Value::from).collect()),
            },
        },
    };
    obj! {
        "action_id" => m.id.as_str(),
        "version" => m.version.as_str(),
        "description" => m.description.as_str(),
        "risk_level" => m.risk_level.as_str(),
        "declared_side_effects" => Value::Array(m.declared_side_effects.iter().map(Value::from).collect()),
        "egress" => egress,
        "request_schema" => a.request_schema_json(),
    }
}

/// GET /v1/tools: everything `latchgate-mcp` needs for `tools/list` in one
/// request (no auth, like the rest of discovery):
/// `{catalog_digest, public_base_url, tools:[{action_id, version,
/// description, risk_level, declared_side_effects, egress, request_schema}]}`.
///
/// The digest is also the ETag: a request with `If-None-Match` naming it
/// gets 304 and no body, so the adapter's periodic check costs a few bytes.
/// `public_base_url` is the `htu` base proofs must name (not a secret: any
/// client must know it to sign).
pub fn tools(gate: &Gate, req: &crate::net::http::Request) -> Response {
    let snap = gate.snapshot();
    let digest = catalog_digest(&snap.registry);
    let etag = format!("\"{digest}\"");
    if req.header("if-none-match") == Some(etag.as_str()) {
        return Response::empty(304).with_header("etag", etag);
    }
    let body = tools_body(&snap.registry, &digest, &gate.cfg.public_base_url);
    Response::json(200, body).with_header("etag", etag)
}

/// The last `/v1/tools` body with what it was built from: (catalog digest,
/// public_base_url, body). The body is a function of those two alone (the
/// digest covers every manifest's content), and building it is most of
/// the request's cost, which is on the adapter's startup path.
type ToolsBody = Option<(String, String, String)>;
static TOOLS_BODY: std::sync::Mutex<ToolsBody> = std::sync::Mutex::new(None);

fn tools_body(registry: &crate::registry::Registry, digest: &str, base: &str) -> String {
    if let Ok(cache) = TOOLS_BODY.lock() {
        if let Some((d, b, body)) = cache.as_ref() {
            if d == digest && b == base {
                return body.clone();
            }
        }
    }
    let entries: Vec<Value> = registry.list().iter().map(|a| tool_entry(a)).collect();
    let body = obj! {
        "catalog_digest" => digest,
        "public_base_url" => base,
        "tools" => Value::Array(entries),
    }
    .to_json();
    if let Ok(mut cache) = TOOLS_BODY.lock() {
        *cache = Some((digest.to_string(), base.to_string(), body.clone()));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Registry, EMBEDDED};

    #[test]
    fn catalog_digest_follows_the_action_set() {
        let (all, _) = Registry::load(EMBEDDED, None).unwrap();
        let d = catalog_digest(&all);
        assert!(d.starts_with("sha256:") && d.len() == 71, "{d}");
        let (again, _) = Registry::load(EMBEDDED, None).unwrap();
        assert_eq!(d, catalog_digest(&again));
        let (fewer, _) = Registry::load(EMBEDDED.get(1..).unwrap(), None).unwrap();
        assert_ne!(d, catalog_digest(&fewer));
    }

    #[test]
    fn tool_entries_carry_what_tools_list_needs() {
        let (all, _) = Registry::load(EMBEDDED, None).unwrap();
        let fetch = tool_entry(all.get("http_fetch").unwrap());
        for key in ["action_id", "version", "description", "risk_level"] {
            assert!(fetch.get(key).and_then(Value::as_str).is_some(), "{key}");
        }
        assert!(fetch
            .get("request_schema")
            .unwrap()
            .get("properties")
            .is_some());
        assert!(fetch
            .get("egress")
            .unwrap()
            .get("proxy_allowlist")
            .is_some());
        let body = tools_body(&all, &catalog_digest(&all), "http://localhost:3000");
        // Served from the cache the second time: the same text.
        assert_eq!(
            body,
            tools_body(&all, &catalog_digest(&all), "http://localhost:3000")
        );
        let v = crate::json::parse(body.as_bytes()).unwrap();
        assert_eq!(v.get("tools").unwrap().as_array().unwrap().len(), all.len());
        let other = tools_body(&all, &catalog_digest(&all), "http://127.0.0.1:9");
        assert!(other.contains("\"public_base_url\":\"http://127.0.0.1:9\""));
    }
}
