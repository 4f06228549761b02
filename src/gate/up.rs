//! `latchgate up`: open the gate, bind its sockets, serve until SIGINT or
//! SIGTERM, then drain in-flight calls, checkpoint the ledger and exit 0.

use super::admin::AdminRoutes;
use super::routes::Routes;
use super::Gate;
use crate::config::Config;
use crate::net::server::{self, Limits, Listener, Shutdown};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long in-flight calls may run after a shutdown signal.
const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// Creates `dir` (0700) if missing; an existing directory must be ours and
/// not reachable by group or others (a squatted /tmp path is refused).
pub fn ensure_private_dir(dir: &Path) -> Result<(), String> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        // Parents created by `recursive` get 0700 too; the leaf is what matters.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot chmod {}: {e}", dir.display()))?;
    }
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| format!("cannot stat {}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("{} exists and is not a directory", dir.display()));
    }
    if meta.uid() != crate::sys::uid() {
        return Err(format!(
            "{} is owned by uid {}, not by us (uid {}); refusing to use it",
            dir.display(),
            meta.uid(),
            crate::sys::uid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{} has mode {:o}; it must not be accessible to group or others (chmod 700 it)",
            dir.display(),
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

/// Refuses to start when a gate already answers on `path`.
fn refuse_live_socket(path: &Path) -> Result<(), String> {
    if UnixStream::connect(path).is_ok() {
        return Err(format!(
            "another gate is already listening on {} (stop it first)",
            path.display()
        ));
    }
    Ok(())
}

/// Makes the socket directory traversable (0711: others may reach a socket
/// by its name but not list or create entries) for a socket that other
/// users may connect to. The directory must already be ours and private.
fn open_for_peers(dir: &Path) -> Result<(), String> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))
        .map_err(|e| format!("cannot chmod {}: {e}", dir.display()))
}

/// Binds a socket with `mode`: refuses if a live gate answers on it,
/// replaces a stale file. Its directory must be ours and not writable by
/// anyone else; it is 0700, or 0711 when the socket is for other users too.
fn bind_socket(path: &Path, mode: u32) -> Result<UnixListener, String> {
    let dir = path
        .parent()
        .ok_or_else(|| format!("socket path {} has no directory", path.display()))?;
    let meta = std::fs::symlink_metadata(dir);
    let shared_already = meta.as_ref().is_ok_and(|m| m.mode() & 0o777 == 0o711);
    if shared_already {
        // Our own earlier 0711: check ownership, then treat it as private.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot chmod {}: {e}", dir.display()))?;
    }
    ensure_private_dir(dir)?;
    if mode & 0o077 != 0 {
        open_for_peers(dir)?;
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            return Err(format!(
                "{} exists and is not a socket; refusing to replace it",
                path.display()
            ));
        }
        refuse_live_socket(path)?;
        std::fs::remove_file(path)
            .map_err(|e| format!("cannot remove stale socket {}: {e}", path.display()))?;
    }
    let listener = UnixListener::bind(path)
        .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot chmod {}: {e}", path.display()))?;
    Ok(listener)
}

