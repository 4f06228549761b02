//! The server entry: which binary the IDE starts, how it reaches the gate,
//! and the environment it gets.

use super::targets::Shape;
use crate::json::{Map, Value};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// The gate's public base URL when nothing else says (the gate's default).
pub const DEFAULT_PUBLIC_URL: &str = "http://localhost:3000";

/// What the entry runs: `command args...` with `env` added.
#[derive(Clone, Debug, PartialEq)]
pub struct Server {
    /// Absolute path of `latchgate-mcp` (or what `--binary-path` said).
    pub command: String,
    /// `serve` and its transport flags.
    pub args: Vec<String>,
    /// `LATCHGATE_AGENT_ID` and `RUST_LOG`, in that order.
    pub env: Vec<(String, String)>,
}

/// How `serve` will reach the gate.
#[derive(Clone, Debug, PartialEq)]
pub enum Gate {
    /// TCP: `--gate-url URL`.
    Tcp {
        /// `http://host:port`.
        url: String,
    },
    /// The gate's Unix socket: `--gate-socket PATH`.
    Socket {
        /// Absolute socket path.
        path: PathBuf,
    },
}

/// The transport and DPoP base URL chosen for the entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    /// Where the gate listens.
    pub gate: Gate,
    /// `--public-base-url` to pass, when one is needed.
    pub public_base_url: Option<String>,
    /// Where the choice came from, for the summary.
    pub origin: String,
}

/// The parts of the gate's configuration that matter here.
#[derive(Clone, Debug, PartialEq)]
pub struct GateConfig {
    /// "embedded defaults" or the config file's path.
    pub source: String,
    /// `listen_http_addr`, when the gate also listens on TCP.
    pub listen_http_addr: Option<SocketAddr>,
    /// `listen_uds_path`.
    pub listen_uds_path: PathBuf,
    /// `public_base_url`.
    pub public_base_url: String,
}

impl GateConfig {
    /// Loads the gate's configuration the way `latchgate up` would find it.
    pub fn load() -> Result<GateConfig, String> {
        let cfg = crate::config::load(None).map_err(|e| e.to_string())?;
        Ok(GateConfig {
            source: cfg.source,
            listen_http_addr: cfg.listen_http_addr,
            listen_uds_path: cfg.listen_uds_path,
            public_base_url: cfg.public_base_url,
        })
    }

    /// What the gate uses with no configuration file at all.
    pub fn defaults() -> GateConfig {
        GateConfig {
            source: "embedded defaults".into(),
            listen_http_addr: None,
            listen_uds_path: crate::config::paths::default_socket(),
            public_base_url: DEFAULT_PUBLIC_URL.into(),
        }
    }
}

/// The transport flags the user gave (already validated).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Flags {
    /// `--gate-url`.
    pub gate_url: Option<String>,
    /// `--gate-socket` (made absolute).
    pub gate_socket: Option<PathBuf>,
    /// `--public-base-url`.
    pub public_base_url: Option<String>,
}

/// Chooses the transport: `--gate-url`, else `--gate-socket`, else the
/// gate's config (`listen_http_addr` means TCP, as in v0.2; otherwise its
/// socket), with `--public-base-url` overriding the config's base URL.
pub fn endpoint(flags: &Flags, cfg: &GateConfig) -> Endpoint {
    let public = flags
        .public_base_url
        .clone()
        .unwrap_or_else(|| cfg.public_base_url.clone());
    if let Some(url) = &flags.gate_url {
        return Endpoint {
            gate: Gate::Tcp { url: url.clone() },
            // With TCP the base URL defaults to the gate URL itself.
            public_base_url: flags.public_base_url.clone().filter(|p| p != url),
            origin: "--gate-url on the command line".into(),
        };
    }
    if let Some(path) = &flags.gate_socket {
        return Endpoint {
            gate: Gate::Socket { path: path.clone() },
            public_base_url: Some(public),
            origin: "--gate-socket on the command line".into(),
        };
    }
    if let Some(addr) = cfg.listen_http_addr {
        let url = format!("http://{}", connectable(addr));
        return Endpoint {
            public_base_url: Some(public).filter(|p| *p != url),
            gate: Gate::Tcp { url },
            origin: format!(
                "the gate's TCP listener, from listen_http_addr in {}",
                cfg.source
            ),
        };
    }
    Endpoint {
        gate: Gate::Socket {
            path: cfg.listen_uds_path.clone(),
        },
        public_base_url: Some(public),
        origin: format!("the gate's socket, from {}", cfg.source),
    }
}

