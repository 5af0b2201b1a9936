//! Getting a VM back before the next run-command on it: an installer that
//! restarted the VM (1641) leaves it `Started`, so goldsmith waits for its
//! agent; one that asked for a restart (3010), or a Windows Update round that
//! needs one, leaves it `Needed`, so goldsmith runs `az vm restart` first and
//! then waits for the agent. The restart is always its own step, never a
//! `Restart-Computer` inside a script.
//!
//! Managed run-commands run side by side on one VM, so a restart waits until
//! no other script of this run is running there (`VmBusy`): it never cuts
//! another step's script short.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::oplog::OpLog;
use super::process::{self, Exit, ProcessSpec, Stop};
use super::tell::Tell;
use super::unit::{UnitContext, describe};
use crate::azure::msi::{self, MsiVerdict};
use crate::azure::run_command::VmTarget;
use crate::azure::vm_agent;
use crate::plan::PlannedOp;
use crate::record::event::{
    AttemptOutcome, AttemptResult, InstallerCode, LockName, RestartCause, RestartReason,
};
use crate::record::failure::FailureClass;

/// How long a restarted VM's agent gets to come back.
const AGENT_WAIT: Duration = Duration::from_secs(20 * 60);
const AGENT_POLL: Duration = Duration::from_secs(15);
/// How long `az vm restart` may take (it waits for Azure's long-running operation).
const RESTART_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// What a VM needs before goldsmith sends it anything else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Restart {
    /// Something inside the VM restarted it (1641): wait for its agent.
    Started { by: RestartCause },
    /// A restart is needed to finish what `by` did (3010, or a Windows Update
    /// round): restart the VM, then wait for its agent.
    Needed { by: RestartCause },
}

/// Per VM (by lock name), what it needs before the next run-command on it.
pub type VmRestarts = Mutex<HashMap<LockName, Restart>>;

/// Per VM (by lock name), how many scripts of this run are running on it.
pub type VmBusy = Mutex<HashMap<LockName, usize>>;

/// How often a restart that waits for other scripts looks again.
const BUSY_POLL: Duration = Duration::from_secs(10);

/// One script of this run on a VM, counted in `VmBusy` until dropped.
pub struct OnVm<'a> {
    busy: &'a VmBusy,
    lock: LockName,
}

impl<'a> OnVm<'a> {
    fn enter(busy: &'a VmBusy, map: &mut HashMap<LockName, usize>, lock: LockName) -> Self {
        *map.entry(lock.clone()).or_default() += 1;
        OnVm { busy, lock }
    }
}

impl Drop for OnVm<'_> {
    fn drop(&mut self) {
        if let Ok(mut map) = self.busy.lock()
            && let Some(n) = map.get_mut(&self.lock)
        {
            *n = n.saturating_sub(1);
        }
    }
}

/// What `outcome`, a finished run-command attempt of `op`, leaves the VM needing.
pub fn after(op: &str, outcome: &AttemptOutcome) -> Option<Restart> {
    let by = |verdict| {
        let installs: Vec<InstallerCode> = outcome
            .installs
            .iter()
            .filter(|i| msi::judge(i) == verdict)
            .map(|i| InstallerCode {
                name: i.name.clone(),
                code: i.code,
            })
            .collect();
        (!installs.is_empty()).then(|| RestartCause {
            op: op.to_string(),
            reason: RestartReason::Installers { installs },
        })
    };
    if outcome.reboot_started {
        let by = by(MsiVerdict::RebootStarted).unwrap_or_else(|| RestartCause {
            op: op.to_string(),
            reason: RestartReason::Installers { installs: vec![] },
        });
        return Some(Restart::Started { by });
    }
    by(MsiVerdict::RebootRequired).map(|by| Restart::Needed { by })
}

/// Records what `target` needs before the next run-command on it.
pub fn mark(ctx: &UnitContext, target: &VmTarget, restart: Restart) {
    if let Ok(mut map) = ctx.restarts.lock() {
        map.insert(target.lock_name(), restart);
    }
}

