//! One attempt of a run-command operation: get the VM back first if it was
//! restarted or needs a restart (`vm_restart`), send the wrapped script with `az vm run-command invoke`, and
//! let `azure::run_command` decide what happened from az's output.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::oplog::OpLog;
use super::process::{self, Exit, ProcessResult, ProcessSpec, Stop};
use super::sealed::SealedScript;
use super::tell::Tell;
use super::unit::{UnitContext, describe};
use super::vm_restart::{self, Restart};
use crate::azure::run_command::{self, Invocation};
use crate::plan::{PlannedOp, RunCommandScript};
use crate::record::event::{AttemptOutcome, AttemptResult};
use crate::record::failure::FailureClass;
use crate::run_dir::{RunDir, ScriptKind};

/// Returns the outcome and how long the attempt took.
pub async fn run(
    ctx: &UnitContext,
    op: &PlannedOp,
    rc: &RunCommandScript,
    tell: &Tell,
    log: &mut OpLog,
    stop: watch::Receiver<Stop>,
) -> (AttemptOutcome, Duration) {
    let started = Instant::now();
    let attempt = tell.attempt();
    // `_on_vm` counts this script on its VM until the attempt ends.
    let (restarted_for, _on_vm) =
        match vm_restart::settle(ctx, op, &rc.target, tell, log, &stop).await {
            Ok((settled, on_vm)) => (restarted(tell, &rc.target.vm, settled), on_vm),
            Err(outcome) => return (outcome, started.elapsed()),
        };
    let script = match seal(op, rc) {
        Ok(script) => script,
        Err(outcome) => return (*outcome, started.elapsed()),
    };
    let result = invoke(ctx, op, rc, attempt, script, log, stop).await;
    let mut outcome = match &result.exit {
        Exit::Code(code) => decide(ctx, op, rc, *code, &result, log),
        other => az_failed(&result, other, log),
    };
    outcome.restarted_for = restarted_for;
    if let Some(restart) = vm_restart::after(&op.id, &outcome) {
        vm_restart::mark(ctx, &rc.target, restart);
    }
    (outcome, started.elapsed())
}

/// Tells of the restart the VM came back from; returns the operation whose
/// result made goldsmith restart it, for the attempt's `restarted_for`.
pub(super) fn restarted(tell: &Tell, vm: &str, settled: Option<Restart>) -> Option<String> {
    let settled = settled?;
    let by_goldsmith = match &settled {
        Restart::Needed { by } => Some(by.op.clone()),
        Restart::Started { .. } => None,
    };
    tell.vm_restarted(vm, settled);
    by_goldsmith
}

/// The script as sent, which holds the values it uses, in sealed memory for az to read:
/// nothing on disk can change it, and its values (secrets included) never touch the
/// disk. `scripts/<op>.ps1` keeps the masked copy.
fn seal(op: &PlannedOp, rc: &RunCommandScript) -> Result<SealedScript, Box<AttemptOutcome>> {
    SealedScript::new(&format!("{}.ps1", op.id), rc.wrapped.as_bytes()).map_err(|e| {
        Box::new(AttemptOutcome::new(
            AttemptResult::ExecFail {
                class: FailureClass::Spawn,
                exit_code: None,
            },
            format!("cannot hold the script in memory: {e}"),
        ))
    })
}

/// Runs `az vm run-command invoke` with the sealed script, noting the command (with the
/// masked script's path) in the log.
async fn invoke(
    ctx: &UnitContext,
    op: &PlannedOp,
    rc: &RunCommandScript,
    attempt: u32,
    script: SealedScript,
    log: &mut OpLog,
    stop: watch::Receiver<Stop>,
) -> ProcessResult {
    let shown_path = RunDir::shown_script(&op.id, ScriptKind::PowerShell);
    let args = run_command::invoke_args(
        &rc.target,
        std::path::Path::new(&script.path()),
        &rc.parameters,
    );
    log.note(&run_command::shown_invoke(
        &rc.target,
        Path::new(&shown_path),
        &rc.parameters,
    ));
    let spec = ProcessSpec {
        program: "az".into(),
        args,
        env: ctx.env_for(op, attempt),
        cwd: ctx.cwd.clone(),
        timeout: op.timeout,
        grace: ctx.grace,
        capture: true,
        sealed: vec![script],
    };
    process::run(&spec, log, stop).await
}

/// az exited with `code`: `azure::run_command` decides from its output; az's JSON is
/// kept and the VM's streams (or az's stderr) go into the log.
fn decide(
    ctx: &UnitContext,
    op: &PlannedOp,
    rc: &RunCommandScript,
    code: i32,
    result: &ProcessResult,
    log: &mut OpLog,
) -> AttemptOutcome {
    let az_stdout = String::from_utf8_lossy(&result.stdout);
    let az_stderr = String::from_utf8_lossy(&result.stderr);
    let (outcome, vm) = run_command::decide(&Invocation {
        az_exit: code,
        az_stdout: &az_stdout,
        az_stderr: &az_stderr,
        strict_stderr: rc.strict_stderr,
        accepted: &rc.accepted,
    });
    keep_output(ctx, op, &az_stdout);
    match vm {
        Some(vm) => {
            log.note("stdout of the script (the last 4,096 bytes, as Azure returns them):");
            log.write(vm.stdout.as_bytes());
            if !vm.stderr.is_empty() {
                log.note("stderr of the script:");
                log.write(vm.stderr.as_bytes());
            }
        }
        None => {
            log.note(&format!("az exited with {code}; its stderr:"));
            log.write(az_stderr.as_bytes());
        }
    }
    log.finish();
    outcome
}

/// az itself did not exit (timed out, cancelled, killed, not started): the outcome
/// says so, and az's stderr goes into the log.
fn az_failed(result: &ProcessResult, exit: &Exit, log: &mut OpLog) -> AttemptOutcome {
    let az_stderr = String::from_utf8_lossy(&result.stderr);
    let mut outcome = super::unit::classify(result);
    if !az_stderr.is_empty() {
        log.note("az's stderr:");
        log.write(az_stderr.as_bytes());
        log.finish();
    }
    outcome.message = format!("az {}", describe(exit));
    outcome
}

/// Keeps az's JSON in `outputs/<op>.json`, secrets masked in its values.
pub(super) fn keep_output(ctx: &UnitContext, op: &PlannedOp, stdout: &str) {
    if stdout.is_empty() {
        return;
    }
    let mut value =
        serde_json::from_str(stdout).unwrap_or_else(|_| serde_json::json!({ "stdout": stdout }));
    ctx.redactor.mask_json(&mut value);
    let json = serde_json::to_vec_pretty(&value).expect("a JSON value always serialises");
    let path = ctx.run_dir.output(&op.id);
    if let Err(e) = crate::run_dir::write_atomic(&path, &json) {
        tracing::warn!("cannot write {}: {e}", path.display());
    }
}