/// A listen address a client can connect to: the wildcard becomes loopback.
fn connectable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

/// Builds the entry for `agent_id`.
pub fn server(command: String, ep: &Endpoint, agent_id: &str) -> Result<Server, String> {
    let mut args = vec!["serve".to_string()];
    match &ep.gate {
        Gate::Tcp { url } => {
            args.push("--gate-url".into());
            args.push(url.clone());
        }
        Gate::Socket { path } => {
            args.push("--gate-socket".into());
            args.push(utf8(path, "the gate socket path")?);
        }
    }
    if let Some(p) = &ep.public_base_url {
        args.push("--public-base-url".into());
        args.push(p.clone());
    }
    Ok(Server {
        command,
        args,
        env: vec![
            ("LATCHGATE_AGENT_ID".into(), agent_id.into()),
            ("RUST_LOG".into(), "warn".into()),
        ],
    })
}

/// The binary the IDE runs: `--binary-path` (made absolute when it is a
/// relative path; a bare name is left for the IDE's PATH lookup), else this
/// executable, canonicalised.
pub fn binary(flag: Option<&Path>, cwd: &Path) -> Result<String, String> {
    let path = match flag {
        Some(p) if p.is_absolute() || p.components().count() == 1 => p.to_path_buf(),
        Some(p) => cwd.join(p),
        None => {
            let exe = std::env::current_exe().map_err(|e| {
                format!("cannot find this executable's path: {e}; pass --binary-path")
            })?;
            std::fs::canonicalize(&exe).unwrap_or(exe)
        }
    };
    utf8(&path, "the binary path")
}

/// Config files hold text: a path that is not UTF-8 cannot go in them.
fn utf8(path: &Path, what: &str) -> Result<String, String> {
    path.to_str().map(str::to_string).ok_or_else(|| {
        format!(
            "{what} {} is not valid UTF-8 and cannot be written to a config file",
            path.display()
        )
    })
}

/// Checks a URL flag: `http://` (or `https://` when `https_ok`), a host,
/// no spaces, query or fragment. Returns it without a trailing `/`.
pub fn check_url(flag: &str, value: &str, https_ok: bool) -> Result<String, String> {
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://").filter(|_| https_ok));
    let expected = if https_ok {
        "http://HOST[:PORT] or https://..."
    } else {
        "http://HOST:PORT"
    };
    let bad = |why: &str| format!("{flag}: `{value}` {why}; expected {expected}");
    let Some(rest) = rest else {
        return Err(bad("is not a supported URL"));
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(bad("has no host"));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("contains spaces or control characters"));
    }
    if value.contains(['?', '#']) {
        return Err(bad("has a query or fragment"));
    }
    Ok(value.trim_end_matches('/').to_string())
}

