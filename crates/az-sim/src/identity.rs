//! Entra ID groups (`az ad group …`) and Azure role assignments
//! (`az role assignment …`), shaped as Microsoft Graph and ARM return them.

use serde_json::{Value, json};

use super::call::{Call, Outcome, timestamp};
use super::error::AzError;
use super::ids;
use super::resources::READ_SECS;
use super::world::World;

/// `-g` is `--group` for `az ad group …`.
pub const GROUP_ALIASES: &[(&str, &str)] = &[("-g", "group")];

const WRITE_SECS: f64 = 3.0;

/// Built-in role names and their role definition ids.
const ROLES: &[(&str, &str)] = &[
    ("Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"),
    ("Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c"),
    ("Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7"),
    (
        "User Access Administrator",
        "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    ),
    (
        "Desktop Virtualization User",
        "1d18fff3-a72a-46b5-b4a9-0b38a3cd7e63",
    ),
    (
        "Desktop Virtualization Power On Off Contributor",
        "40c5ff49-9181-41f8-ae61-143b0e78555e",
    ),
    (
        "Virtual Machine User Login",
        "fb879df8-f326-4884-b1cf-06f3ad86be52",
    ),
    (
        "Virtual Machine Administrator Login",
        "1c0163c0-47e6-4577-8991-ea5c82e286e4",
    ),
    (
        "Virtual Machine Contributor",
        "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
    ),
    (
        "Storage File Data SMB Share Contributor",
        "0c867c2a-1d8c-454a-a3db-ab2ea1bdc8bb",
    ),
    (
        "Storage File Data SMB Share Elevated Contributor",
        "a7264617-510b-434b-a828-9731dc254ea7",
    ),
    (
        "Storage Account Contributor",
        "17d1049b-9a84-46fb-8f53-869881c3d3ab",
    ),
];

fn is_guid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The object id az resolves `--group` to, as its `_resolve_group` does.
fn resolve_group(groups: &[Value], identifier: &str) -> Result<String, AzError> {
    if is_guid(identifier) {
        return if groups.iter().any(|g| g["id"] == identifier) {
            Ok(identifier.to_string())
        } else {
            Err(AzError::cli(format!(
                "Resource '{identifier}' does not exist or one of its queried reference-property objects are not present."
            )))
        };
    }
    let found: Vec<&Value> = groups
        .iter()
        .filter(|g| g["displayName"] == identifier)
        .collect();
    match found.as_slice() {
        [] => Err(AzError::cli(format!(
            "Group {identifier} is not found in Graph "
        ))),
        [one] => Ok(one["id"].as_str().unwrap_or_default().to_string()),
        _ => Err(AzError::cli(format!(
            "More than 1 group objects has the display name of {identifier}"
        ))),
    }
}

pub fn group_create(call: &Call) -> Outcome {
    call.args.require(&["display-name", "mail-nickname"])?;
    let name = call.args.req("display-name")?;
    let nickname = call.args.req("mail-nickname")?;
    let description = call.opt_string("description")?;
    let group = call.sim.transact(|state, _| {
        let serial = state.next_serial();
        let id = ids::guid(&format!("adgroup:{name}:{serial}"));
        let created = timestamp();
        // Graph allows several groups with one display name; az then refuses to pick.
        let group = json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#groups/$entity",
            "classification": null,
            "createdDateTime": created,
            "creationOptions": [],
            "deletedDateTime": null,
            "description": description,
            "displayName": name,
            "expirationDateTime": null,
            "groupTypes": [],
            "id": id,
            "isAssignableToRole": null,
            "mail": null,
            "mailEnabled": false,
            "mailNickname": nickname,
            "membershipRule": null,
            "onPremisesSyncEnabled": null,
            "preferredDataLocation": null,
            "proxyAddresses": [],
            "renewedDateTime": created,
            "securityEnabled": true,
            "securityIdentifier": format!("S-1-12-1-{serial}"),
            "visibility": null,
        });
        state.ad_groups.push(group.clone());
        group
    })?;
    call.delay(WRITE_SECS);
    Ok(Some(group))
}

pub fn group_show(call: &Call) -> Outcome {
    let identifier = call.args.req("group")?;
    call.delay(READ_SECS);
    call.sim.transact(|state, _| {
        let id = resolve_group(&state.ad_groups, &identifier)?;
        Ok(state
            .ad_groups
            .iter()
            .find(|g| g["id"] == id.as_str())
            .cloned())
    })?
}

