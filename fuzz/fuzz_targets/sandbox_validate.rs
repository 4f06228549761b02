//! The sandbox configuration (`src/sandbox/config.rs`: a
//! `--sandbox-config` file or latchgate.toml's `[sandbox]`, TOML text →
//! validated `Layer`) and its field checks (`src/sandbox/validate.rs`).
//!
//! Input: the whole text as a config file; then each line as a value for
//! every field check. Properties: no panic; every check is idempotent (a
//! value it returns is accepted again, unchanged), and a validated layer
//! holds only values the checks accept.
#![no_main]

use latchgate::sandbox::config::from_file_text;
use latchgate::sandbox::validate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match from_file_text("fuzz-sandbox.toml", text) {
        Ok(layer) => {
            for h in layer.allow_hosts.iter().flatten() {
                assert_eq!(validate::host(h).as_ref(), Ok(h), "allow_hosts");
            }
            for v in layer.pass_env.iter().flatten() {
                assert_eq!(validate::pass_env(v).as_ref(), Ok(v), "pass_env");
            }
            for r in &layer.credentials {
                assert_eq!(validate::route_name(&r.name).as_ref(), Ok(&r.name));
                assert_eq!(validate::upstream(&r.upstream).as_ref(), Ok(&r.upstream));
                assert_eq!(validate::header(&r.header).as_ref(), Ok(&r.header));
                assert_eq!(validate::format(&r.format).as_ref(), Ok(&r.format));
            }
            assert_ne!(layer.uid, Some(0));
            assert_ne!(layer.gid, Some(0));
        }
        Err(problems) => assert!(!problems.is_empty()),
    }

    for line in text.lines() {
        idempotent("host", line, validate::host);
        idempotent("env_name", line, validate::env_name);
        idempotent("pass_env", line, validate::pass_env);
        idempotent("route_name", line, validate::route_name);
        idempotent("upstream", line, validate::upstream);
        idempotent("header", line, validate::header);
        idempotent("format", line, validate::format);
        for check in [validate::absolute, validate::ro_mount] {
            if let Ok(p) = check(line) {
                let s = p.to_str().expect("a path from text is text");
                assert_eq!(check(s).as_ref(), Ok(&p), "path {line:?}");
            }
        }
        if let Ok(k) = validate::key_source(line) {
            let _ = k;
        }
        let _ = latchgate::gateway::config::parse_mode(line);
    }
});

fn idempotent(what: &str, value: &str, check: fn(&str) -> Result<String, String>) {
    if let Ok(v) = check(value) {
        assert_eq!(check(&v).as_ref(), Ok(&v), "{what}: {value:?} -> {v:?}");
    } else if let Err(e) = check(value) {
        assert!(!e.is_empty(), "{what}: empty error");
    }
}
