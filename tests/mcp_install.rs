//! `latchgate-mcp install`: the real binary, run with HOME and the XDG,
//! Codex and Claude variables pointed at scratch directories.

mod common;

use common::scratch;
use latchgate::json::{self, Value};
use latchgate::toml::{self, TValue};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

/// The binary under test: $LATCHGATE_MCP_BIN, else beside $LATCHGATE_BIN,
/// else the static release build.
fn mcp_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("LATCHGATE_MCP_BIN") {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("LATCHGATE_BIN") {
        return PathBuf::from(p).with_file_name("latchgate-mcp");
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/x86_64-unknown-linux-musl/release/latchgate-mcp");
    assert!(
        p.is_file(),
        "{} is missing: run `cargo build --release` first",
        p.display()
    );
    p
}

const BIN: &str = "/opt/lg/latchgate-mcp";
const URL: &str = "http://127.0.0.1:9";

/// A scratch HOME plus a project directory to run in.
struct Home {
    root: PathBuf,
    home: PathBuf,
    cwd: PathBuf,
    vars: Vec<(String, PathBuf)>,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Home {
    fn new(name: &str) -> Home {
        let root = scratch(name);
        let home = root.join("home");
        let cwd = root.join("project");
        fs::create_dir_all(&home).unwrap();
        fs::create_dir_all(&cwd).unwrap();
        let vars = vec![
            ("HOME".to_string(), home.clone()),
            ("XDG_CONFIG_HOME".to_string(), home.join(".config")),
            ("XDG_RUNTIME_DIR".to_string(), root.join("run")),
            ("CODEX_HOME".to_string(), home.join("codex-home")),
        ];
        Home {
            root,
            home,
            cwd,
            vars,
        }
    }

    fn set(&mut self, name: &str, value: PathBuf) {
        self.vars.push((name.to_string(), value));
    }

    /// `latchgate-mcp install ARGS` with only our environment.
    fn install(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(mcp_bin());
        cmd.arg("install")
            .args(args)
            .current_dir(&self.cwd)
            .env_clear();
        cmd.env("PATH", "/usr/bin:/bin");
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        let Output {
            status,
            stdout,
            stderr,
        } = cmd.output().expect("run latchgate-mcp");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8(stdout).unwrap(),
            stderr: String::from_utf8(stderr).unwrap(),
        }
    }

    /// Install with a fixed binary and gate so the entry is predictable.
    fn ok(&self, ide: &str, extra: &[&str]) -> Run {
        let mut args = vec!["--ide", ide, "--binary-path", BIN, "--gate-url", URL];
        args.extend_from_slice(extra);
        let r = self.install(&args);
        assert_eq!(
            r.code, 0,
            "install --ide {ide} failed:\n{}\n{}",
            r.stdout, r.stderr
        );
        r
    }
}

/// Each IDE: its name, its file under HOME, where the entry sits, its shape.
const TARGETS: &[(&str, &str, &[&str], Shape)] = &[
    ("claude-code", ".claude.json", &["mcpServers"], Shape::Typed),
    (
        "claude",
        ".config/Claude/claude_desktop_config.json",
        &["mcpServers"],
        Shape::Plain,
    ),
    ("cursor", ".cursor/mcp.json", &["mcpServers"], Shape::Plain),
    (
        "windsurf",
        ".codeium/windsurf/mcp_config.json",
        &["mcpServers"],
        Shape::Plain,
    ),
    (
        "cline",
        ".config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
        &["mcpServers"],
        Shape::Plain,
    ),
    (
        "copilot",
        ".config/Code/User/mcp.json",
        &["servers"],
        Shape::Typed,
    ),
    (
        "opencode",
        ".config/opencode/opencode.json",
        &["mcp"],
        Shape::OpenCode,
    ),
    (
        "codex",
        "codex-home/config.toml",
        &["mcp_servers"],
        Shape::Toml,
    ),
];

#[derive(Clone, Copy, PartialEq, Debug)]
enum Shape {
    Typed,
    Plain,
    OpenCode,
    Toml,
}

fn agent_id(ide: &str) -> &str {
    if ide == "claude" {
        "claude-desktop"
    } else {
        ide
    }
}

fn strs(v: &[&str]) -> Vec<Value> {
    v.iter().map(|s| Value::from(*s)).collect()
}

/// The JSON entry a `Home::ok` install writes.
fn expected_entry(ide: &str, shape: Shape) -> Value {
    let env = latchgate::obj! { "LATCHGATE_AGENT_ID" => agent_id(ide), "RUST_LOG" => "warn" };
    let args = strs(&["serve", "--gate-url", URL]);
    match shape {
        Shape::Typed => {
            latchgate::obj! { "type" => "stdio", "command" => BIN, "args" => args, "env" => env }
        }
        Shape::Plain => latchgate::obj! { "command" => BIN, "args" => args, "env" => env },
        Shape::OpenCode => latchgate::obj! {
            "type" => "local",
            "command" => strs(&[BIN, "serve", "--gate-url", URL]),
            "environment" => env,
            "enabled" => true,
        },
        Shape::Toml => unreachable!(),
    }
}

fn read_json(path: &Path) -> Value {
    let text = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    json::parse(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn get<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| {
        v.get(k)
            .unwrap_or_else(|| panic!("no `{k}` in {}", v.to_json()))
    })
}

/// Checks the codex entry in `config.toml` text.
fn check_codex(text: &str, bin: &str, args: &[&str]) {
    let root = toml::parse(text).unwrap();
    let entry = match &root.get("mcp_servers").unwrap().value {
        TValue::Table(t) => match &t.get("latchgate").unwrap().value {
            TValue::Table(e) => e.clone(),
            other => panic!("latchgate is {other:?}"),
        },
        other => panic!("mcp_servers is {other:?}"),
    };
    assert_eq!(
        entry.get("command").unwrap().value,
        TValue::String(bin.into())
    );
    let got: Vec<TValue> = match &entry.get("args").unwrap().value {
        TValue::Array(items) => items.iter().map(|i| i.value.clone()).collect(),
        other => panic!("args is {other:?}"),
    };
    let want: Vec<TValue> = args.iter().map(|a| TValue::String(a.to_string())).collect();
    assert_eq!(got, want);
    let env: Vec<(String, TValue)> = match &entry.get("env").unwrap().value {
        TValue::Table(t) => t
            .iter()
            .map(|(k, i)| (k.clone(), i.value.clone()))
            .collect(),
        other => panic!("env is {other:?}"),
    };
    assert_eq!(
        env,
        vec![
            (
                "LATCHGATE_AGENT_ID".to_string(),
                TValue::String("codex".into())
            ),
            ("RUST_LOG".to_string(), TValue::String("warn".into())),
        ]
    );
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Everything under `dir`: type, mode, size, mtime and contents.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (String, u32, SystemTime, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            let (kind, body) = if m.file_type().is_symlink() {
                (
                    "link",
                    fs::read_link(&p)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                )
            } else if m.is_dir() {
                todo.push(p.clone());
                ("dir", Vec::new())
            } else {
                ("file", fs::read(&p).unwrap())
            };
            let mode = m.permissions().mode();
            out.insert(p, (kind.to_string(), mode, m.modified().unwrap(), body));
        }
    }
    out
}