pub fn group_list(call: &Call) -> Outcome {
    let display = call.args.one("display-name")?;
    call.delay(READ_SECS);
    let groups = call.sim.transact(|state, _| {
        state
            .ad_groups
            .iter()
            .filter(|g| {
                display
                    .as_ref()
                    .is_none_or(|d| g["displayName"] == d.as_str())
            })
            .cloned()
            .collect::<Vec<_>>()
    })?;
    Ok(Some(Value::Array(groups)))
}

pub fn group_delete(call: &Call) -> Outcome {
    let identifier = call.args.req("group")?;
    call.sim.transact(|state, _| {
        let id = resolve_group(&state.ad_groups, &identifier)?;
        state.ad_groups.retain(|g| g["id"] != id.as_str());
        state.ad_members.remove(&id);
        Ok::<(), AzError>(())
    })??;
    call.delay(WRITE_SECS);
    Ok(None)
}

pub fn member_add(call: &Call) -> Outcome {
    call.args.require(&["group", "member-id"])?;
    let identifier = call.args.req("group")?;
    let member = call.args.req("member-id")?;
    call.sim.transact(|state, _| {
        let id = resolve_group(&state.ad_groups, &identifier)?;
        let members = state.ad_members.entry(id).or_default();
        if members.contains(&member) {
            return Err(AzError::cli(
                "One or more added object references already exist for the following modified properties: 'members'.",
            ));
        }
        members.push(member.clone());
        Ok(())
    })??;
    call.delay(WRITE_SECS);
    Ok(None)
}

pub fn member_check(call: &Call) -> Outcome {
    call.args.require(&["group", "member-id"])?;
    let identifier = call.args.req("group")?;
    let member = call.args.req("member-id")?;
    call.delay(READ_SECS);
    let found = call.sim.transact(|state, _| {
        let id = resolve_group(&state.ad_groups, &identifier)?;
        Ok::<bool, AzError>(
            state
                .ad_members
                .get(&id)
                .is_some_and(|m| m.contains(&member)),
        )
    })??;
    Ok(Some(json!({ "value": found })))
}

pub fn member_list(call: &Call) -> Outcome {
    let identifier = call.args.req("group")?;
    call.delay(READ_SECS);
    let members = call.sim.transact(|state, _| {
        let id = resolve_group(&state.ad_groups, &identifier)?;
        Ok::<Vec<Value>, AzError>(
            state
                .ad_members
                .get(&id)
                .map(|m| {
                    m.iter()
                        .map(|id| json!({ "@odata.type": "#microsoft.graph.user", "id": id }))
                        .collect()
                })
                .unwrap_or_default(),
        )
    })??;
    Ok(Some(Value::Array(members)))
}

fn role_definition(sub: &str, role: &str) -> (String, String) {
    let (name, guid) = ROLES
        .iter()
        .find(|(n, g)| {
            n.eq_ignore_ascii_case(role) || g.eq_ignore_ascii_case(role) || role.ends_with(g)
        })
        .map(|(n, g)| (n.to_string(), g.to_string()))
        .unwrap_or_else(|| (role.to_string(), ids::guid(&format!("role:{role}"))));
    (
        name,
        format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
    )
}

fn scope(call: &Call) -> Result<String, AzError> {
    if let Some(scope) = call.args.one("scope")? {
        return Ok(scope);
    }
    Ok(match call.args.one("resource-group")? {
        Some(rg) => ids::group_id(call.sub(), &rg),
        None => format!("/subscriptions/{}", call.sub()),
    })
}

/// ARM resolves the scope of a new role assignment: a missing group, or a
/// missing resource at the top of a resource scope (a storage account for
/// its share), is its 404, as azure-cli#15243 shows for a storage account.
fn check_scope(state: &World, scope: &str) -> Result<(), AzError> {
    let parts: Vec<&str> = scope.trim_matches('/').split('/').collect();
    if parts.len() < 4
        || !parts[0].eq_ignore_ascii_case("subscriptions")
        || !parts[2].eq_ignore_ascii_case("resourceGroups")
    {
        return Ok(());
    }
    let (sub, rg) = (parts[1], parts[3]);
    if !state.group_exists(sub, rg) {
        return Err(AzError::group_not_found(rg));
    }
    if parts.len() >= 8 && parts[4].eq_ignore_ascii_case("providers") {
        let arm_type = format!("{}/{}", parts[5], parts[6]);
        let key = ids::key(&ids::resource_id(
            sub,
            rg,
            &arm_type,
            &[parts[7].to_string()],
        ));
        if !state.resources.contains_key(&key) && !state.vms.contains_key(&key) {
            return Err(AzError::resource_not_found(
                &format!("{arm_type}/{}", parts[7]),
                rg,
            ));
        }
    }
    Ok(())
}

