//! Issue 7, credential routes under real bwrap with the published SDKs:
//! inside `latchgate sandbox`, the `anthropic` and `openai` Python SDKs
//! (tests/python/requirements.txt), with only the environment the sandbox
//! gives them, stream a reply from a local TLS mock of the real APIs
//! (tests/sandbox/mock_llm.py, reached through `[egress.hosts]`) that checks
//! it got the real key and never the session token; SSE events arrive one
//! by one; wrong or missing tokens get 401, unknown routes 404, and the real
//! key is found nowhere inside (environments, workspace, process memory).
//! Nothing here may skip: a missing bwrap, venv or SDK is a failure.

mod common;

use common::{bin, scratch};
use latchgate::json::{self, Value};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The unprivileged account root-assisted runs map the agent to (the same
/// one tests/sandbox_run.rs uses); created on first use.
const TEST_USER: &str = "latchgate-sbx";
/// Each sandbox run is killed (with its sandbox) after this long.
const RUN_LIMIT: Duration = Duration::from_secs(25);
/// The mock's pause between two text deltas is 300 ms: consecutive deltas
/// must arrive at least this far apart (else something buffered them).
const MIN_GAP: f64 = 0.2;
/// And each must reach the SDK at most this long after the mock sent it.
const MAX_LAG: f64 = 0.2;
/// The route base inside (sandbox-init's loopback forwarder).
const PROXY_INSIDE: &str = "http://127.0.0.1:3128";

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

fn chown_r(p: &Path, u: u32, g: u32) {
    let st = Command::new("chown")
        .arg("-R")
        .arg(format!("{u}:{g}"))
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success());
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tls_dir() -> PathBuf {
    repo().join("tests/fixtures/tls")
}

/// A random stand-in for a real API key (never passed into the sandbox).
fn real_key(prefix: &str) -> String {
    format!(
        "{prefix}-REAL-{}",
        latchgate::crypto::uuid::v4().replace('-', "")
    )
}

/// A workspace, a gate socket and a latchgate.toml, all reachable by the
/// agent's user. The memory images the agent writes into the workspace are
/// removed when the scene is dropped (they are large).
struct Scene {
    dir: PathBuf,
    ws: PathBuf,
    gate: PathBuf,
    _listener: UnixListener,
}

impl Drop for Scene {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.ws.join("scan"));
    }
}

fn scene(name: &str) -> Scene {
    let dir = scratch(name);
    let ws = dir.join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let gate = dir.join("gate.sock");
    let listener = UnixListener::bind(&gate).unwrap();
    std::fs::set_permissions(&gate, std::fs::Permissions::from_mode(0o666)).unwrap();
    // The scratch tree must be traversable by the agent's user.
    let mut p = dir.clone();
    while p.starts_with(std::env::temp_dir()) && p != std::env::temp_dir() {
        let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755));
        p.pop();
    }
    // As root, the agent runs as the workspace's owner (root-assisted mode):
    // the test user, never root.
    if is_root() {
        let (u, g) = test_user();
        chown_r(&ws, u, g);
    }
    Scene {
        dir,
        ws,
        gate,
        _listener: listener,
    }
}

impl Scene {
    /// Writes latchgate.toml: the test CA, loopback allowed, both API
    /// hosts mapped to the mock, plus `extra` (routes).
    fn config(&self, mock_port: u16, extra: &str) -> PathBuf {
        let p = self.dir.join("latchgate.toml");
        std::fs::write(
            &p,
            format!(
                "data_dir = \"{}\"\n\
                 [egress]\n\
                 ca_file = \"{}\"\n\
                 allow_private = [\"127.0.0.0/8\"]\n\
                 [egress.hosts]\n\
                 \"api.anthropic.com\" = \"127.0.0.1:{mock_port}\"\n\
                 \"api.openai.com\" = \"127.0.0.1:{mock_port}\"\n\
                 {extra}",
                self.dir.join("data").display(),
                tls_dir().join("ca.pem").display(),
            ),
        )
        .unwrap();
        p
    }
}

/// The anthropic route as `[sandbox.agent.credentials]` declares it.
const ANTHROPIC_ROUTE: &str = "[sandbox.agent.credentials.anthropic]\n\
    upstream = \"https://api.anthropic.com\"\n\
    header = \"x-api-key\"\n\
    format = \"{}\"\n\
    key_source = \"env:ANTHROPIC_API_KEY\"\n";

