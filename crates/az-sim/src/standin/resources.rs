//! ARM resources of the types the built-in `az` keeps through its generic
//! `TypeSpec` table (virtual networks, subnets, NSGs and their rules, NICs,
//! public IPs, storage accounts and file shares, galleries and image
//! definitions), served by one handler: a request path
//! `…/resourceGroups/{rg}/providers/{Namespace}/{type}/{name}[/{childType}/{childName}…]`
//! names a `TypeSpec` by its `arm_type`.
//!
//! The world keeps resources the way `az` prints them (`properties`
//! flattened, `resourceGroup` added); ARM's wire shape puts everything but
//! the envelope (`id`, `name`, `type`, `location`, `tags`, `sku`, …) under
//! `properties`. A PUT turns the request into the stored resource: the
//! provider's defaults (the same ones the built-in `az` starts from), then
//! what the request sets. Operations take the same simulated time as with the
//! built-in `az` (`Busy`), and are answered as each resource provider does.

use serde_json::{Map, Value, json};

use super::arm::Request;
use super::wire::to_arm;
use super::{Reply, StandIn};
use crate::error::AzError;
use crate::ids;
use crate::resources::{Target, check_exists, check_parents, decorate, render};
use crate::types::{Base, TypeSpec};
use crate::world::{Busy, BusyOp, Resource, World};
use crate::{gallery, network, storage};

/// How a resource provider answers a PUT or DELETE that takes time.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lro {
    /// Network and Compute: 201/202 with `Azure-AsyncOperation`, whose
    /// `{"status": …}` is polled; a PUT's result is then read with a GET.
    AsyncOperation,
    /// A storage account's PUT: 202 with `Location`, polled until it answers
    /// 200 with the account. Its deletion is synchronous.
    Location,
    /// Synchronous: the answer is the finished resource (file shares).
    Synchronous,
}

/// The path segment of a polled operation, per `Lro` style.
const ASYNC_OPERATIONS: &str = "asyncoperations";
const OPERATION_RESULTS: &str = "operationresults";

/// One served type: its spec, what its provider fills in, and how it answers.
struct Served {
    spec: &'static TypeSpec,
    defaults: fn(&Base) -> Value,
    /// When the provider makes the resource from what the request asks (an
    /// image version: its regions and replicas), after `defaults` and the request.
    complete: Option<fn(&Base, &Value) -> Value>,
    /// A tracked resource has a location of its own (a subnet, a rule or a share has not).
    tracked: bool,
    lro: Lro,
}

const SERVED: &[Served] = &[
    Served {
        spec: &network::VNET,
        defaults: network::vnet_defaults,
        complete: None,
        tracked: true,
        lro: Lro::AsyncOperation,
    },
    Served {
        spec: &network::SUBNET,
        defaults: network::subnet_defaults,
        complete: None,
        tracked: false,
        lro: Lro::AsyncOperation,
    },
    Served {
        spec: &network::NSG,
        defaults: network::nsg_defaults,
        complete: None,
        tracked: true,
        lro: Lro::AsyncOperation,
    },
    Served {
        spec: &network::NSG_RULE,
        defaults: network::nsg_rule_defaults,
        complete: None,
        tracked: false,
        lro: Lro::AsyncOperation,
    },
    Served {
        spec: &network::NIC,
        defaults: network::nic_defaults,
        complete: None,
        tracked: true,
        lro: Lro::AsyncOperation,
    },
    Served {
        spec: &network::PUBLIC_IP,
        defaults: network::public_ip_defaults,
        complete: None,
        tracked: true,
        lro: Lro::AsyncOperation,
    },
    Served {
        spec: &storage::ACCOUNT,
        defaults: storage::account_defaults,
        complete: None,
        tracked: true,
        lro: Lro::Location,
    },
    Served {
        spec: &storage::SHARE,
        defaults: storage::share_defaults,
        complete: None,
        tracked: false,
        lro: Lro::Synchronous,
    },
    Served {
        spec: &gallery::GALLERY,
        defaults: gallery::gallery_defaults,
        complete: None,
        tracked: true,
        lro: Lro::AsyncOperation,
    },
    Served {
        spec: &gallery::IMAGE_DEFINITION,
        defaults: gallery::image_definition_defaults,
        complete: None,
        tracked: true,
        lro: Lro::AsyncOperation,
    },
    Served {
        spec: &gallery::IMAGE_VERSION,
        defaults: gallery::image_version_defaults,
        complete: Some(gallery::image_version_from_request),
        tracked: true,
        lro: Lro::AsyncOperation,
    },
];

