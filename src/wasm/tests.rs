//! Engine tests against the committed modules in vendor/providers/wasm
//! (rebuild them with scripts/build-providers.sh).

use super::*;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Bytes of a committed module.
fn wasm(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("vendor/providers/wasm")
        .join(format!("{name}.wasm"));
    match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => panic!("{}: {e} (run scripts/build-providers.sh)", path.display()),
    }
}

/// One engine for all tests (also exercises sharing it across threads).
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| match Engine::new() {
        Ok(e) => e,
        Err(e) => panic!("engine: {e}"),
    })
}

fn provider(name: &str) -> Arc<Provider> {
    match engine().load(&wasm(name)) {
        Ok(p) => p,
        Err(e) => panic!("load {name}: {e}"),
    }
}

fn limits() -> RunLimits {
    RunLimits {
        fuel: 50_000_000,
        memory_bytes: 16 << 20,
        timeout: Duration::from_secs(5),
        max_io_calls: 10,
        max_output_bytes: 1 << 20,
        fs: false,
    }
}

/// A scripted host: fixed response, optional delay, records everything.
#[derive(Default)]
struct FakeHost {
    response: Vec<u8>,
    delay: Duration,
    requests: Vec<Vec<u8>>,
    deadlines: Vec<Instant>,
    logs: Vec<(u8, String)>,
    fs_requests: Vec<Vec<u8>>,
}

impl FakeHost {
    fn answering(response: &str) -> FakeHost {
        FakeHost {
            response: response.as_bytes().to_vec(),
            ..FakeHost::default()
        }
    }
}

impl HostIo for FakeHost {
    fn http_request(&mut self, request: &[u8], deadline: Instant) -> Vec<u8> {
        self.requests.push(request.to_vec());
        self.deadlines.push(deadline);
        thread::sleep(self.delay);
        self.response.clone()
    }

    fn fs_request(&mut self, request: &[u8], _deadline: Instant) -> Vec<u8> {
        self.fs_requests.push(request.to_vec());
        self.response.clone()
    }

    fn log(&mut self, level: u8, msg: &str) {
        self.logs.push((level, msg.to_string()));
    }
}

fn run(
    name: &str,
    input: &str,
    limits: &RunLimits,
    host: &mut FakeHost,
) -> Result<RunOutput, RunError> {
    engine().run(&provider(name), input.as_bytes(), limits, host)
}

fn text(out: &RunOutput) -> &str {
    std::str::from_utf8(&out.output).unwrap_or("<not utf-8>")
}

fn ok(result: Result<RunOutput, RunError>) -> RunOutput {
    match result {
        Ok(out) => out,
        Err(e) => panic!("run failed: {e}"),
    }
}

