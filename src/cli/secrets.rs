//! `latchgate secrets set|list|rm`: the operator's secret store in the data
//! directory (0600). Values are read from stdin, never from the command line
//! (it would land in shell history and /proc) and never echoed or printed.

use super::{arg_error, value_str};
use lexopt::prelude::*;
use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;

const HELP: &str = "\
Usage: latchgate secrets set NAME      (value from stdin; not echoed on a terminal)
       latchgate secrets list          (names and where each comes from; never values)
       latchgate secrets rm NAME

The store is <data_dir>/secrets.json (mode 0600). A `[secrets] NAME =
\"env:VAR\"` or `\"file:/path\"` entry in latchgate.toml takes precedence.
The gate reads the store on every call: no restart needed.
  --config FILE        gate configuration (finds the data directory)

Example: printf %s \"$TOKEN\" | latchgate secrets set GITHUB_TOKEN";

/// Runs `secrets`.
pub fn run(args: Vec<OsString>) -> Result<i32, String> {
    let mut p = lexopt::Parser::from_args(args);
    let mut words: Vec<String> = Vec::new();
    let mut config: Option<PathBuf> = None;
    while let Some(arg) = p.next().map_err(arg_error)? {
        match arg {
            Short('h') | Long("help") => {
                println!("{HELP}");
                return Ok(0);
            }
            Long("config") => config = Some(PathBuf::from(value_str(&mut p, "--config")?)),
            Value(v) if words.len() < 2 => words.push(
                v.into_string()
                    .map_err(|_| "secrets: argument is not UTF-8")?,
            ),
            other => return Err(super::unexpected(other, "secrets")),
        }
    }
    let cfg = crate::config::load(config.as_deref()).map_err(|e| e.to_string())?;
    crate::gate::up::ensure_private_dir(&cfg.data_dir)?;
    let secrets = crate::secrets::Secrets::new(&cfg.secrets, cfg.data_dir.clone());
    let name = |what: &str| -> Result<String, String> {
        let n = words
            .get(1)
            .cloned()
            .ok_or_else(|| format!("secrets {what}: missing NAME"))?;
        if !crate::secrets::valid_name(&n) {
            return Err(format!(
                "secrets {what}: `{n}` is not a secret name; use [A-Z][A-Z0-9_], at most 64 characters"
            ));
        }
        Ok(n)
    };
    match words.first().map(String::as_str) {
        Some("set") => {
            let n = name("set")?;
            let echo = crate::sys::tty::EchoOff::new();
            if echo.is_terminal() {
                eprint!("value for {n} (not shown): ");
            }
            let mut value = String::new();
            std::io::stdin()
                .take(crate::secrets::MAX_SECRET_BYTES as u64 + 2)
                .read_to_string(&mut value)
                .map_err(|e| format!("secrets set: cannot read stdin: {e}"))?;
            drop(echo);
            if value.ends_with('\n') {
                value.pop();
                if value.ends_with('\r') {
                    value.pop();
                }
            }
            let result = secrets
                .store()
                .set(&n, &value)
                .map_err(|e| format!("secrets set {n}: {e}"));
            value.clear();
            result?;
            if let Some(src) = secrets.source_of(&n).filter(|s| s != "store") {
                eprintln!("note: latchgate.toml sets {n} from {src}, which takes precedence over the store");
            }
            println!("stored {n}");
            Ok(0)
        }
        Some("list") => {
            let stored = secrets.store().list()?;
            let configured = secrets.configured_sources();
            if stored.is_empty() && configured.is_empty() {
                println!("no secrets");
            }
            for (n, src) in &configured {
                println!("{n:<32} {src} (latchgate.toml)");
            }
            for (n, at) in &stored {
                if !configured.iter().any(|(c, _)| c == n) {
                    println!("{n:<32} store (set {at})");
                }
            }
            Ok(0)
        }
        Some("rm") => {
            let n = name("rm")?;
            if secrets.store().remove(&n)? {
                println!("removed {n}");
                Ok(0)
            } else {
                eprintln!("latchgate: secrets rm: {n} is not in the store");
                Ok(1)
            }
        }
        Some(other) => Err(format!(
            "secrets: unknown subcommand `{other}`; use set, list or rm"
        )),
        None => Err("secrets: missing subcommand; use set, list or rm".into()),
    }
}