/// Fields of a request the resource provider sets itself.
const READ_ONLY: &[&str] = &[
    "etag",
    "id",
    "name",
    "provisioningState",
    "resourceGroup",
    "resourceGuid",
    "type",
];

/// `…/resourceGroups/{rg}/providers/{Namespace}/…`: a resource, a collection,
/// or a storage account's `listKeys`.
pub fn route(standin: &StandIn, req: &Request<'_>) -> Reply {
    let resource_group = req.segments[3];
    let namespace = req.segments[5];
    let mut rest = &req.segments[6..];
    let list_keys =
        req.method == "POST" && rest.len() == 3 && rest[2].eq_ignore_ascii_case("listKeys");
    if list_keys {
        rest = &rest[..2];
    }
    let types: Vec<&str> = rest.iter().step_by(2).copied().collect();
    let names: Vec<String> = rest
        .iter()
        .skip(1)
        .step_by(2)
        .map(|n| n.to_string())
        .collect();
    let arm_type = format!("{namespace}/{}", types.join("/"));
    let Some(served) = SERVED
        .iter()
        .find(|s| s.spec.arm_type.eq_ignore_ascii_case(&arm_type))
    else {
        return not_served(req);
    };
    let sub = &standin.env.subscription;
    if names.len() < types.len() {
        return match req.method {
            "GET" => list(standin, served, resource_group, names),
            _ => not_served(req),
        };
    }
    let target = Target::new(sub, resource_group, served.spec, names);
    match req.method {
        "POST" if list_keys && served.spec.kind == storage::ACCOUNT.kind => {
            keys(standin, served, &target)
        }
        "GET" => show(standin, served, &target),
        "PUT" => put(standin, served, &target, req.body),
        "PATCH" => patch(standin, served, &target, req.body),
        "DELETE" => delete(standin, served, &target),
        _ => not_served(req),
    }
}

fn not_served(req: &Request<'_>) -> Reply {
    Reply::arm_error(
        404,
        "NotFound",
        &format!(
            "The stand-in does not serve {} {}.",
            req.method,
            req.segments.join("/")
        ),
    )
}

/// The reply for a transaction's outcome.
fn answer(result: Result<Result<Reply, AzError>, AzError>) -> Reply {
    match result {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) | Err(e) => Reply::from_az(&e),
    }
}

fn show(standin: &StandIn, served: &Served, t: &Target) -> Reply {
    let sub = &standin.env.subscription;
    answer(standin.sim().transact(|world, _| {
        check_exists(world, sub, served.spec, t)?;
        shown(world, &t.id)
            .map(|body| Reply::json(200, body))
            .ok_or_else(|| AzError::child_not_found(&t.id))
    }))
}

/// The resource in ARM's wire shape.
fn shown(world: &World, id: &str) -> Option<Value> {
    world
        .resources
        .get(&ids::key(id))
        .map(|r| to_arm(&render(world, r)))
}

fn list(standin: &StandIn, served: &Served, resource_group: &str, parents: Vec<String>) -> Reply {
    let sub = &standin.env.subscription;
    let spec = served.spec;
    answer(standin.sim().transact(|world, _| {
        let parent = Target::new(sub, resource_group, spec, parents.clone());
        check_exists(world, sub, spec, &parent)?;
        let mut names = parents.clone();
        names.push(String::new());
        let prefix = ids::key(&ids::resource_id(
            sub,
            resource_group,
            spec.arm_type,
            &names,
        ));
        let items: Vec<Value> = world
            .resources
            .iter()
            .filter(|(k, r)| {
                r.kind == spec.kind && k.starts_with(&prefix) && !k[prefix.len()..].contains('/')
            })
            .map(|(_, r)| to_arm(&render(world, r)))
            .collect();
        Ok(Reply::json(200, json!({ "value": items })))
    }))
}

fn keys(standin: &StandIn, served: &Served, t: &Target) -> Reply {
    let sub = &standin.env.subscription;
    answer(standin.sim().transact(|world, _| {
        check_exists(world, sub, served.spec, t)?;
        let account = world
            .resources
            .get(&ids::key(&t.id))
            .map(|r| render(world, r))
            .unwrap_or_default();
        Ok(Reply::json(200, json!({ "keys": storage::keys(&account) })))
    }))
}

