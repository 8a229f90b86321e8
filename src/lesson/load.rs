//! Where lessons come from: the set embedded at build time, or an author's
//! own directory (`--lessons DIR`).

use std::path::Path;

use super::lint::{Diagnostic, check_sources};
use super::model::Lesson;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/lessons.rs"));
}

pub fn embedded_sources() -> Vec<(String, String)> {
    embedded::EMBEDDED.iter().map(|(name, text)| (format!("lessons/{name}"), text.to_string())).collect()
}

/// `*.yaml` / `*.yml` files of a directory, in name order.
pub fn dir_sources(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read lesson directory {}: {e}", dir.display()))?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!("no lesson files (*.yaml) in {}", dir.display()));
    }
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            Ok((p.display().to_string(), text))
        })
        .collect()
}

#[derive(Debug)]
pub enum LoadError {
    /// The directory or a file could not be read.
    Io(String),
    /// The files have problems: lint's diagnostics.
    Invalid(Vec<Diagnostic>),
}

/// The lessons to use: from `dir` if given, else the embedded set.
pub fn load(dir: Option<&Path>) -> Result<Vec<Lesson>, LoadError> {
    let sources = match dir {
        Some(d) => dir_sources(d).map_err(LoadError::Io)?,
        None => embedded_sources(),
    };
    let (lessons, diags) = check_sources(&sources);
    if diags.is_empty() { Ok(lessons) } else { Err(LoadError::Invalid(diags)) }
}
