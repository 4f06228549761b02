//! `latchgate gateway`: flags, the `[gateway]` table, then the server.

use super::{arg_error, unexpected, value_str};
use crate::gateway::{self, config};
use lexopt::prelude::*;
use std::ffi::OsString;
use std::path::PathBuf;

const HELP: &str = "\
Usage: latchgate gateway --listen-unix PATH [--socket-mode OCTAL] [--config FILE]

The LLM credential gateway: agents (in containers, through `latchgate bridge`)
send plain HTTP to the Unix socket; the gateway checks the caller, injects the
real API key and forwards over TLS, streaming responses (SSE) as they arrive.
  --listen-unix PATH   the socket to serve (else gateway.listen_unix)
  --socket-mode OCTAL  its mode after bind (default 0660; else gateway.socket_mode)
  --config FILE        latchgate.toml with [gateway] and [egress] (else $LATCHGATE_CONFIG)

Providers: `anthropic` (https://api.anthropic.com, x-api-key from
$ANTHROPIC_API_KEY) is the default for requests without `X-Provider`;
`openai` (https://api.openai.com, Authorization: Bearer $OPENAI_API_KEY) and
any [gateway.providers.NAME] are chosen with `X-Provider: NAME`. Callers:
peer uids in gateway.allowed_uids (default: this process's uid), plus a
bearer token (gateway.token_file) or a signed token ([gateway.jwt]) in
Txn-Token, Authorization: Bearer or x-api-key when configured. Every request
is recorded in <data_dir>/gateway-ledger (`latchgate audit --ledger DIR`).
SIGTERM: stop accepting, finish requests in flight (30 s), exit 0.";

/// Runs `gateway`.
pub fn run(args: Vec<OsString>) -> Result<i32, String> {
    let mut p = lexopt::Parser::from_args(args);
    let mut listen: Option<PathBuf> = None;
    let mut mode: Option<u32> = None;
    let mut config_file: Option<PathBuf> = None;
    while let Some(arg) = p.next().map_err(arg_error)? {
        match arg {
            Long("listen-unix") => {
                let v = value_str(&mut p, "--listen-unix")?;
                if v.is_empty() {
                    return Err("--listen-unix: the value is empty; give a socket path".into());
                }
                listen = Some(PathBuf::from(v));
            }
            Long("socket-mode") => {
                let v = value_str(&mut p, "--socket-mode")?;
                mode = Some(config::parse_mode(&v).map_err(|e| format!("--socket-mode: {e}"))?);
            }
            Long("config") => config_file = Some(PathBuf::from(value_str(&mut p, "--config")?)),
            Short('h') | Long("help") => {
                println!("{HELP}");
                return Ok(0);
            }
            other => return Err(unexpected(other, "gateway")),
        }
    }
    let cfg = crate::config::load(config_file.as_deref()).map_err(|e| e.to_string())?;
    let mut gcfg = match &cfg.gateway {
        Some((origin, table)) => config::from_table(origin, table).map_err(|problems| {
            format!(
                "invalid [gateway] configuration:\n  - {}",
                problems.join("\n  - ")
            )
        })?,
        None => config::GatewayConfig::default(),
    };
    if let Some(m) = mode {
        gcfg.socket_mode = m;
    }
    let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
    let listen = match listen.or_else(|| gcfg.listen_unix.clone()) {
        Some(l) => cwd.join(l),
        None => {
            return Err(
                "--listen-unix: required (or set gateway.listen_unix), e.g. --listen-unix /run/gateway.sock"
                    .into(),
            )
        }
    };
    gateway::run(gateway::Options {
        cfg: gcfg,
        listen,
        data_dir: cfg.data_dir,
        egress: cfg.egress,
    })
}