/// `POST /subscriptions/{s}/providers/Microsoft.Storage/checkNameAvailability`:
/// names are global, so any account in the world takes its name.
pub fn storage_name_availability(standin: &StandIn, body: &[u8]) -> Reply {
    let request = match parse(body) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    let name = request["name"].as_str().unwrap_or_default().to_string();
    match standin
        .sim()
        .transact(|world, _| storage::name_taken(world, &name))
    {
        Ok(false) => Reply::json(200, json!({ "nameAvailable": true })),
        Ok(true) => Reply::json(
            200,
            json!({
                "message": format!("The storage account named {name} is already taken."),
                "nameAvailable": false,
                "reason": "AlreadyExists",
            }),
        ),
        Err(e) => Reply::from_az(&e),
    }
}

/// A request body, or ARM's answer to one that is not JSON.
fn parse(body: &[u8]) -> Result<Value, Reply> {
    serde_json::from_slice::<Value>(body).map_err(|_| {
        Reply::arm_error(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        )
    })
}

fn put(standin: &StandIn, served: &Served, t: &Target, body: &[u8]) -> Reply {
    let request = match parse(body) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    let location = request["location"].as_str().map(str::to_string);
    if served.tracked && location.is_none() {
        return Reply::arm_error(
            400,
            "LocationRequired",
            "The location property is required for this definition.",
        );
    }
    let base = Base {
        id: t.id.clone(),
        name: t.names.last().cloned().unwrap_or_default(),
        resource_group: t.resource_group.clone(),
        location: location.unwrap_or_default(),
        tags: request.get("tags").cloned().unwrap_or_else(|| json!({})),
    };
    let (stored, children) = stored_from_request(served, &base, &request);
    let sub = &standin.env.subscription;
    let spec = served.spec;
    answer(standin.sim().transact(|world, now| {
        check_parents(world, sub, spec, t)?;
        gallery::check_capture(world, spec.kind, &stored)?;
        let key = ids::key(&t.id);
        let existed = world.resources.contains_key(&key);
        let busy = (served.lro != Lro::Synchronous).then_some(Busy {
            op: if existed {
                BusyOp::Updating
            } else {
                BusyOp::Creating
            },
            until: now + spec.create_secs,
        });
        world.resources.insert(
            key,
            Resource {
                id: t.id.clone(),
                kind: spec.kind.to_string(),
                body: stored,
                busy,
            },
        );
        for child in children {
            world
                .resources
                .insert(ids::key(&child.id), Resource { busy, ..child });
        }
        let status = if existed { 200 } else { 201 };
        let body = shown(world, &t.id).unwrap_or_default();
        Ok(match served.lro {
            Lro::AsyncOperation => Reply {
                async_operation: Some(operation_url(standin, world, t, ASYNC_OPERATIONS)),
                retry_after: Some(1),
                ..Reply::json(status, body)
            },
            Lro::Location => Reply::accepted(operation_url(standin, world, t, OPERATION_RESULTS)),
            Lro::Synchronous => Reply::json(status, body),
        })
    }))
}

/// The resource a PUT makes, and the children its arrays name (a network's subnets).
fn stored_from_request(served: &Served, base: &Base, request: &Value) -> (Value, Vec<Resource>) {
    let mut stored = (served.defaults)(base);
    if let Value::Object(fields) = from_rest(request) {
        for (field, value) in fields {
            if !READ_ONLY.contains(&field.as_str()) {
                stored[field] = value;
            }
        }
    }
    if let Some(complete) = served.complete {
        stored = complete(base, &stored);
    }
    let mut children = Vec::new();
    for (field, kind) in served.spec.children {
        let Some(Value::Array(items)) = stored.as_object_mut().and_then(|m| m.remove(*field))
        else {
            continue;
        };
        let Some(child) = SERVED.iter().find(|s| s.spec.kind == *kind) else {
            continue;
        };
        let segment = child.spec.arm_type.rsplit('/').next().unwrap_or_default();
        for item in items {
            let Some(name) = item["name"].as_str() else {
                continue;
            };
            let child_base = Base {
                id: format!("{}/{segment}/{name}", base.id),
                name: name.to_string(),
                resource_group: base.resource_group.clone(),
                location: base.location.clone(),
                tags: json!({}),
            };
            let (body, _) = stored_from_request(child, &child_base, &to_arm(&item));
            children.push(Resource {
                id: child_base.id.clone(),
                kind: child.spec.kind.to_string(),
                body: decorated(body, child.spec, &child_base),
                busy: None,
            });
        }
    }
    (decorated(stored, served.spec, base), children)
}

fn decorated(mut body: Value, spec: &TypeSpec, base: &Base) -> Value {
    decorate(&mut body, spec, base);
    body
}