/// The OpenAI route, the seed's example.
const OPENAI_ROUTE: &str = "[sandbox.agent.credentials.openai]\n\
    upstream = \"https://api.openai.com/v1\"\n\
    header = \"Authorization\"\n\
    format = \"Bearer {}\"\n\
    key_source = \"env:OPENAI_API_KEY\"\n";

/// The repository's venv (scripts/bootstrap.sh makes it) and how the
/// agent runs it inside: the venv's python, with the venv and, when the
/// venv's base interpreter lives outside /usr, that installation mounted.
/// When the agent's user cannot reach the base interpreter at all (a pyenv
/// under a 0700 /root: in root-assisted mode bwrap itself runs as that
/// user), the system python of the same version runs with the venv's
/// site-packages instead (`--site`).
struct Venv {
    python: PathBuf,
    site: Option<PathBuf>,
    mounts: Vec<PathBuf>,
}

impl Venv {
    /// The command line running tests/sandbox/sdk_agent.py in `mode`.
    fn agent(&self, mode: &str, scan: bool) -> Vec<String> {
        let mut c = vec![
            self.python.to_string_lossy().into_owned(),
            repo()
                .join("tests/sandbox/sdk_agent.py")
                .to_string_lossy()
                .into_owned(),
            mode.to_string(),
        ];
        if scan {
            c.extend(["--scan".to_string(), "/workspace/scan".to_string()]);
        }
        if let Some(site) = &self.site {
            c.extend(["--site".to_string(), site.to_string_lossy().into_owned()]);
        }
        c
    }
}

/// Runs `python -c code` and returns its stdout, trimmed.
fn python_says(python: &Path, code: &str) -> String {
    let out = Command::new(python).args(["-c", code]).output().unwrap();
    assert!(
        out.status.success(),
        "{} -c {code:?}: {}\n(the venv lacks the SDKs? run scripts/bootstrap.sh)",
        python.display(),
        text(&out.stderr)
    );
    text(&out.stdout).trim().to_string()
}

/// True when every directory from / down to `p` lets others through.
fn others_can_reach(p: &Path) -> bool {
    p.ancestors().all(|a| {
        std::fs::metadata(a).is_ok_and(|m| !m.is_dir() || m.permissions().mode() & 0o001 != 0)
    })
}

/// Finds the venv, checks it has both SDKs, and picks how the agent runs.
fn venv() -> Venv {
    let venv = repo().join(".venv");
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} missing: run scripts/bootstrap.sh (make test does)",
        python.display()
    );
    let probe = "import sys, sysconfig, anthropic, openai; \
                 print(sys.base_prefix); print(sysconfig.get_paths()['purelib']); \
                 print('%d.%d' % sys.version_info[:2])";
    let said = python_says(&python, probe);
    let mut lines = said.lines();
    let base = std::fs::canonicalize(lines.next().unwrap_or("")).unwrap();
    let site = PathBuf::from(lines.next().unwrap_or(""));
    let version = lines.next().unwrap_or("").to_string();
    let mut v = Venv {
        python,
        site: None,
        mounts: vec![std::fs::canonicalize(&venv).unwrap()],
    };
    if is_root() && !others_can_reach(&base) {
        let system = PathBuf::from("/usr/bin/python3");
        let sys_version = python_says(&system, "import sys; print('%d.%d' % sys.version_info[:2])");
        assert_eq!(
            sys_version,
            version,
            "the venv's base python {} is out of reach of the sandboxed user and \
             /usr/bin/python3 is another version: make the venv from /usr/bin/python3",
            base.display()
        );
        v.python = system;
        v.site = Some(site);
    } else if !base.starts_with("/usr") {
        v.mounts.push(base);
    }
    v.mounts.push(repo().join("tests/sandbox"));
    if is_root() {
        // The agent is the test user: everything it loads must be
        // world-readable (a 0600 file would fail inside, obscurely).
        for m in &v.mounts {
            assert!(
                others_can_reach(m),
                "{} is out of the agent's reach",
                m.display()
            );
            let mut bad = Vec::new();
            not_world_readable(m, &mut bad);
            assert!(
                bad.is_empty(),
                "not readable by the sandboxed agent (chmod o+rX): {bad:?}"
            );
        }
    }
    v
}

