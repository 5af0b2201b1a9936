//! The coordinator: decides what starts when, and turns what units report
//! into events. It is the only writer of the event stream (and so of state).
//!
//! An op may start when the ops it waits for are done (all earlier stages,
//! or its `depends_on`), when it is first in list order among the pending
//! holders of each of its locks, and when fewer than `max_parallel` run.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::process::Stop;
use super::signals;
use super::unit::{self, Report, UnitContext, UnitMsg};
use crate::plan::{LockName, Plan};
use crate::record::event::{CancelReason, EVENTS_VERSION, Event, EventLine, OpEnd, RunningOp};
use crate::record::failure::FailureClass;
use crate::record::sink::{EventSink, SinkError};
use crate::record::status::{FailFast, OpStatus, RunStatus};

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

struct Slot {
    status: OpStatus,
    started: Option<Instant>,
    lock_wait_since: Option<Instant>,
    /// Failed and `continue_on_error` is not set.
    counts_as_failure: bool,
}

pub struct Executor<'s> {
    plan: Arc<Plan>,
    opts: ExecOptions,
    sink: &'s mut dyn EventSink,
    slots: Vec<Slot>,
    /// For each lock, the ops that hold it, in list order.
    lock_queues: HashMap<LockName, Vec<usize>>,
    stage_remaining: Vec<usize>,
    stage_started: Vec<bool>,
    /// Leading stages whose ops are all terminal.
    done_prefix: usize,
    running: usize,
    /// The first stage in which an op failed (and the op).
    failed_stage: Option<(usize, String)>,
    stopping: Option<Stopping>,
    stop_tx: watch::Sender<Stop>,
    sink_error: Option<SinkError>,
}

impl<'s> Executor<'s> {
    pub fn new(plan: Arc<Plan>, opts: ExecOptions, sink: &'s mut dyn EventSink) -> Self {
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
        let (stop_tx, _) = watch::channel(Stop::No);
        Executor {
            stage_started: vec![false; plan.stages.len() + 1],
            plan,
            opts,
            sink,
            slots,
            lock_queues,
            stage_remaining,
            done_prefix: 0,
            running: 0,
            failed_stage: None,
            stopping: None,
            stop_tx,
            sink_error: None,
        }
    }

    fn emit(&mut self, event: Event) {
        self.emit_at(jiff::Timestamp::now(), event);
    }

    /// Emits an event that happened at `time` (a unit's report, handled a little later).
    fn emit_at(&mut self, time: jiff::Timestamp, event: Event) {
        let line = EventLine {
            version: EVENTS_VERSION,
            time,
            event,
        };
        if let Err(e) = self.sink.event(&line) {
            self.sink_failed(e);
        }
    }

    fn flush(&mut self) {
        if let Err(e) = self.sink.flush() {
            self.sink_failed(e);
        }
    }

    fn sink_failed(&mut self, e: SinkError) {
        if self.sink_error.is_none() {
            self.sink_error = Some(e);
            self.begin_stop(Stopping::Sink);
        }
    }

    pub async fn run(mut self, ctx: UnitContext) -> Result<RunStatus, SinkError> {
        let started = Instant::now();
        let ctx = Arc::new(ctx);
        let (tx, mut rx) = mpsc::unbounded_channel::<Report>();
        let mut units: JoinSet<()> = JoinSet::new();
        let mut unit_of_task: HashMap<tokio::task::Id, usize> = HashMap::new();
        // The counting handlers hold the truth (signals may have come before the
        // run started); tokio's streams only wake the loop.
        signals::install();
        let mut sigint = signal(SignalKind::interrupt()).ok();
        let mut sigterm = signal(SignalKind::terminate()).ok();
        let mut seen = signals::Received::default();
        let mut progress = tokio::time::interval_at(
            tokio::time::Instant::now() + self.opts.progress_interval,
            self.opts.progress_interval,
        );

        self.emit(run_started(&self.plan, &self.opts));
        let presets: Vec<(usize, Preset)> = self.opts.presets.drain().collect();
        let mut presets = presets;
        presets.sort_by_key(|(i, _)| *i);
        for (i, preset) in presets {
            let (status, reason) = match preset {
                Preset::Skip(r) => (OpStatus::Skipped, r),
                Preset::CarriedOver(r) => (OpStatus::Succeeded, r),
            };
            self.finish_without_running(i, status, None, reason);
        }
        self.catch_up_signals(&mut seen);

        loop {
            self.schedule(&ctx, &tx, &mut units, &mut unit_of_task);
            self.flush();
            if self.running == 0 && self.slots.iter().all(|s| s.status.is_terminal()) {
                break;
            }
            tokio::select! {
                msg = rx.recv() => {
                    if let Some(msg) = msg {
                        self.handle(msg);
                    }
                    while let Ok(msg) = rx.try_recv() {
                        self.handle(msg);
                    }
                }
                Some(joined) = units.join_next_with_id() => {
                    // A unit always reports `Finished` before it ends; a panic is the exception.
                    while let Ok(msg) = rx.try_recv() {
                        self.handle(msg);
                    }
                    if let Err(e) = joined
                        && let Some(&i) = unit_of_task.get(&e.id())
                        && !self.slots[i].status.is_terminal()
                    {
                        self.handle((jiff::Timestamp::now(), UnitMsg::Finished {
                            op: i,
                            end: OpEnd::without_running(
                                OpStatus::Failed,
                                Some(FailureClass::Spawn),
                                format!("internal error in goldsmith: {e} (this is a bug in goldsmith)"),
                            ),
                        }));
                    }
                }
                Some(()) = recv_signal(&mut sigint) => self.catch_up_signals(&mut seen),
                Some(()) = recv_signal(&mut sigterm) => self.catch_up_signals(&mut seen),
                _ = progress.tick() => self.progress(),
            }
            self.flush();
        }

        let status = match (&self.stopping, &self.failed_stage) {
            (Some(Stopping::Signal(_)), _) => RunStatus::Cancelled,
            (Some(Stopping::Sink), _) | (_, Some(_)) => RunStatus::Failed,
            _ => RunStatus::Succeeded,
        };
        self.emit(Event::RunFinished {
            status,
            duration: started.elapsed(),
            peak_rss_kib: peak_rss_kib(),
        });
        self.flush();
        match self.sink_error.take() {
            Some(e) => Err(e),
            None => Ok(status),
        }
    }

