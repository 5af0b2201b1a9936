//! One operation from start to finish: idempotency check, attempts, retries.
//!
//! A unit never decides what the user sees: it reports to the coordinator
//! over a channel, and the coordinator turns that into events.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::backoff;
use super::oplog::OpLog;
use super::process::{self, Exit, ProcessResult, ProcessSpec, Stop};
use super::sealed::SealedScript;
use super::vm_attempt;
use crate::duration::format_duration;
use crate::plan::{PlannedOp, Script};
use crate::record::event::AttemptOutcome;
use crate::record::failure::FailureClass;
use crate::record::status::OpStatus;
use crate::redact::Redactor;
use crate::run_dir::RunDir;

/// Longest an idempotency check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// What a unit tells the coordinator.
#[derive(Debug)]
pub enum UnitMsg {
    CheckFinished {
        op: usize,
        done: bool,
        duration: Duration,
    },
    AttemptStarted {
        op: usize,
        attempt: u32,
    },
    AttemptFinished {
        op: usize,
        attempt: u32,
        outcome: AttemptOutcome,
        duration: Duration,
        retry_in: Option<Duration>,
    },
    Finished {
        op: usize,
        status: OpStatus,
        attempts: u32,
        duration: Duration,
        exit_code: Option<i32>,
        failure_class: Option<FailureClass>,
        reason: Option<String>,
        log_tail: Vec<String>,
    },
}

/// A message and when it happened (the coordinator may handle it later).
pub type Report = (jiff::Timestamp, UnitMsg);

/// Sends `msg` stamped with the current time; a closed channel means the run is over.
fn report(tx: &mpsc::UnboundedSender<Report>, msg: UnitMsg) {
    let _ = tx.send((jiff::Timestamp::now(), msg));
}

/// Everything a unit needs, shared by all units of a run.
pub struct UnitContext {
    pub run_id: String,
    pub run_dir: RunDir,
    pub cwd: PathBuf,
    /// What every operation's processes get: inherited basics, config values, simulator settings.
    pub env: Vec<(String, String)>,
    /// Secret values by name; an operation gets only those it uses (`PlannedOp::secrets`).
    pub secrets: std::collections::BTreeMap<String, String>,
    pub grace: Duration,
    pub redactor: Redactor,
    /// Multiplies every timeout and wait of the engine: 1 for real Azure,
    /// 1/speed on the simulator, whose clock runs faster.
    pub time_scale: f64,
    /// VMs (by lock name) restarted by an installer (1641): the next
    /// run-command on one first waits for its VM agent.
    pub rebooting: Mutex<HashSet<String>>,
}

impl UnitContext {
    pub fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.time_scale)
    }

    /// The whole environment of every process of `op`: nothing else is inherited.
    pub fn env_for(&self, op: &PlannedOp, attempt: u32) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.extend(op.secrets.iter().filter_map(|name| {
            self.secrets
                .get(name)
                .map(|value| (name.clone(), value.clone()))
        }));
        let op = &op.id;
        env.extend([
            ("GOLDSMITH_RUN_ID".to_string(), self.run_id.clone()),
            (
                "GOLDSMITH_RUN_DIR".to_string(),
                self.run_dir.path.display().to_string(),
            ),
            ("GOLDSMITH_OP".to_string(), op.to_string()),
            ("GOLDSMITH_ATTEMPT".to_string(), attempt.to_string()),
        ]);
        env
    }
}

