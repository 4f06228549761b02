//! JSON-RPC 2.0 framing for MCP's stdio transport: one message per line
//! (UTF-8 JSON, no embedded newlines), at most [`MAX_LINE`] bytes.
//!
//! Reading classifies each line into a request, a notification, a
//! response from the client (ignored: this server sends no requests), or
//! an invalid message with the error to answer. Batches (JSON arrays) are
//! refused with -32600: MCP 2025-06-18 removed batching, and the older
//! versions' clients do not send them.
//!
//! Writing goes through one [`Writer`] shared by every thread, so
//! messages never interleave and stdout carries nothing else.

use crate::json::{self, Map, Value};
use std::io::{self, BufRead, Write};
use std::sync::{Arc, Mutex};

/// Longest accepted line (without its newline).
pub const MAX_LINE: usize = 4 * 1024 * 1024;

/// Invalid JSON.
pub const PARSE_ERROR: i64 = -32700;
/// Not a valid request object (wrong `jsonrpc`, no method, bad id, batch, too long).
pub const INVALID_REQUEST: i64 = -32600;
/// No such method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// The method's params are wrong.
pub const INVALID_PARAMS: i64 = -32602;
/// The server failed.
pub const INTERNAL_ERROR: i64 = -32603;
/// MCP: the resource URI is unknown.
pub const RESOURCE_NOT_FOUND: i64 = -32002;

/// One line read from the client.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// A line's bytes, without the newline (and without a trailing `\r`).
    Message(Vec<u8>),
    /// A line longer than the limit; its bytes were skipped.
    TooLong,
    /// End of input.
    Eof,
}

/// Reads one line of at most `max` bytes. A longer line is consumed to
/// its end without being kept, so the next call starts on the next line.
pub fn read_line<R: BufRead>(r: &mut R, max: usize) -> io::Result<Line> {
    let mut buf = Vec::new();
    let mut too_long = false;
    let mut seen_any = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            if !seen_any {
                return Ok(Line::Eof);
            }
            break; // the last line had no newline
        }
        seen_any = true;
        let newline = chunk.iter().position(|&b| b == b'\n');
        let content = newline.unwrap_or(chunk.len());
        if !too_long {
            if buf.len().saturating_add(content) > max {
                too_long = true;
                buf = Vec::new();
            } else {
                buf.extend_from_slice(chunk.get(..content).unwrap_or_default());
            }
        }
        let used = newline.map_or(chunk.len(), |i| i + 1);
        r.consume(used);
        if newline.is_some() {
            break;
        }
    }
    if too_long {
        return Ok(Line::TooLong);
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Line::Message(buf))
}

/// A JSON-RPC error object.
#[derive(Clone, Debug, PartialEq)]
pub struct RpcError {
    /// The numeric code (see the constants).
    pub code: i64,
    /// One sentence for people.
    pub message: String,
    /// Optional structured detail.
    pub data: Option<Value>,
}

impl RpcError {
    /// An error without data.
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// -32602 with a message.
    pub fn invalid_params(message: impl Into<String>) -> RpcError {
        RpcError::new(INVALID_PARAMS, message)
    }

    /// The error as JSON.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("code", self.code);
        m.insert("message", self.message.as_str());
        if let Some(d) = &self.data {
            m.insert("data", d.clone());
        }
        Value::Object(m)
    }
}

/// What a line turned out to be.
#[derive(Debug, PartialEq)]
pub enum Incoming {
    /// A request: answer it with the same id.
    Request {
        /// The id (a string or a number).
        id: Value,
        /// The method name.
        method: String,
        /// `params` when present (an object or an array).
        params: Option<Value>,
    },
    /// A notification: never answered.
    Notification {
        /// The method name.
        method: String,
        /// `params` when present.
        params: Option<Value>,
    },
    /// A response or error from the client; nothing to do.
    Response,
    /// A notification too broken to act on; never answered.
    Ignored(String),
    /// Answer with this error (`id` is null when it could not be read).
    Invalid {
        /// The id to answer, or null.
        id: Value,
        /// The error.
        error: RpcError,
    },
}

fn invalid(id: Value, code: i64, message: impl Into<String>) -> Incoming {
    Incoming::Invalid {
        id,
        error: RpcError::new(code, message),
    }
}

/// Classifies one line.
pub fn classify(line: &[u8]) -> Incoming {
    let value = match json::parse(line) {
        Ok(v) => v,
        Err(e) => return invalid(Value::Null, PARSE_ERROR, format!("Parse error: {e}")),
    };
    let m = match value {
        Value::Object(m) => m,
        Value::Array(_) => {
            return invalid(
                Value::Null,
                INVALID_REQUEST,
                "Invalid Request: batches are not supported (send one message per line)",
            )
        }
        _ => {
            return invalid(
                Value::Null,
                INVALID_REQUEST,
                "Invalid Request: a message must be a JSON object",
            )
        }
    };
    let id = match m.get("id") {
        None => None,
        Some(v @ (Value::String(_) | Value::Number(_))) => Some(v.clone()),
        Some(_) => {
            return invalid(
                Value::Null,
                INVALID_REQUEST,
                "Invalid Request: id must be a string or a number",
            )
        }
    };
    let Some(method) = m.get("method") else {
        if m.contains_key("result") || m.contains_key("error") {
            return Incoming::Response;
        }
        return invalid(
            id.unwrap_or(Value::Null),
            INVALID_REQUEST,
            "Invalid Request: no method",
        );
    };
    if m.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid(
            id.unwrap_or(Value::Null),
            INVALID_REQUEST,
            "Invalid Request: jsonrpc must be \"2.0\"",
        );
    }
    let Some(method) = method.as_str() else {
        return invalid(
            id.unwrap_or(Value::Null),
            INVALID_REQUEST,
            "Invalid Request: method must be a string",
        );
    };
    let params = match m.get("params") {
        None | Some(Value::Null) => None,
        Some(p @ (Value::Object(_) | Value::Array(_))) => Some(p.clone()),
        Some(_) => {
            return match id {
                Some(id) => invalid(
                    id,
                    INVALID_PARAMS,
                    "Invalid params: params must be an object",
                ),
                None => Incoming::Ignored(format!("notification {method} with non-object params")),
            }
        }
    };
    let method = method.to_string();
    match id {
        Some(id) => Incoming::Request { id, method, params },
        None => Incoming::Notification { method, params },
    }
}

