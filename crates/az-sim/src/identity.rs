//! `az ad group …` and `az role assignment …` as the Azure CLI 2.91.0 runs
//! them (`azure/cli/command_modules/role`): the same Graph and ARM requests,
//! answered from the directory (`directory`) and RBAC (`rbac`) the stand-in
//! serves too, and printed as az prints them.

use serde_json::{Value, json};

use super::call::{Call, Outcome, timestamp};
use super::directory::{self, Clause, GraphError};
use super::error::AzError;
use super::ids;
use super::rbac;
use super::resources::READ_SECS;
use super::world::World;

/// `-g` is `--group` for `az ad group …`.
pub const GROUP_ALIASES: &[(&str, &str)] = &[("-g", "group")];

const WRITE_SECS: f64 = 3.0;

/// az prints the message of a Graph error, nothing else.
fn graph(e: GraphError) -> AzError {
    AzError::cli(e.message)
}

/// What `uuid.UUID` accepts in the form az users write object ids.
fn is_guid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn display_name(value: &str) -> Vec<Clause> {
    vec![Clause::Eq("displayName".into(), value.into())]
}

fn display_prefix(value: &str) -> Vec<Clause> {
    vec![Clause::StartsWith("displayName".into(), value.into())]
}

/// `--group` as az's `validate_group` resolves it: an object id as is, else
/// the one group of that display name, else the one whose name starts so.
fn resolve_group(world: &World, identifier: &str) -> Result<String, AzError> {
    if is_guid(identifier) {
        return Ok(identifier.to_string());
    }
    let id_of = |found: &[Value]| found[0]["id"].as_str().unwrap_or_default().to_string();
    let exact = directory::groups_matching(world, &display_name(identifier));
    match exact.len() {
        1 => return Ok(id_of(&exact)),
        0 => {}
        _ => {
            return Err(AzError::cli(format!(
                "More than one group match the name of '{identifier}'"
            )));
        }
    }
    let prefixed = directory::groups_matching(world, &display_prefix(identifier));
    match prefixed.len() {
        1 => Ok(id_of(&prefixed)),
        0 => Err(AzError::cli(format!(
            "No group matches the name of '{identifier}'"
        ))),
        _ => Err(AzError::cli(format!(
            "More than one group match the name of '{identifier}'"
        ))),
    }
}

/// `az ad group create`: az first looks for a group with this display name
/// and mail nickname and returns it (with a warning) unless `--force`.
pub fn group_create(call: &Call) -> Outcome {
    call.args.require(&["display-name", "mail-nickname"])?;
    let name = call.args.req("display-name")?;
    let nickname = call.args.req("mail-nickname")?;
    let description = call.args.one("description")?;
    let force = call.opt_bool("force", false)?;
    let created = directory::now();
    let (group, existed) = call.sim.transact(|world, _| {
        if !force {
            let same = vec![
                Clause::Eq("displayName".into(), name.clone()),
                Clause::Eq("mailNickname".into(), nickname.clone()),
            ];
            if let Some(found) = directory::groups_matching(world, &same).into_iter().next() {
                return (found, true);
            }
        }
        let made =
            directory::create_group(world, &name, &nickname, description.as_deref(), &created);
        (made, false)
    })?;
    if existed {
        call.warn(
            "A group with the same display name and mail nickname already exists, returning.",
        );
        call.delay(READ_SECS);
    } else {
        call.delay(WRITE_SECS);
    }
    Ok(Some(group))
}

pub fn group_show(call: &Call) -> Outcome {
    let identifier = call.args.req("group")?;
    call.delay(READ_SECS);
    call.sim.transact(|world, _| {
        let id = resolve_group(world, &identifier)?;
        // A show command's 404 exits 3 (azure-cli's show exception handler).
        directory::group(world, &id)
            .map(Some)
            .map_err(|e| AzError::ShowNotFound { message: e.message })
    })?
}

