//! The filesystem provider end to end (real binary): fs_read, fs_write and
//! fs_delete beneath a lease's fs_root; every way out of the root refused
//! with a clean JSON error and a ledger event; writes and deletes held for
//! an operator, then verified by their hashes in the signed receipt.

mod common;

use common::{Agent, Gate, Opts};
use latchgate::crypto::{es256, hex, sha256};
use latchgate::gate::fsio::base64_encode;
use latchgate::json::Value;
use latchgate::obj;
use std::path::{Path, PathBuf};

/// `sha256:<hex>` of `bytes`.
fn h(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(&sha256(bytes)))
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// A small write action for the oversize test (16-byte files).
const FS_WRITE_SMALL: &str = r#"
# Test manifest: fs_write with a 16-byte file limit.
# Risk rationale: test only.
id = "fs_write_small"
version = "1.0.0"
provider = "builtin:fs"
risk_level = "medium"
declared_side_effects = ["fs_write"]
verifier = "fs_hash"
[limits]
fuel = 100_000_000
max_io_calls = 1
[fs]
allowed_operations = ["create", "overwrite"]
allowed_paths = ["src/**"]
max_file_bytes = 16
[request_schema]
type = "object"
additionalProperties = true
"#;

/// A gate whose scratch directory holds `root/` (the fs root, with files
/// and traps) and an outside file next to it.
struct Setup {
    gate: Gate,
    root: PathBuf,
}

fn setup(name: &str) -> Setup {
    let dir = common::scratch(name);
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    std::fs::write(dir.join("manifests/fs_write_small.toml"), FS_WRITE_SMALL).unwrap();
    std::fs::write(root.join("src/hello.txt"), b"hello").unwrap();
    std::fs::write(root.join(".env"), b"TOKEN=secret").unwrap();
    std::fs::write(root.join(".git/config"), b"[core]").unwrap();
    std::fs::write(dir.join("outside.txt"), b"outside secret").unwrap();
    // A symlink inside the root pointing outside, and one to a file inside.
    std::os::unix::fs::symlink(dir.join("outside.txt"), root.join("src/escape.txt")).unwrap();
    std::os::unix::fs::symlink("hello.txt", root.join("src/alias.txt")).unwrap();
    std::fs::write(root.join("src/big.bin"), vec![b'x'; 2 * 1024 * 1024]).unwrap();
    let gate = Gate::start_with(
        name,
        Opts {
            dir: Some(dir.clone()),
            ..Opts::default()
        },
    );
    Setup { gate, root }
}

/// Leases with `fs_root` (like `Agent::lease`, plus the root).
fn lease(gate: &Gate, root: Option<&Path>) -> Agent {
    let key = es256::KeyPair::generate().unwrap();
    let mut body = obj! { "scopes" => vec![Value::from("tools:call")], "dpop_jwk" => key.jwk() };
    if let Some(r) = root {
        body.as_object_mut()
            .unwrap()
            .insert("fs_root", r.display().to_string());
    }
    let r = gate.request(
        "POST",
        "/v1/leases",
        &[("Content-Type", "application/json".into())],
        body.to_json().as_bytes(),
    );
    assert_eq!(r.status, 200, "lease: {}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    Agent {
        key,
        lease: s(&v, "lease_jwt").to_string(),
        session_id: s(&v, "session_id").to_string(),
        public_base_url: "http://localhost:3000".into(),
    }
}

/// The newest ledger event of `action`.
fn last_event(gate: &Gate, action: &str) -> Value {
    common::audit_events(gate, 20)
        .into_iter()
        .find(|e| s(e, "action_id") == action)
        .unwrap_or_else(|| panic!("no ledger event for {action}"))
}

