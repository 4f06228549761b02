//! The action catalog against a local HTTPS mock.
//!
//! Every case of tests/fixtures/catalog/cases_*.json runs through the real
//! gate: lease, execute (approving over the operator socket when the call
//! is held), then the mock must have seen exactly the request the case
//! expects (method, target, Host, headers with the secrets substituted,
//! JSON body). Real API host names reach the mock through `[egress.hosts]`
//! ("api.github.com" = "127.0.0.1:<port>"); the test certificate carries
//! them. Cases for 127.0.0.1 (the Obsidian local API) use a second mock on
//! 127.0.0.1:27124, reached through `allow_private` alone.
//!
//! Afterwards: every builtin:http_api action in manifests/ (fs_* aside)
//! has a case, and no secret value appears in any gate answer, the gate's
//! log, the data directory (ledger, approvals; not the secret store) or
//! `audit --json`.
//!
//! All failures are collected and reported in one panic.

mod common;
#[path = "common/mock.rs"]
mod mock;

use common::{Agent, Gate, Opts};
use latchgate::json::{self, Value};
use latchgate::registry::{Egress, Manifest};
use mock::{Mock, Recorded};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The port the Obsidian Local REST API plugin serves HTTPS on.
const LOCAL_API_PORT: u16 = 27124;
/// The case host that means "this machine" (served by the local mock).
const LOCAL_HOST: &str = "127.0.0.1";

/// One test case (format in notes/CATALOG.md).
struct Case {
    /// `cases_a.json[3] github_create_issue`.
    label: String,
    action: String,
    input: Value,
    method: String,
    host: String,
    path: String,
    headers: Vec<(String, String)>,
    /// Headers whose value must start with the given text (a signature
    /// that depends on the time, e.g. AWS SigV4's Authorization).
    headers_prefix: Vec<(String, String)>,
    /// The JSON body the mock must receive (null: none).
    body: Value,
    /// Or: the exact body text (form-encoded, markdown, ...).
    body_text: Option<String>,
    status: u16,
    respond: Vec<u8>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str, String> {
    let mut cur = v;
    for k in path {
        cur = cur
            .get(k)
            .ok_or_else(|| format!("missing `{}`", path.join(".")))?;
    }
    cur.as_str()
        .ok_or_else(|| format!("`{}` is not a string", path.join(".")))
}

/// Keys a case's `expect` may have.
const EXPECT_KEYS: &[&str] = &[
    "method",
    "host",
    "path",
    "headers",
    "headers_prefix",
    "body",
    "body_text",
];

/// `expect.<key>`: a map of lowercased header names to string values.
fn header_map(expect: &Value, key: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    if let Some(h) = expect.get(key) {
        let map = h
            .as_object()
            .ok_or_else(|| format!("`expect.{key}` is not an object"))?;
        for (name, value) in map.iter() {
            let value = value
                .as_str()
                .ok_or_else(|| format!("`expect.{key}.{name}` is not a string"))?;
            out.push((name.to_ascii_lowercase(), value.to_string()));
        }
    }
    Ok(out)
}

fn parse_case(label: String, v: &Value) -> Result<Case, String> {
    let expect = v.get("expect").ok_or("missing `expect`")?;
    let keys = expect.as_object().ok_or("`expect` is not an object")?;
    if let Some(k) = keys.keys().find(|k| !EXPECT_KEYS.contains(&k.as_str())) {
        return Err(format!(
            "unknown key `expect.{k}`; allowed: {EXPECT_KEYS:?}"
        ));
    }
    let body = expect.get("body").cloned().unwrap_or(Value::Null);
    let body_text = match expect.get("body_text") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.clone()),
        Some(_) => return Err("`expect.body_text` is not a string".into()),
    };
    if body_text.is_some() && !body.is_null() {
        return Err("`expect.body` and `expect.body_text` are both set".into());
    }
    let respond = v.get("respond").ok_or("missing `respond`")?;
    let headers = header_map(expect, "headers")?;
    let headers_prefix = header_map(expect, "headers_prefix")?;
    let status = respond
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .ok_or("`respond.status` is not a status code")?;
    let respond = match respond.get("body") {
        None | Some(Value::Null) => Vec::new(),
        // A string body is sent as its text (XML, RSS, plain text).
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        Some(other) => other.to_json().into_bytes(),
    };
    Ok(Case {
        label,
        action: str_at(v, &["action"])?.to_string(),
        input: v.get("input").cloned().ok_or("missing `input`")?,
        method: str_at(v, &["expect", "method"])?.to_string(),
        host: str_at(v, &["expect", "host"])?.to_ascii_lowercase(),
        path: str_at(v, &["expect", "path"])?.to_string(),
        headers,
        headers_prefix,
        body,
        body_text,
        status,
        respond,
    })
}

