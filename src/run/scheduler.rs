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
//!
//! In every fail-fast mode an op never runs after something it waits for
//! failed, or was itself not run because of a failure: such ops carry the
//! failure that stopped them (`Slot::taint`), so the rule is transitive.
//!
//! An op its entry's `when:` switched off ends skipped when the run begins;
//! what waits for it goes on as after a success.
//!
//! After a failure or a cancellation, `always: true` ops that have not run
//! wait until everything else has stopped, then run one at a time in list
//! order, whatever happened to what they wait for (the cleanup; `cleanup`
//! holds its clock after a signal).

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::cleanup::{CleanupClock, Due};
use super::process::Stop;
use super::unit::{Report, UnitMsg};
use crate::duration::format_duration;
use crate::plan::Plan;
use crate::record::event::{
    CancelReason, CleanupCause, EVENTS_VERSION, Event, EventLine, LockName, OpEnd, RunSetup,
    RunningOp,
};
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
    /// What to ask of every running unit, cleanup units aside.
    pub stop: Option<Stop>,
    /// `always` ops to spawn: their units answer only to `stop_cleanup`, so
    /// what stops the run (a first signal, fail-fast `cancel`) does not stop a
    /// cleanup, in its place or after the others.
    pub start_cleanup: Vec<usize>,
    /// What to ask of the cleanup units.
    pub stop_cleanup: Option<Stop>,
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

/// An op decided before the run starts.
#[derive(Clone, Debug)]
pub enum Preset {
    /// Not run: not selected (`--only`, `--from`).
    Skip(String),
    /// Not run again: it succeeded in the run being resumed and has not changed.
    CarriedOver(String),
}

pub struct ExecOptions {
    pub run_id: String,
    pub max_parallel: usize,
    pub fail_fast: FailFast,
    pub progress_interval: Duration,
    pub presets: HashMap<usize, Preset>,
    /// `requires` outside the module: id → whether it succeeded in a recorded run.
    pub external: HashMap<String, bool>,
    pub resumed_from: Option<String>,
    /// Simulated or real, and the values chosen when the run started (`run_started`).
    pub setup: RunSetup,
    /// After a signal, how long until the cleanup must be over (`--cancel-budget`).
    pub cancel_budget: Duration,
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
    fn reason(&self) -> CancelReason {
        match self {
            Stopping::AfterFailure(op) => CancelReason::FailFast { op: op.clone() },
            Stopping::Signal(name) => CancelReason::Signal {
                signal: name.to_string(),
            },
            Stopping::Sink => CancelReason::ReportFailed,
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
            taint: None,
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
        /// The failure that keeps it from running, which it passes on.
        taint: Option<usize>,
    },
    /// Ready, but `holder` is ahead of it in line for `lock`.
    WaitForLock {
        lock: LockName,
        holder: usize,
    },
    Start,
    /// Start it as a cleanup op.
    StartCleanup,
}

impl Decision {
    fn skip(reason: String) -> Decision {
        Decision::Finish {
            status: OpStatus::Skipped,
            failure_class: None,
            reason,
            taint: None,
        }
    }

