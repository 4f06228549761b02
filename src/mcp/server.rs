//! The MCP server: reads messages from stdin, answers on stdout.
//!
//! The reading thread answers everything but `tools/call` itself (these
//! are quick: `tools/list` is one request to the gate). Each `tools/call`
//! runs on its own thread, so a call waiting for an approval blocks
//! neither `ping` nor other calls; at most [`MAX_CALLS`] run at once and
//! any beyond get an error result at once. A background thread checks the
//! gate's catalog digest every `--catalog-interval` and sends
//! `notifications/tools/list_changed` when it moved. Every message goes
//! through one [`Writer`]. End of input ends the server (exit 0), whatever
//! is still running.

use super::call::{self, CallContext};
use super::catalog::{self, CatalogState};
use super::gate_client::{Catalog, ClientConfig, GateClient};
use super::jsonrpc::{
    self, classify, error_response, read_line, response, Incoming, Line, RpcError, Writer,
    INTERNAL_ERROR, INVALID_REQUEST, MAX_LINE, METHOD_NOT_FOUND, RESOURCE_NOT_FOUND,
};
use super::log::{log, Level};
use super::options::ServeConfig;
use super::resources;
use super::tools::ToolError;
use crate::json::Value;
use crate::obj;
use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

/// Protocol versions spoken, newest first.
pub const SUPPORTED_VERSIONS: [&str; 3] = ["2025-06-18", "2025-03-26", "2024-11-05"];
/// Most tool calls running at once.
pub const MAX_CALLS: usize = 16;

/// What the server tells the model about its tools.
const INSTRUCTIONS: &str = "Each tool is a LatchGate action. The gate authorizes every call against its policy, runs it in a sandbox and records a signed receipt; the receipt id ends each result. A call may wait for an operator's approval; if none comes in time, the result names the approval id to approve before retrying.";

/// The version to answer: the client's when supported, else the newest.
pub fn negotiate(requested: &str) -> &'static str {
    SUPPORTED_VERSIONS
        .iter()
        .find(|v| **v == requested)
        .copied()
        .unwrap_or(SUPPORTED_VERSIONS[0])
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Tool calls in flight: request id (as JSON text) and cancel flag.
#[derive(Default)]
struct Calls(Mutex<Vec<(String, Arc<AtomicBool>)>>);

impl Calls {
    /// Registers a call; `None` when [`MAX_CALLS`] are running.
    fn begin(&self, key: String) -> Option<Arc<AtomicBool>> {
        let mut running = lock(&self.0);
        if running.len() >= MAX_CALLS {
            return None;
        }
        let flag = Arc::new(AtomicBool::new(false));
        running.push((key, Arc::clone(&flag)));
        Some(flag)
    }

    fn finish(&self, flag: &Arc<AtomicBool>) {
        lock(&self.0).retain(|(_, f)| !Arc::ptr_eq(f, flag));
    }

    fn cancel(&self, key: &str) -> bool {
        let running = lock(&self.0);
        let mut found = false;
        for (_, f) in running.iter().filter(|(k, _)| k == key) {
            f.store(true, Ordering::SeqCst);
            found = true;
        }
        found
    }

    fn count(&self) -> usize {
        lock(&self.0).len()
    }
}

/// The server's shared state.
pub struct Server {
    writer: Writer,
    gate: GateClient,
    catalog: CatalogState,
    calls: Calls,
    agent_id: String,
    approval_timeout: Duration,
    catalog_interval: Duration,
    protocol: Mutex<Option<&'static str>>,
}

/// The parts of a `tools/call` request.
struct CallRequest {
    name: String,
    arguments: Value,
    progress_token: Option<Value>,
}

