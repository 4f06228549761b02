//! Providers that misbehave, loaded as operator providers (module in the
//! providers directory, manifest pinning its sha256): an infinite loop, a
//! memory hog, a huge output, a flood of host calls, a call to an
//! undeclared sink, an import nobody grants, a broken ABI, a log flood.
//! Each ends in a clean JSON error and a ledger event, no limit is exceeded,
//! and a parallel stream of well-behaved calls keeps succeeding meanwhile.
//! A manifest pinning a digest no module has keeps the gate from starting,
//! naming both digests.

mod common;

use common::{Agent, Gate, Opts};
use latchgate::json::Value;
use latchgate::obj;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn module(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("vendor/providers/wasm/{name}.wasm"))
}

fn digest(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    format!("sha256:{}", latchgate::crypto::sha256_hex(&bytes))
}

/// A manifest for fixture `name` with tight limits (`spin` gets all the
/// fuel it wants, so the wall clock has to stop it).
fn manifest(name: &str, digest: &str, extra: &str) -> String {
    let fuel = if name == "spin" {
        "10_000_000_000"
    } else {
        "50_000_000"
    };
    format!(
        "# Test fixture `{name}` (misbehaving provider).\n\
         id = \"bad_{name}\"\nversion = \"1.0.0\"\nprovider = \"{digest}\"\n\
         description = \"misbehaving fixture {name}\"\nrisk_level = \"low\"\n\
         declared_side_effects = []\nverifier = \"none\"\n\
         [limits]\nfuel = {fuel}\nmemory_mb = 16\ntimeout_seconds = 2\nmax_io_calls = 5\n\
         [io]\nmax_response_bytes = 65536\n{extra}\n\
         [request_schema]\ntype = \"object\"\nadditionalProperties = true\n"
    )
}

const FIXTURES: &[&str] = &[
    "spin",
    "memhog",
    "bigout",
    "ioflood",
    "sinkjump",
    "badimport",
    "badabi",
    "logspam",
];

/// Fixtures that must fail (logspam succeeds: its log lines are bounded).
const FAILING: &[&str] = &[
    "spin",
    "memhog",
    "bigout",
    "ioflood",
    "sinkjump",
    "badimport",
    "badabi",
];

fn setup(name: &str) -> (PathBuf, Vec<(String, String)>) {
    let dir = common::scratch(name);
    std::fs::create_dir_all(dir.join("providers")).unwrap();
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    let mut pinned = Vec::new();
    for f in FIXTURES {
        let src = module(f);
        std::fs::copy(&src, dir.join("providers").join(format!("{f}.wasm"))).unwrap();
        let d = digest(&src);
        // ioflood calls example.com (declared; mapped to a closed local
        // port, so each call fails fast) until its I/O budget is gone;
        // sinkjump calls a host its manifest does not declare.
        let extra = match *f {
            "ioflood" => "[egress]\nallowed_domains = [\"example.com\"]\n",
            "sinkjump" => "[egress]\nallowed_domains = [\"upstream.test\"]\n",
            _ => "",
        };
        std::fs::write(
            dir.join("manifests").join(format!("bad_{f}.toml")),
            manifest(f, &d, extra),
        )
        .unwrap();
        pinned.push((f.to_string(), d));
    }
    (dir, pinned)
}

fn start(name: &str, dir: &Path) -> Gate {
    Gate::start_with(
        name,
        Opts {
            dir: Some(dir.to_path_buf()),
            extra: format!(
                "providers_dir = \"{}\"\nmanifests_dir = \"{}\"\n",
                dir.join("providers").display(),
                dir.join("manifests").display()
            ),
            hosts: vec![("example.com".into(), "127.0.0.1:1".into())],
            ..Opts::default()
        },
    )
}

