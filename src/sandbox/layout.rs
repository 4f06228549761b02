//! The sandbox's file system, in one place: the bwrap mount arguments and,
//! for each mount, the Landlock rule sandbox-init applies on top of it.
//!
//! | inside                 | from                       | access                    |
//! |------------------------|----------------------------|---------------------------|
//! | `/usr`, `/bin`, `/lib*`| host, read-only            | read, execute             |
//! | `/etc/{ssl,ld.so.*,..}`| host, read-only, selected  | read                      |
//! | `/etc/{passwd,group,hosts}` | generated, read-only  | read                      |
//! | each `ro_mounts` entry | host, read-only            | read, execute             |
//! | agent install dirs     | host, read-only            | read, execute             |
//! | `/workspace`           | the workspace, read-write  | everything but devices    |
//! | protected workspace paths | the same paths, read-only | read, execute          |
//! | `/tmp`, `/dev/shm`     | private tmpfs (vanishes)   | everything but devices    |
//! | `/proc`, `/dev`        | new instances              | read; a few devices r/w   |
//! | `/run/latchgate/*`     | gate and proxy sockets, sandbox-init | connect, read   |
//! | everything else        | absent; `/` itself read-only | list only               |
//!
//! bwrap makes every bind nosuid and nodev. Nothing but `/workspace`
//! reaches the host's disk.

use std::path::{Path, PathBuf};

/// Where the gate socket appears inside.
pub const GATE_SOCKET: &str = "/run/latchgate/gate.sock";
/// Where the egress proxy socket appears inside.
pub const PROXY_SOCKET: &str = "/run/latchgate/proxy.sock";
/// Where sandbox-init appears inside (a read-only copy made by bwrap).
pub const INIT_PATH: &str = "/run/latchgate/sandbox-init";
/// The workspace inside.
pub const WORKSPACE: &str = "/workspace";

/// Host system directories mounted read-only (or recreated as the same
/// symlink on merged-/usr systems).
const SYSTEM_DIRS: &[&str] = &["/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"];

/// The pieces of the host's /etc programs need: the dynamic loader, TLS
/// roots, name-service configuration without a resolver, the time zone.
/// Not resolv.conf (there is no DNS inside), not the real passwd/group.
const ETC_FILES: &[&str] = &[
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "pki",
    "crypto-policies",
    "nsswitch.conf",
    "localtime",
    "terminfo",
];

/// Workspace paths an agent must not change by default: each can make a
/// program on the host run something after the session (git hooks and
/// config, MCP servers, Claude Code hooks, VS Code tasks). A trailing `/`
/// marks a directory.
pub const PROTECTED: &[&str] = &[
    ".git/hooks/",
    ".git/config",
    ".mcp.json",
    ".claude/",
    ".vscode/",
];

/// One bwrap argument group: plain words, or bytes bwrap copies into a
/// read-only file inside (the launcher turns them into a sealed memfd).
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// Arguments passed as they are.
    Words(Vec<String>),
    /// `--perms MODE --ro-bind-data FD DEST` with these bytes.
    Data {
        /// Where the file appears inside.
        dest: String,
        /// Its permission bits.
        mode: u32,
        /// Its content.
        bytes: Vec<u8>,
    },
}

/// A path created in the workspace only so it can be mounted read-only;
/// removed after the session if it is still empty.
#[derive(Clone, Debug, PartialEq)]
pub struct Placeholder {
    /// The host path.
    pub path: PathBuf,
    /// A directory (else an empty file).
    pub dir: bool,
}

/// The mount plan.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layout {
    /// bwrap's file-system arguments, in order.
    pub args: Vec<Arg>,
    /// sandbox-init's Landlock options (`--fs-ro PATH`, ...).
    pub landlock: Vec<String>,
    /// Directories added to the agent's PATH (ro_mounts' bin and sbin).
    pub path_dirs: Vec<String>,
    /// Workspace paths created so they could be protected.
    pub placeholders: Vec<Placeholder>,
}

