//! Running the agent contained, in one linear path (read it top to bottom):
//!
//! 1. check the host (bwrap, seccomp, Landlock, the gate socket) and decide
//!    who the agent runs as (rootless, or root-assisted as a real user);
//! 2. bind the egress proxy's socket, the session's `proxy.sock`;
//! 3. build bwrap's arguments (namespaces, mounts, environment) with
//!    sandbox-init as the first program;
//! 4. spawn bwrap from the main thread (so PDEATHSIG holds) in its own
//!    process group, on a fresh pseudo-terminal when the user has one;
//!    then, while bwrap sets the sandbox up, record sandbox_started;
//! 5. until bwrap exits: relay terminal bytes, window sizes and signals
//!    (signals reach the agent only after sandbox-init's "ready" byte:
//!    every layer established), and start serving the proxy at the agent's
//!    first connection;
//! 6. return the agent's exit code (125 when the sandbox never held).
//!
//! Fail closed: any step that fails stops the launch before the agent runs.

use super::environment::{self, EnvInput};
use super::events::Recorder;
use super::identity::{self, Mode};
use super::layout::{self, Arg, Layout, LayoutInput, INIT_PATH, PROXY_SOCKET, WORKSPACE};
use super::session_dir::{self, SessionDir};
use super::{discover, init_image, platform, routes, SandboxSpec};
use crate::sys::{self, events, kernel, memfd, pty, spawn};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Exit code when the sandbox could not be established (the agent never ran).
pub const SETUP_FAILED: i32 = 125;
/// The loopback forwarder's port inside (the network namespace is private,
/// so a fixed port is always free).
pub const FORWARD_PORT: u16 = 3128;
/// How long bwrap and sandbox-init may take to establish the sandbox.
pub const START_DEADLINE: Duration = Duration::from_secs(30);

/// What the launcher needs beyond the plan.
pub struct Options {
    /// The gate's data directory (for `secret:` key sources).
    pub data_dir: PathBuf,
    /// The gate's `[egress]` settings, which the egress proxy follows too.
    pub egress: crate::config::EgressSettings,
    /// `LATCHGATE_USAGE_SIGNAL=1`: one JSON line on stderr after launch.
    pub usage_signal: bool,
    /// The gate's operator socket, where the session's events are recorded
    /// (`events.rs`); `None` keeps them in the data directory's file.
    pub admin_socket: Option<PathBuf>,
}

/// Runs the plan; returns the exit code for latchgate. `netns` is the
/// network namespace of a root-assisted launch if the caller started making
/// it already (`sys::netns::start`); otherwise it is made here.
pub fn run(spec: &SandboxSpec, opts: &Options, netns: Option<sys::netns::Pending>) -> i32 {
    if cfg!(not(target_os = "linux")) || init_image::IMAGE.is_empty() {
        eprintln!("latchgate sandbox: agent sandbox requires Linux (the gate itself runs anywhere; on macOS use a Linux VM or Docker)");
        return SETUP_FAILED;
    }
    // Before any other thread starts (the network namespace's helper, which
    // may be running already, blocks every signal itself): every thread
    // inherits the blocked mask, so signals reach only the main loop below.
    let signals = match events::signal_fd() {
        Ok(fd) => fd,
        Err(e) => return fail(&format!("cannot take over signals: {e}")),
    };
    let prepared = match prepare(spec, opts, netns) {
        Ok(p) => p,
        Err(msg) => return fail(&msg),
    };
    supervise(prepared, &signals, opts.usage_signal, spec)
}

fn fail(msg: &str) -> i32 {
    say(&format!("latchgate sandbox: {msg}"));
    SETUP_FAILED
}

