//! Checks 7 and 8: the runtime directory (where the sockets live), the data
//! directory (keys, ledger) and the key files in it: they must be ours and
//! closed to group and others, as the gate itself requires when it starts
//! (`gate::up::ensure_private_dir`, 0600 key files).

use super::{Ctx, Finding, Verdict, CONFIG_FIX};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Most directory entries looked at for key files.
const MAX_ENTRIES: usize = 10_000;

/// What a path is, as far as these checks care (never following a symlink).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// A socket, device, FIFO...
    Other,
}

/// The facts about one path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its type.
    pub kind: Kind,
    /// Its owner.
    pub uid: u32,
    /// Its permission bits (mode & 0o7777).
    pub mode: u32,
}

/// `lstat(path)`: `Ok(None)` when it does not exist.
pub fn entry(path: &Path) -> Result<Option<Entry>, String> {
    match std::fs::symlink_metadata(path) {
        Ok(m) => {
            let t = m.file_type();
            let kind = if t.is_symlink() {
                Kind::Symlink
            } else if t.is_dir() {
                Kind::Dir
            } else if t.is_file() {
                Kind::File
            } else {
                Kind::Other
            };
            Ok(Some(Entry {
                kind,
                uid: m.uid(),
                mode: m.mode() & 0o7777,
            }))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot stat {}: {e}", path.display())),
    }
}

/// A path as a shell word (quoted when it holds anything unusual).
pub fn shell_word(path: &Path) -> String {
    let s = path.to_string_lossy();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+@%=:,".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Which directory is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The directory of the gate's sockets (0700, or 0711 when other
    /// users' agents may reach a shared socket).
    Runtime,
    /// The data directory (0700: keys and ledger).
    Data,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Runtime => "runtime",
            Role::Data => "data",
        }
    }
}

/// The verdict for directory `path` in `role` given what `lstat` found.
pub fn judge_dir(path: &Path, role: Role, found: Option<Entry>, our_uid: u32) -> Finding {
    let shown = path.display();
    let word = shell_word(path);
    let name = role.name();
    let Some(e) = found else {
        return Finding::ok(format!(
            "{name} directory {shown} does not exist yet (`latchgate up` creates it 0700)"
        ));
    };
    if e.kind != Kind::Dir {
        let what = if e.kind == Kind::Symlink {
            "a symlink"
        } else {
            "not a directory"
        };
        return Finding::fail(
            format!("{name} directory {shown} is {what}; the gate refuses it"),
            format!(
                "make {word} a real directory owned by you with mode 0700 (mkdir -m 700 {word})"
            ),
        );
    }
    if e.uid != our_uid {
        return Finding::fail(
            format!(
                "{name} directory {shown} is owned by uid {}, not by us (uid {our_uid}); the gate refuses it",
                e.uid
            ),
            format!("sudo chown {our_uid} {word} && chmod 700 {word}"),
        );
    }
    let mode = e.mode & 0o777;
    let chmod = format!("chmod 700 {word}");
    match role {
        Role::Runtime if mode == 0o711 => Finding::ok(format!(
            "{name} directory {shown} (0711: a socket shared with other users, entries not listable)"
        )),
        _ if mode & 0o022 != 0 => Finding::fail(
            format!("{name} directory {shown} has mode {mode:04o}: group or others can write in it (replace sockets, keys or the ledger)"),
            chmod,
        ),
        Role::Data if mode & 0o077 != 0 => Finding::fail(
            format!("{name} directory {shown} has mode {mode:04o}: group or others can reach the keys and the ledger (must be 0700)"),
            chmod,
        ),
        Role::Runtime if mode & 0o077 != 0 => Finding::fail(
            format!("{name} directory {shown} has mode {mode:04o}: the gate refuses it (0700, or 0711 for a shared socket)"),
            chmod,
        ),
        _ => Finding::ok(format!("{name} directory {shown} ({mode:04o}, ours)")),
    }
}

/// Two findings as one line: the worse verdict, both details, every fix.
pub fn combine(a: Finding, b: Finding) -> Finding {
    let verdict = match (a.verdict, b.verdict) {
        (Verdict::Fail, _) | (_, Verdict::Fail) => Verdict::Fail,
        (Verdict::Warn, _) | (_, Verdict::Warn) => Verdict::Warn,
        _ => Verdict::Ok,
    };
    let fixes: Vec<String> = [a.fix, b.fix].into_iter().flatten().collect();
    Finding {
        verdict,
        detail: format!("{}; {}", a.detail, b.detail),
        fix: (!fixes.is_empty()).then(|| fixes.join("\n")),
    }
}

fn dir_finding(path: &Path, role: Role, uid: u32) -> Finding {
    match entry(path) {
        Ok(found) => judge_dir(path, role, found, uid),
        Err(e) => Finding::fail(
            e,
            format!("check the permissions of {}'s parents", path.display()),
        ),
    }
}