fn parse_call(params: Option<Value>) -> Result<CallRequest, RpcError> {
    let Some(Value::Object(p)) = params else {
        return Err(RpcError::invalid_params(
            "tools/call needs params {name, arguments}",
        ));
    };
    let name = match p.get("name") {
        Some(Value::String(n)) if !n.is_empty() => n.clone(),
        _ => {
            return Err(RpcError::invalid_params(
                "tools/call: name must be a non-empty string",
            ))
        }
    };
    let arguments = match p.get("arguments") {
        None | Some(Value::Null) => obj! {},
        Some(a @ Value::Object(_)) => a.clone(),
        Some(_) => {
            return Err(RpcError::invalid_params(
                "tools/call: arguments must be an object",
            ))
        }
    };
    let progress_token = p
        .get("_meta")
        .and_then(|m| m.get("progressToken"))
        .filter(|t| matches!(t, Value::String(_) | Value::Number(_)))
        .cloned();
    Ok(CallRequest {
        name,
        arguments,
        progress_token,
    })
}

impl Server {
    /// A server for `cfg` writing to `writer`; nothing is contacted yet.
    pub fn new(cfg: ServeConfig, writer: Writer) -> Arc<Server> {
        let fs_root = std::env::current_dir()
            .ok()
            .filter(|d| d.is_absolute())
            .and_then(|d| d.to_str().map(str::to_string));
        let gate = GateClient::new(ClientConfig {
            endpoint: cfg.endpoint,
            explicit_base: cfg.explicit_base,
            fallback_base: cfg.fallback_base,
            agent_id: cfg.agent_id.clone(),
            fs_root,
        });
        Arc::new(Server {
            writer,
            gate,
            catalog: CatalogState::default(),
            calls: Calls::default(),
            agent_id: cfg.agent_id,
            approval_timeout: cfg.approval_timeout,
            catalog_interval: cfg.catalog_interval,
            protocol: Mutex::new(None),
        })
    }

    fn send(&self, msg: &Value) {
        if let Err(e) = self.writer.send(msg) {
            log!(Level::Warn, "cannot write to stdout: {e}");
        }
    }

    fn reply(&self, id: &Value, result: Result<Value, RpcError>) {
        match result {
            Ok(v) => self.send(&response(id, v)),
            Err(e) => {
                log!(
                    Level::Debug,
                    "answering {} with error {}: {}",
                    id.to_json(),
                    e.code,
                    e.message
                );
                self.send(&error_response(id, &e));
            }
        }
    }

    /// Starts the periodic catalog check; it ends with the server.
    pub fn start_watcher(self: &Arc<Self>) {
        let weak: Weak<Server> = Arc::downgrade(self);
        let interval = self.catalog_interval;
        let spawned = std::thread::Builder::new()
            .name("mcp-catalog".into())
            .spawn(move || loop {
                std::thread::sleep(interval);
                match weak.upgrade() {
                    Some(s) => {
                        let _ = s.fresh_catalog();
                    }
                    None => return,
                }
            });
        if let Err(e) = spawned {
            log!(Level::Warn, "cannot start the catalog watcher: {e}");
        }
    }

    /// Reads the catalog and announces a change the client has not seen.
    fn fresh_catalog(&self) -> Option<Arc<Catalog>> {
        match self.catalog.refresh(&self.gate) {
            Ok((c, stale)) => {
                if stale {
                    log!(
                        Level::Info,
                        "the action set changed ({}): notifying",
                        c.digest
                    );
                    self.send(&jsonrpc::notification(
                        "notifications/tools/list_changed",
                        obj! {},
                    ));
                }
                Some(c)
            }
            Err(e) => {
                log!(Level::Debug, "catalog check: {}", catalog::describe(&e));
                None
            }
        }
    }

    /// Reads messages until end of input; returns the exit code.
    pub fn run<R: BufRead>(self: &Arc<Self>, mut input: R) -> i32 {
        loop {
            match read_line(&mut input, MAX_LINE) {
                Ok(Line::Eof) => return 0,
                Ok(Line::TooLong) => self.reply(
                    &Value::Null,
                    Err(RpcError::new(
                        INVALID_REQUEST,
                        format!("Invalid Request: message longer than {MAX_LINE} bytes"),
                    )),
                ),
                Ok(Line::Message(bytes)) => self.handle_line(&bytes),
                Err(e) => {
                    log!(Level::Error, "cannot read stdin: {e}");
                    return 1;
                }
            }
        }
    }

