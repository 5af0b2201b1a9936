//! `az group …`: resource groups, whose deletion takes everything in them along.

use serde_json::{Value, json};

use super::call::{Ctx, Outcome};
use super::error::AzError;
use super::ids;
use super::resources::{READ_SECS, render};
use super::world::{Busy, BusyOp, Resource};

pub const KIND: &str = "group";
/// `az group` takes the group's name as `--name/-n` or `--resource-group/-g`.
pub const ALIASES: &[(&str, &str)] = &[("-g", "name"), ("--resource-group", "name")];

const CREATE_SECS: f64 = 2.0;
const DELETE_SECS: f64 = 60.0;

pub fn body(id: &str, name: &str, location: &str, tags: Value) -> Value {
    json!({
        "id": id,
        "location": location,
        "managedBy": null,
        "name": name,
        "properties": { "provisioningState": "Succeeded" },
        "tags": tags,
        "type": "Microsoft.Resources/resourceGroups",
    })
}

fn name(ctx: &Ctx) -> Result<String, AzError> {
    ctx.args.req("name")
}

pub fn create(ctx: &Ctx) -> Outcome {
    ctx.args.require(&["location", "name"])?;
    let name = name(ctx)?;
    let location = ctx.location()?;
    let id = ids::group_id(ctx.sub(), &name);
    let tags = if ctx.args.has("tags") {
        ctx.tags()
    } else {
        Value::Null
    };
    let shown = ctx.sim.transact(|state, _| {
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
                Resource {
                    id: id.clone(),
                    kind: KIND.into(),
                    body: body(&id, &name, &location, tags),
                    busy: None,
                },
            );
        }
        Ok(state.resources.get(&key).map(|r| render(state, r)))
    })??;
    ctx.delay(CREATE_SECS);
    Ok(shown)
}

pub fn show(ctx: &Ctx) -> Outcome {
    let name = name(ctx)?;
    let id = ids::group_id(ctx.sub(), &name);
    ctx.delay(READ_SECS);
    ctx.sim.transact(|state, _| {
        state
            .resources
            .get(&ids::key(&id))
            .map(|r| Some(render(state, r)))
            .ok_or_else(|| AzError::group_not_found(&name))
    })?
}

pub fn exists(ctx: &Ctx) -> Outcome {
    let name = name(ctx)?;
    let sub = ctx.sub().to_string();
    ctx.delay(READ_SECS);
    let found = ctx
        .sim
        .transact(|state, _| state.group_exists(&sub, &name))?;
    Ok(Some(Value::Bool(found)))
}

pub fn list(ctx: &Ctx) -> Outcome {
    ctx.delay(READ_SECS);
    let groups = ctx.sim.transact(|state, _| {
        state
            .resources
            .values()
            .filter(|r| r.kind == KIND)
            .map(|r| render(state, r))
            .collect::<Vec<_>>()
    })?;
    Ok(Some(Value::Array(groups)))
}

pub fn update(ctx: &Ctx) -> Outcome {
    let name = name(ctx)?;
    let id = ids::group_id(ctx.sub(), &name);
    let tags = ctx.args.has("tags").then(|| ctx.tags());
    ctx.delay(CREATE_SECS);
    ctx.sim.transact(|state, _| {
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

pub fn delete(ctx: &Ctx) -> Outcome {
    let name = name(ctx)?;
    ctx.confirm()?;
    let id = ids::group_id(ctx.sub(), &name);
    ctx.sim.transact(|state, now| {
        let Some(r) = state.resources.get_mut(&ids::key(&id)) else {
            return Err(AzError::group_not_found(&name));
        };
        r.busy = Some(Busy {
            op: BusyOp::Deleting,
            until: now + DELETE_SECS,
        });
        Ok(())
    })??;
    if !ctx.no_wait()? {
        ctx.delay(DELETE_SECS);
    }
    Ok(None)
}