/// Check 7: the runtime directory (of `listen_uds_path`) and the data directory.
pub fn check_directories(ctx: &Ctx) -> Finding {
    let cfg = match &ctx.config {
        Ok(c) => c,
        Err(e) => return Finding::fail(format!("cannot load the configuration: {e}"), CONFIG_FIX),
    };
    let runtime = match cfg.listen_uds_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir_finding(dir, Role::Runtime, ctx.uid),
        _ => Finding::fail(
            format!(
                "listen_uds_path {} has no directory",
                cfg.listen_uds_path.display()
            ),
            "set listen_uds_path to an absolute path in the configuration",
        ),
    };
    combine(runtime, dir_finding(&cfg.data_dir, Role::Data, ctx.uid))
}

/// The problem with one key file, if any: (finding, fix).
pub fn judge_key(path: &Path, e: Entry, our_uid: u32) -> Option<(String, String)> {
    let shown = path.display();
    let word = shell_word(path);
    match e.kind {
        Kind::File => {}
        Kind::Symlink => {
            return Some((
                format!("{shown} is a symlink"),
                format!("replace {word} with the key file itself (mode 0600)"),
            ))
        }
        _ => {
            return Some((
                format!("{shown} is not a regular file"),
                format!("move {word} out of the data directory"),
            ))
        }
    }
    if e.uid != our_uid {
        return Some((
            format!(
                "{shown} is owned by uid {}, not by us (uid {our_uid})",
                e.uid
            ),
            format!("sudo chown {our_uid} {word} && chmod 600 {word}"),
        ));
    }
    if e.mode & 0o077 != 0 {
        return Some((
            format!(
                "{shown} has mode {:04o}: group or others can read the key",
                e.mode & 0o777
            ),
            format!("chmod 600 {word}"),
        ));
    }
    None
}

/// Check 8 for the data directory `dir`.
pub fn key_files_finding(dir: &Path, our_uid: u32) -> Finding {
    let list = match std::fs::read_dir(dir) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Finding::ok(format!(
                "no key files yet ({} does not exist; `latchgate up` creates them 0600)",
                dir.display()
            ))
        }
        Err(e) => {
            return Finding::fail(
                format!("cannot list {}: {e}", dir.display()),
                format!(
                    "the data directory must be yours: sudo chown {our_uid} {}",
                    shell_word(dir)
                ),
            )
        }
    };
    let mut names: Vec<std::ffi::OsString> = list
        .take(MAX_ENTRIES)
        .filter_map(Result::ok)
        .map(|d| d.file_name())
        .filter(|n| n.to_string_lossy().ends_with(".key"))
        .collect();
    names.sort();
    if names.is_empty() {
        return Finding::ok(format!(
            "no key files yet in {} (`latchgate up` creates them 0600)",
            dir.display()
        ));
    }
    let mut problems = Vec::new();
    let mut fixes = Vec::new();
    for name in &names {
        let path = dir.join(name);
        let problem = match entry(&path) {
            Ok(Some(e)) => judge_key(&path, e, our_uid),
            Ok(None) => None, // removed while we looked
            Err(e) => Some((e, format!("check {}", path.display()))),
        };
        if let Some((p, f)) = problem {
            problems.push(p);
            fixes.push(f);
        }
    }
    if problems.is_empty() {
        let shown: Vec<_> = names.iter().map(|n| n.to_string_lossy()).collect();
        return Finding::ok(format!(
            "{} key file(s) private and ours: {}",
            names.len(),
            shown.join(", ")
        ));
    }
    Finding::fail(problems.join("; "), fixes.join("\n"))
}

