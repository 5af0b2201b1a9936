//! Where a simulated run's Azure lives: the run's own `sim/` (new, or a copy
//! of the world of the run it resumes), or a directory kept between runs
//! (`--sim-state DIR`), which one run at a time may use.
//!
//! The world is chosen before the run directory exists, because the values
//! a run chooses when it starts (the next image version) are asked of it.
//! An own world is made in a hidden staging folder beside the run
//! directories and moved into `<run>/sim` once the run directory exists.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::CliError;
use crate::record::state::StateFile;
use crate::run_dir::{self, RunDir};

/// The lock file a kept world holds while a run uses it (the simulator's own
/// per-command lock is `state.lock`).
const KEPT_LOCK: &str = "goldsmith.lock";
/// The simulator's state file: a directory holding it is a simulated Azure.
const WORLD_FILE: &str = "state.json";

pub enum SimWorld {
    /// `--sim-state DIR`, or the kept world of the run being resumed; the
    /// lock is held until this process ends.
    Kept { dir: PathBuf, _lock: File },
    /// The run's own world: in `at`, a staging folder until [`SimWorld::settle`]
    /// moves it into the run directory.
    Own { at: PathBuf, staged: bool },
}

impl SimWorld {
    /// The world of a simulated run: `kept` (`--sim-state`) if given, else
    /// the kept world the resumed run used, else an own world, empty or a
    /// copy of the resumed run's `sim/`.
    pub fn open(
        root: &Path,
        kept: Option<&Path>,
        resumed: Option<(&RunDir, &StateFile)>,
    ) -> Result<SimWorld, CliError> {
        let kept = kept
            .map(|dir| kept_dir(root, dir))
            .or_else(|| resumed.and_then(|(_, s)| s.sim_state.as_ref().map(PathBuf::from)));
        if let Some(dir) = kept {
            return open_kept(&dir);
        }
        let at = run_dir::runs_root(root)
            .join(format!(".sim-{}.partial", uuid::Uuid::new_v4().simple()));
        let made = std::fs::create_dir_all(&at).and_then(|()| match resumed {
            Some((dir, _)) if dir.sim().join(WORLD_FILE).is_file() => copy_world(&dir.sim(), &at),
            _ => Ok(()),
        });
        made.map_err(|e| {
            let _ = std::fs::remove_dir_all(&at);
            CliError::Invalid(format!(
                "cannot make the simulated Azure in {}: {e}; nothing ran",
                at.display()
            ))
        })?;
        Ok(SimWorld::Own { at, staged: true })
    }

    /// The directory the world is in now.
    pub fn dir(&self) -> &Path {
        match self {
            SimWorld::Kept { dir, .. } => dir,
            SimWorld::Own { at, .. } => at,
        }
    }

    /// The kept directory, as `state.json` records it.
    pub fn kept(&self) -> Option<String> {
        match self {
            SimWorld::Kept { dir, .. } => Some(dir.display().to_string()),
            SimWorld::Own { .. } => None,
        }
    }

    /// Moves an own world into the run directory, where it stays with the run.
    pub fn settle(&mut self, run: &RunDir) -> Result<(), CliError> {
        let SimWorld::Own { at, staged } = self else {
            return Ok(());
        };
        let target = run.sim();
        std::fs::rename(&*at, &target).map_err(|e| {
            CliError::Other(anyhow::anyhow!(
                "cannot move the simulated Azure from {} to {}: {e}",
                at.display(),
                target.display()
            ))
        })?;
        *at = target;
        *staged = false;
        Ok(())
    }
}

impl Drop for SimWorld {
    fn drop(&mut self) {
        if let SimWorld::Own { at, staged: true } = self {
            let _ = std::fs::remove_dir_all(at);
        }
    }
}

/// Where `--sim-state DIR` keeps its world: like every path flag, relative
/// to the project root; absolute, as `state.json` records it.
pub fn kept_dir(root: &Path, flag: &Path) -> PathBuf {
    let dir = root.join(flag);
    std::path::absolute(&dir).unwrap_or(dir)
}

/// A kept world: created if absent, refused if it is some other folder, and
/// locked for this run.
fn open_kept(dir: &Path) -> Result<SimWorld, CliError> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let shown = dir.display();
    std::fs::create_dir_all(&dir).map_err(|e| {
        CliError::Invalid(format!(
            "--sim-state {shown}: cannot create it: {e}; nothing ran"
        ))
    })?;
    let is_world = dir.join(WORLD_FILE).is_file() || dir.join(KEPT_LOCK).is_file();
    let empty = std::fs::read_dir(&dir)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    if !is_world && !empty {
        return Err(CliError::Invalid(format!(
            "--sim-state {shown}: the folder is neither empty nor a simulated Azure kept by goldsmith; nothing ran. Give a new or empty folder"
        )));
    }
    let lock = run_dir::open_append(&dir.join(KEPT_LOCK)).map_err(|e| {
        CliError::Invalid(format!(
            "--sim-state {shown}: cannot open its lock: {e}; nothing ran"
        ))
    })?;
    // SAFETY: the descriptor belongs to `lock`, which outlives the call.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(CliError::Invalid(format!(
            "--sim-state {shown}: another goldsmith run is using this simulated Azure; nothing ran. Wait for it to end, or give another folder"
        )));
    }
    Ok(SimWorld::Kept { dir, _lock: lock })
}

/// Copies a run's world (its state and call log) without `bin/` and the
/// simulator's lock, which every run makes anew. Links are not followed.
fn copy_world(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "bin" || name == "state.lock" {
            continue;
        }
        let kind = entry.file_type()?;
        let target = to.join(&name);
        if kind.is_dir() {
            std::fs::create_dir(&target)?;
            copy_world(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// `resume` continues a run against what it ran against: a simulated run
/// only with `--simulate`, a run on a subscription only without it. Its
/// results say nothing about the other.
pub fn check_resume(dir: &Path, previous: &StateFile, simulate: bool) -> Result<(), CliError> {
    let simulated = run_dir::was_simulated(dir, previous);
    let (run, module) = (&previous.run_id, &previous.module);
    match (simulated, simulate) {
        (true, false) => Err(CliError::Invalid(format!(
            "run {run} ran against goldsmith's simulated Azure, so its results say nothing about your subscription; nothing ran. Resume it with `goldsmith resume {module} --simulate`, or start a real run with `goldsmith run {module}`"
        ))),
        (false, true) => Err(CliError::Invalid(format!(
            "run {run} ran against your Azure subscription, so its results say nothing about a simulated Azure; nothing ran. Resume it without --simulate, or start a simulated run with `goldsmith run {module} --simulate`"
        ))),
        _ => Ok(()),
    }
}