/// One line on stderr in one write (`eprintln!` writes each piece of its
/// format separately, and stderr is unbuffered).
fn say(line: &str) {
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// Everything set up before the spawn.
struct Prepared {
    /// bwrap's pid.
    child: i32,
    ready: std::io::PipeReader,
    info: std::io::PipeReader,
    /// The pty master and the user's terminal in raw mode, when interactive.
    terminal: Option<(OwnedFd, pty::RawMode)>,
    egress: Egress,
    cleanup: Cleanup,
    credential_resolved: bool,
    /// The session's events (stopped after the proxy).
    recorder: Recorder,
    started: Instant,
}

/// The egress proxy: its socket is bound before bwrap starts and its
/// configuration checked; it serves from the agent's first connection on
/// (which waits in the socket's backlog meanwhile), so a session that never
/// uses the network starts no proxy thread.
enum Egress {
    Waiting(UnixListener, crate::proxy::Checked),
    Serving(crate::proxy::Proxy),
    Stopped,
}

impl Egress {
    /// The socket to watch for the first connection, or -1.
    fn waiting_fd(&self) -> RawFd {
        match self {
            Egress::Waiting(l, _) => l.as_raw_fd(),
            _ => -1,
        }
    }

    /// Starts serving (once).
    fn serve(&mut self) -> std::io::Result<()> {
        match std::mem::replace(self, Egress::Stopped) {
            Egress::Waiting(listener, cfg) => {
                *self = Egress::Serving(crate::proxy::Proxy::serve(listener, cfg)?);
            }
            other => *self = other,
        }
        Ok(())
    }

    /// Stops accepting; a proxy that never served just closes its socket.
    fn stop(&mut self) {
        if let Egress::Serving(proxy) = std::mem::replace(self, Egress::Stopped) {
            proxy.stop();
        }
    }
}

/// What a session leaves on the host, removed when the session ends however
/// it ends (a failed launch included): the session directory with
/// proxy.sock, and the workspace placeholders.
struct Cleanup {
    session_dir: SessionDir,
    layout: Option<Layout>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.session_dir.path);
        if let Some(l) = &self.layout {
            layout::remove_placeholders(l);
        }
    }
}