/// Every case of tests/fixtures/catalog/cases_*.json (sorted by file).
fn load_cases(failures: &mut Vec<String>) -> Vec<Case> {
    let dir = root().join("tests/fixtures/catalog");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("cases_") && name.ends_with(".json")
        })
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&file).unwrap();
        let parsed = match json::parse(&bytes) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{name}: not JSON: {e}"));
                continue;
            }
        };
        let Some(items) = parsed.as_array() else {
            failures.push(format!("{name}: not a JSON array"));
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let action = item.get("action").and_then(Value::as_str).unwrap_or("?");
            let label = format!("{name}[{i}] {action}");
            match parse_case(label.clone(), item) {
                Ok(c) => cases.push(c),
                Err(e) => failures.push(format!("{label}: bad case: {e}")),
            }
        }
    }
    cases
}

/// Every manifest of manifests/ by file name.
fn load_manifests(failures: &mut Vec<String>) -> Vec<Manifest> {
    let dir = root().join("manifests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("toml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let src = std::fs::read_to_string(&file).unwrap();
        match Manifest::from_toml(&src, &file.display().to_string()) {
            Ok(m) => out.push(m),
            Err(e) => failures.push(format!("manifest {e}")),
        }
    }
    out
}

/// `{{secret:NAME}}` placeholders replaced by the test's values.
fn substitute(text: &str, secrets: &BTreeMap<String, String>) -> String {
    let mut out = text.to_string();
    for (name, value) in secrets {
        out = out.replace(&format!("{{{{secret:{name}}}}}"), value);
    }
    out
}

/// The `NAME`s of every `{{secret:NAME}}` in `text`.
fn placeholders(text: &str) -> Vec<String> {
    text.split("{{secret:")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}").map(|(n, _)| n.to_string()))
        .collect()
}

