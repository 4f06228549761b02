//! Reading and validating `latchgate.toml`.

use super::fields::Fields as Ctx;
use super::{
    paths, Config, EgressSettings, IdentityProvider, IdentitySettings, PeerPrincipal, SecretSource,
};
use crate::toml::Item;
use std::path::{Path, PathBuf};

/// A configuration error, already worded for the operator.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

const TOP_KEYS: &[&str] = &[
    "data_dir",
    "listen_uds_path",
    "listen_uds_mode",
    "listen_http_addr",
    "listen_admin_uds_path",
    "listen_admin_http_addr",
    "admin_token_file",
    "policy_file",
    "providers_dir",
    "approval_ttl_seconds",
    "max_pending_approvals",
    "identity",
    "secrets",
    "public_base_url",
    "manifests_dir",
    "lease_ttl_seconds",
    "max_body_bytes",
    "max_connections",
    "max_concurrent_runs",
    "fs_root_allowed_prefixes",
    "egress",
    "sandbox",
    "gateway",
];
const EGRESS_KEYS: &[&str] = &["ca_file", "allow_private", "hosts"];

/// Finds and loads the configuration: `explicit` (from `--config`), else
/// `$LATCHGATE_CONFIG`, else the XDG file, else embedded defaults.
pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
    let from_env = std::env::var_os("LATCHGATE_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let chosen = explicit
        .map(Path::to_path_buf)
        .or(from_env)
        .or_else(paths::default_config_file);
    match chosen {
        None => load_from_str("", "embedded defaults", None),
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ConfigError(format!("cannot read config file {}: {e}", path.display()))
            })?;
            let dir = path.parent().map(Path::to_path_buf);
            load_from_str(&text, &path.display().to_string(), dir)
        }
    }
}

