//! Where the learner is: a small YAML file they can read and edit, in the
//! XDG state directory (`~/.local/state/netlab/progress.yaml`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    /// The lesson the learner is on.
    #[serde(default)]
    pub lesson: Option<String>,
    /// Steps of that lesson already done.
    #[serde(default)]
    pub step: usize,
    /// Lessons finished, in the order they were finished.
    #[serde(default)]
    pub completed: Vec<String>,
}

const HEADER: &str = "# netlab progress: the lesson you are on, how many of its steps you have\n# done, and the lessons you finished. Safe to edit; `netlab progress --reset` clears it.\n";

fn xdg_dir(var: &str, fallback: &str) -> Option<PathBuf> {
    let from_env = std::env::var_os(var).map(PathBuf::from).filter(|p| p.is_absolute());
    from_env.or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(fallback))).map(|d| d.join("netlab"))
}

/// `$XDG_STATE_HOME/netlab`, else `~/.local/state/netlab`.
pub fn state_dir() -> Option<PathBuf> {
    xdg_dir("XDG_STATE_HOME", ".local/state")
}

/// `$XDG_DATA_HOME/netlab`, else `~/.local/share/netlab` (REPL history).
pub fn data_dir() -> Option<PathBuf> {
    xdg_dir("XDG_DATA_HOME", ".local/share")
}

pub fn default_path() -> Option<PathBuf> {
    state_dir().map(|d| d.join("progress.yaml"))
}

impl Progress {
    /// A missing file is a fresh start; a damaged one is reported.
    pub fn load(path: &Path) -> Result<Progress, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_yaml::from_str(&text)
                .map_err(|e| format!("{} is damaged ({e}); fix it or run `netlab progress --reset`", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Progress::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Write via a temporary file and rename, so a crash never leaves half a file.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("cannot save progress to {}: {e}", path.display());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let body = serde_yaml::to_string(self).map_err(|e| format!("cannot encode progress: {e}"))?;
        let tmp = path.with_extension("yaml.tmp");
        std::fs::write(&tmp, format!("{HEADER}{body}")).map_err(fail)?;
        std::fs::rename(&tmp, path).map_err(fail)
    }

    pub fn is_completed(&self, id: &str) -> bool {
        self.completed.iter().any(|c| c == id)
    }

    pub fn complete(&mut self, id: &str) {
        if !self.is_completed(id) {
            self.completed.push(id.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let dir = std::env::temp_dir().join(format!("netlab-progress-{}", std::process::id()));
        let path = dir.join("progress.yaml");
        assert_eq!(Progress::load(&path).unwrap(), Progress::default());
        let p = Progress { lesson: Some("sticky-packets".into()), step: 3, completed: vec!["hello-echo".into()] };
        p.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# netlab progress") && text.contains("lesson: sticky-packets"), "{text}");
        assert_eq!(Progress::load(&path).unwrap(), p);
        std::fs::write(&path, "lesson: [").unwrap();
        assert!(Progress::load(&path).unwrap_err().contains("damaged"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
