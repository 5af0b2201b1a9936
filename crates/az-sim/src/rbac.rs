//! Azure RBAC as ARM's `Microsoft.Authorization` provider keeps it: the
//! built-in role definitions and the role assignments made at a scope, in
//! the REST API's shape (`{id, name, type, properties}`). The built-in
//! `az role assignment …` (`identity`) and the stand-in
//! (`standin::authorization`) both read and write assignments here.

use serde_json::{Value, json};

use super::error::AzError;
use super::ids;
use super::world::World;

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

/// ARM's type of a role assignment.
pub const ASSIGNMENT_TYPE: &str = "Microsoft.Authorization/roleAssignments";

/// The built-in role definitions, as `GET {scope}/providers/Microsoft.Authorization/roleDefinitions`
/// lists them; with `role_name`, only that role (`$filter=roleName eq '…'`).
pub fn role_definitions(subscription: &str, role_name: Option<&str>) -> Vec<Value> {
    ROLES
        .iter()
        .filter(|(name, _)| role_name.is_none_or(|r| r.eq_ignore_ascii_case(name)))
        .map(|(name, guid)| {
            json!({
                "id": definition_id(subscription, guid),
                "name": guid,
                "type": "Microsoft.Authorization/roleDefinitions",
                "properties": {
                    "roleName": name,
                    "type": "BuiltInRole",
                    "description": format!("The built-in role {name}."),
                    "assignableScopes": ["/"],
                    "permissions": [],
                    "createdOn": "2020-01-01T00:00:00.0000000Z",
                    "updatedOn": "2024-01-01T00:00:00.0000000Z",
                    "createdBy": null,
                    "updatedBy": null
                }
            })
        })
        .collect()
}

fn definition_id(subscription: &str, guid: &str) -> String {
    format!(
        "/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
    )
}

/// The role definition name of a definition id, for `roleDefinitionName`.
pub fn role_name(definition_id: &str) -> Option<&'static str> {
    let guid = definition_id.rsplit('/').next()?;
    ROLES
        .iter()
        .find(|(_, g)| g.eq_ignore_ascii_case(guid))
        .map(|(n, _)| *n)
}

/// ARM resolves the scope of a role assignment request: a missing group, or a
/// missing resource at the top of a resource scope (a storage account for
/// its share), is its 404, as azure-cli#15243 shows for a storage account.
pub fn check_scope(world: &World, scope: &str) -> Result<(), AzError> {
    let parts: Vec<&str> = scope.trim_matches('/').split('/').collect();
    if parts.len() < 4
        || !parts[0].eq_ignore_ascii_case("subscriptions")
        || !parts[2].eq_ignore_ascii_case("resourceGroups")
    {
        return Ok(());
    }
    let (sub, rg) = (parts[1], parts[3]);
    if !world.group_exists(sub, rg) {
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
        if !world.resources.contains_key(&key) && !world.vms.contains_key(&key) {
            return Err(AzError::resource_not_found(
                &format!("{arm_type}/{}", parts[7]),
                rg,
            ));
        }
    }
    Ok(())
}

/// The scope of an assignment, from its properties.
pub fn scope_of(assignment: &Value) -> &str {
    assignment["properties"]["scope"]
        .as_str()
        .unwrap_or_default()
}

/// `$filter=atScope()`: the assignments at `scope` and at the scopes above it
/// (not below), after ARM has checked the scope exists.
pub fn assignments_at(world: &World, scope: &str) -> Result<Vec<Value>, AzError> {
    check_scope(world, scope)?;
    let wanted = scope.trim_end_matches('/').to_lowercase();
    Ok(world
        .role_assignments
        .iter()
        .filter(|a| {
            let at = scope_of(a).trim_end_matches('/').to_lowercase();
            wanted == at || wanted.starts_with(&format!("{at}/"))
        })
        .cloned()
        .collect())
}

