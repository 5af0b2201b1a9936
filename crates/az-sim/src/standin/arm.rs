//! Azure Resource Manager as the Azure CLI's SDK reaches it: subscriptions,
//! resource groups and resource providers, read from and written to the same world the built-in
//! `az` keeps, with ARM's `{"error":{code,message}}` bodies.

use serde_json::{Value, json};

use super::{Reply, StandIn, authorization, avd, extensions, session_hosts};
use crate::account::REGISTER_SECS;
use crate::error::AzError;
use crate::groups::DELETE_SECS;
use crate::ids;
use crate::resources::render;
use crate::world::{Busy, BusyOp, Resource};

/// One request to ARM: the method, the path split into its segments, the body.
pub struct Request<'a> {
    pub method: &'a str,
    pub segments: Vec<&'a str>,
    /// The segments in lower case, for matching (ARM paths are case-insensitive).
    pub lower: Vec<&'a str>,
    /// The query string (`$expand=instanceView`, ...).
    pub query: &'a str,
    /// The query's `$filter`, decoded.
    pub filter: Option<String>,
    pub body: &'a [u8],
    /// The goldsmith operation and attempt calling, from az's User-Agent.
    pub caller: (Option<&'a str>, u32),
}

/// Where a (lower-case) ARM path points: a resource provider's path in a
/// resource group, or one at the subscription (`…/locations/<region>/…`);
/// `rest` is what follows the provider's namespace.
#[derive(Debug, PartialEq, Eq)]
pub enum Under<'a> {
    Group {
        provider: &'a str,
        rest: &'a [&'a str],
    },
    Subscription {
        provider: &'a str,
        rest: &'a [&'a str],
    },
}

