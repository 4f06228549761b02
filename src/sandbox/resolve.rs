//! Merges the sources into one [`SandboxSpec`] and checks what needs the
//! whole picture: the workspace on disk, route variables against
//! `pass_env`, and the command.

use super::config::Layer;
use super::{profiles, validate, CredentialRoute, KeySource, SandboxSpec};
use std::path::{Path, PathBuf};

/// Everything resolution needs, gathered by the caller (no global state
/// here, so it is testable).
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// From the CLI flags (workspace already made absolute).
    pub cli: Layer,
    /// From `--sandbox-config FILE`.
    pub standalone: Option<Layer>,
    /// From `[sandbox.agent]` in latchgate.toml.
    pub gate: Option<Layer>,
    /// The command after `--` (empty: the profile's binary).
    pub command: Vec<String>,
    /// The gate's own socket, the default `gate_socket`.
    pub default_gate_socket: PathBuf,
    /// The current directory, the default workspace.
    pub cwd: PathBuf,
    /// The user's home directory, if known.
    pub home: Option<PathBuf>,
    /// The files that contributed, for the plan.
    pub sources: Vec<String>,
}

/// Resolves and validates; every problem found is returned.
pub fn resolve(inp: Inputs) -> Result<SandboxSpec, Vec<String>> {
    let mut problems = Vec::new();
    let files: Vec<&Layer> = [inp.standalone.as_ref(), inp.gate.as_ref()]
        .into_iter()
        .flatten()
        .collect();

    let profile_name = inp
        .cli
        .profile
        .clone()
        .or_else(|| files.iter().find_map(|l| l.profile.clone()));
    let profile = match profile_name.as_deref().map(profiles::lookup) {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            problems.push(format!("--profile: {e}"));
            None
        }
        None => None,
    };

    let (base_hosts, base_env): (&[&str], &[&str]) = match profile {
        Some(p) => (p.allow_hosts, p.pass_env),
        None => (profiles::DEFAULT_HOSTS, profiles::DEFAULT_PASS_ENV),
    };
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let allow_hosts = merge_list(
        files.iter().find_map(|l| l.allow_hosts.clone()),
        owned(base_hosts),
        inp.cli.allow_hosts.clone(),
    );
    let ro_mounts = merge_list(
        files.iter().find_map(|l| l.ro_mounts.clone()),
        Vec::new(),
        inp.cli.ro_mounts.clone(),
    );
    let pass_env = merge_list(
        files.iter().find_map(|l| l.pass_env.clone()),
        owned(base_env),
        inp.cli.pass_env.clone(),
    );

    // Routes merge by name: the profile's, then latchgate.toml's, then the
    // standalone file's, each replacing a route of the same name.
    let mut credentials: Vec<CredentialRoute> = Vec::new();
    let profile_routes = profile.map_or(&[][..], |p| p.routes);
    for t in profile_routes {
        match validate::route(t.name, t.upstream, t.header, Some(t.format), t.key_source) {
            Ok(r) => credentials.push(r),
            Err(e) => problems.push(format!("profile route {}: {e}", t.name)),
        }
    }
    for layer in files.iter().rev() {
        for r in &layer.credentials {
            credentials.retain(|c| c.name != r.name);
            credentials.push(r.clone());
        }
    }
    for r in &credentials {
        let var = r.base_url_var();
        if pass_env.contains(&var) {
            problems.push(format!(
                "pass_env: `{var}` is reserved: the sandbox sets it for credential route `{}`",
                r.name
            ));
        }
        // The real key must never enter the sandbox; inside, this variable
        // holds the session token instead (environment.rs).
        if let KeySource::Env(key_var) = &r.key_source {
            if pass_env.contains(key_var) {
                problems.push(format!(
                    "pass_env: `{key_var}` is the key source of credential route `{}`; the real key stays outside the sandbox (inside, `{key_var}` holds the session token)",
                    r.name
                ));
            }
        }
    }

    // Symlinks resolved on both sides, so a link to $HOME is caught too.
    let home = inp
        .home
        .as_deref()
        .and_then(|h| std::fs::canonicalize(h).ok());
    let workspace_given = inp
        .cli
        .workspace
        .clone()
        .or_else(|| files.iter().find_map(|l| l.workspace.clone()));
    let workspace = match workspace(
        workspace_given.as_deref().unwrap_or(&inp.cwd),
        home.as_deref(),
    ) {
        Ok(w) => Some(w),
        Err(e) => {
            problems.push(e);
            None
        }
    };

    for m in &ro_mounts {
        let real = match std::fs::canonicalize(m) {
            Ok(real) => real,
            Err(e) => {
                problems.push(format!(
                    "ro_mounts: `{}`: cannot be used: {e}; give an existing path",
                    m.display()
                ));
                continue;
            }
        };
        if real == Path::new("/") || validate::covers_home(&real, home.as_deref()) {
            problems.push(format!(
                "ro_mounts: `{}` is the home directory or contains it; mount only the directories the agent needs",
                m.display()
            ));
        }
    }

    let gate_socket = inp
        .cli
        .gate_socket
        .clone()
        .or_else(|| files.iter().find_map(|l| l.gate_socket.clone()))
        .unwrap_or_else(|| inp.default_gate_socket.clone());

    let command_is_profile_binary = inp.command.is_empty() && profile.is_some();
    let uid = inp.cli.uid.or_else(|| files.iter().find_map(|l| l.uid));
    let gid = inp.cli.gid.or_else(|| files.iter().find_map(|l| l.gid));
    let run_as = match (uid, gid) {
        (Some(u), g) => Some((u, g.unwrap_or(u))),
        (None, Some(_)) => {
            problems.push("gid: set without uid; give uid too".to_string());
            None
        }
        (None, None) => None,
    };
    let command = if !inp.command.is_empty() {
        inp.command.clone()
    } else if let Some(p) = profile {
        vec![p.binary.to_string()]
    } else {
        problems.push(format!(
            "command: none given; put it after `--` (latchgate sandbox -- my-agent) or choose --profile ({})",
            profiles::allowed_names()
        ));
        Vec::new()
    };
    if command.first().is_some_and(|c| c.is_empty()) {
        problems.push("command: the program name is empty".to_string());
    }

    match workspace {
        Some(workspace) if problems.is_empty() => Ok(SandboxSpec {
            profile: profile.map(|p| p.name.to_string()),
            workspace,
            allow_hosts,
            ro_mounts,
            pass_env,
            gate_socket,
            credentials,
            command,
            command_is_profile_binary,
            run_as,
            sources: inp.sources,
        }),
        _ => Err(problems),
    }
}

