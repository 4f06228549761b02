//! The two read-only resources: `latchgate://actions` (the catalog without
//! schemas) and `latchgate://status` (this adapter and its gate).

use super::gate_client::Catalog;
use crate::json::Value;
use crate::obj;

/// The catalog resource.
pub const ACTIONS_URI: &str = "latchgate://actions";
/// The status resource.
pub const STATUS_URI: &str = "latchgate://status";

/// The `resources/list` result.
pub fn list() -> Value {
    let entry = |uri: &str, name: &str, description: &str| {
        obj! {
            "uri" => uri,
            "name" => name,
            "description" => description,
            "mimeType" => "application/json",
        }
    };
    obj! {
        "resources" => vec![
            entry(ACTIONS_URI, "actions", "The gate's actions: id, version, risk, side effects, egress"),
            entry(STATUS_URI, "status", "This adapter's gate, lease and protocol state"),
        ],
    }
}

/// The `resources/read` result for `uri` with a JSON document.
pub fn contents(uri: &str, doc: &Value) -> Value {
    obj! {
        "contents" => vec![obj! {
            "uri" => uri,
            "mimeType" => "application/json",
            "text" => doc.to_pretty(),
        }],
    }
}

/// `latchgate://actions`: the catalog without request schemas.
pub fn actions(catalog: &Catalog) -> Value {
    let keep = [
        "action_id",
        "version",
        "description",
        "risk_level",
        "declared_side_effects",
        "egress",
    ];
    let actions: Vec<Value> = catalog
        .tools
        .iter()
        .map(|t| {
            let mut m = crate::json::Map::new();
            for k in keep {
                if let Some(v) = t.get(k) {
                    m.insert(k, v.clone());
                }
            }
            Value::Object(m)
        })
        .collect();
    obj! {
        "catalog_digest" => catalog.digest.as_str(),
        "count" => actions.len(),
        "actions" => actions,
    }
}

/// What `latchgate://status` reports.
pub struct Status {
    /// `LATCHGATE_AGENT_ID` / `--agent-id`.
    pub agent_id: String,
    /// The negotiated MCP version, once initialized.
    pub protocol_version: Option<String>,
    /// The gate's address.
    pub gate: String,
    /// The DPoP `htu` base in effect.
    pub public_base_url: String,
    /// `GET /healthz` answered 200.
    pub gate_healthy: bool,
    /// The lease's session id and expiry (Unix seconds), when one is held.
    pub lease: Option<(String, i64)>,
    /// The last catalog digest read.
    pub catalog_digest: Option<String>,
    /// Tool calls running now.
    pub calls_in_flight: usize,
}

/// `latchgate://status` as JSON.
pub fn status(s: &Status) -> Value {
    obj! {
        "agent_id" => s.agent_id.as_str(),
        "adapter_version" => env!("CARGO_PKG_VERSION"),
        "protocol_version" => s.protocol_version.clone(),
        "gate" => s.gate.as_str(),
        "public_base_url" => s.public_base_url.as_str(),
        "gate_healthy" => s.gate_healthy,
        "session_id" => s.lease.as_ref().map(|(id, _)| id.clone()),
        "lease_expires_at" => s.lease.as_ref().map(|(_, exp)| crate::time::rfc3339_secs(*exp)),
        "catalog_digest" => s.catalog_digest.clone(),
        "calls_in_flight" => s.calls_in_flight,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_drop_schemas_and_keep_the_digest() {
        let c = Catalog {
            digest: "sha256:1".into(),
            public_base_url: None,
            tools: vec![
                obj! { "action_id" => "echo", "version" => "1", "request_schema" => obj! { "type" => "object" } },
            ],
        };
        let v = actions(&c);
        assert_eq!(v.get("count").and_then(Value::as_u64), Some(1));
        let first = &v.get("actions").unwrap().as_array().unwrap()[0];
        assert!(first.get("request_schema").is_none());
        assert_eq!(first.get("action_id").and_then(Value::as_str), Some("echo"));
        let r = contents(ACTIONS_URI, &v);
        let text = r.get("contents").unwrap().as_array().unwrap()[0]
            .get("text")
            .and_then(Value::as_str)
            .unwrap();
        assert_eq!(crate::json::parse(text.as_bytes()).unwrap(), v);
    }

    #[test]
    fn status_without_lease_is_null_session() {
        let s = status(&Status {
            agent_id: "a".into(),
            protocol_version: None,
            gate: "unix:///x".into(),
            public_base_url: "http://localhost:3000".into(),
            gate_healthy: false,
            lease: None,
            catalog_digest: None,
            calls_in_flight: 0,
        });
        assert!(s.get("session_id").unwrap().is_null());
        assert_eq!(s.get("gate_healthy").and_then(Value::as_bool), Some(false));
        assert_eq!(
            list().get("resources").unwrap().as_array().unwrap().len(),
            2
        );
    }
}
