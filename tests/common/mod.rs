//! Shared by the integration tests that run the real binary.
// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

pub mod check;
pub mod demo_runs;
pub mod playground;
pub mod pty;
pub mod python_client;
pub mod server;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// This process's open descriptors, as `fd → target` (`5 → socket:[123]`).
/// The table is shared by every thread, including the test harness's, so
/// leak checks compare sets: a descriptor that is new afterwards is a leak;
/// one some other thread closed meanwhile is not.
pub fn open_fds() -> BTreeSet<String> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return BTreeSet::new() };
    dir.flatten()
        .map(|e| {
            let target = std::fs::read_link(e.path()).map(|t| t.display().to_string()).unwrap_or_default();
            format!("{} → {target}", e.file_name().to_string_lossy())
        })
        .collect()
}

/// Descriptors open now that were not open in `before`, other than the
/// one `read_dir` itself used to list them.
pub fn new_fds(before: &BTreeSet<String>) -> Vec<String> {
    let listing = |f: &&String| f.ends_with("/fd") && f.contains("→ /proc/");
    open_fds().difference(before).filter(|f| !listing(f)).cloned().collect()
}

/// A fresh directory under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("netlab-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Write `name` inside the directory.
    pub fn file(&self, name: &str, text: &str) -> &Self {
        std::fs::write(self.0.join(name), text).expect("write a test file");
        self
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