/// Collects files without o+r and directories without o+rx under `p`
/// (node packages skipped: nothing here loads them).
fn not_world_readable(p: &Path, bad: &mut Vec<PathBuf>) {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return;
    };
    let mode = meta.permissions().mode();
    if meta.is_dir() {
        if mode & 0o005 != 0o005 {
            bad.push(p.to_path_buf());
            return;
        }
        if p.file_name().is_some_and(|n| n == "node") {
            return;
        }
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            not_world_readable(&e.path(), bad);
        }
    } else if meta.is_file() && mode & 0o004 == 0 {
        bad.push(p.to_path_buf());
    }
}

/// The mock LLM API (tests/sandbox/mock_llm.py) on 127.0.0.1; killed on drop.
struct Mock {
    child: Child,
    port: u16,
    record: PathBuf,
    err: PathBuf,
}

impl Mock {
    fn start(dir: &Path, anthropic_key: &str, openai_key: &str) -> Mock {
        let record = dir.join("mock-record.jsonl");
        let err = dir.join("mock-stderr.txt");
        let mut child = Command::new("/usr/bin/python3")
            .arg(repo().join("tests/sandbox/mock_llm.py"))
            .arg(tls_dir())
            .arg(&record)
            .env_clear()
            .env("MOCK_ANTHROPIC_KEY", anthropic_key)
            .env("MOCK_OPENAI_KEY", openai_key)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        // The port line comes once the socket listens (EOF if it died).
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
        let port = match line.trim().parse() {
            Ok(p) => p,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "mock did not start: {line:?} {}",
                    std::fs::read_to_string(&err).unwrap_or_default()
                );
            }
        };
        Mock {
            child,
            port,
            record,
            err,
        }
    }

    /// The raw record file (never holds a real key).
    fn raw(&self) -> String {
        std::fs::read_to_string(&self.record).unwrap_or_default()
    }

    /// Every request the mock saw.
    fn records(&self) -> Vec<Value> {
        self.raw()
            .lines()
            .map(|l| json::parse(l.as_bytes()).unwrap_or_else(|_| panic!("bad record {l}")))
            .collect()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `latchgate sandbox` for the scene: clean environment, the venv and
/// tests/sandbox mounted read-only, `flags` before `--`, then `cmd`.
fn sandbox(s: &Scene, config: &Path, v: &Venv, flags: &[&str], cmd: &[String]) -> Command {
    let mut c = Command::new(bin());
    c.env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("LATCHGATE_CONFIG", config)
        .arg("sandbox")
        .arg("--workspace")
        .arg(&s.ws)
        .arg("--gate-socket")
        .arg(&s.gate);
    for m in &v.mounts {
        c.arg("--ro-mount").arg(m);
    }
    c.args(flags)
        .arg("--")
        .args(cmd)
        .stdin(Stdio::null())
        .current_dir(&s.dir);
    c
}

/// Runs `c` to completion; past `RUN_LIMIT` it is killed (the sandbox dies
/// with latchgate) and the test fails with what it printed.
fn run(mut c: Command) -> Output {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run latchgate sandbox");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = r.read_to_end(&mut b);
            b
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "sandbox run took over {RUN_LIMIT:?}; stdout:\n{}\nstderr:\n{}",
                text(&out.join().unwrap()),
                text(&err.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// The agent's JSON result (its last stdout line), after checking the run.
fn agent_result(out: &Output, mock: &Mock) -> Value {
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}\nmock:\n{}",
        mock.stderr()
    );
    let line = stdout.lines().last().unwrap_or("");
    let v = json::parse(line.as_bytes())
        .unwrap_or_else(|_| panic!("agent printed no JSON:\n{stdout}\nstderr:\n{stderr}"));
    assert!(
        v.get("error").is_none(),
        "the agent failed: {}\nstderr:\n{stderr}\nmock records:\n{}\nmock stderr:\n{}",
        v.get("error").map(|e| e.to_json()).unwrap_or_default(),
        mock.raw(),
        mock.stderr()
    );
    v
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for k in path {
        cur = cur
            .get(k)
            .unwrap_or_else(|| panic!("no {path:?} in {}", v.to_json()));
    }
    cur.as_str()
        .unwrap_or_else(|| panic!("{path:?} not a string in {}", v.to_json()))
}

fn floats(v: &Value, key: &str) -> Vec<f64> {
    v.get(key)
        .and_then(|a| a.as_array())
        .unwrap_or_else(|| panic!("no {key} in {}", v.to_json()))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// The environment the sandbox gave the agent for route `name`: its base
/// URL is the route, its key variable holds the session token. Returns
/// the token.
fn check_route_env(v: &Value, base_var: &str, key_var: &str, name: &str) -> String {
    let token = str_at(v, &["token"]).to_string();
    assert!(token.len() >= 32, "short session token {token:?}");
    assert_eq!(
        str_at(v, &["env", base_var]),
        format!("{PROXY_INSIDE}/{name}")
    );
    assert_eq!(
        str_at(v, &["env", key_var]),
        token,
        "{key_var} inside must be the session token"
    );
    token
}

/// The one streamed request the mock saw: right path, the real key in the
/// route's header and no other credential, the token nowhere; and the
/// deltas reached the SDK one by one, each soon after the mock sent it.
fn check_stream(
    mock: &Mock,
    agent: &Value,
    route: &str,
    path: &str,
    auth: &str,
    token: &str,
    text_want: &str,
) {
    let records = mock.records();
    assert_eq!(records.len(), 1, "mock saw:\n{}", mock.raw());
    let r = &records[0];
    assert_eq!(str_at(r, &["route"]), route, "{}", r.to_json());
    assert_eq!(str_at(r, &["path"]), path, "{}", r.to_json());
    assert_eq!(
        r.get("real_key_matched").and_then(|b| b.as_bool()),
        Some(true),
        "the mock did not get the real key: {}",
        r.to_json()
    );
    let auth_seen: Vec<&str> = r
        .get("auth_headers")
        .and_then(|a| a.as_array())
        .unwrap()
        .iter()
        .filter_map(|h| h.as_str())
        .collect();
    assert_eq!(auth_seen, [auth], "credential headers upstream");
    assert!(
        !mock.raw().contains(token),
        "the session token reached the upstream:\n{}",
        mock.raw()
    );
    assert_eq!(str_at(agent, &["text"]), text_want);

    let sent = floats(r, "sent");
    let arrived = floats(agent, "arrived");
    assert_eq!(sent.len(), arrived.len(), "{}", agent.to_json());
    assert!(arrived.len() >= 4);
    let lags: Vec<f64> = sent.iter().zip(&arrived).map(|(s, a)| a - s).collect();
    let gaps: Vec<f64> = arrived.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|g| *g >= MIN_GAP),
        "deltas arrived bunched (buffering): gaps {gaps:?}, lags {lags:?}"
    );
    assert!(
        lags.iter().all(|l| *l < MAX_LAG),
        "deltas arrived late (buffering): lags {lags:?}"
    );
    eprintln!("{route}: SSE delta lag mock->SDK (s): {lags:?}");
}