    fn handle_line(self: &Arc<Self>, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match classify(line) {
            Incoming::Request { id, method, params } => {
                log!(Level::Debug, "request {} {method}", id.to_json());
                self.request(id, &method, params);
            }
            Incoming::Notification { method, params } => self.notification(&method, params),
            Incoming::Response => log!(Level::Debug, "ignoring a response from the client"),
            Incoming::Ignored(why) => log!(Level::Debug, "ignoring {why}"),
            Incoming::Invalid { id, error } => self.reply(&id, Err(error)),
        }
    }

    fn notification(&self, method: &str, params: Option<Value>) {
        match method {
            "notifications/initialized" => log!(Level::Debug, "client initialized"),
            "notifications/cancelled" => {
                let id = params
                    .as_ref()
                    .and_then(|p| p.get("requestId"))
                    .filter(|i| matches!(i, Value::String(_) | Value::Number(_)));
                if let Some(id) = id {
                    let found = self.calls.cancel(&id.to_json());
                    log!(
                        Level::Debug,
                        "cancel {}: {}",
                        id.to_json(),
                        if found { "stopping" } else { "not running" }
                    );
                }
            }
            other => log!(Level::Debug, "ignoring notification {other}"),
        }
    }

    fn request(self: &Arc<Self>, id: Value, method: &str, params: Option<Value>) {
        let result = match method {
            "initialize" => self.initialize(params.as_ref()),
            "ping" => Ok(obj! {}),
            "tools/list" => Ok(obj! { "tools" => self.catalog.list(&self.gate) }),
            "tools/call" => return self.tools_call(id, params),
            "resources/list" => Ok(resources::list()),
            "resources/templates/list" => Ok(obj! { "resourceTemplates" => Vec::<Value>::new() }),
            "resources/read" => self.read_resource(params.as_ref()),
            other => Err(RpcError::new(
                METHOD_NOT_FOUND,
                format!("Method not found: {other}"),
            )),
        };
        self.reply(&id, result);
    }

    fn initialize(&self, params: Option<&Value>) -> Result<Value, RpcError> {
        let requested = params
            .and_then(|p| p.get("protocolVersion"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                RpcError::invalid_params("initialize: params.protocolVersion must be a string")
            })?;
        let version = negotiate(requested);
        *lock(&self.protocol) = Some(version);
        let client = params
            .and_then(|p| p.get("clientInfo"))
            .map(|c| {
                let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
                format!("{} {}", s("name"), s("version"))
            })
            .unwrap_or_else(|| "an unnamed client".into());
        log!(
            Level::Info,
            "initialize from {client}: asked {requested}, speaking {version}; gate {}",
            self.gate.describe()
        );
        let mut info = obj! { "name" => "latchgate-mcp", "version" => env!("CARGO_PKG_VERSION") };
        if version == "2025-06-18" {
            if let Some(m) = info.as_object_mut() {
                m.insert("title", "LatchGate");
            }
        }
        Ok(obj! {
            "protocolVersion" => version,
            "capabilities" => obj! {
                "tools" => obj! { "listChanged" => true },
                "resources" => obj! { "subscribe" => false, "listChanged" => false },
            },
            "serverInfo" => info,
            "instructions" => INSTRUCTIONS,
        })
    }

