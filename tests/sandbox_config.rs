//! `latchgate sandbox --print-config` on the real binary: profiles and
//! configuration files resolve into the plan; bad values, reserved
//! variables and a workspace of `/` are refused with exit 2 and a message
//! naming the field and the value; nothing is launched yet.

mod common;
use latchgate::json::{self, Value};
use std::path::PathBuf;
use std::process::{Command, Output};

struct Env {
    dir: PathBuf,
    home: PathBuf,
    project: PathBuf,
}

/// A private HOME, project directory and latchgate.toml with `toml` appended.
fn env(name: &str, toml: &str) -> Env {
    let dir = std::fs::canonicalize(common::scratch(name)).unwrap();
    let home = dir.join("home");
    let project = home.join("proj");
    std::fs::create_dir_all(&project).unwrap();
    let cfg = format!(
        "data_dir = \"{d}/data\"\nlisten_uds_path = \"{d}/gate.sock\"\n{toml}",
        d = dir.display()
    );
    std::fs::write(dir.join("latchgate.toml"), cfg).unwrap();
    Env { dir, home, project }
}

fn run(e: &Env, args: &[&str]) -> Output {
    Command::new(common::bin())
        .arg("sandbox")
        .args(args)
        .current_dir(&e.project)
        .env_clear()
        .env("HOME", &e.home)
        .env("LATCHGATE_CONFIG", e.dir.join("latchgate.toml"))
        .output()
        .unwrap()
}

fn plan(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json::parse(&out.stdout).unwrap()
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn refused(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing printed on stdout");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn profile_alias_resolves_with_toml_and_cli_layers() {
    let e = env(
        "sbx-profile",
        "[sandbox.agent]\npass_env = [\"TERM\", \"GITHUB_TOKEN\"]\n",
    );
    let out = run(
        &e,
        &[
            "--profile",
            "claude",
            "--allow-host",
            "api.deepseek.com",
            "--workspace",
            ".",
            "--print-config",
        ],
    );
    let v = plan(&out);
    assert_eq!(
        v.get("profile").and_then(Value::as_str),
        Some("claude-code")
    );
    assert_eq!(
        v.get("workspace").and_then(Value::as_str),
        e.project.to_str(),
        "relative --workspace resolved against the current directory"
    );
    assert_eq!(
        strings(&v, "allow_hosts"),
        [
            "api.anthropic.com",
            "platform.claude.com",
            "statsig.anthropic.com",
            "sentry.io",
            "api.deepseek.com"
        ]
    );
    assert_eq!(strings(&v, "pass_env"), ["TERM", "GITHUB_TOKEN"]);
    assert_eq!(strings(&v, "command"), ["claude"]);
    let gate = e.dir.join("gate.sock");
    assert_eq!(v.get("gate_socket").and_then(Value::as_str), gate.to_str());
    let route = &v.get("credentials").and_then(Value::as_array).unwrap()[0];
    assert_eq!(
        route.get("agent_variable").and_then(Value::as_str),
        Some("ANTHROPIC_BASE_URL")
    );
    assert_eq!(
        route.get("key_source").and_then(Value::as_str),
        Some("env:ANTHROPIC_API_KEY")
    );

    // A standalone file outranks latchgate.toml; the command after `--` wins.
    let file = e.dir.join("agent.toml");
    std::fs::write(&file, "pass_env = [\"LANG\"]\n[credentials.mine]\nupstream = \"https://api.mine.example/v1\"\nheader = \"Authorization\"\nformat = \"Bearer {}\"\nkey_source = \"env:MINE_KEY\"\n").unwrap();
    let v = plan(&run(
        &e,
        &[
            "--sandbox-config",
            file.to_str().unwrap(),
            "--print-config",
            "--",
            "my-agent",
            "--flag",
        ],
    ));
    assert_eq!(v.get("profile"), Some(&Value::Null));
    assert_eq!(strings(&v, "pass_env"), ["LANG"]);
    assert_eq!(strings(&v, "command"), ["my-agent", "--flag"]);
    assert_eq!(
        strings(&v, "allow_hosts"),
        [
            "api.anthropic.com",
            "api.openai.com",
            "generativelanguage.googleapis.com"
        ]
    );
}

#[test]
fn validation_errors_name_field_value_and_allowed() {
    let e = env("sbx-invalid", "");
    let err = refused(&run(
        &e,
        &[
            "--allow-host",
            "https://api.x.com/v1",
            "--print-config",
            "--",
            "a",
        ],
    ));
    assert!(
        err.contains("--allow-host `https://api.x.com/v1`: a scheme is not allowed")
            && err.contains("bare hostname"),
        "{err}"
    );
    let err = refused(&run(&e, &["--profile", "claud", "--print-config"]));
    assert!(
        err.contains("`claud` is not a profile") && err.contains("claude-code"),
        "{err}"
    );

    let e = env(
        "sbx-badtoml",
        "[sandbox.agent]\nallow_hosts = [\"a.example\"]\nro_mount = [\"/opt\"]\n",
    );
    let err = refused(&run(&e, &["--print-config", "--", "a"]));
    assert!(
        err.contains("line 5")
            && err.contains("`sandbox.agent.ro_mount`")
            && err.contains("unknown key"),
        "{err}"
    );
}

#[test]
fn reserved_variables_refused() {
    let e = env("sbx-reserved", "");
    for var in ["PATH", "LATCHGATE_URL", "https_proxy"] {
        let err = refused(&run(&e, &["--pass-env", var, "--print-config", "--", "a"]));
        assert!(
            err.contains(&format!("--pass-env `{var}` is reserved")),
            "{err}"
        );
    }
    let e = env("sbx-reserved2", "[sandbox.agent]\npass_env = [\"HOME\"]\n");
    let err = refused(&run(&e, &["--print-config", "--", "a"]));
    assert!(
        err.contains("`sandbox.agent.pass_env`: `HOME` is reserved"),
        "{err}"
    );
}

#[test]
fn workspace_root_and_home_refused() {
    let e = env("sbx-root", "");
    let err = refused(&run(&e, &["--workspace", "/", "--print-config", "--", "a"]));
    assert!(
        err.contains("workspace: `/` is the root directory"),
        "{err}"
    );
    let home = e.home.to_str().unwrap();
    let err = refused(&run(
        &e,
        &["--workspace", home, "--print-config", "--", "a"],
    ));
    assert!(err.contains("is the home directory"), "{err}");
    let err = refused(&run(
        &e,
        &["--workspace", "..", "--print-config", "--", "a"],
    ));
    assert!(
        err.contains("is the home directory"),
        "relative `..` from the project: {err}"
    );
}

#[test]
fn launch_without_a_gate_is_refused_and_help_lists_flags() {
    let e = env("sbx-launch", "");
    // The configured gate socket does not exist: nothing runs (125).
    let out = run(&e, &["--", "/bin/true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains("is the gate running?"), "{err}");
    let out = run(&e, &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for f in [
        "--profile",
        "--workspace",
        "--allow-host",
        "--ro-mount",
        "--pass-env",
        "--gate-socket",
        "--sandbox-config",
        "--print-config",
    ] {
        assert!(help.contains(f), "{f}");
    }
}
