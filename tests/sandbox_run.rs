//! `latchgate sandbox` under real bwrap: the escape suite in both modes,
//! fail-closed launches, exit codes, signals, and the sandbox dying with
//! latchgate. Nothing here may skip in CI: a missing bwrap or a non-root
//! CI run is a failure, not a pass.

mod common;

use common::{bin, scratch};
use latchgate::json::{self, Value};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The unprivileged account the rootless runs use (and root-assisted runs
/// map the agent to); created on first use.
const TEST_USER: &str = "latchgate-sbx";

fn is_root() -> bool {
    latchgate::sys::spawn::euid() == 0
}

/// (uid, gid) of the test user, creating it when root.
fn test_user() -> (u32, u32) {
    let id = |flag: &str| -> Option<u32> {
        let o = Command::new("id").arg(flag).arg(TEST_USER).output().ok()?;
        String::from_utf8_lossy(&o.stdout).trim().parse().ok()
    };
    if id("-u").is_none() && is_root() {
        let st = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                TEST_USER,
            ])
            .status()
            .unwrap();
        assert!(
            st.success() || id("-u").is_some(),
            "useradd {TEST_USER} failed"
        );
    }
    (id("-u").expect("test user"), id("-g").expect("test user"))
}

/// A sandbox scene: a workspace (a git repository), a gate socket, a host
/// file outside the workspace, all reachable by the test user.
struct Scene {
    dir: PathBuf,
    ws: PathBuf,
    gate: PathBuf,
    _listener: UnixListener,
    host_file: PathBuf,
}

fn scene(name: &str, owner: Option<(u32, u32)>) -> Scene {
    let dir = scratch(name);
    let ws = dir.join("ws");
    std::fs::create_dir_all(ws.join(".git/hooks")).unwrap();
    std::fs::write(
        ws.join(".git/config"),
        "[core]\n\trepositoryformatversion = 0\n",
    )
    .unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sandbox/escape.py"),
        ws.join("escape.py"),
    )
    .unwrap();
    let gate = dir.join("gate.sock");
    let listener = UnixListener::bind(&gate).unwrap();
    std::fs::set_permissions(&gate, std::fs::Permissions::from_mode(0o666)).unwrap();
    // An empty latchgate.toml: defaults everywhere (LATCHGATE_CONFIG points here).
    std::fs::write(
        dir.join("none.toml"),
        format!("data_dir = \"{}\"\n", dir.join("data").display()),
    )
    .unwrap();
    let host_file = dir.join("host-secret.txt");
    std::fs::write(&host_file, "host secret").unwrap();
    // The scratch tree must be traversable by the agent's user.
    let mut p = dir.clone();
    while p.starts_with(std::env::temp_dir()) && p != std::env::temp_dir() {
        let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755));
        p.pop();
    }
    // As root, the agent runs as the workspace's owner (root-assisted mode):
    // the test user, never root.
    let owner = owner.or_else(|| is_root().then(test_user));
    if let Some((u, g)) = owner {
        chown_r(&ws, u, g);
    }
    Scene {
        dir,
        ws,
        gate,
        _listener: listener,
        host_file,
    }
}

fn chown_r(p: &Path, u: u32, g: u32) {
    let st = Command::new("chown")
        .arg("-R")
        .arg(format!("{u}:{g}"))
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success());
}

/// `latchgate sandbox` for the scene with a clean environment.
fn sandbox(s: &Scene, extra_env: &[(&str, &str)], cmd: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("LATCHGATE_CONFIG", s.dir.join("none.toml"))
        .env("LG_HOST_MARKER", "must-not-pass")
        .arg("sandbox")
        .arg("--workspace")
        .arg(&s.ws)
        .arg("--gate-socket")
        .arg(&s.gate)
        .arg("--")
        .args(cmd)
        .stdin(Stdio::null())
        .current_dir(&s.dir);
    for (k, v) in extra_env {
        c.env(k, v);
    }
    c
}