/// `PUT {scope}/providers/Microsoft.Authorization/roleAssignments/{name}`:
/// ARM refuses a second assignment of one role to one principal at one scope
/// (409 RoleAssignmentExists, which az turns into "return the existing one").
pub fn put_assignment(
    world: &mut World,
    scope: &str,
    name: &str,
    properties: &Value,
    created: &str,
) -> Result<Value, AzError> {
    check_scope(world, scope)?;
    let role = properties["roleDefinitionId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let principal = properties["principalId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let exists = world.role_assignments.iter().any(|a| {
        a["properties"]["principalId"] == principal.as_str()
            && a["properties"]["roleDefinitionId"]
                .as_str()
                .is_some_and(|r| r.eq_ignore_ascii_case(&role))
            && scope_of(a).eq_ignore_ascii_case(scope)
    });
    if exists {
        return Err(AzError::arm(
            "RoleAssignmentExists",
            "The role assignment already exists.",
        ));
    }
    let principal_type = properties["principalType"].as_str().unwrap_or("User");
    let assignment = json!({
        "id": format!("{scope}/providers/{ASSIGNMENT_TYPE}/{name}"),
        "name": name,
        "type": ASSIGNMENT_TYPE,
        "properties": {
            "condition": properties["condition"],
            "conditionVersion": properties["conditionVersion"],
            "createdBy": null,
            "createdOn": created,
            "delegatedManagedIdentityResourceId": null,
            "description": properties["description"],
            "principalId": principal,
            "principalType": principal_type,
            "roleDefinitionId": role,
            "scope": scope,
            "updatedBy": null,
            "updatedOn": created,
        }
    });
    world.role_assignments.push(assignment.clone());
    Ok(assignment)
}

/// `DELETE {assignment id}`: the deleted assignment, if there was one.
pub fn delete_assignment(world: &mut World, id: &str) -> Option<Value> {
    let index = world
        .role_assignments
        .iter()
        .position(|a| a["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(id)))?;
    Some(world.role_assignments.remove(index))
}

/// An assignment as `az role assignment list` shows it: the properties
/// lifted beside `id`, `name` and `type`, without the ones that are null.
pub fn flat(assignment: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in ["id", "name", "type"] {
        if !assignment[key].is_null() {
            out.insert(key.into(), assignment[key].clone());
        }
    }
    if let Some(properties) = assignment["properties"].as_object() {
        for (key, value) in properties {
            if !value.is_null() {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_are_found_at_and_above_their_scope_and_made_once() {
        let mut world = World::default();
        let sub = "s";
        let rg = ids::group_id(sub, "rg");
        world.resources.insert(
            ids::key(&rg),
            crate::world::Resource::group(&rg, "rg", "westeurope", Value::Null),
        );
        let role = role_definitions(sub, Some("reader"))[0]["id"].clone();
        let properties =
            json!({ "roleDefinitionId": role, "principalId": "p", "principalType": "Group" });
        assert!(put_assignment(&mut world, &rg, "n1", &properties, "t").is_ok());
        let again = put_assignment(&mut world, &rg, "n2", &properties, "t");
        assert!(matches!(again, Err(AzError::Arm { code, .. }) if code == "RoleAssignmentExists"));
        let below = format!("{rg}/providers/Microsoft.Compute/virtualMachines/vm");
        assert!(
            assignments_at(&world, &below).is_err(),
            "the VM does not exist"
        );
        assert_eq!(assignments_at(&world, &rg).map(|a| a.len()), Ok(1));
        assert_eq!(
            assignments_at(&world, &format!("/subscriptions/{sub}")).map(|a| a.len()),
            Ok(0)
        );
        let shown = flat(&world.role_assignments[0]);
        assert_eq!(shown["principalType"], "Group");
        assert!(shown.get("condition").is_none());
        assert_eq!(role_name(role.as_str().unwrap_or_default()), Some("Reader"));
    }
}
