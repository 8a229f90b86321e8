//! The one directory a file server serves, and the only way its handlers
//! touch the file system.
//!
//! The classic tutorial file server does `open(os.path.join(ROOT, name))`
//! with the name the client sent — so `../../etc/passwd`, `/etc/passwd`
//! (join drops ROOT when the name is absolute) or a symlink someone left in
//! the directory reads or overwrites any file the server can. Here a name
//! is a single path component or nothing:
//!
//! * no `/` at all, so no `..` walks, no absolute paths, no sub-directories;
//! * no NUL (C would cut the name there) and no control characters;
//! * not starting with `.`: that refuses `.` and `..` themselves, hidden
//!   files, and the server's own temporary upload files;
//! * at most 255 bytes (NAME_MAX).
//!
//! And the last component is opened with `O_NOFOLLOW`, so a symlink inside
//! the root — pointing anywhere — is refused too (ELOOP), not followed.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest file name, as Linux's NAME_MAX.
pub const NAME_MAX: usize = 255;

/// Temporary upload files start with this; valid names cannot (no leading `.`).
const TEMP_PREFIX: &str = ".netlab-upload-";

/// The served directory. A root the server created itself (no `--root`)
/// is removed when the last handle to it is dropped — by the process that
/// created it only, never by a forked child.
#[derive(Debug)]
pub struct FileRoot {
    path: PathBuf,
    /// The pid that created the directory and must remove it, if any.
    owner: Option<u32>,
    next_temp: AtomicU64,
}

impl FileRoot {
    /// `--root DIR` (which must exist and be a directory), or a fresh private
    /// directory (mode 0700) under the system's temp dir.
    pub fn open(root: Option<&Path>) -> Result<Self, String> {
        match root {
            Some(dir) => {
                let path = dir.canonicalize().map_err(|e| {
                    format!(
                        "--root {}: {e}; give an existing directory (or leave --root out for a fresh one)",
                        dir.display()
                    )
                })?;
                if !path.is_dir() {
                    return Err(format!("--root {}: not a directory", dir.display()));
                }
                Ok(FileRoot { path, owner: None, next_temp: AtomicU64::new(0) })
            }
            None => Self::fresh(),
        }
    }

