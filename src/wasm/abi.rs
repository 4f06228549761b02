//! The provider ABI: names, types and the (ptr, len) packing, plus the check
//! that a module speaks it. The full contract is vendor/providers/README.md.

use super::error::WasmError;
use wasmtime::{ExternType, FuncType, Module};

/// Import module name of every host call.
pub const HOST_MODULE: &str = "latchgate";
/// Host call `http_request(ptr: i32, len: i32) -> i64`.
pub const HTTP_REQUEST: &str = "http_request";
/// Host call `log(level: i32, ptr: i32, len: i32)`.
pub const LOG: &str = "log";
/// Host call `fs_request(ptr: i32, len: i32) -> i64`; linked only for runs
/// whose manifest has an `[fs]` section.
pub const FS_REQUEST: &str = "fs_request";
/// Exported linear memory.
pub const MEMORY: &str = "memory";
/// Exported `alloc(len: i32) -> i32`; 0 means failure.
pub const ALLOC: &str = "alloc";
/// Exported `execute(ptr: i32, len: i32) -> i64`.
pub const EXECUTE: &str = "execute";

/// Which host calls a module imports (the gate checks these against the
/// manifest's capabilities).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Imports {
    /// Imports `latchgate.http_request`.
    pub http_request: bool,
    /// Imports `latchgate.log`.
    pub log: bool,
    /// Imports `latchgate.fs_request`.
    pub fs_request: bool,
}

/// Packs (ptr, len) into the i64 that `execute` and `http_request` return.
pub fn pack(ptr: u32, len: u32) -> i64 {
    ((u64::from(ptr) << 32) | u64::from(len)) as i64
}

/// Splits a packed i64 into (ptr, len).
pub fn unpack(packed: i64) -> (u32, u32) {
    let bits = packed as u64;
    ((bits >> 32) as u32, (bits & 0xffff_ffff) as u32)
}

/// Value types of a function signature, as short strings ("i32", ...).
fn signature(ty: &FuncType) -> (Vec<String>, Vec<String>) {
    let names = |t: wasmtime::ValType| t.to_string();
    (
        ty.params().map(names).collect(),
        ty.results().map(names).collect(),
    )
}

/// True when `ty` is a function with exactly these params and results.
fn is_func(ty: &ExternType, params: &[&str], results: &[&str]) -> bool {
    match ty {
        ExternType::Func(f) => {
            let (p, r) = signature(f);
            p == params && r == results
        }
        _ => false,
    }
}

/// Checks imports and exports; returns which host calls are imported, and
/// the first `latchgate.*` import that is no host call at all. Such a
/// module loads but can never be instantiated: every run of it fails with
/// "import not granted". An import from any other module, or a host call
/// of the wrong type, is refused here.
pub fn check_module(module: &Module) -> Result<(Imports, Option<String>), WasmError> {
    let mut imports = Imports::default();
    let mut ungranted: Option<String> = None;
    for import in module.imports() {
        let (m, n, ty) = (import.module(), import.name(), import.ty());
        let ok = match (m, n) {
            (HOST_MODULE, HTTP_REQUEST) => {
                imports.http_request = true;
                is_func(&ty, &["i32", "i32"], &["i64"])
            }
            (HOST_MODULE, LOG) => {
                imports.log = true;
                is_func(&ty, &["i32", "i32", "i32"], &[])
            }
            (HOST_MODULE, FS_REQUEST) => {
                imports.fs_request = true;
                is_func(&ty, &["i32", "i32"], &["i64"])
            }
            (HOST_MODULE, other) => {
                if ungranted.is_none() {
                    ungranted = Some(format!("{HOST_MODULE}.{other}"));
                }
                true
            }
            _ => {
                return Err(WasmError::Import(format!(
                    "{m}.{n} is not a LatchGate host call (allowed: \
                     {HOST_MODULE}.{HTTP_REQUEST}, {HOST_MODULE}.{LOG}, \
                     {HOST_MODULE}.{FS_REQUEST})"
                )))
            }
        };
        if !ok {
            return Err(WasmError::Import(format!("{m}.{n} has the wrong type")));
        }
    }
    let export = |name: &str| module.exports().find(|e| e.name() == name).map(|e| e.ty());
    match export(MEMORY) {
        Some(ExternType::Memory(mem)) if !mem.is_64() && !mem.is_shared() => {}
        Some(_) => {
            return Err(WasmError::Export(format!(
                "{MEMORY} must be a 32-bit, unshared memory"
            )))
        }
        None => return Err(WasmError::Export(format!("{MEMORY} is not exported"))),
    }
    let funcs: [(&str, &[&str], &[&str]); 2] = [
        (ALLOC, &["i32"], &["i32"]),
        (EXECUTE, &["i32", "i32"], &["i64"]),
    ];
    for (name, params, results) in funcs {
        match export(name) {
            Some(ty) if is_func(&ty, params, results) => {}
            Some(_) => {
                return Err(WasmError::Export(format!(
                    "{name} must have type ({}) -> ({})",
                    params.join(", "),
                    results.join(", ")
                )))
            }
            None => return Err(WasmError::Export(format!("{name} is not exported"))),
        }
    }
    Ok((imports, ungranted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips_full_range() {
        for (p, l) in [(0, 0), (1, 2), (u32::MAX, u32::MAX), (0x8000_0000, 7)] {
            assert_eq!(unpack(pack(p, l)), (p, l));
        }
        assert_eq!(pack(1, 2), (1 << 32) | 2);
    }
}