/// Who the agent is inside, for the generated /etc/passwd and /etc/group.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    /// uid inside (the same number as on the host).
    pub uid: u32,
    /// gid inside.
    pub gid: u32,
    /// The user's name (from the host's passwd when known).
    pub name: String,
}

/// What the layout is built from.
pub struct LayoutInput<'a> {
    /// The canonical workspace on the host.
    pub workspace: &'a Path,
    /// Extra read-only mounts (config and flags).
    pub ro_mounts: &'a [PathBuf],
    /// The agent's install directories (profile discovery), read-only.
    pub agent_dirs: &'a [PathBuf],
    /// The gate socket on the host.
    pub gate_socket: &'a Path,
    /// The egress proxy socket on the host.
    pub proxy_socket: &'a Path,
    /// The identity inside.
    pub identity: &'a Identity,
}

impl Layout {
    fn words(&mut self, w: &[&str]) {
        self.args
            .push(Arg::Words(w.iter().map(|s| s.to_string()).collect()));
    }

    fn rule(&mut self, kind: &str, path: &str) {
        self.landlock.push(format!("--fs-{kind}"));
        self.landlock.push(path.to_string());
    }
}

/// Builds the plan; fails on a protected workspace path that is a symlink
/// (following it could mount a host path the agent chose).
pub fn build(inp: &LayoutInput) -> Result<Layout, String> {
    let mut l = Layout::default();
    l.rule("list", "/");

    // System directories.
    l.words(&["--ro-bind", "/usr", "/usr"]);
    l.rule("ro", "/usr");
    for dir in SYSTEM_DIRS {
        let p = Path::new(dir);
        match std::fs::read_link(p) {
            Ok(target) => {
                let t = target.to_string_lossy().into_owned();
                l.words(&["--symlink", &t, dir]);
            }
            Err(_) if p.is_dir() => {
                l.words(&["--ro-bind", dir, dir]);
                l.rule("ro", dir);
            }
            Err(_) => {}
        }
    }
    for f in ETC_FILES {
        let host = format!("/etc/{f}");
        if Path::new(&host).symlink_metadata().is_ok() {
            l.words(&["--ro-bind-try", &host, &host]);
        }
    }
    for (dest, bytes) in etc_generated(inp.identity) {
        l.args.push(Arg::Data {
            dest: dest.to_string(),
            mode: 0o444,
            bytes,
        });
    }
    l.rule("ro", "/etc");

    // Kernel interfaces and private scratch space.
    l.words(&[
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--tmpfs", "/tmp",
    ]);
    l.rule("ro", "/proc");
    for dev in [
        "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts",
    ] {
        l.rule("dev", &format!("/dev/{dev}"));
    }
    l.rule("rw", "/dev/shm");
    l.rule("rw", "/tmp");

    // What the operator and the profile add.
    for m in inp.ro_mounts.iter().chain(inp.agent_dirs) {
        let s = m.to_string_lossy().into_owned();
        l.words(&["--ro-bind", &s, &s]);
        l.rule("ro", &s);
        if inp.ro_mounts.contains(m) {
            for sub in ["bin", "sbin"] {
                if m.join(sub).is_dir() {
                    l.path_dirs.push(format!("{s}/{sub}"));
                }
            }
        }
    }

    // The workspace, then its protected paths on top, read-only.
    let ws = inp.workspace.to_string_lossy().into_owned();
    l.words(&["--bind", &ws, WORKSPACE]);
    l.rule("rw", WORKSPACE);
    for rel in protected_paths(inp.workspace)? {
        let host = inp.workspace.join(rel.trim_end_matches('/'));
        if host.symlink_metadata().is_err() {
            l.placeholders.push(Placeholder {
                path: host.clone(),
                dir: rel.ends_with('/'),
            });
        }
        let inside = format!("{WORKSPACE}/{}", rel.trim_end_matches('/'));
        l.words(&["--ro-bind", &host.to_string_lossy(), &inside]);
    }

    // The ways out, and sandbox-init itself (bwrap copies it in read-only).
    l.words(&["--bind", &inp.gate_socket.to_string_lossy(), GATE_SOCKET]);
    l.words(&["--bind", &inp.proxy_socket.to_string_lossy(), PROXY_SOCKET]);
    l.rule("ro", "/run/latchgate");

    // Last: the root tmpfs and /dev themselves become read-only.
    l.words(&["--remount-ro", "/dev", "--remount-ro", "/"]);
    Ok(l)
}

