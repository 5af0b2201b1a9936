//! The decisions of a run, without tokio or clocks: what starts when, what
//! stops it, and what each unit's report means for the event stream.
//!
//! The driver (`executor`) feeds in every input (unit reports, signals, a
//! reporter that cannot write, progress ticks) with the moment it handles it,
//! and carries out the `Actions` that come back. Time is only ever a
//! parameter, so the decisions can be tested message by message.
//!
//! An op may start when the ops it waits for are done (all earlier stages,
//! or its `depends_on`), when it is first in list order among the pending
//! holders of each of its locks, and when fewer than `max_parallel` run.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::executor::{ExecOptions, Preset};
use super::process::Stop;
use super::unit::{Report, UnitMsg};
use crate::plan::{LockName, Plan};
use crate::record::event::{EVENTS_VERSION, Event, EventLine, PlannedOpRef, RunningOp};
use crate::record::failure::FailureClass;
use crate::record::status::{FailFast, OpStatus, RunStatus};

/// The moment an input is handled: `instant` measures waits, `time` stamps events.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    pub instant: Instant,
    pub time: jiff::Timestamp,
}

/// What the driver does after one input, in this order.
#[derive(Debug, Default)]
pub struct Actions {
    /// Events for the sink.
    pub events: Vec<EventLine>,
    /// Ops (indexes into `Plan::ops`) to spawn a unit for; they already count as running.
    pub start: Vec<usize>,
    /// What to ask of every running unit.
    pub stop: Option<Stop>,
}

impl Actions {
    fn emit(&mut self, time: jiff::Timestamp, event: Event) {
        self.events.push(EventLine {
            version: EVENTS_VERSION,
            time,
            event,
        });
    }

    /// Asks for `stop`, unless something stronger is already asked.
    fn ask(&mut self, stop: Stop) {
        self.stop = self.stop.max(Some(stop));
    }
}

/// Why a run stops early.
#[derive(Clone, Debug)]
enum Stopping {
    /// `fail-fast: cancel` after this op failed.
    AfterFailure(String),
    /// A signal (name).
    Signal(&'static str),
    /// A reporter could not write.
    Sink,
}

impl Stopping {
    /// The `RunCancelling` reason.
    fn reason(&self) -> String {
        match self {
            Stopping::AfterFailure(op) => {
                format!("`{op}` failed and fail-fast is `cancel`: terminating running operations")
            }
            Stopping::Signal(name) => format!("received {name}: terminating running operations"),
            Stopping::Sink => {
                "a report could not be written: terminating running operations".to_string()
            }
        }
    }

    /// What becomes of an op that has not started.
    fn unstarted(&self) -> Decision {
        let (status, reason) = match self {
            Stopping::Signal(name) => (
                OpStatus::Cancelled,
                format!("run cancelled by {name} before it started"),
            ),
            Stopping::AfterFailure(op) => (
                OpStatus::Skipped,
                format!("not started: `{op}` failed and fail-fast is `cancel`"),
            ),
            Stopping::Sink => (
                OpStatus::Skipped,
                "not started: a report could not be written".to_string(),
            ),
        };
        Decision::Finish {
            status,
            failure_class: None,
            reason,
        }
    }
}

/// What to do with a pending op in this round.
enum Decision {
    /// Leave it pending.
    NotYet,
    /// It ends without running.
    Finish {
        status: OpStatus,
        failure_class: Option<FailureClass>,
        reason: String,
    },
    /// Ready, but `holder` is ahead of it in line for `lock`.
    WaitForLock {
        lock: String,
        holder: usize,
    },
    Start,
}

impl Decision {
    fn skip(reason: String) -> Decision {
        Decision::Finish {
            status: OpStatus::Skipped,
            failure_class: None,
            reason,
        }
    }
}

struct Slot {
    status: OpStatus,
    started: Option<Instant>,
    lock_wait_since: Option<Instant>,
    /// Failed and `continue_on_error` is not set.
    counts_as_failure: bool,
}

/// The state of one run's scheduling, from `begin` to `finish`.
pub struct Scheduler {
    plan: Arc<Plan>,
    opts: ExecOptions,
    slots: Vec<Slot>,
    /// For each lock, the ops that hold it, in list order.
    lock_queues: HashMap<LockName, Vec<usize>>,
    /// Ops not yet terminal, by stage number (index 0 unused).
    stage_remaining: Vec<usize>,
    stage_started: Vec<bool>,
    /// Leading stages whose ops are all terminal.
    done_prefix: usize,
    running: usize,
    /// The first stage in which an op failed (and the op).
    failed_stage: Option<(usize, String)>,
    stopping: Option<Stopping>,
    /// What the current input has produced so far.
    out: Actions,
}

impl Scheduler {
    pub fn new(plan: Arc<Plan>, opts: ExecOptions) -> Self {
        let mut lock_queues: HashMap<LockName, Vec<usize>> = HashMap::new();
        for (i, op) in plan.ops.iter().enumerate() {
            for lock in &op.locks {
                lock_queues.entry(lock.clone()).or_default().push(i);
            }
        }
        let stage_remaining = std::iter::once(0)
            .chain(plan.stages.iter().map(|s| s.ops.len()))
            .collect();
        let slots = plan
            .ops
            .iter()
            .map(|_| Slot {
                status: OpStatus::Pending,
                started: None,
                lock_wait_since: None,
                counts_as_failure: false,
            })
            .collect();
        Scheduler {
            stage_started: vec![false; plan.stages.len() + 1],
            plan,
            opts,
            slots,
            lock_queues,
            stage_remaining,
            done_prefix: 0,
            running: 0,
            failed_stage: None,
            stopping: None,
            out: Actions::default(),
        }
    }

