//! `state.json`: where every operation of a run stands, rebuilt from events.
//!
//! `resume` and `status` read it; the `requires` check reads it from earlier
//! runs. It is a pure function of the event stream (`RunState::apply`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::record::event::{Event, EventLine};
use crate::record::failure::FailureClass;
use crate::record::status::{OpStatus, RunStatus};

pub const STATE_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub version: u32,
    pub run_id: String,
    pub module: String,
    pub module_file: String,
    pub status: RunStatus,
    pub started_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub finished_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resumed_from: Option<String>,
    pub ops: Vec<OpState>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpState {
    pub id: String,
    pub stage: usize,
    pub status: OpStatus,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure_class: Option<FailureClass>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub started_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub finished_at: Option<Timestamp>,
    #[serde(
        with = "crate::record::serde_opt_secs",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub duration: Option<Duration>,
    /// Hash of the rendered script and its inputs; `resume` reruns an op whose fingerprint changed.
    pub fingerprint: String,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub continue_on_error: bool,
}

impl RunState {
    /// The state before the first event: every op pending.
    pub fn new(
        run_id: &str,
        module: &str,
        module_file: &str,
        started_at: Timestamp,
        ops: Vec<(String, usize, String)>,
    ) -> Self {
        RunState {
            version: STATE_VERSION,
            run_id: run_id.to_string(),
            module: module.to_string(),
            module_file: module_file.to_string(),
            status: RunStatus::Running,
            started_at,
            finished_at: None,
            resumed_from: None,
            ops: ops
                .into_iter()
                .map(|(id, stage, fingerprint)| OpState {
                    id,
                    stage,
                    status: OpStatus::Pending,
                    attempts: 0,
                    exit_code: None,
                    failure_class: None,
                    reason: None,
                    started_at: None,
                    finished_at: None,
                    duration: None,
                    fingerprint,
                    continue_on_error: false,
                })
                .collect(),
        }
    }

    pub fn op(&self, id: &str) -> Option<&OpState> {
        self.ops.iter().find(|o| o.id == id)
    }

    fn op_mut(&mut self, id: &str) -> Option<&mut OpState> {
        self.ops.iter_mut().find(|o| o.id == id)
    }

    /// Folds one event in; returns whether anything changed.
    pub fn apply(&mut self, line: &EventLine) -> bool {
        match &line.event {
            Event::RunStarted { resumed_from, .. } => {
                self.resumed_from = resumed_from.clone();
                true
            }
            Event::OpStarted { op, .. } => self.update(op, |o| {
                o.status = OpStatus::Running;
                o.started_at = Some(line.time);
            }),
            Event::OpAttemptStarted { op, attempt } => self.update(op, |o| o.attempts = *attempt),
            Event::OpAttemptFinished { op, outcome, .. } => self.update(op, |o| {
                o.exit_code = outcome.exit_code;
                o.failure_class = outcome.failure_class;
            }),
            Event::OpFinished {
                op,
                status,
                attempts,
                duration,
                exit_code,
                failure_class,
                reason,
                continue_on_error,
                ..
            } => self.update(op, |o| {
                o.status = *status;
                o.attempts = *attempts;
                o.duration = Some(*duration);
                o.exit_code = *exit_code;
                o.failure_class = *failure_class;
                o.reason = reason.clone();
                o.continue_on_error = *continue_on_error;
                o.finished_at = Some(line.time);
            }),
            Event::RunFinished { status, .. } => {
                self.status = *status;
                self.finished_at = Some(line.time);
                true
            }
            Event::StageStarted { .. }
            | Event::StageFinished { .. }
            | Event::OpCheckFinished { .. }
            | Event::LockWait { .. }
            | Event::LockAcquired { .. }
            | Event::Progress { .. }
            | Event::RunCancelling { .. } => false,
        }
    }

    fn update(&mut self, id: &str, f: impl FnOnce(&mut OpState)) -> bool {
        match self.op_mut(id) {
            Some(o) => {
                f(o);
                true
            }
            None => false,
        }
    }

    pub fn read(path: &Path) -> Result<RunState, StateError> {
        let text = std::fs::read_to_string(path).map_err(|source| StateError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| StateError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Writes atomically: a temp file in the same folder, fsync, rename.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::run_dir::write_atomic(path, &json)
    }
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