/// `from_file` (or the base) then the CLI additions, without duplicates.
fn merge_list<T: PartialEq>(
    from_file: Option<Vec<T>>,
    base: Vec<T>,
    cli: Option<Vec<T>>,
) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    let all = from_file
        .unwrap_or(base)
        .into_iter()
        .chain(cli.unwrap_or_default());
    for v in all {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// The workspace made canonical: an existing directory, valid UTF-8, not
/// `/`, not the (canonical) home directory and not one of its ancestors (those would
/// put every file of the user, or of all users, in reach of the agent).
fn workspace(given: &Path, home: Option<&Path>) -> Result<PathBuf, String> {
    let shown = given.display();
    let canonical = std::fs::canonicalize(given).map_err(|e| {
        format!("workspace: `{shown}`: cannot be used: {e}; give an existing directory")
    })?;
    if !canonical.is_dir() {
        return Err(format!("workspace: `{shown}`: not a directory"));
    }
    if canonical.to_str().is_none() {
        return Err(format!("workspace: `{shown}`: the path is not valid UTF-8"));
    }
    if canonical == Path::new("/") {
        return Err(format!(
            "workspace: `{shown}` is the root directory; give the project directory the agent works in"
        ));
    }
    if validate::covers_home(&canonical, home) {
        return Err(format!(
            "workspace: `{shown}` is the home directory or contains it; give a project directory inside it instead"
        ));
    }
    Ok(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lg-sbx-{name}-{}", crate::crypto::uuid::v4()));
        std::fs::create_dir_all(d.join("home/dev/proj")).unwrap();
        std::fs::canonicalize(d).unwrap()
    }

    fn inputs(dir: &Path) -> Inputs {
        Inputs {
            command: vec!["my-agent".into()],
            default_gate_socket: PathBuf::from("/run/user/1/latchgate/gate.sock"),
            cwd: dir.join("home/dev/proj"),
            home: Some(dir.join("home/dev")),
            ..Inputs::default()
        }
    }

    fn toml_layer(text: &str) -> Layer {
        super::super::config::from_file_text("t.toml", text).unwrap()
    }

    #[test]
    fn defaults_without_profile() {
        let dir = scratch("defaults");
        let s = resolve(inputs(&dir)).unwrap();
        assert_eq!(s.profile, None);
        assert_eq!(s.workspace, dir.join("home/dev/proj"));
        assert_eq!(s.allow_hosts, profiles::DEFAULT_HOSTS);
        assert_eq!(s.pass_env, vec!["TERM", "LANG"]);
        assert!(s.ro_mounts.is_empty() && s.credentials.is_empty());
        assert_eq!(
            s.gate_socket,
            PathBuf::from("/run/user/1/latchgate/gate.sock")
        );
        assert_eq!(s.command, vec!["my-agent"]);
    }

    #[test]
    fn profile_alias_supplies_hosts_routes_and_command() {
        let dir = scratch("profile");
        let mut i = inputs(&dir);
        i.cli.profile = Some("claude".into());
        i.command.clear();
        let s = resolve(i).unwrap();
        assert_eq!(s.profile.as_deref(), Some("claude-code"));
        assert_eq!(s.command, vec!["claude"]);
        assert!(s.allow_hosts.contains(&"platform.claude.com".to_string()));
        assert_eq!(s.credentials.len(), 1);
        assert_eq!(s.credentials[0].base_url_var(), "ANTHROPIC_BASE_URL");
    }

    #[test]
    fn precedence_cli_over_standalone_over_gate_over_profile() {
        let dir = scratch("prec");
        let other = dir.join("home/dev/other");
        std::fs::create_dir_all(&other).unwrap();
        let mut i = inputs(&dir);
        i.gate = Some(toml_layer(&format!(
            "profile = \"codex\"\nworkspace = \"{}\"\nallow_hosts = [\"gate.example\"]\npass_env = [\"GATE_VAR\"]\ngate_socket = \"/g/gate.sock\"\n[credentials.openai]\nupstream = \"https://gate.example/v1\"\nheader = \"Authorization\"\nkey_source = \"env:GATE_KEY\"\n",
            other.display()
        )));
        i.standalone = Some(toml_layer(
            "allow_hosts = [\"file.example\"]\ngate_socket = \"/f/gate.sock\"\n[credentials.mine]\nupstream = \"https://file.example\"\nheader = \"x-key\"\nkey_source = \"secret:MINE\"\n",
        ));
        i.cli.allow_hosts = Some(vec!["cli.example".into(), "file.example".into()]);
        i.cli.pass_env = Some(vec!["GITHUB_TOKEN".into()]);
        i.cli.workspace = Some(dir.join("home/dev/proj"));
        let s = resolve(i.clone()).unwrap();
        assert_eq!(
            s.profile.as_deref(),
            Some("codex"),
            "profile from the gate file"
        );
        // The standalone list replaces the gate's; CLI flags extend it, no duplicates.
        assert_eq!(s.allow_hosts, vec!["file.example", "cli.example"]);
        assert_eq!(s.pass_env, vec!["GATE_VAR", "GITHUB_TOKEN"]);
        assert_eq!(s.gate_socket, PathBuf::from("/f/gate.sock"));
        assert_eq!(s.workspace, dir.join("home/dev/proj"), "CLI wins");
        // Routes by name: the gate file's `openai` replaces the profile's.
        let names: Vec<_> = s.credentials.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, vec!["openai", "mine"]);
        assert_eq!(s.credentials[0].upstream, "https://gate.example/v1");

        i.cli.gate_socket = Some(PathBuf::from("/c/gate.sock"));
        i.cli.workspace = None;
        i.cli.profile = Some("aider".into());
        let s = resolve(i).unwrap();
        assert_eq!(s.gate_socket, PathBuf::from("/c/gate.sock"));
        assert_eq!(s.workspace, other, "the gate file's workspace");
        assert_eq!(s.profile.as_deref(), Some("aider"));
        assert_eq!(
            s.pass_env,
            vec!["GATE_VAR", "GITHUB_TOKEN"],
            "file list over profile"
        );
    }

    #[test]
    fn cli_lists_extend_profile_defaults() {
        let dir = scratch("extend");
        let mut i = inputs(&dir);
        i.cli.profile = Some("codex".into());
        i.cli.allow_hosts = Some(vec!["api.deepseek.com".into()]);
        i.cli.ro_mounts = Some(vec![dir.join("home/dev/proj")]);
        let s = resolve(i.clone()).unwrap();
        assert_eq!(s.allow_hosts, vec!["api.openai.com", "api.deepseek.com"]);
        assert_eq!(s.ro_mounts, vec![dir.join("home/dev/proj")]);
        i.cli.ro_mounts = Some(vec![dir.join("missing")]);
        let e = resolve(i).unwrap_err().join("\n");
        assert!(
            e.contains("ro_mounts: `") && e.contains("give an existing path"),
            "{e}"
        );
    }

    #[test]
    fn workspace_root_home_and_ancestors_refused() {
        let dir = scratch("ws");
        for (ws, why) in [
            (PathBuf::from("/"), "root directory"),
            (dir.join("home/dev"), "home directory"),
            (dir.join("home"), "home directory"),
            (dir.join("missing"), "cannot be used"),
        ] {
            let mut i = inputs(&dir);
            i.cli.workspace = Some(ws.clone());
            let e = resolve(i).unwrap_err().join("\n");
            assert!(
                e.contains("workspace: `") && e.contains(why),
                "{}: {e}",
                ws.display()
            );
        }
        // A symlink to the home directory is refused too (canonical compare).
        let link = dir.join("home/dev/proj/link");
        std::os::unix::fs::symlink(dir.join("home/dev"), &link).unwrap();
        let mut i = inputs(&dir);
        i.cli.workspace = Some(link);
        assert!(resolve(i).unwrap_err().join("").contains("home directory"));
    }

    #[test]
    fn route_variable_cannot_be_passed_and_command_needed() {
        let dir = scratch("routevar");
        let mut i = inputs(&dir);
        i.cli.profile = Some("codex".into());
        i.cli.pass_env = Some(vec!["OPENAI_BASE_URL".into()]);
        let e = resolve(i).unwrap_err().join("\n");
        assert!(e.contains("`OPENAI_BASE_URL` is reserved"), "{e}");

        let mut i = inputs(&dir);
        i.cli.profile = Some("codex".into());
        i.cli.pass_env = Some(vec!["OPENAI_API_KEY".into()]);
        let e = resolve(i).unwrap_err().join("\n");
        assert!(
            e.contains("pass_env: `OPENAI_API_KEY` is the key source of credential route `openai`"),
            "{e}"
        );

        let mut i = inputs(&dir);
        i.command.clear();
        let e = resolve(i).unwrap_err().join("\n");
        assert!(e.contains("command: none given"), "{e}");

        let mut i = inputs(&dir);
        let link = dir.join("home/dev/proj/to-home");
        std::os::unix::fs::symlink(dir.join("home/dev"), &link).unwrap();
        i.cli.ro_mounts = Some(vec![dir.join("home"), link]);
        let e = resolve(i).unwrap_err().join("\n");
        assert!(
            e.contains("ro_mounts") && e.contains("home directory"),
            "{e}"
        );
        assert!(
            e.contains("to-home` is the home directory"),
            "symlink resolved: {e}"
        );

        let mut i = inputs(&dir);
        i.cli.profile = Some("nope".into());
        let e = resolve(i).unwrap_err().join("\n");
        assert!(e.contains("--profile: `nope` is not a profile"), "{e}");
    }
}