    /// The run starts: `RunStarted`, then the ops decided beforehand, in plan order.
    pub fn begin(&mut self, now: Now) -> Actions {
        let started = self.run_started();
        self.out.emit(now.time, started);
        let mut presets: Vec<(usize, Preset)> = self.opts.presets.drain().collect();
        presets.sort_by_key(|(i, _)| *i);
        for (i, preset) in presets {
            let (status, reason) = match preset {
                Preset::Skip(r) => (OpStatus::Skipped, r),
                Preset::CarriedOver(r) => (OpStatus::Succeeded, r),
            };
            self.finish_without_running(i, status, None, reason, now);
        }
        self.take()
    }

    /// One round over the pending ops, in list order: start, skip or leave each.
    pub fn schedule(&mut self, now: Now) -> Actions {
        for i in 0..self.slots.len() {
            if self.slots[i].status != OpStatus::Pending {
                continue;
            }
            match self.decide(i) {
                Decision::NotYet => {}
                Decision::Finish {
                    status,
                    failure_class,
                    reason,
                } => self.finish_without_running(i, status, failure_class, reason, now),
                Decision::WaitForLock { lock, holder } => self.wait_for_lock(i, lock, holder, now),
                Decision::Start => self.start(i, now),
            }
        }
        self.take()
    }

    /// A unit's report, stamped with the time it happened.
    pub fn report(&mut self, (at, msg): Report, now: Now) -> Actions {
        self.handle(at, msg, now);
        self.take()
    }

    /// The unit of `op` ended without reporting `Finished` (it panicked).
    pub fn unit_lost(&mut self, op: usize, error: &dyn Display, now: Now) -> Actions {
        let reason = format!("internal error in goldsmith: {error} (this is a bug in goldsmith)");
        self.finish_without_running(op, OpStatus::Failed, Some(FailureClass::Spawn), reason, now);
        self.take()
    }

    /// SIGINT or SIGTERM: the first terminates running ops, the second kills them.
    pub fn signal(&mut self, name: &'static str, now: Now) -> Actions {
        if matches!(self.stopping, Some(Stopping::Signal(_))) {
            let reason = format!("second signal ({name}): killing every running operation");
            self.out.emit(now.time, Event::RunCancelling { reason });
            self.out.ask(Stop::Kill);
        } else {
            self.begin_stop(Stopping::Signal(name), now);
        }
        self.take()
    }

    /// A reporter could not write: the run stops.
    pub fn sink_failed(&mut self, now: Now) -> Actions {
        self.begin_stop(Stopping::Sink, now);
        self.take()
    }

    /// The ops running now and for how long (nothing when none runs).
    pub fn progress(&mut self, now: Now) -> Actions {
        let running: Vec<RunningOp> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.status == OpStatus::Running)
            .map(|(i, s)| RunningOp {
                op: self.plan.ops[i].id.clone(),
                elapsed: s
                    .started
                    .map(|t| now.instant.saturating_duration_since(t))
                    .unwrap_or_default(),
            })
            .collect();
        if !running.is_empty() {
            self.out.emit(now.time, Event::Progress { running });
        }
        self.take()
    }

    /// Every op is terminal: the run can finish.
    pub fn is_done(&self) -> bool {
        self.running == 0 && self.slots.iter().all(|s| s.status.is_terminal())
    }

