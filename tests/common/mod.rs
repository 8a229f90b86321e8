//! Shared by the integration tests that run the real binary.
// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

pub mod playground;
pub mod pty;

use std::path::{Path, PathBuf};

/// How many file descriptors this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
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
