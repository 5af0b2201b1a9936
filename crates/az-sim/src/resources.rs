//! Create, show, update, list and delete for any ARM resource type the
//! simulator knows (see `types`): the resource appears at once with a
//! `Creating`/`Updating`/`Deleting` provisioning state and settles when the
//! simulated operation ends, so concurrent `az` calls see what ARM would show.

use serde_json::{Value, json};

use super::call::{Call, Outcome};
use super::error::AzError;
use super::types::{self, Base, Parent, TypeSpec};
use super::world::{Busy, BusyOp, Resource, World};
use super::{gallery, ids};

/// Simulated seconds a read takes.
pub const READ_SECS: f64 = 1.0;

/// The resource group, and the names from the outermost parent to the resource.
pub struct Target {
    pub resource_group: String,
    pub names: Vec<String>,
    pub id: String,
}

impl Target {
    /// A resource of `spec` named by its path (the stand-in's requests).
    pub fn new(sub: &str, resource_group: &str, spec: &TypeSpec, names: Vec<String>) -> Self {
        Target {
            id: ids::resource_id(sub, resource_group, spec.arm_type, &names),
            resource_group: resource_group.to_string(),
            names,
        }
    }
}

fn target(call: &Call, spec: &TypeSpec, extra_required: &[&str]) -> Result<Target, AzError> {
    if let Some(id) = call.args.one("ids")? {
        let (resource_group, names) = ids::parse_id(&id).ok_or_else(|| {
            AzError::usage(format!("argument --ids: invalid resource id: '{id}'"))
        })?;
        let id = ids::resource_id(call.sub(), &resource_group, spec.arm_type, &names);
        return Ok(Target {
            resource_group,
            names,
            id,
        });
    }
    let mut required: Vec<&str> = vec![spec.name_opt, "resource-group"];
    required.extend(spec.parents.iter().filter_map(|p| match p {
        Parent::Opt(o) => Some(*o),
        Parent::Fixed(_) => None,
    }));
    required.extend(extra_required);
    call.args.require(&required)?;
    let resource_group = call.args.req("resource-group")?;
    let mut names = Vec::new();
    for parent in spec.parents {
        names.push(match parent {
            Parent::Opt(o) => last_segment(&call.args.req(o)?),
            Parent::Fixed(f) => f.to_string(),
        });
    }
    names.push(call.args.req(spec.name_opt)?);
    let id = ids::resource_id(call.sub(), &resource_group, spec.arm_type, &names);
    Ok(Target {
        resource_group,
        names,
        id,
    })
}

/// Options that accept a name or a full id use the name.
fn last_segment(value: &str) -> String {
    value
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(value)
        .to_string()
}

/// The 404 ARM gives for a missing group, parent or resource.
pub fn check_exists(state: &World, sub: &str, spec: &TypeSpec, t: &Target) -> Result<(), AzError> {
    if !state.group_exists(sub, &t.resource_group) {
        return Err(AzError::group_not_found(&t.resource_group));
    }
    let mut segments: Vec<&str> = spec.arm_type.split('/').collect();
    let namespace = segments.remove(0);
    for depth in 1..=t.names.len() {
        // A fixed level (a storage account's `fileServices/default`) always exists.
        if matches!(spec.parents.get(depth - 1), Some(Parent::Fixed(_))) {
            continue;
        }
        let id = ids::resource_id(
            sub,
            &t.resource_group,
            &format!("{namespace}/{}", segments[..depth].join("/")),
            &t.names[..depth],
        );
        if !state.resources.contains_key(&ids::key(&id)) {
            if depth == 1 {
                return Err(AzError::resource_not_found(
                    &format!("{namespace}/{}/{}", segments[0], t.names[0]),
                    &t.resource_group,
                ));
            }
            return Err(AzError::child_not_found(&id));
        }
    }
    Ok(())
}