    /// The run's status and its `RunFinished` event; `duration` and
    /// `peak_rss_kib` are measured by the driver.
    pub fn finish(
        &mut self,
        now: Now,
        duration: Duration,
        peak_rss_kib: u64,
    ) -> (RunStatus, Actions) {
        let status = match (&self.stopping, &self.failed_stage) {
            (Some(Stopping::Signal(_)), _) => RunStatus::Cancelled,
            (Some(Stopping::Sink), _) | (_, Some(_)) => RunStatus::Failed,
            _ => RunStatus::Succeeded,
        };
        self.out.emit(
            now.time,
            Event::RunFinished {
                status,
                duration,
                peak_rss_kib,
            },
        );
        (status, self.take())
    }

    fn take(&mut self) -> Actions {
        std::mem::take(&mut self.out)
    }

    /// What pending op `i` does in this round; the checks go in this order.
    fn decide(&self, i: usize) -> Decision {
        if let Some(why) = &self.stopping {
            return why.unstarted();
        }
        let op = &self.plan.ops[i];
        if op.waits_for_stage && self.done_prefix < op.stage - 1 {
            return Decision::NotYet;
        }
        if op
            .depends_on
            .iter()
            .any(|&d| !self.slots[d].status.is_terminal())
        {
            return Decision::NotYet;
        }
        if self.opts.fail_fast != FailFast::Continue
            && let Some((failed, who)) = &self.failed_stage
            && op.stage > *failed
        {
            return Decision::skip(format!("not started: `{who}` failed in stage {failed}"));
        }
        if let Some(&d) = op.depends_on.iter().find(|&&d| !self.dep_ok(d)) {
            return Decision::skip(format!(
                "not started: dependency `{}` {}",
                self.plan.ops[d].id, self.slots[d].status
            ));
        }
        if let Some(req) = op
            .requires_outside
            .iter()
            .find(|r| !r.optional && !self.opts.external.get(&r.id).copied().unwrap_or(false))
        {
            return Decision::Finish {
                status: OpStatus::Failed,
                failure_class: Some(FailureClass::UnmetRequirement),
                reason: format!(
                    "requires `{}`, which has not succeeded in this or an earlier run",
                    req.id
                ),
            };
        }
        // Locks go in list order: the first unfinished holder of each lock may take it.
        let blocked = op.locks.iter().find_map(|l| {
            let first = *self.lock_queues[l]
                .iter()
                .find(|&&j| !self.slots[j].status.is_terminal())?;
            (first != i).then(|| (l.0.clone(), first))
        });
        if let Some((lock, holder)) = blocked {
            return Decision::WaitForLock { lock, holder };
        }
        if self.running >= self.opts.max_parallel {
            return Decision::NotYet;
        }
        Decision::Start
    }

    /// A finished dependency lets its dependents run.
    fn dep_ok(&self, d: usize) -> bool {
        let s = &self.slots[d];
        s.status.is_ok() || (s.status == OpStatus::Failed && !s.counts_as_failure)
    }

    /// Says once that op `i` waits for `holder`, and from when.
    fn wait_for_lock(&mut self, i: usize, lock: String, holder: usize, now: Now) {
        if self.slots[i].lock_wait_since.is_some() {
            return;
        }
        self.slots[i].lock_wait_since = Some(now.instant);
        let op = self.plan.ops[i].id.clone();
        let holder = self.plan.ops[holder].id.clone();
        self.out
            .emit(now.time, Event::LockWait { op, lock, holder });
    }

    fn start(&mut self, i: usize, now: Now) {
        let op = &self.plan.ops[i];
        let stage = op.stage;
        if !self.stage_started[stage] {
            self.stage_started[stage] = true;
            let group = self.plan.stages[stage - 1].parallel_group;
            self.out
                .emit(now.time, Event::StageStarted { stage, group });
        }
        let slot = &mut self.slots[i];
        let lock_wait = slot
            .lock_wait_since
            .map(|t| now.instant.saturating_duration_since(t))
            .unwrap_or_default();
        slot.status = OpStatus::Running;
        slot.started = Some(now.instant);
        self.running += 1;
        for lock in &op.locks {
            self.out.emit(
                now.time,
                Event::LockAcquired {
                    op: op.id.clone(),
                    lock: lock.0.clone(),
                    waited: lock_wait,
                },
            );
        }
        self.out.emit(
            now.time,
            Event::OpStarted {
                op: op.id.clone(),
                stage,
                lock_wait,
            },
        );
        self.out.start.push(i);
    }

