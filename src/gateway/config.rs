//! The `[gateway]` table of latchgate.toml, checked where the file and
//! line are still known. Every key is optional; the built-in providers
//! (anthropic, openai) work with nothing configured but their keys.
//!
//! ```toml
//! [gateway]
//! listen_unix = "/run/gateway.sock"   # or --listen-unix
//! socket_mode = "0660"                # applied after bind
//! allowed_uids = [1000]               # peer uids (SO_PEERCRED); default: the gateway's own
//! default_provider = "anthropic"      # without an X-Provider header
//! idle_timeout_secs = 600             # per read or write, upstream and client
//! max_connections = 1024
//! ledger_dir = "gateway-ledger"       # default <data_dir>/gateway-ledger
//! token_file = "/etc/latchgate/gateway.token"   # callers must present it, or:
//! [gateway.jwt]                       # callers must present a signed token
//! issuer = "https://issuer.example"
//! audience = "llm-gateway"
//! jwks_file = "/etc/latchgate/issuer.jwks"
//! leeway_secs = 60
//! [gateway.providers.NAME]            # as the sandbox's credential routes
//! upstream = "https://api.example.com"
//! header = "Authorization"
//! format = "Bearer {}"
//! key_source = "env:EXAMPLE_API_KEY"
//! ```

use crate::config::fields::Fields;
use crate::sandbox::{CredentialRoute, KeySource};
use crate::toml::{TValue, Table};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Keys allowed in `[gateway]`.
pub const KEYS: &[&str] = &[
    "listen_unix",
    "socket_mode",
    "allowed_uids",
    "default_provider",
    "idle_timeout_secs",
    "max_connections",
    "ledger_dir",
    "token_file",
    "jwt",
    "providers",
];
const JWT_KEYS: &[&str] = &["issuer", "audience", "jwks_file", "leeway_secs"];

