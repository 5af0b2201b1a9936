//! The run directory `artifacts/runs/<run-id>/` and its files.
//!
//! Run ids start with a UTC timestamp so they sort by time; the module id
//! follows so a listing is readable.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::record::state::RunState;

pub struct RunDir {
    pub id: String,
    pub path: PathBuf,
}

pub fn runs_root(root: &Path) -> PathBuf {
    root.join("artifacts").join("runs")
}

impl RunDir {
    /// Creates a fresh, uniquely named run directory for `module`, complete or
    /// not at all: it is made as a hidden `.<id>.partial`, `fill` writes its
    /// first files (state.json among them) there, and only then is it renamed
    /// into place. A kill on the way leaves a hidden partial that `all_runs`
    /// never sees. `fill` may be called again with another id if a name is taken.
    pub fn create(
        root: &Path,
        module: &str,
        mut fill: impl FnMut(&RunDir) -> std::io::Result<()>,
    ) -> std::io::Result<RunDir> {
        let base = runs_root(root);
        std::fs::create_dir_all(&base)?;
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%S%.3fZ")
            .to_string();
        for n in 0..1000 {
            let id = if n == 0 {
                format!("{stamp}-{module}")
            } else {
                format!("{stamp}-{module}-{n}")
            };
            let path = base.join(&id);
            let staging = base.join(format!(".{id}.partial"));
            if path.exists() {
                continue;
            }
            match std::fs::create_dir(&staging) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
            let filled = ["logs", "scripts", "outputs"]
                .iter()
                .try_for_each(|sub| std::fs::create_dir(staging.join(sub)))
                .and_then(|()| {
                    fill(&RunDir {
                        id: id.clone(),
                        path: staging.clone(),
                    })
                });
            if let Err(e) = filled {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e);
            }
            // A rename onto a run directory fails (it is never empty), so a
            // name taken meanwhile is noticed, not overwritten.
            match std::fs::rename(&staging, &path) {
                Ok(()) => return Ok(RunDir { id, path }),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::DirectoryNotEmpty
                    ) =>
                {
                    let _ = std::fs::remove_dir_all(&staging);
                    continue;
                }
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&staging);
                    return Err(e);
                }
            }
        }
        Err(std::io::Error::other(
            "could not find a free run directory name",
        ))
    }

    pub fn script(&self, op: &str, ext: &str) -> PathBuf {
        script_file(&self.path, op, ext)
    }

    pub fn state(&self) -> PathBuf {
        self.path.join("state.json")
    }

    pub fn events(&self) -> PathBuf {
        self.path.join("events.jsonl")
    }

    pub fn plan(&self) -> PathBuf {
        self.path.join("plan.json")
    }
}

/// `logs/<op>.log` of the run in `run_dir`.
pub fn log_file(run_dir: &Path, op: &str) -> PathBuf {
    run_dir.join("logs").join(format!("{op}.log"))
}

/// `scripts/<op>.<ext>` of the run in `run_dir`.
pub fn script_file(run_dir: &Path, op: &str, ext: &str) -> PathBuf {
    run_dir.join("scripts").join(format!("{op}.{ext}"))
}

/// Every run's state, newest first. Runs without a readable state are passed over.
pub fn all_runs(root: &Path) -> Vec<(PathBuf, RunState)> {
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
        .filter_map(|d| RunState::read(&d.join("state.json")).ok().map(|s| (d, s)))
        .collect()
}

/// The newest run of `module` (by id), if any.
pub fn latest_run(root: &Path, module: Option<&str>) -> Option<(PathBuf, RunState)> {
    all_runs(root)
        .into_iter()
        .find(|(_, s)| module.is_none_or(|m| s.module == m))
}

/// Replaces `path` with `bytes` so a reader never sees a half-written file.
///
/// Operations run as the same user and can write into the run directory, so
/// nothing here follows a symlink: the temp file has a name nobody can guess
/// and is created anew, and `rename` replaces a link at `path` instead of
/// writing through it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let written = create_new(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_data()
    });
    match written.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Creates `path`, which must not exist yet; never follows a symlink.
pub fn create_new(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Opens `path` for appending, creating it; refuses a symlink in its place.
pub fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}