/// A success response.
pub fn response(id: &Value, result: Value) -> Value {
    crate::obj! { "jsonrpc" => "2.0", "id" => id.clone(), "result" => result }
}

/// An error response.
pub fn error_response(id: &Value, error: &RpcError) -> Value {
    crate::obj! { "jsonrpc" => "2.0", "id" => id.clone(), "error" => error.to_value() }
}

/// A notification from the server.
pub fn notification(method: &str, params: Value) -> Value {
    crate::obj! { "jsonrpc" => "2.0", "method" => method, "params" => params }
}

/// The one writer of protocol messages (stdout in the binary). Cloning
/// shares it; each message is written and flushed under one lock.
#[derive(Clone)]
pub struct Writer(Arc<Mutex<Box<dyn Write + Send>>>);

impl Writer {
    /// A writer over `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Writer {
        Writer(Arc::new(Mutex::new(out)))
    }

    /// Writes `msg` as one line. An error means the client is gone.
    pub fn send(&self, msg: &Value) -> io::Result<()> {
        let mut line = msg.to_json();
        line.push('\n');
        // A thread that panicked mid-write cannot leave a half line: each
        // message is one write_all of a complete line.
        let mut out = self.0.lock().unwrap_or_else(|p| p.into_inner());
        out.write_all(line.as_bytes())?;
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn lines(input: &[u8], max: usize) -> Vec<Line> {
        // A tiny buffer so lines span several fill_buf calls.
        let mut r = BufReader::with_capacity(3, input);
        let mut out = Vec::new();
        loop {
            let l = read_line(&mut r, max).unwrap();
            let end = l == Line::Eof;
            out.push(l);
            if end {
                return out;
            }
        }
    }

    #[test]
    fn reads_lines_and_skips_oversized_ones_whole() {
        let got = lines(b"{\"a\":1}\r\n0123456789\nok\nlast", 8);
        assert_eq!(
            got,
            vec![
                Line::Message(b"{\"a\":1}".to_vec()),
                Line::TooLong,
                Line::Message(b"ok".to_vec()),
                Line::Message(b"last".to_vec()),
                Line::Eof,
            ]
        );
        assert_eq!(lines(b"", 8), vec![Line::Eof]);
        assert_eq!(
            lines(b"12345678\n", 8)[0],
            Line::Message(b"12345678".to_vec())
        );
        assert_eq!(lines(b"123456789\n", 8)[0], Line::TooLong);
    }

    fn code(i: Incoming) -> (Value, i64) {
        match i {
            Incoming::Invalid { id, error } => (id, error.code),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn classifies_requests_notifications_and_responses() {
        assert_eq!(
            classify(br#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#),
            Incoming::Request {
                id: Value::from(7),
                method: "ping".into(),
                params: None
            }
        );
        assert_eq!(
            classify(br#"{"jsonrpc":"2.0","method":"notifications/initialized","params":{}}"#),
            Incoming::Notification {
                method: "notifications/initialized".into(),
                params: Some(crate::obj! {})
            }
        );
        assert_eq!(
            classify(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#),
            Incoming::Response
        );
    }

    #[test]
    fn malformed_messages_get_the_right_codes() {
        assert_eq!(code(classify(b"not json")), (Value::Null, PARSE_ERROR));
        assert_eq!(
            code(classify(b"{\"jsonrpc\":\"2.0\",")),
            (Value::Null, PARSE_ERROR)
        );
        assert_eq!(code(classify(b"[]")), (Value::Null, INVALID_REQUEST));
        assert_eq!(code(classify(b"42")), (Value::Null, INVALID_REQUEST));
        assert_eq!(
            code(classify(br#"{"jsonrpc":"1.0","id":3,"method":"ping"}"#)),
            (Value::from(3), INVALID_REQUEST)
        );
        assert_eq!(
            code(classify(br#"{"id":3,"method":"ping"}"#)),
            (Value::from(3), INVALID_REQUEST)
        );
        assert_eq!(
            code(classify(br#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#)),
            (Value::Null, INVALID_REQUEST)
        );
        assert_eq!(
            code(classify(br#"{"jsonrpc":"2.0","id":"x","method":5}"#)),
            (Value::from("x"), INVALID_REQUEST)
        );
        assert_eq!(
            code(classify(br#"{"jsonrpc":"2.0","id":4}"#)),
            (Value::from(4), INVALID_REQUEST)
        );
        assert_eq!(
            code(classify(
                br#"{"jsonrpc":"2.0","id":4,"method":"ping","params":"x"}"#
            )),
            (Value::from(4), INVALID_PARAMS)
        );
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","method":"x","params":1}"#),
            Incoming::Ignored(_)
        ));
    }

    #[test]
    fn writer_emits_one_line_per_message() {
        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let w = Writer::new(Box::new(sink.clone()));
        w.send(&response(&Value::from(1), crate::obj! { "t" => "a\nb" }))
            .unwrap();
        w.send(&error_response(
            &Value::Null,
            &RpcError::new(PARSE_ERROR, "Parse error"),
        ))
        .unwrap();
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"t\":\"a\\nb\"}}\n\
             {\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}\n"
        );
    }
}
