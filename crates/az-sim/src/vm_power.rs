//! VM power operations a golden-image build goes through — stop,
//! deallocate, generalize, start, restart — and `vm delete`.

use serde_json::{Value, json};

use super::call::{Call, Outcome};
use super::error::AzError;
use super::ids;
use super::power_state::{Phase, PowerState};
use super::vm::{find, target};
use super::world::{Busy, BusyOp, Transition, Vm, World, vm_key};

pub const DELETE_SECS: f64 = 60.0;
pub const START_SECS: f64 = 30.0;
pub const STOP_SECS: f64 = 30.0;
pub const DEALLOCATE_SECS: f64 = 60.0;
pub const RESTART_SECS: f64 = 60.0;
pub const GENERALIZE_SECS: f64 = 5.0;

pub fn delete(call: &Call) -> Outcome {
    let (rg, name) = target(call)?;
    call.confirm()?;
    let sub = call.sub().to_string();
    let found = call
        .sim
        .transact(|state, now| begin_delete(state, now, &sub, &rg, &name))??;
    if found && !call.no_wait()? {
        call.delay(DELETE_SECS);
    }
    Ok(None)
}

/// Starts deleting the VM (false when there is none: ARM answers 204). Its
/// NICs and OS disk go with it when their `deleteOption` is `Delete`, and are
/// left behind, detached, when it is `Detach` (the default).
pub fn begin_delete(
    state: &mut World,
    now: f64,
    sub: &str,
    rg: &str,
    name: &str,
) -> Result<bool, AzError> {
    if !state.group_exists(sub, rg) {
        return Err(AzError::group_not_found(rg));
    }
    let Some(vm) = state.vms.get_mut(&vm_key(sub, rg, name)) else {
        return Ok(false);
    };
    vm.busy = Some(Busy {
        op: BusyOp::Deleting,
        until: now + DELETE_SECS,
    });
    let vm_id = ids::key(&vm.id);
    let deleted_with_it = deleted_with(&vm.model);
    for r in state.resources.values_mut() {
        if deleted_with_it.contains(&ids::key(&r.id)) {
            r.busy = Some(Busy {
                op: BusyOp::Deleting,
                until: now + DELETE_SECS,
            });
            continue;
        }
        if r.body["virtualMachine"]["id"]
            .as_str()
            .is_some_and(|v| ids::key(v) == vm_id)
            && let Some(map) = r.body.as_object_mut()
        {
            map.remove("virtualMachine");
        }
        if r.body["managedBy"]
            .as_str()
            .is_some_and(|v| ids::key(v) == vm_id)
        {
            r.body["managedBy"] = Value::Null;
            r.body["diskState"] = json!("Unattached");
        }
    }
    Ok(true)
}

/// The ids (as keys) of the NICs and OS disk whose `deleteOption` is `Delete`.
fn deleted_with(model: &Value) -> Vec<String> {
    let delete = |v: &Value| {
        v["deleteOption"]
            .as_str()
            .is_some_and(|o| o.eq_ignore_ascii_case("Delete"))
    };
    let nics = model["networkProfile"]["networkInterfaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| delete(n))
        .filter_map(|n| n["id"].as_str());
    let os_disk = &model["storageProfile"]["osDisk"];
    let disk = delete(os_disk)
        .then(|| os_disk["managedDisk"]["id"].as_str())
        .flatten();
    nics.chain(disk).map(ids::key).collect()
}

fn not_allowed(operation: &str, vm: &str, why: &str) -> AzError {
    AzError::arm(
        "OperationNotAllowed",
        format!("Operation '{operation}' is not allowed on VM '{vm}' since the VM is {why}."),
    )
}

/// Starts a power change and waits for it unless `--no-wait`.
fn power_op(
    call: &Call,
    seconds: f64,
    change: impl FnOnce(&mut Vm, f64) -> Result<(), AzError>,
) -> Outcome {
    let (rg, name) = target(call)?;
    let sub = call.sub().to_string();
    call.sim.transact(|state, now| {
        let vm = find(state, &sub, &rg, &name)?;
        change(vm, now)
    })??;
    if !call.no_wait()? {
        call.delay(seconds);
    }
    Ok(None)
}

fn transition(vm: &mut Vm, phase: Phase, to: PowerState, until: f64) {
    vm.transition = Some(Transition { phase, to, until });
}

pub fn start(call: &Call) -> Outcome {
    power_op(call, START_SECS, begin_start)
}

/// `start` as ARM starts it on the VM.
pub fn begin_start(vm: &mut Vm, now: f64) -> Result<(), AzError> {
    if vm.generalized {
        return Err(not_allowed("start", &vm.name, "generalized"));
    }
    transition(vm, Phase::Starting, PowerState::Running, now + START_SECS);
    vm.agent_ready_at = vm.agent_ready_at.max(now + START_SECS);
    Ok(())
}

pub fn restart(call: &Call) -> Outcome {
    power_op(call, RESTART_SECS, begin_restart)
}

/// `restart` as ARM starts it on the VM.
pub fn begin_restart(vm: &mut Vm, now: f64) -> Result<(), AzError> {
    if vm.generalized {
        return Err(not_allowed("restart", &vm.name, "generalized"));
    }
    if vm.power != PowerState::Running {
        return Err(not_allowed("restart", &vm.name, vm.power.word()));
    }
    transition(vm, Phase::Starting, PowerState::Running, now + RESTART_SECS);
    vm.agent_ready_at = vm.agent_ready_at.max(now + RESTART_SECS);
    vm.windows_update.restarted();
    Ok(())
}

pub fn stop(call: &Call) -> Outcome {
    power_op(call, STOP_SECS, begin_stop)
}

/// `stop` as ARM starts it on the VM.
pub fn begin_stop(vm: &mut Vm, now: f64) -> Result<(), AzError> {
    if vm.power == PowerState::Running || vm.transition.is_some() {
        transition(vm, Phase::Stopping, PowerState::Stopped, now + STOP_SECS);
    }
    Ok(())
}

pub fn deallocate(call: &Call) -> Outcome {
    power_op(call, DEALLOCATE_SECS, begin_deallocate)
}

/// `deallocate` as ARM starts it on the VM.
pub fn begin_deallocate(vm: &mut Vm, now: f64) -> Result<(), AzError> {
    if vm.power != PowerState::Deallocated || vm.transition.is_some() {
        transition(
            vm,
            Phase::Deallocating,
            PowerState::Deallocated,
            now + DEALLOCATE_SECS,
        );
    }
    Ok(())
}

pub fn generalize(call: &Call) -> Outcome {
    power_op(call, GENERALIZE_SECS, begin_generalize)
}

/// `generalize` as ARM starts it on the VM.
pub fn begin_generalize(vm: &mut Vm, _now: f64) -> Result<(), AzError> {
    let settled_off = vm.transition.is_none() && vm.power != PowerState::Running;
    if !settled_off {
        return Err(not_allowed("generalize", &vm.name, vm.power_word()));
    }
    vm.generalized = true;
    Ok(())
}