fn assignee(call: &Call) -> Result<Option<String>, AzError> {
    Ok(match call.args.one("assignee-object-id")? {
        Some(id) => Some(id),
        None => call.args.one("assignee")?,
    })
}

pub fn assignment_create(call: &Call) -> Outcome {
    call.args.require(&["role"])?;
    let Some(assignee) = assignee(call)? else {
        return Err(AzError::cli(
            "usage error: --assignee STRING | --assignee-object-id GUID",
        ));
    };
    let (role_name, role_id) = role_definition(call.sub(), &call.args.req("role")?);
    let scope = scope(call)?;
    let kind = call.args.one("assignee-principal-type")?;
    let assignment = call.sim.transact(|state, _| {
        check_scope(state, &scope)?;
        let principal = if is_guid(&assignee) {
            assignee.clone()
        } else {
            ids::guid(&format!("principal:{assignee}"))
        };
        let exists = state.role_assignments.iter().any(|a| {
            a["principalId"] == principal.as_str()
                && a["roleDefinitionId"] == role_id.as_str()
                && a["scope"]
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(&scope))
        });
        if exists {
            return Err(AzError::arm(
                "RoleAssignmentExists",
                "The role assignment already exists.",
            ));
        }
        let principal_type = kind.clone().unwrap_or_else(|| {
            if state
                .ad_groups
                .iter()
                .any(|g| g["id"] == principal.as_str())
            {
                "Group".into()
            } else {
                "User".into()
            }
        });
        let name = ids::guid(&format!("assignment:{scope}:{role_id}:{principal}"));
        let created = timestamp();
        let mut a = json!({
            "condition": null,
            "conditionVersion": null,
            "createdBy": null,
            "createdOn": created,
            "delegatedManagedIdentityResourceId": null,
            "description": null,
            "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"),
            "name": name,
            "principalId": principal,
            "principalName": assignee,
            "principalType": principal_type,
            "roleDefinitionId": role_id,
            "roleDefinitionName": role_name,
            "scope": scope,
            "type": "Microsoft.Authorization/roleAssignments",
            "updatedBy": null,
            "updatedOn": created,
        });
        if let Some((rg, _)) = ids::parse_id(&scope) {
            a["resourceGroup"] = json!(rg);
        }
        state.role_assignments.push(a.clone());
        Ok(a)
    })??;
    call.delay(WRITE_SECS);
    // `create` does not show the names `list` adds.
    let mut shown = assignment;
    if let Some(map) = shown.as_object_mut() {
        map.remove("principalName");
        map.remove("roleDefinitionName");
    }
    Ok(Some(shown))
}

fn matching(call: &Call) -> Result<impl Fn(&Value) -> bool + use<>, AzError> {
    let assignee = assignee(call)?;
    let role = call
        .args
        .one("role")?
        .map(|r| role_definition(call.sub(), &r).1);
    let scope = if call.args.has("scope") || call.args.has("resource-group") {
        Some(scope(call)?)
    } else {
        None
    };
    let ids_wanted = call.args.many("ids");
    Ok(move |a: &Value| {
        let principal_ok = assignee
            .as_ref()
            .is_none_or(|x| a["principalId"] == x.as_str() || a["principalName"] == x.as_str());
        let role_ok = role
            .as_ref()
            .is_none_or(|r| a["roleDefinitionId"] == r.as_str());
        let scope_ok = scope.as_ref().is_none_or(|s| {
            a["scope"]
                .as_str()
                .is_some_and(|x| x.eq_ignore_ascii_case(s))
        });
        let id_ok = ids_wanted.is_empty() || ids_wanted.iter().any(|i| a["id"] == i.as_str());
        principal_ok && role_ok && scope_ok && id_ok
    })
}

pub fn assignment_list(call: &Call) -> Outcome {
    let keep = matching(call)?;
    call.delay(READ_SECS);
    let found = call.sim.transact(|state, _| {
        state
            .role_assignments
            .iter()
            .filter(|a| keep(a))
            .cloned()
            .collect::<Vec<_>>()
    })?;
    Ok(Some(Value::Array(found)))
}

pub fn assignment_delete(call: &Call) -> Outcome {
    let keep = matching(call)?;
    call.sim
        .transact(|state, _| state.role_assignments.retain(|a| !keep(a)))?;
    call.delay(WRITE_SECS);
    Ok(None)
}