/// Parses and validates config text; `origin` names it in errors.
pub fn load_from_str(
    text: &str,
    origin: &str,
    config_dir: Option<PathBuf>,
) -> Result<Config, ConfigError> {
    let root = crate::toml::parse(text).map_err(|e| ConfigError(format!("{origin}: {e}")))?;
    let ctx = Ctx { origin };
    let mut cfg = Config {
        source: origin.to_string(),
        config_dir: config_dir.clone(),
        data_dir: PathBuf::new(),
        listen_uds_path: paths::default_socket(),
        listen_uds_mode: 0o600,
        listen_http_addr: None,
        listen_admin_uds_path: PathBuf::new(),
        listen_admin_http_addr: None,
        admin_token_file: None,
        policy_file: None,
        providers_dir: None,
        approval_ttl_seconds: 300,
        max_pending_approvals: 1000,
        identity: IdentitySettings::default(),
        secrets: Vec::new(),
        public_base_url: "http://localhost:3000".into(),
        manifests_dir: None,
        lease_ttl_seconds: 300,
        max_body_bytes: 1024 * 1024,
        max_connections: 1024,
        max_concurrent_runs: 8,
        fs_root_allowed_prefixes: Vec::new(),
        egress: EgressSettings::default(),
        sandbox: None,
        gateway: None,
    };
    let mut data_dir = None;
    let mut admin_uds = None;
    let rel = |p: String| -> PathBuf {
        let p = PathBuf::from(p);
        match (&config_dir, p.is_absolute()) {
            (Some(d), false) => d.join(p),
            _ => p,
        }
    };
    for (key, item) in root.iter() {
        match key.as_str() {
            "data_dir" => data_dir = Some(rel(ctx.string(key, item)?)),
            "listen_uds_path" => cfg.listen_uds_path = rel(ctx.string(key, item)?),
            "listen_uds_mode" => {
                cfg.listen_uds_mode = match ctx.string(key, item)?.as_str() {
                    "0600" => 0o600,
                    "0660" => 0o660,
                    "0666" => 0o666,
                    other => {
                        return Err(ctx.err(
                            key,
                            item,
                            &format!(
                                "`{other}` is not allowed; use \"0600\", \"0660\" or \"0666\""
                            ),
                        ))
                    }
                }
            }
            "listen_http_addr" => cfg.listen_http_addr = Some(addr(&ctx, key, item)?),
            "listen_admin_uds_path" => admin_uds = Some(rel(ctx.string(key, item)?)),
            "listen_admin_http_addr" => cfg.listen_admin_http_addr = Some(addr(&ctx, key, item)?),
            "admin_token_file" => cfg.admin_token_file = Some(rel(ctx.string(key, item)?)),
            "policy_file" => cfg.policy_file = Some(rel(ctx.string(key, item)?)),
            "providers_dir" => cfg.providers_dir = Some(rel(ctx.string(key, item)?)),
            "approval_ttl_seconds" => {
                cfg.approval_ttl_seconds = ctx.int_in(key, item, 1, 86_400)? as u64
            }
            "max_pending_approvals" => {
                cfg.max_pending_approvals = ctx.int_in(key, item, 1, 1_000_000)? as usize
            }
            "identity" => cfg.identity = identity(&ctx, item)?,
            "secrets" => cfg.secrets = secrets(&ctx, item, &rel)?,
            "public_base_url" => {
                let s = ctx.string(key, item)?;
                if !(s.starts_with("http://") || s.starts_with("https://"))
                    || s.contains(['?', '#', ' '])
                {
                    return Err(ctx.err(
                        key,
                        item,
                        "expected an http:// or https:// URL without query or fragment",
                    ));
                }
                cfg.public_base_url = s.trim_end_matches('/').to_string();
            }
            "manifests_dir" => cfg.manifests_dir = Some(rel(ctx.string(key, item)?)),
            "lease_ttl_seconds" => cfg.lease_ttl_seconds = ctx.int_in(key, item, 1, 3600)? as u64,
            "max_body_bytes" => {
                cfg.max_body_bytes = ctx.int_in(key, item, 1024, 16 * 1024 * 1024)? as usize
            }
            "max_connections" => cfg.max_connections = ctx.int_in(key, item, 1, 100_000)? as usize,
            "max_concurrent_runs" => {
                cfg.max_concurrent_runs = ctx.int_in(key, item, 1, 1024)? as usize
            }
            "fs_root_allowed_prefixes" => {
                cfg.fs_root_allowed_prefixes =
                    ctx.strings(key, item)?.into_iter().map(rel).collect()
            }
            "egress" => cfg.egress = egress(&ctx, item, &rel)?,
            // Validated by `latchgate sandbox`, not by the gate.
            "sandbox" => cfg.sandbox = Some((origin.to_string(), ctx.table(key, item)?.clone())),
            // Validated by `latchgate gateway` (src/gateway/config.rs).
            "gateway" => cfg.gateway = Some((origin.to_string(), ctx.table(key, item)?.clone())),
            other => {
                return Err(ctx.err(
                    other,
                    item,
                    &format!(
                        "unknown key; allowed top-level keys: {}",
                        TOP_KEYS.join(", ")
                    ),
                ))
            }
        }
    }
    cfg.listen_admin_uds_path = admin_uds.unwrap_or_else(|| {
        cfg.listen_uds_path.parent().map_or_else(
            || PathBuf::from("gate-admin.sock"),
            |d| d.join("gate-admin.sock"),
        )
    });
    if cfg.listen_admin_uds_path == cfg.listen_uds_path {
        return Err(ConfigError(format!(
            "{origin}: `listen_admin_uds_path` must differ from `listen_uds_path` ({})",
            cfg.listen_uds_path.display()
        )));
    }
    if cfg.listen_admin_http_addr.is_some() && cfg.admin_token_file.is_none() {
        return Err(ConfigError(format!(
            "{origin}: `listen_admin_http_addr` needs `admin_token_file` (a file holding a token of at least 32 characters): the TCP operator listener is never open without a token"
        )));
    }
    cfg.data_dir = match data_dir {
        Some(d) => d,
        None => paths::default_data_dir().map_err(ConfigError)?,
    };
    if cfg.fs_root_allowed_prefixes.is_empty() {
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            cfg.fs_root_allowed_prefixes.push(PathBuf::from(home));
        }
    }
    Ok(cfg)
}

fn addr(ctx: &Ctx, key: &str, item: &Item) -> Result<std::net::SocketAddr, ConfigError> {
    let s = ctx.string(key, item)?;
    s.parse().map_err(|_| {
        ctx.err(
            key,
            item,
            &format!("`{s}` is not an address; expected IP:PORT such as \"127.0.0.1:3000\""),
        )
    })
}

fn secrets(
    ctx: &Ctx,
    item: &Item,
    rel: &dyn Fn(String) -> PathBuf,
) -> Result<Vec<(String, SecretSource)>, ConfigError> {
    let mut out = Vec::new();
    for (name, v) in ctx.table("secrets", item)?.iter() {
        let key = format!("secrets.{name}");
        if !crate::secrets::valid_name(name) {
            return Err(ctx.err(
                &key,
                v,
                "secret names are [A-Z][A-Z0-9_], at most 64 characters",
            ));
        }
        let text = ctx.string(&key, v)?;
        let source = if let Some(var) = text.strip_prefix("env:").filter(|s| !s.is_empty()) {
            SecretSource::Env(var.to_string())
        } else if let Some(p) = text.strip_prefix("file:").filter(|s| !s.is_empty()) {
            SecretSource::File(rel(p.to_string()))
        } else {
            return Err(ctx.err(
                &key,
                v,
                "expected \"env:VARIABLE\" or \"file:/path\" (values themselves never go in the config; use `latchgate secrets set`)",
            ));
        };
        out.push((name.clone(), source));
    }
    Ok(out)
}