/// Which protected paths apply to this workspace (relative, `/` = dir).
/// Without a `.git`, the whole `.git` is held (an agent must not create a
/// repository with hooks); a `.git` file (a worktree) is held as a file.
fn protected_paths(ws: &Path) -> Result<Vec<&'static str>, String> {
    let mut out = Vec::new();
    let git = ws.join(".git");
    match git.symlink_metadata() {
        Err(_) => out.push(".git/"),
        Ok(m) if m.is_file() => out.push(".git"),
        Ok(m) if m.is_dir() => out.extend([".git/hooks/", ".git/config"]),
        Ok(_) => out.push(".git"),
    }
    out.extend(PROTECTED.iter().filter(|p| !p.starts_with(".git")));
    for rel in &out {
        let p = ws.join(rel.trim_end_matches('/'));
        if let Ok(m) = p.symlink_metadata() {
            if m.file_type().is_symlink() {
                return Err(format!(
                    "workspace: `{}` is a symbolic link; the sandbox keeps it read-only and will not follow a link that could point outside the workspace: replace it with a real {}",
                    p.display(),
                    if rel.ends_with('/') { "directory" } else { "file" }
                ));
            }
        }
    }
    Ok(out)
}

/// Creates the placeholders (before bwrap mounts them).
pub fn create_placeholders(l: &Layout) -> Result<(), String> {
    for p in &l.placeholders {
        let r = if p.dir {
            std::fs::create_dir_all(&p.path)
        } else {
            if let Some(parent) = p.path.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&p.path)
                .map(|_| ())
        };
        r.map_err(|e| {
            format!(
                "workspace: cannot create {} to hold it read-only: {e}",
                p.path.display()
            )
        })?;
    }
    Ok(())
}

/// Removes the placeholders still empty after the session (innermost first).
pub fn remove_placeholders(l: &Layout) {
    for p in l.placeholders.iter().rev() {
        if p.dir {
            let _ = std::fs::remove_dir(&p.path);
        } else if std::fs::metadata(&p.path).is_ok_and(|m| m.is_file() && m.len() == 0) {
            let _ = std::fs::remove_file(&p.path);
        }
    }
}

