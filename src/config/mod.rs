//! Configuration: `latchgate.toml` (or embedded defaults), validated strictly.
//!
//! Lookup: `--config FILE`, else `$LATCHGATE_CONFIG`, else
//! `$XDG_CONFIG_HOME/latchgate/latchgate.toml`, else the defaults below.
//! An unknown key or a bad value is an error naming the key, its line and
//! what is allowed: a typo must never silently weaken the gate.

pub mod fields;
pub mod load;
pub mod paths;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

pub use load::{load, load_from_str, ConfigError};

/// Outbound HTTP settings (`[egress]`).
#[derive(Clone, Debug, Default)]
pub struct EgressSettings {
    /// Extra PEM CA bundle trusted in addition to the Mozilla roots.
    pub ca_file: Option<PathBuf>,
    /// CIDRs that may be reached even though they are private/loopback.
    pub allow_private: Vec<String>,
    /// Static host name -> `"IP"` or `"IP:PORT"` map (`[egress.hosts]`;
    /// IPv6 with a port as `"[::1]:8443"`). A port replaces the URL's.
    pub hosts: Vec<(String, String)>,
}

/// Where a secret's value comes from (`[secrets] NAME = "env:VAR"`).
#[derive(Clone, Debug, PartialEq)]
pub enum SecretSource {
    /// An environment variable of the gate process.
    Env(String),
    /// A file (trailing newline removed).
    File(PathBuf),
}

/// Who is calling, for leases (`[identity]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityProvider {
    /// Everyone is `dev:anonymous` (the default; development).
    None,
    /// The Unix socket peer's uid, mapped through
    /// `[identity.peercred.principals."<uid>"]`.
    Peercred,
}

/// What a mapped uid becomes.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerPrincipal {
    /// The lease subject.
    pub principal: String,
    /// The scopes this uid may hold (a lease gets the intersection).
    pub scopes: Vec<String>,
    /// Optional owner named in leases and approvals.
    pub owner: Option<String>,
}

/// The `[identity]` table.
#[derive(Clone, Debug)]
pub struct IdentitySettings {
    /// Which provider decides the principal.
    pub provider: IdentityProvider,
    /// peercred: an unmapped uid gets principal `uid:<n>` and the scopes
    /// it asks for, instead of 403 `identity_forbidden`.
    pub allow_unmapped: bool,
    /// peercred: uid -> principal.
    pub principals: BTreeMap<u32, PeerPrincipal>,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        IdentitySettings {
            provider: IdentityProvider::None,
            allow_unmapped: false,
            principals: BTreeMap::new(),
        }
    }
}

/// The validated gate configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the config came from ("embedded defaults" or a path), for the banner.
    pub source: String,
    /// Directory of the config file, if any (manifests/ lives beside it).
    pub config_dir: Option<PathBuf>,
    /// Keys, ledger and state.
    pub data_dir: PathBuf,
    /// The client Unix socket.
    pub listen_uds_path: PathBuf,
    /// Mode of the client socket: 0o600 (default), 0o660 or 0o666 (with
    /// peercred identity, other users' agents may connect).
    pub listen_uds_mode: u32,
    /// Optional TCP listener (`--expose-http`).
    pub listen_http_addr: Option<SocketAddr>,
    /// The operator socket (0600; served only to our own uid and root).
    pub listen_admin_uds_path: PathBuf,
    /// Optional TCP operator listener; needs `admin_token_file`.
    pub listen_admin_http_addr: Option<SocketAddr>,
    /// File holding the bearer token for the TCP operator listener.
    pub admin_token_file: Option<PathBuf>,
    /// Operator providers: every `*.wasm` here is loaded and addressed by its
    /// `sha256:` digest (`None`: `providers/` beside the config if it exists).
    pub providers_dir: Option<PathBuf>,
    /// The policy file (`None`: `policy.toml` beside the config if it
    /// exists, else the embedded default).
    pub policy_file: Option<PathBuf>,
    /// How long a held call waits for an operator, seconds.
    pub approval_ttl_seconds: u64,
    /// Most unexpired pending approvals at once.
    pub max_pending_approvals: usize,
    /// Who is calling.
    pub identity: IdentitySettings,
    /// Secret sources from `[secrets]` (the store needs no entry here).
    pub secrets: Vec<(String, SecretSource)>,
    /// Base URL DPoP `htu` claims are checked against.
    pub public_base_url: String,
    /// Extra manifests (`*.toml`), overriding embedded ones by id.
    pub manifests_dir: Option<PathBuf>,
    /// Lease lifetime, seconds (1..=3600).
    pub lease_ttl_seconds: u64,
    /// Request body limit, bytes.
    pub max_body_bytes: usize,
    /// Connections served at once per listener set.
    pub max_connections: usize,
    /// WASM runs at once.
    pub max_concurrent_runs: usize,
    /// Directories under which a lease's `fs_root` may lie.
    pub fs_root_allowed_prefixes: Vec<PathBuf>,
    /// Outbound HTTP.
    pub egress: EgressSettings,
    /// The raw `[sandbox]` table and the file it came from; the gate ignores
    /// it and `latchgate sandbox` validates it (src/sandbox/).
    pub sandbox: Option<(String, crate::toml::Table)>,
    /// The raw `[gateway]` table and the file it came from, validated by
    /// `latchgate gateway` (src/gateway/config.rs).
    pub gateway: Option<(String, crate::toml::Table)>,
}

impl Config {
    /// The ledger directory inside the data directory.
    pub fn ledger_dir(&self) -> PathBuf {
        self.data_dir.join("ledger")
    }
    /// The policy file in effect: explicit, else `policy.toml` beside the
    /// config file when it exists, else none (embedded default).
    pub fn policy_path(&self) -> Option<PathBuf> {
        self.policy_file.clone().or_else(|| {
            self.config_dir
                .as_ref()
                .map(|d| d.join("policy.toml"))
                .filter(|p| p.is_file())
        })
    }
    /// The operator providers directory in effect: explicit, else
    /// `providers/` beside the config file when it exists.
    pub fn providers_path(&self) -> Option<PathBuf> {
        self.providers_dir.clone().or_else(|| {
            self.config_dir
                .as_ref()
                .map(|d| d.join("providers"))
                .filter(|d| d.is_dir())
        })
    }
    /// The manifests directory in effect: explicit, else `manifests/`
    /// beside the config file when it exists.
    pub fn manifests_path(&self) -> Option<PathBuf> {
        self.manifests_dir.clone().or_else(|| {
            self.config_dir
                .as_ref()
                .map(|d| d.join("manifests"))
                .filter(|d| d.is_dir())
        })
    }
    /// Applies `--expose-http ADDR`: adds the TCP listener and makes
    /// `public_base_url` `http://ADDR`, as LatchGate v0.2 does.
    pub fn expose_http(&mut self, addr: SocketAddr) {
        self.listen_http_addr = Some(addr);
        self.public_base_url = format!("http://{addr}");
    }
}