const IDENTITY_KEYS: &[&str] = &["provider", "allow_unmapped", "peercred"];
const PEER_KEYS: &[&str] = &["principal", "scopes", "owner"];

fn identity(ctx: &Ctx, item: &Item) -> Result<IdentitySettings, ConfigError> {
    let table = ctx.table("identity", item)?;
    let mut out = IdentitySettings::default();
    for (key, item) in table.iter() {
        let full = format!("identity.{key}");
        match key.as_str() {
            "provider" => {
                out.provider = match ctx.string(&full, item)?.as_str() {
                    "none" => IdentityProvider::None,
                    "peercred" => IdentityProvider::Peercred,
                    other => {
                        return Err(ctx.err(
                            &full,
                            item,
                            &format!("`{other}` is not a provider; allowed: none, peercred"),
                        ))
                    }
                }
            }
            "allow_unmapped" => out.allow_unmapped = ctx.boolean(&full, item)?,
            "peercred" => {
                let peer = ctx.table(&full, item)?;
                for (k, v) in peer.iter() {
                    if k != "principals" {
                        return Err(ctx.err(
                            &format!("identity.peercred.{k}"),
                            v,
                            "unknown key; allowed in [identity.peercred]: principals",
                        ));
                    }
                    for (uid, entry) in ctx.table("identity.peercred.principals", v)?.iter() {
                        let at = format!("identity.peercred.principals.\"{uid}\"");
                        let n: u32 = uid.parse().map_err(|_| {
                            ctx.err(&at, entry, "the key must be a numeric uid such as \"1000\"")
                        })?;
                        out.principals.insert(n, peer_principal(ctx, &at, entry)?);
                    }
                }
            }
            other => {
                return Err(ctx.err(
                    &format!("identity.{other}"),
                    item,
                    &format!(
                        "unknown key; allowed in [identity]: {}",
                        IDENTITY_KEYS.join(", ")
                    ),
                ))
            }
        }
    }
    Ok(out)
}

fn peer_principal(ctx: &Ctx, at: &str, item: &Item) -> Result<PeerPrincipal, ConfigError> {
    let t = ctx.table(at, item)?;
    let mut principal = None;
    let mut scopes = vec!["tools:call".to_string()];
    let mut owner = None;
    for (k, v) in t.iter() {
        let full = format!("{at}.{k}");
        match k.as_str() {
            "principal" => {
                let p = ctx.string(&full, v)?;
                if p.is_empty() || p.len() > 128 || p.chars().any(|c| c.is_control() || c == ' ') {
                    return Err(ctx.err(
                        &full,
                        v,
                        "expected 1..128 printable characters, no spaces",
                    ));
                }
                principal = Some(p);
            }
            "scopes" => scopes = ctx.strings(&full, v)?,
            "owner" => owner = Some(ctx.string(&full, v)?),
            other => {
                return Err(ctx.err(
                    &format!("{at}.{other}"),
                    v,
                    &format!("unknown key; allowed: {}", PEER_KEYS.join(", ")),
                ))
            }
        }
    }
    let principal =
        principal.ok_or_else(|| ctx.err(at, item, "missing `principal` (the lease subject)"))?;
    Ok(PeerPrincipal {
        principal,
        scopes,
        owner,
    })
}

fn egress(
    ctx: &Ctx,
    item: &Item,
    rel: &dyn Fn(String) -> PathBuf,
) -> Result<EgressSettings, ConfigError> {
    let table = ctx.table("egress", item)?;
    let mut out = EgressSettings::default();
    for (key, item) in table.iter() {
        let full = format!("egress.{key}");
        match key.as_str() {
            "ca_file" => out.ca_file = Some(rel(ctx.string(&full, item)?)),
            "allow_private" => {
                for cidr in ctx.strings(&full, item)? {
                    if crate::egress::Cidr::parse(&cidr).is_err() {
                        return Err(ctx.err(
                            &full,
                            item,
                            &format!("`{cidr}` is not a CIDR such as \"127.0.0.0/8\""),
                        ));
                    }
                    out.allow_private.push(cidr);
                }
            }
            "hosts" => {
                for (name, addr) in ctx.table(&full, item)?.iter() {
                    let key = format!("egress.hosts.{name}");
                    let a = ctx.string(&key, addr)?;
                    // "IP" or "IP:PORT" ("[::1]:8443"), parsed as egress will.
                    if let Err(e) = crate::egress::EgressConfig::parse_host_target(&a) {
                        return Err(ctx.err(&key, addr, &e));
                    }
                    out.hosts.push((name.to_ascii_lowercase(), a));
                }
            }
            other => {
                return Err(ctx.err(
                    &format!("egress.{other}"),
                    item,
                    &format!(
                        "unknown key; allowed in [egress]: {}",
                        EGRESS_KEYS.join(", ")
                    ),
                ))
            }
        }
    }
    Ok(out)
}
