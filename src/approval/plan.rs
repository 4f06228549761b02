//! The held plan of a call that waits for a human: everything needed to run
//! it later exactly as it was when held (manifest source, validated input,
//! digests), so approving runs the stored plan and never the live manifest.

use crate::json::{self, Map, Value};

/// A call held for approval, frozen at the moment it was held.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// UUIDv7, chosen by the caller (see [`super::is_valid_id`]).
    pub approval_id: String,
    /// When the call was held (Unix ms).
    pub created_at_ms: i64,
    /// When the approval lapses (Unix ms); at or after it, it is expired.
    pub expires_at_ms: i64,
    /// The lease's principal.
    pub principal: String,
    /// The lease's session.
    pub session_id: String,
    /// The lease's `jti`.
    pub lease_jti: String,
    /// The lease's key thumbprint (the poll route lets the same principal
    /// and key poll after re-leasing).
    pub cnf_jkt: String,
    /// The lease's owner, if any.
    pub owner: Option<String>,
    /// The action called.
    pub action_id: String,
    /// Its manifest version.
    pub action_version: String,
    /// Its risk level.
    pub risk_level: String,
    /// `sha256:…` content digest of the manifest.
    pub action_digest: String,
    /// Where the manifest was loaded from.
    pub manifest_origin: String,
    /// The manifest TOML text as loaded.
    pub manifest_source: String,
    /// Digest of the provider module.
    pub provider_module_digest: String,
    /// The validated request input.
    pub input: Value,
    /// `sha256:…` JCS hash of `input`.
    pub request_hash: String,
    /// Version of the policy that asked for approval.
    pub policy_version: String,
    /// The rule that matched.
    pub policy_rule: String,
    /// Its stated reason.
    pub policy_reason: String,
    /// Hosts an approval adds to the run's egress sinks.
    pub approved_domains: Vec<String>,
    /// The lease's fs_root: a file action runs beneath it when approved.
    pub fs_root: Option<String>,
    /// Undeclared file paths an approval lets the run touch (exactly these).
    pub approved_paths: Vec<String>,
    /// One call of the lease budget was reserved when held.
    pub budget_debited: bool,
    /// Trace id of the `pending_approval` ledger event.
    pub trace_id: String,
}

/// Every key of [`Plan::to_json`], in output order.
const KEYS: [&str; 25] = [
    "approval_id",
    "created_at_ms",
    "expires_at_ms",
    "principal",
    "session_id",
    "lease_jti",
    "cnf_jkt",
    "owner",
    "action_id",
    "action_version",
    "risk_level",
    "action_digest",
    "manifest_origin",
    "manifest_source",
    "provider_module_digest",
    "input",
    "request_hash",
    "policy_version",
    "policy_rule",
    "policy_reason",
    "approved_domains",
    "fs_root",
    "approved_paths",
    "budget_debited",
    "trace_id",
];

impl Plan {
    /// Every field as a JSON object, snake_case keys; `owner` and
    /// `fs_root` are `null` when absent.
    pub fn to_json(&self) -> Value {
        let domains: Vec<Value> = self
            .approved_domains
            .iter()
            .map(|d| Value::from(d.as_str()))
            .collect();
        crate::obj! {
            "approval_id" => self.approval_id.as_str(),
            "created_at_ms" => self.created_at_ms,
            "expires_at_ms" => self.expires_at_ms,
            "principal" => self.principal.as_str(),
            "session_id" => self.session_id.as_str(),
            "lease_jti" => self.lease_jti.as_str(),
            "cnf_jkt" => self.cnf_jkt.as_str(),
            "owner" => self.owner.clone(),
            "action_id" => self.action_id.as_str(),
            "action_version" => self.action_version.as_str(),
            "risk_level" => self.risk_level.as_str(),
            "action_digest" => self.action_digest.as_str(),
            "manifest_origin" => self.manifest_origin.as_str(),
            "manifest_source" => self.manifest_source.as_str(),
            "provider_module_digest" => self.provider_module_digest.as_str(),
            "input" => self.input.clone(),
            "request_hash" => self.request_hash.as_str(),
            "policy_version" => self.policy_version.as_str(),
            "policy_rule" => self.policy_rule.as_str(),
            "policy_reason" => self.policy_reason.as_str(),
            "approved_domains" => domains,
            "fs_root" => self.fs_root.clone(),
            "approved_paths" => self
                .approved_paths
                .iter()
                .map(|p| Value::from(p.as_str()))
                .collect::<Vec<Value>>(),
            "budget_debited" => self.budget_debited,
            "trace_id" => self.trace_id.as_str(),
        }
    }