    fn finish_without_running(
        &mut self,
        i: usize,
        status: OpStatus,
        failure_class: Option<FailureClass>,
        reason: String,
        now: Now,
    ) {
        let msg = UnitMsg::Finished {
            op: i,
            status,
            attempts: 0,
            duration: Duration::ZERO,
            exit_code: None,
            failure_class,
            reason: Some(reason),
            log_tail: Vec::new(),
        };
        self.handle(now.time, msg, now);
    }

    /// Turns a unit's message, which happened `at`, into events.
    fn handle(&mut self, at: jiff::Timestamp, msg: UnitMsg, now: Now) {
        let event = match msg {
            UnitMsg::CheckFinished { op, done, duration } => Event::OpCheckFinished {
                op: self.plan.ops[op].id.clone(),
                done,
                duration,
            },
            UnitMsg::AttemptStarted { op, attempt } => Event::OpAttemptStarted {
                op: self.plan.ops[op].id.clone(),
                attempt,
            },
            UnitMsg::AttemptFinished {
                op,
                attempt,
                outcome,
                duration,
                retry_in,
            } => Event::OpAttemptFinished {
                op: self.plan.ops[op].id.clone(),
                attempt,
                outcome,
                duration,
                retry_in,
            },
            UnitMsg::Finished {
                op: i,
                status,
                attempts,
                duration,
                exit_code,
                failure_class,
                reason,
                log_tail,
            } => {
                if !self.settle(i, status) {
                    return;
                }
                let op = &self.plan.ops[i];
                let finished = Event::OpFinished {
                    op: op.id.clone(),
                    status,
                    attempts,
                    duration,
                    exit_code,
                    failure_class,
                    reason,
                    continue_on_error: op.continue_on_error && status == OpStatus::Failed,
                    log_tail,
                };
                self.out.emit(at, finished);
                self.after_finished(i, at, now);
                return;
            }
        };
        self.out.emit(at, event);
    }

    /// Records op `i`'s terminal status; false when it already had one.
    fn settle(&mut self, i: usize, status: OpStatus) -> bool {
        let slot = &mut self.slots[i];
        if slot.status.is_terminal() {
            return false;
        }
        if slot.status == OpStatus::Running {
            self.running -= 1;
        }
        slot.status = status;
        slot.counts_as_failure = status == OpStatus::Failed && !self.plan.ops[i].continue_on_error;
        true
    }

    /// Stage bookkeeping after op `i` finished, and what its failure means for the run.
    fn after_finished(&mut self, i: usize, at: jiff::Timestamp, now: Now) {
        let stage = self.plan.ops[i].stage;
        self.stage_remaining[stage] -= 1;
        if self.stage_remaining[stage] == 0 && self.stage_started[stage] {
            self.out.emit(at, Event::StageFinished { stage });
        }
        while self.done_prefix < self.plan.stages.len()
            && self.stage_remaining[self.done_prefix + 1] == 0
        {
            self.done_prefix += 1;
        }
        if !self.slots[i].counts_as_failure {
            return;
        }
        let id = self.plan.ops[i].id.clone();
        if self.failed_stage.as_ref().is_none_or(|(s, _)| stage < *s) {
            self.failed_stage = Some((stage, id.clone()));
        }
        if self.opts.fail_fast == FailFast::Cancel && self.stopping.is_none() {
            self.begin_stop(Stopping::AfterFailure(id), now);
        }
    }

    fn begin_stop(&mut self, why: Stopping, now: Now) {
        if matches!(self.stopping, Some(Stopping::Signal(_))) {
            return;
        }
        let reason = why.reason();
        self.stopping = Some(why);
        self.out.emit(now.time, Event::RunCancelling { reason });
        self.out.ask(Stop::Terminate);
    }

    fn run_started(&self) -> Event {
        Event::RunStarted {
            run_id: self.opts.run_id.clone(),
            module: self.plan.module.id.clone(),
            module_file: self.plan.module.file.display().to_string(),
            resumed_from: self.opts.resumed_from.clone(),
            max_parallel: self.opts.max_parallel,
            fail_fast: self.opts.fail_fast,
            ops: self
                .plan
                .ops
                .iter()
                .map(|o| PlannedOpRef {
                    id: o.id.clone(),
                    stage: o.stage,
                    name: o.name.clone(),
                    kind: o.kind.name().to_string(),
                    capability: o.capability.clone(),
                    file: o.file.display().to_string(),
                    line: o.line,
                    entry_line: o.entry_line,
                    locks: o.locks.iter().map(|l| l.0.clone()).collect(),
                })
                .collect(),
            stages: self.plan.stages.len(),
        }
    }
}