    /// Acts on every signal counted since `seen`.
    fn catch_up_signals(&mut self, seen: &mut signals::Received) {
        let now = signals::Received::now();
        for name in now.since(*seen) {
            self.on_signal(name);
        }
        *seen = now;
    }

    fn on_signal(&mut self, name: &'static str) {
        if matches!(self.stopping, Some(Stopping::Signal(_))) {
            self.emit(Event::RunCancelling {
                reason: CancelReason::SecondSignal {
                    signal: name.to_string(),
                },
            });
            let _ = self.stop_tx.send(Stop::Kill);
            return;
        }
        self.begin_stop(Stopping::Signal(name));
    }

    fn begin_stop(&mut self, why: Stopping) {
        if matches!(self.stopping, Some(Stopping::Signal(_))) {
            return;
        }
        let reason = match &why {
            Stopping::AfterFailure(op) => CancelReason::FailFast { op: op.clone() },
            Stopping::Signal(name) => CancelReason::Signal {
                signal: name.to_string(),
            },
            Stopping::Sink => CancelReason::ReportFailed,
        };
        self.stopping = Some(why);
        self.emit(Event::RunCancelling { reason });
        let _ = self.stop_tx.send(Stop::Terminate);
    }

    fn progress(&mut self) {
        let running: Vec<RunningOp> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.status == OpStatus::Running)
            .map(|(i, s)| RunningOp {
                op: self.plan.ops[i].id.clone(),
                elapsed: s.started.map(|t| t.elapsed()).unwrap_or_default(),
            })
            .collect();
        if !running.is_empty() {
            self.emit(Event::Progress { running });
        }
    }

    fn schedule(
        &mut self,
        ctx: &Arc<UnitContext>,
        tx: &mpsc::UnboundedSender<Report>,
        units: &mut JoinSet<()>,
        unit_of_task: &mut HashMap<tokio::task::Id, usize>,
    ) {
        for i in 0..self.slots.len() {
            if self.slots[i].status != OpStatus::Pending {
                continue;
            }
            if let Some(why) = &self.stopping {
                let (status, reason) = match why {
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
                self.finish_without_running(i, status, None, reason);
                continue;
            }
            let op = &self.plan.ops[i];
            let stage = op.stage;
            if op.waits_for_stage && self.done_prefix < stage - 1 {
                continue;
            }
            if op
                .depends_on
                .iter()
                .any(|&d| !self.slots[d].status.is_terminal())
            {
                continue;
            }
            if self.opts.fail_fast != FailFast::Continue
                && let Some((failed, who)) = &self.failed_stage
                && stage > *failed
            {
                let reason = format!("not started: `{who}` failed in stage {failed}");
                self.finish_without_running(i, OpStatus::Skipped, None, reason);
                continue;
            }
            if let Some(&d) = op.depends_on.iter().find(|&&d| !self.dep_ok(d)) {
                let reason = format!(
                    "not started: dependency `{}` {}",
                    self.plan.ops[d].id, self.slots[d].status
                );
                self.finish_without_running(i, OpStatus::Skipped, None, reason);
                continue;
            }
            if let Some(req) = op
                .requires_outside
                .iter()
                .find(|r| !r.optional && !self.opts.external.get(&r.id).copied().unwrap_or(false))
            {
                let reason = format!(
                    "requires `{}`, which has not succeeded in this or an earlier run",
                    req.id
                );
                self.finish_without_running(
                    i,
                    OpStatus::Failed,
                    Some(FailureClass::UnmetRequirement),
                    reason,
                );
                continue;
            }
            // Locks go in list order: the first unfinished holder of each lock may take it.
            let blocked = op.locks.iter().find_map(|l| {
                let first = *self.lock_queues[l]
                    .iter()
                    .find(|&&j| !self.slots[j].status.is_terminal())?;
                (first != i).then(|| (l.0.clone(), first))
            });
            if let Some((lock, holder)) = blocked {
                if self.slots[i].lock_wait_since.is_none() {
                    self.slots[i].lock_wait_since = Some(Instant::now());
                    let op = self.plan.ops[i].id.clone();
                    let holder = self.plan.ops[holder].id.clone();
                    self.emit(Event::LockWait { op, lock, holder });
                }
                continue;
            }
            if self.running >= self.opts.max_parallel {
                continue;
            }
            self.start(i, ctx, tx, units, unit_of_task);
        }
    }

    /// A finished dependency lets its dependents run.
    fn dep_ok(&self, d: usize) -> bool {
        let s = &self.slots[d];
        s.status.is_ok() || (s.status == OpStatus::Failed && !s.counts_as_failure)
    }

    fn start(
        &mut self,
        i: usize,
        ctx: &Arc<UnitContext>,
        tx: &mpsc::UnboundedSender<Report>,
        units: &mut JoinSet<()>,
        unit_of_task: &mut HashMap<tokio::task::Id, usize>,
    ) {
        let op = self.plan.ops[i].clone();
        let stage = op.stage;
        if !self.stage_started[stage] {
            self.stage_started[stage] = true;
            let group = self.plan.stages[stage - 1].parallel_group;
            self.emit(Event::StageStarted { stage, group });
        }
        let lock_wait = self.slots[i]
            .lock_wait_since
            .map(|t| t.elapsed())
            .unwrap_or_default();
        self.slots[i].status = OpStatus::Running;
        self.slots[i].started = Some(Instant::now());
        self.running += 1;
        for lock in &op.locks {
            self.emit(Event::LockAcquired {
                op: op.id.clone(),
                lock: lock.0.clone(),
                waited: lock_wait,
            });
        }
        self.emit(Event::OpStarted {
            op: op.id.clone(),
            stage,
            lock_wait,
        });
        let handle = units.spawn(unit::run(
            ctx.clone(),
            i,
            op,
            self.stop_tx.subscribe(),
            tx.clone(),
        ));
        unit_of_task.insert(handle.id(), i);
    }

    fn finish_without_running(
        &mut self,
        i: usize,
        status: OpStatus,
        failure_class: Option<FailureClass>,
        reason: String,
    ) {
        self.handle((
            jiff::Timestamp::now(),
            UnitMsg::Finished {
                op: i,
                end: OpEnd::without_running(status, failure_class, reason),
            },
        ));
    }

    fn handle(&mut self, (at, msg): Report) {
        match msg {
            UnitMsg::CheckFinished { op, done, duration } => {
                let op = self.plan.ops[op].id.clone();
                self.emit_at(at, Event::OpCheckFinished { op, done, duration });
            }
            UnitMsg::AttemptStarted { op, attempt } => {
                let op = self.plan.ops[op].id.clone();
                self.emit_at(at, Event::OpAttemptStarted { op, attempt });
            }
            UnitMsg::AttemptFinished { op, end } => {
                let op = self.plan.ops[op].id.clone();
                self.emit_at(at, Event::OpAttemptFinished { op, end });
            }
            UnitMsg::Finished { op: i, end } => {
                let status = end.status;
                if self.slots[i].status.is_terminal() {
                    return;
                }
                if self.slots[i].status == OpStatus::Running {
                    self.running -= 1;
                }
                let op = &self.plan.ops[i];
                let continue_on_error = op.continue_on_error && status == OpStatus::Failed;
                self.slots[i].status = status;
                self.slots[i].counts_as_failure =
                    status == OpStatus::Failed && !op.continue_on_error;
                let id = op.id.clone();
                let stage = op.stage;
                self.emit_at(
                    at,
                    Event::OpFinished {
                        op: id.clone(),
                        end,
                        continue_on_error,
                    },
                );
                self.stage_remaining[stage] -= 1;
                if self.stage_remaining[stage] == 0 && self.stage_started[stage] {
                    self.emit_at(at, Event::StageFinished { stage });
                }
                while self.done_prefix < self.plan.stages.len()
                    && self.stage_remaining[self.done_prefix + 1] == 0
                {
                    self.done_prefix += 1;
                }
                if self.slots[i].counts_as_failure {
                    if self.failed_stage.as_ref().is_none_or(|(s, _)| stage < *s) {
                        self.failed_stage = Some((stage, id.clone()));
                    }
                    if self.opts.fail_fast == FailFast::Cancel && self.stopping.is_none() {
                        self.begin_stop(Stopping::AfterFailure(id));
                    }
                }
            }
        }
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
    }
}

async fn recv_signal(s: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match s {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// The engine's own peak resident set size, in KiB (Linux reports ru_maxrss in KiB).
fn peak_rss_kib() -> u64 {
    // SAFETY: getrusage only writes into the struct we pass.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) == 0 {
            usage.ru_maxrss.max(0) as u64
        } else {
            0
        }
    }
}
