//! Configuration: `latchgate.toml` (or embedded defaults), validated strictly.
//!
//! Lookup: `--config FILE`, else `$LATCHGATE_CONFIG`, else
//! `$XDG_CONFIG_HOME/latchgate/latchgate.toml`, else the defaults below.
//! An unknown key or a bad value is an error naming the key, its line and
//! what is allowed: a typo must never silently weaken the gate.

pub mod fields;
pub mod load;
pub mod paths;

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
    /// Static host name -> IP address map (`[egress.hosts]`).
    pub hosts: Vec<(String, String)>,
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
    /// Optional TCP listener (`--expose-http`).
    pub listen_http_addr: Option<SocketAddr>,
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
}

impl Config {
    /// The ledger directory inside the data directory.
    pub fn ledger_dir(&self) -> PathBuf {
        self.data_dir.join("ledger")
    }
    /// Applies `--expose-http ADDR`: adds the TCP listener and makes
    /// `public_base_url` `http://ADDR`, as LatchGate v0.2 does.
    pub fn expose_http(&mut self, addr: SocketAddr) {
        self.listen_http_addr = Some(addr);
        self.public_base_url = format!("http://{addr}");
    }
}
