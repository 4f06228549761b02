//! One configuration source as a [`Layer`]: the `[sandbox]` table of
//! latchgate.toml, a `--sandbox-config` file, or the CLI flags. Values are
//! checked here, where the file and line are still known.

use super::{validate, CredentialRoute};
use crate::config::fields::Fields;
use crate::toml::{Item, Table};
use std::path::PathBuf;

/// Keys allowed in `[sandbox.agent]` (and at the top of a standalone file).
pub const AGENT_KEYS: &[&str] = &[
    "profile",
    "workspace",
    "allow_hosts",
    "ro_mounts",
    "pass_env",
    "gate_socket",
    "credentials",
    "uid",
    "gid",
];
const ROUTE_KEYS: &[&str] = &["upstream", "header", "format", "key_source"];

/// What one source sets; `None` means "not set here".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layer {
    /// Profile name as given (aliases allowed).
    pub profile: Option<String>,
    /// Workspace, absolute (CLI values are made absolute by the caller).
    pub workspace: Option<PathBuf>,
    /// Allowed hosts, normalised.
    pub allow_hosts: Option<Vec<String>>,
    /// Read-only mounts.
    pub ro_mounts: Option<Vec<PathBuf>>,
    /// Passed variables.
    pub pass_env: Option<Vec<String>>,
    /// Gate socket.
    pub gate_socket: Option<PathBuf>,
    /// Credential routes declared here.
    pub credentials: Vec<CredentialRoute>,
    /// Root-assisted mode: the host uid the agent runs as when there is no
    /// `SUDO_UID` (never 0).
    pub uid: Option<u32>,
    /// Root-assisted mode: the agent's host gid (never 0; default: `uid`).
    pub gid: Option<u32>,
}

/// Reads the `[sandbox]` table of latchgate.toml (only `agent` inside).
pub fn from_gate_table(origin: &str, table: &Table) -> Result<Layer, Vec<String>> {
    let ctx = Fields { origin };
    let mut layer = Layer::default();
    let mut problems = Vec::new();
    for (key, item) in table.iter() {
        if key != "agent" {
            problems.push(
                ctx.err(
                    &format!("sandbox.{key}"),
                    item,
                    "unknown key; allowed in [sandbox]: agent",
                )
                .0,
            );
            continue;
        }
        match ctx.table("sandbox.agent", item) {
            Ok(t) => layer = agent(&ctx, "sandbox.agent.", t, &mut problems),
            Err(e) => problems.push(e.0),
        }
    }
    done(layer, problems)
}

/// Reads a standalone `--sandbox-config` file: either the agent keys at the
/// top level or a `[sandbox.agent]` table.
pub fn from_file_text(origin: &str, text: &str) -> Result<Layer, Vec<String>> {
    let root = crate::toml::parse(text).map_err(|e| vec![format!("{origin}: {e}")])?;
    if root.get("sandbox").is_none() {
        let ctx = Fields { origin };
        let mut problems = Vec::new();
        let layer = agent(&ctx, "", &root, &mut problems);
        return done(layer, problems);
    }
    let ctx = Fields { origin };
    let mut problems = Vec::new();
    let mut layer = Layer::default();
    for (key, item) in root.iter() {
        if key != "sandbox" {
            problems.push(
                ctx.err(
                    key,
                    item,
                    "unknown key; a file with [sandbox.agent] may hold nothing else",
                )
                .0,
            );
            continue;
        }
        match ctx.table("sandbox", item) {
            Ok(t) => match from_gate_table(origin, t) {
                Ok(l) => layer = l,
                Err(mut p) => problems.append(&mut p),
            },
            Err(e) => problems.push(e.0),
        }
    }
    done(layer, problems)
}

fn done(layer: Layer, problems: Vec<String>) -> Result<Layer, Vec<String>> {
    if problems.is_empty() {
        Ok(layer)
    } else {
        Err(problems)
    }
}

