//! File helpers for the ledger directory: owner-only modes, append-only
//! opening and atomic replacement (temporary file, fsync, rename, fsync dir).

use super::LedgerError;
use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` (and parents) with mode 0700, and tightens an existing
/// ledger directory to 0700: the ledger is readable by its owner only.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), LedgerError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| LedgerError::io(dir, "create directory", e))?;
    tighten(dir, 0o700)
}

/// Sets `path` to `mode` when it has any bit beyond it.
fn tighten(path: &Path, mode: u32) -> Result<(), LedgerError> {
    let meta = fs::metadata(path).map_err(|e| LedgerError::io(path, "stat", e))?;
    if meta.permissions().mode() & 0o777 & !mode != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(|e| LedgerError::io(path, "chmod", e))?;
    }
    Ok(())
}

/// Opens (creating, mode 0600) `path` for reading and appending.
pub(crate) fn open_append(path: &Path) -> Result<File, LedgerError> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| LedgerError::io(path, "open", e))?;
    let meta = file
        .metadata()
        .map_err(|e| LedgerError::io(path, "stat", e))?;
    if !meta.is_file() {
        return Err(LedgerError::Invalid(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    tighten(path, 0o600)?;
    Ok(file)
}

/// Takes an exclusive advisory lock (flock) on `file`, held until it is
/// closed, so two gates never append to one ledger.
///
/// `File::try_lock` is stable since Rust 1.89 while Cargo.toml still says
/// 1.85: either raise rust-version or swap this body for a sys/ flock
/// wrapper; nothing else depends on how the lock is taken.
#[allow(clippy::incompatible_msrv)]
pub(crate) fn lock_exclusive(file: &File, path: &Path) -> Result<(), LedgerError> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(LedgerError::Locked(path.to_path_buf())),
        Err(TryLockError::Error(e)) => Err(LedgerError::io(path, "lock", e)),
    }
}

/// Replaces `dir/name` with `bytes` atomically and durably (mode 0600).
///
/// The temporary name is fixed: callers serialise their own writes (the
/// ledger lock and the head mutex).
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), LedgerError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let dest = dir.join(name);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| LedgerError::io(&tmp, "create", e))?;
    file.write_all(bytes)
        .map_err(|e| LedgerError::io(&tmp, "write", e))?;
    file.sync_all()
        .map_err(|e| LedgerError::io(&tmp, "fsync", e))?;
    drop(file);
    fs::rename(&tmp, &dest).map_err(|e| LedgerError::io(&dest, "rename", e))?;
    sync_dir(dir)
}

/// fsyncs a directory so a rename or a new file in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), LedgerError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LedgerError::io(dir, "fsync directory", e))
}

/// Reads a whole small file; `Ok(None)` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, LedgerError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LedgerError::io(path, "read", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::testutil::TempDir;

    #[test]
    fn dir_and_files_are_owner_only() {
        let t = TempDir::new("fsutil");
        let dir = t.path().join("a/ledger");
        ensure_dir(&dir).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        ensure_dir(&dir).unwrap();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );

        let f = dir.join("events.jsonl");
        drop(open_append(&f).unwrap());
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        drop(open_append(&f).unwrap());
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let t = TempDir::new("fsutil-atomic");
        write_atomic(t.path(), "head.json", b"one").unwrap();
        write_atomic(t.path(), "head.json", b"two").unwrap();
        assert_eq!(fs::read(t.path().join("head.json")).unwrap(), b"two");
        let mode = fs::metadata(t.path().join("head.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1);
        assert_eq!(read_optional(&t.path().join("missing")).unwrap(), None);
    }

    #[test]
    fn open_append_refuses_a_directory() {
        let t = TempDir::new("fsutil-dir");
        assert!(open_append(t.path()).is_err());
    }
}
