//! `latchgate-mcp serve` options and environment.
//!
//! Transport, first match wins: `--gate-url URL` (TCP), `--gate-socket
//! PATH`, `$LATCHGATE_URL` (`unix:///path` or `http://…`, as the sandbox
//! sets it), `$LATCHGATE_SOCKET`, then the default socket
//! (`crate::config::paths::default_socket`).
//!
//! The DPoP `htu` base, first match wins: `--public-base-url` /
//! `$LATCHGATE_PUBLIC_URL`; the `public_base_url` the gate advertises in
//! `GET /v1/tools` (so a gate started with `--expose-http 127.0.0.1:3000`
//! works with `--gate-url http://localhost:3000`); the gate URL for TCP;
//! `http://localhost:3000`, the gate's default. (LatchGate v0.2 required
//! the flag with a socket; defaulting it costs nothing and is logged.)

use super::transport::{parse_env_url, parse_http_url, Endpoint};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// The gate's default `public_base_url`.
pub const DEFAULT_PUBLIC_BASE_URL: &str = "http://localhost:3000";
/// Default `--approval-timeout`, seconds (the gate keeps an approval 300 s).
pub const DEFAULT_APPROVAL_TIMEOUT_SECS: u64 = 300;
/// Default `--catalog-interval`, seconds.
pub const DEFAULT_CATALOG_INTERVAL_SECS: u64 = 10;
/// Largest accepted value of either duration flag (one day).
const MAX_SECS: u64 = 86_400;

/// Usage text of `serve`.
pub const USAGE: &str = "\
usage: latchgate-mcp serve [options]

Serves the gate's actions as MCP tools over stdio (JSON-RPC 2.0, one
message per line). Logs go to stderr at RUST_LOG level (default warn).

options:
  --gate-socket PATH        the gate's Unix socket (default: $LATCHGATE_URL,
                            $LATCHGATE_SOCKET, else the default socket)
  --gate-url URL            the gate over TCP, http://host:port
  --public-base-url URL     the gate's public_base_url, the DPoP htu base
                            (env LATCHGATE_PUBLIC_URL; default: what the gate
                            advertises, else the gate URL, else
                            http://localhost:3000)
  --agent-id ID             names this agent in logs and requests
                            (env LATCHGATE_AGENT_ID, default latchgate-mcp)
  --approval-timeout SECS   how long a call waits for an operator's
                            approval (default 300)
  --catalog-interval SECS   how often the action set is checked for changes
                            (default 10)
  -h, --help                this text
";

/// Everything `serve` needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeConfig {
    /// Where the gate listens.
    pub endpoint: Endpoint,
    /// The `htu` base given by flag or environment (wins over everything).
    pub explicit_base: Option<String>,
    /// The `htu` base when neither the flag nor the gate names one.
    pub fallback_base: String,
    /// The agent's name.
    pub agent_id: String,
    /// How long a held call waits for a decision.
    pub approval_timeout: Duration,
    /// How often the catalog digest is checked.
    pub catalog_interval: Duration,
}

/// The outcome of parsing.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// `--help`.
    Help,
    /// Run with this configuration.
    Run(ServeConfig),
}

fn secs(flag: &str, value: &str) -> Result<Duration, String> {
    match value.parse::<u64>() {
        Ok(n) if (1..=MAX_SECS).contains(&n) => Ok(Duration::from_secs(n)),
        _ => Err(format!(
            "{flag} {value:?}: expected whole seconds in 1..={MAX_SECS}"
        )),
    }
}