/// The provider and rest of `lower`, so each provider's `serves` matches only
/// what is its own.
pub fn under<'a>(lower: &'a [&'a str]) -> Option<Under<'a>> {
    match lower {
        [
            "subscriptions",
            _,
            "resourcegroups",
            _,
            "providers",
            provider,
            rest @ ..,
        ] => Some(Under::Group { provider, rest }),
        ["subscriptions", _, "providers", provider, rest @ ..] => {
            Some(Under::Subscription { provider, rest })
        }
        _ => None,
    }
}

pub fn route(standin: &StandIn, req: &Request<'_>) -> Reply {
    let lower = &req.lower;
    match (req.method, lower.as_slice()) {
        ("GET", ["subscriptions"]) => Reply::json(200, json!({ "value": [subscription(standin)] })),
        ("GET", ["subscriptions", sub]) if *sub == standin.env.subscription => {
            Reply::json(200, subscription(standin))
        }
        (_, ["subscriptions", sub, ..]) if *sub != standin.env.subscription => Reply::arm_error(
            404,
            "SubscriptionNotFound",
            &format!("The subscription '{}' could not be found.", req.segments[1]),
        ),
        (_, segments) if authorization::serves(segments) => authorization::route(standin, req),
        (_, segments) if session_hosts::serves(segments) => session_hosts::route(standin, req),
        (_, segments) if avd::serves(segments) => avd::route(standin, req),
        (_, segments) if extensions::serves(segments) => extensions::route(standin, req),
        ("GET", ["subscriptions", _, "resourcegroups"]) => list_groups(standin),
        ("GET", ["subscriptions", _, "operationresults", operation]) => {
            deletion_status(standin, operation)
        }
        ("GET", ["subscriptions", _, "providers", _]) => provider(standin, req.segments[3], false),
        ("POST", ["subscriptions", _, "providers", _, "register"]) => {
            provider(standin, req.segments[3], true)
        }
        (_, segments) if super::deployments::serves(segments) => {
            super::deployments::route(standin, req)
        }
        (_, segments) if super::run_command::serves(segments) => {
            super::run_command::route(standin, req)
        }
        (_, segments) if super::managed_run_command::serves(segments) => {
            super::managed_run_command::route(standin, req)
        }
        (_, segments) if super::compute::serves(segments) => super::compute::route(standin, req),
        (
            "POST",
            [
                "subscriptions",
                _,
                "providers",
                "microsoft.storage",
                "checknameavailability",
            ],
        ) => super::resources::storage_name_availability(standin, req.body),
        ("GET", ["subscriptions", _, "providers", _, "locations", _, _, _]) => {
            super::resources::operation(standin, req)
        }
        (
            _,
            [
                "subscriptions",
                _,
                "resourcegroups",
                _,
                "providers",
                _,
                _,
                ..,
            ],
        ) => super::resources::route(standin, req),
        (method, ["subscriptions", _, "resourcegroups", _]) => {
            group(standin, method, req.segments[3], req.body)
        }
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

fn subscription(standin: &StandIn) -> Value {
    json!({
        "id": format!("/subscriptions/{}", standin.env.subscription),
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": standin.env.subscription,
        "tenantId": standin.env.tenant,
        "displayName": "goldsmith stand-in",
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off"
        }
    })
}

fn list_groups(standin: &StandIn) -> Reply {
    let listed = standin.sim().transact(|world, _| {
        let mut groups: Vec<Value> = world
            .resources
            .values()
            .filter(|r| r.kind == crate::world::GROUP_KIND)
            .map(|r| render(world, r))
            .collect();
        groups.sort_by_key(|g| g["name"].as_str().unwrap_or_default().to_lowercase());
        groups
    });
    match listed {
        Ok(groups) => Reply::json(200, json!({ "value": groups })),
        Err(e) => Reply::from_az(&e),
    }
}

fn group(standin: &StandIn, method: &str, name: &str, body: &[u8]) -> Reply {
    let id = ids::group_id(&standin.env.subscription, name);
    let key = ids::key(&id);
    let result = match method {
        "GET" => standin.sim().transact(|world, _| {
            world
                .resources
                .get(&key)
                .map(|r| Reply::json(200, render(world, r)))
                .ok_or_else(|| AzError::group_not_found(name))
        }),
        "HEAD" => standin.sim().transact(|world, _| {
            Ok(Reply::empty(if world.resources.contains_key(&key) {
                204
            } else {
                404
            }))
        }),
        "PUT" => {
            let Ok(body) = serde_json::from_slice::<Value>(body) else {
                return Reply::arm_error(
                    400,
                    "InvalidRequestContent",
                    "The request content was invalid and could not be deserialized.",
                );
            };
            let Some(location) = body["location"].as_str().map(str::to_string) else {
                return Reply::arm_error(
                    400,
                    "LocationRequired",
                    "The location property is required for this definition.",
                );
            };
            let tags = body.get("tags").cloned().unwrap_or(Value::Null);
            standin.sim().transact(|world, _| {
                let created = !world.resources.contains_key(&key);
                if let Some(existing) = world.resources.get_mut(&key) {
                    let at = existing.body["location"].as_str().unwrap_or_default().to_string();
                    if !at.eq_ignore_ascii_case(&location) {
                        return Err(AzError::arm(
                            "InvalidResourceGroupLocation",
                            format!("Invalid resource group location '{location}'. The Resource group already exists in location '{at}'."),
                        ));
                    }
                    existing.body["tags"] = tags;
                } else {
                    world
                        .resources
                        .insert(key.clone(), Resource::group(&id, name, &location, tags));
                }
                let shown = world.resources.get(&key).map(|r| render(world, r));
                Ok(Reply::json(if created { 201 } else { 200 }, shown.unwrap_or(Value::Null)))
            })
        }
        // As in ARM, a long-running operation: 202, then the operation to poll.
        "DELETE" => standin.sim().transact(|world, now| {
            let Some(group) = world.resources.get_mut(&key) else {
                return Err(AzError::group_not_found(name));
            };
            if group.busy.is_none_or(|b| b.op != BusyOp::Deleting) {
                group.busy = Some(Busy {
                    op: BusyOp::Deleting,
                    until: now + DELETE_SECS,
                });
            }
            Ok(Reply::accepted(operation_url(standin, &key)))
        }),
        other => {
            return Reply::arm_error(
                405,
                "MethodNotAllowed",
                &format!("The stand-in does not serve {other} on a resource group."),
            );
        }
    };
    match result {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) | Err(e) => Reply::from_az(&e),
    }
}

/// The operation a group deletion is polled at: the group's key, hex-encoded.
fn operation_url(standin: &StandIn, key: &str) -> String {
    format!(
        "{}/subscriptions/{}/operationresults/delete-{}?api-version=2024-11-01",
        standin.url,
        standin.env.subscription,
        hex::encode(key)
    )
}

/// `GET …/operationresults/{operation}`: 202 while the group is being deleted, 200 once it is gone.
fn deletion_status(standin: &StandIn, operation: &str) -> Reply {
    let key = operation
        .strip_prefix("delete-")
        .and_then(|h| hex::decode(h).ok())
        .and_then(|k| String::from_utf8(k).ok());
    let Some(key) = key else {
        return Reply::arm_error(404, "NotFound", "No such operation.");
    };
    match standin
        .sim()
        .transact(|world, _| world.resources.contains_key(&key))
    {
        Ok(true) => Reply::accepted(operation_url(standin, &key)),
        Ok(false) => Reply::empty(200),
        Err(e) => Reply::from_az(&e),
    }
}

/// A resource provider; `register` starts its registration (it takes
/// `REGISTER_SECS` of simulated time, as with the built-in az).
fn provider(standin: &StandIn, ns: &str, register: bool) -> Reply {
    let shown = standin.sim().transact(|world, now| {
        if register {
            world
                .providers
                .entry(ns.to_ascii_lowercase())
                .or_insert(now + REGISTER_SECS);
        }
        crate::account::provider(world, now, &standin.env.subscription, ns)
    });
    match shown {
        Ok(body) => Reply::json(200, body),
        Err(e) => Reply::from_az(&e),
    }
}