pub async fn run(
    ctx: Arc<UnitContext>,
    index: usize,
    op: PlannedOp,
    stop: watch::Receiver<Stop>,
    tx: mpsc::UnboundedSender<Report>,
) {
    let started = Instant::now();
    let mut log = OpLog::open(&ctx.run_dir.log(&op.id), ctx.redactor.clone());
    let finish =
        |log: &OpLog, status, attempts, exit_code, failure_class, reason: Option<String>| {
            UnitMsg::Finished {
                op: index,
                status,
                attempts,
                duration: started.elapsed(),
                exit_code,
                failure_class,
                reason,
                log_tail: if status == OpStatus::Failed {
                    log.tail()
                } else {
                    Vec::new()
                },
            }
        };

    // Reasons not to start at all: a script that did not render, or a log that cannot be
    // written (output nobody could see is not run).
    let not_startable = match (&op.script, &log.error) {
        (Script::Invalid, _) => Some((
            FailureClass::Spawn,
            "the operation's script could not be rendered (this is a bug in goldsmith: the plan should have failed)".to_string(),
        )),
        (_, Some(e)) => Some((
            FailureClass::LogWrite,
            format!("cannot write {}: {e}; not running it", RunDir::shown_log(&op.id)),
        )),
        _ => None,
    };
    if let Some((class, reason)) = not_startable {
        log.note(&reason);
        log.finish();
        report(
            &tx,
            finish(&log, OpStatus::Failed, 0, None, Some(class), Some(reason)),
        );
        return;
    }

    if let Some(check) = &op.check {
        log.note("running the idempotency check");
        let spec = bash_spec(
            &ctx,
            &op,
            check,
            "check.sh",
            op.timeout.min(CHECK_TIMEOUT),
            0,
        );
        let result = run_prepared(spec, &mut log, stop.clone()).await;
        let done = result.exit == Exit::Code(0);
        report(
            &tx,
            UnitMsg::CheckFinished {
                op: index,
                done,
                duration: result.duration,
            },
        );
        if done {
            log.note("idempotency check exited 0: already done, not running");
            log.finish();
            report(
                &tx,
                finish(
                    &log,
                    OpStatus::AlreadyDone,
                    0,
                    None,
                    None,
                    Some("idempotency check passed".into()),
                ),
            );
            return;
        }
        if result.exit == Exit::Cancelled {
            report(
                &tx,
                finish(
                    &log,
                    OpStatus::Cancelled,
                    0,
                    None,
                    None,
                    Some("cancelled during the idempotency check".into()),
                ),
            );
            return;
        }
        log.note(&format!(
            "idempotency check: {}; running the operation",
            describe(&result.exit)
        ));
    }

    let max = op.retry.attempts.max(1);
    let budget = op.retry.budget.map(|b| ctx.scaled(b));
    let mut last = None;
    let mut made = 0;
    for attempt in 1..=max {
        made = attempt;
        if *stop.borrow() != Stop::No {
            report(
                &tx,
                finish(
                    &log,
                    OpStatus::Cancelled,
                    attempt - 1,
                    None,
                    None,
                    Some("cancelled before the next attempt".into()),
                ),
            );
            return;
        }
        report(&tx, UnitMsg::AttemptStarted { op: index, attempt });
        log.note(&format!(
            "attempt {attempt} started at {}",
            jiff::Timestamp::now()
        ));
        let (outcome, duration, cancelled) = match &op.script {
            Script::Bash(text) => {
                let spec = bash_spec(&ctx, &op, text, "sh", ctx.scaled(op.timeout), attempt);
                let result = run_prepared(spec, &mut log, stop.clone()).await;
                (
                    classify(&result),
                    result.duration,
                    result.exit == Exit::Cancelled,
                )
            }
            Script::RunCommand(rc) => {
                vm_attempt::run(&ctx, &op, rc, attempt, &mut log, stop.clone()).await
            }
            Script::Invalid => unreachable!("handled before the first attempt"),
        };
        log.note(&format!(
            "attempt {attempt} {}",
            if outcome.passed {
                "succeeded".to_string()
            } else {
                format!("failed: {}", outcome.message)
            }
        ));
        let outcome = match &log.error {
            // Output that cannot be recorded cannot be shown or checked: the attempt failed.
            Some(e) if outcome.failure_class != Some(FailureClass::LogWrite) => {
                let mut lost = AttemptOutcome::new(
                    false,
                    format!(
                        "cannot write {}: {e}; the operation's output is lost{}",
                        RunDir::shown_log(&op.id),
                        if outcome.passed {
                            " (the script itself succeeded)"
                        } else {
                            ""
                        }
                    ),
                );
                lost.exit_code = outcome.exit_code;
                lost.failure_class = Some(FailureClass::LogWrite);
                lost
            }
            _ => outcome,
        };
        let class_listed = outcome
            .failure_class
            .is_some_and(|c| op.retry.on.contains(&c));
        let mut retry_in = (!outcome.passed && !cancelled && attempt < max && class_listed)
            .then(|| ctx.scaled(backoff::delay(&op.retry, attempt, backoff::random_jitter())));
        if let (Some(delay), Some(budget)) = (retry_in, budget)
            && started.elapsed() + delay > budget
        {
            log.note(&format!(
                "not retrying: the retry budget of {} is used up",
                format_duration(budget)
            ));
            retry_in = None;
        }
        report(
            &tx,
            UnitMsg::AttemptFinished {
                op: index,
                attempt,
                outcome: outcome.clone(),
                duration,
                retry_in,
            },
        );
        if outcome.passed {
            log.finish();
            report(
                &tx,
                finish(
                    &log,
                    OpStatus::Succeeded,
                    attempt,
                    outcome.exit_code,
                    None,
                    None,
                ),
            );
            return;
        }
        if cancelled {
            report(
                &tx,
                finish(
                    &log,
                    OpStatus::Cancelled,
                    attempt,
                    None,
                    None,
                    Some(outcome.message),
                ),
            );
            return;
        }
        last = Some(outcome);
        let Some(delay) = retry_in else { break };
        log.note(&format!("retrying in {}", format_duration(delay)));
        let mut stop_wait = stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop_wait.wait_for(|s| *s != Stop::No) => {}
        }
    }
    let outcome = last.expect("the loop ran at least once and failed");
    log.finish();
    report(
        &tx,
        finish(
            &log,
            OpStatus::Failed,
            made,
            outcome.exit_code,
            outcome.failure_class,
            Some(outcome.message),
        ),
    );
}