/// Before a run-command on `target`: restarts it if it needs one (once no
/// other script of this run is running on it) and waits for its agent if it
/// was restarted. Returns the restart it got the VM back from, and the
/// script's place on the VM, to hold while the script runs.
pub async fn settle<'a>(
    ctx: &'a UnitContext,
    op: &PlannedOp,
    target: &VmTarget,
    tell: &Tell,
    log: &mut OpLog,
    stop: &watch::Receiver<Stop>,
) -> Result<(Option<Restart>, OnVm<'a>), AttemptOutcome> {
    let attempt = tell.attempt();
    let lock = target.lock_name();
    let (pending, on_vm) = enter_when_free(ctx, target, tell, log, stop).await?;
    match &pending {
        None => return Ok((None, on_vm)),
        Some(Restart::Started { by }) => {
            log.note(&format!(
                "{} was restarted by an installer ({}: {}): waiting for its VM agent",
                target.vm, by.op, by.reason
            ));
            tell.meanwhile(format!(
                "waiting for {} to come back from a restart",
                target.vm
            ));
        }
        Some(Restart::Needed { by }) => {
            log.note(&format!(
                "{} needs a restart ({}: {}): restarting it first",
                target.vm, by.op, by.reason
            ));
            tell.meanwhile(format!(
                "restarting {} ({}: {})",
                target.vm, by.op, by.reason
            ));
            restart(ctx, op, target, attempt, log, stop.clone()).await?;
        }
    }
    wait_for_agent(ctx, op, target, attempt, log, stop.clone()).await?;
    tell.resume();
    if let Ok(mut map) = ctx.restarts.lock() {
        map.remove(&lock);
    }
    Ok((pending, on_vm))
}

/// Takes a place on `target`, first waiting while it needs a restart and
/// other scripts of this run are still running on it. Returns what the VM
/// needs at that moment.
async fn enter_when_free<'a>(
    ctx: &'a UnitContext,
    target: &VmTarget,
    tell: &Tell,
    log: &mut OpLog,
    stop: &watch::Receiver<Stop>,
) -> Result<(Option<Restart>, OnVm<'a>), AttemptOutcome> {
    let lock = target.lock_name();
    let mut told = false;
    loop {
        let others = {
            let restarts = ctx.restarts.lock().ok();
            let pending = restarts.as_ref().and_then(|m| m.get(&lock).cloned());
            let mut busy = ctx.busy.lock().map_err(|_| poisoned())?;
            let others = busy.get(&lock).copied().unwrap_or(0);
            if others == 0 || !matches!(pending, Some(Restart::Needed { .. })) {
                return Ok((pending, OnVm::enter(&ctx.busy, &mut busy, lock)));
            }
            others
        };
        if !told {
            log.note(&format!(
                "{} needs a restart, and {others} other script(s) of this run are running on it: waiting for them to end first",
                target.vm
            ));
            tell.meanwhile(format!(
                "waiting for other steps on {} to end before restarting it",
                target.vm
            ));
            told = true;
        }
        let mut stop = stop.clone();
        // A closed channel disables the second branch instead of waking at once.
        tokio::select! {
            _ = tokio::time::sleep(ctx.scaled(BUSY_POLL)) => {}
            Ok(()) = stop.changed() => {}
        }
        if *stop.borrow() != Stop::No {
            return Err(AttemptOutcome::new(
                AttemptResult::Cancelled,
                format!("cancelled while waiting to restart {}", target.vm),
            ));
        }
    }
}

fn poisoned() -> AttemptOutcome {
    AttemptOutcome::new(
        AttemptResult::failed(FailureClass::AzError),
        "goldsmith's table of running scripts was poisoned by a panic",
    )
}