/// Files under `dir`, recursively.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => files_under(&p, out),
            Ok(t) if t.is_file() => out.push(p),
            _ => {}
        }
    }
}

/// True when `needle` occurs in the file (read in pieces that overlap by
/// the needle's length, so memory images of any size are fine).
fn file_contains(p: &Path, needle: &[u8]) -> bool {
    let Ok(mut f) = std::fs::File::open(p) else {
        panic!("cannot read {}", p.display());
    };
    let mut buf = vec![0u8; 8 << 20];
    let mut kept = 0;
    loop {
        let n = f.read(&mut buf[kept..]).unwrap();
        if n == 0 {
            return false;
        }
        let filled = kept + n;
        if buf[..filled].windows(needle.len()).any(|w| w == needle) {
            return true;
        }
        kept = (needle.len() - 1).min(filled);
        buf.copy_within(filled - kept..filled, 0);
    }
}

/// Issue 7's grep: the agent copied every readable /proc/*/environ and
/// every readable memory region of every process it could read (its own
/// at least) into /workspace/scan. The session token is found there (so
/// the scan would have found a leaked key the same way); the real keys
/// are found nowhere in the workspace, nor in the host-side data dir or
/// latchgate's output.
fn check_no_key_inside(s: &Scene, agent: &Value, token: &str, keys: &[&str], out: &Output) {
    let scan = agent
        .get("scan")
        .unwrap_or_else(|| panic!("no scan: {}", agent.to_json()));
    let me = str_at(scan, &["self"]);
    let mem = scan.get("memory").and_then(|m| m.get(me));
    let dumped = mem.and_then(|m| m.get("bytes")).and_then(|b| b.as_u64());
    assert!(
        dumped.is_some_and(|b| b > 1 << 20),
        "the agent's own memory was not dumped: {}",
        scan.to_json()
    );
    let dir = s.ws.join("scan");
    for f in [format!("environ-{me}"), format!("mem-{me}")] {
        assert!(
            file_contains(&dir.join(&f), token.as_bytes()),
            "positive control: the session token is not in {f}, so the scan proves nothing"
        );
    }
    let mut files = Vec::new();
    files_under(&s.ws, &mut files);
    let environs = files
        .iter()
        .filter(|f| f.to_string_lossy().contains("/environ-"))
        .count();
    assert!(environs >= 1, "no environ copied: {}", scan.to_json());
    let mut host_side = Vec::new();
    files_under(&s.dir.join("data"), &mut host_side);
    for key in keys {
        for f in files.iter().chain(&host_side) {
            assert!(
                !file_contains(f, key.as_bytes()),
                "the real key is in {}",
                f.display()
            );
        }
        assert!(
            !text(&out.stdout).contains(key) && !text(&out.stderr).contains(key),
            "the real key was printed"
        );
    }
    eprintln!(
        "scanned {} workspace files ({} environ copies; memory: {})",
        files.len(),
        environs,
        scan.get("memory").map(|m| m.to_json()).unwrap_or_default()
    );
}

