//! The file operations themselves, beneath an fs root opened once per
//! request. Every open goes through `sys::openat2` (no `..`, no absolute
//! path, no symlink in any component, no magic link); the opened file must
//! be a regular file within the size limit, and all I/O then uses that one
//! descriptor.

use super::error::{FsError, FsErrorKind};
use crate::sys::openat2::{self, Mode};
use std::fs::{File, Metadata};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Opens the fs root (canonical, absolute, a directory; no symlink on the way).
pub fn open_root(root: &Path) -> Result<OwnedFd, FsError> {
    openat2::open_root(root).map_err(|e| {
        if e.kind() == std::io::ErrorKind::Unsupported {
            return FsError::new(FsErrorKind::Unsupported, e.to_string());
        }
        FsError::new(
            FsErrorKind::RootUnavailable,
            format!(
                "the fs root {} cannot be opened (gone, not a directory, or a symlink now): {e}",
                root.display()
            ),
        )
    })
}

fn open(dir: BorrowedFd<'_>, path: &str, mode: Mode, shown: &str) -> Result<File, FsError> {
    openat2::open_beneath(dir, path, mode)
        .map(File::from)
        .map_err(|e| FsError::from_io(&e, shown))
}

/// The opened file must be a regular file of at most `max` bytes, and,
/// unless `links_ok`, have exactly one name (a second hard link may alias
/// a file outside the root).
fn check_file(file: &File, path: &str, max: u64, links_ok: bool) -> Result<Metadata, FsError> {
    let meta = file.metadata().map_err(|e| FsError::from_io(&e, path))?;
    if !meta.is_file() {
        return Err(FsError::new(
            FsErrorKind::NotRegularFile,
            format!("{path:?}: not a regular file"),
        ));
    }
    if !links_ok && meta.nlink() > 1 {
        return Err(FsError::new(
            FsErrorKind::HardLinked,
            format!(
                "{path:?}: the file has {} hard links; refusing, one may alias a file outside the fs root",
                meta.nlink()
            ),
        ));
    }
    if meta.len() > max {
        return Err(too_large(path, meta.len(), max));
    }
    Ok(meta)
}

fn too_large(path: &str, size: u64, max: u64) -> FsError {
    FsError::new(
        FsErrorKind::TooLarge,
        format!("{path:?} is {size} bytes; this action handles files of at most {max} bytes"),
    )
}

/// Reads from the start to the end, refusing more than `max` bytes (the
/// file may grow after the size check).
fn read_all(file: &mut File, path: &str, max: u64) -> Result<Vec<u8>, FsError> {
    file.seek(SeekFrom::Start(0))
        .map_err(|e| FsError::from_io(&e, path))?;
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| FsError::from_io(&e, path))?;
    if bytes.len() as u64 > max {
        return Err(too_large(path, bytes.len() as u64, max));
    }
    Ok(bytes)
}

/// Replaces the content through the open descriptor, syncs it, and reads
/// it back (what was really stored).
fn replace(file: &mut File, path: &str, content: &[u8], max: u64) -> Result<Vec<u8>, FsError> {
    let io = |e: std::io::Error| FsError::from_io(&e, path);
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(content).map_err(io)?;
    file.sync_all().map_err(io)?;
    read_all(file, path, max)
}

/// The content of an existing regular file.
pub fn read(root: &OwnedFd, path: &str, max: u64) -> Result<Vec<u8>, FsError> {
    let mut file = open(root.as_fd(), path, Mode::Read, path)?;
    check_file(&file, path, max, false)?;
    read_all(&mut file, path, max)
}

/// Creates a new file with `content`; returns what was stored. The parent
/// directory must exist. A failed write removes the half-written file.
pub fn create(root: &OwnedFd, path: &str, content: &[u8], max: u64) -> Result<Vec<u8>, FsError> {
    if content.len() as u64 > max {
        return Err(too_large(path, content.len() as u64, max));
    }
    let mut file = open(root.as_fd(), path, Mode::CreateNew, path)?;
    let stored = replace(&mut file, path, content, max);
    if stored.is_err() {
        let _ = remove(root, path);
    }
    stored
}

/// Overwrites an existing regular file; returns (before, after) contents.
/// With `expected_before`, the current content must hash to it, else
/// nothing is written.
pub fn overwrite(
    root: &OwnedFd,
    path: &str,
    content: &[u8],
    expected_before: Option<&str>,
    max: u64,
) -> Result<(Vec<u8>, Vec<u8>), FsError> {
    if content.len() as u64 > max {
        return Err(too_large(path, content.len() as u64, max));
    }
    let mut file = open(root.as_fd(), path, Mode::ReadWrite, path)?;
    check_file(&file, path, max, false)?;
    let before = read_all(&mut file, path, max)?;
    if let Some(expected) = expected_before {
        let actual = crate::registry::sha256_prefixed(&before);
        if actual != expected {
            return Err(FsError::new(
                FsErrorKind::HashMismatch,
                format!("{path:?}: the current content hashes to {actual}, not the expected {expected}; nothing was written"),
            ));
        }
    }
    let after = replace(&mut file, path, content, max)?;
    Ok((before, after))
}

/// The directory holding `path` (opened beneath the root) and the final
/// component's name.
fn parent<'r>(root: &'r OwnedFd, path: &'r str) -> Result<(Option<OwnedFd>, &'r str), FsError> {
    match path.rsplit_once('/') {
        Some((dir, name)) => {
            let fd = openat2::open_beneath(root.as_fd(), dir, Mode::Directory)
                .map_err(|e| FsError::from_io(&e, dir))?;
            Ok((Some(fd), name))
        }
        None => Ok((None, path)),
    }
}

/// Unlinks `path` without any checks (clean-up of a failed create).
fn remove(root: &OwnedFd, path: &str) -> Result<(), FsError> {
    let (dir, name) = parent(root, path)?;
    let dir = dir.as_ref().map_or(root.as_fd(), |d| d.as_fd());
    openat2::unlink_at(dir, name).map_err(|e| FsError::from_io(&e, path))
}

/// Deletes an existing regular file; returns its content before. The
/// entry removed must still be the file that was checked and read (same
/// device and inode, not a symlink).
pub fn delete(root: &OwnedFd, path: &str, max: u64) -> Result<Vec<u8>, FsError> {
    let (dir, name) = parent(root, path)?;
    let dir = dir.as_ref().map_or(root.as_fd(), |d| d.as_fd());
    let mut file = open(dir, name, Mode::Read, path)?;
    // Removing one name of a hard-linked file leaves the others intact.
    let meta = check_file(&file, path, max, true)?;
    let before = read_all(&mut file, path, max)?;
    let entry = openat2::lstat_at(dir, name).map_err(|e| FsError::from_io(&e, path))?;
    if entry.is_symlink || !entry.is_file || entry.dev != meta.dev() || entry.ino != meta.ino() {
        return Err(FsError::new(
            FsErrorKind::Changed,
            format!("{path:?} was replaced while it was being deleted; nothing was removed"),
        ));
    }
    openat2::unlink_at(dir, name).map_err(|e| FsError::from_io(&e, path))?;
    Ok(before)
}