/// A PATCH changes only what it names (tags, mostly).
fn patch(standin: &StandIn, served: &Served, t: &Target, body: &[u8]) -> Reply {
    let request = match parse(body) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    let sub = &standin.env.subscription;
    let spec = served.spec;
    answer(standin.sim().transact(|world, now| {
        check_exists(world, sub, spec, t)?;
        if let (Some(r), Value::Object(fields)) = (
            world.resources.get_mut(&ids::key(&t.id)),
            from_rest(&request),
        ) {
            for (field, value) in fields {
                if !READ_ONLY.contains(&field.as_str()) {
                    r.body[field] = value;
                }
            }
            if served.lro == Lro::AsyncOperation {
                r.busy = Some(Busy {
                    op: BusyOp::Updating,
                    until: now + spec.update_secs,
                });
            }
        }
        let body = shown(world, &t.id).unwrap_or_default();
        Ok(match served.lro {
            Lro::AsyncOperation => Reply {
                async_operation: Some(operation_url(standin, world, t, ASYNC_OPERATIONS)),
                retry_after: Some(1),
                ..Reply::json(200, body)
            },
            Lro::Location | Lro::Synchronous => Reply::json(200, body),
        })
    }))
}

/// As ARM: 204 for what does not exist; an asynchronous provider answers 202
/// and the resource shows `Deleting` until the world settles it.
fn delete(standin: &StandIn, served: &Served, t: &Target) -> Reply {
    let sub = &standin.env.subscription;
    answer(standin.sim().transact(|world, now| {
        if !world.group_exists(sub, &t.resource_group) {
            return Err(AzError::group_not_found(&t.resource_group));
        }
        let url = operation_url(standin, world, t, ASYNC_OPERATIONS);
        let Some(r) = world.resources.get_mut(&ids::key(&t.id)) else {
            return Ok(Reply::empty(204));
        };
        if served.lro != Lro::AsyncOperation {
            world.remove_tree(&t.id);
            return Ok(Reply::empty(200));
        }
        if r.busy.is_none_or(|b| b.op != BusyOp::Deleting) {
            r.busy = Some(Busy {
                op: BusyOp::Deleting,
                until: now + served.spec.delete_secs,
            });
        }
        Ok(Reply {
            async_operation: Some(url),
            retry_after: Some(1),
            ..Reply::empty(202)
        })
    }))
}

/// Where an operation on `t` is polled: under its provider and region, named
/// by the resource's key (hex-encoded), as `style` answers it.
fn operation_url(standin: &StandIn, world: &World, t: &Target, style: &str) -> String {
    let namespace = t.id.split('/').nth(6).unwrap_or_default();
    let top = t.id.split('/').take(9).collect::<Vec<_>>().join("/");
    let region = world
        .resources
        .get(&ids::key(&top))
        .and_then(|r| r.body["location"].as_str())
        .unwrap_or(crate::world::DEFAULT_LOCATION);
    format!(
        "{}/subscriptions/{}/providers/{namespace}/locations/{region}/{style}/{}?api-version=2024-05-01",
        standin.url,
        standin.env.subscription,
        hex::encode(ids::key(&t.id))
    )
}

/// `GET /subscriptions/{s}/providers/{ns}/locations/{region}/{style}/{operation}`:
/// an operation is in progress while its resource is busy.
pub fn operation(standin: &StandIn, req: &Request<'_>) -> Reply {
    let style = req.segments[6].to_ascii_lowercase();
    let operation = req.segments[7];
    let Some(key) = hex::decode(operation)
        .ok()
        .and_then(|k| String::from_utf8(k).ok())
    else {
        return Reply::arm_error(404, "NotFound", "No such operation.");
    };
    let found = standin.sim().transact(|world, _| {
        world
            .resources
            .get(&key)
            .map(|r| (r.busy.is_some(), to_arm(&render(world, r))))
    });
    let found = match found {
        Ok(found) => found,
        Err(e) => return Reply::from_az(&e),
    };
    let in_progress = matches!(found, Some((true, _)));
    match style.as_str() {
        ASYNC_OPERATIONS => Reply {
            retry_after: in_progress.then_some(1),
            ..Reply::json(
                200,
                json!({
                    "name": operation,
                    "status": if in_progress { "InProgress" } else { "Succeeded" },
                }),
            )
        },
        OPERATION_RESULTS => match found {
            Some((true, _)) => Reply::accepted(format!(
                "{}/{}?api-version=2024-05-01",
                standin.url,
                req.segments.join("/")
            )),
            Some((false, body)) => Reply::json(200, body),
            None => Reply::from_az(&AzError::child_not_found(&key)),
        },
        _ => Reply::arm_error(404, "NotFound", "No such operation."),
    }
}

