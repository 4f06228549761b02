//! `latchgate secrets` and `latchgate actions` against the real binary, and
//! the gate's refusal of a call whose required secret is configured nowhere.

mod common;

use common::{Agent, Gate, Opts};
use latchgate::json::{self, Value};
use latchgate::obj;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

fn cli_with_stdin(gate: &Gate, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(common::bin())
        .args(args)
        .env("LATCHGATE_CONFIG", &gate.config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The command may refuse its arguments and exit before reading stdin:
    // a broken pipe here is not a failure.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn secrets_store_never_shows_values_and_actions_report_them() {
    let gate = Gate::start_with("secrets-cli", Opts::default());
    let value = "ghp_test_value_0123456789";

    // Missing: the call is refused before anything runs, naming the secret.
    let agent = Agent::lease(&gate, None);
    let r = agent.execute(&gate, "github_read", &obj! { "path" => "repos/octo/hello" });
    assert_eq!((r.status, r.code().as_str()), (403, "secret_missing"));
    let body = r.json();
    assert_eq!(
        body.get("secret").and_then(Value::as_str),
        Some("GITHUB_TOKEN")
    );
    assert!(body
        .get("remediation")
        .and_then(Value::as_str)
        .unwrap()
        .contains("latchgate secrets set GITHUB_TOKEN"));
    let out = gate.cli(&["actions", "show", "github_read"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("GITHUB_TOKEN -> header Authorization: MISSING"),
        "{}",
        text(&out)
    );

    // set: value from stdin, never printed.
    let out = cli_with_stdin(
        &gate,
        &["secrets", "set", "GITHUB_TOKEN"],
        &format!("{value}\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(value));
    let store = gate.data().join("secrets.json");
    let mode = std::fs::metadata(&store).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // list: names only.
    let out = gate.cli(&["secrets", "list"]);
    assert!(text(&out).contains("GITHUB_TOKEN") && !text(&out).contains(value));

    // actions now report it configured; the JSON form too.
    let out = gate.cli(&["actions", "show", "github_read"]);
    assert!(text(&out).contains("configured (store)"), "{}", text(&out));
    let out = gate.cli(&["actions", "list", "--json"]);
    let list = json::parse(&out.stdout).unwrap();
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a.get("action_id").and_then(Value::as_str) == Some("github_read"))
        .cloned()
        .unwrap();
    let secret = &entry.get("secrets").and_then(Value::as_array).unwrap()[0];
    assert_eq!(secret.get("configured"), Some(&Value::Bool(true)));
    assert!(!out
        .stdout
        .windows(value.len())
        .any(|w| w == value.as_bytes()));
    let out = gate.cli(&["actions", "list"]);
    assert!(out.status.success());
    assert!(text(&out).lines().count() >= 80, "{}", text(&out));

    // Bad names and values are refused with the rule; rm works once.
    let out = cli_with_stdin(&gate, &["secrets", "set", "lower"], "x");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("[A-Z][A-Z0-9_]"));
    let out = cli_with_stdin(&gate, &["secrets", "set", "EMPTY"], "");
    assert!(!out.status.success());
    assert!(text(&out).contains("empty"));
    assert!(gate
        .cli(&["secrets", "rm", "GITHUB_TOKEN"])
        .status
        .success());
    assert_eq!(
        gate.cli(&["secrets", "rm", "GITHUB_TOKEN"]).status.code(),
        Some(1)
    );
    assert!(!std::fs::read_to_string(&store).unwrap().contains(value));
    let out = gate.cli(&["actions", "show", "no_such_action"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("no_such_action"));
}

#[test]
fn config_secret_sources_are_validated() {
    let dir = common::scratch("secret-src");
    let cfg = dir.join("latchgate.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"{}\"\n[secrets]\nGITHUB_TOKEN = \"ghp_inline_value\"\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let out = Command::new(common::bin())
        .args(["actions", "list", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let t = text(&out);
    assert!(
        t.contains("secrets.GITHUB_TOKEN") && t.contains("env:VARIABLE"),
        "{t}"
    );
    assert!(!t.contains("ghp_inline_value"), "{t}");
}