/// Runs `az vm restart` on `target`.
async fn restart(
    ctx: &UnitContext,
    op: &PlannedOp,
    target: &VmTarget,
    attempt: u32,
    log: &mut OpLog,
    stop: watch::Receiver<Stop>,
) -> Result<(), AttemptOutcome> {
    let args = vm_agent::restart_args(target);
    log.note(&format!(
        "az {}",
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    ));
    let result = process::run(&az(ctx, op, attempt, args, RESTART_TIMEOUT), log, stop).await;
    match result.exit {
        Exit::Code(0) => Ok(()),
        Exit::Cancelled => Err(AttemptOutcome::new(
            AttemptResult::Cancelled,
            format!("cancelled while restarting {}", target.vm),
        )),
        Exit::Code(code) => {
            let stderr = String::from_utf8_lossy(&result.stderr);
            log.note("az's stderr:");
            log.write(stderr.as_bytes());
            log.finish();
            Err(AttemptOutcome::new(
                AttemptResult::failed(crate::azure::classify::classify(code, &stderr)),
                format!(
                    "az vm restart of {} exited with {code}: {}",
                    target.vm,
                    crate::azure::classify::headline(&stderr)
                ),
            ))
        }
        ref other => Err(AttemptOutcome::new(
            AttemptResult::failed(FailureClass::AzError),
            format!("az vm restart of {}: {}", target.vm, describe(other)),
        )),
    }
}

/// An `az` call of `op`'s attempt, its output captured.
fn az(
    ctx: &UnitContext,
    op: &PlannedOp,
    attempt: u32,
    args: Vec<std::ffi::OsString>,
    timeout: Duration,
) -> ProcessSpec {
    ProcessSpec {
        program: "az".into(),
        args,
        env: ctx.env_for(op, attempt),
        cwd: ctx.cwd.clone(),
        timeout,
        grace: ctx.grace,
        capture: true,
        sealed: Vec::new(),
    }
}

/// Polls the VM agent's status until it is `Ready`.
async fn wait_for_agent(
    ctx: &UnitContext,
    op: &PlannedOp,
    target: &VmTarget,
    attempt: u32,
    log: &mut OpLog,
    stop: watch::Receiver<Stop>,
) -> Result<(), AttemptOutcome> {
    let deadline = Instant::now() + ctx.scaled_timeout(AGENT_WAIT);
    loop {
        let args = vm_agent::status_args(target);
        let spec = az(ctx, op, attempt, args, Duration::from_secs(120));
        let result = process::run(&spec, log, stop.clone()).await;
        if result.exit == Exit::Code(0)
            && vm_agent::is_ready(&String::from_utf8_lossy(&result.stdout))
        {
            log.note("the VM agent is ready");
            return Ok(());
        }
        if result.exit == Exit::Cancelled || Instant::now() > deadline {
            return Err(AttemptOutcome::new(
                AttemptResult::failed(FailureClass::AgentNotReady),
                format!(
                    "the VM agent of {} did not become ready after the restart",
                    target.vm
                ),
            ));
        }
        tokio::time::sleep(ctx.scaled(AGENT_POLL)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::event::InstallResult;

    fn outcome(codes: &[(&str, i64)]) -> AttemptOutcome {
        let mut o = AttemptOutcome::new(AttemptResult::Pass { exit_code: Some(0) }, "");
        o.installs = codes
            .iter()
            .map(|(name, code)| InstallResult {
                name: name.to_string(),
                code: *code,
                meaning: msi::name(*code).to_string(),
                ok: true,
                accepted: false,
            })
            .collect();
        o.reboot_started = codes.iter().any(|(_, c)| *c == 1641);
        o
    }

    #[test]
    fn a_3010_asks_for_a_restart_naming_the_installer_and_1641_waits() {
        let cause = |name: &str, code| RestartCause {
            op: "apps".into(),
            reason: RestartReason::Installers {
                installs: vec![InstallerCode {
                    name: name.into(),
                    code,
                }],
            },
        };
        assert_eq!(after("op", &outcome(&[("a", 0)])), None);
        let needed = after("apps", &outcome(&[("a", 0), ("reader", 3010)]));
        assert_eq!(
            needed,
            Some(Restart::Needed {
                by: cause("reader", 3010)
            })
        );
        assert_eq!(
            cause("reader", 3010).reason.to_string(),
            "reader returned 3010"
        );
        assert_eq!(
            after("apps", &outcome(&[("reader", 3010), ("b", 1641)])),
            Some(Restart::Started {
                by: cause("b", 1641)
            })
        );
    }
}
