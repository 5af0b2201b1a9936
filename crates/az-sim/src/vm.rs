//! VMs as ARM shows them: `vm show`/`list`/`get-instance-view` (power state,
//! agent readiness, generalized), the model of a VM, and its managed disks.
//! Creating VMs is `vm_create`, power operations are `vm_power`.

use serde_json::{Value, json};

use super::call::{Call, Outcome, timestamp};
use super::error::AzError;
use super::ids;
use super::network::NIC;
use super::power_state::PowerState;
use super::resources::READ_SECS;
use super::types::{Base, TypeSpec, no_extras, tags_only};
use super::world::{Vm, World, vm_key};

pub const DISK: TypeSpec = TypeSpec {
    kind: "disk",
    arm_type: "Microsoft.Compute/disks",
    shown_type: None,
    name_opt: "name",
    parents: &[],
    required: &[],
    build: disk_from_args,
    extras: no_extras,
    update: tags_only,
    wrap: None,
    children: &[],
    create_secs: 10.0,
    update_secs: 5.0,
    delete_secs: 10.0,
    confirm_delete: true,
};

pub const DEFAULT_SIZE: &str = "Standard_D2s_v5";

fn disk_from_args(call: &Call, b: &Base) -> Result<Value, AzError> {
    let size = call.opt_int("size-gb", 128)?;
    Ok(disk_body(b, size, None, "Windows"))
}

pub fn disk_body(b: &Base, size_gb: i64, vm_id: Option<&str>, os_type: &str) -> Value {
    json!({
        "creationData": { "createOption": if vm_id.is_some() { "FromImage" } else { "Empty" } },
        "diskSizeGB": size_gb,
        "diskState": if vm_id.is_some() { "Attached" } else { "Unattached" },
        "location": b.location,
        "managedBy": vm_id,
        "osType": if vm_id.is_some() { Value::String(os_type.into()) } else { Value::Null },
        "sku": { "name": "Premium_LRS", "tier": "Premium" },
        "tags": b.tags,
        "timeCreated": timestamp(),
    })
}

/// `--image` as a URN, an alias or an image id.
pub fn image_reference(image: &str) -> Value {
    if image.starts_with('/') {
        return json!({ "id": image });
    }
    let parts: Vec<&str> = image.split(':').collect();
    if parts.len() == 4 {
        return json!({
            "offer": parts[1], "publisher": parts[0], "sku": parts[2], "version": parts[3],
        });
    }
    let (publisher, offer, sku) = match image.to_ascii_lowercase().as_str() {
        "win2022datacenter" => ("MicrosoftWindowsServer", "WindowsServer", "2022-datacenter"),
        "win2019datacenter" => ("MicrosoftWindowsServer", "WindowsServer", "2019-datacenter"),
        "ubuntu2204" => (
            "Canonical",
            "0001-com-ubuntu-server-jammy",
            "22_04-lts-gen2",
        ),
        _ => (
            "MicrosoftWindowsDesktop",
            "office-365",
            "win11-23h2-avd-m365",
        ),
    };
    json!({ "offer": offer, "publisher": publisher, "sku": sku, "version": "latest" })
}
pub fn os_disk_name(vm_id: &str, vm: &str) -> String {
    format!(
        "{vm}_OsDisk_1_{}",
        ids::guid(&format!("disk:{vm_id}")).replace('-', "")
    )
}

/// The model of a VM that existed before the run (or that a run-command met first).
fn default_model(vm: &Vm, sub: &str) -> Value {
    let disk = os_disk_name(&vm.id, &vm.name);
    json!({
        "hardwareProfile": { "vmSize": DEFAULT_SIZE },
        "networkProfile": { "networkInterfaces": [{
            "id": ids::resource_id(sub, &vm.resource_group, NIC.arm_type, &[format!("{}VMNic", vm.name)]),
            "primary": true,
            "resourceGroup": vm.resource_group,
        }]},
        "osProfile": { "adminUsername": "azureuser", "computerName": computer_name(&vm.name) },
        "storageProfile": {
            "dataDisks": [],
            "imageReference": image_reference(""),
            "osDisk": {
                "caching": "ReadWrite",
                "createOption": "FromImage",
                "deleteOption": "Detach",
                "diskSizeGB": 127,
                "managedDisk": {
                    "id": ids::resource_id(sub, &vm.resource_group, DISK.arm_type, std::slice::from_ref(&disk)),
                    "resourceGroup": vm.resource_group,
                    "storageAccountType": "Premium_LRS",
                },
                "name": disk,
                "osType": "Windows",
            },
        },
        "tags": {},
        "vmId": ids::guid(&format!("vmid:{}", vm.id)),
    })
}

pub fn computer_name(vm: &str) -> String {
    vm.chars().take(15).collect()
}

/// `vm show`: the model plus the fields ARM computes.
pub fn vm_json(vm: &Vm, sub: &str, details: bool) -> Value {
    let mut body = if vm.model.is_object() {
        vm.model.clone()
    } else {
        default_model(vm, sub)
    };
    body["id"] = json!(vm.id);
    body["name"] = json!(vm.name);
    body["location"] = json!(vm.location);
    body["resourceGroup"] = json!(vm.resource_group);
    body["type"] = json!("Microsoft.Compute/virtualMachines");
    body["provisioningState"] = json!(vm.busy.map_or("Succeeded", |b| b.op.provisioning_state()));
    if details {
        body["powerState"] = json!(format!("VM {}", vm.power_word()));
        body["privateIps"] = body.get("privateIps").cloned().unwrap_or(json!(""));
        body["publicIps"] = body.get("publicIps").cloned().unwrap_or(json!(""));
        body["fqdns"] = json!("");
        body["macAddresses"] = body.get("macAddresses").cloned().unwrap_or(json!(""));
    } else if let Some(map) = body.as_object_mut() {
        for field in ["privateIps", "publicIps", "macAddresses", "powerState"] {
            map.remove(field);
        }
    }
    body
}