#[test]
fn echo_round_trip() {
    let input = r#"{"a":[1,2.5,{"b":null}],"s":"é \"q\""}"#;
    let mut host = FakeHost::default();
    let out = ok(run("echo", input, &limits(), &mut host));
    assert_eq!(text(&out), format!(r#"{{"ok":true,"data":{input}}}"#));
    assert_eq!(out.io_calls, 0);
    assert!(out.fuel_consumed > 0 && out.fuel_consumed < limits().fuel);
    assert!(host.requests.is_empty());
}

#[test]
fn imports_are_reported() {
    assert_eq!(provider("echo").imports(), Imports::default());
    let http = Imports {
        http_request: true,
        log: false,
        fs_request: false,
    };
    assert_eq!(provider("http_api").imports(), http);
    assert!(provider("logspam").imports().log);
}

#[test]
fn http_api_forwards_a_normalised_request() {
    let task = r#"{"method":"POST","url":"https://api.example.com/x","headers":{"X-A":"1"},
        "body":{"k":[1,"two"],"n":"a\nb"},"timeout_ms":500,"extra":true}"#;
    let data = r#"{"status_code":201,"headers":{"content-type":"text/plain"},"body":"made","url":"https://api.example.com/x"}"#;
    let mut host = FakeHost::answering(data);
    let out = ok(run("http_api", task, &limits(), &mut host));
    let expected = r#"{"method":"POST","url":"https://api.example.com/x","headers":{"X-A":"1"},"body":"{\"k\":[1,\"two\"],\"n\":\"a\\nb\"}","timeout_ms":500}"#;
    assert_eq!(host.requests.len(), 1);
    assert_eq!(String::from_utf8_lossy(&host.requests[0]), expected);
    assert_eq!(text(&out), format!(r#"{{"ok":true,"data":{data}}}"#));
    assert_eq!(out.io_calls, 1);
}

#[test]
fn http_api_defaults_and_string_body() {
    let mut host = FakeHost::answering(r#"{"status_code":200,"headers":{},"body":"","url":"u"}"#);
    ok(run(
        "http_api",
        r#"{"method":"GET","url":"https://x.test/"}"#,
        &limits(),
        &mut host,
    ));
    ok(run(
        "http_api",
        r#"{"method":"PUT","url":"https://x.test/","headers":null,"body":"raw \"text\"","timeout_ms":null}"#,
        &limits(),
        &mut host,
    ));
    ok(run(
        "http_api",
        r#"{"method":"GET","url":"https://x.test/","body":null}"#,
        &limits(),
        &mut host,
    ));
    let sent: Vec<String> = host
        .requests
        .iter()
        .map(|r| String::from_utf8_lossy(r).into())
        .collect();
    assert_eq!(
        sent,
        [
            r#"{"method":"GET","url":"https://x.test/","headers":{}}"#,
            r#"{"method":"PUT","url":"https://x.test/","headers":{},"body":"raw \"text\""}"#,
            r#"{"method":"GET","url":"https://x.test/","headers":{}}"#,
        ]
    );
}

#[test]
fn http_api_host_error_is_ok_false() {
    let mut host = FakeHost::answering(r#"{"error":"undeclared_sink: evil.test"}"#);
    let out = ok(run(
        "http_api",
        r#"{"method":"GET","url":"https://evil.test/"}"#,
        &limits(),
        &mut host,
    ));
    assert_eq!(
        text(&out),
        r#"{"ok":false,"error":"undeclared_sink: evil.test"}"#
    );

    let mut host = FakeHost::answering("not json");
    let out = ok(run(
        "http_api",
        r#"{"method":"GET","url":"https://x.test/"}"#,
        &limits(),
        &mut host,
    ));
    assert_eq!(
        text(&out),
        r#"{"ok":false,"error":"malformed host response"}"#
    );
}

#[test]
fn http_api_refuses_bad_tasks_without_io() {
    let cases = [
        (r#"{"method":"GET"}"#, "invalid task: url is required"),
        (
            r#"{"url":"https://x.test/"}"#,
            "invalid task: method is required",
        ),
        (
            r#"{"method":1,"url":"u"}"#,
            "invalid task: method must be a string",
        ),
        (
            r#"{"method":"GET","url":"u","headers":[]}"#,
            "invalid task: headers must be an object",
        ),
        (
            r#"{"method":"GET","url":"u","timeout_ms":"5"}"#,
            "invalid task: timeout_ms must be a number",
        ),
        (
            r#"{"method":"GET","url":"u","url":"v"}"#,
            "invalid task: duplicate key",
        ),
        (r#"["GET"]"#, "invalid task: not a valid JSON object"),
        (
            r#"{"method":"GET","url":"u""#,
            "invalid task: not a valid JSON object",
        ),
        (
            r#"{"method":"GET","url":"u"} x"#,
            "invalid task: not a valid JSON object",
        ),
    ];
    for (task, message) in cases {
        let mut host = FakeHost::answering("{}");
        let out = ok(run("http_api", task, &limits(), &mut host));
        assert_eq!(
            text(&out),
            format!(r#"{{"ok":false,"error":"{message}"}}"#),
            "task {task}"
        );
        assert!(host.requests.is_empty(), "task {task} reached the host");
    }
}

#[test]
fn spin_times_out_near_the_limit() {
    let limits = RunLimits {
        fuel: u64::MAX,
        timeout: Duration::from_millis(200),
        ..limits()
    };
    let started = Instant::now();
    let result = run("spin", "{}", &limits, &mut FakeHost::default());
    let took = started.elapsed();
    assert_eq!(result, Err(RunError::Timeout));
    assert!(
        took >= Duration::from_millis(200),
        "stopped early: {took:?}"
    );
    assert!(took < Duration::from_millis(400), "stopped late: {took:?}");
}

#[test]
fn spin_with_little_fuel_runs_out() {
    let limits = RunLimits {
        fuel: 100_000,
        timeout: Duration::from_secs(30),
        ..limits()
    };
    let started = Instant::now();
    assert_eq!(
        run("spin", "{}", &limits, &mut FakeHost::default()),
        Err(RunError::FuelExhausted)
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn memhog_hits_the_memory_limit() {
    let limits = RunLimits {
        memory_bytes: 4 << 20,
        ..limits()
    };
    assert_eq!(
        run("memhog", "{}", &limits, &mut FakeHost::default()),
        Err(RunError::MemoryLimit)
    );
}

#[test]
fn initial_memory_over_the_limit_is_a_memory_limit() {
    // Every provider starts with two 64 KiB pages.
    let limits = RunLimits {
        memory_bytes: 64 * 1024,
        ..limits()
    };
    assert_eq!(
        run("echo", "{}", &limits, &mut FakeHost::default()),
        Err(RunError::MemoryLimit)
    );
}

#[test]
fn ioflood_stops_at_the_io_limit() {
    let mut host = FakeHost::answering("{}");
    assert_eq!(
        run("ioflood", "{}", &limits(), &mut host),
        Err(RunError::IoLimit)
    );
    assert_eq!(
        host.requests.len(),
        10,
        "only calls within the limit reach the host"
    );

    let generous = RunLimits {
        max_io_calls: 1000,
        ..limits()
    };
    let mut host = FakeHost::answering("{}");
    let out = ok(run("ioflood", "{}", &generous, &mut host));
    assert_eq!(out.io_calls, 1000);
    assert_eq!(host.requests.len(), 1000);
    assert_eq!(text(&out), r#"{"ok":true,"data":{"calls":1000}}"#);
}

#[test]
fn slow_host_io_counts_against_the_timeout() {
    let limits = RunLimits {
        timeout: Duration::from_millis(100),
        max_io_calls: 1000,
        ..limits()
    };
    let mut host = FakeHost {
        delay: Duration::from_millis(30),
        ..FakeHost::answering("{}")
    };
    let started = Instant::now();
    assert_eq!(
        run("ioflood", "{}", &limits, &mut host),
        Err(RunError::Timeout)
    );
    assert!(started.elapsed() < Duration::from_millis(300));
    assert!(
        (3..=5).contains(&host.requests.len()),
        "{} calls",
        host.requests.len()
    );
    // Every call got the run's single deadline, `timeout` after its start.
    let first = host.deadlines[0];
    assert!(host.deadlines.iter().all(|d| *d == first));
    assert!(first >= started + Duration::from_millis(100));
    assert!(first < started + Duration::from_millis(150));
}

#[test]
fn bigout_is_refused_over_the_output_limit() {
    let limits = RunLimits {
        memory_bytes: 32 << 20,
        ..limits()
    };
    assert_eq!(
        run("bigout", "{}", &limits, &mut FakeHost::default()),
        Err(RunError::OutputTooLarge)
    );
    // The fixture really produces 10 MiB: a larger limit accepts it.
    let roomy = RunLimits {
        max_output_bytes: 16 << 20,
        ..limits
    };
    let out = ok(run("bigout", "{}", &roomy, &mut FakeHost::default()));
    assert_eq!(out.output.len(), 10 << 20);
    assert!(out.output.starts_with(br#"{"ok":true,"data":"aaa"#));
}

#[test]
fn badabi_output_pointer_is_refused() {
    let result = run("badabi", "{}", &limits(), &mut FakeHost::default());
    assert!(matches!(result, Err(RunError::BadAbi(_))), "{result:?}");
}

#[test]
fn logs_are_capped_and_truncated() {
    let mut host = FakeHost::default();
    ok(run("logspam", "{}", &limits(), &mut host));
    assert_eq!(host.logs.len(), LOG_MAX_CALLS as usize);
    assert!(host.logs.iter().all(|(_, m)| m.len() == LOG_MAX_BYTES));
    let levels: Vec<u8> = host.logs.iter().take(5).map(|(l, _)| *l).collect();
    assert_eq!(levels, [0, 1, 2, 3, 3]);
}

#[test]
fn state_does_not_leak_between_runs() {
    for _ in 0..3 {
        let out = ok(run("counter", "{}", &limits(), &mut FakeHost::default()));
        assert_eq!(text(&out), r#"{"ok":true,"data":{"calls":1}}"#);
    }
}

#[test]
fn cache_returns_the_same_provider() {
    let a = provider("echo");
    let b = provider("echo");
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(a.digest(), digest(&wasm("echo")));
    match engine().get(a.digest()) {
        Some(c) => assert!(Arc::ptr_eq(&a, &c)),
        None => panic!("not cached"),
    }
    assert!(engine().get("sha256:00").is_none());
}

#[test]
fn digests_match_sha256sums() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vendor/providers/SHA256SUMS");
    let sums = std::fs::read_to_string(&path).unwrap_or_default();
    let mut seen = 0;
    for line in sums.lines() {
        let Some((hex, file)) = line.split_once("  ") else {
            panic!("bad line {line}");
        };
        let name = file.trim_start_matches("wasm/").trim_end_matches(".wasm");
        assert_eq!(provider(name).digest(), format!("sha256:{hex}"), "{file}");
        seen += 1;
    }
    assert!(seen >= 9, "SHA256SUMS lists {seen} modules");
}

/// Hand-assembled modules for the load checks.
const HEADER: &[u8] = b"\0asm\x01\0\0\0";
const TYPE_VOID: &[u8] = &[0x01, 0x04, 0x01, 0x60, 0x00, 0x00];

fn module(sections: &[&[u8]]) -> Vec<u8> {
    let mut m = HEADER.to_vec();
    for s in sections {
        m.extend_from_slice(s);
    }
    m
}

#[test]
fn load_refuses_foreign_imports_and_missing_exports() {
    let wasi = module(&[TYPE_VOID, b"\x02\x0a\x01\x04wasi\x01x\x00\x00"]);
    match engine().load(&wasi) {
        Err(WasmError::Import(m)) => assert!(m.contains("wasi.x"), "{m}"),
        other => panic!("{:?}", other.map(|p| p.digest().to_string())),
    }
    let bad_log = module(&[TYPE_VOID, b"\x02\x11\x01\x09latchgate\x03log\x00\x00"]);
    match engine().load(&bad_log) {
        Err(WasmError::Import(m)) => assert!(m.contains("wrong type"), "{m}"),
        other => panic!("{:?}", other.map(|p| p.digest().to_string())),
    }
    match engine().load(HEADER) {
        Err(WasmError::Export(m)) => assert!(m.contains("memory"), "{m}"),
        other => panic!("{:?}", other.map(|p| p.digest().to_string())),
    }
    assert!(matches!(
        engine().load(b"not wasm"),
        Err(WasmError::Compile(_))
    ));
    // Refused modules are not cached.
    assert!(engine().get(&digest(HEADER)).is_none());
}

#[test]
fn providers_of_another_engine_are_refused() {
    let other = match Engine::new() {
        Ok(e) => e,
        Err(e) => panic!("engine: {e}"),
    };
    let foreign = match other.load(&wasm("echo")) {
        Ok(p) => p,
        Err(e) => panic!("load: {e}"),
    };
    let result = engine().run(&foreign, b"{}", &limits(), &mut FakeHost::default());
    assert!(
        matches!(result, Err(RunError::Instantiate(_))),
        "{result:?}"
    );
}

#[test]
fn runs_share_one_engine_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
    assert_send_sync::<Provider>();
    let echo = provider("echo");
    thread::scope(|s| {
        for i in 0..4 {
            let echo = Arc::clone(&echo);
            s.spawn(move || {
                for j in 0..20 {
                    let input = format!(r#"{{"i":{i},"j":{j}}}"#);
                    let out =
                        engine().run(&echo, input.as_bytes(), &limits(), &mut FakeHost::default());
                    assert_eq!(
                        ok(out).output,
                        format!(r#"{{"ok":true,"data":{input}}}"#).into_bytes()
                    );
                }
            });
        }
    });
}

fn fs_limits() -> RunLimits {
    RunLimits {
        fs: true,
        ..limits()
    }
}

#[test]
fn fs_import_is_not_granted_without_fs() {
    let fs = provider("fs");
    assert!(fs.imports().fs_request);
    assert!(!fs.imports().http_request);
    let mut host = FakeHost::answering(r#"{"operation":"read"}"#);
    let task = r#"{"operation":"read","path":"a.txt"}"#;
    match run("fs", task, &limits(), &mut host) {
        Err(RunError::Instantiate(m)) => {
            assert!(m.contains("import not granted"), "{m}");
            assert!(m.contains("latchgate.fs_request"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    assert!(host.fs_requests.is_empty());
    // Granted, the same module runs and reaches the host.
    let out = ok(run("fs", task, &fs_limits(), &mut host));
    assert_eq!(host.fs_requests.len(), 1);
    assert_eq!(out.io_calls, 1);
    // Modules without the import are unaffected by the grant.
    assert!(run("echo", "{}", &fs_limits(), &mut FakeHost::default()).is_ok());
}

#[test]
fn unknown_host_imports_load_but_never_instantiate() {
    let p = provider("badimport");
    assert_eq!(p.ungranted_import(), Some("latchgate.spawn_process"));
    let mut host = FakeHost::default();
    for l in [limits(), fs_limits()] {
        match engine().run(&p, b"{}", &l, &mut host) {
            Err(RunError::Instantiate(m)) => {
                assert!(
                    m.contains("import not granted: latchgate.spawn_process"),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn fs_forwards_the_request_and_wraps_the_answer() {
    let data = r#"{"operation":"write","path":"src/a.txt","before_hash":null,"after_hash":"sha256:00","bytes_before":null,"bytes_after":2}"#;
    let mut host = FakeHost::answering(data);
    let task = r#"{"path":"src/a.txt","operation":"write","content_base64":"aGk=","mode":"create","expected_before_hash":null,"extra":[1]}"#;
    let out = ok(run("fs", task, &fs_limits(), &mut host));
    assert_eq!(
        std::str::from_utf8(&host.fs_requests[0]).unwrap(),
        r#"{"operation":"write","path":"src/a.txt","content_base64":"aGk=","mode":"create"}"#
    );
    assert_eq!(text(&out), format!(r#"{{"ok":true,"data":{data}}}"#));

    let mut host = FakeHost::answering(r#"{"error":"fs_path_denied: \".env\" matches"}"#);
    let out = ok(run(
        "fs",
        r#"{"operation":"read","path":".env"}"#,
        &fs_limits(),
        &mut host,
    ));
    assert_eq!(
        text(&out),
        r#"{"ok":false,"error":"fs_path_denied: \".env\" matches"}"#
    );
    let mut host = FakeHost::answering("not json");
    let out = ok(run(
        "fs",
        r#"{"operation":"read","path":"a"}"#,
        &fs_limits(),
        &mut host,
    ));
    assert_eq!(
        text(&out),
        r#"{"ok":false,"error":"malformed host response"}"#
    );
}

#[test]
fn fs_refuses_bad_tasks_without_io() {
    for (task, want) in [
        (r#"{"path":"a"}"#, "operation is required"),
        (r#"{"operation":"read"}"#, "path is required"),
        (
            r#"{"operation":1,"path":"a"}"#,
            "operation must be a string",
        ),
        (
            r#"{"operation":"read","path":"a","path":"b"}"#,
            "duplicate key",
        ),
        (
            r#"{"operation":"write","path":"a","content_base64":5}"#,
            "content_base64 must be a string",
        ),
        (r#"[1]"#, "not a valid JSON object"),
    ] {
        let mut host = FakeHost::answering("{}");
        let out = ok(run("fs", task, &fs_limits(), &mut host));
        assert!(text(&out).contains(want), "{task}: {}", text(&out));
        assert!(text(&out).starts_with(r#"{"ok":false"#), "{task}");
        assert!(host.fs_requests.is_empty(), "{task}");
    }
}

#[test]
fn fs_moves_a_mebibyte_within_the_manifest_fuel() {
    // fs_write's worst case: ~1 MiB of base64 in, scanned and copied.
    let content = "QUFB".repeat(262_144);
    let task = format!(r#"{{"operation":"write","path":"a","content_base64":"{content}"}}"#);
    let mut host = FakeHost::answering(r#"{"operation":"write"}"#);
    let l = RunLimits {
        fuel: 100_000_000,
        memory_bytes: 64 << 20,
        ..fs_limits()
    };
    let out = ok(engine().run(&provider("fs"), task.as_bytes(), &l, &mut host));
    assert!(out.fuel_consumed < 50_000_000, "fuel {}", out.fuel_consumed);
    // fs_read's worst case: a 1.4 MiB answer wrapped into the output.
    let answer = format!(r#"{{"operation":"read","content_base64":"{content}"}}"#);
    let mut host = FakeHost::answering(&answer);
    let l = RunLimits {
        max_output_bytes: 2 << 20,
        ..l
    };
    let out = ok(engine().run(
        &provider("fs"),
        br#"{"operation":"read","path":"a"}"#,
        &l,
        &mut host,
    ));
    assert!(out.fuel_consumed < 50_000_000, "fuel {}", out.fuel_consumed);
    assert!(out.output.len() > answer.len());
}