/// Asserts a refusal: status, code, and a matching ledger event.
fn refused(gate: &Gate, r: &common::Resp, status: u16, code: &str, action: &str) {
    assert_eq!(
        (r.status, r.code().as_str()),
        (status, code),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(!s(&r.json(), "deny_reason").is_empty());
    let ev = last_event(gate, action);
    assert_eq!(s(&ev, "error"), code, "{}", ev.to_json());
    assert_eq!(
        ev.get("status").and_then(Value::as_u64),
        Some(status.into())
    );
}

/// Holds a call, approves it over the operator socket, returns the answer.
fn approve(gate: &Gate, held: &common::Resp) -> common::Resp {
    assert_eq!(held.status, 202, "{}", String::from_utf8_lossy(&held.body));
    let id = s(&held.json(), "approval_id").to_string();
    gate.admin("POST", &format!("/v1/approvals/{id}/approve"), b"")
}

/// The stored receipt of an executed call.
fn receipt(gate: &Gate, body: &Value) -> Value {
    let id = s(body, "receipt_id");
    let r = gate.admin("GET", &format!("/v1/receipts/{id}"), b"");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

fn read(path: &str) -> Value {
    obj! { "operation" => "read", "path" => path }
}

#[test]
fn fs_read_works_and_every_way_out_is_refused() {
    let t = setup("fs-read");
    let gate = &t.gate;
    let agent = lease(gate, Some(&t.root));

    let r = agent.execute(gate, "fs_read", &read("src/hello.txt"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    assert_eq!(s(&body, "verification_outcome"), "verified");
    let data = body.get("output").and_then(|o| o.get("data")).unwrap();
    assert_eq!(s(data, "content_base64"), base64_encode(b"hello"));
    assert_eq!(s(data, "hash"), h(b"hello"));
    let rec = receipt(gate, &body);
    let ev = rec
        .get("effect_evidence")
        .and_then(Value::as_array)
        .unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(s(&ev[0], "before_hash"), h(b"hello"));
    assert_eq!(s(&ev[0], "after_hash"), h(b"hello"));
    assert_eq!(s(&rec, "signature_status"), "valid");

    // Refused before anything runs (lexical checks and deny globs).
    let r = agent.execute(gate, "fs_read", &read("../outside.txt"));
    refused(gate, &r, 403, "fs_path_escapes_root", "fs_read");
    let outside = t.root.parent().unwrap().join("outside.txt");
    let r = agent.execute(gate, "fs_read", &read(&outside.display().to_string()));
    refused(gate, &r, 403, "fs_path_escapes_root", "fs_read");
    let r = agent.execute(gate, "fs_read", &read(".env"));
    refused(gate, &r, 403, "fs_path_denied", "fs_read");
    let r = agent.execute(gate, "fs_read", &read(".git/config"));
    refused(gate, &r, 403, "fs_path_denied", "fs_read");
    let r = agent.execute(gate, "fs_read", &read("src/a\u{1}b"));
    refused(gate, &r, 400, "fs_invalid_path", "fs_read");

    // Refused by the host, beneath the root (openat2): the run leaves a receipt.
    for path in ["src/escape.txt", "src/alias.txt"] {
        let r = agent.execute(gate, "fs_read", &read(path));
        refused(gate, &r, 403, "fs_symlink_refused", "fs_read");
        assert!(!s(&r.json(), "receipt_id").is_empty());
        assert!(!String::from_utf8_lossy(&r.body).contains("outside secret"));
    }
    let r = agent.execute(gate, "fs_read", &read("src/big.bin"));
    refused(gate, &r, 413, "fs_file_too_large", "fs_read");
    let r = agent.execute(gate, "fs_read", &read("src/missing.txt"));
    refused(gate, &r, 404, "fs_not_found", "fs_read");

    // A root holding the gate's data directory: its files stay refused.
    let scratch = t.root.parent().unwrap();
    std::fs::write(gate.data().join("notes.txt"), b"gate data").unwrap();
    let wide = lease(gate, Some(scratch));
    let r = wide.execute(gate, "fs_read", &read("data/notes.txt"));
    refused(gate, &r, 403, "fs_path_denied", "fs_read");
    assert!(s(&r.json(), "deny_reason").contains("gate's own"));
    assert_eq!(
        wide.execute(gate, "fs_read", &read("root/src/hello.txt"))
            .status,
        200
    );

    // A lease without fs_root cannot run file actions at all.
    let rootless = lease(gate, None);
    let r = rootless.execute(gate, "fs_read", &read("src/hello.txt"));
    refused(gate, &r, 400, "fs_root_required", "fs_read");
}

#[test]
fn writes_and_deletes_wait_for_an_operator_and_are_verified() {
    let t = setup("fs-write");
    let gate = &t.gate;
    let agent = lease(gate, Some(&t.root));
    let file = t.root.join("src/new.txt");

    // Create: held (high risk), approved, verified, before null.
    let content = b"hello world";
    let create = obj! {
        "operation" => "write", "path" => "src/new.txt",
        "content_base64" => base64_encode(content), "mode" => "create",
    };
    let held = agent.execute(gate, "fs_write", &create);
    assert!(!file.exists(), "nothing runs before the approval");
    let r = approve(gate, &held);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    assert_eq!(s(&body, "verification_outcome"), "verified");
    assert_eq!(std::fs::read(&file).unwrap(), content);
    let rec = receipt(gate, &body);
    let ev = &rec
        .get("effect_evidence")
        .and_then(Value::as_array)
        .unwrap()[0];
    assert_eq!(ev.get("before_hash"), Some(&Value::Null));
    assert_eq!(s(ev, "after_hash"), h(content));
    assert_eq!(ev.get("bytes_after").and_then(Value::as_u64), Some(11));
    let verified = rec.get("verification_outcome").unwrap();
    assert_eq!(s(verified, "status"), "verified");
    assert_eq!(s(&rec, "signature_status"), "valid");

    // Overwrite with a wrong expected hash: refused, nothing written.
    let overwrite = |expected: &str, new: &[u8]| {
        obj! {
            "operation" => "write", "path" => "src/new.txt",
            "content_base64" => base64_encode(new), "mode" => "overwrite",
            "expected_before_hash" => expected,
        }
    };
    let held = agent.execute(gate, "fs_write", &overwrite(&h(b"something else"), b"v2"));
    let r = approve(gate, &held);
    refused(gate, &r, 409, "fs_before_hash_mismatch", "fs_write");
    assert_eq!(std::fs::read(&file).unwrap(), content);

    // The right hash: written, before and after recorded.
    let held = agent.execute(gate, "fs_write", &overwrite(&h(content), b"v2"));
    let r = approve(gate, &held);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let rec = receipt(gate, &r.json());
    let ev = &rec
        .get("effect_evidence")
        .and_then(Value::as_array)
        .unwrap()[0];
    assert_eq!(s(ev, "before_hash"), h(content));
    assert_eq!(s(ev, "after_hash"), h(b"v2"));
    assert_eq!(std::fs::read(&file).unwrap(), b"v2");

    // Create over an existing file: 409 after approval.
    let held = agent.execute(gate, "fs_write", &create);
    let r = approve(gate, &held);
    refused(gate, &r, 409, "fs_already_exists", "fs_write");

    // An undeclared path is held with exactly that path approved.
    let notes = obj! {
        "operation" => "write", "path" => "notes.txt",
        "content_base64" => base64_encode(b"n"),
    };
    let held = agent.execute(gate, "fs_write", &notes);
    let pending = last_event(gate, "fs_write");
    assert_eq!(s(&pending, "event_type"), "pending_approval");
    assert_eq!(
        pending.get("approved_paths").map(Value::to_json).as_deref(),
        Some(r#"["notes.txt"]"#)
    );
    assert_eq!(approve(gate, &held).status, 200);
    assert_eq!(std::fs::read(t.root.join("notes.txt")).unwrap(), b"n");

    // Denied globs are refused before anything is held, approval or not.
    let r = agent.execute(
        gate,
        "fs_write",
        &obj! { "operation" => "write", "path" => "src/.env", "content_base64" => "eA==" },
    );
    refused(gate, &r, 403, "fs_path_denied", "fs_write");
    let r = agent.execute(
        gate,
        "fs_write",
        &obj! { "operation" => "write", "path" => "src/Makefile", "content_base64" => "eA==" },
    );
    refused(gate, &r, 403, "fs_path_denied", "fs_write");
    // A symlink inside the root pointing outside is refused by the host.
    let held = agent.execute(
        gate,
        "fs_write",
        &obj! { "operation" => "write", "path" => "src/escape.txt",
        "content_base64" => "eA==", "mode" => "overwrite" },
    );
    let r = approve(gate, &held);
    refused(gate, &r, 403, "fs_symlink_refused", "fs_write");
    let outside = t.root.parent().unwrap().join("outside.txt");
    assert_eq!(std::fs::read(outside).unwrap(), b"outside secret");

    // Oversize write: refused before anything runs (16-byte action).
    let big = obj! {
        "operation" => "write", "path" => "src/big.txt",
        "content_base64" => base64_encode(&[b'a'; 17]),
    };
    let r = agent.execute(gate, "fs_write_small", &big);
    refused(gate, &r, 413, "fs_file_too_large", "fs_write_small");
    assert!(!t.root.join("src/big.txt").exists());
    let ok = obj! {
        "operation" => "write", "path" => "src/small.txt",
        "content_base64" => base64_encode(&[b'a'; 16]),
    };
    let r = agent.execute(gate, "fs_write_small", &ok);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // Delete: held (critical), approved, verified, after null.
    let held = agent.execute(
        gate,
        "fs_delete",
        &obj! { "operation" => "delete", "path" => "src/new.txt" },
    );
    assert!(file.exists());
    let r = approve(gate, &held);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    assert_eq!(s(&body, "verification_outcome"), "verified");
    assert!(!file.exists());
    let rec = receipt(gate, &body);
    let ev = &rec
        .get("effect_evidence")
        .and_then(Value::as_array)
        .unwrap()[0];
    assert_eq!(s(ev, "operation"), "delete");
    assert_eq!(s(ev, "before_hash"), h(b"v2"));
    assert_eq!(ev.get("after_hash"), Some(&Value::Null));
    // The symlink itself is refused as a delete target (its target survives).
    let held = agent.execute(
        gate,
        "fs_delete",
        &obj! { "operation" => "delete", "path" => "src/alias.txt" },
    );
    let r = approve(gate, &held);
    refused(gate, &r, 403, "fs_symlink_refused", "fs_delete");
    assert!(t.root.join("src/hello.txt").exists());
}
