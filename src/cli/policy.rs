//! `latchgate policy check`: evaluate the policy offline for a principal and
//! an action (and optionally an input) and print the decision and the rule
//! that made it — the same evaluation the gate runs.

use super::{arg_error, value_str};
use crate::json::Value;
use crate::policy::{Outcome, Policy};
use crate::registry::Registry;
use lexopt::prelude::*;
use std::ffi::OsString;
use std::path::PathBuf;

const HELP: &str = "\
Usage: latchgate policy check --principal P --action ID [--input JSON] [options]

Evaluates the policy the gate would use (from its configuration) and prints
the decision, the rule that decided it and why.
  --principal P        the caller, e.g. dev:anonymous or alice
  --action ID          the action id
  --input JSON         the call's input (checked against the action's schema,
                       rendered, so undeclared hosts are seen)
  --scope S            a scope the caller's lease holds (repeatable;
                       default tools:call)
  --policy FILE        this policy file instead of the configured one
  --config FILE        gate configuration (policy file and manifests)
  --json               print the decision as JSON

Exit: 0 allow, 3 deny, 4 needs approval, 2 bad arguments or files.";

/// Runs `policy`.
pub fn run(args: Vec<OsString>) -> Result<i32, String> {
    let mut p = lexopt::Parser::from_args(args);
    let mut sub: Option<String> = None;
    let mut principal: Option<String> = None;
    let mut action_id: Option<String> = None;
    let mut input_text: Option<String> = None;
    let mut scopes: Vec<String> = Vec::new();
    let mut policy_file: Option<PathBuf> = None;
    let mut config: Option<PathBuf> = None;
    let mut json = false;
    while let Some(arg) = p.next().map_err(arg_error)? {
        match arg {
            Short('h') | Long("help") => {
                println!("{HELP}");
                return Ok(0);
            }
            Long("principal") => principal = Some(value_str(&mut p, "--principal")?),
            Long("action") => action_id = Some(value_str(&mut p, "--action")?),
            Long("input") => input_text = Some(value_str(&mut p, "--input")?),
            Long("scope") => scopes.push(value_str(&mut p, "--scope")?),
            Long("policy") => policy_file = Some(PathBuf::from(value_str(&mut p, "--policy")?)),
            Long("config") => config = Some(PathBuf::from(value_str(&mut p, "--config")?)),
            Long("json") => json = true,
            Value(v) if sub.is_none() => {
                sub = Some(
                    v.into_string()
                        .map_err(|_| "policy: the subcommand is not UTF-8")?,
                )
            }
            other => return Err(super::unexpected(other, "policy")),
        }
    }
    match sub.as_deref() {
        Some("check") => {}
        Some(other) => return Err(format!("policy: unknown subcommand `{other}`; use check")),
        None => return Err("policy: missing subcommand; use check".into()),
    }
    let principal = principal.ok_or("policy check: missing --principal P")?;
    let action_id = action_id.ok_or("policy check: missing --action ID")?;
    if scopes.is_empty() {
        scopes.push("tools:call".into());
    }

    let cfg = crate::config::load(config.as_deref()).map_err(|e| e.to_string())?;
    let policy = Policy::load(policy_file.or_else(|| cfg.policy_path()).as_deref())
        .map_err(|e| e.to_string())?;
    let (registry, _) = Registry::load(crate::registry::EMBEDDED, cfg.manifests_path().as_deref())
        .map_err(|e| format!("action manifests: {e}"))?;
    let action = registry
        .get(&action_id)
        .ok_or_else(|| format!("--action: no action `{action_id}` is registered"))?;

    let rendered = match &input_text {
        None => None,
        Some(text) => {
            let (input, _) = crate::gate::pipeline::validate::input(action, text.as_bytes())
                .map_err(|e| format!("--input: {}", e.detail()))?;
            let task = crate::gate::pipeline::render::task(action, &input)
                .map_err(|e| format!("--input: {}", e.detail()))?;
            Some((task, input))
        }
    };
    let d = crate::gate::pipeline::policy::evaluate(
        &policy,
        &principal,
        &scopes,
        action,
        rendered.as_ref().map(|(t, i)| (t, i)),
    );
    if json {
        let v = crate::obj! {
            "decision" => d.outcome.as_str(),
            "rule" => d.rule,
            "reason" => d.reason.as_str(),
            "acl_entry" => d.acl_entry.clone(),
            "widen_domains" => d.widen_domains.iter().map(|s| Value::from(s.as_str())).collect::<Vec<_>>(),
            "policy_version" => policy.version.as_str(),
            "policy_source" => policy.origin.as_str(),
        };
        println!("{}", v.to_pretty());
    } else {
        println!("decision  {}", d.outcome.as_str());
        println!("rule      {}", d.rule);
        println!("reason    {}", d.reason);
        if let Some(e) = &d.acl_entry {
            println!("acl entry {e}");
        }
        if !d.widen_domains.is_empty() {
            println!("new hosts {}", d.widen_domains.join(", "));
        }
        println!("policy    {} ({})", policy.version, policy.origin);
    }
    Ok(match d.outcome {
        Outcome::Allow => 0,
        Outcome::Deny => 3,
        Outcome::Hold => 4,
    })
}
