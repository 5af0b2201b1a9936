//! Action run-commands as ARM serves them (`POST …/virtualMachines/{vm}/runCommand`):
//! 202 with `Azure-AsyncOperation`, `Location` and `Retry-After`, the status
//! polled until the script is over, the result read from `Location`. The
//! run-command starts and ends through the built-in az's own
//! `run_command::begin` / `finish`: one per VM at a time (409 `Conflict`), the
//! VM's power and agent and the scenario's VM faults checked, the script
//! played from its directives, so goldsmith reads the same exit markers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::arm::Request;
use super::{Reply, StandIn, operations};
use crate::clock::unix_now;
use crate::directives::Directives;
use crate::error::AzError;
use crate::installers;
use crate::power_state::PowerChange;
use crate::run_command::{self, Target, begin, finish, linux_result, windows_result};
use crate::world::vm_key;

/// A run-command in flight: whose slot it holds, when it ends, what it prints
/// and does to the VM.
#[derive(Debug, Serialize, Deserialize)]
struct Running {
    key: String,
    owner: String,
    location: String,
    until: f64,
    result: Value,
    reboot: bool,
    power: Option<PowerChange>,
    finished: bool,
}

/// Whether this (lower-case) ARM path is an action run-command's: the POST on a
/// VM, or the operation and result it is polled at.
pub fn serves(lower: &[&str]) -> bool {
    use super::arm::Under::{Group, Subscription};
    matches!(
        super::arm::under(lower),
        Some(Group {
            provider: "microsoft.compute",
            rest: ["virtualmachines", _, "runcommand"],
        }) | Some(Subscription {
            provider: "microsoft.compute",
            rest: ["locations", _, "runcommands" | "runcommandresults", _],
        })
    )
}

pub fn route(standin: &StandIn, req: &Request<'_>) -> Reply {
    let lower = &req.lower;
    match (req.method, &lower[..]) {
        ("POST", [.., "runcommand"]) => invoke(standin, req),
        ("GET", [.., "runcommands", id]) => poll(standin, id, false),
        ("GET", [.., "runcommandresults", id]) => poll(standin, id, true),
        _ => Reply::arm_error(
            404,
            "NotFound",
            &format!(
                "The stand-in does not serve {} {}.",
                req.method,
                req.segments.join("/")
            ),
        ),
    }
}

fn invoke(standin: &StandIn, req: &Request<'_>) -> Reply {
    let (rg, name) = (req.segments[3], req.segments[7]);
    let Ok(body) = serde_json::from_slice::<Value>(req.body) else {
        return Reply::arm_error(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        );
    };
    let linux = match body["commandId"].as_str() {
        Some("RunPowerShellScript") => false,
        Some("RunShellScript") => true,
        _ => {
            return Reply::from_az(&AzError::arm(
                "InvalidParameter",
                "The value of parameter commandId is invalid.",
            ));
        }
    };
    let lines: Vec<String> = body["script"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let script = run_command::script_text(lines);
    let directives = match Directives::parse(&script) {
        Ok(d) => d,
        Err(e) => return Reply::arm_error(400, "InvalidParameter", &e.to_string()),
    };
    let (op, attempt) = req.caller;
    let directives = installers::apply(&standin.scenario.installers, op, attempt, &directives);
    let sub = standin.env.subscription.clone();
    let key = vm_key(&sub, rg, name);
    let owner = format!("standin:{}", unix_now());
    let target = Target {
        subscription: &sub,
        resource_group: rg,
        name,
    };
    let started = standin.sim().transact(|world, now| {
        let run = begin(
            world,
            now,
            &target,
            &standin.scenario,
            &directives,
            &script,
            &owner,
        )?;
        let location = world.vms.get(&key).map(|vm| vm.location.clone());
        Ok::<_, AzError>((run, now, world.next_serial(), location.unwrap_or_default()))
    });
    let (run, now, serial, location) = match started {
        Ok(Ok(started)) => started,
        Ok(Err(e)) | Err(e) => return Reply::from_az(&e),
    };
    let running = Running {
        key: key.clone(),
        owner,
        location: location.clone(),
        until: now + run.seconds,
        result: if linux {
            linux_result(&run)
        } else {
            windows_result(&run)
        },
        reboot: run.reboot,
        power: run.power,
        finished: false,
    };
    let id = operations::new_id(&key, now, serial);
    if let Err(reply) = operations::save(standin, &id, &running) {
        return reply;
    }
    operations::accepted(
        operations::url(standin, &path(standin, &location, "runCommands", &id)),
        operations::url(standin, &path(standin, &location, "runCommandResults", &id)),
    )
}

fn path(standin: &StandIn, location: &str, kind: &str, id: &str) -> String {
    format!(
        "/subscriptions/{}/providers/Microsoft.Compute/locations/{location}/{kind}/{id}",
        standin.env.subscription
    )
}

/// The status (or, `result`, the output) of a run-command; the first poll
/// after its end ends it in the world.
fn poll(standin: &StandIn, id: &str, result: bool) -> Reply {
    let mut running: Running = match operations::load(standin, id) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let ended = standin.sim().transact(|world, now| {
        let over = now >= running.until;
        if over && !running.finished {
            finish(
                world,
                now,
                &running.key,
                &running.owner,
                running.reboot,
                running.power,
            );
        }
        over
    });
    let done = match ended {
        Ok(done) => done,
        Err(e) => return Reply::from_az(&e),
    };
    if done && !running.finished {
        running.finished = true;
        if let Err(reply) = operations::save(standin, id, &running) {
            return reply;
        }
    }
    if result {
        let again = operations::url(
            standin,
            &path(standin, &running.location, "runCommandResults", id),
        );
        operations::result(again, done, Some(running.result))
    } else {
        operations::status(id, done)
    }
}
