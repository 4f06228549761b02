//! One provider run: a fresh store with every limit applied, the (ptr, len)
//! calls into the guest, and the classification of failures.
//!
//! Why another thread: wasmtime requires store data to be `'static`, so the
//! borrowed `&mut dyn HostIo` cannot live in the store. The guest therefore
//! runs on a pooled thread with a known stack (`RUN_THREAD_STACK`), while the
//! caller's thread serves its host calls over channels and waits for the
//! outcome. `HostIo` needs no `Send`; the caller's thread stays blocked for
//! the whole run, so it is still one blocking call.

use super::abi::{self, ALLOC, EXECUTE, MEMORY};
use super::engine::{Engine, Provider};
use super::error::RunError;
use super::host::{Call, HostAbort, HostIo, StoreState};
use super::limiter::Limiter;
use super::ticker::deadline_ticks;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};
use wasmtime::{InstancePre, Store, Trap};

/// Native stack of the thread a guest runs on (wasm stack plus host frames).
pub const RUN_THREAD_STACK: usize = 2 * 1024 * 1024;
/// Longest timeout honoured; longer ones are cut to this.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Limits of one run (from the action manifest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunLimits {
    /// Fuel (roughly, wasm instructions) for instantiation plus the call.
    pub fuel: u64,
    /// Largest linear memory in bytes (the initial memory counts).
    pub memory_bytes: usize,
    /// Wall clock for the whole run, host I/O included.
    pub timeout: Duration,
    /// Most host I/O calls (`http_request` and `fs_request` together).
    pub max_io_calls: u32,
    /// Largest output in bytes.
    pub max_output_bytes: usize,
    /// The manifest has an `[fs]` section: a module importing
    /// `fs_request` may be instantiated. Without it such a module fails
    /// to instantiate ("import not granted").
    pub fs: bool,
}

/// A successful run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOutput {
    /// The guest's output: UTF-8 (JSON by contract; the caller parses it).
    pub output: Vec<u8>,
    /// Fuel used.
    pub fuel_consumed: u64,
    /// Host I/O calls made (`http_request` and `fs_request`).
    pub io_calls: u32,
    /// Wall-clock time of the run, instantiation included.
    pub duration: Duration,
}

/// A failed step, before classification.
enum Failure {
    /// From wasmtime while instantiating (start function, limits, ...).
    Instantiate(wasmtime::Error),
    /// From wasmtime while calling `alloc` or `execute`.
    Call(wasmtime::Error),
    /// The guest returned something unusable.
    Abi(String),
    /// The output is over `max_output_bytes`.
    TooLarge,
}

/// What the run thread hands back: output, fuel used, I/O calls.
pub type Outcome = Result<(Vec<u8>, u64, u32), RunError>;

impl Engine {
    /// Runs `p` on `input` (the rendered task JSON) in a fresh store.
    /// Host calls are served on this thread through `host`.
    pub fn run(
        &self,
        p: &Provider,
        input: &[u8],
        limits: &RunLimits,
        host: &mut dyn HostIo,
    ) -> Result<RunOutput, RunError> {
        // Our epoch ticker and pool only govern modules compiled by this engine.
        if !p
            .pre
            .as_ref()
            .is_none_or(|pre| wasmtime::Engine::same(pre.module().engine(), &self.inner))
        {
            return Err(RunError::Instantiate(
                "provider was loaded by another engine".into(),
            ));
        }
        if p.imports().fs_request && !limits.fs {
            return Err(RunError::Instantiate(
                "import not granted: latchgate.fs_request (the action's manifest has no [fs] section)"
                    .into(),
            ));
        }
        let pre = match (&p.pre, p.ungranted_import()) {
            (Some(pre), None) => pre.clone(),
            (_, name) => {
                return Err(RunError::Instantiate(format!(
                    "import not granted: {} (no LatchGate host call has that name)",
                    name.unwrap_or("unknown")
                )))
            }
        };
        let started = Instant::now();
        let timeout = limits.timeout.min(MAX_TIMEOUT);
        let deadline = started + timeout;
        let (call_tx, call_rx) = mpsc::channel();
        let (reply_tx, reply_rx) = mpsc::channel();
        let done = call_tx.clone();
        // The task owns everything it touches (cheap clones and one copy of
        // the input), so it can run on a pooled thread.
        let (engine, pre, input, limits) =
            (self.inner.clone(), pre, input.to_vec(), limits.clone());
        let lease = self
            .pool
            .spawn(Box::new(move || {
                let state = StoreState::new(
                    Limiter::new(limits.memory_bytes),
                    call_tx,
                    reply_rx,
                    deadline,
                    limits.max_io_calls,
                    limits.fs,
                );
                let ticks = deadline_ticks(timeout);
                let outcome = execute(&engine, &pre, &input, &limits, state, ticks);
                let _ = done.send(Call::Done(outcome));
            }))
            .map_err(|e| RunError::Instantiate(format!("cannot start a run thread: {e}")))?;
        let outcome = serve(host, &call_rx, &reply_tx, deadline);
        if outcome.is_some() {
            // The task finished; its thread is free again.
            self.pool.release(lease);
        }
        let (output, fuel_consumed, io_calls) = outcome
            .unwrap_or_else(|| Err(RunError::Trap("run thread ended unexpectedly".into())))?;
        Ok(RunOutput {
            output,
            fuel_consumed,
            io_calls,
            duration: started.elapsed(),
        })
    }
}