#[test]
fn every_ide_gets_its_own_file_with_the_right_shape() {
    for &(ide, rel, container, shape) in TARGETS {
        let h = Home::new(ide);
        let r = h.ok(ide, &[]);
        let path = h.home.join(rel);
        assert!(
            r.stdout.contains(&path.display().to_string()),
            "{}",
            r.stdout
        );
        assert!(
            r.stdout.contains("Added the latchgate MCP server"),
            "{}",
            r.stdout
        );
        assert_eq!(mode(&path), 0o600, "{ide}: a new user config is private");
        // Every directory the install created under HOME is 0700.
        for dir in path.ancestors().skip(1).take_while(|d| *d != h.home) {
            assert_eq!(mode(dir), 0o700, "{ide}: {}", dir.display());
        }
        if shape == Shape::Toml {
            check_codex(
                &fs::read_to_string(&path).unwrap(),
                BIN,
                &["serve", "--gate-url", URL],
            );
            continue;
        }
        let doc = read_json(&path);
        let servers = get(&doc, container);
        assert_eq!(
            servers.get("latchgate"),
            Some(&expected_entry(ide, shape)),
            "{ide}: {}",
            doc.to_json()
        );
        assert_eq!(
            doc.as_object().unwrap().len(),
            1,
            "{ide}: nothing else added"
        );
    }
}