    fn read_resource(&self, params: Option<&Value>) -> Result<Value, RpcError> {
        let uri = params
            .and_then(|p| p.get("uri"))
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params("resources/read: uri must be a string"))?;
        match uri {
            resources::ACTIONS_URI => {
                let catalog = self
                    .fresh_catalog()
                    .or_else(|| self.catalog.current())
                    .ok_or_else(|| {
                        RpcError::new(
                            INTERNAL_ERROR,
                            format!("the gate at {} is unavailable", self.gate.describe()),
                        )
                    })?;
                Ok(resources::contents(uri, &resources::actions(&catalog)))
            }
            resources::STATUS_URI => {
                let status = resources::Status {
                    agent_id: self.agent_id.clone(),
                    protocol_version: lock(&self.protocol).map(str::to_string),
                    gate: self.gate.describe(),
                    public_base_url: self.gate.public_base_url(),
                    gate_healthy: self.gate.healthy(),
                    lease: self.gate.lease_info().map(|l| (l.session_id, l.expires_at)),
                    catalog_digest: self.catalog.current().map(|c| c.digest.clone()),
                    calls_in_flight: self.calls.count(),
                };
                Ok(resources::contents(uri, &resources::status(&status)))
            }
            other => {
                let mut e =
                    RpcError::new(RESOURCE_NOT_FOUND, format!("Resource not found: {other}"));
                e.data = Some(obj! { "uri" => other });
                Err(e)
            }
        }
    }

    fn tools_call(self: &Arc<Self>, id: Value, params: Option<Value>) {
        let req = match parse_call(params) {
            Ok(r) => r,
            Err(e) => return self.reply(&id, Err(e)),
        };
        let Some(flag) = self.calls.begin(id.to_json()) else {
            let e = ToolError::new(
                "too_many_calls",
                format!("{MAX_CALLS} tool calls are already running; retry when one finishes"),
            )
            .action(&req.name);
            return self.reply(&id, Ok(e.result()));
        };
        let server = Arc::clone(self);
        let thread_flag = Arc::clone(&flag);
        let spawned = std::thread::Builder::new()
            .name("mcp-call".into())
            .spawn(move || server.call_thread(id, req, thread_flag));
        if let Err(e) = spawned {
            self.calls.finish(&flag);
            log!(Level::Error, "cannot start a thread for tools/call: {e}");
        }
    }

    fn call_thread(&self, id: Value, req: CallRequest, flag: Arc<AtomicBool>) {
        // A client that called before listing (or while the gate was
        // down) gets the catalog read now, which also announces it.
        if self.catalog.current().is_none() {
            let _ = self.fresh_catalog();
        }
        let ctx = CallContext {
            gate: &self.gate,
            writer: &self.writer,
            progress_token: req.progress_token,
            cancelled: &flag,
            approval_timeout: self.approval_timeout,
        };
        let result = call::run(&ctx, &req.name, &req.arguments);
        self.calls.finish(&flag);
        match result {
            Some(r) if !flag.load(Ordering::SeqCst) => self.reply(&id, Ok(r)),
            _ => log!(
                Level::Debug,
                "tools/call {} cancelled: no answer",
                id.to_json()
            ),
        }
    }
}