/// `vm get-instance-view`: the model with `instanceView`, whose statuses
/// say the power state and whether the VM agent is ready.
pub fn instance_view(vm: &Vm, sub: &str, now: f64) -> Value {
    let mut body = vm_json(vm, sub, false);
    let provisioning = match vm.busy {
        None => {
            json!({ "code": "ProvisioningState/succeeded", "displayStatus": "Provisioning succeeded", "level": "Info", "time": timestamp() })
        }
        Some(b) => {
            let word = b.op.provisioning_state();
            json!({ "code": format!("ProvisioningState/{}", word.to_ascii_lowercase()), "displayStatus": word, "level": "Info" })
        }
    };
    let mut statuses = vec![
        provisioning,
        json!({ "code": format!("PowerState/{}", vm.power_word()), "displayStatus": format!("VM {}", vm.power_word()), "level": "Info" }),
    ];
    if vm.generalized {
        statuses.push(json!({ "code": "OSState/generalized", "displayStatus": "VM generalized", "level": "Info" }));
    }
    let ready =
        vm.transition.is_none() && vm.power == PowerState::Running && vm.agent_ready_at <= now;
    let agent = if ready {
        json!({ "code": "ProvisioningState/succeeded", "displayStatus": "Ready", "level": "Info", "message": "GuestAgent is running and processing the extensions.", "time": timestamp() })
    } else {
        json!({ "code": "ProvisioningState/Unavailable", "displayStatus": "Not Ready", "level": "Warning", "message": "VM status blob is found but not yet populated.", "time": timestamp() })
    };
    let windows = body
        .pointer("/storageProfile/osDisk/osType")
        .and_then(Value::as_str)
        != Some("Linux");
    let server = body
        .pointer("/storageProfile/imageReference/offer")
        .and_then(Value::as_str)
        .is_some_and(|o| o.contains("Server"));
    body["instanceView"] = json!({
        "computerName": computer_name(&vm.name),
        "hyperVGeneration": "V2",
        "osName": match (windows, server) {
            (false, _) => "ubuntu",
            (true, true) => "Windows Server 2022 Datacenter",
            (true, false) => "Windows 11 Enterprise multi-session",
        },
        "osVersion": if windows { "10.0.22631.4317" } else { "22.04" },
        "statuses": statuses,
        "vmAgent": {
            "extensionHandlers": [],
            "statuses": [agent],
            "vmAgentVersion": "2.7.41491.1102",
        },
    });
    body
}

/// The VM an option set names (`-g/-n` or `--ids`).
pub fn target(call: &Call) -> Result<(String, String), AzError> {
    if let Some(id) = call.args.one("ids")? {
        return match ids::parse_id(&id) {
            Some((rg, names)) if names.len() == 1 => Ok((rg, names[0].clone())),
            _ => Err(AzError::usage(format!(
                "argument --ids: invalid resource id: '{id}'"
            ))),
        };
    }
    call.args.require(&["name", "resource-group"])?;
    Ok((call.args.req("resource-group")?, call.args.req("name")?))
}

/// The VM, or ARM's 404 for its group or itself.
pub fn find<'s>(
    state: &'s mut World,
    sub: &str,
    rg: &str,
    name: &str,
) -> Result<&'s mut Vm, AzError> {
    if !state.group_exists(sub, rg) {
        return Err(AzError::group_not_found(rg));
    }
    state
        .vms
        .get_mut(&vm_key(sub, rg, name))
        .ok_or_else(|| AzError::vm_not_found(rg, name))
}

pub fn show(call: &Call) -> Outcome {
    let (rg, name) = target(call)?;
    let details = call.args.flag("show-details")?;
    let sub = call.sub().to_string();
    call.delay(READ_SECS);
    call.sim.transact(|state, _| {
        find(state, &sub, &rg, &name).map(|vm| Some(vm_json(vm, &sub, details)))
    })?
}

pub fn get_instance_view(call: &Call) -> Outcome {
    let (rg, name) = target(call)?;
    let sub = call.sub().to_string();
    call.delay(READ_SECS);
    call.sim.transact(|state, now| {
        find(state, &sub, &rg, &name).map(|vm| Some(instance_view(vm, &sub, now)))
    })?
}

pub fn list(call: &Call) -> Outcome {
    let rg = call.args.one("resource-group")?;
    let details = call.args.flag("show-details")?;
    let sub = call.sub().to_string();
    call.delay(READ_SECS);
    let vms = call.sim.transact(|state, _| {
        if let Some(rg) = &rg
            && !state.group_exists(&sub, rg)
        {
            return Err(AzError::group_not_found(rg));
        }
        Ok(state
            .vms
            .values()
            .filter(|vm| {
                rg.as_ref()
                    .is_none_or(|g| g.eq_ignore_ascii_case(&vm.resource_group))
            })
            .map(|vm| vm_json(vm, &sub, details))
            .collect::<Vec<_>>())
    })??;
    Ok(Some(Value::Array(vms)))
}