#[test]
fn environment_overrides_move_the_files() {
    let mut h = Home::new("overrides");
    h.set("CLAUDE_CONFIG_DIR", h.root.join("claude-dir"));
    h.ok("claude-code", &[]);
    assert!(h.root.join("claude-dir/.claude.json").is_file());
    assert!(!h.home.join(".claude.json").exists());
    h.set("XDG_CONFIG_HOME", h.root.join("xdg"));
    h.ok("opencode", &[]);
    assert!(h.root.join("xdg/opencode/opencode.json").is_file());
}

#[test]
fn transport_comes_from_the_gate_config_unless_flags_say() {
    let mut h = Home::new("transport");
    let args_of = |h: &Home| -> Vec<Value> {
        get(
            &read_json(&h.home.join(".cursor/mcp.json")),
            &["mcpServers", "latchgate", "args"],
        )
        .as_array()
        .unwrap()
        .clone()
    };
    // No gate config: the default socket and the gate's default base URL.
    let r = h.install(&["--ide", "cursor", "--binary-path", BIN]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let args = args_of(&h);
    assert_eq!(args.len(), 5);
    assert_eq!(args[..2], strs(&["serve", "--gate-socket"]));
    assert!(args[2].as_str().unwrap().ends_with("/gate.sock"));
    assert_eq!(
        args[3..],
        strs(&["--public-base-url", "http://localhost:3000"])
    );

    // The gate's config: its socket and public_base_url.
    let cfg = h.root.join("latchgate.toml");
    fs::write(
        &cfg,
        "listen_uds_path = \"/srv/lg/gate.sock\"\npublic_base_url = \"http://gate.test:4000\"\n",
    )
    .unwrap();
    h.set("LATCHGATE_CONFIG", cfg.clone());
    let r = h.install(&["--ide", "cursor", "--binary-path", BIN]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("Updated") && r.stdout.contains("previous entry was replaced"),
        "{}",
        r.stdout
    );
    assert_eq!(
        args_of(&h),
        strs(&[
            "serve",
            "--gate-socket",
            "/srv/lg/gate.sock",
            "--public-base-url",
            "http://gate.test:4000"
        ])
    );

    // A TCP listener in the config wins, as in v0.2; the wildcard becomes loopback.
    fs::write(
        &cfg,
        "listen_http_addr = \"0.0.0.0:3999\"\npublic_base_url = \"http://gate.test:4000\"\n",
    )
    .unwrap();
    assert_eq!(
        h.install(&["--ide", "cursor", "--binary-path", BIN]).code,
        0
    );
    assert_eq!(
        args_of(&h),
        strs(&[
            "serve",
            "--gate-url",
            "http://127.0.0.1:3999",
            "--public-base-url",
            "http://gate.test:4000"
        ])
    );

    // Flags beat the config; a relative socket path is made absolute.
    let r = h.install(&[
        "--ide",
        "cursor",
        "--binary-path",
        BIN,
        "--gate-socket",
        "g.sock",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sock = h.cwd.join("g.sock").display().to_string();
    assert_eq!(
        args_of(&h),
        strs(&[
            "serve",
            "--gate-socket",
            &sock,
            "--public-base-url",
            "http://gate.test:4000"
        ])
    );

    // A broken gate config is a note, not a failure.
    fs::write(&cfg, "no_such_key = 1\n").unwrap();
    let r = h.install(&["--ide", "cursor", "--binary-path", BIN]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("could not read the gate's config"),
        "{}",
        r.stderr
    );

    // Without --binary-path the entry runs this very binary.
    let r = h.install(&["--ide", "cursor", "--gate-url", URL]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let cmd = get(
        &read_json(&h.home.join(".cursor/mcp.json")),
        &["mcpServers", "latchgate", "command"],
    )
    .clone();
    assert_eq!(
        cmd,
        Value::from(fs::canonicalize(mcp_bin()).unwrap().to_str().unwrap())
    );
}

#[test]
fn merge_keeps_other_servers_and_keys_byte_for_byte() {
    let h = Home::new("merge");
    let path = h.home.join(".claude.json");
    let head = "{\n    \"numStartups\": 41,\n    \"big\": 123456789012345678901234567890,\n    \"ratio\": 1.50,\n    \"mcpServers\": {\n        \"other\": {\n            \"command\": \"npx\",\n            \"args\": [\"-y\", \"x\"]\n        }";
    let tail =
        "\n    },\n    \"projects\": {\"/p\": {\"mcpServers\": {}}},\n    \"userID\": \"abc\"\n}\n";
    let original = format!("{head}{tail}");
    fs::write(&path, &original).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();

    h.ok("claude-code", &[]);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(head), "{text}");
    assert!(text.ends_with(tail), "{text}");
    assert_eq!(mode(&path), 0o640, "the file's mode is kept");
    assert_eq!(
        fs::read_to_string(h.home.join(".claude.json.bak")).unwrap(),
        original
    );

    // Same document with the entry taken out: every other key, in order.
    let mut doc = read_json(&path);
    let before = json::parse(original.as_bytes()).unwrap();
    let Value::Object(root) = &mut doc else {
        panic!()
    };
    let Some(Value::Object(servers)) = root.get_mut("mcpServers") else {
        panic!()
    };
    assert_eq!(
        servers.remove("latchgate"),
        Some(expected_entry("claude-code", Shape::Typed))
    );
    assert_eq!(doc, before);

    // An older latchgate entry is replaced in place, the others stay.
    let old = original.replace(
        "\"other\"",
        "\"latchgate\": {\"command\": \"/old\"},\n        \"other\"",
    );
    fs::write(&path, &old).unwrap();
    let r = h.ok("claude-code", &[]);
    assert!(
        r.stdout.contains("previous entry was replaced"),
        "{}",
        r.stdout
    );
    let doc = read_json(&path);
    let names: Vec<&String> = get(&doc, &["mcpServers"])
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(names, ["latchgate", "other"]);
    assert_eq!(
        fs::read_to_string(h.home.join(".claude.json.bak")).unwrap(),
        old
    );
}

#[test]
fn jsonc_configs_keep_their_comments() {
    let h = Home::new("jsonc");
    let path = h.home.join(".config/Code/User/mcp.json");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let original = "{\n\t// my servers\n\t\"servers\": {\n\t\t\"github\": {\"type\": \"http\", \"url\": \"https://x\"}, // remote\n\t},\n\t\"inputs\": [],\n}\n";
    fs::write(&path, original).unwrap();
    h.ok("copilot", &[]);
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("// my servers") && text.contains("// remote"),
        "{text}"
    );
    assert!(
        text.contains("\n\t\t\"latchgate\": {\n\t\t\t\"type\": \"stdio\""),
        "tabs kept: {text}"
    );
    assert!(text.ends_with("\t\"inputs\": [],\n}\n"), "{text}");

    // opencode: other keys and servers stay; the 2.x nested map is used when present.
    let oc = h.home.join(".config/opencode/opencode.json");
    fs::create_dir_all(oc.parent().unwrap()).unwrap();
    fs::write(&oc, "{\"$schema\": \"https://opencode.ai/config.json\", \"model\": \"m\", \"mcp\": {\"servers\": {\"a\": {\"type\": \"remote\", \"url\": \"https://a\"}}}}").unwrap();
    h.ok("opencode", &[]);
    let doc = read_json(&oc);
    assert_eq!(get(&doc, &["model"]), &Value::from("m"));
    assert!(get(&doc, &["mcp", "servers", "a"]).as_object().is_some());
    assert_eq!(
        get(&doc, &["mcp", "servers", "latchgate"]),
        &expected_entry("opencode", Shape::OpenCode)
    );
}

#[test]
fn second_install_is_idempotent_for_every_ide() {
    for &(ide, rel, _, _) in TARGETS {
        let h = Home::new(&format!("twice-{ide}"));
        let path = h.home.join(rel);
        // Start from an existing file so the first run makes a backup.
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let seed = if ide == "codex" {
            "model = \"o3\"\n"
        } else {
            "{\"keep\": 1}\n"
        };
        fs::write(&path, seed).unwrap();
        h.ok(ide, &[]);
        let bak = fsio_bak(&path);
        assert_eq!(fs::read_to_string(&bak).unwrap(), seed, "{ide}");
        let before = snapshot(&h.root);
        let r = h.ok(ide, &[]);
        assert!(
            r.stdout.contains("already up to date"),
            "{ide}: {}",
            r.stdout
        );
        assert_eq!(
            snapshot(&h.root),
            before,
            "{ide}: the second run changed files"
        );
    }
}

fn fsio_bak(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap().to_os_string();
    name.push(".bak");
    path.with_file_name(name)
}

#[test]
fn dry_run_writes_nothing_and_prints_the_exact_entry() {
    for &(ide, rel, container, shape) in TARGETS {
        let h = Home::new(&format!("dry-{ide}"));
        let path = h.home.join(rel);
        for existing in [false, true] {
            if existing {
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                let seed = if ide == "codex" {
                    "a = 1\n"
                } else {
                    "{\"a\": 1}"
                };
                fs::write(&path, seed).unwrap();
            }
            let before = snapshot(&h.root);
            let r = h.ok(ide, &["--dry-run"]);
            assert_eq!(
                snapshot(&h.root),
                before,
                "{ide}: --dry-run touched the file system"
            );
            assert!(
                r.stderr
                    .contains(&format!("# Would write to: {}", path.display())),
                "{ide}: {}",
                r.stderr
            );
            if shape == Shape::Toml {
                check_codex(&r.stdout, BIN, &["serve", "--gate-url", URL]);
                continue;
            }
            let snippet =
                json::parse(r.stdout.as_bytes()).expect("stdout is the JSON snippet alone");
            assert_eq!(
                get(&snippet, container).get("latchgate"),
                Some(&expected_entry(ide, shape))
            );
        }
        // The snippet is exactly what a real install then writes.
        let dry = h.ok(ide, &["--dry-run"]).stdout;
        h.ok(ide, &[]);
        let written = fs::read_to_string(&path).unwrap();
        if shape == Shape::Toml {
            assert!(written.ends_with(&dry), "{ide}:\n{written}\n--\n{dry}");
        } else {
            let snippet = json::parse(dry.as_bytes()).unwrap();
            let doc = read_json(&path);
            assert_eq!(
                get(&doc, container).get("latchgate"),
                get(&snippet, container).get("latchgate")
            );
        }
    }
}

#[test]
fn unusable_files_are_refused_and_left_untouched() {
    let cases: &[(&str, &str)] = &[
        ("{\"mcpServers\": {", "not valid JSON"),
        ("[]", "top level is a JSON array"),
        ("\"text\"", "top level is a JSON string"),
        ("{\"mcpServers\": []}", "`mcpServers` is a JSON array"),
        ("{\"mcpServers\": \"x\"}", "`mcpServers` is a JSON string"),
        ("{// comment\n}", "not valid JSON"),
        ("{\"a\": 1, \"a\": 2}", "not valid JSON"),
    ];
    for (i, (content, why)) in cases.iter().enumerate() {
        let h = Home::new(&format!("bad-{i}"));
        let path = h.home.join(".claude.json");
        fs::write(&path, content).unwrap();
        let before = snapshot(&h.root);
        let r = h.install(&[
            "--ide",
            "claude-code",
            "--binary-path",
            BIN,
            "--gate-url",
            URL,
        ]);
        assert_eq!(r.code, 1, "{content}: {}", r.stdout);
        assert!(
            r.stderr.contains(&path.display().to_string()),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains(why), "{content}: {}", r.stderr);
        assert!(r.stderr.contains("left untouched"), "{}", r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
        assert_eq!(
            snapshot(&h.root),
            before,
            "{content}: something was written"
        );
    }

    // Not a file, and not text.
    let h = Home::new("bad-kind");
    fs::create_dir_all(h.home.join(".cursor/mcp.json")).unwrap();
    let r = h.ok_or_fail("cursor");
    assert!(
        r.code == 1 && r.stderr.contains("not a regular file"),
        "{}",
        r.stderr
    );
    fs::write(h.home.join(".claude.json"), [b'{', 0xff, b'}']).unwrap();
    let r = h.ok_or_fail("claude-code");
    assert!(
        r.code == 1 && r.stderr.contains("not UTF-8"),
        "{}",
        r.stderr
    );

    // Codex: invalid TOML, or an entry we cannot rewrite safely.
    for (content, why) in [
        ("[mcp_servers\n", "not valid TOML"),
        ("mcp_servers = 3\n", "should be a table"),
        (
            "[mcp_servers]\nlatchgate = { command = \"x\" }\n",
            "cannot rewrite safely",
        ),
    ] {
        let h = Home::new("bad-codex");
        let path = h.home.join("codex-home/config.toml");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
        let before = snapshot(&h.root);
        let r = h.ok_or_fail("codex");
        assert_eq!(r.code, 1, "{content}");
        assert!(
            r.stderr.contains(why) && r.stderr.contains("left untouched"),
            "{}",
            r.stderr
        );
        assert_eq!(snapshot(&h.root), before);
    }
}

impl Home {
    fn ok_or_fail(&self, ide: &str) -> Run {
        self.install(&["--ide", ide, "--binary-path", BIN, "--gate-url", URL])
    }
}

#[test]
fn codex_append_and_replace_keep_the_rest_byte_identical() {
    let h = Home::new("codex");
    let path = h.home.join("codex-home/config.toml");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let original = "# my codex\nmodel = \"o3\"\n\n[profiles.fast]\nmodel = \"o4-mini\" # quick\n\n[mcp_servers.other]\ncommand = \"npx\"\nargs = [\n  \"-y\",\n  \"x\",\n]\n";
    fs::write(&path, original).unwrap();
    h.ok("codex", &[]);
    let appended = fs::read_to_string(&path).unwrap();
    assert!(appended.starts_with(original), "{appended}");
    check_codex(&appended, BIN, &["serve", "--gate-url", URL]);

    // Replace: a new binary path changes only our two tables.
    let before = "a = 1\n\n[mcp_servers.latchgate]\ncommand = \"/old\"\nargs = [\"serve\"]\nstartup_timeout_sec = 5\n\n# env below\n[mcp_servers.latchgate.env]\nOLD = \"1\"\n\n# the next table\n[tui]\nx = \"\"\"\n[mcp_servers.latchgate]\n\"\"\"\n";
    fs::write(&path, before).unwrap();
    let r = h.install(&[
        "--ide",
        "codex",
        "--binary-path",
        "/new/latchgate-mcp",
        "--gate-url",
        URL,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let after = fs::read_to_string(&path).unwrap();
    let want = format!(
        "a = 1\n\n[mcp_servers.latchgate]\ncommand = \"/new/latchgate-mcp\"\nargs = [\"serve\", \"--gate-url\", \"{URL}\"]\n\n# env below\n[mcp_servers.latchgate.env]\nLATCHGATE_AGENT_ID = \"codex\"\nRUST_LOG = \"warn\"\n\n# the next table\n[tui]\nx = \"\"\"\n[mcp_servers.latchgate]\n\"\"\"\n"
    );
    assert_eq!(after, want);
    assert_eq!(fs::read_to_string(fsio_bak(&path)).unwrap(), before);
}

#[test]
fn project_scope_writes_in_the_current_directory() {
    let h = Home::new("project");
    h.ok("claude-code", &["--scope", "project"]);
    let doc = read_json(&h.cwd.join(".mcp.json"));
    assert_eq!(
        get(&doc, &["mcpServers", "latchgate"]),
        &expected_entry("claude-code", Shape::Typed)
    );
    assert!(
        !h.home.join(".claude.json").exists(),
        "user config untouched"
    );
    h.ok("cursor", &["--scope", "project"]);
    assert!(h.cwd.join(".cursor/mcp.json").is_file());
    h.ok("copilot", &["--scope", "project"]);
    assert!(h.cwd.join(".vscode/mcp.json").is_file());
    h.ok("opencode", &["--scope", "project"]);
    assert!(h.cwd.join("opencode.json").is_file());
    h.ok("codex", &["--scope", "project"]);
    assert!(h.cwd.join(".codex/config.toml").is_file());
    // Project files are for sharing: 0644 less the umask, not private.
    let probe = h.root.join("umask-probe");
    fs::write(&probe, "").unwrap();
    assert_eq!(mode(&h.cwd.join(".mcp.json")), mode(&probe) & 0o644);
}

#[test]
fn symlinked_config_stays_a_link() {
    let h = Home::new("symlink");
    let dotfiles = h.root.join("dotfiles");
    fs::create_dir_all(&dotfiles).unwrap();
    fs::write(dotfiles.join("claude.json"), "{\"theme\": \"dark\"}").unwrap();
    symlink(dotfiles.join("claude.json"), h.home.join(".claude.json")).unwrap();
    h.ok("claude-code", &[]);
    let link = h.home.join(".claude.json");
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let doc = read_json(&dotfiles.join("claude.json"));
    assert_eq!(get(&doc, &["theme"]), &Value::from("dark"));
    assert!(doc.get("mcpServers").is_some());
}

#[test]
fn bad_usage_exits_2() {
    let h = Home::new("usage");
    for (args, why) in [
        (&[][..], "--ide is required"),
        (&["--ide", "emacs"][..], "unknown IDE"),
        (
            &["--ide", "claude", "--scope", "project"][..],
            "allowed: user",
        ),
        (
            &["--ide", "windsurf", "--scope", "project"][..],
            "allowed: user",
        ),
        (
            &["--ide", "cursor", "--gate-url", URL, "--gate-socket", "/s"][..],
            "not both",
        ),
        (
            &["--ide", "cursor", "--gate-url", "localhost:3000"][..],
            "--gate-url",
        ),
        (&["--ide", "cursor", "--what"][..], "--what"),
    ] {
        let r = h.install(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(why), "{args:?}: {}", r.stderr);
    }
    assert_eq!(snapshot(&h.home).len(), 0, "nothing written on bad usage");
    let r = h.install(&["--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("--ide NAME") && r.stdout.contains("copilot"));
}
