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

/// The newest real run under `root` in which every one of `ops` succeeded or
/// was already done: what "this module has run" means to the modules that
/// depend on it. The run may have been of another module that listed the same
/// operations (`--with-dependencies` plans them into one run), and `--only`
/// or a failure leaves some out. Simulated runs never count: what they made
/// exists only in a simulated Azure.
pub fn succeeded_real_run(root: &Path, ops: &[&str]) -> Option<String> {
    all_runs(root)
        .into_iter()
        .filter(|(dir, _)| !was_simulated(dir))
        .find(|(_, state)| {
            ops.iter()
                .all(|id| state.op(id).is_some_and(|o| o.status.is_ok()))
        })
        .map(|(_, state)| state.run_id)
}

/// Whether the run in `dir` ran against a simulated Azure: its state.json's
/// top-level `simulated` (runs from before the field count as real). The one
/// place run history asks this.
fn was_simulated(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("state.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|state| state.get("simulated")?.as_bool())
        .unwrap_or(false)
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