fn random_hex() -> String {
    latchgate::crypto::uuid::v4().replace('-', "")
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

/// The gate's answer for one case: execute, then approve when held.
/// Returns the final answer's status and body, and every answer body.
fn run(gate: &Gate, case: &Case) -> Result<(u16, Value), String> {
    let agent = Agent::lease(gate, None);
    let first = agent.execute(gate, &case.action, &case.input);
    let answer = if first.status == 202 {
        let held = json::parse(&first.body).map_err(|e| format!("202 not JSON: {e}"))?;
        let id = s(&held, "approval_id");
        if id.is_empty() {
            return Err(format!("202 without approval_id: {}", text(&first.body)));
        }
        gate.admin("POST", &format!("/v1/approvals/{id}/approve"), b"")
    } else {
        first
    };
    let body = json::parse(&answer.body).map_err(|e| {
        format!(
            "answer {} is not JSON ({e}): {}",
            answer.status,
            text(&answer.body)
        )
    })?;
    Ok((answer.status, body))
}

/// Equal as JSON: same canonical (RFC 8785) form, member order aside.
fn same_json(a: &Value, b: &Value) -> bool {
    match (json::canonical(a), json::canonical(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Compares what the mock saw with the case; returns every difference.
fn check_request(case: &Case, rec: &Recorded, secrets: &BTreeMap<String, String>) -> Vec<String> {
    let mut diffs = Vec::new();
    if let Some(e) = &rec.error {
        diffs.push(format!("mock could not read the request: {e}"));
    }
    if rec.method != case.method {
        diffs.push(format!("method {} != expected {}", rec.method, case.method));
    }
    let want_path = substitute(&case.path, secrets);
    if rec.target != want_path {
        diffs.push(format!(
            "target {:?} != expected {:?}",
            rec.target, want_path
        ));
    }
    let want_host = if case.host == LOCAL_HOST {
        format!("{LOCAL_HOST}:{LOCAL_API_PORT}")
    } else {
        case.host.clone()
    };
    if rec.host != want_host {
        diffs.push(format!("Host {:?} != expected {:?}", rec.host, want_host));
    }
    for (name, want) in &case.headers {
        let want = substitute(want, secrets);
        let got = rec.headers_named(name);
        match got.as_slice() {
            [one] if *one == want => {}
            [] => diffs.push(format!("header {name} missing (expected {want:?})")),
            many => diffs.push(format!("header {name}: got {many:?}, expected [{want:?}]")),
        }
    }
    for (name, prefix) in &case.headers_prefix {
        let prefix = substitute(prefix, secrets);
        match rec.headers_named(name).as_slice() {
            [one] if one.starts_with(&prefix) => {}
            [] => diffs.push(format!("header {name} missing (expected {prefix:?}...)")),
            many => diffs.push(format!(
                "header {name}: got {many:?}, expected one starting with {prefix:?}"
            )),
        }
    }
    if let Some(want) = &case.body_text {
        let want = substitute(want, secrets);
        if rec.body != want.as_bytes() {
            diffs.push(format!("body {:?} != expected {:?}", text(&rec.body), want));
        }
        return diffs;
    }
    let body_empty = rec.body.is_empty();
    match (&case.body, body_empty) {
        (Value::Null, true) => {}
        (Value::Null, false) => diffs.push(format!("expected no body, got {:?}", text(&rec.body))),
        (_, true) => diffs.push(format!("expected body {}, got none", case.body.to_json())),
        (want, false) => {
            let want = json::parse(substitute(&want.to_json(), secrets).as_bytes()).unwrap();
            match json::parse(&rec.body) {
                Ok(got) if same_json(&got, &want) => {}
                Ok(got) => diffs.push(format!(
                    "body {} != expected {}",
                    got.to_json(),
                    want.to_json()
                )),
                Err(e) => diffs.push(format!(
                    "body is not JSON ({e}): {:?} (expected {})",
                    text(&rec.body),
                    want.to_json()
                )),
            }
        }
    }
    diffs
}

/// One case end to end; every problem found is pushed to `failures`.
fn run_case(
    gate: &Gate,
    case: &Case,
    remote: &Mock,
    local: Option<&Mock>,
    secrets: &BTreeMap<String, String>,
    answers: &mut Vec<Vec<u8>>,
    failures: &mut Vec<String>,
) {
    let is_local = case.host == LOCAL_HOST;
    let target = match (is_local, local) {
        (false, _) => remote,
        (true, Some(m)) => m,
        (true, None) => {
            failures.push(format!(
                "{}: no mock on {LOCAL_HOST}:{LOCAL_API_PORT} (port busy?)",
                case.label
            ));
            return;
        }
    };
    target.set_reply(case.status, case.respond.clone());
    let started = Instant::now();
    let result = run(gate, case);
    let mut seen = remote.take();
    if let Some(m) = local {
        seen.extend(m.take());
    }
    let mut problems = Vec::new();
    match &result {
        Ok((status, body)) => {
            answers.push(body.to_json().into_bytes());
            if *status != 200 {
                problems.push(format!("gate answered {status}: {}", body.to_json()));
            } else {
                if s(body, "decision") != "executed" {
                    problems.push(format!("decision {:?}", s(body, "decision")));
                }
                if s(body, "verification_outcome") != "verified" {
                    problems.push(format!(
                        "verification_outcome {:?} (output {})",
                        s(body, "verification_outcome"),
                        body.get("output").map(Value::to_json).unwrap_or_default()
                    ));
                }
            }
        }
        Err(e) => problems.push(e.clone()),
    }
    match seen.as_slice() {
        [one] => problems.extend(check_request(case, one, secrets)),
        [] => problems.push("the mock saw no request".into()),
        many => problems.push(format!(
            "the mock saw {} requests: {:?}",
            many.len(),
            many.iter()
                .map(|r| format!("{} {} (Host {})", r.method, r.target, r.host))
                .collect::<Vec<_>>()
        )),
    }
    let took = started.elapsed();
    if took.as_secs() >= 5 {
        problems.push(format!("took {took:?}"));
    }
    if !problems.is_empty() {
        failures.push(format!("{}:\n    {}", case.label, problems.join("\n    ")));
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// No secret value in any gate output.
fn check_no_leaks(
    gate: &Gate,
    answers: &[Vec<u8>],
    secrets: &BTreeMap<String, String>,
    failures: &mut Vec<String>,
) {
    let mut outputs: Vec<(String, Vec<u8>)> = answers
        .iter()
        .enumerate()
        .map(|(i, a)| (format!("gate answer #{i}"), a.clone()))
        .collect();
    outputs.push(("gate log".into(), gate.log().into_bytes()));
    let audit = gate.cli(&["audit", "--json", "--limit", "100000"]);
    if !audit.status.success() {
        failures.push(format!(
            "latchgate audit --json failed: {}",
            text(&audit.stderr)
        ));
    }
    outputs.push(("audit --json stdout".into(), audit.stdout));
    outputs.push(("audit --json stderr".into(), audit.stderr));
    let mut files = Vec::new();
    files_under(&gate.data(), &mut files);
    let mut scanned = 0;
    for f in files {
        // The operator's store holds secrets by design (ours come from files).
        if f.file_name().and_then(|n| n.to_str()) == Some("secrets.json") {
            continue;
        }
        if let Ok(bytes) = std::fs::read(&f) {
            scanned += 1;
            outputs.push((f.display().to_string(), bytes));
        }
    }
    if scanned == 0 {
        failures.push(format!("no files under {}", gate.data().display()));
    }
    for (what, bytes) in &outputs {
        let hay = text(bytes);
        for (name, value) in secrets {
            if hay.contains(value.as_str()) {
                failures.push(format!("secret {name} leaked into {what}"));
            }
        }
    }
}

#[test]
fn every_catalog_action_against_a_recording_mock() {
    let started = Instant::now();
    let mut failures = Vec::new();
    let cases = load_cases(&mut failures);
    let manifests = load_manifests(&mut failures);
    assert!(
        !cases.is_empty(),
        "no cases in tests/fixtures/catalog: {failures:?}"
    );

    // Secret names: every manifest's, plus any a case names.
    let mut names: BTreeSet<String> = manifests
        .iter()
        .flat_map(|m| m.secrets.iter().map(|s| s.name.clone()))
        .collect();
    for c in &cases {
        for (_, v) in c.headers.iter().chain(&c.headers_prefix) {
            names.extend(placeholders(v));
        }
        names.extend(placeholders(&c.path));
        names.extend(placeholders(&c.body.to_json()));
        names.extend(placeholders(c.body_text.as_deref().unwrap_or("")));
    }
    let dir = common::scratch("catalog-secrets");
    let mut secrets = BTreeMap::new();
    let mut extra = format!(
        "policy_file = \"{}\"\nmanifests_dir = \"{}\"\n[secrets]\n",
        dir.join("policy.toml").display(),
        root().join("manifests").display()
    );
    for name in &names {
        let value = format!("tsec-{name}-{}", random_hex());
        let file = dir.join(name);
        std::fs::write(&file, format!("{value}\n")).unwrap();
        extra.push_str(&format!("{name} = \"file:{}\"\n", file.display()));
        secrets.insert(name.clone(), value);
    }
    std::fs::write(
        dir.join("policy.toml"),
        "version = \"catalog\"\n[acl.\"*\"]\nallowed_actions = [\"*\"]\nallowed_side_effects = [\"*\"]\n",
    )
    .unwrap();

    let remote = Mock::start();
    let local = match Mock::start_on(LOCAL_API_PORT) {
        Ok(m) => Some(m),
        Err(e) => {
            failures.push(format!(
                "cannot listen on {LOCAL_HOST}:{LOCAL_API_PORT}: {e}"
            ));
            None
        }
    };
    // Every case host and every exact declared domain go to the mock, so a
    // manifest bug can never reach the real API.
    let mut hosts: BTreeSet<String> = cases
        .iter()
        .map(|c| c.host.clone())
        .filter(|h| h != LOCAL_HOST)
        .collect();
    for m in &manifests {
        if let Egress::Allowlist(domains) = &m.egress {
            hosts.extend(
                domains
                    .iter()
                    .filter(|d| !d.contains('*') && d.parse::<std::net::IpAddr>().is_err())
                    .cloned(),
            );
        }
    }
    let opts = Opts {
        extra,
        hosts: hosts
            .iter()
            .map(|h| (h.clone(), format!("127.0.0.1:{}", remote.port)))
            .collect(),
        ..Opts::default()
    };
    let gate = Gate::start_with("catalog", opts);

    let mut answers = Vec::new();
    for case in &cases {
        run_case(
            &gate,
            case,
            &remote,
            local.as_ref(),
            &secrets,
            &mut answers,
            &mut failures,
        );
    }

    // Coverage: every action that makes an HTTP call has a case. The fs_*
    // actions and `echo` (builtin:echo, no network) cannot be seen by a mock.
    let covered: BTreeSet<&str> = cases.iter().map(|c| c.action.as_str()).collect();
    let missing: Vec<&str> = manifests
        .iter()
        .filter(|m| m.provider.to_string() == "builtin:http_api")
        .map(|m| m.id.as_str())
        .filter(|id| !id.starts_with("fs_") && !covered.contains(id))
        .collect();
    if !missing.is_empty() {
        failures.push(format!("actions without a case: {}", missing.join(", ")));
    }
    let known: BTreeSet<&str> = manifests.iter().map(|m| m.id.as_str()).collect();
    for c in &cases {
        if !known.contains(c.action.as_str()) {
            failures.push(format!("{}: no manifest declares this action", c.label));
        }
    }

    // Credentials an API takes in the URL or body (`sensitive_inputs`) must
    // not come back either: scan for them like secrets.
    let mut leak_values = secrets.clone();
    for case in &cases {
        let Some(m) = manifests.iter().find(|m| m.id == case.action) else {
            continue;
        };
        for key in &m.sensitive_inputs {
            if let Some(v) = case.input.get(key).and_then(Value::as_str) {
                leak_values.insert(format!("input {}.{key}", case.action), v.to_string());
            }
        }
    }
    assert!(
        leak_values.len() > secrets.len(),
        "no case exercises a sensitive input"
    );
    check_no_leaks(&gate, &answers, &leak_values, &mut failures);
    let took = started.elapsed();
    assert!(
        failures.is_empty(),
        "{} problem(s) in {} cases ({took:?}); gate dir {}:\n{}",
        failures.len(),
        cases.len(),
        gate.dir.display(),
        failures.join("\n")
    );
    eprintln!("{} catalog cases passed in {took:?}", cases.len());
}
