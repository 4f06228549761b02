//! WASM providers: core modules with a (ptr, len) JSON ABI and no WASI.
//!
//! `Engine::load` compiles a module once per sha256 digest; `Engine::run`
//! executes it in a fresh store with fuel, memory, wall-clock, I/O-call and
//! output-size limits. Host I/O goes through the caller's `HostIo`.
//! The ABI is documented in vendor/providers/README.md.

mod abi;
mod cache;
mod engine;
mod error;
mod host;
mod limiter;
mod pool;
mod run;
mod ticker;

#[cfg(test)]
mod tests;

pub use abi::Imports;
pub use cache::ModuleCache;
pub use engine::{digest, Engine, Provider, MAX_WASM_STACK};
pub use error::{RunError, WasmError};
pub use host::{HostIo, LOG_MAX_BYTES, LOG_MAX_CALLS};
pub use run::{RunLimits, RunOutput, MAX_TIMEOUT, RUN_THREAD_STACK};
pub use ticker::EPOCH_TICK;