/// `az ad group list`: `--display-name` is Graph's `startswith`, as in az.
pub fn group_list(call: &Call) -> Outcome {
    let mut clauses = match call.args.one("filter")? {
        Some(filter) => directory::parse_filter(&filter).map_err(graph)?,
        None => Vec::new(),
    };
    if let Some(name) = call.args.one("display-name")? {
        clauses.extend(display_prefix(&name));
    }
    call.delay(READ_SECS);
    let groups = call
        .sim
        .transact(|world, _| directory::groups_matching(world, &clauses))?;
    Ok(Some(Value::Array(groups)))
}

pub fn group_delete(call: &Call) -> Outcome {
    let identifier = call.args.req("group")?;
    call.sim.transact(|world, _| {
        let id = resolve_group(world, &identifier)?;
        directory::delete_group(world, &id).map_err(graph)
    })??;
    call.delay(WRITE_SECS);
    Ok(None)
}

pub fn member_add(call: &Call) -> Outcome {
    call.args.require(&["group", "member-id"])?;
    let identifier = call.args.req("group")?;
    let member = call.args.req("member-id")?;
    call.sim.transact(|world, _| {
        let id = resolve_group(world, &identifier)?;
        directory::add_member(world, &id, &member).map_err(graph)
    })??;
    call.delay(WRITE_SECS);
    Ok(None)
}

/// `az ad group member check`: Graph's checkMemberGroups for the one group.
pub fn member_check(call: &Call) -> Outcome {
    call.args.require(&["group", "member-id"])?;
    let identifier = call.args.req("group")?;
    let member = call.args.req("member-id")?;
    call.delay(READ_SECS);
    let found = call.sim.transact(|world, _| {
        let id = resolve_group(world, &identifier)?;
        Ok::<bool, AzError>(!directory::member_groups(world, &member, &[id]).is_empty())
    })??;
    Ok(Some(json!({ "value": found })))
}

pub fn member_list(call: &Call) -> Outcome {
    let identifier = call.args.req("group")?;
    call.delay(READ_SECS);
    let members = call.sim.transact(|world, _| {
        let id = resolve_group(world, &identifier)?;
        directory::members(world, &id).map_err(graph)
    })??;
    Ok(Some(Value::Array(members)))
}

/// az's `_resolve_role_id`: a definition id or GUID as is, else the one
/// definition of that name ARM lists at the scope.
fn role_id(world: &World, sub: &str, role: &str, scope: &str) -> Result<String, AzError> {
    let lower = role.to_ascii_lowercase();
    if lower.starts_with("/subscriptions/")
        && lower.contains("/providers/microsoft.authorization/roledefinitions/")
    {
        return Ok(role.to_string());
    }
    if is_guid(role) {
        return Ok(format!(
            "/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"
        ));
    }
    rbac::check_scope(world, scope)?;
    rbac::role_definitions(sub, Some(role))
        .first()
        .and_then(|d| d["id"].as_str().map(str::to_string))
        .ok_or_else(|| AzError::cli(format!("Role '{role}' doesn't exist.")))
}

/// `--scope`, or the group of `--resource-group`, or the subscription.
fn scope(call: &Call) -> Result<String, AzError> {
    let group = call.args.one("resource-group")?;
    match (call.args.one("scope")?, group) {
        (Some(_), Some(rg)) => Err(AzError::cli(format!(
            "Resource group \"{rg}\" is redundant because scope is supplied"
        ))),
        (Some(scope), None) => Ok(scope),
        (None, Some(rg)) => Ok(ids::group_id(call.sub(), &rg)),
        (None, None) => Ok(format!("/subscriptions/{}", call.sub())),
    }
}

/// The usage rule az's validator applies to these options first.
fn non_empty(call: &Call) -> Result<(), AzError> {
    for option in ["assignee", "scope", "role", "resource-group"] {
        if call.args.one(option)?.as_deref() == Some("") {
            return Err(AzError::cli(format!(
                "usage error: --{option} can't be an empty string. Either omit it or provide a non-empty string."
            )));
        }
    }
    Ok(())
}