#[test]
fn misbehaving_providers_fail_cleanly_while_others_keep_running() {
    let (dir, _) = setup("misbehave");
    let gate = Arc::new(start("misbehave", &dir));

    // A well-behaved stream in parallel.
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let bad = Arc::new(AtomicUsize::new(0));
    let stream = {
        let (gate, stop, ok, bad) = (gate.clone(), stop.clone(), ok.clone(), bad.clone());
        std::thread::spawn(move || {
            let agent = Agent::lease(&gate, None);
            let mut worst = Duration::ZERO;
            while !stop.load(Ordering::SeqCst) {
                let t = Instant::now();
                let r = agent.execute(&gate, "echo", &obj! { "ping" => 1 });
                worst = worst.max(t.elapsed());
                if r.status == 200 {
                    ok.fetch_add(1, Ordering::SeqCst);
                } else {
                    bad.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            worst
        })
    };

    let agent = Agent::lease(&gate, None);
    let mut report = Vec::new();
    for f in FAILING {
        let t = Instant::now();
        let r = agent.execute(&gate, &format!("bad_{f}"), &obj! {});
        let took = t.elapsed();
        let body = r.json();
        let code = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let reason = body
            .get("deny_reason")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        report.push(format!("{f}: {} {code} ({reason}) in {took:?}", r.status));
        assert!(
            r.status >= 400 && !code.is_empty(),
            "{f} must fail with a JSON error: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        // No limit can be exceeded: the wall clock limit is 2 s.
        assert!(took < Duration::from_secs(5), "{f} took {took:?}");
        let ev = common::audit_events(&gate, 5);
        assert!(
            ev.iter().any(|e| e.get("action_id").and_then(Value::as_str)
                == Some(&format!("bad_{f}"))
                && e.get("error").and_then(Value::as_str) == Some(code.as_str())),
            "{f}: no ledger event with error {code}"
        );
        let expect = match *f {
            "spin" => "",
            "memhog" => "memory",
            "bigout" => "size limit",
            "ioflood" => "I/O call limit",
            "sinkjump" => "undeclared",
            "badimport" => "instantiated",
            "badabi" => "ABI",
            _ => "",
        };
        assert!(
            reason.contains(expect),
            "{f}: reason {reason:?} should mention {expect:?}"
        );
        if *f == "spin" {
            assert!(
                reason.contains("fuel") || reason.contains("wall-clock"),
                "spin: {reason:?}"
            );
        }
    }
    stop.store(true, Ordering::SeqCst);
    let worst = stream.join().unwrap();
    eprintln!("{}", report.join("\n"));
    assert!(
        ok.load(Ordering::SeqCst) > 20,
        "the parallel stream barely ran"
    );
    assert_eq!(
        bad.load(Ordering::SeqCst),
        0,
        "well-behaved calls failed meanwhile"
    );
    assert!(
        worst < Duration::from_secs(2),
        "a well-behaved call waited {worst:?}"
    );
    // The log flood runs, but what reaches the gate's log is bounded
    // (300 lines of 5000 bytes asked for).
    let r = agent.execute(&gate, "bad_logspam", &obj! {});
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let log = gate.log();
    assert!(
        log.len() < 2 * 1024 * 1024,
        "gate log grew to {} bytes",
        log.len()
    );
    // The gate still serves.
    assert_eq!(agent.execute(&gate, "echo", &obj! {}).status, 200);
}

#[test]
fn a_manifest_pinning_another_digest_keeps_the_gate_from_starting() {
    let (dir, pinned) = setup("digest-mismatch");
    let wrong = format!("sha256:{}", "ab".repeat(32));
    std::fs::write(
        dir.join("manifests/bad_spin.toml"),
        manifest("spin", &wrong, ""),
    )
    .unwrap();
    let cfg = dir.join("latchgate.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"{}\"\nlisten_uds_path = \"{}\"\nproviders_dir = \"{}\"\nmanifests_dir = \"{}\"\n",
            dir.join("data").display(),
            dir.join("run/gate.sock").display(),
            dir.join("providers").display(),
            dir.join("manifests").display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(common::bin())
        .args(["up", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let real = &pinned.iter().find(|(f, _)| f == "spin").unwrap().1;
    assert!(
        err.contains(&wrong) && err.contains(real.as_str()) && err.contains("spin.wasm"),
        "{err}"
    );
}
