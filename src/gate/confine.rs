//! The gate confines itself at start-up (the pledge idea), once, for the
//! whole process, before any other thread exists.
//!
//! Landlock (best effort by ABI; a kernel without it is logged and the gate
//! runs on; a kernel with it that refuses the ruleset stops the start):
//! - read-write beneath the data directory, both sockets' runtime
//!   directories (which may also hold sockets) and every
//!   `fs_root_allowed_prefixes` entry (the fs provider's roots);
//! - read-only: the config file's directory, the manifests, providers and
//!   policy file's directories, the operator token file, the directory of
//!   every `file:` secret, `egress.ca_file`, the resolver's files
//!   (`/etc/resolv.conf`, `/etc/hosts`, `/etc/nsswitch.conf`, and the
//!   directory of their target when they are symlinks, because resolvers
//!   replace the target by rename), `/etc/ssl`, `/proc/self` (RSS for
//!   `status`), `/dev/null` and `/dev/urandom`;
//! - nothing else, and no execute right anywhere;
//! - TCP (ABI >= 4): bind only to the configured TCP listen ports; connect
//!   is not restricted (egress reaches allowed hosts on any port);
//! - scopes (ABI >= 6): no signals to, and no abstract Unix sockets of,
//!   processes outside the gate.
//!
//! Then the seccomp filter (`sys::seccomp`, all threads), then a self-check:
//! exec must now fail with EPERM, or the gate refuses to start.
//!
//! Landlock confines the calling thread and the threads it starts later,
//! so `up` calls [`confine`] before `Gate::open`, which starts the ledger's
//! and the WASM engine's threads. Everything the gate opens afterwards must
//! therefore lie within the rules; the directories it would create itself
//! (data and runtime) are created here first.

use crate::config::{Config, SecretSource};
use crate::sys::landlock::{self, Access, Outcome, Rule};
use crate::sys::seccomp;
use std::path::{Path, PathBuf};

/// System files a running gate reads, granted read-only when present.
const SYSTEM_READ_ONLY: &[&str] = &[
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/ssl",
    "/proc/self",
    "/dev/null",
    "/dev/urandom",
];

/// Resolver files that are often symlinks to a file replaced by rename
/// (systemd-resolved, NetworkManager): their target's directory is granted
/// too, or a rule on the old inode would leave DNS broken after a change.
const FOLLOW_TARGET_DIR: &[&str] = &["/etc/resolv.conf", "/etc/hosts"];

/// The program the self-check tries to run.
const SELF_CHECK_PROGRAM: &str = "/bin/true";

/// Confines this process as the module doc says and logs one line saying
/// how (or why Landlock could not be used), then checks that exec is
/// refused. Must run before any other thread is started. Any error means
/// the gate must not start.
pub fn confine(cfg: &Config) -> Result<(), String> {
    prepare_dirs(cfg)?;
    seccomp::set_no_new_privs().map_err(|e| format!("cannot confine the gate: {e}"))?;
    let landlock = landlock::restrict_self(&rules(cfg), &bind_ports(cfg))
        .map_err(|e| format!("cannot confine the gate (Landlock): {e}"))?;
    let refused = seccomp::install().map_err(|e| format!("cannot confine the gate: {e}"))?;
    eprintln!(
        "latchgate: {}",
        describe(&landlock, &bind_ports(cfg), refused)
    );
    exec_refused()?;
    eprintln!("latchgate: self-check: exec refused");
    Ok(())
}

/// Creates the data and runtime directories (0700) if missing: a Landlock
/// rule needs an existing directory. Existing ones are left for `up` to
/// check (a runtime directory may be 0711 when shared).
fn prepare_dirs(cfg: &Config) -> Result<(), String> {
    super::up::ensure_private_dir(&cfg.data_dir)?;
    for socket in [&cfg.listen_uds_path, &cfg.listen_admin_uds_path] {
        let dir = dir_of(socket);
        if !dir.exists() {
            super::up::ensure_private_dir(&dir)?;
        }
    }
    Ok(())
}

