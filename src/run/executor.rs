//! The coordinator: runs a unit for each op the scheduler starts, and feeds
//! the scheduler what units report, signals and progress ticks. It is the
//! only writer of the event stream (and so of state); the decisions
//! themselves are in `scheduler`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::process::Stop;
use super::scheduler::{Actions, ExecOptions, Now, Scheduler};
use super::signals;
use super::unit::{self, Report, UnitContext};
use crate::plan::Plan;
use crate::record::sink::{EventSink, SinkError};
use crate::record::status::RunStatus;

pub struct Executor<'s> {
    plan: Arc<Plan>,
    scheduler: Scheduler,
    progress_interval: Duration,
    sink: &'s mut dyn EventSink,
    /// The first error of the sink; the run stops and returns it.
    sink_error: Option<SinkError>,
}

/// The tokio side of the units: their tasks, the channel they report on, and
/// the stop requests they watch.
struct Units {
    plan: Arc<Plan>,
    ctx: Arc<UnitContext>,
    tx: mpsc::UnboundedSender<Report>,
    rx: mpsc::UnboundedReceiver<Report>,
    tasks: JoinSet<()>,
    op_of_task: HashMap<tokio::task::Id, usize>,
    stop_tx: watch::Sender<Stop>,
    /// The cleanup's own: its units start after the others were asked to stop.
    cleanup_stop_tx: watch::Sender<Stop>,
}

impl Units {
    fn new(plan: Arc<Plan>, ctx: UnitContext) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (stop_tx, _) = watch::channel(Stop::No);
        let (cleanup_stop_tx, _) = watch::channel(Stop::No);
        Units {
            plan,
            ctx: Arc::new(ctx),
            tx,
            rx,
            tasks: JoinSet::new(),
            op_of_task: HashMap::new(),
            stop_tx,
            cleanup_stop_tx,
        }
    }

    fn spawn(&mut self, i: usize, cleanup: bool) {
        let stop = if cleanup {
            self.cleanup_stop_tx.subscribe()
        } else {
            self.stop_tx.subscribe()
        };
        let handle = self.tasks.spawn(unit::run(
            self.ctx.clone(),
            i,
            self.plan.ops[i].clone(),
            stop,
            self.tx.clone(),
        ));
        self.op_of_task.insert(handle.id(), i);
    }
}

/// The moment the scheduler is given with each input.
fn now() -> Now {
    Now {
        instant: Instant::now(),
        time: jiff::Timestamp::now(),
    }
}

impl<'s> Executor<'s> {
    pub fn new(plan: Arc<Plan>, opts: ExecOptions, sink: &'s mut dyn EventSink) -> Self {
        Executor {
            progress_interval: opts.progress_interval,
            scheduler: Scheduler::new(plan.clone(), opts),
            plan,
            sink,
            sink_error: None,
        }
    }

    pub async fn run(mut self, ctx: UnitContext) -> Result<RunStatus, SinkError> {
        let started = Instant::now();
        let mut units = Units::new(self.plan.clone(), ctx);
        // The counting handlers hold the truth (signals may have come before the
        // run started); tokio's streams only wake the loop.
        signals::install();
        let mut sigint = signal(SignalKind::interrupt()).ok();
        let mut sigterm = signal(SignalKind::terminate()).ok();
        let mut seen = signals::Received::default();
        let mut progress = tokio::time::interval_at(
            tokio::time::Instant::now() + self.progress_interval,
            self.progress_interval,
        );

        let begun = self.scheduler.begin(now());
        self.apply(begun, &mut units);
        self.catch_up_signals(&mut seen, &mut units);
        loop {
            let round = self.scheduler.schedule(now());
            self.apply(round, &mut units);
            self.flush(&mut units);
            if self.scheduler.is_done() {
                break;
            }
            tokio::select! {
                Some(report) = units.rx.recv() => {
                    self.report(report, &mut units);
                    self.drain_reports(&mut units);
                }
                Some(joined) = units.tasks.join_next_with_id() => {
                    // A unit always reports `Finished` before it ends; a panic is the exception.
                    self.drain_reports(&mut units);
                    if let Err(e) = joined
                        && let Some(&i) = units.op_of_task.get(&e.id())
                    {
                        let lost = self.scheduler.unit_lost(i, &e, now());
                        self.apply(lost, &mut units);
                    }
                }
                Some(()) = recv_signal(&mut sigint) => self.catch_up_signals(&mut seen, &mut units),
                Some(()) = recv_signal(&mut sigterm) => self.catch_up_signals(&mut seen, &mut units),
                _ = progress.tick() => {
                    let progress = self.scheduler.progress(now());
                    self.apply(progress, &mut units);
                }
                _ = sleep_until(self.scheduler.next_due()) => {
                    let due = self.scheduler.tick(now());
                    self.apply(due, &mut units);
                }
                // A write a reporter held back is due: the flush below makes it.
                _ = sleep_until(self.sink.due()) => {}
            }
            self.flush(&mut units);
        }

        let (status, finished) = self
            .scheduler
            .finish(now(), started.elapsed(), peak_rss_kib());
        self.apply(finished, &mut units);
        self.flush(&mut units);
        match self.sink_error.take() {
            Some(e) => Err(e),
            None => Ok(status),
        }
    }

    /// Writes the events, spawns the units, then passes on the stop request.
    /// Before anything starts, the sink flushes: what it waits for ended in
    /// events that are on disk by then (`resume` reads them after a kill).
    fn apply(&mut self, actions: Actions, units: &mut Units) {
        for line in &actions.events {
            if let Err(e) = self.sink.event(line) {
                self.sink_failed(e, units);
            }
        }
        if !actions.start.is_empty() || !actions.start_cleanup.is_empty() {
            self.flush(units);
        }
        for i in actions.start {
            units.spawn(i, false);
        }
        for i in actions.start_cleanup {
            units.spawn(i, true);
        }
        if let Some(stop) = actions.stop {
            let _ = units.stop_tx.send(stop);
        }
        if let Some(stop) = actions.stop_cleanup {
            let _ = units.cleanup_stop_tx.send(stop);
        }
    }

    fn flush(&mut self, units: &mut Units) {
        if let Err(e) = self.sink.flush() {
            self.sink_failed(e, units);
        }
    }

    fn sink_failed(&mut self, e: SinkError, units: &mut Units) {
        if self.sink_error.is_none() {
            self.sink_error = Some(e);
            let stopping = self.scheduler.sink_failed(now());
            self.apply(stopping, units);
        }
    }

    fn report(&mut self, report: Report, units: &mut Units) {
        let actions = self.scheduler.report(report, now());
        self.apply(actions, units);
    }

    /// Handles the reports already queued.
    fn drain_reports(&mut self, units: &mut Units) {
        while let Ok(report) = units.rx.try_recv() {
            self.report(report, units);
        }
    }

    /// Acts on every signal counted since `seen`.
    fn catch_up_signals(&mut self, seen: &mut signals::Received, units: &mut Units) {
        let received = signals::Received::now();
        if received.any() {
            // What starts from now on is a cleanup under a cancellation: its
            // scripts see GOLDSMITH_CANCELLED=1 and must not wait for Azure.
            units.ctx.cancelled.store(true, Ordering::SeqCst);
        }
        for name in received.since(*seen) {
            let actions = self.scheduler.signal(name, now());
            self.apply(actions, units);
        }
        *seen = received;
    }
}

/// Waits until `at`, or forever when there is nothing to wait for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
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
