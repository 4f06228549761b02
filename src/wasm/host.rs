//! Host calls imported by providers (`latchgate.http_request`,
//! `latchgate.fs_request`, `latchgate.log`) and the per-run store state
//! behind them.
//!
//! `fs_request` is linked only into runs whose manifest has an `[fs]`
//! section (see `Engine::run`); it also re-checks the grant itself.
//!
//! The guest runs on a pool thread (see run.rs); host calls are forwarded
//! over channels to the caller's thread, where the `HostIo` lives.

use super::abi::{self, ALLOC, MEMORY};
use super::limiter::Limiter;
use std::fmt;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Instant;
use wasmtime::{Caller, Extern, Memory};

/// Most `log` calls per run; later calls are dropped.
pub const LOG_MAX_CALLS: u32 = 256;
/// Longest log message in bytes; longer ones are truncated.
pub const LOG_MAX_BYTES: usize = 4096;

/// What the guest receives for an I/O call over the I/O call limit.
const IO_LIMIT_RESPONSE: &[u8] = br#"{"error":"io call limit exceeded"}"#;

/// The host side of a run: egress and logging, supplied by the gate.
///
/// `http_request` gets the request JSON the guest built and returns the
/// response JSON written back into guest memory: the data object
/// `{"status_code":N,"headers":{..},"body":"..","url":".."}` on success,
/// `{"error":"<message>"}` on any failure. It must return by `deadline`.
pub trait HostIo {
    /// Performs one HTTP request (capability checks are the implementor's job).
    fn http_request(&mut self, request: &[u8], deadline: Instant) -> Vec<u8>;
    /// Performs one file operation beneath the run's fs root and returns
    /// its data object or `{"error":"<code>: <message>"}` (path checks are
    /// the implementor's job). Only called for runs granted `[fs]`; the
    /// default refuses.
    fn fs_request(&mut self, request: &[u8], deadline: Instant) -> Vec<u8> {
        let _ = (request, deadline);
        br#"{"error":"fs_not_granted: this host performs no file operations"}"#.to_vec()
    }
    /// Records one guest log line. `level`: 0 debug, 1 info, 2 warn, 3 error.
    /// `msg` is at most `LOG_MAX_BYTES`, unredacted and unescaped.
    fn log(&mut self, level: u8, msg: &str);
}

/// A message from the run thread to the caller's thread.
pub enum Call {
    /// Request JSON; the caller answers with the response on the reply channel.
    Http(Vec<u8>),
    /// File request JSON; answered like `Http`.
    Fs(Vec<u8>),
    /// Level and message; no answer.
    Log(u8, String),
    /// The run finished (the store is already dropped).
    Done(super::run::Outcome),
}

/// Why a host call stopped the guest (carried inside the wasmtime error).
#[derive(Debug)]
pub enum HostAbort {
    /// The wall-clock deadline passed during a host call.
    Timeout,
    /// The guest passed or returned an unusable pointer.
    BadAbi(String),
    /// The caller's thread stopped answering (cannot happen while it waits).
    Disconnected,
    /// The guest called a host function this run does not grant.
    NotGranted(&'static str),
}

impl fmt::Display for HostAbort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostAbort::Timeout => f.write_str("deadline passed during a host call"),
            HostAbort::BadAbi(m) => f.write_str(m),
            HostAbort::Disconnected => f.write_str("host I/O channel closed"),
            HostAbort::NotGranted(name) => write!(f, "import not granted: {name}"),
        }
    }
}

impl std::error::Error for HostAbort {}

/// Everything a run's store holds. Dropped with the store after the run.
pub struct StoreState {
    /// Memory/table/instance limits.
    pub limiter: Limiter,
    calls: Sender<Call>,
    replies: Receiver<Vec<u8>>,
    deadline: Instant,
    max_io_calls: u32,
    /// The run's manifest has an `[fs]` section.
    fs_granted: bool,
    /// `http_request` and `fs_request` calls made, including refused ones.
    pub io_calls: u32,
    /// Set once a call went over `max_io_calls`.
    pub io_limit_hit: bool,
    log_calls: u32,
}

impl StoreState {
    /// Fresh state for one run.
    pub fn new(
        limiter: Limiter,
        calls: Sender<Call>,
        replies: Receiver<Vec<u8>>,
        deadline: Instant,
        max_io_calls: u32,
        fs_granted: bool,
    ) -> StoreState {
        StoreState {
            limiter,
            calls,
            replies,
            deadline,
            max_io_calls,
            fs_granted,
            io_calls: 0,
            io_limit_hit: false,
            log_calls: 0,
        }
    }

    /// Sends a request to the caller's thread and waits for its response.
    fn exchange(&mut self, request: Call) -> Result<Vec<u8>, HostAbort> {
        self.calls
            .send(request)
            .map_err(|_| HostAbort::Disconnected)?;
        self.replies.recv().map_err(|_| HostAbort::Disconnected)
    }
}

fn abi_error(msg: &str) -> wasmtime::Error {
    wasmtime::Error::new(HostAbort::BadAbi(msg.to_string()))
}

