//! Where a sandbox session's events go: the gate's chained ledger, through
//! the operator socket (`POST /v1/admin/events`), so `latchgate audit`
//! shows who tried to reach what and when; when the gate's operator API
//! cannot take them (not running, another user's gate, a ledger error),
//! `<data_dir>/sandbox-events.jsonl` (0600), with one warning naming why.
//!
//! The launcher's own events (sandbox_started, sandbox_ended) are written
//! by the calling thread. The proxy's are queued to one writer thread,
//! started with the first of them, so a refused connection is reset at
//! once and a credential-route response is never held up by the ledger; a
//! session that never uses the network starts no thread here (each thread
//! and each hand-off between threads costs a context switch, which on a VM
//! with idle CPUs halted is tens to hundreds of microseconds of the
//! sandbox's start and exit). The queue is bounded: when it is full the
//! proxy waits (evidence is not dropped to keep traffic flowing). Every
//! event carries the session's context: `session_id`, `principal`
//! (`uid:N`, the user who started the sandbox), `agent_uid`, `workspace`
//! and `profile`.

use crate::json::{Map, Value};
use crate::net::client::{self, Target};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
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
    sink: Arc<Mutex<Sink>>,
    context: Map,
    writer: Arc<Mutex<Writer>>,
}

/// Where events go: the ledger while it accepts them, then the file.
struct Sink {
    ledger: Option<PathBuf>,
    local: Option<std::fs::File>,
    dir: PathBuf,
    file: PathBuf,
}

/// The proxy events' writer thread.
enum Writer {
    /// No proxy event yet.
    Idle,
    Running(SyncSender<Msg>, JoinHandle<()>),
    /// Finished: later events are dropped (to stderr).
    Closed,
}

impl Recorder {
    /// A recorder for one session. `admin_socket` is the gate's operator
    /// socket (from the configuration), `data_dir` holds the fallback file,
    /// `context` is added to every event.
    pub fn start(admin_socket: Option<PathBuf>, data_dir: &Path, context: Map) -> Recorder {
        let sink = Sink {
            ledger: admin_socket,
            local: None,
            dir: data_dir.to_path_buf(),
            file: data_dir.join("sandbox-events.jsonl"),
        };
        Recorder {
            sink: Arc::new(Mutex::new(sink)),
            context,
            writer: Arc::new(Mutex::new(Writer::Idle)),
        }
    }

    /// Writes one event (its fields plus the session context) now, on this
    /// thread.
    pub fn record(&self, fields: Map) {
        let event = with_context(fields, &self.context);
        lock(&self.sink).write(event);
    }

    /// A sender for the proxy's connection threads: their events are
    /// queued to the writer thread.
    pub fn proxy_sink(&self) -> std::sync::Arc<dyn Fn(crate::proxy::Event) + Send + Sync> {
        let (sink, writer, context) =
            (self.sink.clone(), self.writer.clone(), self.context.clone());
        std::sync::Arc::new(move |e: crate::proxy::Event| {
            let event = with_context(e.to_fields(), &context);
            queue(&writer, &sink, event);
        })
    }

    /// Writes what the proxy queued and stops its writer (call after the
    /// proxy has stopped; its later events are dropped to stderr). Dropping
    /// the recorder does the same.
    pub fn finish(&self) {
        let running = std::mem::replace(&mut *lock(&self.writer), Writer::Closed);
        if let Writer::Running(tx, handle) = running {
            let _ = tx.send(Msg::Stop);
            let _ = handle.join();
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A lock that a panic elsewhere does not poison (release builds abort on
/// panic anyway).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn with_context(fields: Map, context: &Map) -> Map {
    let mut event = fields;
    for (k, v) in context.iter() {
        if event.get(k).is_none() {
            event.insert(k.as_str(), v.clone());
        }
    }
    event
}

/// Queues a proxy event, starting the writer with the first one. Without a
/// writer (finished, or the thread could not start) the event goes to
/// stderr.
fn queue(writer: &Mutex<Writer>, sink: &Arc<Mutex<Sink>>, event: Map) {
    let tx = {
        let mut w = lock(writer);
        if let Writer::Idle = *w {
            let (tx, rx) = sync_channel(QUEUE);
            let sink = sink.clone();
            *w = match std::thread::Builder::new()
                .name("sandbox-events".into())
                .spawn(move || write_queued(rx, &sink))
            {
                Ok(handle) => Writer::Running(tx, handle),
                Err(_) => Writer::Closed,
            };
        }
        match &*w {
            Writer::Running(tx, _) => Some(tx.clone()),
            _ => None,
        }
    };
    let unsent = match tx {
        Some(tx) => match tx.send(Msg::Event(event)) {
            Ok(()) => None,
            Err(e) => match e.0 {
                Msg::Event(ev) => Some(ev),
                Msg::Stop => None,
            },
        },
        None => Some(event),
    };
    if let Some(ev) = unsent {
        eprintln!("latchgate sandbox: {}", Value::Object(ev).to_json());
    }
}

/// The writer thread: queued events into the sink until told to stop.
fn write_queued(rx: Receiver<Msg>, sink: &Mutex<Sink>) {
    while let Ok(Msg::Event(event)) = rx.recv() {
        lock(sink).write(event);
    }
}

impl Sink {
    /// The ledger while it accepts, then the file.
    fn write(&mut self, event: Map) {
        if let Some(sock) = &self.ledger {
            match post(sock, &event) {
                Ok(()) => return,
                Err(why) => {
                    eprintln!(
                        "latchgate sandbox: warning: sandbox events go to {} instead of the gate's ledger: {why}",
                        self.file.display()
                    );
                    self.ledger = None;
                }
            }
        }
        append_line(&mut self.local, &self.dir, &self.file, event);
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
        // As the launcher does: the proxy's events drained, then the last.
        r.finish();
        let mut m = Map::new();
        m.insert("event_type", "sandbox_ended");
        r.record(m);
        drop(r);
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