/// The entry as JSON, in the shape the IDE expects.
pub fn json_entry(shape: Shape, s: &Server) -> Value {
    let mut env = Map::new();
    for (k, v) in &s.env {
        env.insert(k.as_str(), v.as_str());
    }
    let args: Vec<Value> = s.args.iter().map(Value::from).collect();
    let mut m = Map::new();
    match shape {
        Shape::Stdio { typed } => {
            if typed {
                m.insert("type", "stdio");
            }
            m.insert("command", s.command.as_str());
            m.insert("args", args);
            m.insert("env", env);
        }
        Shape::OpenCode => {
            let mut command = vec![Value::from(s.command.as_str())];
            command.extend(args);
            m.insert("type", "local");
            m.insert("command", command);
            m.insert("environment", env);
            m.insert("enabled", true);
        }
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> GateConfig {
        GateConfig {
            source: "/etc/lg.toml".into(),
            listen_http_addr: None,
            listen_uds_path: PathBuf::from("/run/lg/gate.sock"),
            public_base_url: "http://gate.example:3000".into(),
        }
    }

    fn args(flags: &Flags, cfg: &GateConfig) -> Vec<String> {
        server("/bin/lm".into(), &endpoint(flags, cfg), "x")
            .unwrap()
            .args
    }

    #[test]
    fn gate_url_wins_and_needs_no_base_url() {
        let f = Flags {
            gate_url: Some("http://127.0.0.1:3000".into()),
            gate_socket: Some(PathBuf::from("/s")),
            public_base_url: None,
        };
        assert_eq!(
            args(&f, &cfg()),
            ["serve", "--gate-url", "http://127.0.0.1:3000"]
        );
        let f = Flags {
            public_base_url: Some("http://localhost:3000".into()),
            ..f
        };
        assert_eq!(
            args(&f, &cfg()),
            [
                "serve",
                "--gate-url",
                "http://127.0.0.1:3000",
                "--public-base-url",
                "http://localhost:3000"
            ]
        );
    }

    #[test]
    fn socket_takes_base_url_from_flag_then_config() {
        let f = Flags {
            gate_socket: Some(PathBuf::from("/s.sock")),
            ..Flags::default()
        };
        assert_eq!(
            args(&f, &cfg()),
            [
                "serve",
                "--gate-socket",
                "/s.sock",
                "--public-base-url",
                "http://gate.example:3000"
            ]
        );
        let f = Flags {
            public_base_url: Some("http://p".into()),
            ..f
        };
        assert_eq!(args(&f, &cfg())[4], "http://p");
    }

    #[test]
    fn config_decides_when_no_flags() {
        assert_eq!(
            args(&Flags::default(), &cfg()),
            [
                "serve",
                "--gate-socket",
                "/run/lg/gate.sock",
                "--public-base-url",
                "http://gate.example:3000"
            ]
        );
        let mut c = cfg();
        c.listen_http_addr = Some("0.0.0.0:3000".parse().unwrap());
        assert_eq!(
            args(&Flags::default(), &c),
            [
                "serve",
                "--gate-url",
                "http://127.0.0.1:3000",
                "--public-base-url",
                "http://gate.example:3000"
            ]
        );
        c.public_base_url = "http://127.0.0.1:3000".into();
        assert_eq!(
            args(&Flags::default(), &c),
            ["serve", "--gate-url", "http://127.0.0.1:3000"]
        );
        c.listen_http_addr = Some("[::]:80".parse().unwrap());
        assert_eq!(args(&Flags::default(), &c)[2], "http://[::1]:80");
    }

    #[test]
    fn url_checks() {
        assert_eq!(
            check_url("--gate-url", "http://h:1/", false).unwrap(),
            "http://h:1"
        );
        assert!(check_url("--gate-url", "https://h", false).is_err());
        assert!(check_url("--public-base-url", "https://h", true).is_ok());
        assert!(check_url("--gate-url", "h:1", false).is_err());
        assert!(check_url("--gate-url", "http://", false).is_err());
        assert!(check_url("--gate-url", "http://h x", false).is_err());
        assert!(check_url("--gate-url", "http://h/?a", false).is_err());
    }

    #[test]
    fn entry_shapes() {
        let s = Server {
            command: "/b".into(),
            args: vec!["serve".into()],
            env: vec![("A".into(), "1".into())],
        };
        assert_eq!(
            json_entry(Shape::Stdio { typed: true }, &s).to_json(),
            r#"{"type":"stdio","command":"/b","args":["serve"],"env":{"A":"1"}}"#
        );
        assert_eq!(
            json_entry(Shape::Stdio { typed: false }, &s).to_json(),
            r#"{"command":"/b","args":["serve"],"env":{"A":"1"}}"#
        );
        assert_eq!(
            json_entry(Shape::OpenCode, &s).to_json(),
            r#"{"type":"local","command":["/b","serve"],"environment":{"A":"1"},"enabled":true}"#
        );
    }

    #[test]
    fn binary_paths() {
        let cwd = Path::new("/w");
        assert_eq!(binary(Some(Path::new("/opt/lm")), cwd).unwrap(), "/opt/lm");
        assert_eq!(binary(Some(Path::new("bin/lm")), cwd).unwrap(), "/w/bin/lm");
        assert_eq!(
            binary(Some(Path::new("latchgate-mcp")), cwd).unwrap(),
            "latchgate-mcp"
        );
        assert!(binary(None, cwd).unwrap().starts_with('/'));
    }
}
