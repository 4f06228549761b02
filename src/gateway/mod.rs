//! `latchgate gateway`: the LLM credential gateway on a Unix socket, for
//! agents in containers (seed 001). The agent talks plain HTTP to the
//! socket (through `latchgate bridge` from its 127.0.0.1:8082); the
//! gateway checks who is calling, picks the provider (`X-Provider`, else
//! the default: Anthropic, because Claude Code sends no such header),
//! strips the caller's placeholder credentials, injects the real key and
//! forwards over TLS, streaming the response (SSE) as it arrives. The
//! forwarding is the sandbox proxy's credential-route step
//! (`proxy::route::forward`); serving is its skeleton (`proxy::server`).
//!
//! Every request is an event in the gateway's own chained ledger
//! (`<data_dir>/gateway-ledger`, read with `latchgate audit --ledger`):
//! provider, method, path, model (when the body names one), status, bytes
//! both ways, duration and caller uid; never a body or a key. If the
//! ledger cannot be written, later requests are refused (503): no
//! unrecorded traffic.

pub mod auth;
pub mod config;
pub mod jwt;
pub mod model;
mod serve;

use crate::evidence::Ledger;
use crate::proxy::route::{self, Prepared};
use config::GatewayConfig;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long in-flight requests may take to finish after SIGTERM.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// What `run` needs.
pub struct Options {
    /// The checked `[gateway]` settings.
    pub cfg: GatewayConfig,
    /// The socket to listen on.
    pub listen: PathBuf,
    /// For `secret:` key sources and the default ledger directory.
    pub data_dir: PathBuf,
    /// `[egress]` of latchgate.toml: `ca_file`, `allow_private`, `hosts`.
    pub egress: crate::config::EgressSettings,
}

/// A provider as served: ready to forward, or why it cannot be.
pub enum Provider {
    /// Its key resolved.
    Ready(Prepared),
    /// Its key source did not resolve (requests get 503).
    Unavailable {
        /// Provider name.
        name: String,
        /// The key source that did not resolve.
        source: String,
    },
}

impl Provider {
    fn name(&self) -> &str {
        match self {
            Provider::Ready(p) => &p.route.route.name,
            Provider::Unavailable { name, .. } => name,
        }
    }
}

/// Everything a connection thread shares.
pub struct Gateway {
    providers: Vec<Provider>,
    default_provider: String,
    access: auth::Access,
    tls: Arc<rustls::ClientConfig>,
    egress: crate::egress::EgressConfig,
    idle: Duration,
    ledger: Ledger,
    /// Set when a ledger write failed: every later request is refused.
    ledger_failed: AtomicBool,
}

/// Runs the gateway in the foreground until SIGTERM or SIGINT; then stops
/// accepting, lets requests in flight finish (up to [`DRAIN_DEADLINE`]),
/// checkpoints the ledger and returns 0.
pub fn run(opts: Options) -> Result<i32, String> {
    crate::sys::signals::block_shutdown_signals()
        .map_err(|e| format!("cannot block signals: {e}"))?;
    let gw = Arc::new(open(&opts)?);
    let listener = bind(&opts.listen, opts.cfg.socket_mode)?;
    eprintln!(
        "latchgate gateway: listening on {} (mode {:04o}); callers: {}; ledger {}",
        opts.listen.display(),
        opts.cfg.socket_mode,
        gw.access.describe(),
        gw.ledger.dir().display()
    );
    for p in &gw.providers {
        let default = if p.name() == gw.default_provider {
            " (default)"
        } else {
            ""
        };
        match p {
            Provider::Ready(r) => eprintln!(
                "latchgate gateway: provider {}{default} -> {} (key from {})",
                r.route.route.name,
                r.route.route.upstream,
                r.route.route.key_source.spelling()
            ),
            Provider::Unavailable { name, source } => eprintln!(
                "latchgate gateway: provider {name}{default}: {source} is not set; its requests get 503"
            ),
        }
    }

    let listener = Arc::new(listener);
    let stopping = Arc::new(AtomicBool::new(false));
    let live = Arc::new(AtomicUsize::new(0));
    let accept = {
        let (l, s, n, g) = (listener.clone(), stopping.clone(), live.clone(), gw.clone());
        let limit = opts.cfg.max_connections;
        let serve_one: Arc<dyn Fn(UnixStream) + Send + Sync> =
            Arc::new(move |conn| serve::connection(conn, &g));
        std::thread::Builder::new()
            .name("gateway-accept".into())
            .spawn(move || {
                crate::proxy::server::accept_loop(&l, &s, &n, limit, "gateway-conn", serve_one)
            })
            .map_err(|e| format!("cannot start the accept thread: {e}"))?
    };

    let sig = crate::sys::signals::wait_for_shutdown();
    eprintln!("latchgate gateway: signal {sig}: no new connections; finishing requests in flight");
    stopping.store(true, Ordering::SeqCst);
    {
        use std::os::fd::AsRawFd;
        crate::sys::shutdown_listener(listener.as_raw_fd());
    }
    let _ = std::fs::remove_file(&opts.listen);
    let _ = accept.join();
    let deadline = Instant::now() + DRAIN_DEADLINE;
    while live.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = live.load(Ordering::SeqCst);
    if left > 0 {
        eprintln!("latchgate gateway: {left} connection(s) still open at the deadline; exiting");
    }
    gw.ledger
        .checkpoint()
        .map_err(|e| format!("ledger checkpoint: {e}"))?;
    Ok(0)
}

