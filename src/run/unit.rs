//! One operation from start to finish: idempotency check, attempts, retries.
//!
//! A unit never decides what the user sees: it reports to the coordinator
//! over a channel, and the coordinator turns that into events.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::backoff;
use super::oplog::OpLog;
use super::process::{self, Exit, ProcessSpec, Stop};
use crate::plan::{PlannedOp, Script};
use crate::record::event::AttemptOutcome;
use crate::record::failure::FailureClass;
use crate::record::status::OpStatus;
use crate::redact::Redactor;

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

/// Everything a unit needs, shared by all units of a run.
pub struct UnitContext {
    pub run_id: String,
    pub run_dir: std::path::PathBuf,
    pub cwd: std::path::PathBuf,
    pub env: Vec<(String, String)>,
    pub grace: Duration,
    pub redactor: Redactor,
}

pub async fn run(
    ctx: Arc<UnitContext>,
    index: usize,
    op: PlannedOp,
    stop: watch::Receiver<Stop>,
    tx: mpsc::UnboundedSender<UnitMsg>,
) {
    let started = Instant::now();
    let mut log = OpLog::open(
        &ctx.run_dir.join("logs").join(format!("{}.log", op.id)),
        ctx.redactor.clone(),
    );
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

    let Script::Bash(script) = &op.script else {
        let reason = format!(
            "`{}` operations cannot run yet in this version of goldsmith",
            op.kind.name()
        );
        log.note(&reason);
        log.finish();
        let _ = tx.send(finish(
            &log,
            OpStatus::Failed,
            0,
            None,
            Some(FailureClass::Spawn),
            Some(reason),
        ));
        return;
    };

    if let Some(check) = &op.check {
        log.note("running the idempotency check");
        let spec = bash_spec(
            &ctx,
            &op,
            "check.sh",
            check,
            op.timeout.min(CHECK_TIMEOUT),
            0,
        );
        let result = match spec {
            Ok(spec) => process::run(&spec, &mut log, stop.clone()).await,
            Err(e) => process::ProcessResult {
                exit: Exit::SpawnFailed(e),
                stdout: Vec::new(),
                stderr: Vec::new(),
                leaked: false,
                duration: Duration::ZERO,
            },
        };
        let done = result.exit == Exit::Code(0);
        let _ = tx.send(UnitMsg::CheckFinished {
            op: index,
            done,
            duration: result.duration,
        });
        if done {
            log.note("idempotency check exited 0: already done, not running");
            log.finish();
            let _ = tx.send(finish(
                &log,
                OpStatus::AlreadyDone,
                0,
                None,
                None,
                Some("idempotency check passed".into()),
            ));
            return;
        }
        if result.exit == Exit::Cancelled {
            let _ = tx.send(finish(
                &log,
                OpStatus::Cancelled,
                0,
                None,
                None,
                Some("cancelled during the idempotency check".into()),
            ));
            return;
        }
        log.note(&format!(
            "idempotency check: {}; running the operation",
            describe(&result.exit)
        ));
    }

    let max = op.retry.attempts.max(1);
    let mut last = None;
    let mut made = 0;
    for attempt in 1..=max {
        made = attempt;
        if *stop.borrow() != Stop::No {
            let _ = tx.send(finish(
                &log,
                OpStatus::Cancelled,
                attempt - 1,
                None,
                None,
                Some("cancelled before the next attempt".into()),
            ));
            return;
        }
        let _ = tx.send(UnitMsg::AttemptStarted { op: index, attempt });
        log.note(&format!(
            "attempt {attempt} of {max} started at {}",
            jiff::Timestamp::now()
        ));
        let result = match bash_spec(&ctx, &op, "sh", script, op.timeout, attempt) {
            Ok(spec) => process::run(&spec, &mut log, stop.clone()).await,
            Err(e) => process::ProcessResult {
                exit: Exit::SpawnFailed(e),
                stdout: Vec::new(),
                stderr: Vec::new(),
                leaked: false,
                duration: Duration::ZERO,
            },
        };
        let outcome = classify(&result);
        log.note(&format!(
            "attempt {attempt} {}",
            if outcome.passed {
                "succeeded".to_string()
            } else {
                format!("failed: {}", outcome.message)
            }
        ));
        if let Some(e) = log.error.take() {
            tracing::warn!("cannot write the log of {}: {e}", op.id);
        }
        let cancelled = result.exit == Exit::Cancelled;
        let retryable = !outcome.passed
            && !cancelled
            && attempt < max
            && outcome
                .failure_class
                .is_some_and(|c| op.retry.on.contains(&c));
        let retry_in =
            retryable.then(|| backoff::delay(&op.retry, attempt, backoff::random_jitter()));
        let _ = tx.send(UnitMsg::AttemptFinished {
            op: index,
            attempt,
            outcome: outcome.clone(),
            duration: result.duration,
            retry_in,
        });
        if outcome.passed {
            log.finish();
            let _ = tx.send(finish(
                &log,
                OpStatus::Succeeded,
                attempt,
                outcome.exit_code,
                None,
                None,
            ));
            return;
        }
        if cancelled {
            let _ = tx.send(finish(
                &log,
                OpStatus::Cancelled,
                attempt,
                None,
                None,
                Some(outcome.message),
            ));
            return;
        }
        last = Some(outcome);
        let Some(delay) = retry_in else { break };
        log.note(&format!(
            "retrying in {}",
            crate::catalog::fields::format_duration(delay)
        ));
        let mut stop_wait = stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop_wait.wait_for(|s| *s != Stop::No) => {}
        }
    }
    let outcome = last.expect("the loop ran at least once and failed");
    log.finish();
    let _ = tx.send(finish(
        &log,
        OpStatus::Failed,
        made,
        outcome.exit_code,
        outcome.failure_class,
        Some(outcome.message),
    ));
}