fn output(mut c: Command) -> Output {
    c.output().expect("run latchgate sandbox")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn host_ip() -> String {
    // The address the host uses to reach the outside (no packet is sent).
    let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    match s.connect("192.0.2.1:9").and_then(|_| s.local_addr()) {
        Ok(a) => a.ip().to_string(),
        Err(_) => "10.255.255.1".into(),
    }
}

fn landlock_abi() -> u32 {
    latchgate::sys::kernel::landlock_abi()
}

/// Runs escape.py inside and checks every line.
fn escape_suite(s: &Scene, run_as: Option<(u32, u32)>) {
    let marker = latchgate::crypto::uuid::v4();
    // A host process whose environment holds the marker: it must stay unreadable.
    let mut host_proc = Command::new("sleep")
        .arg("60")
        .env("LG_HOST_SECRET", &marker)
        .spawn()
        .unwrap();
    let tcp = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = tcp.local_addr().unwrap().port().to_string();
    let ip = host_ip();
    let abi = landlock_abi().to_string();
    let host_file = s.host_file.to_string_lossy().into_owned();
    let mut c = sandbox(
        s,
        &[],
        &[
            "/usr/bin/python3",
            "/workspace/escape.py",
            &marker,
            &host_file,
            &port,
            &ip,
            &abi,
        ],
    );
    if let Some((u, g)) = run_as {
        c.env("SUDO_UID", u.to_string())
            .env("SUDO_GID", g.to_string());
    }
    let out = output(c);
    let _ = host_proc.kill();
    let _ = host_proc.wait();
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let mut failed = Vec::new();
    let mut names = Vec::new();
    let mut done = false;
    for line in stdout.lines() {
        let v: Value =
            json::parse(line.as_bytes()).unwrap_or_else(|_| panic!("not JSON: {line}\n{stderr}"));
        if v.get("done").is_some() {
            done = true;
            continue;
        }
        let name = v
            .get("check")
            .and_then(|c| c.as_str())
            .unwrap_or("?")
            .to_string();
        if v.get("ok").and_then(|o| o.as_bool()) != Some(true) {
            failed.push(line.to_string());
        }
        names.push(name);
    }
    assert!(done, "escape suite did not finish:\n{stdout}\n{stderr}");
    assert!(
        failed.is_empty(),
        "escapes:\n{}\n(stderr: {stderr})",
        failed.join("\n")
    );
    assert!(
        names.len() >= 50,
        "only {} checks ran: {names:?}",
        names.len()
    );
    // Nothing the attempts wrote outside the workspace reached the host.
    for d in [
        "/etc",
        "/usr",
        "/usr/local/bin",
        "/",
        "/run",
        "/var",
        "/opt",
    ] {
        let p = Path::new(d).join(format!("lg-escape-{marker}"));
        let leaked = p.exists();
        let _ = std::fs::remove_file(&p);
        assert!(!leaked, "{} was written on the host", p.display());
    }
    let inside = s.ws.join(format!("written-inside-{marker}"));
    let meta = std::fs::metadata(&inside).expect("the workspace write reached the host");
    if let Some((u, g)) = run_as {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            (meta.uid(), meta.gid()),
            (u, g),
            "agent files belong to the invoking user"
        );
    }
    // Protected paths: untouched, and placeholders cleaned up.
    assert!(!s.ws.join(".git/hooks/pre-commit").exists());
    assert!(
        !s.ws.join(".mcp.json").exists()
            && !s.ws.join(".vscode").exists()
            && !s.ws.join(".claude").exists()
    );
}

#[test]
fn escape_suite_root_assisted() {
    if !is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the sandbox suite as root"
        );
        eprintln!("not root: the root-assisted suite needs root");
        return;
    }
    let (u, g) = test_user();
    let s = scene("sbx-root", Some((u, g)));
    escape_suite(&s, Some((u, g)));
}

