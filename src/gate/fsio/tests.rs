//! `perform` against a real scratch directory: every operation, and every
//! way out of the root refused.

use super::*;
use crate::policy::Glob;
use crate::registry::fs::builtin_denied;
use std::path::PathBuf;
use std::time::Duration;

struct Root {
    base: PathBuf,
    root: PathBuf,
}

impl Root {
    fn new(name: &str) -> Root {
        let base = std::env::temp_dir().join(format!(
            "lg-fsio-{name}-{}-{}",
            std::process::id(),
            crate::crypto::uuid::v7()
        ));
        let root = base.join("root");
        std::fs::create_dir_all(root.join("src")).unwrap();
        let base = std::fs::canonicalize(&base).unwrap();
        let root = base.join("root");
        Root { base, root }
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn section(ops: &[FsOperation], max: u64) -> FsSection {
    FsSection {
        allowed_operations: ops.to_vec(),
        allowed_paths: vec![
            Glob::parse("src/**").unwrap(),
            Glob::parse("*.txt").unwrap(),
        ],
        denied_paths: builtin_denied().unwrap(),
        max_file_bytes: max,
    }
}

const ALL: &[FsOperation] = &[
    FsOperation::Read,
    FsOperation::Create,
    FsOperation::Overwrite,
    FsOperation::Delete,
];

fn run(r: &Root, s: &FsSection, req: Value) -> Result<(FsEffect, Value), FsError> {
    let access = FsAccess {
        root: &r.root,
        section: s,
        approved_paths: &[],
        protected: &[],
    };
    perform(
        &access,
        req.to_json().as_bytes(),
        Instant::now() + Duration::from_secs(5),
    )
}

fn kind(res: Result<(FsEffect, Value), FsError>) -> FsErrorKind {
    match res {
        Ok((e, _)) => panic!("succeeded: {e:?}"),
        Err(e) => e.kind,
    }
}

fn read(path: &str) -> Value {
    obj! { "operation" => "read", "path" => path }
}

fn write(path: &str, content: &[u8], mode: &str) -> Value {
    obj! { "operation" => "write", "path" => path, "content_base64" => base64::encode(content), "mode" => mode }
}

#[test]
fn read_create_overwrite_delete() {
    let r = Root::new("ops");
    let s = section(ALL, 1024);
    std::fs::write(r.root.join("src/a.txt"), b"hello").unwrap();

    let (e, data) = run(&r, &s, read("src/a.txt")).unwrap();
    let h = sha256_prefixed(b"hello");
    assert_eq!(e.operation, "read");
    assert_eq!(e.before_hash.as_deref(), Some(h.as_str()));
    assert_eq!(e.after_hash, e.before_hash);
    assert_eq!((e.bytes_before, e.bytes_after), (Some(5), Some(5)));
    assert_eq!(
        data.get("content_base64").and_then(Value::as_str),
        Some("aGVsbG8=")
    );
    assert_eq!(data.get("hash").and_then(Value::as_str), Some(h.as_str()));

    let (e, data) = run(&r, &s, write("src/new.txt", b"fresh", "create")).unwrap();
    assert_eq!((e.operation, e.mode), ("write", Some("create")));
    assert_eq!(e.before_hash, None);
    assert_eq!(
        e.after_hash.as_deref(),
        Some(sha256_prefixed(b"fresh").as_str())
    );
    assert_eq!(std::fs::read(r.root.join("src/new.txt")).unwrap(), b"fresh");
    assert_eq!(data.get("mode").and_then(Value::as_str), Some("create"));
    assert!(data.get("content_base64").is_none());
    assert_eq!(
        kind(run(&r, &s, write("src/new.txt", b"x", "create"))),
        FsErrorKind::AlreadyExists
    );

    // Overwrite: a wrong expected hash writes nothing; the right one does.
    let mut req = write("src/new.txt", b"second", "overwrite");
    let m = req.as_object_mut().unwrap();
    m.insert("expected_before_hash", sha256_prefixed(b"other"));
    assert_eq!(kind(run(&r, &s, req.clone())), FsErrorKind::HashMismatch);
    assert_eq!(std::fs::read(r.root.join("src/new.txt")).unwrap(), b"fresh");
    req.as_object_mut()
        .unwrap()
        .insert("expected_before_hash", sha256_prefixed(b"fresh"));
    let (e, _) = run(&r, &s, req).unwrap();
    assert_eq!(
        e.before_hash.as_deref(),
        Some(sha256_prefixed(b"fresh").as_str())
    );
    assert_eq!(
        e.after_hash.as_deref(),
        Some(sha256_prefixed(b"second").as_str())
    );
    assert_eq!((e.bytes_before, e.bytes_after), (Some(5), Some(6)));
    assert_eq!(
        std::fs::read(r.root.join("src/new.txt")).unwrap(),
        b"second"
    );
    assert_eq!(
        kind(run(&r, &s, write("src/none.txt", b"x", "overwrite"))),
        FsErrorKind::NotFound
    );

    let (e, _) = run(
        &r,
        &s,
        obj! { "operation" => "delete", "path" => "src/new.txt" },
    )
    .unwrap();
    assert_eq!(
        e.before_hash.as_deref(),
        Some(sha256_prefixed(b"second").as_str())
    );
    assert_eq!((e.after_hash.clone(), e.bytes_after), (None, None));
    assert!(!r.root.join("src/new.txt").exists());
    let ev = e.evidence_json();
    assert_eq!(ev.get("after_hash"), Some(&Value::Null));
    assert_eq!(ev.get("bytes_before").and_then(Value::as_u64), Some(6));
    assert_eq!(
        kind(run(
            &r,
            &s,
            obj! { "operation" => "delete", "path" => "src/new.txt" }
        )),
        FsErrorKind::NotFound
    );
    // A file at the top of the root.
    std::fs::write(r.root.join("top.txt"), b"t").unwrap();
    assert!(run(
        &r,
        &s,
        obj! { "operation" => "delete", "path" => "top.txt" }
    )
    .is_ok());
    assert!(!r.root.join("top.txt").exists());
}

#[test]
fn every_way_out_is_refused() {
    let r = Root::new("escape");
    let s = section(ALL, 1024);
    std::fs::write(r.base.join("outside.txt"), b"secret").unwrap();
    std::fs::create_dir_all(r.base.join("outdir")).unwrap();
    std::os::unix::fs::symlink(r.base.join("outside.txt"), r.root.join("src/link.txt")).unwrap();
    std::os::unix::fs::symlink(r.base.join("outdir"), r.root.join("src/dir")).unwrap();
    std::fs::write(r.root.join("src/real.txt"), b"r").unwrap();
    std::os::unix::fs::symlink("real.txt", r.root.join("src/inner.txt")).unwrap();

    assert_eq!(
        kind(run(&r, &s, read("../outside.txt"))),
        FsErrorKind::EscapesRoot
    );
    let abs = r.base.join("outside.txt").display().to_string();
    assert_eq!(kind(run(&r, &s, read(&abs))), FsErrorKind::EscapesRoot);
    assert_eq!(
        kind(run(&r, &s, read("src/link.txt"))),
        FsErrorKind::Symlink
    );
    assert_eq!(
        kind(run(&r, &s, read("src/inner.txt"))),
        FsErrorKind::Symlink
    );
    assert_eq!(
        kind(run(&r, &s, write("src/dir/x.txt", b"x", "create"))),
        FsErrorKind::Symlink
    );
    assert!(!r.base.join("outdir/x.txt").exists());
    assert_eq!(
        kind(run(&r, &s, write("src/link.txt", b"pwned", "overwrite"))),
        FsErrorKind::Symlink
    );
    assert_eq!(
        kind(run(
            &r,
            &s,
            obj! { "operation" => "delete", "path" => "src/link.txt" }
        )),
        FsErrorKind::Symlink
    );
    assert!(r.root.join("src/link.txt").symlink_metadata().is_ok());
    assert_eq!(
        std::fs::read(r.base.join("outside.txt")).unwrap(),
        b"secret"
    );

    // Deny globs, undeclared paths, operations, shapes.
    std::fs::write(r.root.join(".env"), b"K=V").unwrap();
    assert_eq!(kind(run(&r, &s, read(".env"))), FsErrorKind::Denied);
    assert_eq!(
        kind(run(&r, &s, read("src/.git/config"))),
        FsErrorKind::Denied
    );
    assert_eq!(
        kind(run(&r, &s, read("other/x.rs"))),
        FsErrorKind::NotDeclared
    );
    assert_eq!(
        kind(run(&r, &s, read("src/a\nb"))),
        FsErrorKind::InvalidPath
    );
    let ro = section(&[FsOperation::Read], 1024);
    assert_eq!(
        kind(run(&r, &ro, write("src/w.txt", b"x", "create"))),
        FsErrorKind::OperationNotAllowed
    );
    // Not a regular file.
    assert_eq!(kind(run(&r, &s, read("src"))), FsErrorKind::NotRegularFile);
}

#[test]
fn approvals_cover_exactly_the_approved_path() {
    let r = Root::new("approved");
    let s = section(ALL, 1024);
    std::fs::create_dir_all(r.root.join("other")).unwrap();
    std::fs::write(r.root.join("other/x.rs"), b"x").unwrap();
    let approved = vec!["other/x.rs".to_string()];
    let access = FsAccess {
        root: &r.root,
        section: &s,
        approved_paths: &approved,
        protected: &[],
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    assert!(perform(&access, read("other/x.rs").to_json().as_bytes(), deadline).is_ok());
    let e = perform(&access, read("other/y.rs").to_json().as_bytes(), deadline).unwrap_err();
    assert_eq!(e.kind, FsErrorKind::NotDeclared);
    // A deadline already passed refuses before touching anything.
    let late = Instant::now() - Duration::from_millis(1);
    assert!(perform(&access, read("other/x.rs").to_json().as_bytes(), late).is_err());
}

#[test]
fn sizes_hard_links_and_special_files() {
    let r = Root::new("limits");
    let s = section(ALL, 8);
    std::fs::write(r.root.join("src/big.txt"), b"0123456789").unwrap();
    assert_eq!(
        kind(run(&r, &s, read("src/big.txt"))),
        FsErrorKind::TooLarge
    );
    assert_eq!(
        kind(run(&r, &s, write("src/w.txt", b"0123456789", "create"))),
        FsErrorKind::TooLarge
    );
    assert!(!r.root.join("src/w.txt").exists());
    assert_eq!(
        kind(run(
            &r,
            &s,
            obj! { "operation" => "delete", "path" => "src/big.txt" }
        )),
        FsErrorKind::TooLarge
    );
    assert!(r.root.join("src/big.txt").exists());

    std::fs::write(r.base.join("victim.txt"), b"v").unwrap();
    std::fs::hard_link(r.base.join("victim.txt"), r.root.join("src/hl.txt")).unwrap();
    assert_eq!(
        kind(run(&r, &s, read("src/hl.txt"))),
        FsErrorKind::HardLinked
    );
    assert_eq!(
        kind(run(&r, &s, write("src/hl.txt", b"x", "overwrite"))),
        FsErrorKind::HardLinked
    );
    assert_eq!(std::fs::read(r.base.join("victim.txt")).unwrap(), b"v");

    // A FIFO must not block the host, and is refused.
    let fifo = r.root.join("src/pipe.txt");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        assert_eq!(
            kind(run(&r, &s, read("src/pipe.txt"))),
            FsErrorKind::NotRegularFile
        );
        assert_eq!(
            kind(run(&r, &s, write("src/pipe.txt", b"x", "overwrite"))),
            FsErrorKind::NotRegularFile
        );
    }
}

#[test]
fn a_missing_or_swapped_root_is_unavailable() {
    let r = Root::new("root");
    let s = section(ALL, 8);
    let gone = r.base.join("gone");
    let access = FsAccess {
        root: &gone,
        section: &s,
        approved_paths: &[],
        protected: &[],
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let e = perform(&access, read("src/a.txt").to_json().as_bytes(), deadline).unwrap_err();
    assert_eq!(e.kind, FsErrorKind::RootUnavailable);
    std::os::unix::fs::symlink(&r.root, r.base.join("alias")).unwrap();
    let alias = r.base.join("alias");
    let access = FsAccess {
        root: &alias,
        ..access
    };
    let e = perform(&access, read("src/a.txt").to_json().as_bytes(), deadline).unwrap_err();
    assert_eq!(e.kind, FsErrorKind::RootUnavailable);
}

#[test]
fn precheck_refuses_before_anything_runs() {
    let s = section(&[FsOperation::Read], 8);
    assert!(precheck(&s, &read("other/x.rs")).is_ok());
    assert_eq!(
        precheck(&s, &read(".env")).unwrap_err().kind,
        FsErrorKind::Denied
    );
    assert_eq!(
        precheck(&s, &read("../x")).unwrap_err().kind,
        FsErrorKind::EscapesRoot
    );
    assert_eq!(
        precheck(&s, &write("src/a", b"x", "create"))
            .unwrap_err()
            .kind,
        FsErrorKind::OperationNotAllowed
    );
    let w = section(ALL, 8);
    assert_eq!(
        precheck(&w, &write("src/a", b"0123456789", "create"))
            .unwrap_err()
            .kind,
        FsErrorKind::TooLarge
    );
}

#[test]
fn the_gates_own_files_are_refused_wherever_the_root_is() {
    let r = Root::new("protected");
    let s = section(ALL, 1024);
    // The root holds the gate's data directory (as with fs_root = $HOME).
    std::fs::create_dir_all(r.root.join("src/data")).unwrap();
    std::fs::write(r.root.join("src/data/secrets.json"), b"{}").unwrap();
    std::fs::write(r.root.join("src/token"), b"t").unwrap();
    std::fs::write(r.root.join("src/ok.txt"), b"ok").unwrap();
    let text = format!("data_dir = \"{}\"\n", r.root.join("src/data").display());
    let mut cfg = crate::config::load_from_str(&text, "test.toml", None).unwrap();
    cfg.secrets = vec![(
        "T".into(),
        crate::config::SecretSource::File(r.root.join("src/token")),
    )];
    let protected = protected_paths(&cfg);
    let access = FsAccess {
        root: &r.root,
        section: &s,
        approved_paths: &[],
        protected: &protected,
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    for path in ["src/data/secrets.json", "src/token"] {
        let e = perform(&access, read(path).to_json().as_bytes(), deadline).unwrap_err();
        assert_eq!(e.kind, FsErrorKind::Denied, "{path}: {e}");
    }
    let e = perform(
        &access,
        write("src/data/new.txt", b"x", "create")
            .to_json()
            .as_bytes(),
        deadline,
    )
    .unwrap_err();
    assert_eq!(e.kind, FsErrorKind::Denied);
    assert!(!r.root.join("src/data/new.txt").exists());
    assert!(perform(&access, read("src/ok.txt").to_json().as_bytes(), deadline).is_ok());
}