/// Writes the script file and describes how bash runs it.
fn bash_spec(
    ctx: &UnitContext,
    op: &PlannedOp,
    ext: &str,
    script: &str,
    timeout: Duration,
    attempt: u32,
) -> Result<ProcessSpec, String> {
    let path = ctx.run_dir.join("scripts").join(format!("{}.{ext}", op.id));
    if !path.exists() {
        std::fs::write(&path, script)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let mut env = ctx.env.clone();
    env.extend([
        ("GOLDSMITH_RUN_ID".to_string(), ctx.run_id.clone()),
        (
            "GOLDSMITH_RUN_DIR".to_string(),
            ctx.run_dir.display().to_string(),
        ),
        ("GOLDSMITH_OP".to_string(), op.id.clone()),
        ("GOLDSMITH_ATTEMPT".to_string(), attempt.to_string()),
    ]);
    Ok(ProcessSpec {
        program: "bash".into(),
        args: vec![
            "--noprofile".into(),
            "--norc".into(),
            "-euo".into(),
            "pipefail".into(),
            path.into(),
        ],
        env,
        cwd: ctx.cwd.clone(),
        timeout,
        grace: ctx.grace,
        capture: false,
    })
}

fn describe(exit: &Exit) -> String {
    match exit {
        Exit::Code(c) => format!("exit code {c}"),
        Exit::Signal(s) => format!("killed by signal {s} ({})", signal_name(*s)),
        Exit::TimedOut => "timed out".into(),
        Exit::Cancelled => "cancelled".into(),
        Exit::SpawnFailed(e) => e.clone(),
    }
}

pub fn classify(result: &process::ProcessResult) -> AttemptOutcome {
    let (passed, exit_code, signal, failure_class) = match &result.exit {
        Exit::Code(0) => (true, Some(0), None, None),
        Exit::Code(c) => (false, Some(*c), None, Some(FailureClass::ExitCode)),
        Exit::Signal(s) => (false, None, Some(*s), Some(FailureClass::Signal)),
        Exit::TimedOut => (false, None, None, Some(FailureClass::Timeout)),
        Exit::Cancelled => (false, None, None, None),
        Exit::SpawnFailed(_) => (false, None, None, Some(FailureClass::Spawn)),
    };
    let mut message = describe(&result.exit);
    if result.exit == Exit::TimedOut {
        message = format!(
            "timed out after {}",
            crate::catalog::fields::format_duration(result.duration)
        );
    }
    let mut warnings = Vec::new();
    if result.leaked {
        warnings.push("a background process outlived the script and was killed".to_string());
    }
    AttemptOutcome {
        passed,
        exit_code,
        signal,
        failure_class,
        message,
        leaked: result.leaked,
        warnings,
        installs: Vec::new(),
        reboot_required: false,
        reboot_started: false,
    }
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
