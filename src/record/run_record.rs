//! The whole story of one run, folded from its events: the one fold of the
//! event stream. Every reporter reads it (the console, JUnit, the step
//! summary, annotations, outputs, the check run), and `state.json` is a
//! projection of it (`record::state::StateFile`).

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::record::event::{
    AttemptOutcome, AttemptResult, CancelReason, Event, EventLine, PlannedOpRef,
};
use crate::record::failure::FailureClass;
use crate::record::status::{OpStatus, RunStatus};

#[derive(Clone, Debug, Default, Serialize)]
pub struct RunRecord {
    pub run_id: String,
    pub module: String,
    pub module_file: String,
    pub resumed_from: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// `None` until `run_finished`.
    pub status: Option<RunStatus>,
    #[serde(with = "crate::record::serde_secs")]
    pub duration: Duration,
    pub stages: usize,
    pub ops: Vec<OpRecord>,
    /// Why the run stopped early, when it did.
    pub cancel_reason: Option<CancelReason>,
    /// Op id → index in `ops`, so folding a long run stays linear.
    #[serde(skip)]
    index: std::collections::HashMap<String, usize>,
    /// Counts the events that changed the record, so a projection knows when it is stale.
    #[serde(skip)]
    revision: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct OpRecord {
    pub meta: PlannedOpRef,
    pub status: OpStatus,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    #[serde(with = "crate::record::serde_secs")]
    pub duration: Duration,
    #[serde(with = "crate::record::serde_secs")]
    pub lock_wait: Duration,
    pub attempts: Vec<AttemptRecord>,
    pub exit_code: Option<i32>,
    pub failure_class: Option<FailureClass>,
    /// The failure message or the skip reason.
    pub reason: Option<String>,
    pub continue_on_error: bool,
    /// The last lines of the log (redacted), when it failed.
    pub log_tail: Vec<String>,
    /// The idempotency check found the work done.
    pub already_done: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct AttemptRecord {
    pub number: u32,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    #[serde(with = "crate::record::serde_secs")]
    pub duration: Duration,
    pub outcome: AttemptOutcome,
    /// Another attempt followed after this delay.
    #[serde(with = "crate::record::serde_opt_secs")]
    pub retry_in: Option<Duration>,
}

impl OpRecord {
    /// Succeeded, but only after a failed attempt.
    pub fn is_flaky(&self) -> bool {
        self.status == OpStatus::Succeeded && self.attempts.len() > 1
    }

    /// Whether this op's failure fails the run.
    pub fn counts_as_failure(&self) -> bool {
        self.status == OpStatus::Failed && !self.continue_on_error
    }

    pub fn reboot_required(&self) -> bool {
        self.attempts
            .last()
            .is_some_and(|a| a.outcome.reboot_required || a.outcome.reboot_started)
    }
}

impl RunRecord {
    pub fn op(&self, id: &str) -> Option<&OpRecord> {
        self.index.get(id).map(|&i| &self.ops[i])
    }

    fn op_mut(&mut self, id: &str) -> Option<&mut OpRecord> {
        self.index.get(id).map(|&i| &mut self.ops[i])
    }

    pub fn count(&self, status: OpStatus) -> usize {
        self.ops.iter().filter(|o| o.status == status).count()
    }

    /// Succeeded only after a failed attempt.
    pub fn flaky(&self) -> usize {
        self.ops.iter().filter(|o| o.is_flaky()).count()
    }

    /// Changes each time an event changes the record.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Folds one event in.
    pub fn apply(&mut self, line: &EventLine) {
        if self.fold(line) {
            self.revision += 1;
        }
    }

    /// Returns whether the event changed anything.
    fn fold(&mut self, line: &EventLine) -> bool {
        let time = line.time;
        match &line.event {
            Event::RunStarted {
                run_id,
                module,
                module_file,
                resumed_from,
                ops,
                stages,
                ..
            } => {
                self.run_id = run_id.clone();
                self.module = module.clone();
                self.module_file = module_file.clone();
                self.resumed_from = resumed_from.clone();
                self.started_at = Some(time);
                self.stages = *stages;
                self.ops = ops
                    .iter()
                    .map(|meta| OpRecord {
                        meta: meta.clone(),
                        status: OpStatus::Pending,
                        started_at: None,
                        finished_at: None,
                        duration: Duration::ZERO,
                        lock_wait: Duration::ZERO,
                        attempts: Vec::new(),
                        exit_code: None,
                        failure_class: None,
                        reason: None,
                        continue_on_error: false,
                        log_tail: Vec::new(),
                        already_done: false,
                    })
                    .collect();
                self.index = self
                    .ops
                    .iter()
                    .enumerate()
                    .map(|(i, o)| (o.meta.id.clone(), i))
                    .collect();
                true
            }
            Event::OpStarted { op, lock_wait, .. } => self.update(op, |o| {
                o.status = OpStatus::Running;
                o.started_at = Some(time);
                o.lock_wait = *lock_wait;
            }),
            Event::OpCheckFinished { op, done, .. } => self.update(op, |o| o.already_done = *done),
            Event::OpAttemptStarted { op, attempt } => self.update(op, |o| {
                o.attempts.push(AttemptRecord {
                    number: *attempt,
                    started_at: Some(time),
                    finished_at: None,
                    duration: Duration::ZERO,
                    // Until its end arrives (`finished_at` says whether it did).
                    outcome: AttemptOutcome::new(AttemptResult::Cancelled, "running"),
                    retry_in: None,
                })
            }),
            Event::OpAttemptFinished { op, end } => self.update(op, |o| {
                // While it runs, the op shows its latest attempt's exit code and class.
                o.exit_code = end.outcome.exit_code();
                o.failure_class = end.outcome.failure_class();
                if let Some(a) = o
                    .attempts
                    .iter_mut()
                    .rev()
                    .find(|a| a.number == end.attempt)
                {
                    a.finished_at = Some(time);
                    a.duration = end.duration;
                    a.outcome = end.outcome.clone();
                    a.retry_in = end.retry_in;
                }
            }),
            Event::OpFinished {
                op,
                end,
                continue_on_error,
            } => self.update(op, |o| {
                o.status = end.status;
                o.finished_at = Some(time);
                o.duration = end.duration;
                o.exit_code = end.exit_code;
                o.failure_class = end.failure_class;
                o.reason = end.reason.clone();
                o.continue_on_error = *continue_on_error;
                o.log_tail = end.log_tail.clone();
            }),
            Event::RunCancelling { reason } => {
                self.cancel_reason.get_or_insert_with(|| reason.clone());
                true
            }
            Event::RunFinished {
                status, duration, ..
            } => {
                self.status = Some(*status);
                self.duration = *duration;
                self.finished_at = Some(time);
                true
            }
            Event::StageStarted { .. }
            | Event::StageFinished { .. }
            | Event::LockWait { .. }
            | Event::LockAcquired { .. }
            | Event::Progress { .. } => false,
        }
    }

    fn update(&mut self, id: &str, f: impl FnOnce(&mut OpRecord)) -> bool {
        match self.op_mut(id) {
            Some(o) => {
                f(o);
                true
            }
            None => false,
        }
    }
}
