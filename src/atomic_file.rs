//! Replacing a file so that a reader sees the old content or the new one, never half of
//! either, and a crash leaves one of the two on disk. Every face that writes a file
//! (`lbip export --write`, the Ansible module's `state: rendered`) goes through [`write`].
//!
//! How:
//! 1. **Symlinks are followed**: when the path is a symlink (or a chain of them), the file it
//!    points to is replaced and the link stays a link. `/etc/hosts` pointing into `/run`, or a
//!    dotfile kept in a repository and linked into place, keep working. A dangling link creates
//!    the file it names, as `echo > link` does.
//! 2. The new content goes to a temporary file created exclusively (`create_new`, so an
//!    existing file or a planted symlink is never opened) in the **target's** directory, so
//!    the final rename stays on one filesystem and is atomic.
//! 3. The temporary file gets the target's permission bits (and, when the process may, its
//!    owner and group), is written and `fsync`ed, renamed over the target, and the directory
//!    is `fsync`ed so the rename itself survives a crash.
//! 4. On any failure the temporary file is removed and the target is untouched.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Symlink hops before giving up (Linux's own limit for path resolution).
const MAX_LINKS: usize = 40;

/// The file a write to `path` replaces: `path` itself, or where its symlinks lead. The result
/// may not exist yet (a new file, or a dangling link's target).
pub fn target_of(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            Ok(meta) if meta.is_dir() => {
                return Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    format!("{} is a directory", current.display()),
                ));
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "{}: more than {MAX_LINKS} levels of symbolic links",
        path.display()
    )))
}

/// Replaces the file at `path` (through its symlinks, see the module docs) with `bytes`.
/// Returns the file actually written.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
    let target = target_of(path)?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_string());
    let existing = fs::metadata(&target).ok();
    let (mut file, tmp) = create_temporary(&dir, &name)?;
    let written = (|| {
        if let Some(meta) = &existing {
            keep_owner_and_mode(&file, meta)?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, &target)?;
        // The rename is durable only once the directory entry is.
        File::open(&dir)?.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(target)
}

/// A new file `.<name>.lbip-<pid>-<n>.tmp` in `dir`, created exclusively.
fn create_temporary(dir: &Path, name: &str) -> io::Result<(File, PathBuf)> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let mut last = None;
    for _ in 0..100 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.lbip-{}-{n}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((f, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary file name")))
}

/// Gives the temporary file the replaced file's permission bits, and its owner and group when
/// the process is allowed to (root is; anyone else keeps their own ownership, as with any
/// editor that saves by rename).
fn keep_owner_and_mode(file: &File, meta: &fs::Metadata) -> io::Result<()> {
    file.set_permissions(meta.permissions())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = std::os::unix::fs::fchown(file, Some(meta.uid()), Some(meta.gid()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_new_file_is_created_and_an_old_one_replaced_leaving_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.yaml");
        assert_eq!(write(&path, b"one\n").unwrap(), path);
        assert_eq!(fs::read(&path).unwrap(), b"one\n");
        write(&path, b"two\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two\n");
        assert_eq!(entries(dir.path()), ["out.yaml"]);
    }

    #[cfg(unix)]
    #[test]
    fn permissions_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.yaml");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        write(&path, b"new").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_followed_relative_chained_and_dangling() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("real");
        fs::create_dir(&real_dir).unwrap();
        let real = real_dir.join("hosts");
        fs::write(&real, "old").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        // link -> middle -> real/hosts, the first one relative.
        let middle = dir.path().join("middle");
        symlink(&real, &middle).unwrap();
        let link = dir.path().join("link");
        symlink("middle", &link).unwrap();
        assert_eq!(write(&link, b"new").unwrap(), real);
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            fs::symlink_metadata(&middle)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o640
        );
        // The temporary file lived beside the target, and is gone.
        assert_eq!(entries(&real_dir), ["hosts"]);
        // A dangling link creates its target.
        let dangling = dir.path().join("dangling");
        symlink("real/new-file", &dangling).unwrap();
        write(&dangling, b"created").unwrap();
        assert_eq!(fs::read(real_dir.join("new-file")).unwrap(), b"created");
        // A loop is an error, and nothing is written.
        symlink("loop-b", dir.path().join("loop-a")).unwrap();
        symlink("loop-a", dir.path().join("loop-b")).unwrap();
        let err = write(&dir.path().join("loop-a"), b"x").unwrap_err();
        assert!(
            err.to_string().contains("levels of symbolic links"),
            "{err}"
        );
    }

    #[test]
    fn a_directory_or_an_unwritable_place_fails_and_leaves_the_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let err = write(dir.path(), b"x").unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        let missing = dir.path().join("no-such-dir/out.yaml");
        assert!(write(&missing, b"x").is_err());
        assert!(entries(dir.path()).is_empty());
    }
}
