//! `latchgate verify`: exit 0 for an intact ledger; exit 2, naming the first
//! bad event, after an edit, a deletion, a swap or a truncated tail; exit 1
//! when there is nothing readable. Also: kill -9 during a stream of calls.

mod common;
use common::{Agent, Gate, Opts};
use latchgate::json::Value;
use latchgate::obj;
use std::path::Path;
use std::process::Command;

fn verify(dir: &Path) -> (i32, String) {
    let out = Command::new(common::bin())
        .args(["verify", "--ledger"])
        .arg(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn copy_ledger(src: &Path, name: &str) -> std::path::PathBuf {
    let dst = common::scratch(name);
    for entry in std::fs::read_dir(src).unwrap() {
        let e = entry.unwrap();
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
    dst
}

fn lines(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(dir: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(dir.join("events.jsonl"), text).unwrap();
}

#[test]
fn tampering_is_caught_and_untouched_ledger_verifies() {
    let mut gate = Gate::start("tamper");
    let agent = Agent::lease(&gate, None);
    for i in 0..6 {
        assert_eq!(agent.execute(&gate, "echo", &obj! { "i" => i }).status, 200);
    }
    let _ = agent.execute(&gate, "nope", &obj! {});
    assert_eq!(
        gate.stop(),
        0,
        "clean shutdown exits 0; log:\n{}",
        gate.log()
    );

    let (code, text) = verify(&gate.ledger());
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Ledger integrity verified"), "{text}");

    let n = lines(&gate.ledger()).len();
    assert!(n >= 8, "{n} lines");

    // Edit one byte in a middle line (inside a value, keeping JSON valid).
    let d = copy_ledger(&gate.ledger(), "edit");
    let mut l = lines(&d);
    let target = n / 2;
    l[target] = l[target]
        .replacen("\"decision\":\"allow\"", "\"decision\":\"allaw\"", 1)
        .replacen("\"decision\":\"deny\"", "\"decision\":\"dany\"", 1);
    assert_ne!(l[target], lines(&gate.ledger())[target], "edit applied");
    write_lines(&d, &l);
    let (code, text) = verify(&d);
    assert_eq!(code, 2, "edit: {text}");
    assert!(text.contains("BROKEN"), "{text}");

    // Edit one raw byte anywhere (may break the JSON itself).
    let d = copy_ledger(&gate.ledger(), "byte");
    let mut bytes = std::fs::read(d.join("events.jsonl")).unwrap();
    let pos = bytes.len() / 3;
    bytes[pos] = if bytes[pos] == b'7' { b'8' } else { b'7' };
    std::fs::write(d.join("events.jsonl"), bytes).unwrap();
    assert_eq!(verify(&d).0, 2, "raw byte edit");

    // Delete a line.
    let d = copy_ledger(&gate.ledger(), "delete");
    let mut l = lines(&d);
    l.remove(2);
    write_lines(&d, &l);
    assert_eq!(verify(&d).0, 2, "delete");

    // Swap two lines.
    let d = copy_ledger(&gate.ledger(), "swap");
    let mut l = lines(&d);
    l.swap(1, 2);
    write_lines(&d, &l);
    assert_eq!(verify(&d).0, 2, "swap");

    // Truncate the tail (drop the last two records).
    let d = copy_ledger(&gate.ledger(), "truncate");
    let l = lines(&d);
    write_lines(&d, &l[..l.len() - 2]);
    let (code, text) = verify(&d);
    assert_eq!(code, 2, "truncate: {text}");

    // Unreadable: a directory with no ledger.
    let empty = common::scratch("empty");
    assert_eq!(verify(&empty.join("missing")).0, 1);

    // --json output for machines.
    let out = Command::new(common::bin())
        .args(["verify", "--json", "--ledger"])
        .arg(gate.ledger())
        .output()
        .unwrap();
    let v = latchgate::json::parse(&out.stdout).unwrap();
    assert_eq!(v.get("intact").and_then(Value::as_bool), Some(true));
}

#[test]
fn kill9_during_calls_loses_no_answered_receipt() {
    let mut gate = Gate::start("crash");
    let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for t in 0..4 {
        let socket = gate.socket.clone();
        let answered = answered.clone();
        let stop = stop.clone();
        let dir = gate.dir.clone();
        workers.push(std::thread::spawn(move || {
            let g = Gate {
                dir,
                socket,
                config: Default::default(),
                child: None,
                tcp: None,
            };
            let agent = Agent::lease(&g, None);
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let path = "/v1/actions/echo/execute";
                let mut h = agent.headers("POST", path, &Default::default());
                h.push(("Content-Type", "application/json".into()));
                let body = obj! { "t" => t, "i" => i }.to_json();
                match common::try_request(&g.socket, "POST", path, &h, body.as_bytes()) {
                    Ok(r) if r.status == 200 => {
                        let id = r
                            .json()
                            .get("receipt_id")
                            .and_then(Value::as_str)
                            .unwrap()
                            .to_string();
                        answered.lock().unwrap().push(id);
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
                i += 1;
            }
            std::mem::forget(g);
        }));
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    gate.kill9();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in workers {
        let _ = w.join();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() > 20,
        "only {} calls answered before the kill",
        answered.len()
    );

    // Restart on the same data: recovery must accept the ledger.
    let opts = Opts {
        dir: Some(gate.dir.clone()),
        ..Default::default()
    };
    let mut gate2 = Gate::start_with("crash", opts);
    let (code, text) = verify(&gate2.ledger());
    assert_eq!(code, 0, "{text}");
    let agent = Agent::lease(&gate2, None);
    for id in &answered {
        let path = format!("/v1/receipts/{id}");
        let r = gate2.request(
            "GET",
            &path,
            &agent.headers("GET", &path, &Default::default()),
            b"",
        );
        assert_eq!(r.status, 200, "answered receipt {id} missing after crash");
        assert_eq!(
            r.json().get("signature_status").and_then(Value::as_str),
            Some("valid")
        );
    }
    assert_eq!(gate2.stop(), 0);
    assert_eq!(verify(&gate2.ledger()).0, 0);
}