    /// Reads a plan back. Strict: every field must be present with its
    /// type (`owner` and `fs_root` may be `null`), no other key is allowed, the approval
    /// id must be valid and the plan must canonicalise (so it can be hashed).
    pub fn from_json(v: &Value) -> Result<Plan, String> {
        let m = v.as_object().ok_or("plan is not a JSON object")?;
        only_keys(m, &KEYS, "plan")?;
        let approval_id = req_str(m, "approval_id")?;
        if !super::is_valid_id(&approval_id) {
            return Err("plan field approval_id is not a valid approval id".into());
        }
        let plan = Plan {
            approval_id,
            created_at_ms: req_i64(m, "created_at_ms")?,
            expires_at_ms: req_i64(m, "expires_at_ms")?,
            principal: req_str(m, "principal")?,
            session_id: req_str(m, "session_id")?,
            lease_jti: req_str(m, "lease_jti")?,
            cnf_jkt: req_str(m, "cnf_jkt")?,
            owner: opt_str(m, "owner")?,
            action_id: req_str(m, "action_id")?,
            action_version: req_str(m, "action_version")?,
            risk_level: req_str(m, "risk_level")?,
            action_digest: req_str(m, "action_digest")?,
            manifest_origin: req_str(m, "manifest_origin")?,
            manifest_source: req_str(m, "manifest_source")?,
            provider_module_digest: req_str(m, "provider_module_digest")?,
            input: m
                .get("input")
                .cloned()
                .ok_or("plan field input is missing")?,
            request_hash: req_str(m, "request_hash")?,
            policy_version: req_str(m, "policy_version")?,
            policy_rule: req_str(m, "policy_rule")?,
            policy_reason: req_str(m, "policy_reason")?,
            approved_domains: req_str_list(m, "approved_domains")?,
            fs_root: opt_str(m, "fs_root")?,
            approved_paths: req_str_list(m, "approved_paths")?,
            budget_debited: m
                .get("budget_debited")
                .ok_or("plan field budget_debited is missing")?
                .as_bool()
                .ok_or("plan field budget_debited is not a boolean")?,
            trace_id: req_str(m, "trace_id")?,
        };
        json::canonical(v).map_err(|e| format!("plan cannot be canonicalised: {e}"))?;
        Ok(plan)
    }

    /// `canonical_sha256` of [`Plan::to_json`] (`sha256:<hex>`).
    ///
    /// A plan nested too deeply for JCS cannot be stored (the store and
    /// `from_json` refuse it); for such a plan built in memory this falls
    /// back to hashing its compact JSON under a distinct prefix, so the
    /// result stays content-bound and never panics.
    pub fn plan_hash(&self) -> String {
        let v = self.to_json();
        match json::canonical_sha256(&v) {
            Ok(h) => h,
            Err(_) => {
                let text = format!("latchgate-plan-noncanonical:{}", v.to_json());
                format!("sha256:{}", crate::crypto::sha256_hex(text.as_bytes()))
            }
        }
    }

    /// `"sha256:" + hex(SHA-256("latchgate-approval-v1:" + approval_id + ":" + plan_hash))`:
    /// binds a grant to this approval of this exact plan.
    pub fn approval_hash(&self) -> String {
        let text = format!(
            "latchgate-approval-v1:{}:{}",
            self.approval_id,
            self.plan_hash()
        );
        format!("sha256:{}", crate::crypto::sha256_hex(text.as_bytes()))
    }
}

/// Errors unless every key of `m` is in `allowed` (`what` names the object).
pub(super) fn only_keys(m: &Map, allowed: &[&str], what: &str) -> Result<(), String> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("{what} has unknown field {k:?}")),
        None => Ok(()),
    }
}

/// The string under `key`, which must be present.
pub(super) fn req_str(m: &Map, key: &str) -> Result<String, String> {
    match m.get(key) {
        None => Err(format!("field {key} is missing")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("field {key} is not a string")),
    }
}

/// The string or `null` under `key`, which must be present.
pub(super) fn opt_str(m: &Map, key: &str) -> Result<Option<String>, String> {
    match m.get(key) {
        None => Err(format!("field {key} is missing")),
        Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("field {key} is not a string or null")),
    }
}

/// The integer under `key`, which must be present.
pub(super) fn req_i64(m: &Map, key: &str) -> Result<i64, String> {
    match m.get(key) {
        None => Err(format!("field {key} is missing")),
        Some(Value::Number(json::Number::Int(i))) => Ok(*i),
        Some(_) => Err(format!("field {key} is not an integer")),
    }
}

