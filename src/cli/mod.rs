//! The `latchgate` command line (lexopt). Each command parses its own flags
//! and calls into the library; errors name the flag and what is allowed.

pub mod actions;
pub mod admin_ops;
pub mod approvals;
pub mod audit;
pub mod bridge;
pub mod completions;
pub mod doctor;
pub mod gateway;
pub mod operator;
pub mod policy;
pub mod sandbox;
pub mod secrets;
pub mod status;
pub mod up;
pub mod verify;

use lexopt::prelude::*;
use std::ffi::OsString;

const USAGE: &str = "\
latchgate — execution security kernel for AI agents

Usage: latchgate <command> [options]

Commands:
  up       [--config FILE] [--expose-http ADDR]      run the gate (Unix socket, optional TCP)
  audit    [--limit N] [--json] [filters]             read the ledger
  verify   [--ledger DIR] [--json]                    check the ledger offline (exit 0 intact, 2 broken, 1 unreadable)
  status   [--json]                                   the running gate: listeners, approvals, calls in flight
  approvals list|show ID|approve ID|deny ID [--reason TEXT]   decide held calls
  policy   check --principal P --action ID [--input JSON]     explain a policy decision
  reload                                              load manifests and policy again (bad files refused)
  revoke-all                                          end every lease and undispatched grant
  drain                                               refuse new calls, let calls in flight finish
  actions  list | show ID                             the actions, their risk, egress and secrets
  secrets  set NAME | list | rm NAME                  the secret store (values from stdin, never shown)
  sandbox  [--profile P] [flags] [-- CMD...]         run an agent contained (see --help)
  gateway  --listen-unix PATH [--config FILE]        LLM credential gateway on a Unix socket
  bridge   --listen ADDR|PATH --connect ADDR|PATH    relay TCP/Unix connections (replaces socat)
  doctor   [--json] [--config FILE]                   check this host: kernel, namespaces, Landlock, seccomp, bwrap, files, gate
  completions bash|zsh|fish [--mcp]                   print a shell completion script
  version                                             print the version
  help                                                this text

Run `latchgate <command> --help` for a command's options.";

/// Entry point of the `latchgate` binary; returns the process exit code.
pub fn main() -> i32 {
    let mut args = std::env::args_os().skip(1);
    let Some(cmd) = args.next() else {
        eprintln!("{USAGE}");
        return 2;
    };
    let rest: Vec<OsString> = args.collect();
    let result = match cmd.to_str() {
        Some("up") => up::run(rest),
        Some("audit") => audit::run(rest),
        Some("verify") => verify::run(rest),
        Some("status") => status::run(rest),
        Some("approvals") => approvals::run(rest),
        Some("policy") => policy::run(rest),
        Some("reload") => admin_ops::run(admin_ops::Op::Reload, rest),
        Some("revoke-all") => admin_ops::run(admin_ops::Op::RevokeAll, rest),
        Some("drain") => admin_ops::run(admin_ops::Op::Drain, rest),
        Some("secrets") => secrets::run(rest),
        Some("actions") => actions::run(rest),
        Some("sandbox") => sandbox::run(rest),
        Some("gateway") => gateway::run(rest),
        Some("bridge") => bridge::run(rest),
        Some("doctor") => doctor::run(rest),
        Some("completions") => completions::run(rest),
        Some("version" | "--version" | "-V") => {
            println!("latchgate {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            Ok(0)
        }
        _ => Err(format!(
            "unknown command `{}`; commands: up, audit, verify, status, approvals, policy, reload, revoke-all, drain, actions, secrets, sandbox, gateway, bridge, doctor, completions, version, help",
            cmd.to_string_lossy()
        )),
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("latchgate: {msg}");
            2
        }
    }
}

/// Turns a lexopt error into our message style.
pub fn arg_error(e: lexopt::Error) -> String {
    e.to_string()
}

/// Reads a flag's value as UTF-8 text.
pub fn value_str(p: &mut lexopt::Parser, flag: &str) -> Result<String, String> {
    let v = p.value().map_err(arg_error)?;
    v.into_string()
        .map_err(|_| format!("{flag}: value is not valid UTF-8"))
}

/// Rejects an unexpected argument, naming it.
pub fn unexpected(arg: lexopt::Arg<'_>, command: &str) -> String {
    let shown = match arg {
        Short(c) => format!("-{c}"),
        Long(l) => format!("--{l}"),
        Value(v) => v.to_string_lossy().into_owned(),
    };
    format!("{command}: unexpected argument `{shown}` (see `latchgate {command} --help`)")
}

/// The ledger directory: `--ledger DIR`, else the configured data directory's.
pub fn ledger_dir(
    explicit: Option<std::path::PathBuf>,
    config: Option<&std::path::Path>,
) -> Result<std::path::PathBuf, String> {
    if let Some(d) = explicit {
        return Ok(d);
    }
    let cfg = crate::config::load(config).map_err(|e| e.to_string())?;
    Ok(cfg.ledger_dir())
}
