//! Where unix socket files go, and how netlab cleans up after them.
//!
//! Relative names live in a private directory made on first use (mode 0700,
//! under `$XDG_RUNTIME_DIR` or the temp dir), one per lab, so lessons, demos
//! and parallel test runs never collide. close() does not remove a socket
//! file — that is the kernel's real behaviour and lessons show it — so the
//! lab removes what it made when it ends: the private directory with
//! everything in it, and any socket file it bound at an absolute path.

use std::fs::DirBuilder;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Makes each lab's directory name unique within this process.
static NEXT: AtomicU32 = AtomicU32::new(0);

#[derive(Default)]
pub struct UnixFiles {
    dir: Option<PathBuf>,
    /// Socket files bound outside the private directory.
    created: Vec<PathBuf>,
}

impl UnixFiles {
    /// The private directory, made now if it does not exist yet.
    pub fn dir(&mut self) -> Result<&Path, String> {
        if self.dir.is_none() {
            self.dir = Some(make_private_dir()?);
        }
        self.dir.as_deref().ok_or_else(|| "no private directory".to_string())
    }

    /// Where a name the learner typed lives: absolute paths as typed,
    /// anything else inside the private directory.
    pub fn place(&mut self, typed: &Path) -> Result<PathBuf, String> {
        if typed.is_absolute() {
            return Ok(typed.to_path_buf());
        }
        Ok(self.dir()?.join(typed))
    }

    /// Shorten a path in the private directory to the name the learner typed.
    pub fn short<'a>(&self, path: &'a Path) -> &'a Path {
        self.dir.as_deref().and_then(|d| path.strip_prefix(d).ok()).unwrap_or(path)
    }

    /// bind() made a socket file at `path`: remove it when the lab ends.
    pub fn remember(&mut self, path: &Path) {
        let inside = self.dir.as_deref().is_some_and(|d| path.starts_with(d));
        if !inside && !self.created.iter().any(|p| p == path) {
            self.created.push(path.to_path_buf());
        }
    }

    /// Socket files that exist now, netlab's own first.
    pub fn list(&self) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = self
            .dir
            .as_deref()
            .and_then(|d| std::fs::read_dir(d).ok())
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        found.sort();
        found.extend(self.created.iter().filter(|p| is_socket(p)).cloned());
        found
    }

    /// Remove everything netlab made. Only socket files are unlinked at
    /// absolute paths: if the learner replaced one with a real file, it stays.
    pub fn clean(&mut self) {
        for path in self.created.drain(..) {
            if is_socket(&path) {
                let _ = std::fs::remove_file(&path);
            }
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Drop for UnixFiles {
    fn drop(&mut self) {
        self.clean();
    }
}

pub fn is_socket(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

fn make_private_dir() -> Result<PathBuf, String> {
    let euid = nix::unistd::geteuid().as_raw();
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).filter(|d| is_own_runtime_dir(d, euid));
    let mut last = String::new();
    // An unwritable $XDG_RUNTIME_DIR falls back to the temp dir.
    for base in runtime.into_iter().chain([std::env::temp_dir()]) {
        match make_dir_in(&base) {
            Ok(dir) => return Ok(dir),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// `$XDG_RUNTIME_DIR` only if it is ours: a directory owned by the
/// effective uid, mode 0700. Under `sudo -E` it is another user's, and a
/// dir made inside it is unreachable once CAP_DAC_READ_SEARCH is dropped
/// (`unix connect --unprivileged` would get EACCES on the parent).
fn is_own_runtime_dir(dir: &Path, euid: u32) -> bool {
    std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir() && m.uid() == euid && m.mode() & 0o777 == 0o700)
}

fn make_dir_in(base: &Path) -> Result<PathBuf, String> {
    let pid = std::process::id();
    // A stale directory from an earlier process with the same pid is skipped,
    // never reused: create fails if the name exists.
    for _ in 0..100 {
        let dir = base.join(format!("netlab-{pid}-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
        match DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot make a private directory in {}: {e}", base.display())),
        }
    }
    Err(format!("cannot make a private directory in {}: every name is taken", base.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn only_our_own_0700_runtime_dir_is_used() {
        let dir = std::env::temp_dir().join(format!("netlab-rtdir-test-{}", std::process::id()));
        DirBuilder::new().mode(0o700).create(&dir).unwrap();
        let me = nix::unistd::geteuid().as_raw();
        let ours = is_own_runtime_dir(&dir, me);
        let someone_elses = is_own_runtime_dir(&dir, me.wrapping_add(1));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let too_open = is_own_runtime_dir(&dir, me);
        std::fs::remove_dir(&dir).unwrap();
        assert_eq!((ours, someone_elses, too_open), (true, false, false));
    }

    #[test]
    fn private_dir_is_0700_and_goes_away() {
        let mut files = UnixFiles::default();
        let dir = files.dir().unwrap().to_path_buf();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_eq!(files.place(Path::new("a.sock")).unwrap(), dir.join("a.sock"));
        assert_eq!(files.short(&dir.join("a.sock")), Path::new("a.sock"));
        std::fs::write(dir.join("junk"), b"x").unwrap();
        drop(files);
        assert!(!dir.exists());
    }
}
