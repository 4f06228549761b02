//! How operator commands reach the gate: the operator socket from the
//! configuration (or `--admin-socket PATH`), or a TCP operator listener
//! (`--admin-url http://IP:PORT`) with its bearer token from
//! `$LATCHGATE_ADMIN_TOKEN` or `--token-file FILE`.

use super::{arg_error, value_str};
use crate::json::Value;
use crate::net::client::{self, Target};
use lexopt::prelude::*;
use std::path::PathBuf;
use std::time::Duration;

/// Flags every operator command accepts (documented in each command's help).
// (Not `"\` + newline: that would also eat the first line's indent.)
pub const FLAGS_HELP: &str = "  --config FILE        gate configuration (finds the operator socket)
  --admin-socket PATH  the operator socket (default: from the configuration)
  --admin-url URL      a TCP operator listener, e.g. http://127.0.0.1:3001
  --token-file FILE    its bearer token (else $LATCHGATE_ADMIN_TOKEN)";

/// Where and how to reach the operator API.
#[derive(Default)]
pub struct Endpoint {
    config: Option<PathBuf>,
    socket: Option<PathBuf>,
    url: Option<String>,
    token_file: Option<PathBuf>,
}

impl Endpoint {
    /// The long flags `take` understands.
    pub const FLAGS: &'static [&'static str] =
        &["config", "admin-socket", "admin-url", "token-file"];

    /// Consumes the value of shared flag `name` (one of `FLAGS`).
    pub fn take(&mut self, name: &str, p: &mut lexopt::Parser) -> Result<(), String> {
        match name {
            "config" => self.config = Some(PathBuf::from(value_str(p, "--config")?)),
            "admin-socket" => self.socket = Some(PathBuf::from(value_str(p, "--admin-socket")?)),
            "admin-url" => {
                let u = value_str(p, "--admin-url")?;
                let addr = u
                    .strip_prefix("http://")
                    .unwrap_or(&u)
                    .trim_end_matches('/');
                if addr.parse::<std::net::SocketAddr>().is_err() {
                    return Err(format!(
                        "--admin-url: `{u}` is not http://IP:PORT such as http://127.0.0.1:3001"
                    ));
                }
                self.url = Some(addr.to_string());
            }
            _ => self.token_file = Some(PathBuf::from(value_str(p, "--token-file")?)),
        }
        Ok(())
    }

    /// Sends one request; returns the status and the parsed JSON body.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let body_text = body.map(Value::to_json).unwrap_or_default();
        let mut headers: Vec<(&str, String)> = vec![("Accept", "application/json".into())];
        if body.is_some() {
            headers.push(("Content-Type", "application/json".into()));
        }
        let timeout = Duration::from_secs(120);
        let (resp, place) = if let Some(addr) = &self.url {
            let token = self.token()?;
            headers.push(("Authorization", format!("Bearer {token}")));
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = client::request(
                &Target::Tcp(addr),
                method,
                path,
                &h,
                body_text.as_bytes(),
                timeout,
            );
            (r, format!("http://{addr}"))
        } else {
            let socket = match &self.socket {
                Some(s) => s.clone(),
                None => {
                    crate::config::load(self.config.as_deref())
                        .map_err(|e| e.to_string())?
                        .listen_admin_uds_path
                }
            };
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = client::request(
                &Target::Unix(&socket),
                method,
                path,
                &h,
                body_text.as_bytes(),
                timeout,
            );
            (r, socket.display().to_string())
        };
        let resp = resp.map_err(|e| {
            format!(
                "cannot reach the gate's operator API at {place}: {e} (is `latchgate up` running?)"
            )
        })?;
        let value = if resp.body.is_empty() {
            Value::Null
        } else {
            crate::json::parse(&resp.body).map_err(|e| {
                format!(
                    "the gate answered {} with a body that is not JSON: {e}",
                    resp.status
                )
            })?
        };
        Ok((resp.status, value))
    }

    fn token(&self) -> Result<String, String> {
        if let Some(f) = &self.token_file {
            let t = std::fs::read_to_string(f)
                .map_err(|e| format!("--token-file {}: {e}", f.display()))?;
            return Ok(t.trim().to_string());
        }
        std::env::var("LATCHGATE_ADMIN_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .map(|t| t.trim().to_string())
            .ok_or_else(|| {
                "--admin-url needs a token: --token-file FILE or $LATCHGATE_ADMIN_TOKEN".into()
            })
    }
}

/// The `error` and `message`/`deny_reason` of an error body, for humans.
pub fn error_text(status: u16, body: &Value) -> String {
    let s = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
    let detail = [s("message"), s("deny_reason")]
        .into_iter()
        .filter(|d| !d.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if detail.is_empty() {
        format!("{status} {}", s("error"))
    } else {
        format!("{status} {}: {detail}", s("error"))
    }
}

/// Used by commands that take no flags of their own.
pub fn parse_only_endpoint(
    args: Vec<std::ffi::OsString>,
    command: &str,
    help: &str,
) -> Result<Option<(Endpoint, bool)>, String> {
    let mut p = lexopt::Parser::from_args(args);
    let mut ep = Endpoint::default();
    let mut json = false;
    while let Some(arg) = p.next().map_err(arg_error)? {
        if let Long(name) = arg {
            if Endpoint::FLAGS.contains(&name) {
                let name = name.to_string();
                ep.take(&name, &mut p)?;
                continue;
            }
        }
        match arg {
            Long("json") => json = true,
            Short('h') | Long("help") => {
                println!("{help}");
                return Ok(None);
            }
            other => return Err(super::unexpected(other, command)),
        }
    }
    Ok(Some((ep, json)))
}