    /// Skipped because `root` failed.
    fn skip_after(root: usize, reason: String) -> Decision {
        Decision::Finish {
            status: OpStatus::Skipped,
            failure_class: None,
            reason,
            taint: Some(root),
        }
    }
}

struct Slot {
    status: OpStatus,
    started: Option<Instant>,
    lock_wait_since: Option<Instant>,
    /// Failed and `continue_on_error` is not set.
    counts_as_failure: bool,
    /// The failure (an op index, maybe its own) that this op failed by or was
    /// not run because of; whatever waits for it does not run either.
    taint: Option<usize>,
    /// Where the running op says it is (`UnitMsg::Step`), for progress lines.
    step: Option<String>,
}

/// The state of one run's scheduling, from `begin` to `finish`.
pub struct Scheduler {
    plan: Arc<Plan>,
    opts: ExecOptions,
    slots: Vec<Slot>,
    /// For each lock, the ops that hold it, in list order.
    lock_queues: HashMap<LockName, Vec<usize>>,
    /// Some op carries a taint: until then nothing needs a look at what an op waits for.
    tainted: bool,
    /// Ops not yet terminal, by stage number (index 0 unused).
    stage_remaining: Vec<usize>,
    stage_started: Vec<bool>,
    /// Leading stages whose ops are all terminal.
    done_prefix: usize,
    running: usize,
    /// The first stage in which an op failed (and the op).
    failed_stage: Option<(usize, usize)>,
    /// The first op that failed, in time.
    first_failure: Option<usize>,
    stopping: Option<Stopping>,
    /// The cleanup's budget after a signal.
    clock: CleanupClock,
    /// `CleanupStarted` was emitted: `always` ops now run as cleanup.
    cleanup_started: bool,
    /// Why cleanup ops that have not started never will (a second signal, the budget).
    cleanup_stopped: Option<String>,
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
                taint: None,
                step: None,
            })
            .collect();
        Scheduler {
            stage_started: vec![false; plan.stages.len() + 1],
            tainted: false,
            clock: CleanupClock::new(opts.cancel_budget),
            plan,
            opts,
            slots,
            lock_queues,
            stage_remaining,
            done_prefix: 0,
            running: 0,
            failed_stage: None,
            first_failure: None,
            stopping: None,
            cleanup_started: false,
            cleanup_stopped: None,
            out: Actions::default(),
        }
    }

    /// The run starts: `RunStarted`, then the ops decided beforehand, in plan order.
    pub fn begin(&mut self, now: Now) -> Actions {
        let started = run_started(&self.plan, &self.opts);
        self.out.emit(now.time, started);
        let plan = Arc::clone(&self.plan);
        for (i, op) in plan.ops.iter().enumerate() {
            if let Some(reason) = &op.off {
                self.finish_without_running(i, OpStatus::Skipped, None, reason.clone(), now);
            }
        }
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
    /// After a failure, a second pass lets a cleanup op start once the first
    /// has ended the ops after it in the list.
    pub fn schedule(&mut self, now: Now) -> Actions {
        self.pass(now);
        if self.troubled() {
            self.pass(now);
        }
        self.take()
    }

    fn pass(&mut self, now: Now) {
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
                    taint,
                } => {
                    self.finish_without_running(i, status, failure_class, reason, now);
                    self.slots[i].taint = self.slots[i].taint.or(taint);
                    self.tainted |= taint.is_some();
                }
                Decision::WaitForLock { lock, holder } => self.wait_for_lock(i, lock, holder, now),
                Decision::Start => self.start(i, now),
                Decision::StartCleanup => self.start_cleanup(i, now),
            }
        }
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

    /// SIGINT or SIGTERM: the first terminates running ops (a running cleanup
    /// goes on, within the budget), the second kills them and stops the cleanup.
    pub fn signal(&mut self, name: &'static str, now: Now) -> Actions {
        let signal = name.to_string();
        if matches!(self.stopping, Some(Stopping::Signal(_))) {
            if !self.cleanup_started {
                let reason = CancelReason::SecondSignal {
                    signal: signal.clone(),
                };
                self.out.emit(now.time, Event::RunCancelling { reason });
                self.out.ask(Stop::Kill);
            }
            self.stop_cleanup(
                CancelReason::CleanupStopped { signal },
                format!("not started: the cleanup was stopped by a second signal ({name})"),
                now,
            );
        } else if self.cleanup_started {
            self.clock.signalled(now.instant);
            self.stopping = Some(Stopping::Signal(name));
            let reason = CancelReason::SignalDuringCleanup {
                signal,
                budget: self.clock.budget(),
            };
            self.out.emit(now.time, Event::RunCancelling { reason });
        } else {
            self.clock.signalled(now.instant);
            self.begin_stop(Stopping::Signal(name), now);
        }
        self.take()
    }

    /// When `tick` has something to do (the cleanup's budget after a signal).
    pub fn next_due(&self) -> Option<Instant> {
        if self.cleanup_pending() {
            self.clock.next_due()
        } else {
            None
        }
    }

    /// Time has passed: after a signal, ops that do not stop are killed halfway
    /// through the budget, and the cleanup is stopped when it is spent.
    pub fn tick(&mut self, now: Now) -> Actions {
        loop {
            match self.clock.due(now.instant) {
                Due::Nothing => break,
                Due::KillRunning => {
                    let others_running = self
                        .plan
                        .ops
                        .iter()
                        .zip(&self.slots)
                        .any(|(op, s)| !op.always && s.status == OpStatus::Running);
                    if others_running && self.cleanup_pending() {
                        let after = self.clock.stop_window();
                        let reason = CancelReason::SlowToStop { after };
                        self.out.emit(now.time, Event::RunCancelling { reason });
                        self.out.ask(Stop::Kill);
                    }
                }
                Due::StopCleanup => {
                    let budget = self.clock.budget();
                    self.out.ask(Stop::Kill);
                    self.stop_cleanup(
                        CancelReason::CleanupBudgetSpent { budget },
                        format!(
                            "not started: the cancellation budget ({}) was spent",
                            format_duration(budget)
                        ),
                        now,
                    );
                }
            }
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
                expected: self.plan.ops[i].expected,
                step: s.step.clone(),
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
        let op = &self.plan.ops[i];
        if op.always && self.troubled() {
            return self.decide_cleanup();
        }
        if let Some(why) = &self.stopping {
            return why.unstarted();
        }
        // Only after trouble is an op deferred: no walk over what it waits for before.
        if let Some(a) = self
            .troubled()
            .then(|| self.waits(i).find(|&w| self.deferred(w)))
            .flatten()
        {
            let root = self.first_failure.unwrap_or(a);
            return Decision::skip_after(
                root,
                format!(
                    "not started: it waits for `{}`, which runs as cleanup after the failure of `{}`",
                    self.plan.ops[a].id, self.plan.ops[root].id
                ),
            );
        }
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
        if let Some(skip) = self.after_failure(i) {
            return skip;
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
                taint: None,
            };
        }
        // Locks go in list order: the first unfinished holder of each lock may take it.
        let blocked = op.locks.iter().find_map(|l| {
            let first = *self.lock_queues[l]
                .iter()
                .find(|&&j| !self.slots[j].status.is_terminal() && !self.deferred(j))?;
            (first != i).then(|| (l.clone(), first))
        });
        if let Some((lock, holder)) = blocked {
            return Decision::WaitForLock { lock, holder };
        }
        if self.running >= self.opts.max_parallel {
            return Decision::NotYet;
        }
        Decision::Start
    }

    /// The skip of op `i` when something it waits for failed or was not run
    /// because of a failure (every fail-fast mode), or, unless fail-fast is
    /// `continue`, when an earlier stage failed.
    fn after_failure(&self, i: usize) -> Option<Decision> {
        let op = &self.plan.ops[i];
        let tainted = self
            .tainted
            .then(|| {
                self.waits(i)
                    .find_map(|w| self.slots[w].taint.map(|root| (w, root)))
            })
            .flatten();
        if let Some((w, root)) = tainted {
            let (id, root_id) = (&self.plan.ops[w].id, &self.plan.ops[root].id);
            let reason = match (op.depends_on.contains(&w), w == root) {
                (true, true) => format!("not started: dependency `{id}` failed"),
                (true, false) => format!(
                    "not started: dependency `{id}` {} after `{root_id}` failed",
                    self.slots[w].status
                ),
                (false, _) => format!(
                    "not started: `{root_id}` failed in stage {}",
                    self.plan.ops[root].stage
                ),
            };
            return Some(Decision::skip_after(root, reason));
        }
        match self.failed_stage {
            Some((failed, who))
                if self.opts.fail_fast != FailFast::Continue && op.stage > failed =>
            {
                let id = &self.plan.ops[who].id;
                Some(Decision::skip_after(
                    who,
                    format!("not started: `{id}` failed in stage {failed}"),
                ))
            }
            _ => None,
        }
    }

    /// A pending cleanup op after a failure or a cancellation: it starts once
    /// everything else has stopped, one at a time, in list order.
    fn decide_cleanup(&self) -> Decision {
        if let Some(reason) = &self.cleanup_stopped {
            return Decision::Finish {
                status: OpStatus::Cancelled,
                failure_class: None,
                reason: reason.clone(),
                taint: None,
            };
        }
        let others_done = self
            .plan
            .ops
            .iter()
            .zip(&self.slots)
            .all(|(op, s)| op.always || s.status.is_terminal());
        if self.running > 0 || !others_done {
            return Decision::NotYet;
        }
        Decision::StartCleanup
    }

    /// Something went wrong: `always` ops not yet run are now cleanup.
    fn troubled(&self) -> bool {
        self.failed_stage.is_some() || self.stopping.is_some()
    }

    /// Op `j` is an `always` op held back for the cleanup.
    fn deferred(&self, j: usize) -> bool {
        self.plan.ops[j].always && self.slots[j].status == OpStatus::Pending && self.troubled()
    }

    /// Some `always` op has not ended yet.
    fn cleanup_pending(&self) -> bool {
        self.plan
            .ops
            .iter()
            .zip(&self.slots)
            .any(|(op, s)| op.always && !s.status.is_terminal())
    }

    /// Ends the cleanup: kills its running op and cancels the ones not started.
    fn stop_cleanup(&mut self, reason: CancelReason, unstarted: String, now: Now) {
        if self.cleanup_stopped.is_some() || !self.cleanup_pending() {
            return;
        }
        self.cleanup_stopped = Some(unstarted);
        self.out.emit(now.time, Event::RunCancelling { reason });
        self.out.stop_cleanup = Some(Stop::Kill);
    }

    /// Why the cleanup runs, for `CleanupStarted`.
    fn cleanup_cause(&self) -> CleanupCause {
        match &self.stopping {
            Some(Stopping::Signal(name)) => CleanupCause::Signal {
                signal: name.to_string(),
                budget: self.clock.budget(),
            },
            Some(Stopping::Sink) => CleanupCause::ReportFailed,
            Some(Stopping::AfterFailure(op)) => CleanupCause::Failure { op: op.clone() },
            None => CleanupCause::Failure {
                op: self
                    .first_failure
                    .map(|f| self.plan.ops[f].id.clone())
                    .unwrap_or_default(),
            },
        }
    }

    /// A finished dependency lets its dependents run; so does one its `when:` switched off.
    fn dep_ok(&self, d: usize) -> bool {
        let s = &self.slots[d];
        s.status.is_ok()
            || (s.status == OpStatus::Failed && !s.counts_as_failure)
            || self.plan.ops[d].off.is_some()
    }

    /// What op `i` waits for, in list order: its `depends_on`, and every op of
    /// an earlier stage unless its entry gave `depends_on` (which then narrows
    /// the wait). Computed when asked, not kept: kept lists grow with the
    /// square of the number of ops, and only a failure or a cancellation asks.
    fn waits(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let op = &self.plan.ops[i];
        (0..self.plan.ops.len()).filter(move |&j| {
            (op.waits_for_stage && self.plan.ops[j].stage < op.stage) || op.depends_on.contains(&j)
        })
    }

    /// Says once that op `i` waits for `holder`, and from when.
    fn wait_for_lock(&mut self, i: usize, lock: LockName, holder: usize, now: Now) {
        if self.slots[i].lock_wait_since.is_some() {
            return;
        }
        self.slots[i].lock_wait_since = Some(now.instant);
        let op = self.plan.ops[i].id.clone();
        let holder = self.plan.ops[holder].id.clone();
        self.out
            .emit(now.time, Event::LockWait { op, lock, holder });
    }

    /// Starts cleanup op `i`; the first one says that the cleanup begins, and with which ops.
    fn start_cleanup(&mut self, i: usize, now: Now) {
        if !self.cleanup_started {
            self.cleanup_started = true;
            let ops = self
                .plan
                .ops
                .iter()
                .zip(&self.slots)
                .filter(|(op, s)| op.always && s.status == OpStatus::Pending)
                .map(|(op, _)| op.id.clone())
                .collect();
            let after = self.cleanup_cause();
            self.out
                .emit(now.time, Event::CleanupStarted { after, ops });
        }
        self.start(i, now);
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
                    lock: lock.clone(),
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
        if op.always {
            self.out.start_cleanup.push(i);
        } else {
            self.out.start.push(i);
        }
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
            end: OpEnd::without_running(status, failure_class, reason),
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
            UnitMsg::AttemptFinished { op, end } => Event::OpAttemptFinished {
                op: self.plan.ops[op].id.clone(),
                end,
            },
            UnitMsg::UpdateRound { op, attempt, round } => Event::UpdateRoundFinished {
                op: self.plan.ops[op].id.clone(),
                attempt,
                round,
            },
            UnitMsg::VmRestarted { op, restart } => Event::VmRestarted {
                op: self.plan.ops[op].id.clone(),
                restart,
            },
            UnitMsg::Step { op, text } => {
                self.slots[op].step = text;
                return;
            }
            UnitMsg::SignedIn {
                op,
                sign_in,
                reason,
            } => Event::AzureSignedIn {
                op: self.plan.ops[op].id.clone(),
                sign_in,
                reason,
            },
            UnitMsg::Finished { op: i, end } => {
                let status = end.status;
                if !self.settle(i, status) {
                    return;
                }
                let op = &self.plan.ops[i];
                let finished = Event::OpFinished {
                    op: op.id.clone(),
                    end,
                    continue_on_error: op.continue_on_error && status == OpStatus::Failed,
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
        if slot.counts_as_failure {
            slot.taint = Some(i);
            self.tainted = true;
        }
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
        self.first_failure.get_or_insert(i);
        if self.failed_stage.is_none_or(|(s, _)| stage < s) {
            self.failed_stage = Some((stage, i));
        }
        if self.opts.fail_fast == FailFast::Cancel
            && self.stopping.is_none()
            && !self.cleanup_started
        {
            let id = self.plan.ops[i].id.clone();
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
}

/// The first event of a run: what it will do.
pub fn run_started(plan: &Plan, opts: &ExecOptions) -> Event {
    Event::RunStarted {
        run_id: opts.run_id.clone(),
        module: plan.module.id.clone(),
        module_file: plan.module.file.display().to_string(),
        resumed_from: opts.resumed_from.clone(),
        max_parallel: opts.max_parallel,
        fail_fast: opts.fail_fast,
        ops: plan.op_refs(),
        stages: plan.stages.len(),
        setup: opts.setup.clone(),
    }
}

#[cfg(test)]
mod tests {
    //! Each test plays a run message by message, as the driver would: after
    //! every input, a scheduling round.

    use std::path::PathBuf;

    use super::*;
    use crate::plan::{ExternalRequirement, ModuleRef, PlannedOp, Stage};
    use crate::record::event::cleanup_line;

    const VM: &str = "vm:rg/vm1";

    fn op(id: &str, stage: usize) -> PlannedOp {
        PlannedOp::for_test(id, stage)
    }

    /// A plan of `(id, stage)` in list order; tests adjust its ops before running it.
    fn plan(ops: &[(&str, usize)]) -> Plan {
        let ops: Vec<PlannedOp> = ops.iter().map(|&(id, stage)| op(id, stage)).collect();
        let stage_count = ops.iter().map(|o| o.stage).max().unwrap_or(0);
        let stages = (1..=stage_count)
            .map(|number| Stage {
                number,
                parallel_group: None,
                ops: (0..ops.len()).filter(|&i| ops[i].stage == number).collect(),
            })
            .collect();
        Plan {
            version: crate::plan::PLAN_VERSION,
            module: ModuleRef {
                id: "m".to_string(),
                name: "m".to_string(),
                folder: "modules/m".to_string(),
                file: PathBuf::from("modules/m/module.yaml"),
            },
            stages,
            ops,
            estimated_duration: Duration::ZERO,
            critical_path: Vec::new(),
            ops_without_estimate: 0,
            dependencies: Vec::new(),
            run_values: Vec::new(),
        }
    }

    fn opts(fail_fast: FailFast) -> ExecOptions {
        ExecOptions {
            run_id: "r1".to_string(),
            max_parallel: 8,
            fail_fast,
            progress_interval: Duration::from_secs(30),
            presets: HashMap::new(),
            external: HashMap::new(),
            resumed_from: None,
            setup: RunSetup::default(),
            cancel_budget: Duration::from_secs(6),
        }
    }

    /// A run driven by hand, on a clock that moves only when told.
    struct Sim {
        scheduler: Scheduler,
        ids: Vec<String>,
        base: Instant,
        clock: Duration,
        events: Vec<EventLine>,
        /// Ops the driver was told to spawn, in order (cleanup ones too).
        spawned: Vec<String>,
        /// The ops of `spawned` spawned as cleanup.
        cleanup: Vec<String>,
        stops: Vec<Stop>,
        cleanup_stops: Vec<Stop>,
    }

    impl Sim {
        /// Begins the run and plays the first round.
        fn new(plan: Plan, opts: ExecOptions) -> Sim {
            let ids = plan.ops.iter().map(|o| o.id.clone()).collect();
            let mut sim = Sim {
                scheduler: Scheduler::new(Arc::new(plan), opts),
                ids,
                base: Instant::now(),
                clock: Duration::ZERO,
                events: Vec::new(),
                spawned: Vec::new(),
                cleanup: Vec::new(),
                stops: Vec::new(),
                cleanup_stops: Vec::new(),
            };
            let begun = sim.scheduler.begin(sim.now());
            sim.round(begun);
            sim
        }

        fn now(&self) -> Now {
            Now {
                instant: self.base + self.clock,
                time: jiff::Timestamp::UNIX_EPOCH + self.clock,
            }
        }

        fn wait(&mut self, secs: u64) {
            self.clock += Duration::from_secs(secs);
        }

        fn take(&mut self, actions: Actions) {
            self.events.extend(actions.events);
            self.spawned
                .extend(actions.start.iter().map(|&i| self.ids[i].clone()));
            let cleanup: Vec<String> = actions
                .start_cleanup
                .iter()
                .map(|&i| self.ids[i].clone())
                .collect();
            self.spawned.extend(cleanup.iter().cloned());
            self.cleanup.extend(cleanup);
            self.stops.extend(actions.stop);
            self.cleanup_stops.extend(actions.stop_cleanup);
        }

        /// Takes the actions of one input, then those of the scheduling round after it.
        fn round(&mut self, actions: Actions) {
            self.take(actions);
            let round = self.scheduler.schedule(self.now());
            self.take(round);
        }

        fn index(&self, id: &str) -> usize {
            self.ids.iter().position(|o| o == id).expect("op in plan")
        }

        fn send(&mut self, msg: UnitMsg) {
            let now = self.now();
            let actions = self.scheduler.report((now.time, msg), now);
            self.round(actions);
        }

        fn finish(&mut self, id: &str, status: OpStatus) {
            let failed = status == OpStatus::Failed;
            self.send(UnitMsg::Finished {
                op: self.index(id),
                end: OpEnd {
                    status,
                    attempts: 1,
                    duration: Duration::from_secs(1),
                    exit_code: Some(if failed { 1 } else { 0 }),
                    failure_class: failed.then_some(FailureClass::ExitCode),
                    reason: failed.then(|| "exit code 1".to_string()),
                    log_tail: Vec::new(),
                },
            });
        }

        fn signal(&mut self, name: &'static str) {
            let actions = self.scheduler.signal(name, self.now());
            self.round(actions);
        }

        /// Ends the run (every op must be terminal) and gives its status.
        fn end(&mut self) -> RunStatus {
            assert!(self.scheduler.is_done(), "{:#?}", self.log());
            let (status, actions) = self.scheduler.finish(self.now(), self.clock, 1024);
            self.take(actions);
            match &self.events.last().expect("events").event {
                Event::RunFinished { status: s, .. } => assert_eq!(*s, status),
                other => panic!("last event is {other:?}"),
            }
            status
        }

        /// Every event in a line, without the times.
        fn log(&self) -> Vec<String> {
            self.events.iter().map(|l| describe(&l.event)).collect()
        }

        /// The `OpFinished` of `id`.
        fn finished(&self, id: &str) -> (OpStatus, Option<FailureClass>, Option<String>) {
            self.events
                .iter()
                .find_map(|l| match &l.event {
                    Event::OpFinished { op, end, .. } if op == id => {
                        Some((end.status, end.failure_class, end.reason.clone()))
                    }
                    _ => None,
                })
                .unwrap_or_else(|| panic!("`{id}` did not finish: {:#?}", self.log()))
        }

        fn skipped_because(&self, id: &str) -> String {
            let (status, _, reason) = self.finished(id);
            assert_eq!(status, OpStatus::Skipped, "{:#?}", self.log());
            reason.expect("a reason")
        }
    }

    fn describe(event: &Event) -> String {
        match event {
            Event::RunStarted { ops, .. } => format!("run_started {}", ops.len()),
            Event::StageStarted { stage, .. } => format!("stage_started {stage}"),
            Event::StageFinished { stage } => format!("stage_finished {stage}"),
            Event::OpStarted { op, lock_wait, .. } => {
                format!("op_started {op} after {}s", lock_wait.as_secs())
            }
            Event::LockWait { op, lock, holder } => format!("lock_wait {op} {lock} {holder}"),
            Event::LockAcquired { op, lock, waited } => {
                format!("lock_acquired {op} {lock} after {}s", waited.as_secs())
            }
            Event::OpCheckFinished { op, done, .. } => format!("op_check_finished {op} {done}"),
            Event::OpAttemptStarted { op, attempt } => format!("op_attempt_started {op} {attempt}"),
            Event::OpAttemptFinished { op, end } => {
                format!("op_attempt_finished {op} {}", end.attempt)
            }
            Event::OpFinished { op, end, .. } => format!("op_finished {op} {}", end.status),
            Event::Progress { running } => {
                let ops: Vec<String> = running
                    .iter()
                    .map(|r| format!("{} {}s", r.op, r.elapsed.as_secs()))
                    .collect();
                format!("progress {}", ops.join(", "))
            }
            Event::RunCancelling { reason } => format!("run_cancelling {reason}"),
            Event::AzureSignedIn { op, sign_in, .. } => format!("azure_signed_in {op} {sign_in}"),
            Event::UpdateRoundFinished { op, round, .. } => {
                format!("update_round_finished {op} {}", round.round)
            }
            Event::VmRestarted { op, restart } => format!("vm_restarted {op} {}", restart.vm),
            Event::CleanupStarted { after, ops } => {
                format!("cleanup_started {}", cleanup_line(after, ops))
            }
            Event::RunFinished { status, .. } => format!("run_finished {status:?}"),
        }
    }

    #[test]
    fn a_later_stage_starts_only_when_every_op_of_the_earlier_stage_is_terminal() {
        let mut sim = Sim::new(
            plan(&[("a", 1), ("b", 1), ("c", 2)]),
            opts(FailFast::FinishStage),
        );
        assert_eq!(sim.spawned, ["a", "b"]);
        sim.finish("a", OpStatus::Succeeded);
        assert_eq!(sim.spawned, ["a", "b"], "c started before b finished");
        sim.finish("b", OpStatus::AlreadyDone);
        assert_eq!(sim.spawned, ["a", "b", "c"]);
        sim.finish("c", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Succeeded);
        assert_eq!(
            sim.log(),
            [
                "run_started 3",
                "stage_started 1",
                "op_started a after 0s",
                "op_started b after 0s",
                "op_finished a succeeded",
                "op_finished b already-done",
                "stage_finished 1",
                "stage_started 2",
                "op_started c after 0s",
                "op_finished c succeeded",
                "stage_finished 2",
                "run_finished Succeeded",
            ]
        );
    }

    #[test]
    fn a_switched_off_op_is_skipped_and_neither_its_dependents_nor_later_stages_wait() {
        let mut p = plan(&[("a", 1), ("off", 2), ("dep", 3), ("later", 4)]);
        p.ops[1].off = Some("off: golden_image.x is false".to_string());
        p.ops[2].depends_on = vec![1];
        p.ops[2].waits_for_stage = false;
        let mut sim = Sim::new(p, opts(FailFast::FinishStage));
        assert_eq!(sim.skipped_because("off"), "off: golden_image.x is false");
        assert_eq!(sim.spawned, ["a", "dep"], "{:#?}", sim.log());
        sim.finish("a", OpStatus::Succeeded);
        sim.finish("dep", OpStatus::Succeeded);
        assert_eq!(sim.spawned, ["a", "dep", "later"]);
        sim.finish("later", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Succeeded);
    }

    #[test]
    fn an_op_with_depends_on_starts_as_soon_as_its_dependency_is_done() {
        let mut p = plan(&[("a", 1), ("slow", 1), ("c", 2)]);
        p.ops[2].depends_on = vec![0];
        p.ops[2].waits_for_stage = false;
        let mut sim = Sim::new(p, opts(FailFast::FinishStage));
        assert_eq!(sim.spawned, ["a", "slow"]);
        sim.finish("a", OpStatus::Succeeded);
        assert_eq!(sim.spawned, ["a", "slow", "c"], "c waited for the stage");
        sim.finish("c", OpStatus::Succeeded);
        sim.finish("slow", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Succeeded);
    }

    #[test]
    fn an_op_whose_dependency_failed_is_skipped_naming_it() {
        let mut p = plan(&[("a", 1), ("b", 1), ("c", 2)]);
        p.ops[2].depends_on = vec![0];
        p.ops[2].waits_for_stage = false;
        let mut sim = Sim::new(p, opts(FailFast::Continue));
        sim.finish("a", OpStatus::Failed);
        assert_eq!(
            sim.skipped_because("c"),
            "not started: dependency `a` failed"
        );
        assert_eq!(sim.spawned, ["a", "b"]);
        sim.finish("b", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Failed);
    }

    #[test]
    fn ops_sharing_a_lock_run_one_after_the_other_in_list_order() {
        let mut p = plan(&[("first", 1), ("second", 1), ("free", 1)]);
        p.ops[0].locks = vec![VM.parse().expect("a lock name")];
        p.ops[1].locks = vec![VM.parse().expect("a lock name")];
        let mut sim = Sim::new(p, opts(FailFast::FinishStage));
        assert_eq!(sim.spawned, ["first", "free"]);
        sim.wait(3);
        sim.finish("free", OpStatus::Succeeded);
        sim.wait(4);
        sim.finish("first", OpStatus::Succeeded);
        assert_eq!(sim.spawned, ["first", "free", "second"]);
        sim.finish("second", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Succeeded);
        assert_eq!(
            sim.log(),
            [
                "run_started 3",
                "stage_started 1",
                "lock_acquired first vm:rg/vm1 after 0s",
                "op_started first after 0s",
                "lock_wait second vm:rg/vm1 first",
                "op_started free after 0s",
                "op_finished free succeeded",
                "op_finished first succeeded",
                "lock_acquired second vm:rg/vm1 after 7s",
                "op_started second after 7s",
                "op_finished second succeeded",
                "stage_finished 1",
                "run_finished Succeeded",
            ],
            "one lock_wait however many rounds it waits"
        );
    }

    #[test]
    fn a_lock_goes_to_the_earlier_op_in_the_list_even_when_it_is_not_ready() {
        // `late` is ahead of `early` in line for the lock but waits for stage 1,
        // so `early` may not take the lock first.
        let mut p = plan(&[("gate", 1), ("late", 2), ("early", 2)]);
        p.ops[1].locks = vec![VM.parse().expect("a lock name")];
        p.ops[2].locks = vec![VM.parse().expect("a lock name")];
        p.ops[2].depends_on = vec![];
        p.ops[2].waits_for_stage = false;
        let mut sim = Sim::new(p, opts(FailFast::FinishStage));
        assert_eq!(sim.spawned, ["gate"]);
        assert!(
            sim.log()
                .contains(&"lock_wait early vm:rg/vm1 late".to_string())
        );
        sim.finish("gate", OpStatus::Succeeded);
        assert_eq!(sim.spawned, ["gate", "late"]);
        sim.finish("late", OpStatus::Succeeded);
        assert_eq!(sim.spawned, ["gate", "late", "early"]);
        sim.finish("early", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Succeeded);
    }

    #[test]
    fn max_parallel_caps_how_many_ops_run_at_once() {
        let mut o = opts(FailFast::FinishStage);
        o.max_parallel = 2;
        let mut sim = Sim::new(plan(&[("a", 1), ("b", 1), ("c", 1)]), o);
        assert_eq!(sim.spawned, ["a", "b"]);
        sim.finish("b", OpStatus::Succeeded);
        assert_eq!(sim.spawned, ["a", "b", "c"]);
        sim.finish("a", OpStatus::Succeeded);
        sim.finish("c", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Succeeded);
    }

    #[test]
    fn fail_fast_finish_stage_lets_the_stage_finish_and_skips_later_stages() {
        let mut sim = Sim::new(
            plan(&[("a", 1), ("b", 1), ("c", 2), ("d", 3)]),
            opts(FailFast::FinishStage),
        );
        sim.finish("a", OpStatus::Failed);
        assert!(sim.stops.is_empty(), "b was stopped");
        assert!(
            !sim.log().iter().any(|e| e.starts_with("op_finished c")),
            "c ended while its stage still ran"
        );
        sim.finish("b", OpStatus::Succeeded);
        assert_eq!(sim.spawned, ["a", "b"]);
        for later in ["c", "d"] {
            assert_eq!(
                sim.skipped_because(later),
                "not started: `a` failed in stage 1"
            );
        }
        assert_eq!(sim.end(), RunStatus::Failed);
    }

    #[test]
    fn fail_fast_cancel_terminates_running_ops_and_skips_pending_ones() {
        let mut sim = Sim::new(
            plan(&[("a", 1), ("b", 1), ("c", 2)]),
            opts(FailFast::Cancel),
        );
        sim.finish("a", OpStatus::Failed);
        assert_eq!(sim.stops, [Stop::Terminate]);
        assert!(sim.log().contains(
            &"run_cancelling `a` failed and fail-fast is `cancel`: terminating running operations"
                .to_string()
        ));
        assert_eq!(
            sim.skipped_because("c"),
            "not started: `a` failed and fail-fast is `cancel`"
        );
        sim.finish("b", OpStatus::Cancelled);
        assert_eq!(sim.spawned, ["a", "b"]);
        assert_eq!(sim.stops, [Stop::Terminate]);
        assert_eq!(sim.end(), RunStatus::Failed);
    }

    #[test]
    fn fail_fast_continue_runs_later_ops_that_do_not_need_the_failed_one() {
        let mut p = plan(&[("a", 1), ("free", 1), ("b", 2), ("c", 2), ("d", 3)]);
        p.ops[2].depends_on = vec![1];
        p.ops[2].waits_for_stage = false;
        p.ops[3].depends_on = vec![0];
        p.ops[3].waits_for_stage = false;
        let mut sim = Sim::new(p, opts(FailFast::Continue));
        sim.finish("a", OpStatus::Failed);
        assert_eq!(
            sim.skipped_because("c"),
            "not started: dependency `a` failed"
        );
        sim.finish("free", OpStatus::Succeeded);
        assert_eq!(sim.spawned, ["a", "free", "b"]);
        sim.finish("b", OpStatus::Succeeded);
        assert_eq!(
            sim.skipped_because("d"),
            "not started: `a` failed in stage 1",
            "d waits for every earlier stage"
        );
        assert!(sim.stops.is_empty());
        assert_eq!(sim.end(), RunStatus::Failed);
    }

    #[test]
    fn a_continue_on_error_failure_neither_fails_the_run_nor_blocks_dependents() {
        let mut p = plan(&[("optional", 1), ("next", 2), ("dependent", 2)]);
        p.ops[0].continue_on_error = true;
        p.ops[2].depends_on = vec![0];
        p.ops[2].waits_for_stage = false;
        let mut sim = Sim::new(p, opts(FailFast::Cancel));
        sim.finish("optional", OpStatus::Failed);
        assert!(sim.stops.is_empty(), "fail-fast cancel stopped the run");
        assert_eq!(sim.spawned, ["optional", "next", "dependent"]);
        let flagged = sim.events.iter().any(|l| {
            matches!(&l.event, Event::OpFinished { op, continue_on_error: true, .. } if op == "optional")
        });
        assert!(flagged, "{:#?}", sim.log());
        sim.finish("next", OpStatus::Succeeded);
        sim.finish("dependent", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Succeeded);
    }

    #[test]
    fn an_unmet_outside_requirement_fails_the_op_without_starting_it() {
        let mut p = plan(&[("needs", 1), ("met", 1), ("optional", 1)]);
        let requirement = |id: &str, optional| ExternalRequirement {
            id: id.to_string(),
            optional,
        };
        p.ops[0].requires_outside = vec![requirement("network", false)];
        p.ops[1].requires_outside = vec![requirement("storage", false)];
        p.ops[2].requires_outside = vec![requirement("identity", true)];
        let mut o = opts(FailFast::FinishStage);
        o.external = HashMap::from([
            ("network".to_string(), false),
            ("storage".to_string(), true),
        ]);
        let mut sim = Sim::new(p, o);
        assert_eq!(sim.spawned, ["met", "optional"]);
        assert_eq!(
            sim.finished("needs"),
            (
                OpStatus::Failed,
                Some(FailureClass::UnmetRequirement),
                Some(
                    "requires `network`, which has not succeeded in this or an earlier run"
                        .to_string()
                )
            )
        );
        sim.finish("met", OpStatus::Succeeded);
        sim.finish("optional", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Failed);
    }

    #[test]
    fn presets_end_their_ops_before_anything_starts() {
        let mut o = opts(FailFast::FinishStage);
        o.resumed_from = Some("r0".to_string());
        o.presets = HashMap::from([
            (2, Preset::CarriedOver("succeeded in run r0".to_string())),
            (0, Preset::Skip("not selected (--from b)".to_string())),
        ]);
        let mut sim = Sim::new(plan(&[("a", 1), ("b", 1), ("c", 2)]), o);
        assert_eq!(sim.spawned, ["b"]);
        sim.finish("b", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Succeeded);
        assert_eq!(
            sim.log(),
            [
                "run_started 3",
                "op_finished a skipped",
                "op_finished c succeeded",
                "stage_started 1",
                "op_started b after 0s",
                "op_finished b succeeded",
                "stage_finished 1",
                "run_finished Succeeded",
            ]
        );
        assert_eq!(sim.skipped_because("a"), "not selected (--from b)");
        let (status, _, reason) = sim.finished("c");
        assert_eq!(status, OpStatus::Succeeded);
        assert_eq!(reason.as_deref(), Some("succeeded in run r0"));
    }

    #[test]
    fn a_first_signal_terminates_and_cancels_pending_ops_a_second_kills() {
        let mut sim = Sim::new(plan(&[("a", 1), ("b", 2)]), opts(FailFast::Continue));
        sim.signal("SIGINT");
        assert_eq!(sim.stops, [Stop::Terminate]);
        let (status, _, reason) = sim.finished("b");
        assert_eq!(status, OpStatus::Cancelled);
        assert_eq!(
            reason.as_deref(),
            Some("run cancelled by SIGINT before it started")
        );
        sim.signal("SIGTERM");
        assert_eq!(sim.stops, [Stop::Terminate, Stop::Kill]);
        sim.finish("a", OpStatus::Cancelled);
        assert_eq!(sim.spawned, ["a"]);
        assert_eq!(sim.end(), RunStatus::Cancelled);
        assert_eq!(
            sim.log(),
            [
                "run_started 2",
                "stage_started 1",
                "op_started a after 0s",
                "run_cancelling received SIGINT: terminating running operations",
                "op_finished b cancelled",
                "run_cancelling second signal (SIGTERM): killing every running operation",
                "op_finished a cancelled",
                "stage_finished 1",
                "run_finished Cancelled",
            ]
        );
    }

    #[test]
    fn a_signal_after_a_fail_fast_cancel_makes_the_run_cancelled() {
        let mut sim = Sim::new(plan(&[("a", 1), ("b", 1)]), opts(FailFast::Cancel));
        sim.finish("a", OpStatus::Failed);
        sim.signal("SIGTERM");
        assert_eq!(sim.stops, [Stop::Terminate, Stop::Terminate]);
        sim.finish("b", OpStatus::Cancelled);
        assert_eq!(sim.end(), RunStatus::Cancelled);
    }

    #[test]
    fn a_reporter_that_cannot_write_stops_the_run() {
        let mut sim = Sim::new(plan(&[("a", 1), ("b", 2)]), opts(FailFast::Continue));
        let actions = sim.scheduler.sink_failed(sim.now());
        sim.round(actions);
        assert_eq!(sim.stops, [Stop::Terminate]);
        assert_eq!(
            sim.skipped_because("b"),
            "not started: a report could not be written"
        );
        sim.finish("a", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Failed);
    }

    #[test]
    fn a_unit_that_ends_without_reporting_fails_its_op_once() {
        let mut sim = Sim::new(plan(&[("a", 1), ("b", 1)]), opts(FailFast::Continue));
        let lost = sim.scheduler.unit_lost(0, &"task 7 panicked", sim.now());
        sim.round(lost);
        assert_eq!(
            sim.finished("a"),
            (
                OpStatus::Failed,
                Some(FailureClass::Spawn),
                Some(
                    "internal error in goldsmith: task 7 panicked (this is a bug in goldsmith)"
                        .to_string()
                )
            )
        );
        let events = sim.events.len();
        sim.finish("a", OpStatus::Succeeded);
        assert_eq!(sim.events.len(), events, "a second Finished counted");
        sim.finish("b", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Failed);
    }

    #[test]
    fn unit_messages_become_events_stamped_when_they_happened() {
        let mut sim = Sim::new(plan(&[("a", 1)]), opts(FailFast::FinishStage));
        sim.wait(5);
        let happened = sim.now().time;
        sim.wait(2);
        let now = sim.now();
        let actions = sim.scheduler.report(
            (happened, UnitMsg::AttemptStarted { op: 0, attempt: 1 }),
            now,
        );
        sim.round(actions);
        let last = sim.events.last().expect("an event");
        assert_eq!(describe(&last.event), "op_attempt_started a 1");
        assert_eq!(last.time, happened);
    }

    #[test]
    fn progress_lists_running_ops_with_their_elapsed_time() {
        let mut p = plan(&[("a", 1), ("b", 1)]);
        p.ops[1].locks = vec![VM.parse().expect("a lock name")];
        p.ops[0].locks = vec![VM.parse().expect("a lock name")];
        let mut sim = Sim::new(p, opts(FailFast::FinishStage));
        sim.wait(12);
        let progress = sim.scheduler.progress(sim.now());
        sim.take(progress);
        assert_eq!(sim.log().last().expect("event"), "progress a 12s");
        sim.finish("a", OpStatus::Succeeded);
        sim.finish("b", OpStatus::Succeeded);
        let events = sim.events.len();
        let progress = sim.scheduler.progress(sim.now());
        sim.take(progress);
        assert_eq!(sim.events.len(), events, "progress without running ops");
    }

    fn tick(sim: &mut Sim) {
        let actions = sim.scheduler.tick(sim.now());
        sim.round(actions);
    }

    /// A build: create a VM, two steps on it, publish, delete the VM (`always`).
    /// `publish` waits for the stages but names `gallery` (stage 1) in its `requires`.
    fn build() -> Plan {
        let mut p = plan(&[
            ("vm", 1),
            ("gallery", 1),
            ("step1", 2),
            ("step2", 3),
            ("publish", 4),
            ("delete", 5),
        ]);
        p.ops[4].depends_on = vec![1];
        p.ops[5].always = true;
        p
    }

    #[test]
    fn in_every_mode_nothing_runs_after_a_failure_it_waits_for() {
        for mode in [FailFast::FinishStage, FailFast::Cancel, FailFast::Continue] {
            let mut sim = Sim::new(build(), opts(mode));
            sim.finish("vm", OpStatus::Succeeded);
            sim.finish("gallery", OpStatus::Succeeded);
            sim.finish("step1", OpStatus::Failed);
            for later in ["step2", "publish"] {
                let reason = sim.skipped_because(later);
                assert!(
                    reason.starts_with("not started: `step1` failed"),
                    "{mode:?}: {reason}"
                );
            }
            assert_eq!(sim.cleanup, ["delete"], "{mode:?}");
            sim.finish("delete", OpStatus::Succeeded);
            assert_eq!(sim.end(), RunStatus::Failed, "{mode:?}");
        }
    }

    #[test]
    fn a_skip_after_a_failure_passes_on_to_dependents_in_continue_mode() {
        let mut p = plan(&[("a", 1), ("b", 2), ("c", 3), ("free", 1), ("d", 4)]);
        p.ops[1].depends_on = vec![0];
        p.ops[1].waits_for_stage = false;
        p.ops[2].depends_on = vec![1];
        p.ops[2].waits_for_stage = false;
        p.ops[4].depends_on = vec![3];
        p.ops[4].waits_for_stage = false;
        let mut sim = Sim::new(p, opts(FailFast::Continue));
        sim.finish("a", OpStatus::Failed);
        assert_eq!(
            sim.skipped_because("b"),
            "not started: dependency `a` failed"
        );
        assert_eq!(
            sim.skipped_because("c"),
            "not started: dependency `b` skipped after `a` failed"
        );
        sim.finish("free", OpStatus::Succeeded);
        assert_eq!(sim.spawned, ["a", "free", "d"], "d needs only `free`");
        sim.finish("d", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Failed);
    }

    #[test]
    fn an_always_op_runs_in_its_place_when_nothing_failed() {
        let mut sim = Sim::new(build(), opts(FailFast::FinishStage));
        for id in ["vm", "gallery", "step1", "step2", "publish"] {
            sim.finish(id, OpStatus::Succeeded);
        }
        assert_eq!(sim.cleanup, ["delete"]);
        sim.finish("delete", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Succeeded);
        assert!(!sim.log().iter().any(|l| l.starts_with("cleanup_started")));
    }

    #[test]
    fn cleanup_waits_for_everything_else_then_runs_one_at_a_time_in_list_order() {
        let mut p = plan(&[("a", 1), ("slow", 1), ("undo1", 2), ("b", 3), ("undo2", 4)]);
        p.ops[2].always = true;
        p.ops[4].always = true;
        let mut sim = Sim::new(p, opts(FailFast::FinishStage));
        sim.finish("a", OpStatus::Failed);
        assert_eq!(
            sim.spawned,
            ["a", "slow"],
            "cleanup started while `slow` ran"
        );
        sim.finish("slow", OpStatus::Succeeded);
        assert_eq!(sim.cleanup, ["undo1"]);
        assert!(sim.log().contains(
            &"cleanup_started running 2 cleanup operations after the failure of `a`: undo1, undo2"
                .to_string()
        ));
        assert_eq!(
            sim.skipped_because("b"),
            "not started: it waits for `undo1`, which runs as cleanup after the failure of `a`"
        );
        sim.finish("undo1", OpStatus::Failed);
        assert_eq!(
            sim.cleanup,
            ["undo1", "undo2"],
            "a failed cleanup stops the next"
        );
        sim.finish("undo2", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Failed);
    }

    #[test]
    fn cleanup_after_fail_fast_cancel_starts_once_the_terminated_ops_ended() {
        let mut p = plan(&[("a", 1), ("b", 1), ("c", 2), ("undo", 3)]);
        p.ops[3].always = true;
        let mut sim = Sim::new(p, opts(FailFast::Cancel));
        sim.finish("a", OpStatus::Failed);
        assert_eq!(sim.stops, [Stop::Terminate]);
        assert!(sim.cleanup.is_empty());
        sim.finish("b", OpStatus::Cancelled);
        assert_eq!(sim.cleanup, ["undo"]);
        assert!(sim.cleanup_stops.is_empty(), "the cleanup was told to stop");
        sim.finish("undo", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Failed);
    }

    #[test]
    fn after_a_signal_the_cleanup_runs_and_the_run_is_cancelled() {
        let mut sim = Sim::new(build(), opts(FailFast::FinishStage));
        sim.finish("vm", OpStatus::Succeeded);
        sim.finish("gallery", OpStatus::Succeeded);
        sim.signal("SIGTERM");
        assert_eq!(sim.stops, [Stop::Terminate]);
        sim.wait(1);
        sim.finish("step1", OpStatus::Cancelled);
        assert_eq!(sim.cleanup, ["delete"]);
        assert!(sim.log().contains(
            &"cleanup_started running 1 cleanup operation after SIGTERM, within 6s of it: delete"
                .to_string()
        ));
        let (status, _, reason) = sim.finished("publish");
        assert_eq!(status, OpStatus::Cancelled);
        assert_eq!(
            reason.as_deref(),
            Some("run cancelled by SIGTERM before it started")
        );
        sim.finish("delete", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Cancelled);
        assert_eq!(sim.scheduler.next_due(), None);
    }

    #[test]
    fn a_second_signal_stops_the_cleanup_and_says_so() {
        let mut p = build();
        p.ops.push(op("delete2", 6));
        p.ops[6].always = true;
        p.stages.push(Stage {
            number: 6,
            parallel_group: None,
            ops: vec![6],
        });
        let mut sim = Sim::new(p, opts(FailFast::FinishStage));
        sim.signal("SIGINT");
        sim.finish("vm", OpStatus::Cancelled);
        sim.finish("gallery", OpStatus::Cancelled);
        assert_eq!(sim.cleanup, ["delete"]);
        sim.signal("SIGTERM");
        assert_eq!(sim.cleanup_stops, [Stop::Kill]);
        assert!(sim.log().contains(
            &"run_cancelling second signal (SIGTERM): stopping the cleanup; check for leftovers and run the cleanup operations again"
                .to_string()
        ));
        let (status, _, reason) = sim.finished("delete2");
        assert_eq!(status, OpStatus::Cancelled);
        assert_eq!(
            reason.as_deref(),
            Some("not started: the cleanup was stopped by a second signal (SIGTERM)")
        );
        sim.finish("delete", OpStatus::Cancelled);
        assert_eq!(sim.end(), RunStatus::Cancelled);
    }

    #[test]
    fn the_budget_kills_what_does_not_stop_then_stops_the_cleanup() {
        let mut sim = Sim::new(build(), opts(FailFast::FinishStage));
        sim.signal("SIGINT");
        assert_eq!(
            sim.scheduler.next_due(),
            Some(sim.now().instant + Duration::from_secs(3))
        );
        sim.wait(3);
        tick(&mut sim);
        assert_eq!(sim.stops, [Stop::Terminate, Stop::Kill]);
        assert!(sim.log().contains(
            &"run_cancelling operations still running 3s after the signal: killing them so the cleanup can start"
                .to_string()
        ));
        sim.finish("vm", OpStatus::Cancelled);
        sim.finish("gallery", OpStatus::Cancelled);
        assert_eq!(sim.cleanup, ["delete"]);
        sim.wait(3);
        tick(&mut sim);
        assert_eq!(sim.cleanup_stops, [Stop::Kill]);
        assert!(sim.log().contains(
            &"run_cancelling the cancellation budget (6s) is spent: stopping the cleanup; check for leftovers and run the cleanup operations again"
                .to_string()
        ));
        sim.finish("delete", OpStatus::Cancelled);
        assert_eq!(sim.end(), RunStatus::Cancelled);
    }

    #[test]
    fn a_signal_during_a_cleanup_after_a_failure_lets_it_go_on_within_the_budget() {
        let mut sim = Sim::new(build(), opts(FailFast::FinishStage));
        sim.finish("vm", OpStatus::Failed);
        sim.finish("gallery", OpStatus::Succeeded);
        assert_eq!(sim.cleanup, ["delete"]);
        sim.signal("SIGINT");
        assert!(sim.cleanup_stops.is_empty());
        assert!(sim.log().contains(
            &"run_cancelling received SIGINT during the cleanup: it may run 6s more; a second signal stops it"
                .to_string()
        ));
        sim.finish("delete", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Cancelled);
    }

    #[test]
    fn a_first_signal_leaves_an_always_op_running_in_its_place_to_finish() {
        let mut sim = Sim::new(build(), opts(FailFast::FinishStage));
        for id in ["vm", "gallery", "step1", "step2", "publish"] {
            sim.finish(id, OpStatus::Succeeded);
        }
        assert_eq!(sim.cleanup, ["delete"]);
        sim.signal("SIGINT");
        assert_eq!(sim.stops, [Stop::Terminate]);
        assert!(sim.cleanup_stops.is_empty(), "the cleanup was stopped");
        sim.finish("delete", OpStatus::Succeeded);
        assert_eq!(sim.end(), RunStatus::Cancelled);
    }
}
