//! Who the agent runs as. Rootless: the invoking user, nothing to decide.
//! Root-assisted (latchgate run as root): never host uid 0. In order:
//! `SUDO_UID`/`SUDO_GID`, the configured `uid`/`gid`, the workspace's owner
//! when that is not root, else nobody (65534).

use super::layout::Identity;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// How the sandbox is set up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Not root: bwrap creates every namespace itself.
    Rootless,
    /// Root: latchgate makes the network namespace with loopback up, then
    /// becomes `uid`/`gid` and runs bwrap unprivileged from there.
    RootAssisted {
        /// Host uid of the agent.
        uid: u32,
        /// Host gid of the agent.
        gid: u32,
    },
}

/// Whether a launch by this effective uid is root-assisted (the launcher
/// makes the network namespace and changes to the agent's user) rather
/// than rootless.
pub fn is_root_assisted(euid: u32) -> bool {
    euid == 0
}

/// Where the root-assisted identity came from (said in the launch line).
pub fn choose(
    euid: u32,
    uid: u32,
    gid: u32,
    configured: Option<(u32, u32)>,
    sudo: (Option<String>, Option<String>),
    workspace: &Path,
) -> (Mode, &'static str) {
    if !is_root_assisted(euid) {
        let _ = (uid, gid);
        return (Mode::Rootless, "the invoking user");
    }
    let parse = |v: &Option<String>| {
        v.as_deref()
            .and_then(|s| s.parse::<u32>().ok())
            .filter(|&n| n != 0)
    };
    if let Some(u) = parse(&sudo.0) {
        let g = parse(&sudo.1).unwrap_or(u);
        return (Mode::RootAssisted { uid: u, gid: g }, "SUDO_UID");
    }
    if let Some((u, g)) = configured {
        return (Mode::RootAssisted { uid: u, gid: g }, "the configured uid");
    }
    if let Ok(m) = std::fs::metadata(workspace) {
        if m.uid() != 0 {
            let g = if m.gid() != 0 { m.gid() } else { m.uid() };
            return (
                Mode::RootAssisted {
                    uid: m.uid(),
                    gid: g,
                },
                "the workspace's owner",
            );
        }
    }
    (
        Mode::RootAssisted {
            uid: 65534,
            gid: 65534,
        },
        "nobody (no SUDO_UID, no configured uid, workspace owned by root)",
    )
}

/// The identity inside for `mode` (names from the host's /etc/passwd).
pub fn identity(mode: Mode, uid: u32, gid: u32) -> Identity {
    let (uid, gid) = match mode {
        Mode::Rootless => (uid, gid),
        Mode::RootAssisted { uid, gid } => (uid, gid),
    };
    let name = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| user_name(&text, uid))
        .unwrap_or_else(|| "agent".to_string());
    Identity { uid, gid, name }
}

fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let id = f.nth(1)?.parse::<u32>().ok()?;
        // Only a plain name goes into the generated passwd.
        let plain = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        (id == uid && plain).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_never_runs_the_agent_as_root() {
        let ws = Path::new("/");
        let none = (None, None);
        assert_eq!(
            choose(1000, 1000, 1000, None, none.clone(), ws).0,
            Mode::Rootless
        );
        let sudo = (Some("1000".to_string()), Some("1001".to_string()));
        assert_eq!(
            choose(0, 0, 0, Some((5, 5)), sudo, ws).0,
            Mode::RootAssisted {
                uid: 1000,
                gid: 1001
            }
        );
        let sudo_root = (Some("0".to_string()), Some("0".to_string()));
        assert_eq!(
            choose(0, 0, 0, Some((5, 6)), sudo_root, ws).0,
            Mode::RootAssisted { uid: 5, gid: 6 }
        );
        // "/" is owned by root here: nobody.
        assert_eq!(
            choose(0, 0, 0, None, none, ws).0,
            Mode::RootAssisted {
                uid: 65534,
                gid: 65534
            }
        );
    }

    #[test]
    fn names_come_from_passwd_when_plain() {
        let text = "root:x:0:0::/root:/bin/sh\ndev:x:1000:1000::/home/dev:/bin/bash\nbad name:x:7:7::/:/bin/sh\n";
        assert_eq!(user_name(text, 1000).as_deref(), Some("dev"));
        assert_eq!(user_name(text, 7), None);
        assert_eq!(user_name(text, 9), None);
    }
}
