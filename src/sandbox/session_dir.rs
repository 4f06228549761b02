//! The session directory: one private directory per launch, holding the
//! egress proxy's socket and the generated /etc files, removed when the
//! session ends however it ends.
//!
//! A launcher killed with SIGKILL cannot remove its own, so each launch
//! also sweeps the directories that earlier sessions left behind. A live
//! session holds an exclusive `flock` on its directory for as long as its
//! launcher runs (the kernel drops it when the process dies, however it
//! dies), so a directory whose lock can be taken has no session. The
//! sweep also skips directories younger than a minute, which covers the
//! moment between a directory's creation and its lock.

use crate::sys;
use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Every session directory's name: this prefix and 16 hex digits.
const PREFIX: &str = "latchgate-sandbox-";

/// Directories younger than this are never swept.
pub const SWEEP_MIN_AGE: Duration = Duration::from_secs(60);

/// This launch's session directory, locked while it exists.
pub struct SessionDir {
    /// Where it is.
    pub path: PathBuf,
    /// The open directory holding the lock (close-on-exec, so bwrap does
    /// not inherit it; the lock lives as long as this descriptor).
    _lock: File,
}

/// Creates and locks a new session directory: in a tmpfs only its owner can
/// write (/run as root, the user's runtime directory otherwise), else
/// /dev/shm, which is a tmpfs on almost every Linux, else the temporary
/// directory. On a disk file system creating and removing it costs a
/// journal commit each (measured: 0.35 ms of the session's exit).
/// Root-assisted: root's and searchable by all (0711), so the agent's user,
/// as whom bwrap runs, reaches what it binds by name while only root can
/// list or change it; rootless: the user's own (0700).
pub fn create(root_assisted: bool) -> Result<SessionDir, String> {
    let mut preferred: Vec<PathBuf> = Vec::new();
    if root_assisted {
        preferred.push(PathBuf::from("/run"));
    } else {
        preferred.extend(std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from));
    }
    preferred.push(PathBuf::from("/dev/shm"));
    let (mut bases, disk): (Vec<PathBuf>, Vec<PathBuf>) =
        preferred.into_iter().partition(|b| sys::is_tmpfs(b));
    bases.extend(disk);
    bases.push(std::env::temp_dir());
    create_in(&bases, root_assisted)
}

/// `create` in the first of `bases` that takes it.
fn create_in(bases: &[PathBuf], root_assisted: bool) -> Result<SessionDir, String> {
    let mut b = [0u8; 8];
    crate::crypto::random::fill(&mut b).map_err(|e| format!("randomness: {e}"))?;
    let name: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let mut last = String::new();
    for base in bases.iter().filter(|b| b.is_dir()) {
        let dir = base.join(format!("{PREFIX}{name}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return lock_new(dir, root_assisted),
            Err(e) => last = format!("{}: {e}", dir.display()),
        }
    }
    Err(format!("cannot create the session directory ({last})"))
}

/// Sets the new directory's mode and takes its lock (removing it again if
/// either fails).
fn lock_new(dir: PathBuf, root_assisted: bool) -> Result<SessionDir, String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if root_assisted { 0o711 } else { 0o700 };
    let locked = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
        .and_then(|()| File::open(&dir))
        .and_then(|f| f.try_lock().map(|()| f).map_err(std::io::Error::from));
    match locked {
        Ok(lock) => Ok(SessionDir {
            path: dir,
            _lock: lock,
        }),
        Err(e) => {
            let _ = std::fs::remove_dir(&dir);
            Err(format!(
                "cannot set up the session directory {}: {e}",
                dir.display()
            ))
        }
    }
}

