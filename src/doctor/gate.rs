//! Checks 9 and 10: the gate answers `GET /healthz` on its socket, and the
//! ledger in the data directory verifies (`evidence::verify_ledger`).

use super::{Ctx, Finding, PROBE_TIMEOUT};
use crate::evidence::{verify_ledger, VerifyReport};
use crate::json::Value;
use crate::net::client::{request, Target};
use std::path::Path;

/// Check 9 against the socket at `socket`.
pub fn health_finding(socket: &Path) -> Finding {
    let shown = socket.display();
    let not_running = |why: String| {
        Finding::warn(
            format!("the gate is not running ({why})"),
            "start it with `latchgate up`",
        )
    };
    if !socket.exists() {
        return not_running(format!("no socket at {shown}"));
    }
    match request(
        &Target::Unix(socket),
        "GET",
        "/healthz",
        &[],
        b"",
        PROBE_TIMEOUT,
    ) {
        Ok(r) if r.status == 200 => {
            let status = crate::json::parse(&r.body)
                .ok()
                .and_then(|v| v.get("status").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| "?".into());
            Finding::ok(format!("the gate answers on {shown}: status {status}"))
        }
        Ok(r) => Finding::fail(
            format!("{shown} answered /healthz with HTTP {}", r.status),
            "see the gate's log; `latchgate status` shows what it is doing",
        ),
        Err(e) => match e.kind() {
            std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound => {
                not_running(format!("nothing listens on {shown}: {e}"))
            }
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => Finding::warn(
                format!(
                    "{shown} did not answer /healthz within {} s",
                    PROBE_TIMEOUT.as_secs()
                ),
                "the gate may be overloaded or stuck: `latchgate status`, then its log",
            ),
            std::io::ErrorKind::PermissionDenied => Finding::warn(
                format!("cannot connect to {shown}: {e}"),
                "run doctor as the user the gate runs as (the socket is 0600 by default)",
            ),
            _ => Finding::warn(
                format!("cannot ask {shown}: {e}"),
                "start it with `latchgate up`, or check `listen_uds_path`",
            ),
        },
    }
}

/// Check 9: the configured gate socket answers.
pub fn check_health(ctx: &Ctx) -> Finding {
    match ctx.config_or_skip() {
        Ok(cfg) => health_finding(&cfg.listen_uds_path),
        Err(skip) => skip,
    }
}

/// The verdict for a verification report of `dir`.
pub fn report_finding(dir: &Path, r: &VerifyReport) -> Finding {
    let shown = dir.display();
    if let Some(b) = r.broken_at.as_ref().filter(|_| !r.intact) {
        return Finding::fail(
            format!(
                "ledger {shown} is BROKEN at seq {} (line {}{}): {}",
                b.seq,
                b.line,
                b.trace_id
                    .as_deref()
                    .map(|t| format!(", trace_id {t}"))
                    .unwrap_or_default(),
                b.reason
            ),
            format!("keep a copy as evidence and investigate: `latchgate verify --ledger {}` names the first bad record; restore the ledger from a backup", super::files::shell_word(dir)),
        );
    }
    if !r.intact {
        return Finding::fail(
            format!("ledger {shown} did not verify"),
            format!(
                "run `latchgate verify --ledger {}`",
                super::files::shell_word(dir)
            ),
        );
    }
    let torn = if r.torn_tail_bytes > 0 {
        format!(
            "; {} bytes of an unfinished last line (removed at the next start)",
            r.torn_tail_bytes
        )
    } else {
        String::new()
    };
    Finding::ok(format!(
        "ledger {shown} verifies: {} events, {} receipts and {} checkpoints signed correctly{torn}",
        r.total_events, r.receipts_verified, r.checkpoints_verified
    ))
}

/// Check 10 for the ledger directory `dir`.
pub fn ledger_finding(dir: &Path) -> Finding {
    if !dir.exists() {
        return Finding::warn(
            format!("no ledger yet ({} does not exist)", dir.display()),
            "the gate creates it at its first start: `latchgate up`",
        );
    }
    match verify_ledger(dir) {
        Ok(report) => report_finding(dir, &report),
        Err(e) => Finding::fail(
            format!("ledger {} cannot be read: {e}", dir.display()),
            format!(
                "run `latchgate verify --ledger {}`; check the directory's owner and mode (0700)",
                super::files::shell_word(dir)
            ),
        ),
    }
}

/// Check 10: the configured ledger verifies.
pub fn check_ledger(ctx: &Ctx) -> Finding {
    match ctx.config_or_skip() {
        Ok(cfg) => ledger_finding(&cfg.ledger_dir()),
        Err(skip) => skip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Verdict;
    use crate::evidence::Broken;
    use std::io::{Read, Write};

    fn report(broken: Option<Broken>) -> VerifyReport {
        VerifyReport {
            intact: broken.is_none(),
            total_events: 9,
            verified_links: 9,
            checkpoints_verified: 1,
            receipts_verified: 4,
            head_seq: Some(9),
            torn_tail_bytes: 0,
            broken_at: broken,
        }
    }

    #[test]
    fn intact_and_broken_reports() {
        let d = Path::new("/data/ledger");
        let ok = report_finding(d, &report(None));
        assert_eq!(ok.verdict, Verdict::Ok);
        assert!(ok.detail.contains("9 events, 4 receipts and 1 checkpoints"));
        let bad = report_finding(
            d,
            &report(Some(Broken {
                seq: 5,
                line: 5,
                trace_id: Some("t-5".into()),
                reason: "prev_hash does not match record 4".into(),
            })),
        );
        assert_eq!(bad.verdict, Verdict::Fail);
        assert!(
            bad.detail.contains("seq 5")
                && bad.detail.contains("t-5")
                && bad.detail.contains("prev_hash does not match"),
            "{bad:?}"
        );
        assert!(bad
            .fix
            .unwrap()
            .contains("latchgate verify --ledger /data/ledger"));
    }

    #[test]
    fn a_missing_ledger_warns() {
        let f = ledger_finding(Path::new("/nonexistent/ledger"));
        assert_eq!(f.verdict, Verdict::Warn);
        assert!(f.detail.starts_with("no ledger yet"));
    }

    #[test]
    fn no_gate_warns_with_the_start_command() {
        let f = health_finding(Path::new("/nonexistent/gate.sock"));
        assert_eq!(f.verdict, Verdict::Warn);
        assert_eq!(f.fix.as_deref(), Some("start it with `latchgate up`"));
    }

    fn socket_path(name: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("lg-doc-{name}-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn a_stale_socket_is_not_running() {
        let p = socket_path("stale");
        drop(std::os::unix::net::UnixListener::bind(&p).unwrap());
        let f = health_finding(&p);
        assert_eq!(f.verdict, Verdict::Warn);
        assert!(f.detail.contains("not running"), "{f:?}");
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn a_healthy_answer_is_ok_with_its_status() {
        let p = socket_path("ok");
        let l = std::os::unix::net::UnixListener::bind(&p).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).unwrap();
            let body = r#"{"status":"ok"}"#;
            write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
        });
        let f = health_finding(&p);
        server.join().unwrap();
        assert_eq!(f.verdict, Verdict::Ok, "{f:?}");
        assert!(f.detail.ends_with("status ok"));
        let _ = std::fs::remove_file(&p);
    }
}
