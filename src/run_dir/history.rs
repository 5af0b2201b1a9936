//! The runs recorded under a project root: `status`, `resume` and the
//! `requires` check read them.

use std::path::{Path, PathBuf};

use super::{RunDir, runs_root};
use crate::record::state::StateFile;

/// Every run's state, newest first. Runs without a readable state are passed over.
pub fn all_runs(root: &Path) -> Vec<(PathBuf, StateFile)> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(runs_root(root))
        .into_iter()
        .flatten()
        .flatten()
        // Hidden entries are lock files and run directories still being made.
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.reverse();
    dirs.into_iter()
        .filter_map(|d| read_state(&d.join("state.json")).ok().map(|s| (d, s)))
        .collect()
}

/// The newest run of `module` (by id), if any.
pub fn latest_run(root: &Path, module: Option<&str>) -> Option<(PathBuf, StateFile)> {
    all_runs(root)
        .into_iter()
        .find(|(_, s)| module.is_none_or(|m| s.module == m))
}

/// The state of the run `id` under `root`.
pub fn read_run(root: &Path, id: &str) -> Result<StateFile, StateError> {
    read_state(&RunDir::open(root, id).state())
}

fn read_state(path: &Path) -> Result<StateFile, StateError> {
    let text = std::fs::read_to_string(path).map_err(|source| StateError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| StateError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a goldsmith state file", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}