/// Removes the session directories in `parent` that no session holds: ours
/// (same owner as this process), named as `create` names them, real
/// directories (not symlinks), at least `min_age` old, and unlocked.
/// Returns how many it removed; errors only skip a directory.
pub fn sweep(parent: &Path, min_age: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return 0;
    };
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !is_session_name(name) {
            continue;
        }
        let path = entry.path();
        if is_stale(&path, now, min_age) && std::fs::remove_dir_all(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// `latchgate-sandbox-` and exactly 16 lowercase hex digits.
fn is_session_name(name: &str) -> bool {
    name.strip_prefix(PREFIX).is_some_and(|hex| {
        hex.len() == 16 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// Whether `path` is a session directory of ours that no session holds.
/// The lock taken here is dropped on return; a sweep racing another one
/// on the same directory at worst finds it gone.
fn is_stale(path: &Path, now: SystemTime, min_age: Duration) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if !meta.is_dir() || meta.uid() != sys::spawn::euid() {
        return false;
    }
    let old_enough = meta
        .modified()
        .ok()
        .and_then(|m| now.duration_since(m).ok())
        .is_some_and(|age| age >= min_age);
    if !old_enough {
        return false;
    }
    let Ok(dir) = File::open(path) else {
        return false;
    };
    // The directory opened is the one checked (not swapped in between).
    let same = dir
        .metadata()
        .is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino());
    same && dir.try_lock().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::testutil::TempDir;

    /// A directory named like a session's, with a file in it, `age` old.
    fn session_like(parent: &Path, hex: &str, age: Duration) -> PathBuf {
        let d = parent.join(format!("{PREFIX}{hex}"));
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("file-1"), "x").unwrap();
        File::open(&d)
            .unwrap()
            .set_modified(SystemTime::now() - age)
            .unwrap();
        d
    }

    #[test]
    fn sweeps_only_old_unlocked_session_directories_of_ours() {
        let dir = TempDir::new("sweep");
        let parent = dir.path();
        let old = Duration::from_secs(3600);
        let stale = session_like(parent, "00000000000000aa", old);
        let held = session_like(parent, "00000000000000bb", old);
        let lock = File::open(&held).unwrap();
        lock.lock().unwrap();
        let young = session_like(parent, "00000000000000cc", Duration::ZERO);
        // Not named as a session's: a longer name, capitals, another prefix.
        let odd = [
            session_like(parent, "00000000000000dd0", old),
            session_like(parent, "00000000000000EE", old),
        ];
        let other = parent.join("latchgate-other-00000000000000ff");
        std::fs::create_dir(&other).unwrap();
        // A symlink named as a session's is not followed or removed.
        let target_dir = TempDir::new("sweep-target");
        let target = target_dir.path();
        let link = parent.join(format!("{PREFIX}0000000000000011"));
        std::os::unix::fs::symlink(target, &link).unwrap();

        assert_eq!(sweep(parent, SWEEP_MIN_AGE), 1);
        assert!(!stale.exists(), "the stale directory is removed");
        assert!(held.join("file-1").exists(), "a locked one is kept");
        assert!(young.join("file-1").exists(), "a young one is kept");
        assert!(odd.iter().all(|d| d.exists()) && other.exists());
        assert!(link.symlink_metadata().is_ok() && target.exists());

        // Once its session is gone (the lock dropped), it is swept too.
        drop(lock);
        assert_eq!(sweep(parent, SWEEP_MIN_AGE), 1);
        assert!(!held.exists());
    }

    #[test]
    fn another_owners_directory_is_not_swept() {
        if sys::spawn::euid() != 0 {
            // Only root can make a directory owned by someone else.
            return;
        }
        let dir = TempDir::new("sweep-owner");
        let parent = dir.path();
        let theirs = session_like(parent, "00000000000000ab", Duration::from_secs(3600));
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        assert_eq!(sweep(parent, SWEEP_MIN_AGE), 0);
        assert!(theirs.join("file-1").exists());
    }

    #[test]
    fn a_new_session_directory_is_locked_while_it_lives() {
        let tmp = TempDir::new("sweep-live");
        let parent = tmp.path().to_path_buf();
        let dir = create_in(std::slice::from_ref(&parent), false).unwrap();
        assert_eq!(dir.path.parent(), Some(parent.as_path()));
        assert!(is_session_name(
            &dir.path.file_name().unwrap().to_string_lossy()
        ));
        // Even with no age limit, a live session's directory stays.
        let _ = sweep(&parent, Duration::ZERO);
        assert!(dir.path.is_dir());
        let path = dir.path.clone();
        drop(dir);
        let _ = sweep(&parent, Duration::ZERO);
        assert!(!path.exists(), "without its lock it is swept");
    }
}
