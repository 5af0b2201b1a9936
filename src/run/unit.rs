//! One operation from start to finish: idempotency check, attempts, retries.
//!
//! A unit never decides what the user sees: it reports to the coordinator
//! over a channel, and the coordinator turns that into events.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::backoff;
use super::oplog::OpLog;
use super::process::{self, Exit, ProcessResult, ProcessSpec, Stop};
use super::sealed::SealedScript;
use super::tell::Tell;
use super::vm_attempt;
use crate::azure::session::{Renewed, Session};
use crate::catalog::run_mode::RunMode;
use crate::duration::format_duration;
use crate::plan::{PlannedOp, Script};
use crate::record::event::{
    AttemptEnd, AttemptOutcome, AttemptResult, OpEnd, OpKind, UpdateRound, VmRestart,
};
use crate::record::failure::FailureClass;
use crate::record::status::OpStatus;
use crate::redact::Redactor;
use crate::run_dir::RunDir;

/// Longest an idempotency check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// What a unit tells the coordinator: the payloads of the events it becomes.
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
        end: AttemptEnd,
    },
    /// Where a long operation is now (a windows-update round, a VM restart),
    /// for the console's progress lines, `None` when nothing more than its
    /// run-command; no event of its own.
    Step {
        op: usize,
        text: Option<String>,
    },
    /// A round of a windows-update operation ended.
    UpdateRound {
        op: usize,
        attempt: u32,
        round: UpdateRound,
    },
    /// goldsmith got the op's VM back before a run-command on it.
    VmRestarted {
        op: usize,
        restart: VmRestart,
    },
    /// The Azure CLI was signed in again before the op's next attempt.
    SignedIn {
        op: usize,
        sign_in: u32,
        reason: String,
    },
    Finished {
        op: usize,
        end: OpEnd,
    },
}

/// A message and when it happened (the coordinator may handle it later).
pub type Report = (jiff::Timestamp, UnitMsg);

/// Everything a unit needs, shared by all units of a run.
pub struct UnitContext {
    pub run_id: String,
    pub run_dir: RunDir,
    pub cwd: PathBuf,
    /// The bash every shell script and idempotency check runs in, found once
    /// on the operations' `PATH` (`environment::find_program`); `bash` when
    /// it is not there, so the spawn fails with the usual message.
    pub bash: PathBuf,
    /// What every operation's processes get: inherited basics, config values, simulator settings.
    pub env: Vec<(String, String)>,
    /// Secret values by name; an operation gets only those it uses (`PlannedOp::secrets`).
    pub secrets: std::collections::BTreeMap<String, String>,
    pub grace: Duration,
    pub redactor: Redactor,
    /// 1 for real Azure, 1/speed on the simulator, whose clock runs faster.
    ///
    /// It scales only what waits for Azure to change state: retry backoff and
    /// a retry budget (a conflict, throttling or an agent clears on Azure's
    /// clock), and the wait for a VM agent after a restart. An operation's
    /// timeout is real time: it bounds processes on this machine (a `sleep 1`
    /// takes a real second at any speed), while the simulated az already
    /// answers on its own faster clock. Progress lines stay real time too: they
    /// are for the person watching.
    pub time_scale: f64,
    /// The least real time a scaled budget or wait allows: the real az spends
    /// about a second starting up, whatever the simulated speed (`--az-cli`);
    /// zero otherwise.
    pub min_timeout: Duration,
    /// VMs (by lock name) restarted by an installer (1641) or needing a
    /// restart (3010, a Windows Update round): the next run-command on one
    /// first restarts it if needed and waits for its VM agent.
    pub restarts: super::vm_restart::VmRestarts,
    /// Per VM, how many scripts of this run are running on it: a restart waits for none.
    pub busy: super::vm_restart::VmBusy,
    /// The run's Azure sign-in, renewed before an attempt when due or after
    /// Azure refused one (`azure::session`); `None` when goldsmith did not
    /// sign in (az uses the configuration it finds).
    pub azure: Option<Arc<Session>>,
    /// The run was cancelled by a signal: processes started from now on (the
    /// cleanup's) get `GOLDSMITH_CANCELLED=1`.
    pub cancelled: std::sync::atomic::AtomicBool,
}

impl UnitContext {
    pub fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.time_scale)
    }

    /// A retry budget or a wait for Azure, scaled, but never below `min_timeout`.
    pub fn scaled_timeout(&self, d: Duration) -> Duration {
        self.scaled(d).max(self.min_timeout.min(d))
    }

    /// The whole environment of every process of `op`: nothing else is inherited.
    pub fn env_for(&self, op: &PlannedOp, attempt: u32) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.extend(self.azure.iter().flat_map(|a| a.env()));
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
        if self.cancelled.load(std::sync::atomic::Ordering::SeqCst) {
            env.push(("GOLDSMITH_CANCELLED".to_string(), "1".to_string()));
        }
        let agent = user_agent(&env, op, attempt);
        env.push(("AZURE_HTTP_USER_AGENT".to_string(), agent));
        env
    }
}