/// Serves host calls until the run thread reports its outcome; None if the
/// thread went away without one.
fn serve(
    host: &mut dyn HostIo,
    calls: &Receiver<Call>,
    replies: &Sender<Vec<u8>>,
    deadline: Instant,
) -> Option<Outcome> {
    while let Ok(call) = calls.recv() {
        match call {
            Call::Http(request) => {
                let response = host.http_request(&request, deadline);
                // The run thread waits for this answer unless its store is gone.
                let _ = replies.send(response);
            }
            Call::Fs(request) => {
                let response = host.fs_request(&request, deadline);
                let _ = replies.send(response);
            }
            Call::Log(level, msg) => host.log(level, &msg),
            Call::Done(outcome) => return Some(outcome),
        }
    }
    None
}

/// Runs on the pool thread: builds the store, calls the guest, classifies.
fn execute(
    engine: &wasmtime::Engine,
    pre: &InstancePre<StoreState>,
    input: &[u8],
    limits: &RunLimits,
    state: StoreState,
    ticks: u64,
) -> Outcome {
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    store
        .set_fuel(limits.fuel)
        .map_err(|e| RunError::Instantiate(format!("{e:#}")))?;
    store.set_epoch_deadline(ticks);
    let result = call_guest(&mut store, pre, input, limits);
    let state = store.data();
    match result {
        Ok(_) if state.io_limit_hit => Err(RunError::IoLimit),
        Ok(output) => {
            let left = store.get_fuel().unwrap_or(0);
            Ok((output, limits.fuel.saturating_sub(left), state.io_calls))
        }
        Err(failure) => Err(classify(failure, state)),
    }
}

/// Instantiate, `alloc` + write the input, `execute`, read the output.
fn call_guest(
    store: &mut Store<StoreState>,
    pre: &InstancePre<StoreState>,
    input: &[u8],
    limits: &RunLimits,
) -> Result<Vec<u8>, Failure> {
    let instance = pre.instantiate(&mut *store).map_err(Failure::Instantiate)?;
    let memory = instance
        .get_memory(&mut *store, MEMORY)
        .ok_or_else(|| Failure::Abi("memory is not exported".into()))?;
    let alloc = instance
        .get_typed_func::<i32, i32>(&mut *store, ALLOC)
        .map_err(|e| Failure::Abi(format!("{e:#}")))?;
    let execute = instance
        .get_typed_func::<(i32, i32), i64>(&mut *store, EXECUTE)
        .map_err(|e| Failure::Abi(format!("{e:#}")))?;

    let len = i32::try_from(input.len()).map_err(|_| Failure::Abi("input over 2 GiB".into()))?;
    let ptr = alloc.call(&mut *store, len).map_err(Failure::Call)?;
    if ptr == 0 && len > 0 {
        return Err(Failure::Abi("alloc failed for the input".into()));
    }
    memory
        .write(&mut *store, ptr as u32 as usize, input)
        .map_err(|_| Failure::Abi("alloc returned an out-of-bounds range".into()))?;

    let packed = execute
        .call(&mut *store, (ptr, len))
        .map_err(Failure::Call)?;
    let (out_ptr, out_len) = abi::unpack(packed);
    let (out_ptr, out_len) = (out_ptr as usize, out_len as usize);
    if out_len > limits.max_output_bytes {
        return Err(Failure::TooLarge);
    }
    let output = out_ptr
        .checked_add(out_len)
        .and_then(|end| memory.data(&*store).get(out_ptr..end))
        .ok_or_else(|| Failure::Abi("execute returned an out-of-bounds output".into()))?;
    if std::str::from_utf8(output).is_err() {
        return Err(Failure::Abi("output is not UTF-8".into()));
    }
    Ok(output.to_vec())
}

/// Maps a failure to its cause. The I/O limit comes first (the guest kept
/// calling after refusals); a refused memory growth explains a later trap
/// or failed alloc.
fn classify(failure: Failure, state: &StoreState) -> RunError {
    if state.io_limit_hit {
        return RunError::IoLimit;
    }
    let memory = state.limiter.memory_denied;
    let (error, instantiating) = match failure {
        Failure::TooLarge => return RunError::OutputTooLarge,
        Failure::Abi(_) if memory => return RunError::MemoryLimit,
        Failure::Abi(m) => return RunError::BadAbi(m),
        Failure::Instantiate(e) => (e, true),
        Failure::Call(e) => (e, false),
    };
    match error.downcast_ref::<HostAbort>() {
        Some(HostAbort::Timeout) => return RunError::Timeout,
        Some(HostAbort::BadAbi(_)) if memory => return RunError::MemoryLimit,
        Some(HostAbort::BadAbi(m)) => return RunError::BadAbi(m.clone()),
        Some(HostAbort::Disconnected) => {
            return RunError::Trap(HostAbort::Disconnected.to_string())
        }
        Some(abort @ HostAbort::NotGranted(_)) => return RunError::Trap(abort.to_string()),
        None => {}
    }
    let trap = error.downcast_ref::<Trap>().copied();
    match trap {
        Some(Trap::OutOfFuel) => RunError::FuelExhausted,
        Some(Trap::Interrupt) => RunError::Timeout,
        _ if memory => RunError::MemoryLimit,
        Some(t) if !instantiating => RunError::Trap(t.to_string()),
        _ if instantiating => RunError::Instantiate(format!("{error:#}")),
        _ => RunError::Trap(format!("{error:#}")),
    }
}