/// The default idle timeout: at least the longest agent turn.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(600);
/// The default socket mode: owner and group.
pub const DEFAULT_SOCKET_MODE: u32 = 0o660;
/// The default connection limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Signed-token settings.
#[derive(Clone, Debug, PartialEq)]
pub struct JwtSettings {
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud` (or one of them).
    pub audience: String,
    /// The issuer's keys (JWKS: EC P-256 and Ed25519).
    pub jwks_file: PathBuf,
    /// Clock leeway for `exp`, `nbf` and `iat`.
    pub leeway_secs: u64,
}

/// The gateway's checked settings.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayConfig {
    /// Where to listen (the CLI flag wins).
    pub listen_unix: Option<PathBuf>,
    /// Socket file mode.
    pub socket_mode: u32,
    /// Peer uids allowed to connect; empty means the gateway's own uid.
    pub allowed_uids: Vec<u32>,
    /// The provider for requests without `X-Provider`.
    pub default_provider: String,
    /// Idle timeout on both sides.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// The gateway's own ledger (None: `<data_dir>/gateway-ledger`).
    pub ledger_dir: Option<PathBuf>,
    /// A bearer token callers must present.
    pub token_file: Option<PathBuf>,
    /// Signed tokens callers must present.
    pub jwt: Option<JwtSettings>,
    /// Providers: the built-ins, replaced or extended by configured ones.
    pub providers: Vec<CredentialRoute>,
}

/// The built-in providers. OpenAI's upstream has no `/v1`: clients call
/// the gateway with their usual `/v1/...` paths.
pub fn builtin_providers() -> Vec<CredentialRoute> {
    vec![
        CredentialRoute {
            name: "anthropic".into(),
            upstream: "https://api.anthropic.com".into(),
            header: "x-api-key".into(),
            format: "{}".into(),
            key_source: KeySource::Env("ANTHROPIC_API_KEY".into()),
        },
        CredentialRoute {
            name: "openai".into(),
            upstream: "https://api.openai.com".into(),
            header: "Authorization".into(),
            format: "Bearer {}".into(),
            key_source: KeySource::Env("OPENAI_API_KEY".into()),
        },
    ]
}

impl Default for GatewayConfig {
    fn default() -> GatewayConfig {
        GatewayConfig {
            listen_unix: None,
            socket_mode: DEFAULT_SOCKET_MODE,
            allowed_uids: Vec::new(),
            default_provider: "anthropic".into(),
            idle_timeout: DEFAULT_IDLE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            ledger_dir: None,
            token_file: None,
            jwt: None,
            providers: builtin_providers(),
        }
    }
}

/// Reads `[gateway]` from `origin` (a file path: relative paths in the
/// table are taken against its directory). Every problem is listed.
pub fn from_table(origin: &str, table: &Table) -> Result<GatewayConfig, Vec<String>> {
    let ctx = Fields { origin };
    let base = Path::new(origin).parent().map(Path::to_path_buf);
    let path = |s: String| match &base {
        Some(b) if Path::new(&s).is_relative() => b.join(s),
        _ => PathBuf::from(s),
    };
    let mut cfg = GatewayConfig::default();
    let mut problems = Vec::new();
    for (key, item) in table.iter() {
        let full = format!("gateway.{key}");
        let result = match key.as_str() {
            "listen_unix" => ctx
                .string(&full, item)
                .map(|s| cfg.listen_unix = Some(path(s))),
            "socket_mode" => ctx.string(&full, item).and_then(|s| {
                parse_mode(&s)
                    .map(|m| cfg.socket_mode = m)
                    .map_err(|e| ctx.err(&full, item, &e))
            }),
            "allowed_uids" => uids(&ctx, &full, item).map(|v| cfg.allowed_uids = v),
            "default_provider" => ctx.string(&full, item).map(|s| cfg.default_provider = s),
            "idle_timeout_secs" => ctx
                .int_in(&full, item, 1, 86_400)
                .map(|v| cfg.idle_timeout = Duration::from_secs(v as u64)),
            "max_connections" => ctx
                .int_in(&full, item, 1, 65_536)
                .map(|v| cfg.max_connections = v as usize),
            "ledger_dir" => ctx
                .string(&full, item)
                .map(|s| cfg.ledger_dir = Some(path(s))),
            "token_file" => ctx
                .string(&full, item)
                .map(|s| cfg.token_file = Some(path(s))),
            "jwt" => ctx.table(&full, item).map(|t| {
                cfg.jwt = jwt(&ctx, t, &path, &mut problems);
            }),
            "providers" => ctx.table(&full, item).map(|t| {
                let configured =
                    crate::sandbox::config::routes(&ctx, "gateway.providers", t, &mut problems);
                for p in configured {
                    cfg.providers.retain(|b| b.name != p.name);
                    cfg.providers.push(p);
                }
            }),
            other => Err(ctx.err(
                &full,
                item,
                &format!("unknown key `{other}`; allowed: {}", KEYS.join(", ")),
            )),
        };
        if let Err(e) = result {
            problems.push(e.0);
        }
    }
    if cfg.token_file.is_some() && cfg.jwt.is_some() {
        problems.push(format!(
            "{origin}: `gateway.token_file` and `[gateway.jwt]` are exclusive: callers present one credential; choose one"
        ));
    }
    if !cfg.providers.iter().any(|p| p.name == cfg.default_provider) {
        problems.push(format!(
            "{origin}: `gateway.default_provider` `{}` is not a provider; providers: {}",
            cfg.default_provider,
            names(&cfg.providers)
        ));
    }
    if problems.is_empty() {
        Ok(cfg)
    } else {
        Err(problems)
    }
}

/// The providers' names, comma-separated.
pub fn names(providers: &[CredentialRoute]) -> String {
    providers
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `0660`-style octal, at most 0777, and at least owner read-write.
pub fn parse_mode(s: &str) -> Result<u32, String> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o777 && m & 0o600 == 0o600 => Ok(m),
        _ => Err(format!(
            "`{s}` is not an octal mode 0600..=0777 with owner read-write, such as 0660"
        )),
    }
}

fn uids(
    ctx: &Fields,
    key: &str,
    item: &crate::toml::Item,
) -> Result<Vec<u32>, crate::config::ConfigError> {
    let TValue::Array(items) = &item.value else {
        return Err(ctx.err(key, item, "expected an array of uids, such as [1000]"));
    };
    items
        .iter()
        .map(|i| {
            ctx.int_in(key, i, 0, i64::from(u32::MAX - 1))
                .map(|v| v as u32)
        })
        .collect()
}

fn jwt(
    ctx: &Fields,
    t: &Table,
    path: &dyn Fn(String) -> PathBuf,
    problems: &mut Vec<String>,
) -> Option<JwtSettings> {
    let mut issuer = None;
    let mut audience = None;
    let mut jwks = None;
    let mut leeway = 60u64;
    for (k, v) in t.iter() {
        let full = format!("gateway.jwt.{k}");
        let r = match k.as_str() {
            "issuer" => ctx.string(&full, v).map(|s| issuer = Some(s)),
            "audience" => ctx.string(&full, v).map(|s| audience = Some(s)),
            "jwks_file" => ctx.string(&full, v).map(|s| jwks = Some(path(s))),
            "leeway_secs" => ctx.int_in(&full, v, 0, 3600).map(|s| leeway = s as u64),
            other => Err(ctx.err(
                &full,
                v,
                &format!("unknown key `{other}`; allowed: {}", JWT_KEYS.join(", ")),
            )),
        };
        if let Err(e) = r {
            problems.push(e.0);
        }
    }
    match (issuer, audience, jwks) {
        (Some(issuer), Some(audience), Some(jwks_file)) => Some(JwtSettings {
            issuer,
            audience,
            jwks_file,
            leeway_secs: leeway,
        }),
        _ => {
            problems.push(format!(
                "{}: `[gateway.jwt]` needs `issuer`, `audience` and `jwks_file`",
                ctx.origin
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<GatewayConfig, Vec<String>> {
        let root = crate::toml::parse(text).unwrap();
        let t = match &root.get("gateway").unwrap().value {
            TValue::Table(t) => t.clone(),
            _ => panic!("no table"),
        };
        from_table("/etc/lg/latchgate.toml", &t)
    }

    #[test]
    fn defaults_and_builtin_providers() {
        let c = parse("[gateway]\n").unwrap();
        assert_eq!(c.socket_mode, 0o660);
        assert_eq!(c.idle_timeout, Duration::from_secs(600));
        assert_eq!(c.default_provider, "anthropic");
        assert_eq!(names(&c.providers), "anthropic, openai");
    }

    #[test]
    fn every_key_read_and_relative_paths_beside_the_file() {
        let c = parse(
            "[gateway]\nlisten_unix = \"run/gw.sock\"\nsocket_mode = \"0600\"\nallowed_uids = [1000, 0]\n\
             default_provider = \"groq\"\nidle_timeout_secs = 900\nmax_connections = 10\n\
             ledger_dir = \"/var/lib/gw\"\n[gateway.jwt]\nissuer = \"i\"\naudience = \"a\"\njwks_file = \"keys.jwks\"\n\
             [gateway.providers.groq]\nupstream = \"https://api.groq.com/openai\"\nheader = \"Authorization\"\n\
             format = \"Bearer {}\"\nkey_source = \"env:GROQ_API_KEY\"\n\
             [gateway.providers.openai]\nupstream = \"https://openai.internal\"\nheader = \"Authorization\"\n\
             format = \"Bearer {}\"\nkey_source = \"file:/run/secrets/openai\"\n",
        )
        .unwrap();
        assert_eq!(c.listen_unix, Some(PathBuf::from("/etc/lg/run/gw.sock")));
        assert_eq!(c.socket_mode, 0o600);
        assert_eq!(c.allowed_uids, vec![1000, 0]);
        assert_eq!(c.idle_timeout, Duration::from_secs(900));
        assert_eq!(c.max_connections, 10);
        let j = c.jwt.unwrap();
        assert_eq!(j.jwks_file, PathBuf::from("/etc/lg/keys.jwks"));
        assert_eq!(j.leeway_secs, 60);
        assert_eq!(names(&c.providers), "anthropic, groq, openai");
        let openai = c.providers.iter().find(|p| p.name == "openai").unwrap();
        assert_eq!(openai.upstream, "https://openai.internal");
    }

    #[test]
    fn errors_name_the_key_and_what_is_allowed() {
        let e = parse(
            "[gateway]\nsocket_mode = \"0644x\"\nallowed_uids = [\"me\"]\nidle_timeout_secs = 0\nnope = 1\n\
             default_provider = \"none\"\ntoken_file = \"t\"\n[gateway.jwt]\nissuer = \"i\"\n\
             [gateway.providers.bad]\nupstream = \"http://x\"\nheader = \"h\"\nkey_source = \"env:K\"\n",
        )
        .unwrap_err()
        .join("\n");
        for needle in [
            "`gateway.socket_mode`: `0644x` is not an octal mode",
            "`gateway.allowed_uids`: expected an integer",
            "`gateway.idle_timeout_secs`: 0 is out of range",
            "unknown key `nope`",
            "`[gateway.jwt]` needs `issuer`, `audience` and `jwks_file`",
            "gateway.providers.bad",
            "must use https://",
            "`gateway.default_provider` `none` is not a provider",
        ] {
            assert!(e.contains(needle), "missing {needle:?} in:\n{e}");
        }
        let e = parse("[gateway]\ntoken_file = \"t\"\n[gateway.jwt]\nissuer = \"i\"\naudience = \"a\"\njwks_file = \"k\"\n")
            .unwrap_err()
            .join("\n");
        assert!(e.contains("are exclusive"), "{e}");
        assert!(parse_mode("0400").is_err() && parse_mode("1777").is_err());
        assert_eq!(parse_mode("0o640"), Ok(0o640));
    }
}