/// What az adds to the `User-Agent` of every request an attempt makes, after
/// the host's own `AZURE_HTTP_USER_AGENT`: goldsmith, the operation and the
/// attempt, so Azure's activity log (and the stand-in's request log and
/// scenario faults) can tell which operation sent a request. Operation ids
/// are letters, digits, `-`, `_` and `.`, which a product token allows.
fn user_agent(env: &[(String, String)], op: &str, attempt: u32) -> String {
    let ours = format!(
        "goldsmith/{} op/{op} attempt/{attempt}",
        env!("CARGO_PKG_VERSION")
    );
    match env.iter().rev().find(|(k, _)| k == "AZURE_HTTP_USER_AGENT") {
        Some((_, host)) if !host.trim().is_empty() => format!("{} {ours}", host.trim()),
        _ => ours,
    }
}

pub async fn run(
    ctx: Arc<UnitContext>,
    index: usize,
    op: PlannedOp,
    stop: watch::Receiver<Stop>,
    tx: mpsc::UnboundedSender<Report>,
) {
    let log = OpLog::open(&ctx.run_dir.log(&op.id), ctx.redactor.clone());
    let mut unit = Unit {
        ctx,
        index,
        op,
        stop,
        tx,
        log,
        started: Instant::now(),
    };
    let end = unit.run().await;
    unit.send(UnitMsg::Finished { op: index, end });
}

/// One operation under way: its log, and the channel to the coordinator.
struct Unit {
    ctx: Arc<UnitContext>,
    index: usize,
    op: PlannedOp,
    stop: watch::Receiver<Stop>,
    tx: mpsc::UnboundedSender<Report>,
    log: OpLog,
    started: Instant,
}

/// What the idempotency check decided.
enum CheckVerdict {
    AlreadyDone,
    Cancelled,
    Run,
}

impl Unit {
    /// Sends `msg` stamped with the current time; a closed channel means the run is over.
    fn send(&self, msg: UnitMsg) {
        let _ = self.tx.send((jiff::Timestamp::now(), msg));
    }

    /// How the op ended; a failure carries the end of its log.
    fn end(
        &self,
        status: OpStatus,
        attempts: u32,
        exit_code: Option<i32>,
        failure_class: Option<FailureClass>,
        reason: Option<String>,
    ) -> OpEnd {
        OpEnd {
            status,
            attempts,
            duration: self.started.elapsed(),
            exit_code,
            failure_class,
            reason,
            log_tail: if status == OpStatus::Failed {
                self.log.tail()
            } else {
                Vec::new()
            },
        }
    }

    async fn run(&mut self) -> OpEnd {
        if let Some((class, reason)) = self.not_startable() {
            self.log.note(&reason);
            self.log.finish();
            return self.end(OpStatus::Failed, 0, None, Some(class), Some(reason));
        }
        if let Some(check) = self.op.check.clone() {
            self.sign_in_if_due().await;
            match self.idempotency_check(&check).await {
                CheckVerdict::AlreadyDone => {
                    self.log
                        .note("idempotency check exited 0: already done, not running");
                    self.log.finish();
                    let reason = "idempotency check passed".to_string();
                    return self.end(OpStatus::AlreadyDone, 0, None, None, Some(reason));
                }
                CheckVerdict::Cancelled => {
                    let reason = "cancelled during the idempotency check".to_string();
                    return self.end(OpStatus::Cancelled, 0, None, None, Some(reason));
                }
                CheckVerdict::Run => {}
            }
        }
        self.attempts().await
    }

    /// Reasons not to start at all: a script that did not render, or a log that cannot be
    /// written (output nobody could see is not run).
    fn not_startable(&self) -> Option<(FailureClass, String)> {
        match (&self.op.script, &self.log.error) {
            (Script::Invalid, _) => Some((
                FailureClass::Spawn,
                "the operation's script could not be rendered (this is a bug in goldsmith: the plan should have failed)".to_string(),
            )),
            (_, Some(e)) => Some((
                FailureClass::LogWrite,
                format!("cannot write {}: {e}; not running it", RunDir::shown_log(&self.op.id)),
            )),
            _ => None,
        }
    }

    async fn idempotency_check(&mut self, check: &str) -> CheckVerdict {
        self.log.note("running the idempotency check");
        let timeout = self.op.timeout.min(CHECK_TIMEOUT);
        let spec = bash_spec(&self.ctx, &self.op, check, "check.sh", timeout, 0);
        let result = run_prepared(spec, &mut self.log, self.stop.clone()).await;
        self.send(UnitMsg::CheckFinished {
            op: self.index,
            done: result.exit == Exit::Code(0),
            duration: result.duration,
        });
        match result.exit {
            Exit::Code(0) => CheckVerdict::AlreadyDone,
            Exit::Cancelled => CheckVerdict::Cancelled,
            ref other => {
                self.log.note(&format!(
                    "idempotency check: {}; running the operation",
                    describe(other)
                ));
                CheckVerdict::Run
            }
        }
    }