/// az's `_resolve_object_id_and_type`: Graph finds no user or service
/// principal of that name in the world's directory, so an assignee is a
/// directory object id or nothing.
fn resolve_assignee(world: &World, assignee: &str) -> Result<(String, Option<String>), AzError> {
    if is_guid(assignee)
        && let Some(found) = directory::objects_by_ids(world, &[assignee.to_string()]).first()
    {
        return Ok((
            found["id"].as_str().unwrap_or(assignee).to_string(),
            principal_type(found),
        ));
    }
    Err(AzError::cli(format!(
        "Cannot find user or service principal in graph database for '{assignee}'. If the assignee is an appId, make sure the corresponding service principal is created with 'az ad sp create --id {assignee}'."
    )))
}

/// `#microsoft.graph.group` → `Group`, as az maps Graph's types to ARM's.
fn principal_type(object: &Value) -> Option<String> {
    match object["@odata.type"].as_str()? {
        "#microsoft.graph.group" => Some("Group".into()),
        "#microsoft.graph.user" => Some("User".into()),
        "#microsoft.graph.servicePrincipal" => Some("ServicePrincipal".into()),
        _ => None,
    }
}

/// az's `list_role_assignments` for one scope: the assignments at it
/// (ARM's `atScope()` less the inherited ones), of the role and principal
/// asked for, with the role's and the principal's names filled in.
fn list_at(
    world: &World,
    sub: &str,
    scope: &str,
    principal: Option<&str>,
    role: Option<&str>,
    inherited: bool,
) -> Result<Vec<Value>, AzError> {
    let mut found: Vec<Value> = rbac::assignments_at(world, scope)?
        .into_iter()
        .filter(|a| inherited || rbac::scope_of(a).eq_ignore_ascii_case(scope))
        .collect();
    if !found.is_empty()
        && let Some(role) = role
    {
        let id = role_id(world, sub, role, scope)?;
        found.retain(|a| a["properties"]["roleDefinitionId"] == id.as_str());
    }
    if let Some(principal) = principal {
        found.retain(|a| a["properties"]["principalId"] == principal);
    }
    let principals: Vec<String> = found
        .iter()
        .filter_map(|a| a["properties"]["principalId"].as_str().map(str::to_string))
        .collect();
    let names = directory::objects_by_ids(world, &principals);
    Ok(found
        .iter()
        .map(|a| {
            let mut shown = with_resource_group(rbac::flat(a));
            let definition = a["properties"]["roleDefinitionId"]
                .as_str()
                .unwrap_or_default();
            shown["roleDefinitionName"] = json!(rbac::role_name(definition));
            let principal = &a["properties"]["principalId"];
            shown["principalName"] = json!(
                names
                    .iter()
                    .find(|n| n["id"] == *principal)
                    .and_then(|n| n["displayName"].as_str())
                    .unwrap_or_default()
            );
            shown
        })
        .collect())
}

/// az adds `resourceGroup` to an object whose `id` is in a resource group.
fn with_resource_group(mut shown: Value) -> Value {
    let group = shown["id"]
        .as_str()
        .and_then(ids::parse_id)
        .map(|(rg, _)| rg);
    if let Some(rg) = group {
        shown["resourceGroup"] = json!(rg);
    }
    shown
}

/// A new assignment as `create` prints ARM's answer: every property beside
/// `id`, `name` and `type`, the null ones too, and the model's `systemData`.
fn created_view(assignment: &Value) -> Value {
    let mut shown = json!({
        "id": assignment["id"],
        "name": assignment["name"],
        "type": assignment["type"],
        "systemData": null,
    });
    if let Some(properties) = assignment["properties"].as_object() {
        for (key, value) in properties {
            shown[key.as_str()] = value.clone();
        }
    }
    with_resource_group(shown)
}

