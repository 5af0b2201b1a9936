//! `az group …`: resource groups, whose deletion takes everything in them along.

use serde_json::Value;

use super::call::{Call, Outcome};
use super::error::AzError;
use super::ids;
use super::resources::{READ_SECS, render};
use super::world::{Busy, BusyOp, GROUP_KIND, Resource};

/// `az group` takes the group's name as `--name/-n` or `--resource-group/-g`.
pub const ALIASES: &[(&str, &str)] = &[("-g", "name"), ("--resource-group", "name")];

const CREATE_SECS: f64 = 2.0;
/// Also how long the stand-in takes to delete one (`standin::arm`).
pub const DELETE_SECS: f64 = 60.0;

fn name(call: &Call) -> Result<String, AzError> {
    call.args.req("name")
}

pub fn create(call: &Call) -> Outcome {
    call.args.require(&["location", "name"])?;
    let name = name(call)?;
    let location = call.location()?;
    let id = ids::group_id(call.sub(), &name);
    let tags = if call.args.has("tags") {
        call.tags()
    } else {
        Value::Null
    };
    let shown = call.sim.transact(|state, _| {
        let key = ids::key(&id);
        if let Some(existing) = state.resources.get_mut(&key) {
            let at = existing.body["location"].as_str().unwrap_or_default().to_string();
            if !at.eq_ignore_ascii_case(&location) {
                return Err(AzError::arm(
                    "InvalidResourceGroupLocation",
                    format!(
                        "Invalid resource group location '{location}'. The Resource group already exists in location '{at}'."
                    ),
                ));
            }
            existing.body["tags"] = tags;
        } else {
            state.resources.insert(
                key.clone(),
                Resource::group(&id, &name, &location, tags),
            );
        }
        Ok(state.resources.get(&key).map(|r| render(state, r)))
    })??;
    call.delay(CREATE_SECS);
    Ok(shown)
}

pub fn show(call: &Call) -> Outcome {
    let name = name(call)?;
    let id = ids::group_id(call.sub(), &name);
    call.delay(READ_SECS);
    call.sim.transact(|state, _| {
        state
            .resources
            .get(&ids::key(&id))
            .map(|r| Some(render(state, r)))
            .ok_or_else(|| AzError::group_not_found(&name))
    })?
}

pub fn exists(call: &Call) -> Outcome {
    let name = name(call)?;
    let sub = call.sub().to_string();
    call.delay(READ_SECS);
    let found = call
        .sim
        .transact(|state, _| state.group_exists(&sub, &name))?;
    Ok(Some(Value::Bool(found)))
}

pub fn list(call: &Call) -> Outcome {
    call.delay(READ_SECS);
    let groups = call.sim.transact(|state, _| {
        state
            .resources
            .values()
            .filter(|r| r.kind == GROUP_KIND)
            .map(|r| render(state, r))
            .collect::<Vec<_>>()
    })?;
    Ok(Some(Value::Array(groups)))
}

pub fn update(call: &Call) -> Outcome {
    let name = name(call)?;
    let id = ids::group_id(call.sub(), &name);
    let tags = call.args.has("tags").then(|| call.tags());
    call.delay(CREATE_SECS);
    call.sim.transact(|state, _| {
        let key = ids::key(&id);
        let Some(r) = state.resources.get_mut(&key) else {
            return Err(AzError::group_not_found(&name));
        };
        if let Some(tags) = tags {
            r.body["tags"] = tags;
        }
        Ok(state.resources.get(&key).map(|r| render(state, r)))
    })?
}

pub fn delete(call: &Call) -> Outcome {
    let name = name(call)?;
    call.confirm()?;
    let id = ids::group_id(call.sub(), &name);
    call.sim.transact(|state, now| {
        let Some(r) = state.resources.get_mut(&ids::key(&id)) else {
            return Err(AzError::group_not_found(&name));
        };
        r.busy = Some(Busy {
            op: BusyOp::Deleting,
            until: now + DELETE_SECS,
        });
        Ok(())
    })??;
    if !call.no_wait()? {
        call.delay(DELETE_SECS);
    }
    Ok(None)
}
