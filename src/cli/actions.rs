//! `latchgate actions list|show ID`: the actions the gate would load (built-in
//! manifests plus the configured directory), read offline from the same
//! configuration, with whether each secret an action needs is configured.

use super::{arg_error, value_str};
use crate::json::Value;
use crate::obj;
use crate::registry::{Action, Egress, Registry};
use lexopt::prelude::*;
use std::ffi::OsString;
use std::path::PathBuf;

const HELP: &str = "\
Usage: latchgate actions list [--json]
       latchgate actions show ID [--json]

Reads the manifests the gate loads (built in, then the configured
manifests directory) and the secret sources; the gate need not run.
  --config FILE        gate configuration
  --json               JSON output";

/// Runs `actions`.
pub fn run(args: Vec<OsString>) -> Result<i32, String> {
    let mut p = lexopt::Parser::from_args(args);
    let mut words: Vec<String> = Vec::new();
    let mut config: Option<PathBuf> = None;
    let mut json = false;
    while let Some(arg) = p.next().map_err(arg_error)? {
        match arg {
            Short('h') | Long("help") => {
                println!("{HELP}");
                return Ok(0);
            }
            Long("config") => config = Some(PathBuf::from(value_str(&mut p, "--config")?)),
            Long("json") => json = true,
            Value(v) if words.len() < 2 => words.push(
                v.into_string()
                    .map_err(|_| "actions: argument is not UTF-8")?,
            ),
            other => return Err(super::unexpected(other, "actions")),
        }
    }
    let cfg = crate::config::load(config.as_deref()).map_err(|e| e.to_string())?;
    let (registry, warnings) =
        Registry::load(crate::registry::EMBEDDED, cfg.manifests_path().as_deref())
            .map_err(|e| format!("action manifests: {e}"))?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let secrets = crate::secrets::Secrets::new(&cfg.secrets, cfg.data_dir.clone());
    match words.first().map(String::as_str) {
        Some("list") => {
            list(&registry, &secrets, json);
            Ok(0)
        }
        Some("show") => {
            let id = words
                .get(1)
                .ok_or("actions show: missing ID (see `latchgate actions list`)")?;
            let action = registry.get(id).ok_or_else(|| {
                format!("actions show: no action `{id}` (see `latchgate actions list`)")
            })?;
            show(action, &secrets, json);
            Ok(0)
        }
        Some(other) => Err(format!(
            "actions: unknown subcommand `{other}`; use list or show"
        )),
        None => Err("actions: missing subcommand; use list or show".into()),
    }
}

fn egress_text(a: &Action) -> String {
    match &a.manifest.egress {
        Egress::None => "none".into(),
        Egress::Allowlist(d) if d.is_empty() => "operator-approved hosts only".into(),
        Egress::Allowlist(d) => d.join(", "),
    }
}

/// Each secret the action names, with where its value would come from.
fn secrets_json(a: &Action, secrets: &crate::secrets::Secrets) -> Vec<Value> {
    a.manifest
        .secrets
        .iter()
        .map(|s| {
            obj! {
                "name" => s.name.as_str(),
                "required" => s.required,
                "header" => (!s.header.is_empty()).then_some(s.header.as_str()),
                "use" => if s.header.is_empty() { "aws_sigv4" } else { "header" },
                "configured" => secrets.source_of(&s.name).is_some(),
                "source" => secrets.source_of(&s.name),
            }
        })
        .collect()
}

fn list(registry: &Registry, secrets: &crate::secrets::Secrets, json: bool) {
    let mut actions = registry.list();
    actions.sort_by(|a, b| a.id().cmp(b.id()));
    if json {
        let items: Vec<Value> = actions
            .iter()
            .map(|a| {
                obj! {
                    "action_id" => a.id(),
                    "risk_level" => a.manifest.risk_level.as_str(),
                    "description" => a.manifest.description.as_str(),
                    "secrets" => secrets_json(a, secrets),
                }
            })
            .collect();
        println!("{}", Value::Array(items).to_pretty());
        return;
    }
    println!(
        "{:<24} {:<9} {:<10} DESCRIPTION",
        "ACTION", "RISK", "SECRETS"
    );
    for a in actions {
        let needed = a.manifest.secrets.iter().filter(|s| s.required).count();
        let missing = a
            .manifest
            .secrets
            .iter()
            .filter(|s| s.required && secrets.source_of(&s.name).is_none())
            .count();
        let state = match (needed, missing) {
            (0, _) => "-".to_string(),
            (_, 0) => "ok".to_string(),
            (_, m) => format!("{m} missing"),
        };
        println!(
            "{:<24} {:<9} {:<10} {}",
            a.id(),
            a.manifest.risk_level.as_str(),
            state,
            a.manifest.description
        );
    }
}

fn show(a: &Action, secrets: &crate::secrets::Secrets, json: bool) {
    let m = &a.manifest;
    if json {
        let v = obj! {
            "action_id" => m.id.as_str(),
            "version" => m.version.as_str(),
            "description" => m.description.as_str(),
            "risk_level" => m.risk_level.as_str(),
            "provider" => m.provider.to_string(),
            "origin" => m.origin.as_str(),
            "digest" => a.digest.as_str(),
            "declared_side_effects" => m.declared_side_effects.iter().map(|s| Value::from(s.as_str())).collect::<Vec<_>>(),
            "egress" => egress_text(a),
            "verifier" => m.verifier.as_str(),
            "secrets" => secrets_json(a, secrets),
            "request_schema" => m.request_schema.clone(),
            "response_schema" => m.response_schema.clone(),
        };
        println!("{}", v.to_pretty());
        return;
    }
    println!("action       {} {}", m.id, m.version);
    println!("description  {}", m.description);
    println!("risk         {}", m.risk_level.as_str());
    println!("provider     {} ({})", m.provider, m.origin);
    println!("digest       {}", a.digest);
    println!(
        "side effects {}",
        if m.declared_side_effects.is_empty() {
            "-".into()
        } else {
            m.declared_side_effects.join(", ")
        }
    );
    println!("egress       {}", egress_text(a));
    println!("verifier     {}", m.verifier.as_str());
    if m.secrets.is_empty() {
        println!("secrets      -");
    }
    for s in &m.secrets {
        let state = match secrets.source_of(&s.name) {
            Some(src) => format!("configured ({src})"),
            None if s.required => "MISSING (latchgate secrets set ".to_string() + &s.name + ")",
            None => "not configured (optional)".into(),
        };
        if s.header.is_empty() {
            println!(
                "secret       {} -> AWS SigV4 signing key: {}",
                s.name, state
            );
        } else {
            println!("secret       {} -> header {}: {}", s.name, s.header, state);
        }
    }
    if let Some(schema) = &m.request_schema {
        println!("request schema\n{}", schema.to_pretty());
    }
}
