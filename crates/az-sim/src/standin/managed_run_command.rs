//! Managed run-commands as ARM serves them to the real az (`az vm run-command
//! create | show | list | delete`): `PUT`, `GET` (`$expand=instanceView`),
//! the list and `DELETE` of `…/virtualMachines/{vm}/runCommands/{name}`,
//! through the built-in az's own model (`managed_run_command::begin`, `get`,
//! `all`, `remove`), so both front ends run, report and cancel scripts alike.

use serde_json::{Value, json};

use super::arm::Request;
use super::{Reply, StandIn};
use crate::directives::Directives;
use crate::installers;
use crate::managed_run_command::{self as managed, Spec};
use crate::world::vm_key;

/// Whether the lower-cased segments name a VM's run commands or one of them.
pub fn serves(lower: &[&str]) -> bool {
    matches!(
        super::arm::under(lower),
        Some(super::arm::Under::Group {
            provider: "microsoft.compute",
            rest: ["virtualmachines", _, "runcommands"] | ["virtualmachines", _, "runcommands", _],
        })
    )
}

pub fn route(standin: &StandIn, req: &Request<'_>) -> Reply {
    let at = |i: usize| req.segments[i];
    let expand = req.query.to_lowercase().contains("instanceview");
    let sub = standin.env.subscription.clone();
    match (req.method, &req.lower[..]) {
        ("PUT", [.., "runcommands", _]) => create(standin, req, (at(3), at(7), at(9))),
        ("GET", [.., "runcommands", _]) => reply(
            standin.sim().transact(|world, now| {
                managed::get(world, now, &sub, (at(3), at(7), at(9)), expand)
            }),
            |body| Reply::json(200, body),
        ),
        ("GET", [.., "runcommands"]) => reply(
            standin
                .sim()
                .transact(|world, now| managed::all(world, now, &sub, (at(3), at(7)), expand)),
            |bodies| Reply::json(200, json!({ "value": bodies })),
        ),
        ("DELETE", [.., "runcommands", _]) => {
            let removed = standin
                .sim()
                .transact(|world, now| managed::remove(world, now, &sub, (at(3), at(7), at(9))));
            reply(removed, |removed| {
                let op = req.caller.0.unwrap_or_default();
                let vm = vm_key(&sub, at(3), at(7));
                managed::record_cancel(&standin.env.dir, op, &vm, removed.as_ref());
                Reply::empty(if removed.is_some() { 200 } else { 204 })
            })
        }
        _ => Reply::arm_error(
            405,
            "MethodNotAllowed",
            &format!(
                "The stand-in does not serve {} on run commands.",
                req.method
            ),
        ),
    }
}

/// A transaction's result as a reply: its value through `ok`, or ARM's error.
fn reply<T>(
    result: Result<Result<T, crate::error::AzError>, crate::error::AzError>,
    ok: impl FnOnce(T) -> Reply,
) -> Reply {
    match result {
        Ok(Ok(value)) => ok(value),
        Ok(Err(e)) | Err(e) => Reply::from_az(&e),
    }
}

/// `PUT`: the body's script starts at once (the caller polls its instance view).
fn create(standin: &StandIn, req: &Request<'_>, (rg, vm, name): (&str, &str, &str)) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(req.body) else {
        return Reply::arm_error(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        );
    };
    let props = &body["properties"];
    let text = |v: &Value| v.as_str().map(str::to_string);
    let spec = Spec {
        rg: rg.to_string(),
        vm: vm.to_string(),
        name: name.to_string(),
        script: text(&props["source"]["script"]).unwrap_or_default(),
        parameters: (props["parameters"].as_array().into_iter().flatten())
            .filter_map(|p| Some((text(&p["name"])?, text(&p["value"]).unwrap_or_default())))
            .collect(),
        async_execution: props["asyncExecution"].as_bool().unwrap_or(false),
        timeout: props["timeoutInSeconds"].as_i64().unwrap_or(0),
        location: text(&body["location"]),
        output_blob_uri: text(&props["outputBlobUri"]),
        error_blob_uri: text(&props["errorBlobUri"]),
    };
    let directives = match Directives::parse(&spec.script) {
        Ok(d) => d,
        Err(e) => return Reply::arm_error(400, "InvalidParameter", &e.to_string()),
    };
    let (op, attempt) = req.caller;
    let directives = installers::apply(&standin.scenario.installers, op, attempt, &directives);
    let sub = standin.env.subscription.clone();
    let started = standin.sim().transact(|world, now| {
        managed::begin(world, now, &sub, &standin.scenario, &directives, &spec)
    });
    reply(started, |(run, played)| {
        let key = vm_key(&sub, rg, vm);
        let (dir, op) = (&standin.env.dir, op.unwrap_or_default());
        crate::run_command::record_timeline(dir, op, &key, &played);
        managed::record_script(dir, op, &key, &run, "script", run.start, run.end);
        Reply::json(201, managed::rest_json(&run, None))
    })
}
