//! One attempt of a managed run-command operation (`mode: managed`): delete
//! what an earlier, crashed attempt left on the VM, create the run command
//! with `--async-execution`, poll its instance view until the script ends,
//! and delete it — always, also when the attempt times out or the run is
//! cancelled, since deleting a run command is what stops its script in Azure.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::oplog::OpLog;
use super::process::{self, Exit, ProcessResult, ProcessSpec, Stop};
use super::sealed::SealedScript;
use super::tell::Tell;
use super::unit::{UnitContext, describe};
use super::{vm_attempt, vm_restart};
use crate::azure::classify;
use crate::azure::managed_run_command::{self as managed, CreateRequest, ExecutionState};
use crate::duration::format_duration;
use crate::plan::{PlannedOp, RunCommandScript};
use crate::record::event::{AttemptOutcome, AttemptResult};
use crate::record::failure::FailureClass;
use crate::run_dir::{RunDir, ScriptKind};

/// How often the instance view is read (on Azure's clock: scaled on the simulator).
const POLL: Duration = Duration::from_secs(10);
/// The least real time between two reads, whatever the simulator's speed.
const MIN_POLL: Duration = Duration::from_millis(100);
/// How long one `az` call of the attempt (other than the script) may take.
const AZ_CALL: Duration = Duration::from_secs(300);
/// Reads of the instance view that may fail in a row (throttling, a busy ARM) before the attempt does.
const POLL_FAILURES: u32 = 5;

/// One attempt; returns its outcome and how long it took.
pub async fn run(
    ctx: &UnitContext,
    op: &PlannedOp,
    rc: &RunCommandScript,
    tell: &Tell,
    log: &mut OpLog,
    stop: watch::Receiver<Stop>,
) -> (AttemptOutcome, Duration) {
    let started = Instant::now();
    let attempt = Attempt {
        ctx,
        op,
        rc,
        number: tell.attempt(),
        name: managed::name(&op.id, tell.attempt()),
    };
    // `_on_vm` counts this script on its VM until the attempt ends.
    let (restarted_for, _on_vm) =
        match vm_restart::settle(ctx, op, &rc.target, tell, log, &stop).await {
            Ok((settled, on_vm)) => (vm_attempt::restarted(tell, &rc.target.vm, settled), on_vm),
            Err(outcome) => return (outcome, started.elapsed()),
        };
    attempt.clear_leftovers(log, &stop).await;
    if *stop.borrow() != Stop::No {
        let outcome = AttemptOutcome::new(
            AttemptResult::Cancelled,
            "cancelled before the run command was created",
        );
        return (outcome, started.elapsed());
    }
    let mut outcome = match attempt.create(log, stop.clone()).await {
        Created::Refused(outcome) => outcome,
        Created::Maybe(outcome) => {
            attempt.delete(log, &stop).await;
            outcome
        }
        Created::Yes => {
            tell.step(format!("running in Azure as run command {}", attempt.name));
            let outcome = attempt.poll(started, log, stop.clone()).await;
            attempt.delete(log, &stop).await;
            outcome
        }
    };
    log.finish();
    outcome.restarted_for = restarted_for;
    if let Some(restart) = vm_restart::after(&op.id, &outcome) {
        vm_restart::mark(ctx, &rc.target, restart);
    }
    (outcome, started.elapsed())
}

/// What `create` left behind.
enum Created {
    /// The run command exists and its script runs.
    Yes,
    /// Azure refused it: nothing to delete.
    Refused(AttemptOutcome),
    /// az did not finish (timed out, cancelled): the run command may exist.
    Maybe(AttemptOutcome),
}

struct Attempt<'a> {
    ctx: &'a UnitContext,
    op: &'a PlannedOp,
    rc: &'a RunCommandScript,
    number: u32,
    name: String,
}

