//! ARM template deployments as `az vm create` sends them
//! (`Microsoft.Resources/deployments`: validate, PUT, poll, GET). The
//! template's VM, NIC, public IP, NSG and network are read back into what the
//! built-in `vm create` was told (`vm_create::Plan`) and made by the same
//! `vm_create::create_in`, so a VM looks the same whichever az made it. The
//! deployment itself is kept as an operation record until its VM is made.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::arm::Request;
use super::{Reply, StandIn, operations};
use crate::error::AzError;
use crate::ids;
use crate::vm::os_disk_name;
use crate::vm_create::{CREATE_SECS, Plan, create_in, image_os_type};

const VM_TYPE: &str = "Microsoft.Compute/virtualMachines";
const NIC_TYPE: &str = "Microsoft.Network/networkInterfaces";
const VNET_TYPE: &str = "Microsoft.Network/virtualNetworks";

/// A deployment made: when it is done, and what it made.
#[derive(Debug, Serialize, Deserialize)]
struct Deployment {
    id: String,
    name: String,
    started: String,
    until: f64,
    outputs: Vec<String>,
}

/// Whether this (lower-case) ARM path is a deployment's: `…/providers/Microsoft.Resources/deployments/…`.
pub fn serves(lower: &[&str]) -> bool {
    matches!(
        super::arm::under(lower),
        Some(super::arm::Under::Group {
            provider: "microsoft.resources",
            rest: ["deployments", ..],
        })
    )
}