/// Runs the gate in the foreground. Returns when it has shut down cleanly.
pub fn run(cfg: Config) -> Result<(), String> {
    let started = Instant::now();
    crate::sys::signals::block_shutdown_signals()
        .map_err(|e| format!("cannot block signals: {e}"))?;
    crate::sys::set_umask(0o077);
    // Checked before anything is opened, so the message names the real problem.
    refuse_live_socket(&cfg.listen_uds_path)?;
    refuse_live_socket(&cfg.listen_admin_uds_path)?;
    // Before Gate::open: it starts threads, and Landlock binds only the
    // calling thread and those it starts later (see confine.rs).
    super::confine::confine(&cfg)?;
    let gate = Arc::new(Gate::open(cfg)?);
    let cfg = &gate.cfg;
    let admin_unix = bind_socket(&cfg.listen_admin_uds_path, 0o600)?;
    let unix = bind_socket(&cfg.listen_uds_path, cfg.listen_uds_mode)?;
    let bind_tcp = |addr: Option<std::net::SocketAddr>| match addr {
        Some(addr) => std::net::TcpListener::bind(addr)
            .map(Some)
            .map_err(|e| format!("cannot listen on {addr}: {e}")),
        None => Ok(None),
    };
    let tcp = bind_tcp(cfg.listen_http_addr)?;
    let admin_tcp = bind_tcp(cfg.listen_admin_http_addr)?;
    let limits = Limits {
        max_connections: cfg.max_connections,
        max_body: cfg.max_body_bytes,
        read_timeout: Duration::from_secs(30),
        write_timeout: Duration::from_secs(30),
    };
    let shutdown = Arc::new(Shutdown::default());
    let handler = Arc::new(Routes(Arc::clone(&gate)));
    let mut threads = vec![server::spawn(
        Listener::Unix(unix),
        Arc::clone(&handler),
        limits.clone(),
        Arc::clone(&shutdown),
    )
    .map_err(|e| format!("cannot start the accept thread: {e}"))?];
    if let Some(t) = tcp {
        threads.push(
            server::spawn(
                Listener::Tcp(t),
                handler,
                limits.clone(),
                Arc::clone(&shutdown),
            )
            .map_err(|e| format!("cannot start the accept thread: {e}"))?,
        );
    }
    // The operator API: few connections, same limits otherwise.
    let admin = Arc::new(AdminRoutes(Arc::clone(&gate)));
    let admin_limits = Limits {
        max_connections: 64,
        ..limits
    };
    threads.push(
        server::spawn(
            Listener::Unix(admin_unix),
            Arc::clone(&admin),
            admin_limits.clone(),
            Arc::clone(&shutdown),
        )
        .map_err(|e| format!("cannot start the accept thread: {e}"))?,
    );
    if let Some(t) = admin_tcp {
        threads.push(
            server::spawn(Listener::Tcp(t), admin, admin_limits, Arc::clone(&shutdown))
                .map_err(|e| format!("cannot start the accept thread: {e}"))?,
        );
    }

    eprintln!(
        "latchgate {} ready in {} ms",
        env!("CARGO_PKG_VERSION"),
        started.elapsed().as_millis()
    );
    eprintln!(
        "  unix socket      {} ({:04o})",
        cfg.listen_uds_path.display(),
        cfg.listen_uds_mode
    );
    eprintln!(
        "  operator socket  {} (0600)",
        cfg.listen_admin_uds_path.display()
    );
    if let Some(addr) = cfg.listen_http_addr {
        eprintln!("  http             {addr}");
    }
    if let Some(addr) = cfg.listen_admin_http_addr {
        eprintln!("  operator http    {addr} (bearer token)");
    }
    eprintln!("  public_base_url  {}", cfg.public_base_url);
    eprintln!(
        "  actions          {} loaded",
        gate.snapshot().registry.list().len()
    );
    eprintln!(
        "  ledger           {}",
        cfg.ledger_dir().join("events.jsonl").display()
    );
    eprintln!("  config           {}", cfg.source);
    let snap = gate.snapshot();
    eprintln!(
        "  policy           {} ({})",
        snap.policy.version, snap.policy.origin
    );
    let pending = gate.approvals.pending_count(crate::time::unix_now_millis());
    if pending > 0 {
        eprintln!("  approvals        {pending} pending (latchgate approvals list)");
    }
    if !gate.unresolved_intents.is_empty() {
        eprintln!(
            "  warning          {} call(s) were dispatched when the gate last stopped and have no receipt; see `latchgate status`",
            gate.unresolved_intents.len()
        );
    }
    for w in &gate.warnings {
        eprintln!("  warning          {w}");
    }

    let sig = crate::sys::signals::wait_for_shutdown();
    eprintln!("latchgate: signal {sig}: draining");
    gate.draining.store(true, Ordering::SeqCst);
    shutdown.begin();
    let left = shutdown.wait_idle(Instant::now() + DRAIN_DEADLINE);
    if left > 0 {
        eprintln!("latchgate: {left} connection(s) still open after the drain deadline");
    }
    for t in threads {
        let _ = t.join();
    }
    let result = gate
        .ledger
        .checkpoint()
        .map_err(|e| format!("final ledger checkpoint failed: {e}"));
    let _ = std::fs::remove_file(&cfg.listen_uds_path);
    let _ = std::fs::remove_file(&cfg.listen_admin_uds_path);
    result?;
    eprintln!("latchgate: stopped");
    Ok(())
}
