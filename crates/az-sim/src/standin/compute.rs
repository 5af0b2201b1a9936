//! Compute as ARM serves it to the real az: virtual machines (show, instance
//! view, restart/deallocate/start/power-off/generalize, delete), their
//! managed disks and network interfaces, the marketplace images `vm create`
//! looks up, and the power and delete operations polled afterwards. VMs are
//! the world's `vms` and change through the same functions the built-in az's
//! `vm_power` uses; disks and NICs are its `resources`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::arm::Request;
use super::wire::to_arm;
use super::{Reply, StandIn, operations};
use crate::error::AzError;
use crate::ids;
use crate::network::NIC;
use crate::resources::render;
use crate::vm::{self, DISK};
use crate::vm_create::image_os_type;
use crate::vm_power;
use crate::world::{Busy, BusyOp, Vm, World, vm_key};

/// The one version of each marketplace image the simulated catalog holds.
const IMAGE_VERSION: &str = "26100.4061.250510";

/// Whether this (lower-case) ARM path is one this module serves: VMs, disks,
/// NICs, marketplace images and power operations.
pub fn serves(lower: &[&str]) -> bool {
    use super::arm::Under::{Group, Subscription};
    matches!(
        super::arm::under(lower),
        Some(Group {
            provider: "microsoft.compute",
            rest: ["virtualmachines" | "disks", ..],
        }) | Some(Group {
            provider: "microsoft.network",
            rest: ["networkinterfaces", _],
        }) | Some(Subscription {
            provider: "microsoft.compute",
            rest: [
                "locations",
                _,
                "publishers" | "vmoperations" | "vmoperationresults",
                ..
            ],
        })
    )
}

pub fn route(standin: &StandIn, req: &Request<'_>) -> Reply {
    let lower = &req.lower;
    let at = |i: usize| req.segments[i];
    match (req.method, &lower[..]) {
        ("GET", [_, _, _, _, _, _, "virtualmachines", _]) => {
            let expand = req.query.to_lowercase().contains("instanceview");
            show_vm(standin, at(3), at(7), expand)
        }
        ("GET", [_, _, _, _, _, _, "virtualmachines", _, "instanceview"]) => {
            match with_vm(standin, at(3), at(7), |vm, sub, now| {
                Ok(vm::instance_view(vm, sub, now)["instanceView"].clone())
            }) {
                Ok(view) => Reply::json(200, view),
                Err(reply) => reply,
            }
        }
        ("DELETE", [_, _, _, _, _, _, "virtualmachines", _]) => delete_vm(standin, at(3), at(7)),
        ("POST", [_, _, _, _, _, _, "virtualmachines", _, action]) => {
            power(standin, at(3), at(7), action)
        }
        ("GET", [_, _, _, _, _, _, "disks" | "networkinterfaces", _]) => {
            show_resource(standin, req, at(3))
        }
        ("DELETE", [_, _, _, _, _, _, "disks" | "networkinterfaces", _]) => {
            delete_resource(standin, req, at(3))
        }
        (
            "GET",
            [
                _,
                _,
                _,
                _,
                _,
                _,
                "publishers",
                _,
                "artifacttypes",
                "vmimage",
                "offers",
                _,
                "skus",
                _,
                "versions",
            ],
        ) => Reply::json(200, json!([image(standin, req, false)])),
        (
            "GET",
            [
                _,
                _,
                _,
                _,
                _,
                _,
                "publishers",
                _,
                "artifacttypes",
                "vmimage",
                "offers",
                _,
                "skus",
                _,
                "versions",
                _,
            ],
        ) => Reply::json(200, image(standin, req, true)),
        ("GET", [_, _, _, _, _, _, "vmoperations", id]) => poll(standin, id, false),
        ("GET", [_, _, _, _, _, _, "vmoperationresults", id]) => poll(standin, id, true),
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

/// A VM as ARM sends it: its NIC references' own fields under `properties` too.
fn vm_to_arm(body: Value) -> Value {
    let mut arm = to_arm(&body);
    // A NIC reference has no name, so `to_arm` leaves its `primary` beside its id.
    if let Some(Value::Array(nics)) =
        arm.pointer_mut("/properties/networkProfile/networkInterfaces")
    {
        for nic in nics.iter_mut() {
            *nic = to_arm(nic);
        }
    }
    // What `vm show -d` computes on the client.
    if let Some(properties) = arm["properties"].as_object_mut() {
        for computed in [
            "powerState",
            "privateIps",
            "publicIps",
            "macAddresses",
            "fqdns",
        ] {
            properties.remove(computed);
        }
    }
    arm
}

/// Runs `f` on the VM, or answers ARM's 404 for its group or itself.
fn with_vm<T>(
    standin: &StandIn,
    rg: &str,
    name: &str,
    f: impl FnOnce(&mut Vm, &str, f64) -> Result<T, AzError>,
) -> Result<T, Reply> {
    let sub = standin.env.subscription.clone();
    let scenario = &standin.scenario;
    match standin.sim().transact(|world, now| {
        if scenario.is_missing(rg, name) {
            return Err(AzError::vm_not_found(rg, name));
        }
        vm::find(world, &sub, rg, name).and_then(|vm| f(vm, &sub, now))
    }) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) | Err(e) => Err(Reply::from_az(&e)),
    }
}