    /// Every allowed attempt, with retries and their delays, until one passes.
    async fn attempts(&mut self) -> OpEnd {
        let mut max = self.op.retry.attempts.max(1);
        let (mut last, mut attempt, mut signed_in_again) = (None, 0, false);
        while attempt < max {
            attempt += 1;
            if *self.stop.borrow() != Stop::No {
                let reason = "cancelled before the next attempt".to_string();
                return self.end(OpStatus::Cancelled, attempt - 1, None, None, Some(reason));
            }
            self.send(UnitMsg::AttemptStarted {
                op: self.index,
                attempt,
            });
            self.log.note(&format!(
                "attempt {attempt} started at {}",
                jiff::Timestamp::now()
            ));
            let sign_in = self.sign_in_if_due().await;
            let (outcome, duration) = self.attempt(attempt).await;
            let mut retry_in = self.retry_delay(&outcome, attempt, max);
            let tail = self.log.tail();
            if !signed_in_again
                && let Some(why) = crate::azure::session::auth_failure(&outcome, attempt, &tail)
                && self.sign_in_again(sign_in, &why).await
            {
                // Once per operation, whatever its `retry` says.
                signed_in_again = true;
                max = max.max(attempt + 1);
                retry_in = retry_in.or(Some(Duration::ZERO));
            }
            self.send(UnitMsg::AttemptFinished {
                op: self.index,
                end: AttemptEnd {
                    attempt,
                    outcome: outcome.clone(),
                    duration,
                    retry_in,
                },
            });
            match outcome.result {
                AttemptResult::Pass { exit_code } => {
                    self.log.finish();
                    return self.end(OpStatus::Succeeded, attempt, exit_code, None, None);
                }
                AttemptResult::Cancelled => {
                    let reason = Some(outcome.message);
                    return self.end(OpStatus::Cancelled, attempt, None, None, reason);
                }
                AttemptResult::Fail { .. }
                | AttemptResult::Timeout
                | AttemptResult::ExecFail { .. } => {}
            }
            last = Some((attempt, outcome));
            let Some(delay) = retry_in else { break };
            self.log
                .note(&format!("retrying in {}", format_duration(delay)));
            let mut stop_wait = self.stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop_wait.wait_for(|s| *s != Stop::No) => {}
            }
        }
        let (made, outcome) = last.expect("the loop ran at least once and failed");
        self.log.finish();
        self.end(
            OpStatus::Failed,
            made,
            outcome.exit_code(),
            outcome.failure_class(),
            Some(outcome.message),
        )
    }

    /// One attempt, its result noted in the log; output that could not be
    /// recorded fails it (it cannot be shown or checked).
    async fn attempt(&mut self, attempt: u32) -> (AttemptOutcome, Duration) {
        let ctx = self.ctx.clone();
        // Only what this attempt reports counts (not its idempotency check's output).
        self.log.outputs.clear();
        let (mut outcome, duration) = match &self.op.script {
            Script::Bash(text) => {
                let spec = bash_spec(&ctx, &self.op, text, "sh", self.op.timeout, attempt);
                let result = run_prepared(spec, &mut self.log, self.stop.clone()).await;
                (classify(&result), result.duration)
            }
            Script::RunCommand(rc) if self.op.kind == OpKind::WindowsUpdate => {
                let tell = Tell::new(self.tx.clone(), self.index, attempt);
                let stop = self.stop.clone();
                super::windows_update::run(&ctx, &self.op, rc, &tell, &mut self.log, stop).await
            }
            Script::RunCommand(rc) if rc.mode == RunMode::Managed => {
                let tell = Tell::new(self.tx.clone(), self.index, attempt);
                let stop = self.stop.clone();
                super::managed_attempt::run(&ctx, &self.op, rc, &tell, &mut self.log, stop).await
            }
            Script::RunCommand(rc) => {
                let tell = Tell::new(self.tx.clone(), self.index, attempt);
                let stop = self.stop.clone();
                vm_attempt::run(&ctx, &self.op, rc, &tell, &mut self.log, stop).await
            }
            Script::Invalid => unreachable!("handled before the first attempt"),
        };
        let reported = std::mem::take(&mut self.log.outputs);
        if outcome.passed() && !reported.is_empty() {
            outcome.outputs = Some(Box::new(reported));
        }
        self.log.note(&format!(
            "attempt {attempt} {}",
            if outcome.passed() {
                "succeeded".to_string()
            } else {
                format!("failed: {}", outcome.message)
            }
        ));
        match &self.log.error {
            Some(e)
                if outcome.failure_class() != Some(FailureClass::LogWrite)
                    && outcome.result != AttemptResult::Cancelled =>
            {
                let lost = AttemptOutcome::new(
                    AttemptResult::ExecFail {
                        class: FailureClass::LogWrite,
                        exit_code: outcome.exit_code(),
                    },
                    format!(
                        "cannot write {}: {e}; the operation's output is lost{}",
                        RunDir::shown_log(&self.op.id),
                        if outcome.passed() {
                            " (the script itself succeeded)"
                        } else {
                            ""
                        }
                    ),
                );
                (lost, duration)
            }
            _ => (outcome, duration),
        }
    }

    /// Signs Azure in again when the access token is due to expire; returns
    /// the sign-in the next process uses (0 without one).
    async fn sign_in_if_due(&mut self) -> u32 {
        let Some(azure) = self.ctx.azure.clone() else {
            return 0;
        };
        if let Some(result) = azure.renew_if_due().await {
            self.signed_in(result);
        }
        azure.generation()
    }

    /// After Azure refused an attempt that used sign-in `sign_in`: signs in
    /// again; true when the operation should try again.
    async fn sign_in_again(&mut self, sign_in: u32, failure: &str) -> bool {
        let Some(azure) = self.ctx.azure.clone() else {
            return false;
        };
        match azure.renew_after_auth_failure(sign_in, failure).await {
            Some(result) => self.signed_in(result),
            None => false,
        }
    }

    /// Notes a new sign-in in the log and the events; false when it failed.
    fn signed_in(&mut self, result: Result<Renewed, String>) -> bool {
        match result {
            Ok(renewed) => {
                self.log.note(&format!(
                    "signed in to Azure again (sign-in {}): {}",
                    renewed.generation, renewed.reason
                ));
                if renewed.new {
                    self.send(UnitMsg::SignedIn {
                        op: self.index,
                        sign_in: renewed.generation,
                        reason: renewed.reason,
                    });
                }
                true
            }
            Err(e) => {
                self.log
                    .note(&format!("could not sign in to Azure again: {e}"));
                false
            }
        }
    }

    /// The delay before the next attempt, when `retry` allows one after this outcome.
    fn retry_delay(
        &mut self,
        outcome: &AttemptOutcome,
        attempt: u32,
        max: u32,
    ) -> Option<Duration> {
        let retry = &self.op.retry;
        let class_listed = outcome
            .failure_class()
            .is_some_and(|c| retry.on.contains(&c));
        let retryable = !outcome.passed()
            && outcome.result != AttemptResult::Cancelled
            && attempt < max
            && class_listed;
        let delay = retryable.then(|| {
            self.ctx
                .scaled(backoff::delay(retry, attempt, backoff::random_jitter()))
        })?;
        if let Some(budget) = retry.budget.map(|b| self.ctx.scaled_timeout(b))
            && self.started.elapsed() + delay > budget
        {
            self.log.note(&format!(
                "not retrying: the retry budget of {} is used up",
                format_duration(budget)
            ));
            return None;
        }
        Some(delay)
    }
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
        program: ctx.bash.clone(),
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
        sealed: vec![script],
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
    let outcome_result = match &result.exit {
        Exit::Code(0) => AttemptResult::Pass { exit_code: Some(0) },
        Exit::Code(c) => AttemptResult::Fail {
            class: FailureClass::ExitCode,
            exit_code: Some(*c),
            signal: None,
        },
        Exit::Signal(s) => AttemptResult::Fail {
            class: FailureClass::Signal,
            exit_code: None,
            signal: Some(*s),
        },
        Exit::TimedOut => AttemptResult::Timeout,
        Exit::Cancelled => AttemptResult::Cancelled,
        Exit::SpawnFailed(_) => AttemptResult::ExecFail {
            class: FailureClass::Spawn,
            exit_code: None,
        },
    };
    let message = match result.exit {
        Exit::TimedOut => format!("timed out after {}", format_duration(result.duration)),
        _ => describe(&result.exit),
    };
    let mut outcome = AttemptOutcome::new(outcome_result, message);
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

#[cfg(test)]
mod tests {
    use super::user_agent;

    #[test]
    fn the_user_agent_names_the_operation_after_the_hosts_own() {
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(
            user_agent(&[], "create-vm", 2),
            format!("goldsmith/{version} op/create-vm attempt/2")
        );
        let host = [(
            "AZURE_HTTP_USER_AGENT".to_string(),
            " corp-proxy/1 ".to_string(),
        )];
        assert_eq!(
            user_agent(&host, "check", 0),
            format!("corp-proxy/1 goldsmith/{version} op/check attempt/0")
        );
    }
}