    fn fresh() -> Result<Self, String> {
        let pid = std::process::id();
        let base = std::env::temp_dir();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        for attempt in 0..100u32 {
            let path = base.join(format!("netlab-file-{pid}-{nanos:x}-{attempt}"));
            // mkdir with 0700 at once: no moment when others could look in.
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {
                    let path = path.canonicalize().map_err(|e| format!("{}: {e}", path.display()))?;
                    return Ok(FileRoot { path, owner: Some(pid), next_temp: AtomicU64::new(0) });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("cannot create a directory to serve in {}: {e}", base.display())),
            }
        }
        Err(format!("cannot create a fresh directory in {}: every name taken", base.display()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the directory goes away with the server.
    pub fn is_temporary(&self) -> bool {
        self.owner.is_some()
    }

    /// The regular files served, sorted by name: (name, size). Anything
    /// else — directories, symlinks, names a client could not ask for — is
    /// left out.
    pub fn list(&self) -> io::Result<Vec<(String, u64)>> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&self.path)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            // symlink_metadata: a symlink is listed as what it is, never followed.
            let Ok(meta) = entry.path().symlink_metadata() else { continue };
            if check_name(&name).is_ok() && meta.is_file() {
                files.push((name, meta.len()));
            }
        }
        files.sort();
        Ok(files)
    }

    /// Open `name` for reading: (the file, its size). Refuses anything but
    /// a regular file directly in the root.
    pub fn open_file(&self, name: &str) -> Result<(File, u64), String> {
        check_name(name)?;
        let file = OpenOptions::new()
            .read(true)
            // O_NONBLOCK: opening a FIFO someone left here must not hang the server.
            .custom_flags(libc_flags::O_NOFOLLOW | libc_flags::O_NONBLOCK)
            .open(self.path.join(name))
            .map_err(|e| match e.raw_os_error() {
                Some(libc_flags::ELOOP) => format!("{name}: a symlink; the server follows no links"),
                _ if e.kind() == io::ErrorKind::NotFound => format!("{name}: no such file (try list)"),
                _ => format!("{name}: {e}"),
            })?;
        let meta = file.metadata().map_err(|e| format!("{name}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("{name}: not a regular file"));
        }
        Ok((file, meta.size()))
    }

    /// A new, empty temporary file in the root for an upload, and its path.
    /// It is invisible to list and get until [`FileRoot::commit`].
    pub fn temp_file(&self) -> io::Result<(File, PathBuf)> {
        loop {
            let n = self.next_temp.fetch_add(1, Ordering::Relaxed);
            let path = self.path.join(format!("{TEMP_PREFIX}{}-{n}", std::process::id()));
            match OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path) {
                Ok(file) => return Ok((file, path)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether a put may store `name`: nothing is there yet, or a regular
    /// file. A symlink or a directory someone left in the root stays.
    pub fn check_replaceable(&self, name: &str) -> Result<(), String> {
        check_name(name)?;
        match self.path.join(name).symlink_metadata() {
            Ok(meta) if meta.is_symlink() => {
                Err(format!("{name}: a symlink; the server neither follows nor replaces links"))
            }
            Ok(meta) if !meta.is_file() => Err(format!("{name}: not a regular file")),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("{name}: {e}")),
        }
    }

    /// Give a finished upload its name: rename(2) is atomic, so a reader
    /// sees the old file or the whole new one, never half of it. (Were a
    /// symlink put at `name` meanwhile, rename replaces the link itself: it
    /// never writes through one.)
    pub fn commit(&self, temp: &Path, name: &str) -> Result<(), String> {
        self.check_replaceable(name)?;
        std::fs::rename(temp, self.path.join(name)).map_err(|e| format!("{name}: cannot store it: {e}"))
    }
}

impl Drop for FileRoot {
    fn drop(&mut self) {
        if self.owner == Some(std::process::id()) {
            // Best effort: nothing useful to do if it fails while shutting down.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Whether a client may use `name` (see the module doc for the rule).
pub fn check_name(name: &str) -> Result<(), String> {
    let shown: String = name.escape_debug().collect();
    if name.is_empty() {
        return Err("empty file name".into());
    }
    if name.len() > NAME_MAX {
        return Err(format!("file name of {} bytes: at most {NAME_MAX}", name.len()));
    }
    if name.contains('/') {
        return Err(format!("\"{shown}\": a name may not contain '/': the server serves one directory, no paths"));
    }
    if name.contains('\0') {
        return Err(format!("\"{shown}\": a name may not contain a NUL byte"));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("\"{shown}\": a name may not contain control characters"));
    }
    if name.starts_with('.') {
        return Err(format!("\"{shown}\": a name may not start with '.' (no '..', no hidden files)"));
    }
    Ok(())
}

/// The few raw constants std does not name.
mod libc_flags {
    pub const O_NOFOLLOW: i32 = nix::fcntl::OFlag::O_NOFOLLOW.bits();
    pub const O_NONBLOCK: i32 = nix::fcntl::OFlag::O_NONBLOCK.bits();
    pub const ELOOP: i32 = nix::errno::Errno::ELOOP as i32;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn traversal_and_odd_names_are_refused() {
        for bad in ["", ".", "..", "../x", "/etc/passwd", "a/../../x", "a/b", "a\0b", ".hidden", "a\nb", "a\tb"] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_name(&"x".repeat(256)).is_err());
        for good in ["a.txt", "notes", "héllo wörld.md", "a..b", "x".repeat(255).as_str()] {
            assert_eq!(check_name(good), Ok(()), "{good:?}");
        }
    }

    #[test]
    fn a_fresh_root_is_private_and_removed_on_drop() {
        let root = FileRoot::open(None).unwrap();
        let path = root.path().to_path_buf();
        let mode = std::fs::metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert!(root.is_temporary());
        std::fs::write(path.join("a.txt"), b"x").unwrap();
        drop(root);
        assert!(!path.exists());
    }

    #[test]
    fn a_given_root_is_kept() {
        let owner = FileRoot::open(None).unwrap();
        let given = FileRoot::open(Some(owner.path())).unwrap();
        assert!(!given.is_temporary());
        drop(given);
        assert!(owner.path().exists());
        assert!(FileRoot::open(Some(&owner.path().join("missing"))).is_err());
    }

    #[test]
    fn commit_makes_a_temp_file_visible_under_its_name() {
        let root = FileRoot::open(None).unwrap();
        let (mut f, temp) = root.temp_file().unwrap();
        f.write_all(b"hello").unwrap();
        assert!(root.list().unwrap().is_empty(), "temp files are not listed");
        root.commit(&temp, "a.txt").unwrap();
        assert_eq!(root.list().unwrap(), vec![("a.txt".to_string(), 5)]);
        let (mut file, size) = root.open_file("a.txt").unwrap();
        let mut s = String::new();
        file.read_to_string(&mut s).unwrap();
        assert_eq!((s.as_str(), size), ("hello", 5));
    }

    #[test]
    fn symlinks_are_neither_followed_nor_listed() {
        let root = FileRoot::open(None).unwrap();
        let outside = FileRoot::open(None).unwrap();
        std::fs::write(outside.path().join("secret"), b"s").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("link")).unwrap();
        let err = root.open_file("link").unwrap_err();
        assert!(err.contains("symlink"), "{err}");
        assert!(root.list().unwrap().is_empty());
        // Nor replaced by an upload; the target is untouched.
        let (mut f, temp) = root.temp_file().unwrap();
        f.write_all(b"new").unwrap();
        assert!(root.commit(&temp, "link").unwrap_err().contains("symlink"));
        assert_eq!(std::fs::read(outside.path().join("secret")).unwrap(), b"s");
        assert!(root.path().join("link").is_symlink());
    }

    #[test]
    fn directories_and_missing_files_are_refused() {
        let root = FileRoot::open(None).unwrap();
        std::fs::create_dir(root.path().join("sub")).unwrap();
        assert!(root.open_file("sub").unwrap_err().contains("not a regular file"));
        assert!(root.open_file("nope").unwrap_err().contains("no such file"));
        assert!(root.list().unwrap().is_empty());
    }
}
