//! `state.json`: where every operation of a run stands, for `resume`, `status`
//! and the `requires` check of later runs.
//!
//! A versioned projection of the run record (`StateFile::from(&RunRecord)`),
//! so it can never disagree with the reports; fingerprints come with the
//! plan's operations in `run_started`.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::record::failure::FailureClass;
use crate::record::run_record::{OpRecord, RunRecord};
use crate::record::status::{OpStatus, RunStatus};

pub const STATE_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateFile {
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
    /// Whether the run ran against goldsmith's simulated Azure. `None` only in
    /// a state.json written before goldsmith recorded it.
    #[serde(default)]
    pub simulated: Option<bool>,
    /// The kept simulated Azure it ran in (`--sim-state`), absolute.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sim_state: Option<String>,
    /// Config values chosen when the run started; `resume` keeps them.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty", default)]
    pub values: std::collections::BTreeMap<String, String>,
    /// `always` operations ran as cleanup after a failure or a cancellation:
    /// they may have undone what earlier operations made, so `resume` carries
    /// none of them over.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub cleanup_ran: bool,
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

impl OpState {
    /// Succeeded, already done, or switched off by its entry's `when:`: what
    /// every op of a module must be for the module to count as run.
    pub fn done_or_off(&self) -> bool {
        self.status.is_ok()
            || (self.status == OpStatus::Skipped
                && self
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with(super::status::OFF_PREFIX)))
    }
}

impl StateFile {
    pub fn op(&self, id: &str) -> Option<&OpState> {
        self.ops.iter().find(|o| o.id == id)
    }
}

impl From<&RunRecord> for StateFile {
    fn from(run: &RunRecord) -> Self {
        StateFile {
            version: STATE_VERSION,
            run_id: run.run_id.clone(),
            module: run.module.clone(),
            module_file: run.module_file.clone(),
            status: run.status.unwrap_or(RunStatus::Running),
            started_at: run.started_at.unwrap_or_else(Timestamp::now),
            finished_at: run.finished_at,
            resumed_from: run.resumed_from.clone(),
            simulated: Some(run.setup.simulated),
            sim_state: run.setup.sim_state.clone(),
            values: run.setup.values.clone(),
            cleanup_ran: run.cleanup.is_some(),
            ops: run.ops.iter().map(OpState::from).collect(),
        }
    }
}

impl From<&OpRecord> for OpState {
    fn from(op: &OpRecord) -> Self {
        OpState {
            id: op.meta.id.clone(),
            stage: op.meta.stage,
            status: op.status,
            attempts: op.attempts.len() as u32,
            exit_code: op.exit_code,
            failure_class: op.failure_class,
            reason: op.reason.clone(),
            started_at: op.started_at,
            finished_at: op.finished_at,
            duration: op.finished_at.map(|_| op.duration),
            fingerprint: op.meta.fingerprint.clone(),
            continue_on_error: op.continue_on_error,
        }
    }
}