/// The array of strings under `key`, which must be present.
fn req_str_list(m: &Map, key: &str) -> Result<Vec<String>, String> {
    let items = m
        .get(key)
        .ok_or_else(|| format!("field {key} is missing"))?
        .as_array()
        .ok_or_else(|| format!("field {key} is not an array"))?;
    items
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("field {key} holds a non-string"))
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A complete plan with id `id`, created at `now` and expiring at `exp`.
    pub(crate) fn sample(id: &str, now: i64, exp: i64) -> Plan {
        Plan {
            approval_id: id.to_string(),
            created_at_ms: now,
            expires_at_ms: exp,
            principal: "agent:alice".into(),
            session_id: "s-1".into(),
            lease_jti: "jti-1".into(),
            cnf_jkt: "jkt-1".into(),
            owner: Some("team-a".into()),
            action_id: "http_get".into(),
            action_version: "1.0.0".into(),
            risk_level: "high".into(),
            action_digest: "sha256:aa".into(),
            manifest_origin: "embedded".into(),
            manifest_source: "id = \"http_get\"\nversion = \"1.0.0\"\n".into(),
            provider_module_digest: "sha256:bb".into(),
            input: crate::obj! { "url" => "https://example.com/", "n" => 3 },
            request_hash: "sha256:cc".into(),
            policy_version: "p1".into(),
            policy_rule: "approve-high".into(),
            policy_reason: "high risk".into(),
            approved_domains: vec!["example.com".into()],
            fs_root: Some("/srv/project".into()),
            approved_paths: vec!["notes/todo.txt".into()],
            budget_debited: true,
            trace_id: "t-1".into(),
        }
    }

    #[test]
    fn json_round_trip() {
        let p = sample("0190a1b2-0000-7000-8000-000000000001", 1000, 2000);
        let text = p.to_json().to_json();
        let back = Plan::from_json(&json::parse(text.as_bytes()).unwrap()).unwrap();
        assert_eq!(back, p);
        let mut q = p.clone();
        q.owner = None;
        q.fs_root = None;
        assert_eq!(Plan::from_json(&q.to_json()).unwrap(), q);
        // Every key is written.
        let v = p.to_json();
        let m = v.as_object().unwrap();
        assert_eq!(m.len(), KEYS.len());
        assert!(KEYS.iter().all(|k| m.contains_key(k)));
    }

    #[test]
    fn from_json_rejects_missing_mistyped_and_unknown_fields() {
        let p = sample("0190a1b2-0000-7000-8000-000000000001", 1000, 2000);
        for key in KEYS {
            let mut v = p.to_json();
            v.as_object_mut().unwrap().remove(key);
            let err = Plan::from_json(&v).unwrap_err();
            assert!(err.contains(key), "{key}: {err}");
        }
        let mut v = p.to_json();
        v.as_object_mut().unwrap().insert("created_at_ms", "1000");
        let err = Plan::from_json(&v).unwrap_err();
        assert!(err.contains("created_at_ms"), "{err}");
        let mut v = p.to_json();
        v.as_object_mut().unwrap().insert("budget_debited", 1);
        assert!(Plan::from_json(&v).unwrap_err().contains("budget_debited"));
        let mut v = p.to_json();
        v.as_object_mut()
            .unwrap()
            .insert("approved_domains", vec![Value::from(1)]);
        assert!(Plan::from_json(&v)
            .unwrap_err()
            .contains("approved_domains"));
        let mut v = p.to_json();
        v.as_object_mut().unwrap().insert("extra", 1);
        assert!(Plan::from_json(&v).unwrap_err().contains("extra"));
        let mut v = p.to_json();
        v.as_object_mut().unwrap().insert("approval_id", "../etc");
        assert!(Plan::from_json(&v).unwrap_err().contains("approval_id"));
        assert!(Plan::from_json(&Value::from("x")).is_err());
    }

    #[test]
    fn plan_hash_changes_when_any_field_changes() {
        let p = sample("0190a1b2-0000-7000-8000-000000000001", 1000, 2000);
        let h = p.plan_hash();
        assert!(h.starts_with("sha256:") && h.len() == 71, "{h}");
        assert_eq!(h, json::canonical_sha256(&p.to_json()).unwrap());
        assert_eq!(h, p.clone().plan_hash());
        // Change each field in turn through its JSON form.
        for key in KEYS {
            let mut v = p.to_json();
            let m = v.as_object_mut().unwrap();
            let new = match m.get(key).unwrap() {
                // "0" keeps an approval id valid.
                Value::String(s) => Value::from(format!("{s}0")),
                Value::Number(_) => Value::from(7i64),
                Value::Bool(b) => Value::from(!b),
                Value::Array(_) => Value::Array(vec![]),
                Value::Object(_) => crate::obj! { "url" => "https://other/" },
                Value::Null => Value::from("someone"),
            };
            m.insert(key, new);
            let q = Plan::from_json(&v).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_ne!(q.plan_hash(), h, "{key}");
        }
        let mut q = p.clone();
        q.owner = None;
        assert_ne!(q.plan_hash(), h);
    }

    #[test]
    fn approval_hash_format() {
        let p = sample("0190a1b2-0000-7000-8000-000000000001", 1000, 2000);
        let text = format!(
            "latchgate-approval-v1:0190a1b2-0000-7000-8000-000000000001:{}",
            p.plan_hash()
        );
        let want = format!(
            "sha256:{}",
            crate::crypto::hex::encode(&crate::crypto::sha256(text.as_bytes()))
        );
        assert_eq!(p.approval_hash(), want);
        let mut q = p.clone();
        q.approval_id = "0190a1b2-0000-7000-8000-000000000002".into();
        assert_ne!(q.approval_hash(), p.approval_hash());
    }
}