/// Runs `serve` on stdin/stdout; returns the exit code.
pub fn serve(cfg: ServeConfig) -> i32 {
    let server = Server::new(cfg, Writer::new(Box::new(std::io::stdout())));
    server.start_watcher();
    let stdin = std::io::stdin();
    server.run(stdin.lock())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;
    use crate::mcp::transport::Endpoint;
    use std::io::Write;
    use std::time::Instant;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Sink {
        fn messages(&self) -> Vec<Value> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines()
                .map(|l| json::parse(l.as_bytes()).unwrap())
                .collect()
        }
        fn wait_for(&self, n: usize) -> Vec<Value> {
            let end = Instant::now() + Duration::from_secs(10);
            loop {
                let m = self.messages();
                if m.len() >= n || Instant::now() > end {
                    return m;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    fn server() -> (Arc<Server>, Sink) {
        let sink = Sink::default();
        let cfg = ServeConfig {
            endpoint: Endpoint::Unix("/nonexistent/lgt-mcp/gate.sock".into()),
            explicit_base: None,
            fallback_base: "http://localhost:3000".into(),
            agent_id: "test".into(),
            approval_timeout: Duration::from_secs(1),
            catalog_interval: Duration::from_secs(3600),
        };
        (Server::new(cfg, Writer::new(Box::new(sink.clone()))), sink)
    }

    fn by_id(msgs: &[Value], id: i64) -> Value {
        msgs.iter()
            .find(|m| m.get("id").and_then(Value::as_i64) == Some(id))
            .cloned()
            .unwrap_or_else(|| panic!("no answer to {id} in {msgs:?}"))
    }

    fn error_code(m: &Value) -> i64 {
        m.get("error")
            .and_then(|e| e.get("code"))
            .and_then(Value::as_i64)
            .unwrap()
    }

    #[test]
    fn negotiates_versions() {
        for v in SUPPORTED_VERSIONS {
            assert_eq!(negotiate(v), v);
        }
        assert_eq!(negotiate("2099-01-01"), "2025-06-18");
        assert_eq!(negotiate(""), "2025-06-18");
    }

    #[test]
    fn answers_without_a_gate_and_survives_bad_input() {
        let (s, sink) = server();
        let input = concat!(
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-03-26\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}\n",
            "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n",
            "\n",
            "not json\n",
            "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"nope\"}\n",
            "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}\n",
            "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{}}}\n",
            "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"arguments\":{}}}\n",
            "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"initialize\",\"params\":{}}\n",
            "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"resources/read\",\"params\":{\"uri\":\"latchgate://nope\"}}\n",
            "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"resources/read\",\"params\":{\"uri\":\"latchgate://status\"}}\n",
            "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}\n",
        );
        assert_eq!(s.run(input.as_bytes()), 0);
        let msgs = sink.wait_for(10);
        assert_eq!(msgs.len(), 10, "{msgs:?}");
        let init = by_id(&msgs, 1);
        assert_eq!(
            init.get("result")
                .and_then(|r| r.get("protocolVersion"))
                .and_then(Value::as_str),
            Some("2025-03-26")
        );
        let parse = msgs
            .iter()
            .find(|m| m.get("id").is_some_and(Value::is_null))
            .unwrap();
        assert_eq!(error_code(parse), -32700);
        assert_eq!(error_code(&by_id(&msgs, 2)), -32601);
        let tools = by_id(&msgs, 3);
        assert_eq!(tools.get("result").unwrap().to_json(), r#"{"tools":[]}"#);
        let call = by_id(&msgs, 4);
        let text = call
            .get("result")
            .unwrap()
            .get("content")
            .unwrap()
            .as_array()
            .unwrap()[0]
            .get("text")
            .and_then(Value::as_str)
            .unwrap()
            .to_string();
        assert!(text.contains("\"code\":\"gate_unavailable\""), "{text}");
        assert_eq!(error_code(&by_id(&msgs, 5)), -32602);
        assert_eq!(error_code(&by_id(&msgs, 6)), -32602);
        assert_eq!(error_code(&by_id(&msgs, 7)), -32002);
        assert!(by_id(&msgs, 8).get("result").is_some());
        assert_eq!(by_id(&msgs, 9).get("result").unwrap().to_json(), "{}");
    }

    #[test]
    fn call_slots_are_bounded_and_cancellable() {
        let calls = Calls::default();
        let flags: Vec<_> = (0..MAX_CALLS)
            .map(|i| calls.begin(i.to_string()).unwrap())
            .collect();
        assert!(calls.begin("x".into()).is_none());
        assert!(calls.cancel("3"));
        assert!(flags[3].load(Ordering::SeqCst));
        assert!(!calls.cancel("nope"));
        calls.finish(&flags[0]);
        assert_eq!(calls.count(), MAX_CALLS - 1);
        assert!(calls.begin("y".into()).is_some());
    }

    #[test]
    fn call_params_are_checked() {
        assert!(parse_call(None).is_err());
        assert!(parse_call(Some(obj! { "name" => 1 })).is_err());
        assert!(parse_call(Some(obj! { "name" => "a", "arguments" => "x" })).is_err());
        let r = parse_call(Some(
            obj! { "name" => "a", "_meta" => obj! { "progressToken" => 7 } },
        ))
        .unwrap();
        assert_eq!(r.arguments.to_json(), "{}");
        assert_eq!(r.progress_token, Some(Value::from(7)));
    }
}