pub fn assignment_create(call: &Call) -> Outcome {
    non_empty(call)?;
    call.args.require(&["role", "scope"])?;
    let assignee = call.args.one("assignee")?;
    let object_id = call.args.one("assignee-object-id")?;
    if assignee.is_some() == object_id.is_some() {
        return Err(AzError::cli(
            "usage error: --assignee STRING | --assignee-object-id GUID",
        ));
    }
    let given_type = call.args.one("assignee-principal-type")?;
    if given_type.is_some() && object_id.is_none() {
        return Err(AzError::cli(
            "usage error: --assignee-object-id GUID --assignee-principal-type TYPE",
        ));
    }
    if object_id.is_some() && given_type.is_none() {
        call.warn("RBAC service might reject creating role assignment without --assignee-principal-type in the future. Better to specify --assignee-principal-type manually.");
    }
    let role = call.args.req("role")?;
    let scope = scope(call)?;
    let sub = call.sub().to_string();
    let name = call.sim.transact(|world, _| world.next_serial())?;
    let name = ids::guid(&format!("roleassignment:{scope}:{name}"));
    let created = timestamp();
    let made = call.sim.transact(|world, _| {
        let (principal, kind) = match &object_id {
            Some(id) => {
                let kind = given_type.clone().or_else(|| {
                    directory::objects_by_ids(world, std::slice::from_ref(id))
                        .first()
                        .and_then(principal_type)
                });
                (id.clone(), kind)
            }
            None => resolve_assignee(world, assignee.as_deref().unwrap_or_default())?,
        };
        let definition = role_id(world, &sub, &role, &scope)?;
        let properties = json!({
            "roleDefinitionId": definition,
            "principalId": principal,
            "principalType": kind,
        });
        match rbac::put_assignment(world, &scope, &name, &properties, &created) {
            Ok(made) => Ok(created_view(&made)),
            // az makes `create` idempotent: it lists the existing assignment instead.
            Err(AzError::Arm { code, .. }) if code == "RoleAssignmentExists" => {
                list_at(world, &sub, &scope, Some(&principal), Some(&role), false)
                    .map(|found| found.into_iter().next().unwrap_or(Value::Null))
            }
            Err(e) => Err(e),
        }
    })??;
    call.delay(WRITE_SECS);
    Ok(Some(made))
}

pub fn assignment_list(call: &Call) -> Outcome {
    non_empty(call)?;
    let assignee = call.args.one("assignee")?;
    let object_id = call.args.one("assignee-object-id")?;
    if assignee.is_some() && object_id.is_some() {
        return Err(AzError::cli(
            "Usage error: Provide only one of --assignee or --assignee-object-id.",
        ));
    }
    if call.args.flag("all")? && (call.args.has("scope") || call.args.has("resource-group")) {
        return Err(AzError::cli(
            "group or scope are not required when --all is used",
        ));
    }
    let scope = scope(call)?;
    let role = call.args.one("role")?;
    let inherited = call.args.flag("include-inherited")?;
    let sub = call.sub().to_string();
    call.delay(READ_SECS);
    let found = call.sim.transact(|world, _| {
        let principal = match (&object_id, &assignee) {
            (Some(id), _) => Some(id.clone()),
            (None, Some(assignee)) => Some(resolve_assignee(world, assignee)?.0),
            (None, None) => None,
        };
        list_at(
            world,
            &sub,
            &scope,
            principal.as_deref(),
            role.as_deref(),
            inherited,
        )
    })??;
    Ok(Some(Value::Array(found)))
}

pub fn assignment_delete(call: &Call) -> Outcome {
    non_empty(call)?;
    let ids_given = call.args.many("ids");
    let scope = scope(call)?;
    let role = call.args.one("role")?;
    let assignee = call.args.one("assignee")?;
    let object_id = call.args.one("assignee-object-id")?;
    let sub = call.sub().to_string();
    call.sim.transact(|world, _| {
        if !ids_given.is_empty() {
            for id in &ids_given {
                rbac::delete_assignment(world, id);
            }
            return Ok(());
        }
        let principal = match (&object_id, &assignee) {
            (Some(id), _) => Some(id.clone()),
            (None, Some(assignee)) => Some(resolve_assignee(world, assignee)?.0),
            (None, None) => None,
        };
        let found = list_at(
            world,
            &sub,
            &scope,
            principal.as_deref(),
            role.as_deref(),
            false,
        )?;
        if found.is_empty() {
            return Err(AzError::cli("No matched assignments were found to delete"));
        }
        for a in found {
            rbac::delete_assignment(world, a["id"].as_str().unwrap_or_default());
        }
        Ok(())
    })??;
    call.delay(WRITE_SECS);
    Ok(None)
}
