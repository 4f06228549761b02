//! `latchgate up [--config FILE] [--expose-http ADDR]`

use super::{arg_error, unexpected, value_str};
use lexopt::prelude::*;
use std::ffi::OsString;
use std::path::PathBuf;

const HELP: &str = "\
Usage: latchgate up [--config FILE] [--expose-http ADDR]

Runs the gate in the foreground on its Unix socket until SIGINT/SIGTERM.
  --config FILE        latchgate.toml (default: $LATCHGATE_CONFIG, then
                       $XDG_CONFIG_HOME/latchgate/latchgate.toml, then built-in defaults)
  --expose-http ADDR   also listen on TCP ADDR (e.g. 127.0.0.1:3000) and set
                       public_base_url to http://ADDR";

/// Runs `up`.
pub fn run(args: Vec<OsString>) -> Result<i32, String> {
    let mut p = lexopt::Parser::from_args(args);
    let mut config: Option<PathBuf> = None;
    let mut expose: Option<std::net::SocketAddr> = None;
    while let Some(arg) = p.next().map_err(arg_error)? {
        match arg {
            Long("config") => config = Some(PathBuf::from(value_str(&mut p, "--config")?)),
            Long("expose-http") => {
                let v = value_str(&mut p, "--expose-http")?;
                expose = Some(v.parse().map_err(|_| {
                    format!("--expose-http: `{v}` is not an address; expected IP:PORT such as 127.0.0.1:3000")
                })?);
            }
            Short('h') | Long("help") => {
                println!("{HELP}");
                return Ok(0);
            }
            other => return Err(unexpected(other, "up")),
        }
    }
    let mut cfg = crate::config::load(config.as_deref()).map_err(|e| e.to_string())?;
    if let Some(addr) = expose {
        cfg.expose_http(addr);
    }
    crate::gate::up::run(cfg).map(|()| 0)
}
