//! Where a sandbox session's events go: the gate's chained ledger, through
//! the operator socket (`POST /v1/admin/events`), so `latchgate audit`
//! shows who tried to reach what and when; when the gate's operator API
//! cannot take them (not running, another user's gate, a ledger error),
//! `<data_dir>/sandbox-events.jsonl` (0600), with one warning naming why.
//!
//! Events are queued to one writer thread, so a refused connection is reset
//! at once and a credential-route response is never held up by the ledger.
//! The queue is bounded: when it is full the proxy waits (evidence is not
//! dropped to keep traffic flowing). Every event carries the session's
//! context: `session_id`, `principal` (`uid:N`, the user who started the
//! sandbox), `agent_uid`, `workspace` and `profile`.

use crate::json::{Map, Value};
use crate::net::client::{self, Target};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

/// Events queued before the proxy waits for the writer.
const QUEUE: usize = 1024;
/// How long one ledger request may take before the file takes over.
const POST_TIMEOUT: Duration = Duration::from_secs(3);

enum Msg {
    Event(Map),
    Stop,
}

/// The session's event recorder.
pub struct Recorder {
    tx: SyncSender<Msg>,
    context: Map,
    worker: Option<JoinHandle<()>>,
}

impl Recorder {
    /// Starts the writer. `admin_socket` is the gate's operator socket (from
    /// the configuration), `data_dir` holds the fallback file, `context` is
    /// added to every event.
    pub fn start(admin_socket: Option<PathBuf>, data_dir: &Path, context: Map) -> Recorder {
        let (tx, rx) = sync_channel(QUEUE);
        let file = data_dir.join("sandbox-events.jsonl");
        let dir = data_dir.to_path_buf();
        let worker = std::thread::Builder::new()
            .name("sandbox-events".into())
            .spawn(move || write_events(rx, admin_socket, &dir, &file))
            .ok();
        Recorder {
            tx,
            context,
            worker,
        }
    }

    /// Queues one event (its fields plus the session context).
    pub fn record(&self, fields: Map) {
        record_to(&self.tx, &self.context, fields);
    }

    /// A sender for the proxy's connection threads.
    pub fn proxy_sink(&self) -> std::sync::Arc<dyn Fn(crate::proxy::Event) + Send + Sync> {
        let tx = self.tx.clone();
        let context = self.context.clone();
        std::sync::Arc::new(move |e: crate::proxy::Event| record_to(&tx, &context, e.to_fields()))
    }

    /// Writes what is queued and stops the writer (call after the proxy has
    /// stopped; later events are dropped). Dropping the recorder does the
    /// same, so a launch that fails half-way still records what happened.
    pub fn finish(self) {}
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

fn record_to(tx: &SyncSender<Msg>, context: &Map, fields: Map) {
    let mut event = fields;
    for (k, v) in context.iter() {
        if event.get(k).is_none() {
            event.insert(k.as_str(), v.clone());
        }
    }
    // Without a writer (thread creation failed) the event goes to stderr.
    if let Err(e) = tx.send(Msg::Event(event)) {
        if let Msg::Event(ev) = e.0 {
            eprintln!("latchgate sandbox: {}", Value::Object(ev).to_json());
        }
    }
}

/// The writer: the ledger while it accepts, then the file.
fn write_events(rx: Receiver<Msg>, admin_socket: Option<PathBuf>, dir: &Path, file: &Path) {
    let mut ledger = admin_socket;
    let mut local: Option<std::fs::File> = None;
    while let Ok(Msg::Event(event)) = rx.recv() {
        if let Some(sock) = &ledger {
            match post(sock, &event) {
                Ok(()) => continue,
                Err(why) => {
                    eprintln!(
                        "latchgate sandbox: warning: sandbox events go to {} instead of the gate's ledger: {why}",
                        file.display()
                    );
                    ledger = None;
                }
            }
        }
        append_line(&mut local, dir, file, event);
    }
}

/// One event into the ledger; any answer but 201 is a failure.
fn post(sock: &Path, event: &Map) -> Result<(), String> {
    let body = Value::Object(event.clone()).to_json();
    let r = client::request(
        &Target::Unix(sock),
        "POST",
        "/v1/admin/events",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
        POST_TIMEOUT,
    )
    .map_err(|e| format!("the operator socket {}: {e}", sock.display()))?;
    if r.status == 201 {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&r.body);
    Err(format!(
        "the operator socket {} answered {}: {}",
        sock.display(),
        r.status,
        text.chars().take(200).collect::<String>()
    ))
}

fn append_line(local: &mut Option<std::fs::File>, dir: &Path, file: &Path, mut event: Map) {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if event.get("timestamp").is_none() {
        event.insert(
            "timestamp",
            crate::time::rfc3339_millis(crate::time::unix_now_millis()),
        );
    }
    let line = Value::Object(event).to_json();
    if local.is_none() {
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir);
        *local = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(file)
            .ok();
    }
    // One write per line: with O_APPEND, sessions sharing the file never
    // interleave inside a line.
    let written = match local {
        Some(f) => f.write_all(format!("{line}\n").as_bytes()).is_ok(),
        None => false,
    };
    if !written {
        eprintln!("latchgate sandbox: {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lg-events-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn without_a_gate_events_land_in_the_file_with_context() {
        let dir = scratch("file");
        let mut ctx = Map::new();
        ctx.insert("session_id", "s1");
        ctx.insert("principal", "uid:1000");
        let r = Recorder::start(Some(dir.join("no-such.sock")), &dir, ctx);
        let sink = r.proxy_sink();
        sink(crate::proxy::Event::Denied {
            target: "evil.example:443".into(),
            reason: crate::proxy::HOST_NOT_ALLOWED,
            detail: String::new(),
        });
        let mut m = Map::new();
        m.insert("event_type", "sandbox_ended");
        r.record(m);
        r.finish();
        let text = std::fs::read_to_string(dir.join("sandbox-events.jsonl")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("\"evil.example:443\"") && lines[0].contains("\"s1\""));
        assert!(lines[1].contains("sandbox_ended") && lines[1].contains("uid:1000"));
        assert!(lines.iter().all(|l| l.contains("\"timestamp\"")));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("sandbox-events.jsonl"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
