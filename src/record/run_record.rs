//! The whole story of one run, folded from its events: the one fold of the
//! event stream. Every reporter reads it (the console, JUnit, the step
//! summary, annotations, outputs, the check run), and `state.json` is a
//! projection of it (`record::state::StateFile`).

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::record::event::{
    AttemptOutcome, AttemptResult, CancelReason, CleanupCause, Event, EventLine, PlannedOpRef,
    RunSetup, UpdateRun,
};
use crate::record::failure::FailureClass;
use crate::record::status::{OpStatus, RunStatus};

#[derive(Clone, Debug, Default, Serialize)]
pub struct RunRecord {
    pub run_id: String,
    pub module: String,
    pub module_file: String,
    pub resumed_from: Option<String>,
    /// Simulated or real, and the values chosen when it started.
    pub setup: RunSetup,
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
    /// The cleanup phase, when `always` operations ran after a failure or a cancellation.
    pub cleanup: Option<CleanupPhase>,
    /// Op id → index in `ops`, so folding a long run stays linear.
    #[serde(skip)]
    index: std::collections::HashMap<String, usize>,
    /// Counts the events that changed the record, so a projection knows when it is stale.
    #[serde(skip)]
    revision: u64,
}

/// Why the cleanup ran and which operations it started with.
#[derive(Clone, Debug, Serialize)]
pub struct CleanupPhase {
    pub after: CleanupCause,
    pub ops: Vec<String>,
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

    /// The values its passing attempt reported (`##goldsmith-output:`).
    pub fn outputs(&self) -> Option<&std::collections::BTreeMap<String, String>> {
        let last = self.attempts.last()?;
        let passed = self.status == OpStatus::Succeeded && last.outcome.passed();
        last.outcome.outputs.as_deref().filter(|_| passed)
    }

    /// What a windows-update operation's last attempt did; `None` for any other operation.
    pub fn update_run(&self) -> Option<&UpdateRun> {
        self.attempts.last()?.outcome.updates.as_deref()
    }

    pub fn reboot_required(&self) -> bool {
        self.attempts
            .last()
            .is_some_and(|a| a.outcome.reboot_required || a.outcome.reboot_started)
    }
}

impl RunRecord {
    /// The operation before whose attempt goldsmith restarted the VM because
    /// `id`'s result asked for it (3010, a Windows Update round), if any.
    pub fn restarted_for(&self, id: &str) -> Option<&str> {
        self.ops
            .iter()
            .filter(|o| o.meta.id != id)
            .find(|o| {
                o.attempts
                    .iter()
                    .any(|a| a.outcome.restarted_for.as_deref() == Some(id))
            })
            .map(|o| o.meta.id.as_str())
    }

    pub fn op(&self, id: &str) -> Option<&OpRecord> {
        self.index.get(id).map(|&i| &self.ops[i])
    }

    fn op_mut(&mut self, id: &str) -> Option<&mut OpRecord> {
        self.index.get(id).map(|&i| &mut self.ops[i])
    }

    pub fn count(&self, status: OpStatus) -> usize {
        self.ops.iter().filter(|o| o.status == status).count()
    }

