//! The discovery JSON views (`/v1/actions`, `/v1/actions/{id}`,
//! `/v1/actions/{id}/schema/request`), shaped as LatchGate v0.2 sends them.

use super::manifest::Egress;
use super::{Action, Registry};
use crate::json::Value;
use crate::obj;

impl Action {
    /// One entry of `/v1/actions`: `{action_id, version, risk_level}`.
    pub fn list_entry_json(&self) -> Value {
        let m = &self.manifest;
        obj! {
            "action_id" => m.id.as_str(),
            "version" => m.version.as_str(),
            "risk_level" => m.risk_level.as_str(),
        }
    }

    /// `/v1/actions/{id}`. `provider_module_digest` is the sha256 of the
    /// module that will run (the wasm engine knows it, also for builtins).
    pub fn detail_json(&self, provider_module_digest: &str) -> Value {
        let m = &self.manifest;
        let l = &m.limits;
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
            "provider_module_digest" => provider_module_digest,
            "risk_level" => m.risk_level.as_str(),
            "resource_limits" => obj! {
                "fuel" => l.fuel,
                "memory_mb" => l.memory_mb,
                "timeout_seconds" => l.timeout_seconds,
                "max_io_calls" => l.max_io_calls,
                "max_host_response_bytes" => l.max_host_response_bytes,
            },
            "io" => obj! {
                "max_request_bytes" => m.io.max_request_bytes,
                "max_response_bytes" => m.io.max_response_bytes,
                "has_request_schema" => m.request_schema.is_some(),
                "has_response_schema" => m.response_schema.is_some(),
            },
            "egress" => egress,
            "declared_side_effects" => Value::Array(m.declared_side_effects.iter().map(Value::from).collect()),
        }
    }

    /// `/v1/actions/{id}/schema/request`: the request schema as written
    /// (converted to JSON); `null` when the manifest has none.
    pub fn request_schema_json(&self) -> Value {
        self.manifest.request_schema.clone().unwrap_or(Value::Null)
    }
}

impl Registry {
    /// `/v1/actions`: `{"actions":[...]}` sorted by id.
    pub fn list_json(&self) -> Value {
        let entries: Vec<Value> = self.list().iter().map(|a| a.list_entry_json()).collect();
        obj! { "actions" => Value::Array(entries) }
    }
}
