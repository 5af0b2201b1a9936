//! ARM's `Microsoft.Authorization` provider as `az role assignment …` reaches
//! it at any scope (subscription, resource group, resource): role definitions
//! listed by name, and role assignments listed (`atScope()`), made and read,
//! from the world's RBAC (`crate::rbac`).

use serde_json::{Value, json};

use super::arm::Request;
use super::{Reply, StandIn};
use crate::error::AzError;
use crate::rbac;

/// Where `providers/Microsoft.Authorization` starts in a request's
/// lower-cased segments, after a scope of at least `subscriptions/{id}`.
fn provider_at(lower: &[&str]) -> Option<usize> {
    (2..lower.len().saturating_sub(2))
        .rev()
        .find(|&i| lower[i] == "providers" && lower[i + 1] == "microsoft.authorization")
}

/// Whether the request is for role definitions or assignments at some scope.
pub fn serves(lower: &[&str]) -> bool {
    provider_at(lower).is_some_and(|i| {
        matches!(
            &lower[i + 2..],
            ["roledefinitions"] | ["roleassignments"] | ["roleassignments", _]
        )
    })
}

pub fn route(standin: &StandIn, req: &Request<'_>) -> Reply {
    let lower = &req.lower;
    let Some(at) = provider_at(lower) else {
        return Reply::arm_error(404, "NotFound", "Not a Microsoft.Authorization request.");
    };
    let scope = format!("/{}", req.segments[..at].join("/"));
    match (req.method, &lower[at + 2..]) {
        ("GET", ["roledefinitions"]) => role_definitions(standin, &scope, req.filter.as_deref()),
        ("GET", ["roleassignments"]) => list_assignments(standin, &scope),
        (method, ["roleassignments", _]) => {
            assignment(standin, method, &scope, req.segments[at + 3], req.body)
        }
        (method, _) => Reply::arm_error(
            405,
            "MethodNotAllowed",
            &format!("The stand-in does not serve {method} here."),
        ),
    }
}

/// `GET {scope}/providers/Microsoft.Authorization/roleDefinitions[?$filter=roleName eq '…']`.
fn role_definitions(standin: &StandIn, scope: &str, filter: Option<&str>) -> Reply {
    let name = filter
        .and_then(|f| f.strip_prefix("roleName eq '"))
        .and_then(|f| f.strip_suffix('\''));
    let sub = standin.env.subscription.clone();
    reply(standin.sim().transact(|world, _| {
        rbac::check_scope(world, scope)?;
        Ok(Reply::json(
            200,
            json!({ "value": rbac::role_definitions(&sub, name) }),
        ))
    }))
}

/// `GET {scope}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()`.
fn list_assignments(standin: &StandIn, scope: &str) -> Reply {
    reply(standin.sim().transact(|world, _| {
        rbac::assignments_at(world, scope).map(|found| Reply::json(200, json!({ "value": found })))
    }))
}

/// `PUT`, `GET` or `DELETE {scope}/providers/Microsoft.Authorization/roleAssignments/{name}`.
fn assignment(standin: &StandIn, method: &str, scope: &str, name: &str, body: &[u8]) -> Reply {
    let id = format!("{scope}/providers/{}/{name}", rbac::ASSIGNMENT_TYPE);
    let find = |world: &crate::world::World| {
        world
            .role_assignments
            .iter()
            .find(|a| {
                a["id"]
                    .as_str()
                    .is_some_and(|x| x.eq_ignore_ascii_case(&id))
            })
            .cloned()
    };
    let missing = || {
        AzError::arm_404(
            "RoleAssignmentNotFound",
            format!("The role assignment '{name}' is not found."),
        )
    };
    match method {
        "PUT" => {
            let Ok(body) = serde_json::from_slice::<Value>(body) else {
                return Reply::arm_error(
                    400,
                    "InvalidRequestContent",
                    "The request content was invalid and could not be deserialized.",
                );
            };
            let created = crate::call::timestamp();
            reply(standin.sim().transact(|world, _| {
                rbac::put_assignment(world, scope, name, &body["properties"], &created)
                    .map(|made| Reply::json(201, made))
            }))
        }
        "GET" => reply(
            standin
                .sim()
                .transact(|world, _| find(world).map(|a| Reply::json(200, a)).ok_or_else(missing)),
        ),
        "DELETE" => reply(standin.sim().transact(|world, _| {
            Ok(match rbac::delete_assignment(world, &id) {
                Some(gone) => Reply::json(200, gone),
                None => Reply::empty(204),
            })
        })),
        other => Reply::arm_error(
            405,
            "MethodNotAllowed",
            &format!("The stand-in does not serve {other} on a role assignment."),
        ),
    }
}

fn reply(result: Result<Result<Reply, AzError>, AzError>) -> Reply {
    match result {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) | Err(e) => Reply::from_az(&e),
    }
}