/// The guest's exported memory.
fn guest_memory(caller: &mut Caller<'_, StoreState>) -> wasmtime::Result<Memory> {
    caller
        .get_export(MEMORY)
        .and_then(Extern::into_memory)
        .ok_or_else(|| abi_error("memory is not exported"))
}

/// Copies guest bytes at (ptr, len); both are unsigned in the ABI.
fn read_guest(
    caller: &mut Caller<'_, StoreState>,
    ptr: i32,
    len: u32,
) -> wasmtime::Result<Vec<u8>> {
    let memory = guest_memory(caller)?;
    let start = ptr as u32 as usize;
    let end = start
        .checked_add(len as usize)
        .ok_or_else(|| abi_error("host call range overflows"))?;
    memory
        .data(&*caller)
        .get(start..end)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| abi_error("host call argument is out of bounds"))
}

/// Places `bytes` in guest memory obtained from the guest's `alloc`.
fn write_guest(caller: &mut Caller<'_, StoreState>, bytes: &[u8]) -> wasmtime::Result<i64> {
    let len = i32::try_from(bytes.len()).map_err(|_| abi_error("host response too large"))?;
    let alloc = caller
        .get_export(ALLOC)
        .and_then(Extern::into_func)
        .ok_or_else(|| abi_error("alloc is not exported"))?
        .typed::<i32, i32>(&*caller)
        .map_err(|_| abi_error("alloc has the wrong type"))?;
    // Traps inside alloc (fuel, epoch) propagate unchanged.
    let ptr = alloc.call(&mut *caller, len)?;
    if ptr == 0 && len > 0 {
        return Err(abi_error("alloc failed for a host response"));
    }
    guest_memory(caller)?
        .write(&mut *caller, ptr as u32 as usize, bytes)
        .map_err(|_| abi_error("alloc returned an out-of-bounds range"))?;
    Ok(abi::pack(ptr as u32, len as u32))
}

/// `latchgate.http_request(ptr, len) -> i64`.
pub fn http_request(caller: Caller<'_, StoreState>, ptr: i32, len: i32) -> wasmtime::Result<i64> {
    io_call(caller, ptr, len, Call::Http)
}

/// `latchgate.fs_request(ptr, len) -> i64`: linked only for runs granted
/// `[fs]`, and refused (the run traps) if reached without the grant.
pub fn fs_request(mut caller: Caller<'_, StoreState>, ptr: i32, len: i32) -> wasmtime::Result<i64> {
    if !caller.data_mut().fs_granted {
        return Err(wasmtime::Error::new(HostAbort::NotGranted(
            "latchgate.fs_request (the action's manifest has no [fs] section)",
        )));
    }
    io_call(caller, ptr, len, Call::Fs)
}

/// One I/O host call: spend it, forward the request, write the answer back.
fn io_call(
    mut caller: Caller<'_, StoreState>,
    ptr: i32,
    len: i32,
    wrap: fn(Vec<u8>) -> Call,
) -> wasmtime::Result<i64> {
    // The call is spent before anything else is checked.
    let state = caller.data_mut();
    state.io_calls = state.io_calls.saturating_add(1);
    let over = state.io_calls > state.max_io_calls;
    let request = read_guest(&mut caller, ptr, len as u32)?;
    let state = caller.data_mut();
    let response = if over {
        state.io_limit_hit = true;
        IO_LIMIT_RESPONSE.to_vec()
    } else {
        state.exchange(wrap(request))?
    };
    if Instant::now() >= state.deadline {
        return Err(wasmtime::Error::new(HostAbort::Timeout));
    }
    write_guest(&mut caller, &response)
}

/// Cuts `text` to at most `max` bytes at a character boundary.
fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// `latchgate.log(level, ptr, len)`: at most `LOG_MAX_CALLS` lines of
/// `LOG_MAX_BYTES` each; extra calls are dropped, long lines truncated.
pub fn log(
    mut caller: Caller<'_, StoreState>,
    level: i32,
    ptr: i32,
    len: i32,
) -> wasmtime::Result<()> {
    let state = caller.data_mut();
    state.log_calls = state.log_calls.saturating_add(1);
    if state.log_calls > LOG_MAX_CALLS {
        return Ok(());
    }
    let take = (len as u32).min(LOG_MAX_BYTES as u32);
    let bytes = read_guest(&mut caller, ptr, take)?;
    let text = truncate(String::from_utf8_lossy(&bytes).into_owned(), LOG_MAX_BYTES);
    let level = match level {
        i32::MIN..=0 => 0,
        1 => 1,
        2 => 2,
        _ => 3,
    };
    caller
        .data_mut()
        .calls
        .send(Call::Log(level, text))
        .map_err(|_| wasmtime::Error::new(HostAbort::Disconnected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("abc".into(), 5), "abc");
        assert_eq!(truncate("abcdef".into(), 3), "abc");
        // 'é' is two bytes: cutting inside it drops it whole.
        assert_eq!(truncate("aé".into(), 2), "a");
    }
}