pub fn route(standin: &StandIn, req: &Request<'_>) -> Reply {
    let lower = &req.lower;
    let (rg, name) = (req.segments[3], req.segments.get(7).copied().unwrap_or(""));
    match (req.method, &lower[..]) {
        ("PUT", [.., "deployments", _]) => deploy(standin, rg, name, req.body, false),
        ("POST", [.., "deployments", _, "validate"]) => deploy(standin, rg, name, req.body, true),
        ("GET", [.., "deployments", _]) => show(standin, rg, name, false),
        ("GET", [.., "deployments", _, "operationstatuses", _]) => show(standin, rg, name, true),
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

fn deployment_id(standin: &StandIn, rg: &str, name: &str) -> String {
    format!(
        "{}/providers/Microsoft.Resources/deployments/{name}",
        ids::group_id(&standin.env.subscription, rg)
    )
}

/// The record's id: one per deployment id.
fn record_id(id: &str) -> String {
    ids::guid(&format!("deployment:{}", ids::key(id)))
}

fn invalid(message: &str) -> Reply {
    Reply::arm_error(400, "InvalidTemplate", message)
}

/// The template resource of `kind`.
fn resources<'t>(template: &'t Value, kind: &str) -> Vec<&'t Value> {
    template["resources"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|r| {
                    r["type"]
                        .as_str()
                        .is_some_and(|t| t.eq_ignore_ascii_case(kind))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn last_segment(id: &str) -> String {
    id.rsplit('/').next().unwrap_or_default().to_string()
}

/// What `vm create` was told, read back from the template it deploys.
fn plan(standin: &StandIn, rg: &str, template: &Value) -> Result<Plan, Reply> {
    let vm = resources(template, VM_TYPE)
        .first()
        .copied()
        .ok_or_else(|| invalid("The stand-in deploys templates with one virtual machine."))?;
    let text = |v: &Value| v.as_str().map(str::to_string);
    let name = text(&vm["name"]).ok_or_else(|| invalid("The virtual machine has no name."))?;
    let properties = &vm["properties"];
    let id = ids::resource_id(
        &standin.env.subscription,
        rg,
        VM_TYPE,
        std::slice::from_ref(&name),
    );
    let image = &properties["storageProfile"]["imageReference"];
    let image = match text(&image["id"]) {
        Some(id) => id,
        None => ["publisher", "offer", "sku", "version"]
            .iter()
            .map(|f| image[*f].as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(":"),
    };
    let nic_refs: Vec<String> = properties["networkProfile"]["networkInterfaces"]
        .as_array()
        .map(|nics| nics.iter().filter_map(|n| text(&n["id"])).collect())
        .unwrap_or_default();
    let nics = resources(template, NIC_TYPE);
    let nic = nics.first();
    let ip_config = nic.map(|n| &n["properties"]["ipConfigurations"][0]["properties"]);
    let subnet_id = ip_config.and_then(|c| text(&c["subnet"]["id"]));
    // A subnet of a network the template makes is made with it, by name.
    let new_vnet = resources(template, VNET_TYPE).first().map(|v| {
        let subnet = text(&v["properties"]["subnets"][0]["name"]);
        (text(&v["name"]).unwrap_or_default(), subnet)
    });
    let (vnet, subnet, subnet_id) = match new_vnet {
        Some((vnet, subnet)) => (vnet, subnet, None),
        None => (String::new(), None, subnet_id),
    };
    let security = properties["securityProfile"]["securityType"]
        .as_str()
        .unwrap_or_default();
    Ok(Plan {
        location: text(&vm["location"]).unwrap_or_else(|| crate::world::DEFAULT_LOCATION.into()),
        tags: vm.get("tags").cloned().unwrap_or(json!({})),
        os_type: text(&properties["storageProfile"]["osDisk"]["osType"])
            .unwrap_or_else(|| image_os_type(&image).into()),
        size: text(&properties["hardwareProfile"]["vmSize"]).unwrap_or_default(),
        admin: text(&properties["osProfile"]["adminUsername"]).unwrap_or_default(),
        vnet,
        subnet,
        subnet_id,
        public_ip: ip_config
            .and_then(|c| text(&c["publicIPAddress"]["id"]))
            .map(|id| last_segment(&id)),
        nsg: nic
            .and_then(|n| text(&n["properties"]["networkSecurityGroup"]["id"]))
            .map(|id| last_segment(&id)),
        // NICs the template does not make exist already.
        nic_ids: if nic.is_some() { Vec::new() } else { nic_refs },
        disk: text(&properties["storageProfile"]["osDisk"]["name"])
            .unwrap_or_else(|| os_disk_name(&id, &name)),
        trusted_launch: security.eq_ignore_ascii_case("TrustedLaunch"),
        license: properties
            .get("licenseType")
            .cloned()
            .unwrap_or(Value::Null),
        nic_delete_option: text(
            &properties["networkProfile"]["networkInterfaces"][0]["properties"]["deleteOption"],
        ),
        os_disk_delete_option: text(&properties["storageProfile"]["osDisk"]["deleteOption"]),
        image,
        rg: rg.to_string(),
        name,
        id,
    })
}

/// `PUT` (or `POST …/validate`) a deployment: the template's resources go
/// into the world (validation only checks them), busy for as long as the
/// built-in `vm create` takes.
fn deploy(standin: &StandIn, rg: &str, name: &str, body: &[u8], validate: bool) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return Reply::arm_error(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        );
    };
    let plan = match plan(standin, rg, &body["properties"]["template"]) {
        Ok(plan) => plan,
        Err(reply) => return reply,
    };
    let id = deployment_id(standin, rg, name);
    let sub = standin.env.subscription.clone();
    let made = standin.sim().transact(|world, now| {
        if !world.group_exists(&sub, rg) {
            return Err(AzError::group_not_found(rg));
        }
        if validate {
            return Ok(now);
        }
        create_in(world, &sub, &plan, now).map(|_| now)
    });
    let now = match made {
        Ok(Ok(now)) => now,
        Ok(Err(e)) | Err(e) => return Reply::from_az(&e),
    };
    let record = Deployment {
        id: id.clone(),
        name: name.to_string(),
        started: jiff::Timestamp::now().to_string(),
        until: now + CREATE_SECS,
        outputs: vec![plan.id.clone()],
    };
    if validate {
        return Reply::json(200, body_of(&record, "Succeeded"));
    }
    let record_id = record_id(&id);
    if let Err(reply) = operations::save(standin, &record_id, &record) {
        return reply;
    }
    let mut reply = Reply::json(201, body_of(&record, "Accepted"));
    reply.retry_after = Some(1);
    reply.async_operation = Some(operations::url(
        standin,
        &format!("{id}/operationStatuses/{record_id}"),
    ));
    reply
}

fn body_of(d: &Deployment, state: &str) -> Value {
    json!({
        "id": d.id,
        "name": d.name,
        "type": "Microsoft.Resources/deployments",
        "properties": {
            "correlationId": ids::guid(&format!("correlation:{}", d.id)),
            "duration": "PT0S",
            "mode": "Incremental",
            "outputResources": d.outputs.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>(),
            "provisioningState": state,
            "timestamp": d.started,
        },
    })
}

/// `GET` the deployment, or (`status`) its `operationStatuses`.
fn show(standin: &StandIn, rg: &str, name: &str, status: bool) -> Reply {
    let id = deployment_id(standin, rg, name);
    let record: Deployment = match operations::load(standin, &record_id(&id)) {
        Ok(r) => r,
        Err(_) => {
            return Reply::from_az(&AzError::arm_404(
                "DeploymentNotFound",
                format!("Deployment '{name}' could not be found."),
            ));
        }
    };
    let done = match standin.sim().transact(|_, now| now >= record.until) {
        Ok(done) => done,
        Err(e) => return Reply::from_az(&e),
    };
    let state = if done { "Succeeded" } else { "Running" };
    if status {
        let mut reply = Reply::json(200, json!({ "status": state }));
        if !done {
            reply.retry_after = Some(1);
        }
        return reply;
    }
    Reply::json(200, body_of(&record, state))
}