/// Issue 7: the `anthropic` SDK inside, `Anthropic()` with no arguments,
/// streams /v1/messages through the claude-code profile's route; the mock
/// gets the real key as x-api-key and never the token; the deltas arrive
/// one by one; and afterwards no real key is anywhere inside.
#[test]
fn anthropic_sdk_streams_through_the_profile_route_and_no_key_is_inside() {
    let s = scene("routes-anthropic");
    let v = venv();
    let key = real_key("sk-ant");
    let other = real_key("sk-openai");
    let mock = Mock::start(&s.dir, &key, &other);
    let config = s.config(mock.port, "");
    let mut c = sandbox(
        &s,
        &config,
        &v,
        &["--profile", "claude-code"],
        &v.agent("anthropic", true),
    );
    c.env("ANTHROPIC_API_KEY", &key);
    let out = run(c);
    let res = agent_result(&out, &mock);
    let token = check_route_env(&res, "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "anthropic");
    let events: Vec<&str> = res
        .get("events")
        .and_then(|e| e.as_array())
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    for want in [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ] {
        assert!(events.contains(&want), "no {want} in {events:?}");
    }
    check_stream(
        &mock,
        &res,
        "anthropic",
        "/v1/messages",
        "x-api-key",
        &token,
        "Hello from the mock Claude.",
    );
    check_no_key_inside(&s, &res, &token, &[&key], &out);
}

/// Issue 7: the `openai` SDK inside, `OpenAI()` with no arguments, streams
/// chat.completions through a `[sandbox.agent.credentials.openai]` route
/// (no profile); the mock gets `Authorization: Bearer <real key>` and a
/// close-delimited SSE stream reaches the SDK event by event.
#[test]
fn openai_sdk_streams_through_a_configured_route_and_no_key_is_inside() {
    let s = scene("routes-openai");
    let v = venv();
    let key = real_key("sk-openai");
    let other = real_key("sk-ant");
    let mock = Mock::start(&s.dir, &other, &key);
    let config = s.config(mock.port, OPENAI_ROUTE);
    let mut c = sandbox(&s, &config, &v, &[], &v.agent("openai", true));
    c.env("OPENAI_API_KEY", &key);
    let out = run(c);
    let res = agent_result(&out, &mock);
    let token = check_route_env(&res, "OPENAI_BASE_URL", "OPENAI_API_KEY", "openai");
    assert_eq!(str_at(&res, &["finish"]), "stop");
    check_stream(
        &mock,
        &res,
        "openai",
        "/v1/chat/completions",
        "authorization",
        &token,
        "Hi from the mock GPT.",
    );
    check_no_key_inside(&s, &res, &token, &[&key], &out);
}

/// Issue 7: no token or a wrong one (in each place a token is accepted,
/// and a prefix of the right one) gets 401 with a JSON error; an unknown
/// route gets 404 with a JSON error, even with the right token. None of
/// them reaches the upstream; the right token afterwards does (so the
/// mock was reachable all along).
#[test]
fn wrong_or_missing_token_is_401_and_unknown_route_404() {
    let s = scene("routes-tokens");
    let v = venv();
    let key = real_key("sk-ant");
    let mock = Mock::start(&s.dir, &key, &real_key("sk-openai"));
    let config = s.config(mock.port, ANTHROPIC_ROUTE);
    let mut c = sandbox(&s, &config, &v, &[], &v.agent("tokens", false));
    c.env("ANTHROPIC_API_KEY", &key);
    let out = run(c);
    let res = agent_result(&out, &mock);
    let cases = res.get("cases").unwrap();
    let expect = [
        ("no_token", 401),
        ("wrong_x_api_key", 401),
        ("wrong_bearer", 401),
        ("wrong_proxy_header", 401),
        ("token_prefix", 401),
        ("unknown_route", 404),
    ];
    for (name, status) in expect {
        let c = cases
            .get(name)
            .unwrap_or_else(|| panic!("no case {name}: {}", res.to_json()));
        assert_eq!(
            c.get("status").and_then(|s| s.as_u64()),
            Some(status),
            "{name}: {}",
            c.to_json()
        );
        assert!(
            str_at(c, &["content_type"]).starts_with("application/json"),
            "{name}: {}",
            c.to_json()
        );
        let code = c
            .get("json")
            .and_then(|j| j.get("error"))
            .and_then(|e| e.get("code"))
            .and_then(|e| e.as_str())
            .unwrap_or("");
        assert!(
            !code.is_empty(),
            "{name}: no error.code in the JSON body: {}",
            c.to_json()
        );
    }
    let right = cases.get("right_token").unwrap();
    assert_eq!(
        right.get("status").and_then(|s| s.as_u64()),
        Some(200),
        "{}",
        right.to_json()
    );
    assert!(str_at(right, &["raw"]).contains("message_stop"));
    // Only the right-token request reached the mock, with the real key.
    let records = mock.records();
    assert_eq!(records.len(), 1, "mock saw:\n{}", mock.raw());
    assert_eq!(
        records[0].get("real_key_matched").and_then(|b| b.as_bool()),
        Some(true),
        "{}",
        mock.raw()
    );
    let token = str_at(&res, &["token"]);
    assert!(!mock.raw().contains(token), "{}", mock.raw());
}

/// The seed's warning: `--profile claude-code` without ANTHROPIC_API_KEY
/// prints the WARN line on stderr and the command still runs, with no
/// route and no token inside.
#[test]
fn profile_without_key_warns_and_still_runs() {
    let s = scene("routes-warn");
    let config = s.dir.join("latchgate.toml");
    std::fs::write(
        &config,
        format!("data_dir = \"{}\"\n", s.dir.join("data").display()),
    )
    .unwrap();
    let mut c = Command::new(bin());
    c.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LATCHGATE_CONFIG", &config)
        .arg("sandbox")
        .arg("--workspace")
        .arg(&s.ws)
        .arg("--gate-socket")
        .arg(&s.gate)
        .args(["--profile", "claude-code", "--", "/bin/sh", "-c"])
        .arg("echo agent-ran; env | grep -E '^(LATCHGATE_PROXY_TOKEN|ANTHROPIC_[A-Z_]*)=' || true")
        .stdin(Stdio::null())
        .current_dir(&s.dir);
    let out = run(c);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(stdout.trim(), "agent-ran", "stderr:\n{stderr}");
    let want = "WARN no credential routes resolved — the agent will authenticate through the CONNECT tunnel (subscription/OAuth) instead of the credential-injecting proxy. Set ANTHROPIC_API_KEY to enable credential isolation.";
    assert!(
        stderr.lines().any(|l| l == want),
        "no line `{want}` on stderr:\n{stderr}"
    );
}