/// Resolves keys, loads access rules, TLS roots and the ledger.
fn open(opts: &Options) -> Result<Gateway, String> {
    let cfg = &opts.cfg;
    let (mut resolved, _) = crate::sandbox::routes::resolve(&cfg.providers, &opts.data_dir);
    let mut providers = Vec::new();
    for p in &cfg.providers {
        match resolved.iter().position(|r| r.route.name == p.name) {
            Some(i) => {
                let r = resolved.swap_remove(i);
                let prepared = route::prepare(crate::proxy::Route {
                    route: r.route,
                    key: r.key,
                })?;
                providers.push(Provider::Ready(prepared));
            }
            None => providers.push(Provider::Unavailable {
                name: p.name.clone(),
                source: p.key_source.spelling(),
            }),
        }
    }
    if !providers.iter().any(|p| matches!(p, Provider::Ready(_))) {
        let sources: Vec<String> = cfg
            .providers
            .iter()
            .map(|p| p.key_source.spelling())
            .collect();
        return Err(format!(
            "no provider key resolved ({}): the gateway would refuse every request; set at least one",
            sources.join(", ")
        ));
    }
    let access = auth::Access::load(cfg)?;
    let egress = crate::egress::EgressConfig::from_settings(&opts.egress)?;
    let tls = crate::egress::tls::client_config(egress.ca_file.as_deref())?;
    let ledger_dir = cfg
        .ledger_dir
        .clone()
        .unwrap_or_else(|| opts.data_dir.join("gateway-ledger"));
    let key_path = ledger_dir.with_file_name(format!(
        "{}-signing.key",
        ledger_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "gateway-ledger".into())
    ));
    if let Some(parent) = key_path.parent() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let signer = crate::crypto::ed25519::SigningKey::load_or_create(&key_path)
        .map_err(|e| format!("ledger signing key {}: {e}", key_path.display()))?;
    let ledger = Ledger::open(&ledger_dir, Arc::new(signer))
        .map_err(|e| format!("ledger {}: {e}", ledger_dir.display()))?;
    Ok(Gateway {
        providers,
        default_provider: cfg.default_provider.clone(),
        access,
        tls,
        egress,
        idle: cfg.idle_timeout,
        ledger,
        ledger_failed: AtomicBool::new(false),
    })
}

/// Binds the socket: its directory must exist and be writable by nobody
/// but its owner (else anyone could swap the socket); a live socket is
/// refused, a stale one replaced, anything else at the path refused.
fn bind(path: &Path, mode: u32) -> Result<UnixListener, String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .ok_or_else(|| {
            format!(
                "--listen-unix {}: give a path with a directory",
                path.display()
            )
        })?;
    let meta = std::fs::metadata(dir)
        .map_err(|e| format!("--listen-unix: directory {}: {e}", dir.display()))?;
    if meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0 {
        return Err(format!(
            "--listen-unix: directory {} is writable by others (mode {:o}); use a directory only its owner can write",
            dir.display(),
            meta.mode() & 0o7777
        ));
    }
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if !m.file_type().is_socket() {
            return Err(format!(
                "--listen-unix: {} exists and is not a socket; refusing to replace it",
                path.display()
            ));
        }
        if UnixStream::connect(path).is_ok() {
            return Err(format!(
                "--listen-unix: something is already listening on {}",
                path.display()
            ));
        }
        std::fs::remove_file(path)
            .map_err(|e| format!("cannot remove stale socket {}: {e}", path.display()))?;
    }
    let listener = UnixListener::bind(path)
        .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot chmod {}: {e}", path.display()))?;
    Ok(listener)
}