#[test]
fn escape_suite_rootless() {
    let s;
    if is_root() {
        let (u, g) = test_user();
        s = scene("sbx-rootless", Some((u, g)));
        // Run latchgate itself as the unprivileged user: rootless mode.
        let marker = latchgate::crypto::uuid::v4();
        let tcp = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = tcp.local_addr().unwrap().port().to_string();
        let host_file = s.host_file.to_string_lossy().into_owned();
        let abi = landlock_abi().to_string();
        let out = Command::new("setpriv")
            .args([
                "--reuid",
                &u.to_string(),
                "--regid",
                &g.to_string(),
                "--clear-groups",
                "--",
            ])
            .arg(bin())
            .args(["sandbox", "--workspace"])
            .arg(&s.ws)
            .arg("--gate-socket")
            .arg(&s.gate)
            .args([
                "--",
                "/usr/bin/python3",
                "/workspace/escape.py",
                &marker,
                &host_file,
                &port,
                &host_ip(),
                &abi,
            ])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("LATCHGATE_CONFIG", s.dir.join("none.toml"))
            .env("LG_HOST_MARKER", "must-not-pass")
            .env("HOME", &s.dir)
            .stdin(Stdio::null())
            .current_dir(&s.ws)
            .output()
            .unwrap();
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stdout}\n{}",
            text(&out.stderr)
        );
        let bad: Vec<&str> = stdout
            .lines()
            .filter(|l| l.contains("\"ok\": false"))
            .collect();
        assert!(bad.is_empty(), "escapes (rootless):\n{}", bad.join("\n"));
        assert!(
            stdout.lines().count() >= 50 && stdout.contains("\"done\""),
            "{stdout}"
        );
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(s.ws.join(format!("written-inside-{marker}"))).unwrap();
        assert_eq!(m.uid(), u);
    } else {
        s = scene("sbx-rootless", None);
        escape_suite(&s, None);
    }
}

#[test]
fn exit_codes_pass_through() {
    let s = scene("sbx-exit", None);
    for (script, code) in [
        ("exit 0", 0),
        ("exit 42", 42),
        ("kill -TERM $$", 143),
        ("kill -KILL $$", 137),
    ] {
        let out = output(sandbox(&s, &[], &["/bin/sh", "-c", script]));
        assert_eq!(
            out.status.code(),
            Some(code),
            "{script}: {}",
            text(&out.stderr)
        );
    }
    let out = output(sandbox(&s, &[], &["no-such-program-xyz"]));
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no-such-program-xyz"));
}

#[test]
fn usage_signal_is_one_json_line() {
    let s = scene("sbx-usage", None);
    let out = output(sandbox(
        &s,
        &[("LATCHGATE_USAGE_SIGNAL", "1")],
        &["/bin/true"],
    ));
    assert_eq!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("sandbox.launch"))
        .unwrap_or_else(|| panic!("{err}"));
    assert_eq!(
        line,
        r#"{"event":"sandbox.launch","profile":"none","credential_resolved":false}"#
    );
    let out = output(sandbox(&s, &[], &["/bin/true"]));
    assert!(!text(&out.stderr).contains("sandbox.launch"));
}

/// A launch that must not run its command: `touch /workspace/ran`.
fn assert_not_run(s: &Scene, out: &Output, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains(needle), "expected `{needle}` in:\n{err}");
    assert!(
        !s.ws.join("ran").exists(),
        "the command ran although the sandbox failed"
    );
}

#[test]
fn fail_closed_without_bwrap() {
    let s = scene("sbx-nobwrap", None);
    let mut c = sandbox(&s, &[], &["/usr/bin/touch", "/workspace/ran"]);
    c.env("PATH", s.dir.join("empty-bin"));
    assert_not_run(&s, &output(c), "bubblewrap (bwrap) not found on PATH");
}

#[test]
fn fail_closed_without_gate_socket() {
    let s = scene("sbx-nogate", None);
    let mut c = Command::new(bin());
    c.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LATCHGATE_CONFIG", s.dir.join("none.toml"))
        .args(["sandbox", "--workspace"])
        .arg(&s.ws)
        .args([
            "--gate-socket",
            "/nonexistent/gate.sock",
            "--",
            "/usr/bin/touch",
            "/workspace/ran",
        ]);
    assert_not_run(&s, &output(c), "is the gate running?");
}

/// Runs latchgate under a seccomp filter (tests/sandbox/deny.py) that makes
/// the kernel refuse `syscall`: sandbox-init must then refuse to start.
fn with_kernel_refusing(s: &Scene, syscall: &str) -> Output {
    let deny = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sandbox/deny.py");
    let c = sandbox(s, &[], &["/usr/bin/touch", "/workspace/ran"]);
    let args: Vec<_> = c.get_args().map(|a| a.to_owned()).collect();
    let envs: Vec<_> = c
        .get_envs()
        .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
        .collect();
    let mut w = Command::new("/usr/bin/python3");
    w.arg(deny)
        .arg(syscall)
        .arg(bin())
        .args(args)
        .env_clear()
        .stdin(Stdio::null());
    for (k, v) in envs {
        if let Some(v) = v {
            w.env(k, v);
        }
    }
    w.output().unwrap()
}

