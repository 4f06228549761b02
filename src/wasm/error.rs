//! Errors of the WASM engine: loading a module, and running one.

use std::fmt;

/// Why the engine could not start or a module could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WasmError {
    /// The wasmtime engine could not be configured, or its epoch thread not started.
    Engine(String),
    /// The bytes are not a valid core WebAssembly module for this engine.
    Compile(String),
    /// The module imports something other than the LatchGate host calls.
    Import(String),
    /// A required export is missing or has the wrong type.
    Export(String),
}

impl fmt::Display for WasmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WasmError::Engine(m) => write!(f, "wasm engine: {m}"),
            WasmError::Compile(m) => write!(f, "wasm module does not compile: {m}"),
            WasmError::Import(m) => write!(f, "wasm module import refused: {m}"),
            WasmError::Export(m) => write!(f, "wasm module export missing or wrong: {m}"),
        }
    }
}

impl std::error::Error for WasmError {}

/// Why a provider run failed. Every variant means "no usable output".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunError {
    /// The run used up its fuel (instruction budget).
    FuelExhausted,
    /// The guest needed more linear memory than allowed.
    MemoryLimit,
    /// The wall-clock limit passed (guest compute or host I/O).
    Timeout,
    /// The guest made more host I/O calls than allowed.
    IoLimit,
    /// The output is larger than allowed.
    OutputTooLarge,
    /// The guest broke the (ptr, len) ABI: bad pointer, failed alloc, non-UTF-8 output.
    BadAbi(String),
    /// The guest trapped (unreachable, out-of-bounds access, stack overflow, ...).
    Trap(String),
    /// The instance could not be created (or the run thread not started).
    Instantiate(String),
}

impl RunError {
    /// A stable machine-readable code for responses and the ledger.
    pub fn code(&self) -> &'static str {
        match self {
            RunError::FuelExhausted => "fuel_exhausted",
            RunError::MemoryLimit => "memory_limit_exceeded",
            RunError::Timeout => "wasm_timeout",
            RunError::IoLimit => "io_limit_exceeded",
            RunError::OutputTooLarge => "output_too_large",
            RunError::BadAbi(_) => "bad_abi",
            RunError::Trap(_) => "wasm_trap",
            RunError::Instantiate(_) => "instantiate_failed",
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::FuelExhausted => f.write_str("provider ran out of fuel"),
            RunError::MemoryLimit => f.write_str("provider exceeded its memory limit"),
            RunError::Timeout => f.write_str("provider exceeded its time limit"),
            RunError::IoLimit => f.write_str("provider exceeded its I/O call limit"),
            RunError::OutputTooLarge => f.write_str("provider output exceeds the size limit"),
            RunError::BadAbi(m) => write!(f, "provider broke the ABI: {m}"),
            RunError::Trap(m) => write!(f, "provider trapped: {m}"),
            RunError::Instantiate(m) => write!(f, "provider could not be instantiated: {m}"),
        }
    }
}

impl std::error::Error for RunError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let all = [
            RunError::FuelExhausted,
            RunError::MemoryLimit,
            RunError::Timeout,
            RunError::IoLimit,
            RunError::OutputTooLarge,
            RunError::BadAbi(String::new()),
            RunError::Trap(String::new()),
            RunError::Instantiate(String::new()),
        ];
        let mut codes: Vec<_> = all.iter().map(RunError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