fn show_vm(standin: &StandIn, rg: &str, name: &str, expand: bool) -> Reply {
    let shown = with_vm(standin, rg, name, |vm, sub, now| {
        Ok(if expand {
            vm::instance_view(vm, sub, now)
        } else {
            vm::vm_json(vm, sub, false)
        })
    });
    match shown {
        Ok(body) => Reply::json(200, vm_to_arm(body)),
        Err(reply) => reply,
    }
}

/// What a VM operation waits for before it is done.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "wait", rename_all = "kebab-case")]
enum Awaited {
    /// The VM's power change and any operation on it are over.
    Settled { key: String },
    /// The VM or resource is gone.
    Gone { key: String },
}

impl Awaited {
    fn done(&self, world: &World) -> bool {
        match self {
            Awaited::Settled { key } => world
                .vms
                .get(key)
                .is_none_or(|vm| vm.transition.is_none() && vm.busy.is_none()),
            Awaited::Gone { key } => {
                !world.vms.contains_key(key) && !world.resources.contains_key(key)
            }
        }
    }
}

/// Starts polling `awaited`: 202 with where to ask.
fn started(standin: &StandIn, location: &str, awaited: &Awaited, what: &str) -> Reply {
    let serial = standin
        .sim()
        .transact(|world, now| (now, world.next_serial()));
    let Ok((now, serial)) = serial else {
        return Reply::arm_error(500, "InternalServerError", "The world could not be read.");
    };
    let id = operations::new_id(what, now, serial);
    if let Err(reply) = operations::save(standin, &id, awaited) {
        return reply;
    }
    let base = format!(
        "/subscriptions/{}/providers/Microsoft.Compute/locations/{location}",
        standin.env.subscription
    );
    operations::accepted(
        operations::url(standin, &format!("{base}/vmoperations/{id}")),
        operations::url(standin, &format!("{base}/vmoperationresults/{id}")),
    )
}

fn poll(standin: &StandIn, id: &str, result: bool) -> Reply {
    let awaited: Awaited = match operations::load(standin, id) {
        Ok(a) => a,
        Err(reply) => return reply,
    };
    let done = match standin.sim().transact(|world, _| awaited.done(world)) {
        Ok(done) => done,
        Err(e) => return Reply::from_az(&e),
    };
    if result {
        let again = format!(
            "{}/subscriptions/{}/providers/Microsoft.Compute/locations/{}/vmoperationresults/{id}",
            standin.url,
            standin.env.subscription,
            crate::world::DEFAULT_LOCATION
        );
        operations::result(again, done, None)
    } else {
        operations::status(id, done)
    }
}

/// `POST …/virtualMachines/{vm}/{action}`: a power change, polled until it is over.
fn power(standin: &StandIn, rg: &str, name: &str, action: &str) -> Reply {
    let change: fn(&mut Vm, f64) -> Result<(), AzError> = match action {
        "restart" => vm_power::begin_restart,
        "start" => vm_power::begin_start,
        "poweroff" => vm_power::begin_stop,
        "deallocate" => vm_power::begin_deallocate,
        "generalize" => vm_power::begin_generalize,
        _ => {
            return Reply::arm_error(
                404,
                "NotFound",
                &format!("The stand-in does not serve the VM action '{action}'."),
            );
        }
    };
    let changed = with_vm(standin, rg, name, |vm, _, now| {
        change(vm, now)?;
        Ok((vm_key_of(vm), vm.location.clone()))
    });
    match changed {
        // Generalizing is synchronous in ARM.
        Ok(_) if action == "generalize" => Reply::empty(200),
        Ok((key, location)) => started(standin, &location, &Awaited::Settled { key }, action),
        Err(reply) => reply,
    }
}

fn vm_key_of(vm: &Vm) -> String {
    ids::key(&vm.id)
}