#[test]
fn fail_closed_when_seccomp_is_refused() {
    let s = scene("sbx-noseccomp", None);
    let out = with_kernel_refusing(&s, "seccomp");
    assert_not_run(&s, &out, "seccomp");
}

#[test]
fn fail_closed_when_landlock_is_refused() {
    assert!(
        landlock_abi() > 0,
        "this kernel has no Landlock; the test needs one"
    );
    let s = scene("sbx-nolandlock", None);
    let out = with_kernel_refusing(&s, "landlock_restrict_self");
    assert_not_run(&s, &out, "andlock");
}

fn wait_file(p: &Path, limit: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if p.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn signals_reach_the_agent() {
    for (sig, num) in [("TERM", 15), ("INT", 2), ("HUP", 1)] {
        let s = scene(&format!("sbx-sig{sig}"), None);
        let script = format!(
            "trap 'echo got > /workspace/got-{sig}; exit 7' {sig}; touch /workspace/started; while :; do sleep 0.05; done"
        );
        let mut child = sandbox(&s, &[], &["/bin/bash", "-c", &script])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        assert!(
            wait_file(&s.ws.join("started"), Duration::from_secs(20)),
            "agent never started"
        );
        common::unsafe_free_kill(child.id(), sig);
        let t = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "SIG{sig} did not end the agent"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        assert!(
            s.ws.join(format!("got-{sig}")).exists(),
            "the agent's SIG{sig} trap did not run ({num}): {err}"
        );
        assert_eq!(status.code(), Some(7), "{err}");
    }
}

#[test]
fn sandbox_dies_with_latchgate() {
    let s = scene("sbx-die", None);
    let marker = format!("lgdie{}", &latchgate::crypto::uuid::v4()[..8]);
    let script = format!("touch /workspace/started; exec -a {marker} sleep 300");
    let mut child = sandbox(&s, &[], &["/bin/bash", "-c", &script])
        .spawn()
        .unwrap();
    assert!(wait_file(&s.ws.join("started"), Duration::from_secs(20)));
    let alive = || {
        Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let t = Instant::now();
    while !alive() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(alive(), "the agent is not visible on the host");
    common::unsafe_free_kill(child.id(), "KILL");
    let _ = child.wait();
    let t = Instant::now();
    while alive() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the sandbox outlived latchgate"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Issue 5's last line: inside `latchgate sandbox`, `latchgate-mcp serve`
/// with only the environment the sandbox gives it (LATCHGATE_URL points at
/// /run/latchgate/gate.sock) leases, lists the gate's tools and runs one,
/// getting a receipt from the real gate outside.
#[test]
fn mcp_adapter_inside_reaches_the_gate() {
    use common::{Gate, Opts};
    // The agent never runs as root: the gate shares its socket (0666).
    let gate = Gate::start_with(
        "sbx-mcp",
        Opts {
            extra: "listen_uds_mode = \"0666\"".into(),
            ..Opts::default()
        },
    );
    let s = scene(
        "sbx-mcp-ws",
        if is_root() { Some(test_user()) } else { None },
    );
    let mcp_dir = common::mcp_bin().parent().unwrap().to_path_buf();
    let mcp_inside = common::mcp_bin().to_string_lossy().into_owned();
    let requests = concat!(
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#,
        "\n",
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        "\n",
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
        "\n",
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"msg":"from the sandbox"}}}"#,
        "\n",
    );
    std::fs::write(s.ws.join("requests.jsonl"), requests).unwrap();
    if let Some((u, g)) = if is_root() { Some(test_user()) } else { None } {
        chown_r(&s.ws, u, g);
    }
    // Answers arrive one per request; the script keeps stdin open until the
    // third answer is out, then closes it so the server ends.
    let script = format!(
        "env | grep -c LATCHGATE_URL=unix:///run/latchgate/gate.sock >&2; \
         (cat /workspace/requests.jsonl; sleep 5) | {mcp_inside} serve | head -n 3"
    );
    let mut c = Command::new(bin());
    c.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LATCHGATE_CONFIG", s.dir.join("none.toml"))
        .arg("sandbox")
        .arg("--workspace")
        .arg(&s.ws)
        .arg("--gate-socket")
        .arg(&gate.socket)
        .arg("--ro-mount")
        .arg(&mcp_dir)
        .args(["--", "/bin/sh", "-c", &script])
        .stdin(Stdio::null());
    if let Some((u, g)) = if is_root() { Some(test_user()) } else { None } {
        c.env("SUDO_UID", u.to_string())
            .env("SUDO_GID", g.to_string());
    }
    let out = c.output().unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| json::parse(l.as_bytes()).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    let tools = lines[1]
        .get("result")
        .and_then(|r| r.get("tools"))
        .and_then(|t| t.as_array())
        .unwrap();
    assert!(tools
        .iter()
        .any(|t| t.get("name").and_then(|n| n.as_str()) == Some("echo")));
    let result = lines[2].get("result").unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        result.get("isError").and_then(|b| b.as_bool()),
        Some(false),
        "{stdout}"
    );
    let text_out = result.to_json();
    assert!(
        text_out.contains("from the sandbox") && text_out.contains("receipt"),
        "{text_out}"
    );
}