/// ARM's shape → the stored one: every `properties` merged into its object.
fn from_rest(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(from_rest).collect()),
        Value::Object(fields) => {
            let mut flat = Map::new();
            for (field, value) in fields {
                if field == "properties"
                    && let Value::Object(properties) = value
                {
                    for (inner, v) in properties {
                        flat.insert(inner.clone(), from_rest(v));
                    }
                } else {
                    flat.insert(field.clone(), from_rest(value));
                }
            }
            Value::Object(flat)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::DEFAULT_SUBSCRIPTION;

    fn standin(dir: &std::path::Path) -> StandIn {
        StandIn::for_tests(dir, None)
    }

    /// The path part of a polling URL.
    fn path(url: &str) -> String {
        url.trim_start_matches("https://127.0.0.1:1")
            .split('?')
            .next()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn a_network_put_is_polled_then_read_and_its_subnet_takes_an_nsg() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = standin(dir.path());
        let rg = format!("/subscriptions/{DEFAULT_SUBSCRIPTION}/resourceGroups/rg");
        let put = |path: &str, body: Value| {
            super::super::route(
                &s,
                "PUT",
                &format!("{rg}{path}"),
                "",
                body.to_string().as_bytes(),
            )
        };
        let vnet = "/providers/Microsoft.Network/virtualNetworks/v";
        let missing = put(vnet, json!({ "location": "westeurope" }));
        assert_eq!(missing.status, 404);
        put("", json!({ "location": "westeurope" }));
        let created = put(
            vnet,
            json!({ "location": "westeurope",
                    "properties": { "addressSpace": { "addressPrefixes": ["10.1.0.0/16"] } } }),
        );
        assert_eq!((created.status, created.retry_after), (201, Some(1)));
        let body = created.body.as_ref().expect("the resource");
        assert_eq!(body["properties"]["provisioningState"], "Creating");
        let operation = path(
            created
                .async_operation
                .as_deref()
                .expect("Azure-AsyncOperation"),
        );
        // 10 simulated seconds at 200x.
        std::thread::sleep(std::time::Duration::from_millis(100));
        let status = super::super::route(&s, "GET", &operation, "", b"");
        assert_eq!(
            status.body.as_ref().expect("a status")["status"],
            "Succeeded"
        );
        let subnet = format!("{vnet}/subnets/s");
        let nsg = format!("{rg}/providers/Microsoft.Network/networkSecurityGroups/n");
        put(
            &subnet,
            json!({ "properties": { "addressPrefix": "10.1.0.0/24", "networkSecurityGroup": { "id": nsg } } }),
        );
        let shown = super::super::route(&s, "GET", &format!("{rg}{vnet}").to_lowercase(), "", b"");
        let subnets = &shown.body.as_ref().expect("the network")["properties"]["subnets"];
        assert_eq!(
            subnets[0]["properties"]["networkSecurityGroup"]["id"],
            json!(nsg)
        );
        let gone = super::super::route(&s, "GET", &format!("{rg}{vnet}/subnets/x"), "", b"");
        assert_eq!(
            gone.body.as_ref().expect("an error")["error"]["code"],
            "NotFound"
        );
    }

    #[test]
    fn every_served_type_is_in_the_type_table() {
        for served in SERVED {
            assert!(crate::types::by_kind(served.spec.kind).is_some());
        }
    }

    #[test]
    fn rest_shape_round_trips() {
        let stored = json!({
            "id": "/x", "name": "n", "type": "T", "location": "l", "tags": {}, "resourceGroup": "rg",
            "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] },
            "subnets": [{ "id": "/x/subnets/s", "name": "s", "addressPrefix": "10.0.0.0/24",
                          "networkSecurityGroup": { "id": "/n", "resourceGroup": "rg" } }],
            "nothing": null,
        });
        let rest = to_arm(&stored);
        assert_eq!(
            rest["properties"]["addressSpace"]["addressPrefixes"][0],
            "10.0.0.0/16"
        );
        let subnet = &rest["properties"]["subnets"][0];
        assert_eq!(subnet["properties"]["addressPrefix"], "10.0.0.0/24");
        assert_eq!(
            subnet["properties"]["networkSecurityGroup"],
            json!({ "id": "/n" })
        );
        assert!(rest.get("resourceGroup").is_none() && rest["properties"].get("nothing").is_none());
        let back = from_rest(&rest);
        assert_eq!(back["subnets"][0]["addressPrefix"], "10.0.0.0/24");
        assert_eq!(back["addressSpace"], stored["addressSpace"]);
    }
}