/// How bash runs `text`, the planned script (also in `scripts/<op>.<ext>` for people),
/// from sealed memory so that nothing written to the run directory can change it.
fn bash_spec(
    ctx: &UnitContext,
    op: &PlannedOp,
    text: &str,
    ext: &str,
    timeout: Duration,
    attempt: u32,
) -> std::io::Result<ProcessSpec> {
    let script = SealedScript::new(&format!("{}.{ext}", op.id), text.as_bytes())?;
    Ok(ProcessSpec {
        program: "bash".into(),
        args: vec![
            "--noprofile".into(),
            "--norc".into(),
            "-euo".into(),
            "pipefail".into(),
            script.path().into(),
        ],
        env: ctx.env_for(op, attempt),
        cwd: ctx.cwd.clone(),
        timeout,
        grace: ctx.grace,
        capture: false,
        script: Some(script),
    })
}

/// Runs `spec` unless it could not be prepared, which counts as a failure to start.
async fn run_prepared(
    spec: std::io::Result<ProcessSpec>,
    log: &mut OpLog,
    stop: watch::Receiver<Stop>,
) -> ProcessResult {
    match spec {
        Ok(spec) => process::run(&spec, log, stop).await,
        Err(e) => ProcessResult {
            exit: Exit::SpawnFailed(format!("cannot hold the script in memory: {e}")),
            stdout: Vec::new(),
            stderr: Vec::new(),
            leaked: false,
            duration: Duration::ZERO,
        },
    }
}

pub fn describe(exit: &Exit) -> String {
    match exit {
        Exit::Code(c) => format!("exit code {c}"),
        Exit::Signal(s) => format!("killed by signal {s} ({})", signal_name(*s)),
        Exit::TimedOut => "timed out".into(),
        Exit::Cancelled => "cancelled".into(),
        Exit::SpawnFailed(e) => e.clone(),
    }
}

/// The outcome of a process whose exit code is its result (a shell op).
pub fn classify(result: &ProcessResult) -> AttemptOutcome {
    let (passed, exit_code, signal, failure_class) = match &result.exit {
        Exit::Code(0) => (true, Some(0), None, None),
        Exit::Code(c) => (false, Some(*c), None, Some(FailureClass::ExitCode)),
        Exit::Signal(s) => (false, None, Some(*s), Some(FailureClass::Signal)),
        Exit::TimedOut => (false, None, None, Some(FailureClass::Timeout)),
        Exit::Cancelled => (false, None, None, None),
        Exit::SpawnFailed(_) => (false, None, None, Some(FailureClass::Spawn)),
    };
    let message = match result.exit {
        Exit::TimedOut => format!("timed out after {}", format_duration(result.duration)),
        _ => describe(&result.exit),
    };
    let mut outcome = AttemptOutcome::new(passed, message);
    outcome.exit_code = exit_code;
    outcome.signal = signal;
    outcome.failure_class = failure_class;
    outcome.leaked = result.leaked;
    if result.leaked {
        outcome
            .warnings
            .push("a background process outlived the script and was killed".to_string());
    }
    outcome
}

pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}