/// Reads the agent keys of `table`; `prefix` names them in errors.
fn agent(ctx: &Fields, prefix: &str, table: &Table, problems: &mut Vec<String>) -> Layer {
    let mut layer = Layer::default();
    for (key, item) in table.iter() {
        let full = format!("{prefix}{key}");
        let result = match key.as_str() {
            "profile" => ctx.string(&full, item).map(|p| {
                if let Err(e) = super::profiles::lookup(&p) {
                    problems.push(ctx.err(&full, item, &e).0);
                }
                layer.profile = Some(p);
            }),
            "workspace" => ctx.string(&full, item).map(|s| {
                layer.workspace = check(ctx, &full, item, problems, validate::absolute(&s));
            }),
            "gate_socket" => ctx.string(&full, item).map(|s| {
                layer.gate_socket = check(ctx, &full, item, problems, validate::absolute(&s));
            }),
            "allow_hosts" => ctx.strings(&full, item).map(|v| {
                layer.allow_hosts = Some(list(ctx, &full, item, problems, &v, validate::host));
            }),
            "ro_mounts" => ctx.strings(&full, item).map(|v| {
                layer.ro_mounts = Some(list(ctx, &full, item, problems, &v, validate::ro_mount));
            }),
            "pass_env" => ctx.strings(&full, item).map(|v| {
                layer.pass_env = Some(list(ctx, &full, item, problems, &v, validate::pass_env));
            }),
            "credentials" => ctx.table(&full, item).map(|t| {
                layer.credentials = routes(ctx, &full, t, problems);
            }),
            // 0 is refused: the agent never runs as host root.
            "uid" => ctx
                .int_in(&full, item, 1, i64::from(u32::MAX - 1))
                .map(|v| layer.uid = Some(v as u32)),
            "gid" => ctx
                .int_in(&full, item, 1, i64::from(u32::MAX - 1))
                .map(|v| layer.gid = Some(v as u32)),
            other => Err(ctx.err(
                &full,
                item,
                &format!("unknown key `{other}`; allowed: {}", AGENT_KEYS.join(", ")),
            )),
        };
        if let Err(e) = result {
            problems.push(e.0);
        }
    }
    layer
}

fn check<T>(
    ctx: &Fields,
    key: &str,
    item: &Item,
    problems: &mut Vec<String>,
    r: Result<T, String>,
) -> Option<T> {
    r.map_err(|e| problems.push(ctx.err(key, item, &e).0)).ok()
}

fn list<T>(
    ctx: &Fields,
    key: &str,
    item: &Item,
    problems: &mut Vec<String>,
    values: &[String],
    f: fn(&str) -> Result<T, String>,
) -> Vec<T> {
    values
        .iter()
        .filter_map(|v| check(ctx, key, item, problems, f(v)))
        .collect()
}

