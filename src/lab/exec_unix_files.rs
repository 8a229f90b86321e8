//! The socket files unix-domain sockets leave behind: `unix unlink`,
//! `unix chmod`, `unix files`, and what close() leaves on disk. Only socket
//! files are touched, never what a symlink points at.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};

use super::command_unix::UnixSpec;
use super::endpoint::UnixName;
use super::unix_dir;
use super::{Kind, Lab, Outcome, UnixKind};
use crate::event::{CallResult, Event};

impl Lab {
    pub(super) fn unix_unlink(&mut self, spec: &UnixSpec) -> Result<Outcome, String> {
        let path = self.file_of(spec, "unlink")?;
        let call = format!("unlink({})", self.unix_files.short(&path).display());
        if let Err(e) = std::fs::remove_file(&path) {
            return Ok(self.failed("-", call, &e));
        }
        let detail = "the name is free for bind again; sockets already connected through it are not affected";
        let result = CallResult::ok(detail);
        self.call("-", call, result.clone());
        Ok(Outcome { result: Some(result), ..Outcome::default() })
    }

    pub(super) fn unix_chmod(&mut self, spec: &UnixSpec, mode: u32) -> Result<Outcome, String> {
        let path = self.file_of(spec, "chmod")?;
        let call = format!("chmod({}, {mode:04o})", self.unix_files.short(&path).display());
        if let Err(e) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)) {
            return Ok(self.failed("-", call, &e));
        }
        let detail = format!("mode now {mode:04o}: connect() needs write permission (the w bits) on this file");
        let result = CallResult::ok(detail);
        self.call("-", call, result.clone());
        Ok(Outcome { result: Some(result), value: Some(format!("{mode:04o}")), ..Outcome::default() })
    }

    /// One notice per socket file that exists; the outcome's value lists
    /// them, space-separated, by the names the learner used.
    pub(super) fn unix_list_files(&mut self) -> Outcome {
        let files = self.unix_files.list();
        let shown: Vec<String> = files.iter().map(|p| self.unix_files.short(p).display().to_string()).collect();
        if files.is_empty() {
            self.emit(Event::notice("no socket files: abstract names (@…) and socketpairs never make one"));
        }
        for (path, short) in files.iter().zip(&shown) {
            let mode = std::fs::symlink_metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
            let what = if unix_dir::is_socket(path) { "socket file" } else { "file" };
            self.emit(Event::notice(format!("{short}: {what}, mode {mode:04o} ({})", path.display())));
        }
        Outcome { value: Some(shown.join(" ")), ..Outcome::default() }
    }

    /// For close(): the file a bound socket leaves behind, said plainly.
    pub(super) fn unix_file_left(&self, name: &str) -> Option<String> {
        let s = super::find_open(&self.entries, name)?;
        if !matches!(s.kind, Kind::Unix(UnixKind::Listener | UnixKind::Dgram)) {
            return None;
        }
        let path = s.local.unix()?.path().filter(|p| unix_dir::is_socket(p))?;
        Some(format!(
            "the socket file {} stays: close() does not unlink it, and bind() there fails with EADDRINUSE until it is unlinked",
            self.unix_files.short(path).display()
        ))
    }

    /// The file behind a spec, for unlink and chmod.
    fn file_of(&mut self, spec: &UnixSpec, call: &str) -> Result<std::path::PathBuf, String> {
        match self.unix_target(spec)? {
            // Only socket files, never what a symlink points at: an absolute
            // path could name any file, and netlab often runs as root. A
            // missing file is left to the call, which says ENOENT.
            UnixName::Path(p) => match std::fs::symlink_metadata(&p) {
                Ok(m) if !m.file_type().is_socket() => Err(format!(
                    "{} is not a socket file: netlab only unlinks/chmods socket files",
                    self.unix_files.short(&p).display()
                )),
                _ => Ok(p),
            },
            _ => Err(format!(
                "{spec} has no file, so there is nothing to {call}: an abstract name vanishes when its last socket closes, and anyone in this network namespace may connect to it"
            )),
        }
    }
}
