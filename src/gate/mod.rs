//! The gate: shared state, start-up, and the HTTP routes of the client API.
//!
//! Start-up order (each step fails closed and says why): data directory and
//! keys, ledger recovery, approvals, action registry and policy, WASM
//! providers, egress TLS, then the listeners (see `up.rs`).
//!
//! The registry and the policy live together in one [`Snapshot`] that a
//! call takes once at its start; `reload` swaps the whole snapshot, so a
//! call never sees manifests from one load and policy from another.

pub mod admin;
pub mod approvals;
pub mod budget;
pub mod confine;
pub mod discovery;
pub mod errors;
pub mod fsio;
pub mod hostio;
pub mod identity;
pub mod intents;
pub mod leases;
pub mod operator_providers;
pub mod ops;
pub mod permits;
pub mod pipeline;
pub mod receipts;
pub mod routes;
pub mod sandbox_events;
pub mod up;

use crate::approval::ApprovalStore;
use crate::auth::lease::LeaseIssuer;
use crate::auth::replay::ReplayCache;
use crate::config::Config;
use crate::crypto::ed25519::SigningKey;
use crate::egress::{Egress, EgressConfig};
use crate::evidence::Ledger;
use crate::policy::{Policy, RateLimiter};
use crate::registry::Registry;
use crate::wasm::{Engine, ModuleCache, Provider};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, RwLock};

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
    ("fs", include_bytes!("../../vendor/providers/wasm/fs.wasm")),
];

/// Everything a request handler needs; shared by all connection threads.
pub struct Gate {
    /// The validated configuration.
    pub cfg: Config,
    /// Issues and verifies lease JWTs (key is per process).
    pub leases: LeaseIssuer,
    /// DPoP `jti` replay cache.
    pub replay: ReplayCache,
    /// Manifests and policy in force (swapped whole by `reload`).
    snapshot: RwLock<Arc<Snapshot>>,
    /// The WASM engine.
    pub engine: Engine,
    /// Loaded providers by digest ("sha256:...").
    pub providers: HashMap<String, Arc<Provider>>,
    /// Built-in provider name -> digest.
    pub builtin_digests: HashMap<String, String>,
    /// Operator providers loaded from the providers directory: (file, digest).
    pub operator_providers: Vec<(String, String)>,
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
    /// Held calls waiting for an operator (durable).
    pub approvals: ApprovalStore,
    /// Per-principal call rate limits (limits from the policy).
    pub rate: RateLimiter,
    /// Grant revocation epoch: `revoke-all` increments it, and a grant
    /// issued under an older epoch is refused before dispatch.
    pub epoch: AtomicU64,
    /// Execute calls in progress (for `status`).
    pub in_flight: AtomicUsize,
    /// Unix time (ms) the gate started.
    pub started_ms: i64,
    /// Intents with no outcome found in the ledger at start-up: calls that
    /// may have had an effect when the gate died. Reported, never re-run.
    pub unresolved_intents: Vec<crate::json::Value>,
    /// Secret values for injection (config sources, then the store).
    pub secrets: crate::secrets::Secrets,
    /// The TCP operator listener's bearer token, if configured.
    pub admin_token: Option<Vec<u8>>,
    /// Start-up warnings (manifest overrides, ...), printed in the banner.
    pub warnings: Vec<String>,
}

/// The manifests and the policy in force, taken whole by each call.
pub struct Snapshot {
    /// Loaded action manifests.
    pub registry: Registry,
    /// The policy.
    pub policy: Policy,
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

        let mut operator_list = Vec::new();
        if let Some(dir) = cfg.providers_path() {
            for loaded in operator_providers::load(&dir, &engine, &cache)? {
                let digest = loaded.provider.digest().to_string();
                operator_list.push((loaded.file, digest.clone()));
                providers.insert(digest, loaded.provider);
            }
        }
        let (snapshot, warnings) =
            load_snapshot(&cfg, &builtin_digests, &providers, &operator_list)?;

        let approvals_key =
            crate::crypto::secret::load_or_create(&cfg.data_dir.join("approvals.key"))
                .map_err(|e| format!("approvals key: {e}"))?;
        let (approvals, interrupted) = ApprovalStore::open(
            &cfg.data_dir.join("approvals"),
            approvals_key,
            cfg.max_pending_approvals,
        )
        .map_err(|e| format!("approvals store: {e}"))?;
        let unresolved_intents = intents::unresolved(&ledger)?;
        let admin_token = match &cfg.admin_token_file {
            Some(path) => Some(admin::read_token(path)?),
            None => None,
        };

        let egress = Egress::new(EgressConfig::from_settings(&cfg.egress)?)
            .map_err(|e| format!("egress: {e}"))?;
        let leases = LeaseIssuer::new().map_err(|e| format!("lease key: {e}"))?;
        Ok(Gate {
            leases,
            replay: ReplayCache::new(180, 1_000_000),
            snapshot: RwLock::new(Arc::new(snapshot)),
            engine,
            providers,
            builtin_digests,
            operator_providers: operator_list,
            egress,
            ledger,
            receipt_key,
            grant_key,
            budgets: budget::Budgets::default(),
            runs: permits::Permits::new(cfg.max_concurrent_runs),
            draining: AtomicBool::new(false),
            approvals,
            rate: RateLimiter::new(100_000),
            epoch: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            started_ms: crate::time::unix_now_millis(),
            unresolved_intents,
            secrets: crate::secrets::Secrets::new(&cfg.secrets, cfg.data_dir.clone()),
            admin_token,
            warnings,
            cfg,
        })
        .inspect(|gate| approvals::record_interrupted(gate, &interrupted))
    }

    /// The manifests and policy in force now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(s) => Arc::clone(&s),
            // A writer panicked mid-swap: the old value is still whole.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Loads manifests and policy again and swaps them in whole; on any
    /// error the old set keeps serving and the error is returned.
    pub fn reload(&self) -> Result<Vec<String>, String> {
        let (fresh, warnings) = load_snapshot(
            &self.cfg,
            &self.builtin_digests,
            &self.providers,
            &self.operator_providers,
        )?;
        let mut slot = self
            .snapshot
            .write()
            .map_err(|_| "snapshot lock poisoned".to_string())?;
        *slot = Arc::new(fresh);
        Ok(warnings)
    }
}

/// Loads the registry and the policy and checks they fit together: every
/// action's provider is loaded. Returns the warnings to show.
pub fn load_snapshot(
    cfg: &Config,
    builtin_digests: &HashMap<String, String>,
    providers: &HashMap<String, Arc<Provider>>,
    operator: &[(String, String)],
) -> Result<(Snapshot, Vec<String>), String> {
    let (registry, mut warnings) =
        Registry::load(crate::registry::EMBEDDED, cfg.manifests_path().as_deref())
            .map_err(|e| format!("action manifests: {e}"))?;
    for action in registry.list() {
        let digest = pipeline::trust::module_digest(builtin_digests, action);
        if digest.as_ref().and_then(|d| providers.get(d)).is_some() {
            continue;
        }
        if let crate::registry::ProviderRef::Digest(wanted) = &action.manifest.provider {
            return Err(operator_providers::mismatch(
                &action.manifest.id,
                wanted,
                operator,
            ));
        }
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
    let policy = Policy::load(cfg.policy_path().as_deref()).map_err(|e| format!("policy: {e}"))?;
    let known: Vec<&str> = registry.list().iter().map(|a| a.id()).collect();
    for w in policy.unknown_actions(&known) {
        warnings.push(format!("policy: {w}"));
    }
    Ok((Snapshot { registry, policy }, warnings))
}