/// `latchgate sandbox` with extra flags before `--`.
fn sandbox_flags(s: &Scene, flags: &[&str], cmd: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("LATCHGATE_CONFIG", s.dir.join("none.toml"))
        .arg("sandbox")
        .arg("--workspace")
        .arg(&s.ws)
        .arg("--gate-socket")
        .arg(&s.gate)
        .args(flags)
        .stdin(Stdio::null())
        .current_dir(&s.dir);
    if !cmd.is_empty() {
        c.arg("--").args(cmd);
    }
    c
}

fn executable(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn ro_mounts_are_read_only_nosuid_nodev_and_their_bin_is_on_path() {
    let s = scene("sbx-romount", None);
    let tool = s.dir.join("tool");
    executable(
        &tool.join("bin/hello-tool"),
        "#!/bin/sh\necho hello-from-tool\n",
    );
    let t = tool.to_string_lossy().into_owned();
    let script = format!(
        "hello-tool; grep ' {t} ' /proc/self/mountinfo; touch {t}/written 2>/dev/null && echo WROTE; true"
    );
    let out = output(sandbox_flags(
        &s,
        &["--ro-mount", &t],
        &["/bin/sh", "-c", &script],
    ));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout.contains("hello-from-tool"), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.contains(&format!(" {t} ")))
        .unwrap_or_else(|| panic!("{stdout}"));
    let opts = line.split(' ').nth(5).unwrap_or("");
    for o in ["ro", "nosuid", "nodev"] {
        assert!(opts.split(',').any(|x| x == o), "{o} missing in {line}");
    }
    assert!(!stdout.contains("WROTE") && !tool.join("written").exists());
}

#[test]
fn profile_binary_is_found_on_path_with_only_its_install_directory() {
    let s = scene("sbx-profile", None);
    let home = s.dir.join("home");
    // Installed the way npm does it: a package directory, linked from ~/.local/bin.
    let pkg = home.join(".local/lib/node_modules/fake-claude");
    executable(
        &pkg.join("cli.sh"),
        "#!/bin/sh\necho fake-claude-ran \"$0\"\ncat /proc/self/mountinfo\n",
    );
    std::fs::write(home.join(".local/secret-in-home"), "x").unwrap();
    let bin_dir = home.join(".local/bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::os::unix::fs::symlink(pkg.join("cli.sh"), bin_dir.join("claude")).unwrap();
    let mut c = sandbox_flags(&s, &["--profile", "claude-code"], &[]);
    c.env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .env("HOME", &home);
    let out = output(c);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("fake-claude-ran {}", pkg.join("cli.sh").display())),
        "{stdout}"
    );
    let mounts: Vec<&str> = stdout.lines().filter_map(|l| l.split(' ').nth(4)).collect();
    assert!(
        mounts.contains(&pkg.to_string_lossy().as_ref()),
        "{mounts:?}"
    );
    let h = home.to_string_lossy();
    assert!(
        !mounts
            .iter()
            .any(|m| *m == h || *m == format!("{h}/.local")),
        "a home directory is mounted: {mounts:?}"
    );
}

