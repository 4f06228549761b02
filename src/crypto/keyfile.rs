//! Secret key files: exactly N raw bytes, owner-only permissions, created
//! atomically so a crash never leaves a partial key behind.

use super::{hex, random, CryptoError};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Permission bits that must be clear on a secret file (group and other).
const GROUP_OTHER_BITS: u32 = 0o077;

fn err(path: &Path, reason: impl Into<String>) -> CryptoError {
    CryptoError::KeyFile {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads an existing secret file of exactly `N` bytes.
///
/// `Ok(None)` when the file does not exist. Rejects anything that is not a
/// regular file, any group/other permission bit, and any other size.
pub(crate) fn read<const N: usize>(path: &Path) -> Result<Option<[u8; N]>, CryptoError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(path, format!("cannot open: {e}"))),
    };
    // Check the opened file itself, not the path, so a swap in between
    // cannot slip a different file past the checks.
    let meta = file
        .metadata()
        .map_err(|e| err(path, format!("cannot stat: {e}")))?;
    if !meta.is_file() {
        return Err(err(path, "not a regular file"));
    }
    let mode = meta.permissions().mode();
    if mode & GROUP_OTHER_BITS != 0 {
        return Err(err(
            path,
            format!(
                "permissions {:o} allow group/other access; run: chmod 600 {}",
                mode & 0o777,
                path.display()
            ),
        ));
    }
    if meta.len() != N as u64 {
        return Err(err(
            path,
            format!("expected exactly {N} bytes, found {}", meta.len()),
        ));
    }
    let mut buf = [0u8; N];
    file.read_exact(&mut buf)
        .map_err(|e| err(path, format!("cannot read: {e}")))?;
    // The size was checked above; make sure it did not grow since.
    let mut extra = [0u8; 1];
    match file.read(&mut extra) {
        Ok(0) => Ok(Some(buf)),
        Ok(_) => Err(err(path, format!("expected exactly {N} bytes"))),
        Err(e) => Err(err(path, format!("cannot read: {e}"))),
    }
}

/// Creates `path` holding `bytes`, mode 0600, without ever replacing an
/// existing file.
///
/// Writes a temporary file in the same directory (O_EXCL, 0600), fsyncs
/// it, links it into place (fails if `path` appeared meanwhile; falls back
/// to rename where the filesystem has no hard links), then fsyncs the
/// directory. Returns `Ok(false)` when another writer created `path` first.
pub(crate) fn create(path: &Path, bytes: &[u8]) -> Result<bool, CryptoError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| err(path, "path has no file name"))?;
    let mut suffix = [0u8; 8];
    random::fill(&mut suffix)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        hex::encode(&suffix)
    ));
    let result = write_and_link(path, &tmp, &dir, bytes);
    // The temporary name is never needed afterwards (linked or failed).
    let _ = fs::remove_file(&tmp);
    result
}

fn write_and_link(path: &Path, tmp: &Path, dir: &Path, bytes: &[u8]) -> Result<bool, CryptoError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)
        .map_err(|e| err(path, format!("cannot create {}: {e}", tmp.display())))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| err(path, format!("cannot write {}: {e}", tmp.display())))?;
    drop(file);
    match fs::hard_link(tmp, path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(false),
        Err(_) => {
            // No hard links here (some FUSE/network filesystems): rename.
            // Re-check first so an existing key is never replaced.
            if path.exists() {
                return Ok(false);
            }
            fs::rename(tmp, path)
                .map_err(|e| err(path, format!("cannot rename into place: {e}")))?;
        }
    }
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| {
        err(
            path,
            format!("cannot fsync directory {}: {e}", dir.display()),
        )
    })?;
    Ok(true)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh empty directory under the system temp dir.
    pub(crate) fn temp_dir(tag: &str) -> PathBuf {
        let mut r = [0u8; 8];
        random::fill(&mut r).unwrap();
        let dir = std::env::temp_dir().join(format!("lg-{tag}-{}", hex::encode(&r)));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn create_then_read() {
        let dir = temp_dir("keyfile");
        let path = dir.join("k.key");
        assert_eq!(read::<4>(&path).unwrap(), None);
        assert!(create(&path, b"abcd").unwrap());
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read::<4>(&path).unwrap(), Some(*b"abcd"));
        // Never replaces an existing file.
        assert!(!create(&path, b"wxyz").unwrap());
        assert_eq!(read::<4>(&path).unwrap(), Some(*b"abcd"));
        // No temporary files left behind.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rejects_wrong_size_and_loose_permissions() {
        let dir = temp_dir("keyfile-bad");
        let path = dir.join("k.key");
        assert!(create(&path, b"abc").unwrap());
        let e = read::<4>(&path).unwrap_err();
        assert!(e.to_string().contains("k.key"), "{e}");
        assert!(e.to_string().contains("exactly 4 bytes"), "{e}");

        fs::write(&path, b"abcd").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let e = read::<4>(&path).unwrap_err();
        assert!(e.to_string().contains("group/other"), "{e}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o604)).unwrap();
        assert!(read::<4>(&path).is_err());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(read::<4>(&path).unwrap(), Some(*b"abcd"));

        let e = read::<4>(&dir).unwrap_err();
        assert!(
            e.to_string().contains("regular file") || e.to_string().contains("permissions"),
            "{e}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn create_in_missing_directory_names_the_path() {
        let path = Path::new("/nonexistent-latchgate-dir/k.key");
        let e = create(path, b"abcd").unwrap_err();
        assert!(
            e.to_string().contains("/nonexistent-latchgate-dir/k.key"),
            "{e}"
        );
    }
}