fn check_base(what: &str, url: &str) -> Result<String, String> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) || url.len() <= 8 {
        return Err(format!("{what} {url:?} must be an http:// or https:// URL"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

fn text(v: OsString, flag: &str) -> Result<String, String> {
    v.into_string()
        .map_err(|_| format!("{flag}: the value is not valid UTF-8"))
}

/// Parses `serve`'s arguments; `env` reads an environment variable
/// (empty values count as unset).
pub fn parse(args: Vec<OsString>, env: &dyn Fn(&str) -> Option<String>) -> Result<Parsed, String> {
    use lexopt::prelude::*;
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    let mut socket: Option<PathBuf> = None;
    let mut url: Option<String> = None;
    let mut base: Option<String> = None;
    let mut agent: Option<String> = None;
    let mut approval_timeout = Duration::from_secs(DEFAULT_APPROVAL_TIMEOUT_SECS);
    let mut catalog_interval = Duration::from_secs(DEFAULT_CATALOG_INTERVAL_SECS);
    let mut p = lexopt::Parser::from_args(args);
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') | Long("help") => return Ok(Parsed::Help),
            Long("gate-socket") => {
                socket = Some(PathBuf::from(p.value().map_err(|e| e.to_string())?))
            }
            Long("gate-url") => {
                url = Some(text(p.value().map_err(|e| e.to_string())?, "--gate-url")?)
            }
            Long("public-base-url") => {
                base = Some(text(
                    p.value().map_err(|e| e.to_string())?,
                    "--public-base-url",
                )?)
            }
            Long("agent-id") => {
                agent = Some(text(p.value().map_err(|e| e.to_string())?, "--agent-id")?)
            }
            Long("approval-timeout") => {
                let v = text(p.value().map_err(|e| e.to_string())?, "--approval-timeout")?;
                approval_timeout = secs("--approval-timeout", &v)?;
            }
            Long("catalog-interval") => {
                let v = text(p.value().map_err(|e| e.to_string())?, "--catalog-interval")?;
                catalog_interval = secs("--catalog-interval", &v)?;
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    if socket.is_some() && url.is_some() {
        return Err("--gate-socket and --gate-url cannot be combined".into());
    }
    let (endpoint, url_base) = if let Some(u) = url {
        let u = parse_http_url(&u)?;
        (Endpoint::Tcp(u.host_port), Some(u.base))
    } else if let Some(s) = socket {
        (Endpoint::Unix(s), None)
    } else if let Some(v) = env("LATCHGATE_URL") {
        parse_env_url(&v)?
    } else if let Some(s) = env("LATCHGATE_SOCKET") {
        (Endpoint::Unix(PathBuf::from(s)), None)
    } else {
        (Endpoint::Unix(crate::config::paths::default_socket()), None)
    };
    let explicit_base = match base {
        Some(b) => Some(check_base("--public-base-url", &b)?),
        None => match env("LATCHGATE_PUBLIC_URL") {
            Some(b) => Some(check_base("LATCHGATE_PUBLIC_URL", &b)?),
            None => None,
        },
    };
    let agent_id = agent
        .or_else(|| env("LATCHGATE_AGENT_ID"))
        .unwrap_or_else(|| "latchgate-mcp".to_string());
    if agent_id.len() > 128 || agent_id.chars().any(char::is_control) {
        return Err(
            "the agent id must be at most 128 characters, without control characters".into(),
        );
    }
    Ok(Parsed::Run(ServeConfig {
        endpoint,
        explicit_base,
        fallback_base: url_base.unwrap_or_else(|| DEFAULT_PUBLIC_BASE_URL.to_string()),
        agent_id,
        approval_timeout,
        catalog_interval,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], vars: &[(&str, &str)]) -> Result<ServeConfig, String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        match parse(args.iter().map(OsString::from).collect(), &env)? {
            Parsed::Run(c) => Ok(c),
            Parsed::Help => Err("help".into()),
        }
    }

    #[test]
    fn defaults_to_the_default_socket() {
        let c = run(&[], &[]).unwrap();
        assert_eq!(
            c.endpoint,
            Endpoint::Unix(crate::config::paths::default_socket())
        );
        assert_eq!(c.explicit_base, None);
        assert_eq!(c.fallback_base, DEFAULT_PUBLIC_BASE_URL);
        assert_eq!(c.agent_id, "latchgate-mcp");
        assert_eq!(c.approval_timeout, Duration::from_secs(300));
        assert_eq!(c.catalog_interval, Duration::from_secs(10));
    }

    #[test]
    fn flags_win_over_environment_in_order() {
        let env = [
            ("LATCHGATE_URL", "unix:///run/latchgate/gate.sock"),
            ("LATCHGATE_SOCKET", "/env/sock"),
            ("LATCHGATE_AGENT_ID", "claude-code"),
            ("LATCHGATE_PUBLIC_URL", "http://gate.example/"),
        ];
        let c = run(&["--gate-url", "http://127.0.0.1:3000"], &env).unwrap();
        assert_eq!(c.endpoint, Endpoint::Tcp("127.0.0.1:3000".into()));
        assert_eq!(c.fallback_base, "http://127.0.0.1:3000");
        assert_eq!(c.explicit_base.as_deref(), Some("http://gate.example"));
        assert_eq!(c.agent_id, "claude-code");
        let c = run(&["--gate-socket", "/s", "--agent-id", "me"], &env).unwrap();
        assert_eq!(c.endpoint, Endpoint::Unix("/s".into()));
        assert_eq!(c.agent_id, "me");
        let c = run(&[], &env).unwrap();
        assert_eq!(
            c.endpoint,
            Endpoint::Unix("/run/latchgate/gate.sock".into())
        );
        let c = run(&[], &env[1..]).unwrap();
        assert_eq!(c.endpoint, Endpoint::Unix("/env/sock".into()));
        let c = run(&["--public-base-url", "http://x:1"], &env).unwrap();
        assert_eq!(c.explicit_base.as_deref(), Some("http://x:1"));
    }

    #[test]
    fn refuses_bad_arguments() {
        for args in [
            &["--gate-url", "http://a:1", "--gate-socket", "/s"][..],
            &["--gate-url", "https://a:1"],
            &["--public-base-url", "localhost:3000"],
            &["--approval-timeout", "0"],
            &["--approval-timeout", "x"],
            &["--catalog-interval", "100000"],
            &["--bogus"],
            &["extra"],
            &["--gate-url"],
        ] {
            assert!(run(args, &[]).is_err(), "{args:?}");
        }
        assert_eq!(run(&["--help"], &[]).unwrap_err(), "help");
        assert!(run(&[], &[("LATCHGATE_URL", "gopher://x")]).is_err());
    }
}