/// Check 8: `*.key` in the data directory are 0600 and ours.
pub fn check_key_files(ctx: &Ctx) -> Finding {
    match ctx.config_or_skip() {
        Ok(cfg) => key_files_finding(&cfg.data_dir, ctx.uid),
        Err(skip) => skip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    fn dir_entry(uid: u32, mode: u32) -> Option<Entry> {
        Some(Entry {
            kind: Kind::Dir,
            uid,
            mode,
        })
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lg-doctor-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn chmod(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn data_dir_must_be_0700_and_ours() {
        let p = Path::new("/d");
        assert_eq!(
            judge_dir(p, Role::Data, dir_entry(7, 0o700), 7).verdict,
            Verdict::Ok
        );
        let open = judge_dir(p, Role::Data, dir_entry(7, 0o755), 7);
        assert_eq!(open.verdict, Verdict::Fail);
        assert!(open.detail.contains("0755"), "{open:?}");
        assert_eq!(open.fix.as_deref(), Some("chmod 700 /d"));
        assert_eq!(
            judge_dir(p, Role::Data, dir_entry(7, 0o710), 7).verdict,
            Verdict::Fail
        );
        let theirs = judge_dir(p, Role::Data, dir_entry(8, 0o700), 7);
        assert_eq!(theirs.verdict, Verdict::Fail);
        assert!(theirs.detail.contains("uid 8") && theirs.fix.unwrap().contains("chown 7 /d"));
        assert_eq!(judge_dir(p, Role::Data, None, 7).verdict, Verdict::Ok);
        let link = Some(Entry {
            kind: Kind::Symlink,
            uid: 7,
            mode: 0o777,
        });
        assert_eq!(judge_dir(p, Role::Data, link, 7).verdict, Verdict::Fail);
    }

    #[test]
    fn runtime_dir_may_be_0711_but_never_writable_by_others() {
        let p = Path::new("/run/x");
        assert_eq!(
            judge_dir(p, Role::Runtime, dir_entry(0, 0o700), 0).verdict,
            Verdict::Ok
        );
        assert_eq!(
            judge_dir(p, Role::Runtime, dir_entry(0, 0o711), 0).verdict,
            Verdict::Ok
        );
        let w = judge_dir(p, Role::Runtime, dir_entry(0, 0o1777), 0);
        assert_eq!(w.verdict, Verdict::Fail);
        assert!(w.detail.contains("can write"), "{w:?}");
        assert_eq!(w.fix.as_deref(), Some("chmod 700 /run/x"));
        assert_eq!(
            judge_dir(p, Role::Runtime, dir_entry(0, 0o755), 0).verdict,
            Verdict::Fail
        );
    }

    #[test]
    fn key_files_must_be_0600_and_ours() {
        let p = Path::new("/d/a.key");
        let file = |uid, mode| Entry {
            kind: Kind::File,
            uid,
            mode,
        };
        assert_eq!(judge_key(p, file(5, 0o600), 5), None);
        assert_eq!(judge_key(p, file(5, 0o400), 5), None);
        let (what, fix) = judge_key(p, file(5, 0o644), 5).unwrap();
        assert!(what.contains("0644"));
        assert_eq!(fix, "chmod 600 /d/a.key");
        assert!(judge_key(p, file(6, 0o600), 5)
            .unwrap()
            .1
            .contains("chown 5"));
    }

    #[test]
    fn key_files_are_found_on_disk() {
        let d = scratch("keys");
        let uid = crate::sys::uid();
        assert_eq!(key_files_finding(&d, uid).verdict, Verdict::Ok);
        std::fs::write(d.join("a.key"), b"k").unwrap();
        chmod(&d.join("a.key"), 0o600);
        std::fs::write(d.join("notes.txt"), b"x").unwrap();
        chmod(&d.join("notes.txt"), 0o644);
        let ok = key_files_finding(&d, uid);
        assert_eq!(ok.verdict, Verdict::Ok, "{ok:?}");
        assert!(ok.detail.contains("a.key") && !ok.detail.contains("notes"));
        std::fs::write(d.join("b.key"), b"k").unwrap();
        chmod(&d.join("b.key"), 0o644);
        let bad = key_files_finding(&d, uid);
        assert_eq!(bad.verdict, Verdict::Fail);
        assert!(bad.detail.contains("b.key") && !bad.detail.contains("a.key"));
        assert_eq!(
            bad.fix.unwrap(),
            format!("chmod 600 {}", d.join("b.key").display())
        );
        assert_eq!(
            key_files_finding(&d.join("missing"), uid).verdict,
            Verdict::Ok
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn directories_check_reads_the_config_paths() {
        let d = scratch("dirs");
        let data = d.join("data");
        std::fs::create_dir(&data).unwrap();
        chmod(&data, 0o755);
        let text = format!(
            "data_dir = \"{}\"\nlisten_uds_path = \"{}\"\n",
            data.display(),
            d.join("run/gate.sock").display()
        );
        let ctx = Ctx {
            path: String::new(),
            uid: crate::sys::uid(),
            config: crate::config::load_from_str(&text, "test", None).map_err(|e| e.to_string()),
        };
        let f = check_directories(&ctx);
        assert_eq!(f.verdict, Verdict::Fail, "{f:?}");
        assert!(f.detail.contains("runtime directory") && f.detail.contains("does not exist yet"));
        assert_eq!(f.fix.unwrap(), format!("chmod 700 {}", data.display()));
        chmod(&data, 0o700);
        assert_eq!(check_directories(&ctx).verdict, Verdict::Ok);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_config_error_fails_the_directories_check() {
        let ctx = Ctx {
            path: String::new(),
            uid: 0,
            config: Err("latchgate.toml: line 1: `x`: unknown key".into()),
        };
        let f = check_directories(&ctx);
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(f.detail.contains("unknown key"));
        assert_eq!(check_key_files(&ctx).verdict, Verdict::Warn);
    }

    #[test]
    fn odd_paths_are_quoted_for_the_shell() {
        assert_eq!(shell_word(Path::new("/a/b-c.key")), "/a/b-c.key");
        assert_eq!(shell_word(Path::new("/a b/it's")), r"'/a b/it'\''s'");
    }
}