impl Attempt<'_> {
    /// One `az` process of the attempt, its output captured.
    async fn az(
        &self,
        args: Vec<std::ffi::OsString>,
        sealed: Vec<SealedScript>,
        timeout: Duration,
        log: &mut OpLog,
        stop: watch::Receiver<Stop>,
    ) -> ProcessResult {
        let spec = ProcessSpec {
            program: "az".into(),
            args,
            env: self.ctx.env_for(self.op, self.number),
            cwd: self.ctx.cwd.clone(),
            timeout,
            grace: self.ctx.grace,
            capture: true,
            sealed,
        };
        process::run(&spec, log, stop).await
    }

    /// Deletes run commands an earlier attempt of this operation left on the
    /// VM (goldsmith was killed before it could): they may still be running.
    async fn clear_leftovers(&self, log: &mut OpLog, stop: &watch::Receiver<Stop>) {
        let args = managed::list_args(&self.rc.target);
        let result = self.az(args, Vec::new(), AZ_CALL, log, stop.clone()).await;
        if result.exit != Exit::Code(0) {
            log.note(&format!(
                "cannot list the VM's run commands to look for leftovers: {}",
                classify::headline(&String::from_utf8_lossy(&result.stderr))
            ));
            return;
        }
        let prefix = managed::name_prefix(&self.op.id);
        for name in managed::leftovers(&String::from_utf8_lossy(&result.stdout), &prefix) {
            log.note(&format!(
                "deleting run command {name}, left on the VM by an earlier attempt"
            ));
            let args = managed::delete_args(&self.rc.target, &name);
            let result = self
                .az(args, Vec::new(), AZ_CALL, log, kill_only(stop))
                .await;
            if result.exit != Exit::Code(0) {
                log.note(&format!(
                    "could not delete {name}: {}",
                    classify::headline(&String::from_utf8_lossy(&result.stderr))
                ));
            }
        }
    }

    /// Creates the run command: the script and each protected value in sealed
    /// memory that az reads by `@/dev/fd/<n>`.
    async fn create(&self, log: &mut OpLog, stop: watch::Receiver<Stop>) -> Created {
        let sealed = match self.seal() {
            Ok(sealed) => sealed,
            Err(e) => {
                return Created::Refused(AttemptOutcome::new(
                    AttemptResult::ExecFail {
                        class: FailureClass::Spawn,
                        exit_code: None,
                    },
                    format!("cannot hold the script in memory: {e}"),
                ));
            }
        };
        let protected: Vec<(String, String)> = (self.rc.protected.iter().zip(&sealed[1..]))
            .map(|((name, _), file)| (name.clone(), file.path()))
            .collect();
        let req = CreateRequest {
            target: &self.rc.target,
            name: &self.name,
            timeout_secs: self.op.timeout.as_secs().max(1),
            parameters: &self.rc.parameters,
            protected: &protected,
        };
        let args = managed::create_args(&req, Path::new(&sealed[0].path()));
        let shown = RunDir::shown_script(&self.op.id, ScriptKind::PowerShell);
        log.note(&managed::shown_create(&req, Path::new(&shown)));
        let result = self
            .az(args, sealed, self.op.timeout.min(AZ_CALL), log, stop)
            .await;
        match &result.exit {
            Exit::Code(0) => Created::Yes,
            Exit::Code(code) => {
                let stderr = String::from_utf8_lossy(&result.stderr);
                log.note(&format!("az exited with {code}; its stderr:"));
                log.write(stderr.as_bytes());
                Created::Refused(AttemptOutcome::new(
                    AttemptResult::failed(classify::classify(*code, &stderr)),
                    format!("az exited with {code}: {}", classify::headline(&stderr)),
                ))
            }
            other => {
                let mut outcome = super::unit::classify(&result);
                outcome.message = format!("az vm run-command create {}", describe(other));
                Created::Maybe(outcome)
            }
        }
    }

    /// The wrapped script, then each protected value, sealed.
    fn seal(&self) -> std::io::Result<Vec<SealedScript>> {
        let mut sealed = vec![SealedScript::new(
            &format!("{}.ps1", self.op.id),
            self.rc.wrapped.as_bytes(),
        )?];
        for (name, value) in &self.rc.protected {
            sealed.push(SealedScript::new(name, value.as_bytes())?);
        }
        Ok(sealed)
    }

    /// Reads the instance view until the script ends, the operation's timeout
    /// passes, or the run is cancelled.
    async fn poll(
        &self,
        started: Instant,
        log: &mut OpLog,
        mut stop: watch::Receiver<Stop>,
    ) -> AttemptOutcome {
        let interval = self.ctx.scaled(POLL).max(MIN_POLL);
        let mut failures = 0;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.wait_for(|s| *s != Stop::No) => {
                    return AttemptOutcome::new(AttemptResult::Cancelled, "cancelled while the script ran in Azure");
                }
            }
            let Some(left) = self.op.timeout.checked_sub(started.elapsed()) else {
                return AttemptOutcome::new(
                    AttemptResult::Timeout,
                    format!("timed out after {}", format_duration(started.elapsed())),
                );
            };
            let args = managed::show_args(&self.rc.target, &self.name);
            let result = self
                .az(args, Vec::new(), left.min(AZ_CALL), log, stop.clone())
                .await;
            let stdout = String::from_utf8_lossy(&result.stdout);
            let stderr = String::from_utf8_lossy(&result.stderr);
            match &result.exit {
                Exit::Code(0) => match managed::parse_show(&stdout) {
                    Ok(view) if view.execution_state.is_terminal() => {
                        return self.finish(&view, &stdout, log);
                    }
                    Ok(_) => failures = 0,
                    Err(e) => {
                        return AttemptOutcome::new(
                            AttemptResult::failed(FailureClass::AzError),
                            e,
                        );
                    }
                },
                Exit::Code(code) => {
                    let class = classify::classify(*code, &stderr);
                    failures += 1;
                    let passing = matches!(class, FailureClass::Throttled | FailureClass::AzError);
                    if !passing || failures >= POLL_FAILURES {
                        return AttemptOutcome::new(
                            AttemptResult::failed(class),
                            format!(
                                "reading the run command's instance view: az exited with {code}: {}",
                                classify::headline(&stderr)
                            ),
                        );
                    }
                }
                other => {
                    let mut outcome = super::unit::classify(&result);
                    outcome.message = format!("az vm run-command show {}", describe(other));
                    return outcome;
                }
            }
        }
    }

    /// The script ended: Azure's instance view decides; the VM's streams go into the log.
    fn finish(
        &self,
        view: &managed::InstanceView,
        stdout: &str,
        log: &mut OpLog,
    ) -> AttemptOutcome {
        let timeout = self.op.timeout.as_secs().max(1);
        let (outcome, vm) =
            managed::decide(view, timeout, self.rc.strict_stderr, &self.rc.accepted);
        super::vm_attempt::keep_output(self.ctx, self.op, stdout);
        log.note(&format!(
            "Azure: {:?}, exit code {}",
            view.execution_state,
            view.exit_code.map_or("none".to_string(), |c| c.to_string())
        ));
        if view.execution_state != ExecutionState::Canceled {
            log.note("stdout of the script (as the instance view returns it):");
            log.write(vm.stdout.as_bytes());
            if !vm.stderr.is_empty() {
                log.note("stderr of the script:");
                log.write(vm.stderr.as_bytes());
            }
        }
        outcome
    }

    /// Deletes the run command, which stops its script if it still runs. A
    /// cancelled run waits for it (only a second signal stops the delete).
    async fn delete(&self, log: &mut OpLog, stop: &watch::Receiver<Stop>) {
        let args = managed::delete_args(&self.rc.target, &self.name);
        let result = self
            .az(args, Vec::new(), AZ_CALL, log, kill_only(stop))
            .await;
        if result.exit == Exit::Code(0) {
            log.note(&format!("deleted run command {}", self.name));
        } else {
            log.note(&format!(
                "could not delete run command {} ({}): delete it with `az vm run-command delete --resource-group {} --vm-name {} --name {} --yes`; {}",
                self.name,
                describe(&result.exit),
                self.rc.target.resource_group,
                self.rc.target.vm,
                self.name,
                classify::headline(&String::from_utf8_lossy(&result.stderr))
            ));
        }
    }
}

/// A stop signal that passes on only `Kill` (a second Ctrl-C): the first
/// cancels the script, whose clean-up must still run.
fn kill_only(stop: &watch::Receiver<Stop>) -> watch::Receiver<Stop> {
    let (tx, rx) = watch::channel(Stop::No);
    let mut stop = stop.clone();
    tokio::spawn(async move {
        tokio::select! {
            killed = stop.wait_for(|s| *s == Stop::Kill) => {
                if killed.is_ok() {
                    let _ = tx.send(Stop::Kill);
                }
            }
            _ = tx.closed() => {}
        }
        tx.closed().await;
    });
    rx
}
