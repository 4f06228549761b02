//! The engine: wasmtime configuration, the epoch ticker, the host-call
//! linkers and the compiled-module cache keyed by the module's sha256 digest.
//!
//! Two linkers: the base one (`http_request`, `log`) and one that also has
//! `fs_request`. Only a module that imports `fs_request` is linked with
//! the second, and `Engine::run` instantiates such a module only for a run
//! granted `[fs]`; every other module never has the file call linked.

use super::abi::{self, Imports, FS_REQUEST, HOST_MODULE, HTTP_REQUEST, LOG};
use super::cache::ModuleCache;
use super::error::WasmError;
use super::host::{self, StoreState};
use super::pool::Pool;
use super::run::RUN_THREAD_STACK;
use super::ticker::Ticker;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use wasmtime::{Config, InstancePre, Linker, Module, Strategy};

/// Most native stack a guest may use (wasmtime's own check).
pub const MAX_WASM_STACK: usize = 512 * 1024;

/// A compiled provider, ready to instantiate. Shared through `Arc`.
pub struct Provider {
    digest: String,
    /// None when the module imports a `latchgate.*` function no linker
    /// provides (`ungranted` names it): every run fails to instantiate.
    pub(super) pre: Option<InstancePre<StoreState>>,
    imports: Imports,
    ungranted: Option<String>,
}

impl Provider {
    /// `sha256:<hex>` of the module bytes.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Which host calls the module imports.
    pub fn imports(&self) -> Imports {
        self.imports
    }

    /// The `latchgate.*` import no run can grant, if the module has one.
    pub fn ungranted_import(&self) -> Option<&str> {
        self.ungranted.as_deref()
    }
}

/// The WASM engine. Sync: share one per process behind an `Arc`.
pub struct Engine {
    pub(super) inner: wasmtime::Engine,
    linker: Linker<StoreState>,
    fs_linker: Linker<StoreState>,
    cache: Mutex<HashMap<String, Arc<Provider>>>,
    pub(super) pool: Pool,
    _ticker: Ticker,
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    format!("sha256:{}", crate::crypto::hex::encode(d.as_ref()))
}

impl Engine {
    /// Cranelift, fuel and epoch interruption on, no wasm threads (the
    /// wasmtime "threads" feature is not compiled in), 32-bit single memory,
    /// no backtraces in errors; starts the epoch ticker thread. Run threads
    /// are started on demand and reused.
    pub fn new() -> Result<Engine, WasmError> {
        let mut config = Config::new();
        config
            .strategy(Strategy::Cranelift)
            .consume_fuel(true)
            .epoch_interruption(true)
            .max_wasm_stack(MAX_WASM_STACK)
            .wasm_memory64(false)
            .wasm_multi_memory(false)
            .wasm_backtrace_max_frames(None)
            // Linear memory sized to what the provider uses, with explicit
            // bounds checks, instead of wasmtime's default 4 GiB virtual
            // reservation plus guard region per instance: every execute
            // instantiates afresh, and mapping and unmapping that
            // reservation (a TLB shootdown in a threaded process) was the
            // largest cost of the run thread in the gate's profile.
            .memory_reservation(0)
            .memory_guard_size(0)
            .memory_reservation_for_growth(1 << 20);
        let inner =
            wasmtime::Engine::new(&config).map_err(|e| WasmError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&inner);
        linker
            .func_wrap(HOST_MODULE, HTTP_REQUEST, host::http_request)
            .and_then(|l| l.func_wrap(HOST_MODULE, LOG, host::log))
            .map_err(|e| WasmError::Engine(format!("{e:#}")))?;
        let mut fs_linker = linker.clone();
        fs_linker
            .func_wrap(HOST_MODULE, FS_REQUEST, host::fs_request)
            .map_err(|e| WasmError::Engine(format!("{e:#}")))?;
        let ticker = Ticker::start(inner.clone())
            .map_err(|e| WasmError::Engine(format!("cannot start the epoch thread: {e}")))?;
        Ok(Engine {
            inner,
            linker,
            fs_linker,
            cache: Mutex::new(HashMap::new()),
            pool: Pool::new("wasm-run", RUN_THREAD_STACK),
            _ticker: ticker,
        })
    }

    /// Compiles `wasm` once per digest and returns the cached provider.
    /// Refuses modules importing anything but the LatchGate host calls or
    /// lacking `memory`, `alloc` or `execute` with the ABI types.
    pub fn load(&self, wasm: &[u8]) -> Result<Arc<Provider>, WasmError> {
        self.load_cached(wasm, None)
    }

    /// As `load`, but reuses a compiled artifact from `cache` when it holds an
    /// authentic one for these bytes, and fills it after compiling.
    pub fn load_cached(
        &self,
        wasm: &[u8],
        disk: Option<&ModuleCache>,
    ) -> Result<Arc<Provider>, WasmError> {
        let digest = digest(wasm);
        // Held while compiling, so concurrent loads of one module compile it once.
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(provider) = cache.get(&digest) {
            return Ok(Arc::clone(provider));
        }
        let module = match disk.and_then(|c| c.get(&self.inner, &digest)) {
            Some(m) => m,
            None => {
                let m = Module::new(&self.inner, wasm)
                    .map_err(|e| WasmError::Compile(format!("{e:#}")))?;
                if let Some(c) = disk {
                    c.put(&digest, &m);
                }
                m
            }
        };
        let (imports, ungranted) = abi::check_module(&module)?;
        let linker = if imports.fs_request {
            &self.fs_linker
        } else {
            &self.linker
        };
        let pre = match ungranted {
            Some(_) => None,
            None => Some(
                linker
                    .instantiate_pre(&module)
                    .map_err(|e| WasmError::Import(format!("{e:#}")))?,
            ),
        };
        let provider = Arc::new(Provider {
            digest: digest.clone(),
            pre,
            imports,
            ungranted,
        });
        cache.insert(digest, Arc::clone(&provider));
        Ok(provider)
    }

    /// The loaded provider with this `sha256:<hex>` digest, if any.
    pub fn get(&self, digest: &str) -> Option<Arc<Provider>> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.get(digest).cloned()
    }
}
