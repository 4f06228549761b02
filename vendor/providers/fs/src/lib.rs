//! `fs` provider: turns the task into one host `fs_request` call.
//!
//! Task (the validated request): `{operation: "read"|"write"|"delete",
//! path, content_base64?, mode?: "create"|"overwrite",
//! expected_before_hash?}`. Unknown keys are ignored; a duplicate known key
//! is refused; `null` for an optional key means absent.
//! Request sent to the host: the same keys, values copied verbatim (the
//! host checks every value: operation, path, base64, mode, hash).
//! Host answer: the data object (e.g. `{operation, path, before_hash,
//! after_hash, bytes_before, bytes_after}`) or `{"error":"<message>"}`.
//! Output: `{"ok":true,"data":<data>}` or `{"ok":false,"error":"<message>"}`.
#![no_std]

#[path = "../../common/guest.rs"]
mod guest;
// The JSON scanner is shared with http_api (no shared crate: no deps).
#[allow(dead_code)]
#[path = "../../http_api/src/json.rs"]
mod json;

use json::Kind;

/// The parts of the task the request is built from (raw JSON spans).
#[derive(Default)]
struct Task<'a> {
    operation: Option<&'a [u8]>,
    path: Option<&'a [u8]>,
    content_base64: Option<&'a [u8]>,
    mode: Option<&'a [u8]>,
    expected_before_hash: Option<&'a [u8]>,
}

/// Stores `value` into `slot` once; a second occurrence is an error.
fn set<'a>(slot: &mut Option<Option<&'a [u8]>>, value: Option<&'a [u8]>) -> Result<(), json::Error> {
    if slot.is_some() {
        return Err("invalid task: duplicate key");
    }
    *slot = Some(value);
    Ok(())
}

/// A string member, or `null` (absent).
fn optional(kind: Kind, raw: &[u8], err: json::Error) -> Result<Option<&[u8]>, json::Error> {
    match kind {
        Kind::String => Ok(Some(raw)),
        Kind::Null => Ok(None),
        _ => Err(err),
    }
}

fn parse_task(doc: &[u8]) -> Result<Task<'_>, json::Error> {
    // Each slot: None = not seen, Some(None) = null, Some(Some(raw)) = string.
    let mut seen: [Option<Option<&[u8]>>; 5] = [None; 5];
    json::members(doc, |key, kind, raw| match key {
        b"\"operation\"" if kind == Kind::String => set(&mut seen[0], Some(raw)),
        b"\"operation\"" => Err("invalid task: operation must be a string"),
        b"\"path\"" if kind == Kind::String => set(&mut seen[1], Some(raw)),
        b"\"path\"" => Err("invalid task: path must be a string"),
        b"\"content_base64\"" => {
            let v = optional(kind, raw, "invalid task: content_base64 must be a string")?;
            set(&mut seen[2], v)
        }
        b"\"mode\"" => {
            let v = optional(kind, raw, "invalid task: mode must be a string")?;
            set(&mut seen[3], v)
        }
        b"\"expected_before_hash\"" => {
            let v = optional(kind, raw, "invalid task: expected_before_hash must be a string")?;
            set(&mut seen[4], v)
        }
        _ => Ok(()),
    })
    .map_err(|e| {
        if e.starts_with("invalid task") {
            e
        } else {
            "invalid task: not a valid JSON object"
        }
    })?;
    let [operation, path, content_base64, mode, expected_before_hash] = seen;
    Ok(Task {
        operation: operation.flatten(),
        path: path.flatten(),
        content_base64: content_base64.flatten(),
        mode: mode.flatten(),
        expected_before_hash: expected_before_hash.flatten(),
    })
}

/// Builds the host request JSON for a parsed task.
fn request(t: &Task<'_>) -> Result<i64, json::Error> {
    let operation = t.operation.ok_or("invalid task: operation is required")?;
    let path = t.path.ok_or("invalid task: path is required")?;
    let optional: [(&[u8], Option<&[u8]>); 3] = [
        (b",\"content_base64\":", t.content_base64),
        (b",\"mode\":", t.mode),
        (b",\"expected_before_hash\":", t.expected_before_hash),
    ];
    let mut cap = 24 + operation.len() + path.len();
    for (key, value) in optional {
        if let Some(raw) = value {
            cap += key.len() + raw.len();
        }
    }
    let mut out = guest::Out::with_capacity(cap);
    out.push(b"{\"operation\":");
    out.push(operation);
    out.push(b",\"path\":");
    out.push(path);
    for (key, value) in optional {
        if let Some(raw) = value {
            out.push(key);
            out.push(raw);
        }
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

#[link(wasm_import_module = "latchgate")]
extern "C" {
    #[link_name = "fs_request"]
    fn host_fs_request(ptr: i32, len: i32) -> i64;
}

/// Sends a file request JSON to the host; returns the answer JSON, which
/// the host wrote into memory it obtained from `alloc`.
fn fs_request(packed: i64) -> &'static [u8] {
    let ptr = (packed as u64 >> 32) as i32;
    let len = (packed as u64 & 0xffff_ffff) as i32;
    // SAFETY: the host reads (ptr, len) from our memory and returns a range
    // it allocated through `alloc` and filled; it never writes elsewhere.
    let answer = unsafe { host_fs_request(ptr, len) };
    let a_ptr = (answer as u64 >> 32) as usize;
    let a_len = (answer as u64 & 0xffff_ffff) as usize;
    // SAFETY: see above; the range is fresh allocator memory nobody aliases.
    unsafe { core::slice::from_raw_parts(a_ptr as *const u8, a_len) }
}

/// ABI export: one file operation.
#[no_mangle]
pub extern "C" fn execute(ptr: i32, len: i32) -> i64 {
    let task = guest::input(ptr, len);
    let built = parse_task(task).and_then(|t| request(&t));
    match built {
        Ok(packed) => answer(fs_request(packed)),
        // Static messages contain nothing that needs escaping.
        Err(message) => guest::output(&[b"{\"ok\":false,\"error\":\"", message.as_bytes(), b"\"}"]),
    }
}