/// The directory holding `path` ("." for a bare file name).
fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The Landlock rules for `cfg` (see the module doc), without duplicates.
pub fn rules(cfg: &Config) -> Vec<Rule> {
    let mut out: Vec<Rule> = Vec::new();
    let mut add = |path: PathBuf, access: Access| {
        // A relative config's directory is "" (the current directory);
        // relative paths are made absolute (lexically) for the log line.
        let path = if path.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            path
        };
        let path = std::path::absolute(&path).unwrap_or(path);
        let rule = Rule { path, access };
        if !out.contains(&rule) {
            out.push(rule);
        }
    };
    add(cfg.data_dir.clone(), Access::ReadWrite);
    for socket in [&cfg.listen_uds_path, &cfg.listen_admin_uds_path] {
        add(dir_of(socket), Access::ReadWriteSockets);
    }
    for prefix in &cfg.fs_root_allowed_prefixes {
        add(prefix.clone(), Access::ReadWrite);
    }
    let read_only = cfg
        .config_dir
        .iter()
        .cloned()
        .chain(cfg.manifests_path())
        .chain(cfg.providers_path())
        .chain(cfg.policy_path().map(|p| dir_of(&p)))
        .chain(cfg.admin_token_file.clone())
        .chain(cfg.secrets.iter().filter_map(|(_, s)| match s {
            SecretSource::File(p) => Some(dir_of(p)),
            SecretSource::Env(_) => None,
        }))
        .chain(cfg.egress.ca_file.clone())
        .chain(SYSTEM_READ_ONLY.iter().map(PathBuf::from))
        .chain(
            FOLLOW_TARGET_DIR
                .iter()
                .filter_map(|p| symlink_target_dir(p)),
        );
    for path in read_only {
        add(path, Access::ReadOnly);
    }
    out
}

/// The directory of `path`'s final target when `path` is a symlink.
fn symlink_target_dir(path: &str) -> Option<PathBuf> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_symlink() {
        return None;
    }
    std::fs::canonicalize(path).ok().map(|t| dir_of(&t))
}

/// The TCP ports the gate may bind: its configured TCP listeners.
pub fn bind_ports(cfg: &Config) -> Vec<u16> {
    let mut ports: Vec<u16> = [cfg.listen_http_addr, cfg.listen_admin_http_addr]
        .iter()
        .flatten()
        .map(|a| a.port())
        .collect();
    ports.dedup();
    ports
}