/// Before a create: the group, then the parent. ARM answers a PUT of a
/// nested resource (a subnet, a share, an image definition) whose parent does
/// not exist with ParentResourceNotFound, naming the parent as
/// `<parent>/<child>` names are written.
pub fn check_parents(state: &World, sub: &str, spec: &TypeSpec, t: &Target) -> Result<(), AzError> {
    let parent_names = &t.names[..t.names.len().saturating_sub(1)];
    let parent = Target {
        resource_group: t.resource_group.clone(),
        names: parent_names.to_vec(),
        id: String::new(),
    };
    match check_exists(state, sub, spec, &parent) {
        Err(AzError::Arm { code, .. }) if code != "ResourceGroupNotFound" => {
            let shown: Vec<&str> = spec
                .parents
                .iter()
                .zip(parent_names)
                .filter(|(p, _)| matches!(p, Parent::Opt(_)))
                .map(|(_, n)| n.as_str())
                .collect();
            Err(AzError::parent_not_found(&shown.join("/")))
        }
        other => other,
    }
}

/// The resource as `show` prints it: its provisioning state while an
/// operation runs, and its children (a network's subnets) filled in.
pub fn render(state: &World, resource: &Resource) -> Value {
    let mut body = resource.body.clone();
    if let Some(busy) = resource.busy {
        let shown = Value::String(busy.op.provisioning_state().to_string());
        if body.get("provisioningState").is_some() {
            body["provisioningState"] = shown;
        } else if body.pointer("/properties/provisioningState").is_some() {
            body["properties"]["provisioningState"] = shown;
        }
    }
    if let Some(spec) = types::by_kind(&resource.kind) {
        for (field, child_kind) in spec.children {
            body[*field] = Value::Array(children(state, &resource.id, child_kind));
        }
    }
    body
}

fn children(state: &World, parent_id: &str, kind: &str) -> Vec<Value> {
    let prefix = format!("{}/", ids::key(parent_id));
    state
        .resources
        .iter()
        .filter(|(k, r)| r.kind == kind && k.starts_with(&prefix))
        .map(|(_, r)| render(state, r))
        .collect()
}

pub fn rendered(state: &World, id: &str) -> Option<Value> {
    state.resources.get(&ids::key(id)).map(|r| render(state, r))
}

pub fn create(call: &Call, spec: &TypeSpec) -> Outcome {
    let t = target(call, spec, spec.required)?;
    let location = call.location()?;
    let base = Base {
        id: t.id.clone(),
        name: t.names.last().cloned().unwrap_or_default(),
        resource_group: t.resource_group.clone(),
        location,
        tags: call.tags(),
    };
    let mut body = (spec.build)(call, &base)?;
    decorate(&mut body, spec, &base);
    let extras = (spec.extras)(call, &base)?;
    let sub = call.sub().to_string();
    call.sim.transact(|state, now| {
        check_parents(state, &sub, spec, &t)?;
        gallery::check_capture(state, spec.kind, &body)?;
        let key = ids::key(&t.id);
        let op = if state.resources.contains_key(&key) {
            BusyOp::Updating
        } else {
            BusyOp::Creating
        };
        let busy = Some(Busy {
            op,
            until: now + spec.create_secs,
        });
        state.resources.insert(
            key,
            Resource {
                id: t.id.clone(),
                kind: spec.kind.to_string(),
                body,
                busy,
            },
        );
        for extra in extras {
            state
                .resources
                .insert(ids::key(&extra.id), Resource { busy, ..extra });
        }
        Ok::<(), AzError>(())
    })??;
    if call.no_wait()? {
        return Ok(None);
    }
    call.delay(spec.create_secs);
    let shown = finished(call, spec, &t)?;
    Ok(Some(match spec.wrap {
        Some(key) => json!({ key: shown }),
        None => shown,
    }))
}

/// The resource after its operation, or the 404 if someone deleted it meanwhile.
fn finished(call: &Call, spec: &TypeSpec, t: &Target) -> Result<Value, AzError> {
    let sub = call.sub().to_string();
    call.sim.transact(|state, _| {
        check_exists(state, &sub, spec, t)?;
        rendered(state, &t.id).ok_or_else(|| AzError::child_not_found(&t.id))
    })?
}

