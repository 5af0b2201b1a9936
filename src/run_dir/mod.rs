//! The run directory `artifacts/runs/<run-id>/`: the one place that names
//! its files, makes it, fills it with the plan and scripts, and reads back
//! what was written there (log tails, states of earlier runs).
//!
//! Run ids start with a UTC timestamp so they sort by time; the module id
//! follows so a listing is readable.

mod files;
mod history;
mod logs;
mod recover;

use std::path::{Path, PathBuf};

use crate::plan::{Plan, Script};
use crate::record::state::StateFile;

pub use files::{create_new, open_append, write_atomic};
pub use history::{
    RanIn, StateError, all_runs, latest_run, read_run, succeeded_run, was_simulated,
};
pub use logs::{LogReader, LogTail};

#[derive(Clone, Debug)]
pub struct RunDir {
    pub id: String,
    /// Absolute once the directory exists (`create` canonicalises it).
    pub path: PathBuf,
}

/// What a script file in `scripts/` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptKind {
    /// A shell operation's script (`<op>.sh`).
    Bash,
    /// An idempotency check (`<op>.check.sh`).
    Check,
    /// A run-command operation's PowerShell as sent, values masked (`<op>.ps1`).
    PowerShell,
}

impl ScriptKind {
    fn extension(self) -> &'static str {
        match self {
            ScriptKind::Bash => "sh",
            ScriptKind::Check => "check.sh",
            ScriptKind::PowerShell => "ps1",
        }
    }
}

pub fn runs_root(root: &Path) -> PathBuf {
    root.join("artifacts").join("runs")
}

/// The lock file of `module`'s runs: hidden, beside the run directories.
pub fn lock_file(root: &Path, module: &str) -> PathBuf {
    runs_root(root).join(format!(".lock-{module}"))
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
                Ok(()) => {
                    let path = std::fs::canonicalize(&path).unwrap_or(path);
                    return Ok(RunDir { id, path });
                }
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

    /// A run directory that already exists (an earlier run's, or one given by id).
    pub fn open(root: &Path, id: &str) -> RunDir {
        RunDir {
            id: id.to_string(),
            path: runs_root(root).join(id),
        }
    }

    pub fn script(&self, op: &str, kind: ScriptKind) -> PathBuf {
        self.path
            .join("scripts")
            .join(format!("{op}.{}", kind.extension()))
    }

    /// `scripts/<op>.ps1` as people name it, relative to the run directory.
    pub fn shown_script(op: &str, kind: ScriptKind) -> String {
        format!("scripts/{op}.{}", kind.extension())
    }

    pub fn logs(&self) -> PathBuf {
        self.path.join("logs")
    }

    pub fn log(&self, op: &str) -> PathBuf {
        self.logs().join(format!("{op}.log"))
    }

    /// The log as people name it in messages, relative to the run directory.
    pub fn shown_log(op: &str) -> String {
        format!("logs/{op}.log")
    }

    /// az's JSON answer for a run-command operation, secrets masked.
    pub fn output(&self, op: &str) -> PathBuf {
        self.path.join("outputs").join(format!("{op}.json"))
    }

    /// The simulated Azure's state, call log and `bin/az`, under `--simulate`.
    pub fn sim(&self) -> PathBuf {
        self.path.join("sim")
    }

    pub fn junit(&self) -> PathBuf {
        self.path.join("junit.xml")
    }

    pub fn summary(&self) -> PathBuf {
        self.path.join("summary.md")
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

    /// Writes plan.json and every rendered script (the copies people read; the
    /// engine runs its own sealed copies), and the first state.json.
    pub fn write_plan(&self, plan: &Plan, state: &StateFile) -> std::io::Result<()> {
        let write = |path: PathBuf, text: &[u8]| {
            std::fs::write(&path, text)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
        };
        write(self.plan(), crate::plan::render::json(plan).as_bytes())?;
        for op in &plan.ops {
            match &op.script {
                Script::Bash(text) => {
                    write(self.script(&op.id, ScriptKind::Bash), text.as_bytes())?
                }
                Script::RunCommand(rc) => write(
                    self.script(&op.id, ScriptKind::PowerShell),
                    rc.shown.as_bytes(),
                )?,
                Script::Invalid => {}
            }
            if let Some(check) = &op.check {
                write(self.script(&op.id, ScriptKind::Check), check.as_bytes())?;
            }
        }
        self.write_state(state)
    }

    /// Replaces state.json atomically.
    pub fn write_state(&self, state: &StateFile) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
        write_atomic(&self.state(), &json)
    }
}