/// The start-up line.
fn describe(landlock: &Outcome, ports: &[u16], refused: usize) -> String {
    let seccomp = format!("seccomp ({refused} syscalls refused)");
    let e = match landlock {
        Outcome::Unavailable(why) => {
            return format!("confined: {seccomp}; not confined by Landlock: {why}")
        }
        Outcome::Enforced(e) => e,
    };
    let list = |access: &[Access]| {
        e.granted
            .iter()
            .filter(|r| access.contains(&r.access))
            .map(|r| r.path.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = vec![format!(
        "paths: rw {}; ro {}",
        list(&[Access::ReadWrite, Access::ReadWriteSockets]),
        list(&[Access::ReadOnly])
    )];
    if !e.missing.is_empty() {
        let missing: Vec<String> = e
            .missing
            .iter()
            .map(|r| r.path.display().to_string())
            .collect();
        parts.push(format!("absent, not granted: {}", missing.join(", ")));
    }
    parts.push("no exec".into());
    if e.bind_restricted {
        let bind = if ports.is_empty() {
            "none".to_string()
        } else {
            ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        parts.push(format!("tcp bind: {bind}"));
    }
    if e.scoped {
        parts.push("signal and abstract-socket scoping".into());
    }
    format!(
        "confined: Landlock ABI {} ({}), {seccomp}",
        e.abi,
        parts.join("; ")
    )
}

/// The self-check: running a program must fail with EPERM (the seccomp
/// filter, which the spawned child inherits). Anything else stops the start.
fn exec_refused() -> Result<(), String> {
    match std::process::Command::new(SELF_CHECK_PROGRAM).spawn() {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => Ok(()),
        Err(e) => Err(format!(
            "self-check: exec of {SELF_CHECK_PROGRAM} failed with `{e}`, not EPERM: the seccomp filter is not in force; refusing to start"
        )),
        Ok(mut child) => {
            let _ = child.wait();
            Err(format!(
                "self-check: {SELF_CHECK_PROGRAM} could be executed after confinement; refusing to start"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        let base = "data_dir = \"/srv/lg/data\"\nlisten_uds_path = \"/run/lg/gate.sock\"\n";
        crate::config::load_from_str(&format!("{base}{text}"), "/etc/lg/latchgate.toml", None)
            .unwrap()
    }

    fn access_of(rules: &[Rule], path: &str) -> Option<Access> {
        rules
            .iter()
            .find(|r| r.path == Path::new(path))
            .map(|r| r.access)
    }

    #[test]
    fn rules_cover_data_runtime_roots_and_config_files() {
        let c = cfg(
            "fs_root_allowed_prefixes = [\"/srv/work\", \"/srv/other\"]\n\
             listen_admin_uds_path = \"/run/lg-admin/admin.sock\"\n\
             policy_file = \"/etc/lg/policy/policy.toml\"\n\
             manifests_dir = \"/etc/lg/manifests\"\n\
             admin_token_file = \"/etc/lg/token\"\n\
             [secrets]\nGH = \"file:/var/secrets/gh/token\"\nENVY = \"env:ENVY\"\n\
             [egress]\nca_file = \"/etc/lg/ca.pem\"\n",
        );
        let r = rules(&c);
        assert_eq!(access_of(&r, "/srv/lg/data"), Some(Access::ReadWrite));
        assert_eq!(access_of(&r, "/run/lg"), Some(Access::ReadWriteSockets));
        assert_eq!(
            access_of(&r, "/run/lg-admin"),
            Some(Access::ReadWriteSockets)
        );
        assert_eq!(access_of(&r, "/srv/work"), Some(Access::ReadWrite));
        assert_eq!(access_of(&r, "/srv/other"), Some(Access::ReadWrite));
        for ro in [
            "/etc/lg/policy",
            "/etc/lg/manifests",
            "/etc/lg/token",
            "/var/secrets/gh",
            "/etc/lg/ca.pem",
            "/etc/resolv.conf",
            "/etc/hosts",
            "/etc/nsswitch.conf",
            "/etc/ssl",
            "/proc/self",
            "/dev/null",
            "/dev/urandom",
        ] {
            assert_eq!(access_of(&r, ro), Some(Access::ReadOnly), "{ro}");
        }
        // Nothing broad: no root, no /etc, /usr, /tmp or the secret itself.
        for absent in ["/", "/etc", "/usr", "/tmp", "/var/secrets/gh/token", "/bin"] {
            assert_eq!(access_of(&r, absent), None, "{absent}");
        }
        assert!(bind_ports(&c).is_empty());
    }

    #[test]
    fn shared_runtime_directory_appears_once_and_config_dir_is_read_only() {
        let c = crate::config::load_from_str(
            "data_dir = \"d\"\nlisten_uds_path = \"run/gate.sock\"\n",
            "/etc/lg/latchgate.toml",
            Some(PathBuf::from("/etc/lg")),
        )
        .unwrap();
        let r = rules(&c);
        assert_eq!(access_of(&r, "/etc/lg/d"), Some(Access::ReadWrite));
        assert_eq!(
            r.iter()
                .filter(|x| x.path == Path::new("/etc/lg/run"))
                .count(),
            1
        );
        assert_eq!(access_of(&r, "/etc/lg"), Some(Access::ReadOnly));
    }

    #[test]
    fn bind_ports_are_the_tcp_listeners() {
        let c = cfg("listen_http_addr = \"127.0.0.1:3000\"\n\
             listen_admin_http_addr = \"127.0.0.1:3001\"\n\
             admin_token_file = \"/etc/lg/token\"\n");
        assert_eq!(bind_ports(&c), vec![3000, 3001]);
    }

    #[test]
    fn bare_file_names_live_in_the_current_directory() {
        assert_eq!(dir_of(Path::new("gate.sock")), PathBuf::from("."));
        assert_eq!(dir_of(Path::new("/run/x.sock")), PathBuf::from("/run"));
        // `--config latchgate.toml`: the config directory is "".
        let c = crate::config::load_from_str(
            "data_dir = \"/srv/d\"\n",
            "latchgate.toml",
            Some(PathBuf::new()),
        )
        .unwrap();
        let r = rules(&c);
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(access_of(&r, cwd.to_str().unwrap()), Some(Access::ReadOnly));
        assert!(r.iter().all(|x| !x.path.as_os_str().is_empty()));
    }

    #[test]
    fn the_line_names_abi_paths_ports_and_count() {
        let enforced = Outcome::Enforced(landlock::Enforced {
            abi: 6,
            granted: vec![
                Rule {
                    path: "/d".into(),
                    access: Access::ReadWrite,
                },
                Rule {
                    path: "/etc/hosts".into(),
                    access: Access::ReadOnly,
                },
            ],
            missing: vec![Rule {
                path: "/etc/ssl".into(),
                access: Access::ReadOnly,
            }],
            bind_restricted: true,
            scoped: true,
        });
        let line = describe(&enforced, &[3000], 64);
        assert_eq!(
            line,
            "confined: Landlock ABI 6 (paths: rw /d; ro /etc/hosts; absent, not granted: /etc/ssl; \
             no exec; tcp bind: 3000; signal and abstract-socket scoping), seccomp (64 syscalls refused)"
        );
        let none = describe(&Outcome::Unavailable("kernel has none".into()), &[], 64);
        assert_eq!(
            none,
            "confined: seccomp (64 syscalls refused); not confined by Landlock: kernel has none"
        );
    }
}