/// /etc/passwd, /etc/group and /etc/hosts for inside: only root, the agent
/// and nobody; localhost only.
fn etc_generated(id: &Identity) -> Vec<(&'static str, Vec<u8>)> {
    let mut passwd = String::from("root:x:0:0:root:/root:/bin/sh\n");
    let mut group = String::from("root:x:0:\n");
    if id.uid != 0 && id.uid != 65534 {
        passwd.push_str(&format!(
            "{}:x:{}:{}::{WORKSPACE}:/bin/sh\n",
            id.name, id.uid, id.gid
        ));
    }
    if id.gid != 0 && id.gid != 65534 {
        group.push_str(&format!("{}:x:{}:\n", id.name, id.gid));
    }
    passwd.push_str("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
    group.push_str("nogroup:x:65534:\n");
    let hosts = "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    vec![
        ("/etc/passwd", passwd.into_bytes()),
        ("/etc/group", group.into_bytes()),
        ("/etc/hosts", hosts.as_bytes().to_vec()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lg-layout-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn input<'a>(ws: &'a Path, id: &'a Identity, ro: &'a [PathBuf]) -> LayoutInput<'a> {
        LayoutInput {
            workspace: ws,
            ro_mounts: ro,
            agent_dirs: &[],
            gate_socket: Path::new("/run/g.sock"),
            proxy_socket: Path::new("/tmp/p.sock"),
            identity: id,
        }
    }

    fn words(l: &Layout) -> Vec<String> {
        l.args
            .iter()
            .flat_map(|a| match a {
                Arg::Words(w) => w.clone(),
                Arg::Data { dest, .. } => vec!["DATA".into(), dest.clone()],
            })
            .collect()
    }

    fn id() -> Identity {
        Identity {
            uid: 1000,
            gid: 1000,
            name: "dev".into(),
        }
    }

    #[test]
    fn workspace_is_the_only_writable_bind_and_root_ends_read_only() {
        let ws = scratch("rw");
        std::fs::create_dir_all(ws.join(".git/hooks")).unwrap();
        std::fs::write(ws.join(".git/config"), "[core]\n").unwrap();
        let id = id();
        let l = build(&input(&ws, &id, &[])).unwrap();
        let w = words(&l);
        let binds: Vec<_> = w
            .iter()
            .enumerate()
            .filter(|(_, a)| *a == "--bind")
            .map(|(i, _)| w[i + 2].clone())
            .collect();
        assert_eq!(binds, vec![WORKSPACE, GATE_SOCKET, PROXY_SOCKET]);
        assert_eq!(&w[w.len() - 2..], ["--remount-ro", "/"]);
        let hooks = w.iter().position(|a| a == "/workspace/.git/hooks").unwrap();
        assert_eq!(w[hooks - 2], "--ro-bind");
        assert!(hooks > w.iter().position(|a| a == WORKSPACE).unwrap());
        // Existing paths need no placeholder; missing ones get one.
        let names: Vec<_> = l
            .placeholders
            .iter()
            .map(|p| p.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![".mcp.json", ".claude", ".vscode"]);
        assert!(!w
            .iter()
            .any(|a| a == "/etc/resolv.conf" || a == "/home" || a.starts_with("/root")));
        let ll = l.landlock.join(" ");
        assert!(
            ll.contains("--fs-rw /workspace")
                && ll.contains("--fs-list /")
                && ll.contains("--fs-dev /dev/null")
        );
        assert!(!ll.contains("--fs-rw /usr") && !ll.contains("--fs-rw /etc"));
    }

    #[test]
    fn no_git_holds_the_whole_git_dir_and_symlinks_are_refused() {
        let ws = scratch("git");
        let id = id();
        let l = build(&input(&ws, &id, &[])).unwrap();
        assert!(l
            .placeholders
            .iter()
            .any(|p| p.path.ends_with(".git") && p.dir));
        create_placeholders(&l).unwrap();
        assert!(ws.join(".git").is_dir() && ws.join(".mcp.json").is_file());
        remove_placeholders(&l);
        assert!(!ws.join(".git").exists() && !ws.join(".mcp.json").exists());

        std::os::unix::fs::symlink("/etc", ws.join(".claude")).unwrap();
        let e = build(&input(&ws, &id, &[])).unwrap_err();
        assert!(e.contains(".claude") && e.contains("symbolic link"), "{e}");
    }

    #[test]
    fn placeholders_with_content_survive_removal() {
        let ws = scratch("keep");
        let id = id();
        let l = build(&input(&ws, &id, &[])).unwrap();
        create_placeholders(&l).unwrap();
        std::fs::write(ws.join(".mcp.json"), "{}").unwrap();
        std::fs::write(ws.join(".vscode/x"), "y").unwrap();
        remove_placeholders(&l);
        assert!(ws.join(".mcp.json").exists() && ws.join(".vscode/x").exists());
    }

    #[test]
    fn ro_mount_bin_dirs_join_path_and_passwd_is_minimal() {
        let ws = scratch("ro");
        let tool = scratch("tool");
        std::fs::create_dir_all(tool.join("bin")).unwrap();
        let id = id();
        let ro = vec![tool.clone()];
        let l = build(&input(&ws, &id, &ro)).unwrap();
        assert_eq!(l.path_dirs, vec![format!("{}/bin", tool.display())]);
        let passwd = l
            .args
            .iter()
            .find_map(|a| match a {
                Arg::Data { dest, bytes, .. } if dest == "/etc/passwd" => {
                    Some(String::from_utf8(bytes.clone()).unwrap())
                }
                _ => None,
            })
            .unwrap();
        assert_eq!(passwd.lines().count(), 3);
        assert!(passwd.contains("dev:x:1000:1000::/workspace:/bin/sh"));
    }
}