fn prepare(
    spec: &SandboxSpec,
    opts: &Options,
    early_netns: Option<sys::netns::Pending>,
) -> Result<Prepared, String> {
    let started = Instant::now();
    let (mode, why) = identity::choose(
        sys::spawn::euid(),
        sys::uid(),
        sys::gid(),
        spec.run_as,
        (
            std::env::var("SUDO_UID").ok(),
            std::env::var("SUDO_GID").ok(),
        ),
        &spec.workspace,
    );
    // Root-assisted: the network namespace is made beside the work below
    // (sys/netns.rs); rootless: bwrap makes it inside its user namespace.
    let netns = match (mode, early_netns) {
        (Mode::RootAssisted { .. }, Some(pending)) => Some(pending),
        (Mode::RootAssisted { .. }, None) => Some(
            sys::netns::start()
                .map_err(|e| format!("cannot start making the network namespace: {e}"))?,
        ),
        (Mode::Rootless, _) => None,
    };
    let host_path = std::env::var("PATH").unwrap_or_else(|_| environment::BASE_PATH.to_string());
    let bwrap = platform::find_bwrap(&host_path)?;
    if !kernel::seccomp_available() {
        return Err("this kernel has no seccomp filters (CONFIG_SECCOMP_FILTER); the sandbox cannot block dangerous system calls and will not start without them".into());
    }
    let landlock_abi = kernel::landlock_abi();
    if landlock_abi == 0 {
        eprintln!("latchgate sandbox: notice: this kernel has no Landlock; the file system is confined by the mount namespace alone");
    }
    let gate_ok = std::fs::metadata(&spec.gate_socket).is_ok_and(|m| m.file_type().is_socket());
    if !gate_ok {
        return Err(format!(
            "the gate socket {} does not exist or is not a socket: is the gate running? start it with `latchgate up`, or pass --gate-socket",
            spec.gate_socket.display()
        ));
    }

    let ident = identity::identity(mode, sys::uid(), sys::gid());
    if let Mode::RootAssisted { uid, gid } = mode {
        say(&format!("latchgate sandbox: root-assisted: the agent runs as uid {uid} gid {gid} ({why}), never as root"));
    }

    // The agent itself: a given command, or the profile's binary found on
    // the host with only its install directory mounted.
    let mut command = spec.command.clone();
    let mut agent_dirs = Vec::new();
    let mut runtime_path = Vec::new();
    if spec.command_is_profile_binary {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let bin = command.first().cloned().unwrap_or_default();
        let found = discover::find(&bin, &host_path, home.as_deref())?;
        if let Some(c) = command.first_mut() {
            *c = found.program;
        }
        agent_dirs = found.mounts;
        runtime_path = found.path_dirs;
    }

    let (resolved, _missing) = routes::resolve(&spec.credentials, &opts.data_dir);
    if !spec.credentials.is_empty() && resolved.is_empty() {
        // The seed's line, as is (tools grep for it).
        eprintln!("{}", routes::none_resolved_warning(&spec.credentials));
    }
    let token = if resolved.is_empty() {
        None
    } else {
        Some(session_token()?)
    };

    // The session directory holds proxy.sock and the generated files; in
    // root-assisted mode the socket belongs to the agent's user, as whom
    // bwrap runs and the forwarder connects.
    let owner = match mode {
        Mode::RootAssisted { uid, gid } => Some((uid, gid)),
        Mode::Rootless => None,
    };
    let mut cleanup = Cleanup {
        session_dir: session_dir::create(owner.is_some())?,
        layout: None,
    };
    let egress = crate::egress::EgressConfig::from_settings(&opts.egress)?;
    let proxy_path = cleanup.session_dir.path.join("proxy.sock");
    let listener = UnixListener::bind(&proxy_path)
        .map_err(|e| format!("cannot listen on {}: {e}", proxy_path.display()))?;
    set_owner_mode(&proxy_path, owner, 0o600)?;

    let layout = layout::build(&LayoutInput {
        workspace: &spec.workspace,
        ro_mounts: &spec.ro_mounts,
        agent_dirs: &agent_dirs,
        gate_socket: &spec.gate_socket,
        proxy_socket: &proxy_path,
        identity: &ident,
    })?;

    let mut path_dirs = layout.path_dirs.clone();
    path_dirs.extend(runtime_path);
    let route_vars: Vec<(String, String)> = resolved
        .iter()
        .map(|r| (r.route.base_url_var(), r.route.name.clone()))
        .collect();
    let token_vars: Vec<String> = resolved
        .iter()
        .filter_map(|r| match &r.route.key_source {
            super::KeySource::Env(var) => Some(var.clone()),
            _ => None,
        })
        .collect();
    let host_env = |k: &str| std::env::var(k).ok();
    let env = environment::build(&EnvInput {
        pass_env: &spec.pass_env,
        host: &host_env,
        path_dirs: &path_dirs,
        forward_port: FORWARD_PORT,
        proxy_token: token.as_deref(),
        routes: &route_vars,
        token_vars: &token_vars,
    });

    let credential_resolved = !resolved.is_empty();
    let started_fields = started_event(spec, &command, &resolved);
    let recorder = Recorder::start(
        opts.admin_socket.clone(),
        &opts.data_dir,
        session_context(spec, mode),
    );
    let proxy_cfg = crate::proxy::ProxyConfig {
        allow_hosts: spec.allow_hosts.clone(),
        routes: resolved
            .into_iter()
            .map(|r| crate::proxy::Route {
                route: r.route,
                key: r.key,
            })
            .collect(),
        token: token.clone(),
        egress,
        idle_timeout: crate::proxy::DEFAULT_IDLE_TIMEOUT,
        events: recorder.proxy_sink(),
    };
    let proxy_cfg = crate::proxy::Proxy::check(proxy_cfg)
        .map_err(|e| format!("cannot start the egress proxy: {e}"))?;
    let interactive = pty::is_terminal(0) && pty::is_terminal(1);
    let (ready_r, ready_w) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (info_r, info_w) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;

    // The generated /etc files are written into the session directory
    // (which only root, or in rootless mode the user, can change) and bound
    // read-only: a bind costs bwrap about 0.05 ms less per file than
    // copying the bytes in with --ro-bind-data.
    let mut fs_args: Vec<String> = Vec::new();
    for (i, arg) in layout.args.iter().enumerate() {
        match arg {
            Arg::Words(w) => fs_args.extend(w.iter().cloned()),
            Arg::Data { dest, mode, bytes } => {
                let file = cleanup.session_dir.path.join(format!("file-{i}"));
                write_new_file(&file, *mode, bytes)
                    .map_err(|e| format!("cannot write {} (for {dest}): {e}", file.display()))?;
                fs_args.extend([
                    "--ro-bind".into(),
                    file.to_string_lossy().into_owned(),
                    dest.clone(),
                ]);
            }
        }
    }
    // sandbox-init runs from a sealed memfd, which bwrap execs through
    // /proc/self/fd: nothing to copy, nothing to mount, and nothing anyone
    // can change. Where the kernel refuses executable memfds
    // (vm.memfd_noexec = 2), bwrap copies it into the sandbox read-only.
    let (init_fd, init_path) = match memfd::sealed_executable("sandbox-init", init_image::IMAGE) {
        Ok(fd) => {
            let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
            (fd, path)
        }
        Err(_) => {
            let fd = memfd::sealed("sandbox-init", init_image::IMAGE)
                .map_err(|e| format!("memfd for sandbox-init: {e}"))?;
            // Before --remount-ro (the last two words), so the copy lands in the tmpfs.
            let tail = fs_args.split_off(fs_args.len().saturating_sub(4));
            fs_args.extend(data_args(0o555, fd.as_raw_fd(), INIT_PATH));
            fs_args.extend(tail);
            (fd, INIT_PATH.to_string())
        }
    };

    let mut args: Vec<String> = [
        "--unshare-user",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-uts",
        "--unshare-cgroup",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if mode == Mode::Rootless {
        args.push("--unshare-net".into());
    }
    for w in [
        "--disable-userns",
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--as-pid-1",
        "--new-session",
    ] {
        args.push(w.into());
    }
    args.extend(fs_args);
    args.extend(["--chdir".into(), WORKSPACE.into(), "--clearenv".into()]);
    for (k, v) in &env {
        args.extend(["--setenv".into(), k.clone(), v.clone()]);
    }
    args.extend(["--info-fd".into(), info_w.as_raw_fd().to_string()]);
    args.extend(["--".into(), init_path]);
    args.extend([
        "--forward-port".into(),
        FORWARD_PORT.to_string(),
        "--proxy-socket".into(),
        PROXY_SOCKET.into(),
        "--ready-fd".into(),
        ready_w.as_raw_fd().to_string(),
        "--landlock".into(),
        if landlock_abi > 0 { "require" } else { "auto" }.into(),
    ]);
    if interactive {
        args.push("--tty".into());
    }
    args.extend(layout.landlock.iter().cloned());
    args.push("--".into());
    args.extend(command);

    let program = spawn::Program::new(&bwrap, &args)
        .map_err(|e| format!("cannot start bwrap ({}): {e}", bwrap.display()))?;
    let mut terminal = None;
    let mut slave = None;
    if interactive {
        let size = pty::window_size(0);
        let (master, s) =
            pty::open(0, size).map_err(|e| format!("cannot open a terminal for the agent: {e}"))?;
        let raw = pty::RawMode::enable(0)
            .map_err(|e| format!("cannot set the terminal to raw mode: {e}"))?;
        slave = Some(s);
        terminal = Some((master, raw));
    }
    let keep: Vec<RawFd> = vec![init_fd.as_raw_fd(), ready_w.as_raw_fd(), info_w.as_raw_fd()];
    // Last before the spawn, so a failure above leaves the workspace as it was.
    layout::create_placeholders(&layout)?;
    cleanup.layout = Some(layout);
    let netns = match netns {
        Some(pending) => Some(pending.finish().map_err(|e| e.to_string())?),
        None => None,
    };
    let setup = spawn::ChildSetup {
        netns: netns.as_ref().map(|fd| fd.as_raw_fd()),
        run_as: owner,
        keep_fds: keep,
        own_process_group: true,
        stdio: slave.as_ref().map(|s| [s.as_raw_fd(); 3]),
    };
    let child = spawn::spawn(&program, &setup)
        .map_err(|e| format!("cannot start bwrap ({}): {e}", bwrap.display()))?;
    // Written while bwrap sets the sandbox up (to the gate's ledger, a
    // round trip and its fsync).
    recorder.record(started_fields);
    // Meanwhile too: the directories of sessions killed before they could
    // remove theirs (session_dir.rs).
    if let Some(parent) = cleanup.session_dir.path.parent() {
        session_dir::sweep(parent, session_dir::SWEEP_MIN_AGE);
    }
    // Our copies of the child's ends close here, so EOF means "bwrap gone".
    drop((ready_w, info_w, init_fd, slave, netns));

    Ok(Prepared {
        child,
        ready: ready_r,
        info: info_r,
        terminal,
        egress: Egress::Waiting(listener, proxy_cfg),
        cleanup,
        credential_resolved,
        recorder,
        started,
    })
}

/// What every event of this session carries: which session, who started
/// it, as whom the agent runs, where, with which profile.
fn session_context(spec: &SandboxSpec, mode: Mode) -> crate::json::Map {
    let mut m = crate::json::Map::new();
    m.insert("session_id", crate::crypto::uuid::v7());
    m.insert("principal", format!("uid:{}", sys::uid()));
    if let Ok(u) = std::env::var("SUDO_UID") {
        if u.parse::<u32>().is_ok() {
            m.insert("sudo_uid", u);
        }
    }
    let agent_uid = match mode {
        Mode::RootAssisted { uid, .. } => uid,
        Mode::Rootless => sys::uid(),
    };
    m.insert("agent_uid", u64::from(agent_uid));
    m.insert("workspace", spec.workspace.display().to_string());
    m.insert(
        "profile",
        spec.profile.clone().unwrap_or_else(|| "none".into()),
    );
    m
}

/// `sandbox_started`: the program (not its arguments, which may hold
/// anything), the allowed hosts and the credential routes that resolved.
fn started_event(
    spec: &SandboxSpec,
    command: &[String],
    resolved: &[routes::Resolved],
) -> crate::json::Map {
    let mut m = crate::json::Map::new();
    m.insert("event_type", "sandbox_started");
    m.insert("program", command.first().cloned().unwrap_or_default());
    m.insert("allow_hosts", spec.allow_hosts.join(","));
    let names: Vec<&str> = resolved.iter().map(|r| r.route.name.as_str()).collect();
    m.insert("routes", names.join(","));
    m
}

fn data_args(mode: u32, fd: RawFd, dest: &str) -> [String; 5] {
    [
        "--perms".into(),
        format!("{mode:04o}"),
        "--ro-bind-data".into(),
        fd.to_string(),
        dest.into(),
    ]
}

/// 32 random bytes, hex: the agent's proof to the proxy's credential routes.
fn session_token() -> Result<String, String> {
    let mut b = [0u8; 32];
    crate::crypto::random::fill(&mut b).map_err(|e| format!("randomness: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A new file (never an existing one or a symlink) holding `bytes`, with
/// exactly `mode` whatever the umask.
fn write_new_file(path: &Path, mode: u32, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.set_permissions(std::fs::Permissions::from_mode(mode))
}

fn set_owner_mode(p: &Path, owner: Option<(u32, u32)>, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(p, Some(uid), Some(gid))
            .map_err(|e| format!("chown {}: {e}", p.display()))?;
    }
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", p.display()))
}

/// The main loop: startup deadline, ready byte, terminal relay, signals,
/// the proxy's start.
///
/// The ready byte and bwrap's info are read when they matter (a signal to
/// pass on, the start deadline, the exit) rather than as they arrive: each
/// wakeup of this thread is a context switch on the sandbox's start path,
/// and on a VM whose idle CPUs halt each one measured tens to hundreds of
/// microseconds. Only an interactive session (whose keystrokes wait for
/// the sandbox) and the usage line watch for the ready byte as it comes.
fn supervise(mut p: Prepared, signals: &OwnedFd, usage_signal: bool, spec: &SandboxSpec) -> i32 {
    let started = Instant::now();
    let pid = p.child;
    let mut init_pid: Option<i32> = None;
    let mut info_buf = Vec::new();
    let mut ready = false;
    let mut ready_open = true;
    let watch_ready = p.terminal.is_some() || usage_signal;
    let mut stdin_open = p.terminal.is_some();
    let mut master_open = p.terminal.is_some();
    let master_fd = p
        .terminal
        .as_ref()
        .map(|(m, _)| m.as_raw_fd())
        .unwrap_or(-1);
    let mut exit: Option<events::Exit> = None;
    let mut buf = vec![0u8; 16 * 1024];

    while exit.is_none() {
        let fds = [
            signals.as_raw_fd(),
            if watch_ready && ready_open {
                p.ready.as_raw_fd()
            } else {
                -1
            },
            p.egress.waiting_fd(),
            if stdin_open && ready { 0 } else { -1 },
            if master_open { master_fd } else { -1 },
        ];
        let timeout = if ready || !ready_open {
            -1
        } else {
            START_DEADLINE.saturating_sub(started.elapsed()).as_millis() as i32
        };
        let ev = match events::poll(&fds, timeout) {
            Ok(ev) => ev,
            Err(e) => {
                eprintln!("latchgate sandbox: poll: {e}");
                let _ = spawn::kill(-pid, libc::SIGKILL);
                break;
            }
        };
        if !ready && ready_byte(&mut p.ready, &mut ready_open) {
            ready = true;
            if usage_signal {
                usage_line(spec, p.credential_resolved, p.terminal.is_some());
            }
        }
        if !ready && ready_open && started.elapsed() >= START_DEADLINE {
            eprintln!(
                "latchgate sandbox: the sandbox did not start within {} s; stopping it",
                START_DEADLINE.as_secs()
            );
            ready_open = false;
            let _ = spawn::kill(-pid, libc::SIGKILL);
        }
        if ev[2] {
            if let Err(e) = p.egress.serve() {
                eprintln!(
                    "latchgate sandbox: cannot start the egress proxy: {e}; stopping the sandbox"
                );
                let _ = spawn::kill(-pid, libc::SIGKILL);
            }
        }
        if ev[3] {
            match read_fd(0, &mut buf) {
                Some(n) if n > 0 => write_all_fd(master_fd, &buf[..n]),
                _ => stdin_open = false,
            }
        }
        if ev[4] {
            match read_fd(master_fd, &mut buf) {
                Some(n) if n > 0 => write_all_fd(1, &buf[..n]),
                // EIO: every holder of the agent's terminal has closed it.
                _ => master_open = false,
            }
        }
        if ev[0] {
            while let Ok(sig) = events::read_signal(signals) {
                match sig {
                    libc::SIGCHLD => {}
                    libc::SIGWINCH => {
                        if let Some(w) = pty::window_size(0) {
                            pty::set_window_size(master_fd, &w);
                        }
                    }
                    s => {
                        if ready && init_pid.is_none() {
                            init_pid = init_pid_from_info(&mut p.info, &mut info_buf);
                        }
                        match (ready, init_pid) {
                            // sandbox-init (PID 1 inside) passes it to the agent.
                            (true, Some(init)) => {
                                let _ = spawn::kill(init, s);
                            }
                            // Not running yet: stop the launch.
                            _ => {
                                let _ = spawn::kill(-pid, libc::SIGKILL);
                            }
                        }
                    }
                }
                if events::poll(&[signals.as_raw_fd()], 0)
                    .map(|v| !v[0])
                    .unwrap_or(true)
                {
                    break;
                }
            }
            if let Ok(Some(e)) = events::try_wait(pid) {
                exit = Some(e);
            }
        }
    }
    // What the agent printed last may still sit in the terminal.
    if master_open {
        while events::poll(&[master_fd], 50)
            .map(|v| v[0])
            .unwrap_or(false)
        {
            match read_fd(master_fd, &mut buf) {
                Some(n) if n > 0 => write_all_fd(1, &buf[..n]),
                _ => break,
            }
        }
    }
    let exit = exit.or_else(|| events::wait(pid).ok());
    // bwrap is gone: if sandbox-init said ready, the byte is in the pipe.
    ready = ready || ready_byte(&mut p.ready, &mut ready_open);
    drop(p.terminal.take());
    // The proxy, then its queued events, so sandbox_ended is the last.
    p.egress.stop();
    p.recorder.finish();
    let mut ended = crate::json::Map::new();
    ended.insert("event_type", "sandbox_ended");
    match exit {
        Some(events::Exit::Code(c)) => ended.insert("exit_code", i64::from(c)),
        Some(events::Exit::Signal(s)) => ended.insert("signal", i64::from(s)),
        None => {}
    }
    ended.insert("agent_started", ready);
    ended.insert(
        "duration_ms",
        u64::try_from(p.started.elapsed().as_millis()).unwrap_or(u64::MAX),
    );
    p.recorder.record(ended);
    drop(p.cleanup);
    let status = exit.unwrap_or(events::Exit::Code(SETUP_FAILED));
    if !ready {
        let what = match status {
            events::Exit::Code(c) => format!("bwrap exited with status {c}"),
            events::Exit::Signal(s) => format!("bwrap was killed by signal {s}"),
        };
        eprintln!("{}", platform::explain_setup_failure(&what));
        return SETUP_FAILED;
    }
    status.as_code()
}

/// sandbox-init's ready byte, if it is in the pipe now; `open` turns false
/// once the pipe has given its byte or its end (init ended without it).
fn ready_byte(r: &mut std::io::PipeReader, open: &mut bool) -> bool {
    if !*open || !events::poll(&[r.as_raw_fd()], 0).is_ok_and(|v| v[0]) {
        return false;
    }
    let mut b = [0u8; 1];
    *open = false;
    matches!(r.read(&mut b), Ok(1) if b[0] == b'R')
}

/// The host pid of sandbox-init, from bwrap's `--info-fd` JSON. bwrap
/// writes it right after its clone, long before sandbox-init is ready, so
/// once ready it is in the pipe; waits at most a second regardless.
fn init_pid_from_info(info: &mut std::io::PipeReader, buf: &mut Vec<u8>) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(pid) = child_pid(buf) {
            return Some(pid);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let wait = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
        if wait == 0 || !events::poll(&[info.as_raw_fd()], wait).ok()?[0] {
            return None;
        }
        match info.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// bwrap's `--info-fd` JSON names the host pid of the sandbox's PID 1
/// (sandbox-init, thanks to --as-pid-1).
fn child_pid(info: &[u8]) -> Option<i32> {
    let v = crate::json::parse(info).ok()?;
    let n = v.get("child-pid")?.as_u64()?;
    i32::try_from(n).ok().filter(|&p| p > 1)
}

fn usage_line(spec: &SandboxSpec, resolved: bool, raw_terminal: bool) {
    let line = crate::obj! {
        "event" => "sandbox.launch",
        "profile" => spec.profile.clone().unwrap_or_else(|| "none".to_string()),
        "credential_resolved" => resolved,
    }
    .to_json();
    let end = if raw_terminal { "\r\n" } else { "\n" };
    let _ = write!(std::io::stderr(), "{line}{end}");
}

fn read_fd(fd: RawFd, buf: &mut [u8]) -> Option<usize> {
    sys::read_fd(fd, buf).ok()
}

fn write_all_fd(fd: RawFd, mut data: &[u8]) {
    while !data.is_empty() {
        match sys::write_fd(fd, data) {
            Ok(0) | Err(_) => return,
            Ok(n) => data = &data[n.min(data.len())..],
        }
    }
}
