//! The gate: shared state, start-up, and the HTTP routes of the client API.
//!
//! Start-up order (each step fails closed and says why): data directory and
//! keys, ledger recovery, action registry, WASM providers, egress TLS, then
//! the listeners (see `up.rs`).

pub mod budget;
pub mod discovery;
pub mod errors;
pub mod hostio;
pub mod leases;
pub mod permits;
pub mod pipeline;
pub mod receipts;
pub mod routes;
pub mod up;

use crate::auth::lease::LeaseIssuer;
use crate::auth::replay::ReplayCache;
use crate::config::Config;
use crate::crypto::ed25519::SigningKey;
use crate::egress::{Egress, EgressConfig};
use crate::evidence::Ledger;
use crate::registry::Registry;
use crate::wasm::{Engine, ModuleCache, Provider};
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Built-in providers embedded in the binary: (name, module bytes).
/// `make providers` rebuilds these byte-identically from vendor/providers.
pub const BUILTIN_PROVIDERS: &[(&str, &[u8])] = &[
    (
        "http_api",
        include_bytes!("../../vendor/providers/wasm/http_api.wasm"),
    ),
    (
        "echo",
        include_bytes!("../../vendor/providers/wasm/echo.wasm"),
    ),
];

/// Everything a request handler needs; shared by all connection threads.
pub struct Gate {
    /// The validated configuration.
    pub cfg: Config,
    /// Issues and verifies lease JWTs (key is per process).
    pub leases: LeaseIssuer,
    /// DPoP `jti` replay cache.
    pub replay: ReplayCache,
    /// Loaded action manifests.
    pub registry: Registry,
    /// The WASM engine.
    pub engine: Engine,
    /// Loaded providers by digest ("sha256:...").
    pub providers: HashMap<String, Arc<Provider>>,
    /// Built-in provider name -> digest.
    pub builtin_digests: HashMap<String, String>,
    /// Outbound HTTP for providers.
    pub egress: Egress,
    /// The tamper-evident ledger.
    pub ledger: Ledger,
    /// Signs receipts.
    pub receipt_key: Arc<SigningKey>,
    /// Signs grants.
    pub grant_key: SigningKey,
    /// Per-lease call budgets.
    pub budgets: budget::Budgets,
    /// Bounds concurrent WASM runs.
    pub runs: permits::Permits,
    /// Set when shutdown begins: new calls get 503 `draining`.
    pub draining: AtomicBool,
    /// Start-up warnings (manifest overrides, ...), printed in the banner.
    pub warnings: Vec<String>,
}

impl Gate {
    /// Opens keys and ledger, loads manifests and providers. Everything that
    /// can be wrong in the environment is reported here, before listening.
    pub fn open(cfg: Config) -> Result<Gate, String> {
        crate::gate::up::ensure_private_dir(&cfg.data_dir)?;
        let receipt_key = SigningKey::load_or_create(&cfg.data_dir.join("receipt-signing.key"))
            .map_err(|e| format!("receipt signing key: {e}"))?;
        let grant_key = SigningKey::load_or_create(&cfg.data_dir.join("grant-signing.key"))
            .map_err(|e| format!("grant signing key: {e}"))?;
        let receipt_key = Arc::new(receipt_key);
        let ledger = Ledger::open(&cfg.ledger_dir(), Arc::clone(&receipt_key))
            .map_err(|e| format!("ledger {}: {e}", cfg.ledger_dir().display()))?;

        let engine = Engine::new().map_err(|e| format!("wasm engine: {e}"))?;
        let cache_key =
            crate::crypto::secret::load_or_create(&cfg.data_dir.join("module-cache.key"))
                .map_err(|e| format!("module cache key: {e}"))?;
        let cache = ModuleCache::open(cfg.data_dir.join("module-cache"), cache_key)?;
        let mut providers = HashMap::new();
        let mut builtin_digests = HashMap::new();
        for (name, bytes) in BUILTIN_PROVIDERS {
            let p = engine
                .load_cached(bytes, Some(&cache))
                .map_err(|e| format!("built-in provider {name}: {e}"))?;
            builtin_digests.insert(name.to_string(), p.digest().to_string());
            providers.insert(p.digest().to_string(), p);
        }

        let manifests_dir = cfg.manifests_dir.clone().or_else(|| {
            cfg.config_dir
                .as_ref()
                .map(|d| d.join("manifests"))
                .filter(|d| d.is_dir())
        });
        let (registry, warnings) =
            Registry::load(crate::registry::EMBEDDED, manifests_dir.as_deref())
                .map_err(|e| format!("action manifests: {e}"))?;
        for action in registry.list() {
            let digest = pipeline::trust::module_digest(&builtin_digests, action);
            if digest.as_ref().and_then(|d| providers.get(d)).is_none() {
                return Err(format!(
                    "action `{}`: provider `{}` is not loaded (built-in providers: {})",
                    action.manifest.id,
                    action.manifest.provider,
                    BUILTIN_PROVIDERS
                        .iter()
                        .map(|(n, _)| format!("builtin:{n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }

        let egress = Egress::new(EgressConfig::from_settings(&cfg.egress)?)
            .map_err(|e| format!("egress: {e}"))?;
        let leases = LeaseIssuer::new().map_err(|e| format!("lease key: {e}"))?;
        Ok(Gate {
            leases,
            replay: ReplayCache::new(180, 1_000_000),
            registry,
            engine,
            providers,
            builtin_digests,
            egress,
            ledger,
            receipt_key,
            grant_key,
            budgets: budget::Budgets::default(),
            runs: permits::Permits::new(cfg.max_concurrent_runs),
            draining: AtomicBool::new(false),
            warnings,
            cfg,
        })
    }
}
