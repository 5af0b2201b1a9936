//! Operation and run statuses.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where one operation stands. Terminal statuses never change within a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpStatus {
    /// Not started yet.
    Pending,
    /// Started (its idempotency check or one of its attempts is under way).
    Running,
    /// An attempt succeeded (or a resumed run found it succeeded before, unchanged).
    Succeeded,
    /// Every allowed attempt failed, or it could not start (unmet requirement).
    Failed,
    /// Not run: not selected, after a failure, or a dependency did not succeed.
    Skipped,
    /// Its idempotency check said the work is already done, so it was not run.
    AlreadyDone,
    /// Stopped or never started because the run was cancelled.
    Cancelled,
}

impl OpStatus {
    pub fn is_terminal(self) -> bool {
        !matches!(self, OpStatus::Pending | OpStatus::Running)
    }

    /// Counts as done for dependents.
    pub fn is_ok(self) -> bool {
        matches!(self, OpStatus::Succeeded | OpStatus::AlreadyDone)
    }

    pub fn name(self) -> &'static str {
        match self {
            OpStatus::Pending => "pending",
            OpStatus::Running => "running",
            OpStatus::Succeeded => "succeeded",
            OpStatus::Failed => "failed",
            OpStatus::Skipped => "skipped",
            OpStatus::AlreadyDone => "already-done",
            OpStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for OpStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the skip reason of an op its module entry's `when:` switched off
/// starts (`off: golden_image.remove_appx_packages is false`); such an op
/// counts as done for the modules that depend on its module.
pub const OFF_PREFIX: &str = "off: ";

/// The result of a whole run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Running,
    /// Every selected operation succeeded or was already done (failures marked `continue_on_error` allowed).
    Succeeded,
    /// At least one operation failed.
    Failed,
    /// A signal stopped the run.
    Cancelled,
    /// Derived, never written by a run: the state says `running` but its
    /// coordinator is gone (nobody holds the run lock for it), e.g. after SIGKILL.
    Interrupted,
}

impl RunStatus {
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Interrupted => "interrupted",
        }
    }

    /// The process exit code of ARCHITECTURE.md.
    pub fn exit_code(self) -> i32 {
        match self {
            RunStatus::Running | RunStatus::Succeeded => 0,
            RunStatus::Failed | RunStatus::Interrupted => 1,
            RunStatus::Cancelled => 130,
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to do after an operation fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FailFast {
    /// Let the failing stage's other operations finish; start no later stage.
    FinishStage,
    /// Terminate the other running operations at once.
    Cancel,
    /// Run everything whose waits (`depends_on`, or all earlier stages) succeeded.
    Continue,
}

impl FailFast {
    pub fn name(self) -> &'static str {
        match self {
            FailFast::FinishStage => "finish-stage",
            FailFast::Cancel => "cancel",
            FailFast::Continue => "continue",
        }
    }
}
