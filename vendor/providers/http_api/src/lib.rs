//! `http_api` provider: turns the task into one host `http_request` call.
//!
//! Task: `{method, url, headers?: {..}, body?: <string | any JSON>, timeout_ms?}`.
//! Unknown keys are ignored; a duplicate known key is refused.
//! Request sent to the host: `{"method","url","headers","body"?,"timeout_ms"?}`
//! where `body` is always a string: a string body as is, any other JSON value
//! as its JSON text. A null body or timeout counts as absent.
//! Host answer: the data object `{status_code, headers, body, url}` or
//! `{"error":"<message>"}`. Output: `{"ok":true,"data":<data>}` or
//! `{"ok":false,"error":"<message>"}`.
#![no_std]

#[path = "../../common/guest.rs"]
mod guest;
mod json;

use json::Kind;

/// The parts of the task the request is built from (raw JSON spans).
#[derive(Default)]
struct Task<'a> {
    method: Option<&'a [u8]>,
    url: Option<&'a [u8]>,
    headers: Option<&'a [u8]>,
    body: Option<(Kind, &'a [u8])>,
    timeout_ms: Option<&'a [u8]>,
}

/// Stores `value` into `slot` once; a second occurrence is an error.
fn set<T>(slot: &mut Option<T>, value: T) -> Result<(), json::Error> {
    if slot.is_some() {
        return Err("invalid task: duplicate key");
    }
    *slot = Some(value);
    Ok(())
}

fn parse_task(doc: &[u8]) -> Result<Task<'_>, json::Error> {
    let mut t = Task::default();
    json::members(doc, |key, kind, raw| match (key, kind) {
        (b"\"method\"", Kind::String) => set(&mut t.method, raw),
        (b"\"method\"", _) => Err("invalid task: method must be a string"),
        (b"\"url\"", Kind::String) => set(&mut t.url, raw),
        (b"\"url\"", _) => Err("invalid task: url must be a string"),
        (b"\"headers\"", Kind::Object) => set(&mut t.headers, raw),
        (b"\"headers\"", Kind::Null) => set(&mut t.headers, &b"{}"[..]),
        (b"\"headers\"", _) => Err("invalid task: headers must be an object"),
        (b"\"body\"", _) => set(&mut t.body, (kind, raw)),
        (b"\"timeout_ms\"", Kind::Number) => set(&mut t.timeout_ms, raw),
        (b"\"timeout_ms\"", Kind::Null) => set(&mut t.timeout_ms, raw),
        (b"\"timeout_ms\"", _) => Err("invalid task: timeout_ms must be a number"),
        _ => Ok(()),
    })
    .map_err(|e| {
        if e.starts_with("invalid task") {
            e
        } else {
            "invalid task: not a valid JSON object"
        }
    })?;
    Ok(t)
}

/// Builds the host request JSON for a parsed task.
fn request(t: &Task<'_>) -> Result<i64, json::Error> {
    let method = t.method.ok_or("invalid task: method is required")?;
    let url = t.url.ok_or("invalid task: url is required")?;
    let headers = t.headers.unwrap_or(b"{}");
    let body = t.body.filter(|(kind, _)| *kind != Kind::Null);
    let timeout = t.timeout_ms.filter(|raw| *raw != b"null");

    let mut cap = 40 + method.len() + url.len() + headers.len();
    if let Some((kind, raw)) = body {
        cap += 10
            + if kind == Kind::String {
                raw.len()
            } else {
                2 + json::escaped_len(raw)
            };
    }
    if let Some(raw) = timeout {
        cap += 14 + raw.len();
    }
    let mut out = guest::Out::with_capacity(cap);
    out.push(b"{\"method\":");
    out.push(method);
    out.push(b",\"url\":");
    out.push(url);
    out.push(b",\"headers\":");
    out.push(headers);
    if let Some((kind, raw)) = body {
        out.push(b",\"body\":");
        if kind == Kind::String {
            out.push(raw);
        } else {
            // Any other JSON value is sent as its JSON text.
            out.push(b"\"");
            json::escape_into(raw, &mut out);
            out.push(b"\"");
        }
    }
    if let Some(raw) = timeout {
        out.push(b",\"timeout_ms\":");
        out.push(raw);
    }
    out.push(b"}");
    Ok(out.finish())
}

/// `{"ok":false,"error":<raw JSON string>}`.
fn failure(raw_message: &[u8]) -> i64 {
    guest::output(&[b"{\"ok\":false,\"error\":", raw_message, b"}"])
}

/// Wraps the host's answer: data object or `{"error":...}`.
fn answer(resp: &[u8]) -> i64 {
    let mut error: Option<&[u8]> = None;
    let checked = json::members(resp, |key, kind, raw| {
        if key == b"\"error\"" {
            error = Some(if kind == Kind::String {
                raw
            } else {
                b"\"host error\""
            });
        }
        Ok(())
    });
    match (checked, error) {
        (Err(_), _) => failure(b"\"malformed host response\""),
        (Ok(()), Some(message)) => failure(message),
        (Ok(()), None) => guest::output(&[b"{\"ok\":true,\"data\":", resp, b"}"]),
    }
}

/// Unpacks a packed (ptr, len) into the request bytes it names.
fn unpack(packed: i64) -> &'static [u8] {
    let ptr = (packed as u64 >> 32) as i32;
    let len = (packed as u64 & 0xffff_ffff) as i32;
    guest::input(ptr, len)
}

/// ABI export: one HTTP request.
#[no_mangle]
pub extern "C" fn execute(ptr: i32, len: i32) -> i64 {
    let task = guest::input(ptr, len);
    let built = parse_task(task).and_then(|t| request(&t));
    match built {
        Ok(packed) => answer(guest::http_request(unpack(packed))),
        // Static messages contain nothing that needs escaping.
        Err(message) => guest::output(&[b"{\"ok\":false,\"error\":\"", message.as_bytes(), b"\"}"]),
    }
}