/// Reads credential route tables (`[<prefix>.NAME]`: upstream, header,
/// format, key_source), each checked by `validate::route`; also used for
/// the gateway's providers.
pub(crate) fn routes(
    ctx: &Fields,
    prefix: &str,
    table: &Table,
    problems: &mut Vec<String>,
) -> Vec<CredentialRoute> {
    let mut out = Vec::new();
    for (name, item) in table.iter() {
        let at = format!("{prefix}.{name}");
        let t = match ctx.table(&at, item) {
            Ok(t) => t,
            Err(e) => {
                problems.push(e.0);
                continue;
            }
        };
        let mut fields: [Option<String>; 4] = [None, None, None, None];
        let mut ok = true;
        for (k, v) in t.iter() {
            let full = format!("{at}.{k}");
            let Some(slot) = ROUTE_KEYS.iter().position(|r| r == k) else {
                problems.push(
                    ctx.err(
                        &full,
                        v,
                        &format!("unknown key; allowed: {}", ROUTE_KEYS.join(", ")),
                    )
                    .0,
                );
                ok = false;
                continue;
            };
            match ctx.string(&full, v) {
                Ok(s) => {
                    if let Some(f) = fields.get_mut(slot) {
                        *f = Some(s);
                    }
                }
                Err(e) => {
                    problems.push(e.0);
                    ok = false;
                }
            }
        }
        let [upstream, header, format, key_source] = fields;
        let (Some(upstream), Some(header), Some(key_source)) = (upstream, header, key_source)
        else {
            problems.push(
                ctx.err(
                    &at,
                    item,
                    "a route needs `upstream`, `header` and `key_source` (`format` defaults to \"{}\")",
                )
                .0,
            );
            continue;
        };
        if !ok {
            continue;
        }
        match validate::route(name, &upstream, &header, format.as_deref(), &key_source) {
            Ok(r) => out.push(r),
            Err(e) => problems.push(ctx.err(&at, item, &e).0),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(text: &str) -> Result<Layer, Vec<String>> {
        let root = crate::toml::parse(text).unwrap();
        let t = match &root.get("sandbox").unwrap().value {
            crate::toml::TValue::Table(t) => t.clone(),
            _ => panic!("no table"),
        };
        from_gate_table("lg.toml", &t)
    }

    #[test]
    fn reads_the_seed_example() {
        let l = gate(
            r#"
[sandbox.agent]
workspace = "/home/dev/myproject"
allow_hosts = ["api.anthropic.com", "API.openai.com"]
ro_mounts = ["/opt/node-22"]
pass_env = ["TERM", "LANG", "GITHUB_TOKEN"]
gate_socket = "/run/latchgate/gate.sock"
[sandbox.agent.credentials.openai]
upstream = "https://api.openai.com/v1"
header = "Authorization"
format = "Bearer {}"
key_source = "env:OPENAI_API_KEY"
"#,
        )
        .unwrap();
        assert_eq!(l.workspace, Some(PathBuf::from("/home/dev/myproject")));
        assert_eq!(
            l.allow_hosts,
            Some(vec!["api.anthropic.com".into(), "api.openai.com".into()])
        );
        assert_eq!(l.credentials.len(), 1);
        assert_eq!(l.credentials[0].format, "Bearer {}");
    }

    #[test]
    fn unknown_keys_are_errors_with_line() {
        let e = gate("[sandbox.agent]\nallow_host = [\"a.b\"]\n").unwrap_err();
        assert!(
            e[0].contains("line 2")
                && e[0].contains("sandbox.agent.allow_host")
                && e[0].contains("allowed: profile"),
            "{e:?}"
        );
        let e = gate("[sandbox.other]\nx = 1\n").unwrap_err();
        assert!(
            e[0].contains("sandbox.other") && e[0].contains("allowed in [sandbox]: agent"),
            "{e:?}"
        );
        let e = gate("[sandbox.agent.credentials.a]\nupstream = \"https://a.b\"\nheader = \"h\"\nkey_source = \"env:K\"\nextra = \"x\"\n").unwrap_err();
        assert!(e[0].contains("credentials.a.extra"), "{e:?}");
    }

    #[test]
    fn every_problem_is_reported_naming_field_and_value() {
        let e = gate(
            "[sandbox.agent]\nallow_hosts = [\"https://x.com\", \"y.com:8080\"]\nro_mounts = [\"rel/dir\"]\npass_env = [\"PATH\", \"A=1\"]\nworkspace = \"proj\"\ngate_socket = \"gate.sock\"\nprofile = \"nope\"\n",
        )
        .unwrap_err();
        let all = e.join("\n");
        for needle in [
            "`sandbox.agent.allow_hosts`: `https://x.com`: a scheme",
            "`y.com:8080`: a port",
            "`sandbox.agent.ro_mounts`: `rel/dir`: must be an absolute path",
            "`PATH` is reserved",
            "`A=1`: a variable name only",
            "`sandbox.agent.workspace`: `proj`: must be an absolute",
            "`sandbox.agent.gate_socket`: `gate.sock`",
            "`nope` is not a profile",
        ] {
            assert!(all.contains(needle), "missing {needle} in {all}");
        }
        assert_eq!(e.len(), 8);
    }

    #[test]
    fn routes_need_their_fields() {
        let e = gate("[sandbox.agent.credentials.a]\nupstream = \"http://a.b\"\nheader = \"h\"\nkey_source = \"env:K\"\n").unwrap_err();
        assert!(
            e[0].contains("sandbox.agent.credentials.a") && e[0].contains("https://"),
            "{e:?}"
        );
        let e = gate("[sandbox.agent.credentials.a]\nupstream = \"https://a.b\"\n").unwrap_err();
        assert!(
            e[0].contains("needs `upstream`, `header` and `key_source`"),
            "{e:?}"
        );
        let e = gate("[sandbox.agent.credentials.a]\nupstream = \"https://a.b\"\nheader = \"h\"\nformat = \"Bearer\"\nkey_source = \"env:K\"\n").unwrap_err();
        assert!(e[0].contains("exactly once"), "{e:?}");
    }

    #[test]
    fn gate_config_keeps_the_sandbox_table_for_us() {
        let cfg = crate::config::load_from_str(
            "data_dir = \"/d\"\n[sandbox.agent]\npass_env = [\"GITHUB_TOKEN\"]\n",
            "lg.toml",
            None,
        )
        .unwrap();
        let (origin, table) = cfg.sandbox.unwrap();
        assert_eq!(origin, "lg.toml");
        let layer = from_gate_table(&origin, &table).unwrap();
        assert_eq!(layer.pass_env, Some(vec!["GITHUB_TOKEN".into()]));
        let e = crate::config::load_from_str("data_dir = \"/d\"\nsandbox = 1\n", "lg.toml", None)
            .unwrap_err();
        assert!(e.0.contains("`sandbox`: expected a table"), "{e}");
        let none = crate::config::load_from_str("data_dir = \"/d\"\n", "lg.toml", None).unwrap();
        assert!(none.sandbox.is_none());
    }

    #[test]
    fn standalone_file_has_both_shapes() {
        let top = from_file_text("s.toml", "allow_hosts = [\"a.example\"]\n").unwrap();
        assert_eq!(top.allow_hosts, Some(vec!["a.example".into()]));
        let nested =
            from_file_text("s.toml", "[sandbox.agent]\npass_env = [\"GITHUB_TOKEN\"]\n").unwrap();
        assert_eq!(nested.pass_env, Some(vec!["GITHUB_TOKEN".into()]));
        let e = from_file_text("s.toml", "x = 1\n[sandbox.agent]\n").unwrap_err();
        assert!(e[0].contains("`x`"), "{e:?}");
        let e = from_file_text("s.toml", "bogus = 1\n").unwrap_err();
        assert!(e[0].contains("s.toml: line 1: `bogus`"), "{e:?}");
        assert!(from_file_text("s.toml", "a = [").is_err());
    }
}