/// The fields every resource has.
pub fn decorate(body: &mut Value, spec: &TypeSpec, base: &Base) {
    if !body.is_object() {
        *body = json!({});
    }
    body["id"] = Value::String(base.id.clone());
    body["name"] = Value::String(base.name.clone());
    body["resourceGroup"] = Value::String(base.resource_group.clone());
    body["type"] = Value::String(spec.shown_type.unwrap_or(spec.arm_type).to_string());
    if body.get("provisioningState").is_none() {
        body["provisioningState"] = Value::String("Succeeded".into());
    }
}

pub fn show(call: &Call, spec: &TypeSpec) -> Outcome {
    let t = target(call, spec, &[])?;
    call.delay(READ_SECS);
    finished(call, spec, &t).map(Some)
}

pub fn update(call: &Call, spec: &TypeSpec) -> Outcome {
    let t = target(call, spec, &[])?;
    let sub = call.sub().to_string();
    // Values are computed before the lock: they may fail on bad input.
    let edit = (spec.update)(call)?;
    call.sim.transact(|state, now| {
        check_exists(state, &sub, spec, &t)?;
        if let Some(r) = state.resources.get_mut(&ids::key(&t.id)) {
            edit(&mut r.body);
            r.busy = Some(Busy {
                op: BusyOp::Updating,
                until: now + spec.update_secs,
            });
        }
        Ok::<(), AzError>(())
    })??;
    if call.no_wait()? {
        return Ok(None);
    }
    call.delay(spec.update_secs);
    finished(call, spec, &t).map(Some)
}

pub fn delete(call: &Call, spec: &TypeSpec) -> Outcome {
    let t = target(call, spec, &[])?;
    if spec.confirm_delete {
        call.confirm()?;
    }
    let sub = call.sub().to_string();
    let found = call.sim.transact(|state, now| {
        if !state.group_exists(&sub, &t.resource_group) {
            return Err(AzError::group_not_found(&t.resource_group));
        }
        // ARM answers 204 for a delete of something that does not exist.
        let Some(r) = state.resources.get_mut(&ids::key(&t.id)) else {
            return Ok(false);
        };
        r.busy = Some(Busy {
            op: BusyOp::Deleting,
            until: now + spec.delete_secs,
        });
        Ok(true)
    })??;
    if found && !call.no_wait()? {
        call.delay(spec.delete_secs);
    }
    Ok(None)
}

pub fn list(call: &Call, spec: &TypeSpec) -> Outcome {
    let resource_group = call.args.one("resource-group")?;
    let sub = call.sub().to_string();
    let parent_names: Vec<String> = spec
        .parents
        .iter()
        .map(|p| match p {
            Parent::Opt(o) => call.args.req(o).map(|v| last_segment(&v)),
            Parent::Fixed(f) => Ok(f.to_string()),
        })
        .collect::<Result<_, _>>()?;
    if !spec.parents.is_empty() && resource_group.is_none() {
        call.args.require(&["resource-group"])?;
    }
    call.delay(READ_SECS);
    let items = call.sim.transact(|state, _| {
        let prefix = match &resource_group {
            None => format!("/subscriptions/{sub}/").to_ascii_lowercase(),
            Some(rg) => {
                // As ARM: the group, then each parent must exist (exit 3, as
                // the real az through the stand-in shows); an empty list is
                // only for a parent without children.
                let parent = Target::new(&sub, rg, spec, parent_names.clone());
                check_exists(state, &sub, spec, &parent)?;
                let mut names = parent_names.clone();
                names.push(String::new());
                ids::key(&ids::resource_id(&sub, rg, spec.arm_type, &names))
            }
        };
        Ok(state
            .resources
            .iter()
            .filter(|(k, r)| r.kind == spec.kind && k.starts_with(&prefix))
            .map(|(_, r)| render(state, r))
            .collect::<Vec<_>>())
    })??;
    Ok(Some(Value::Array(items)))
}
