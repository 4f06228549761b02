//! `latchgate sandbox`: the agent process contained. The configuration is
//! resolved and validated into a [`SandboxSpec`]; [`launch`] runs it under
//! bwrap with sandbox-init (init/) as the first program inside.
//!
//! Sources, highest first: CLI flags, `--sandbox-config FILE`,
//! `[sandbox.agent]` in latchgate.toml, the profile, built-in defaults.
//! Scalars take the highest source that sets them; a list from a file
//! replaces the lower one and CLI list flags extend it; credential routes
//! merge by name. Unknown keys and every bad value are errors.

pub mod config;
pub mod discover;
pub mod environment;
pub mod events;
pub mod identity;
pub mod init_image;
pub mod launch;
pub mod layout;
pub mod platform;
pub mod profiles;
pub mod resolve;
pub mod routes;
pub mod session_dir;
pub mod validate;

pub use config::Layer;
pub use resolve::{resolve, Inputs};

use crate::json::Value;
use std::path::PathBuf;

/// Where a credential route's key is read on the host.
#[derive(Clone, Debug, PartialEq)]
pub enum KeySource {
    /// `env:VAR`: a host environment variable, read before the fork.
    Env(String),
    /// `file:/path`: a file (trailing newline removed).
    File(PathBuf),
    /// `secret:NAME`: a name in the gate's secret store.
    Secret(String),
}

impl KeySource {
    /// The configuration spelling (`env:VAR`, `file:/p`, `secret:NAME`).
    pub fn spelling(&self) -> String {
        match self {
            KeySource::Env(v) => format!("env:{v}"),
            KeySource::File(p) => format!("file:{}", p.display()),
            KeySource::Secret(n) => format!("secret:{n}"),
        }
    }
}

/// A credential-injecting reverse-proxy route.
#[derive(Clone, Debug, PartialEq)]
pub struct CredentialRoute {
    /// Route name; the agent gets `<NAME>_BASE_URL`.
    pub name: String,
    /// `https://` upstream base URL, no trailing `/`.
    pub upstream: String,
    /// Header the proxy injects.
    pub header: String,
    /// Header value format with one `{}`.
    pub format: String,
    /// Where the key comes from.
    pub key_source: KeySource,
}

impl CredentialRoute {
    /// The variable that tells the agent where this route is.
    pub fn base_url_var(&self) -> String {
        format!("{}_BASE_URL", self.name.to_ascii_uppercase())
    }
}

/// The resolved, validated sandbox plan.
#[derive(Clone, Debug, PartialEq)]
pub struct SandboxSpec {
    /// Canonical profile name, if one is used.
    pub profile: Option<String>,
    /// Host directory mounted read-write at `/workspace` (canonical).
    pub workspace: PathBuf,
    /// Hosts the egress proxy allows (HTTPS, port 443), lower-case, unique.
    pub allow_hosts: Vec<String>,
    /// Extra read-only mounts (absolute, unique).
    pub ro_mounts: Vec<PathBuf>,
    /// Host variables passed in (names, unique, none reserved).
    pub pass_env: Vec<String>,
    /// The gate's Unix socket on the host.
    pub gate_socket: PathBuf,
    /// Credential routes, by name.
    pub credentials: Vec<CredentialRoute>,
    /// The command run inside the sandbox (argv, non-empty).
    pub command: Vec<String>,
    /// The command is the profile's binary (no command was given): the
    /// launcher finds it on the host and mounts only its install directory.
    pub command_is_profile_binary: bool,
    /// Root-assisted mode's configured identity (`uid`, `gid` keys).
    pub run_as: Option<(u32, u32)>,
    /// The configuration files that contributed, for the operator.
    pub sources: Vec<String>,
}

impl SandboxSpec {
    /// The plan as JSON (`--print-config`).
    pub fn to_json(&self) -> Value {
        let strings = |v: &[String]| Value::Array(v.iter().map(Value::from).collect());
        let paths = |v: &[PathBuf]| {
            Value::Array(
                v.iter()
                    .map(|p| Value::from(p.to_string_lossy().into_owned()))
                    .collect(),
            )
        };
        let routes = self
            .credentials
            .iter()
            .map(|r| {
                crate::obj! {
                    "name" => r.name.as_str(),
                    "upstream" => r.upstream.as_str(),
                    "header" => r.header.as_str(),
                    "format" => r.format.as_str(),
                    "key_source" => r.key_source.spelling(),
                    "agent_variable" => r.base_url_var(),
                }
            })
            .collect();
        crate::obj! {
            "profile" => self.profile.clone(),
            "workspace" => self.workspace.to_string_lossy().into_owned(),
            "allow_hosts" => strings(&self.allow_hosts),
            "ro_mounts" => paths(&self.ro_mounts),
            "pass_env" => strings(&self.pass_env),
            "reserved_env" => Value::Array(validate::RESERVED_ENV.iter().map(|s| Value::from(*s)).collect()),
            "gate_socket" => self.gate_socket.to_string_lossy().into_owned(),
            "credentials" => Value::Array(routes),
            "command" => strings(&self.command),
            "run_as" => self.run_as.map(|(u, g)| crate::obj! { "uid" => u64::from(u), "gid" => u64::from(g) }),
            "sources" => strings(&self.sources),
        }
    }
}
