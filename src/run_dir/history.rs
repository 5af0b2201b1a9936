//! The runs recorded under a project root: `status`, `resume` and the
//! `requires` check read them.

use std::path::{Path, PathBuf};

use super::{RunDir, runs_root};
use crate::record::state::StateFile;
use crate::record::status::RunStatus;

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
        .filter_map(|d| read_state(&d).ok().map(|s| (d, s)))
        .collect()
}

/// The newest run of `module` (by id), if any.
pub fn latest_run(root: &Path, module: Option<&str>) -> Option<(PathBuf, StateFile)> {
    all_runs(root)
        .into_iter()
        .find(|(_, s)| module.is_none_or(|m| s.module == m))
}

/// The Azure a run's work exists in, for "has this module run" questions.
#[derive(Clone, Copy, Debug)]
pub enum RanIn<'a> {
    /// A real subscription.
    Real,
    /// A simulated Azure kept between runs (`--sim-state`), by its absolute path.
    KeptWorld(&'a Path),
}

/// The newest of `runs` (as `all_runs` reads them, newest first) in `azure` in which every one of `ops`
/// succeeded, was already done or was switched off (`when:`): what "this module has run" means to the
/// modules that depend on it. The run may have been of another module that
/// listed the same operations (`--with-dependencies` plans them into one
/// run), and `--only` or a failure leaves some out. A simulated run counts
/// only for runs in the same kept world: what it made exists nowhere else.
pub fn succeeded_run<'r>(
    runs: &'r [(PathBuf, StateFile)],
    ops: &[&str],
    azure: RanIn,
) -> Option<&'r str> {
    runs.iter()
        .filter(|(dir, state)| match azure {
            RanIn::Real => !was_simulated(dir, state),
            RanIn::KeptWorld(world) => {
                was_simulated(dir, state)
                    && state.sim_state.as_deref().map(Path::new) == Some(world)
            }
        })
        .find(|(_, state)| {
            ops.iter()
                .all(|id| state.op(id).is_some_and(|o| o.done_or_off()))
        })
        .map(|(_, state)| state.run_id.as_str())
}

/// Whether the run in `dir` ran against goldsmith's simulated Azure. A
/// state.json from before goldsmith recorded it: a simulated run kept its
/// world in `sim/`.
pub fn was_simulated(dir: &Path, state: &StateFile) -> bool {
    state
        .simulated
        .unwrap_or_else(|| dir.join("sim").join("state.json").is_file())
}

/// The state of the run `id` under `root`.
pub fn read_run(root: &Path, id: &str) -> Result<StateFile, StateError> {
    read_state(&RunDir::open(root, id).path)
}

/// The state of the run in `dir`: its `state.json`, or for a run that has
/// not finished (going on, or its coordinator killed), the fold of its
/// events, which the snapshot may lag behind (`recover`).
fn read_state(dir: &Path) -> Result<StateFile, StateError> {
    let run = RunDir {
        id: String::new(),
        path: dir.to_path_buf(),
    };
    let state = read_snapshot(&run.state())?;
    if state.status != RunStatus::Running {
        return Ok(state);
    }
    Ok(super::recover::from_events(&run.events())
        .filter(|folded| folded.run_id == state.run_id)
        .unwrap_or(state))
}

fn read_snapshot(path: &Path) -> Result<StateFile, StateError> {
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