/// Issue 7, first line: inside a real sandbox, curl through the CONNECT
/// proxy reaches an allowed host (mapped by `[egress.hosts]` to a local TLS
/// server); a host not allowed, a port other than 443 and an IP literal get
/// a reset, and each refusal is recorded.
#[test]
fn connect_tunnel_reaches_allowed_host_and_resets_the_rest() {
    let s = scene("sbx-connect", None);
    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    // A local HTTPS server for httpbin.org (the test CA's certificate).
    let server = r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = b"hello through the tunnel"
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(sys.argv[1] + "/server.pem", sys.argv[1] + "/server.key")
s.socket = c.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;
    let mut srv = Command::new("/usr/bin/python3")
        .args(["-c", server])
        .arg(&tls)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    {
        use std::io::BufRead;
        std::io::BufReader::new(srv.stdout.as_mut().unwrap())
            .read_line(&mut port)
            .unwrap();
    }
    let port = port.trim().to_string();
    // A real gate: the session's events go into its ledger through the
    // operator socket named by the same configuration.
    let gate = common::Gate::start_with(
        "sbx-connect-gate",
        common::Opts {
            hosts: vec![
                ("httpbin.org".into(), format!("127.0.0.1:{port}")),
                ("blocked.example".into(), format!("127.0.0.1:{port}")),
            ],
            ..common::Opts::default()
        },
    );
    std::fs::copy(&gate.config, s.dir.join("none.toml")).unwrap();
    std::fs::copy(tls.join("ca.pem"), s.ws.join("ca.pem")).unwrap();
    let script = "curl -sS --cacert /workspace/ca.pem https://httpbin.org/; echo; \
        curl -sS --cacert /workspace/ca.pem https://blocked.example/ 2>&1; echo rc=$?; \
        curl -sS --cacert /workspace/ca.pem https://httpbin.org:8443/ 2>&1; echo rc=$?; \
        curl -sS --cacert /workspace/ca.pem https://203.0.113.5/ 2>&1; echo rc=$?";
    let out = output(sandbox_flags(
        &s,
        &["--allow-host", "httpbin.org"],
        &["/bin/sh", "-c", script],
    ));
    let _ = srv.kill();
    let _ = srv.wait();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("hello through the tunnel"), "{stdout}");
    // Three refusals, each a reset (curl 56/35: "Connection reset by peer").
    assert_eq!(stdout.matches("reset by peer").count(), 3, "{stdout}");
    // Each refusal and the tunnel are in the chained ledger, with who and
    // which session; nothing fell back to the local file.
    let events = common::audit_events(&gate, 50);
    let sandbox: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e.get("event_type")
                .and_then(|t| t.as_str())
                .is_some_and(|t| t.starts_with("sandbox_"))
        })
        .collect();
    let field = |e: &Value, k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let denied: Vec<(String, String)> = sandbox
        .iter()
        .filter(|e| field(e, "event_type") == "sandbox_egress_denied")
        .map(|e| (field(e, "target"), field(e, "reason")))
        .collect();
    for (target, reason) in [
        ("blocked.example:443", "host_not_allowed"),
        ("httpbin.org:8443", "port_not_allowed"),
        ("203.0.113.5:443", "ip_literal"),
    ] {
        assert!(
            denied.contains(&(target.to_string(), reason.to_string())),
            "no {reason} event for {target} in {denied:?}"
        );
    }
    let session = field(sandbox[0], "session_id");
    for e in &sandbox {
        assert_eq!(field(e, "session_id"), session, "{}", e.to_json());
        assert_eq!(
            field(e, "principal"),
            format!("uid:{}", latchgate::sys::uid()),
            "{}",
            e.to_json()
        );
        assert!(!field(e, "timestamp").is_empty());
    }
    for (t, decision) in [
        ("sandbox_started", "allow"),
        ("sandbox_tunnel", "allow"),
        ("sandbox_ended", "allow"),
        ("sandbox_egress_denied", "deny"),
    ] {
        assert!(
            sandbox
                .iter()
                .any(|e| field(e, "event_type") == t && field(e, "decision") == decision),
            "no {t} ({decision}) in the ledger"
        );
    }
    assert!(!s.dir.join("data/sandbox-events.jsonl").exists());
    // The table names the destination and the reason.
    let table = text(
        &gate
            .cli(&["audit", "--event-type", "sandbox_egress_denied"])
            .stdout,
    );
    assert!(
        table.contains("blocked.example:443") && table.contains("host_not_allowed"),
        "{table}"
    );
    let ledger = gate.ledger();
    let verify = gate.cli(&["verify", "--ledger", ledger.to_str().unwrap()]);
    assert!(verify.status.success(), "{}", text(&verify.stdout));
}