    /// Every value a succeeded operation reported, `(op, name, value)` in plan order.
    pub fn outputs(&self) -> Vec<(&str, &str, &str)> {
        self.ops
            .iter()
            .flat_map(|o| {
                o.outputs()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (o.meta.id.as_str(), k.as_str(), v.as_str()))
            })
            .collect()
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
                setup,
                ..
            } => {
                self.setup = setup.clone();
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
            Event::CleanupStarted { after, ops } => {
                self.cleanup = Some(CleanupPhase {
                    after: after.clone(),
                    ops: ops.clone(),
                });
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
            | Event::AzureSignedIn { .. }
            | Event::UpdateRoundFinished { .. }
            | Event::VmRestarted { .. }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::event::{
        AttemptEnd, AttemptResult, EVENTS_VERSION, LockName, OpEnd, OpKind, RunningOp,
    };
    use crate::record::state::StateFile;
    use crate::record::status::FailFast;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(1_700_000_000_000 + ms).expect("a valid time")
    }

    fn line(ms: i64, event: Event) -> EventLine {
        EventLine {
            version: EVENTS_VERSION,
            time: at(ms),
            event,
        }
    }

    fn planned(id: &str, stage: usize) -> PlannedOpRef {
        PlannedOpRef {
            id: id.to_string(),
            stage,
            name: id.to_string(),
            kind: OpKind::Shell,
            capability: "compute".to_string(),
            file: format!("capabilities/compute/operations/{id}.yaml"),
            line: 1,
            entry_line: 3,
            locks: vec![LockName::vm("RG", "VM")],
            fingerprint: format!("fp-{id}"),
        }
    }

    fn run_started() -> Event {
        Event::RunStarted {
            run_id: "r1".into(),
            module: "m".into(),
            module_file: "modules/m/module.yaml".into(),
            resumed_from: Some("r0".into()),
            max_parallel: 2,
            fail_fast: FailFast::FinishStage,
            ops: vec![planned("a", 1), planned("b", 2)],
            stages: 2,
            setup: RunSetup::default(),
        }
    }

    fn attempt(op: &str, attempt: u32, result: AttemptResult, retry: bool) -> Event {
        Event::OpAttemptFinished {
            op: op.into(),
            end: AttemptEnd {
                attempt,
                outcome: AttemptOutcome::new(result, "msg"),
                duration: Duration::from_secs(1),
                retry_in: retry.then_some(Duration::from_secs(2)),
            },
        }
    }

    fn fold(lines: &[EventLine]) -> RunRecord {
        let mut run = RunRecord::default();
        for l in lines {
            run.apply(l);
        }
        run
    }

    /// `a` fails once with exit code 2, passes on the retry; `b` is skipped without starting.
    fn flaky_run() -> Vec<EventLine> {
        let fail = AttemptResult::Fail {
            class: FailureClass::ExitCode,
            exit_code: Some(2),
            signal: None,
        };
        vec![
            line(0, run_started()),
            line(
                10,
                Event::OpStarted {
                    op: "a".into(),
                    stage: 1,
                    lock_wait: Duration::from_millis(5),
                },
            ),
            line(
                10,
                Event::OpAttemptStarted {
                    op: "a".into(),
                    attempt: 1,
                },
            ),
            line(1010, attempt("a", 1, fail, true)),
            line(
                3010,
                Event::OpAttemptStarted {
                    op: "a".into(),
                    attempt: 2,
                },
            ),
            line(
                4010,
                attempt("a", 2, AttemptResult::Pass { exit_code: Some(0) }, false),
            ),
            line(
                4010,
                Event::OpFinished {
                    op: "a".into(),
                    end: OpEnd {
                        status: OpStatus::Succeeded,
                        attempts: 2,
                        duration: Duration::from_secs(4),
                        exit_code: Some(0),
                        failure_class: None,
                        reason: None,
                        log_tail: Vec::new(),
                    },
                    continue_on_error: false,
                },
            ),
            line(
                4020,
                Event::OpFinished {
                    op: "b".into(),
                    end: OpEnd::without_running(OpStatus::Skipped, None, "not selected".into()),
                    continue_on_error: false,
                },
            ),
            line(
                4030,
                Event::RunFinished {
                    status: RunStatus::Succeeded,
                    duration: Duration::from_secs(4),
                    peak_rss_kib: 1,
                },
            ),
        ]
    }

    #[test]
    fn a_run_folds_into_one_record() {
        let run = fold(&flaky_run());
        assert_eq!(run.run_id, "r1");
        assert_eq!(run.resumed_from.as_deref(), Some("r0"));
        assert_eq!(run.status, Some(RunStatus::Succeeded));
        assert_eq!(
            (run.started_at, run.finished_at),
            (Some(at(0)), Some(at(4030)))
        );
        let a = run.op("a").expect("a");
        assert_eq!(a.status, OpStatus::Succeeded);
        assert_eq!(a.attempts.len(), 2);
        assert_eq!(
            a.attempts[0].outcome.failure_class(),
            Some(FailureClass::ExitCode)
        );
        assert_eq!(a.attempts[0].retry_in, Some(Duration::from_secs(2)));
        assert_eq!(a.attempts[1].finished_at, Some(at(4010)));
        assert_eq!((a.exit_code, a.failure_class), (Some(0), None));
        assert_eq!(a.lock_wait, Duration::from_millis(5));
        assert!(a.is_flaky());
        let b = run.op("b").expect("b");
        assert_eq!(b.status, OpStatus::Skipped);
        assert_eq!(b.reason.as_deref(), Some("not selected"));
        assert_eq!(b.started_at, None);
        assert_eq!((run.count(OpStatus::Succeeded), run.flaky()), (1, 1));
    }

    #[test]
    fn state_json_is_a_projection_of_the_record() {
        let state = StateFile::from(&fold(&flaky_run()));
        assert_eq!(state.status, RunStatus::Succeeded);
        assert_eq!(state.resumed_from.as_deref(), Some("r0"));
        let a = state.op("a").expect("a");
        assert_eq!((a.attempts, a.exit_code), (2, Some(0)));
        assert_eq!(a.duration, Some(Duration::from_secs(4)));
        assert_eq!(a.fingerprint, "fp-a");
        assert_eq!(a.started_at, Some(at(10)));
        let b = state.op("b").expect("b");
        assert_eq!((b.status, b.attempts), (OpStatus::Skipped, 0));
        assert_eq!(b.duration, Some(Duration::ZERO));
        assert_eq!(b.fingerprint, "fp-b");
    }

    #[test]
    fn while_an_op_runs_its_state_shows_the_latest_attempt() {
        let run = fold(&flaky_run()[..4]);
        let state = StateFile::from(&run);
        assert_eq!(state.status, RunStatus::Running);
        assert_eq!(state.finished_at, None);
        let a = state.op("a").expect("a");
        assert_eq!(a.status, OpStatus::Running);
        assert_eq!(a.attempts, 1);
        assert_eq!(
            (a.exit_code, a.failure_class),
            (Some(2), Some(FailureClass::ExitCode))
        );
        assert_eq!(a.duration, None);
        assert_eq!(state.op("b").expect("b").status, OpStatus::Pending);
    }

    #[test]
    fn only_events_that_change_the_record_move_its_revision() {
        let mut run = fold(&flaky_run()[..2]);
        let before = run.revision();
        for event in [
            Event::Progress {
                running: vec![RunningOp {
                    op: "a".into(),
                    elapsed: Duration::from_secs(1),
                    expected: None,
                    step: None,
                }],
            },
            Event::StageStarted {
                stage: 1,
                group: None,
            },
            Event::LockWait {
                op: "b".into(),
                lock: LockName::vm("rg", "vm"),
                holder: "a".into(),
            },
            // An op the plan does not have changes nothing.
            Event::OpAttemptStarted {
                op: "nope".into(),
                attempt: 1,
            },
        ] {
            run.apply(&line(20, event));
        }
        assert_eq!(run.revision(), before);
        run.apply(&line(
            30,
            Event::OpCheckFinished {
                op: "a".into(),
                done: false,
                duration: Duration::ZERO,
            },
        ));
        assert_eq!(run.revision(), before + 1);
    }

    #[test]
    fn run_started_again_resets_the_record() {
        // The run directory's first state is folded from a `run_started` the
        // executor then emits again, a moment later.
        let mut run = fold(&flaky_run()[..3]);
        run.apply(&line(50, run_started()));
        assert_eq!(run.started_at, Some(at(50)));
        assert!(run.ops.iter().all(|o| o.status == OpStatus::Pending));
        assert!(run.op("a").expect("a").attempts.is_empty());
    }

    #[test]
    fn the_first_cancel_reason_is_kept() {
        let mut run = fold(&flaky_run()[..1]);
        for reason in [
            CancelReason::FailFast { op: "a".into() },
            CancelReason::Signal {
                signal: "SIGINT".into(),
            },
        ] {
            run.apply(&line(5, Event::RunCancelling { reason }));
        }
        assert_eq!(
            run.cancel_reason,
            Some(CancelReason::FailFast { op: "a".into() })
        );
    }
}