fn delete_vm(standin: &StandIn, rg: &str, name: &str) -> Reply {
    let sub = standin.env.subscription.clone();
    let key = vm_key(&sub, rg, name);
    let deleting = standin.sim().transact(|world, now| {
        let location = world.vms.get(&key).map(|vm| vm.location.clone());
        vm_power::begin_delete(world, now, &sub, rg, name).map(|found| found.then_some(location))
    });
    match deleting {
        Ok(Ok(Some(location))) => started(
            standin,
            location
                .as_deref()
                .unwrap_or(crate::world::DEFAULT_LOCATION),
            &Awaited::Gone { key },
            "delete",
        ),
        // ARM answers 204 for a delete of something that does not exist.
        Ok(Ok(None)) => Reply::empty(204),
        Ok(Err(e)) | Err(e) => Reply::from_az(&e),
    }
}

/// The kind and deletion time of a disk or NIC, from its path.
fn resource_kind(req: &Request<'_>) -> (&'static str, &'static str, f64) {
    if req.segments[6].eq_ignore_ascii_case("disks") {
        (DISK.kind, DISK.arm_type, DISK.delete_secs)
    } else {
        (NIC.kind, NIC.arm_type, NIC.delete_secs)
    }
}

fn resource_key(standin: &StandIn, req: &Request<'_>) -> String {
    let (_, arm_type, _) = resource_kind(req);
    ids::key(&ids::resource_id(
        &standin.env.subscription,
        req.segments[3],
        arm_type,
        &[req.segments[7].to_string()],
    ))
}

fn not_found(req: &Request<'_>, rg: &str) -> AzError {
    let (_, arm_type, _) = resource_kind(req);
    AzError::resource_not_found(&format!("{arm_type}/{}", req.segments[7]), rg)
}

fn show_resource(standin: &StandIn, req: &Request<'_>, rg: &str) -> Reply {
    let key = resource_key(standin, req);
    let sub = standin.env.subscription.clone();
    let shown = standin.sim().transact(|world, _| {
        if !world.group_exists(&sub, rg) {
            return Err(AzError::group_not_found(rg));
        }
        world
            .resources
            .get(&key)
            .map(|r| render(world, r))
            .ok_or_else(|| not_found(req, rg))
    });
    match shown {
        Ok(Ok(body)) => Reply::json(200, to_arm(&body)),
        Ok(Err(e)) | Err(e) => Reply::from_az(&e),
    }
}

fn delete_resource(standin: &StandIn, req: &Request<'_>, rg: &str) -> Reply {
    let key = resource_key(standin, req);
    let (_, _, seconds) = resource_kind(req);
    let sub = standin.env.subscription.clone();
    let deleting = standin.sim().transact(|world, now| {
        if !world.group_exists(&sub, rg) {
            return Err(AzError::group_not_found(rg));
        }
        Ok(world.resources.get_mut(&key).map(|r| {
            r.busy = Some(Busy {
                op: BusyOp::Deleting,
                until: now + seconds,
            });
            r.body["location"].as_str().unwrap_or_default().to_string()
        }))
    });
    match deleting {
        Ok(Ok(Some(location))) => started(standin, &location, &Awaited::Gone { key }, "delete"),
        Ok(Ok(None)) => Reply::empty(204),
        Ok(Err(e)) | Err(e) => Reply::from_az(&e),
    }
}

/// A marketplace image of the simulated catalog (every URN exists, in one
/// version); `full` adds what `vm create` reads: the OS, the generation and
/// the security features.
fn image(standin: &StandIn, req: &Request<'_>, full: bool) -> Value {
    let s = &req.segments;
    let (location, publisher, offer, sku) = (s[5], s[7], s[11], s[13]);
    let version = if full { s[15] } else { IMAGE_VERSION };
    let id = format!(
        "/Subscriptions/{}/Providers/Microsoft.Compute/Locations/{location}/Publishers/{publisher}/ArtifactTypes/VMImage/Offers/{offer}/Skus/{sku}/Versions/{version}",
        standin.env.subscription
    );
    let mut body = json!({ "id": id, "location": location, "name": version });
    if full {
        let urn = format!("{publisher}:{offer}:{sku}:{version}");
        body["properties"] = json!({
            "architecture": "x64",
            "automaticOSUpgradeProperties": { "automaticOSUpgradeSupported": false },
            "dataDiskImages": [],
            "disallowed": { "vmDiskType": "Unmanaged" },
            "features": [
                { "name": "SecurityType", "value": "TrustedLaunchSupported" },
                { "name": "IsAcceleratedNetworkSupported", "value": "True" },
                { "name": "DiskControllerTypes", "value": "SCSI, NVMe" },
                { "name": "IsHibernateSupported", "value": "True" },
            ],
            "hyperVGeneration": "V2",
            "imageDeprecationStatus": { "imageState": "Active" },
            "osDiskImage": { "operatingSystem": image_os_type(&urn) },
        });
    }
    body
}
