//! Reading and validating `latchgate.toml`.

use super::{paths, Config, EgressSettings};
use super::fields::Fields as Ctx;
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
    "listen_http_addr",
    "public_base_url",
    "manifests_dir",
    "lease_ttl_seconds",
    "max_body_bytes",
    "max_connections",
    "max_concurrent_runs",
    "fs_root_allowed_prefixes",
    "egress",
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
        listen_http_addr: None,
        public_base_url: "http://localhost:3000".into(),
        manifests_dir: None,
        lease_ttl_seconds: 300,
        max_body_bytes: 1024 * 1024,
        max_connections: 1024,
        max_concurrent_runs: 8,
        fs_root_allowed_prefixes: Vec::new(),
        egress: EgressSettings::default(),
    };
    let mut data_dir = None;
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
            "listen_http_addr" => {
                let s = ctx.string(key, item)?;
                cfg.listen_http_addr = Some(s.parse().map_err(|_| {
                    ctx.err(
                        key,
                        item,
                        &format!(
                            "`{s}` is not an address; expected IP:PORT such as \"127.0.0.1:3000\""
                        ),
                    )
                })?)
            }
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
                    if a.parse::<std::net::IpAddr>().is_err() {
                        return Err(ctx.err(&key, addr, &format!("`{a}` is not an IP address")));
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
