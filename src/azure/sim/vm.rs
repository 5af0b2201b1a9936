//! `az vm …` except run-command and wait: creating VMs (with their NIC, OS
//! disk, public IP and NSG), showing them and their instance view, and the
//! power operations a golden-image build goes through (stop, deallocate,
//! generalize, start, restart, delete).

use serde_json::{Value, json};

use super::ctx::{Ctx, Outcome, timestamp};
use super::error::AzError;
use super::ids;
use super::network::{self, NIC, NSG, PUBLIC_IP, SUBNET, VNET};
use super::power::{Phase, PowerState};
use super::resources::READ_SECS;
use super::state::{Busy, BusyOp, Resource, State, Transition, Vm, vm_key};
use super::types::{Base, TypeSpec, no_extras, tags_only};

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

const CREATE_SECS: f64 = 120.0;
const DELETE_SECS: f64 = 60.0;
const START_SECS: f64 = 30.0;
const STOP_SECS: f64 = 30.0;
const DEALLOCATE_SECS: f64 = 60.0;
const RESTART_SECS: f64 = 60.0;
const GENERALIZE_SECS: f64 = 5.0;
const DEFAULT_SIZE: &str = "Standard_D2s_v5";

fn disk_from_args(ctx: &Ctx, b: &Base) -> Result<Value, AzError> {
    let size = ctx.opt_int("size-gb", 128)?;
    Ok(disk_body(b, size, None, "Windows"))
}

fn disk_body(b: &Base, size_gb: i64, vm_id: Option<&str>, os_type: &str) -> Value {
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
fn image_reference(image: &str) -> Value {
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
        "ubuntu2204" => ("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2"),
        _ => ("MicrosoftWindowsDesktop", "office-365", "win11-23h2-avd-m365"),
    };
    json!({ "offer": offer, "publisher": publisher, "sku": sku, "version": "latest" })
}

fn os_type(ctx: &Ctx, image: &str) -> Result<String, AzError> {
    if let Some(t) = ctx.args.one("os-type")? {
        return Ok(t);
    }
    let lower = image.to_ascii_lowercase();
    let linux = ["ubuntu", "debian", "rhel", "centos", "suse", "linux", "canonical"]
        .iter()
        .any(|w| lower.contains(w));
    Ok(if linux { "Linux" } else { "Windows" }.into())
}

fn os_disk_name(vm_id: &str, vm: &str) -> String {
    format!("{vm}_OsDisk_1_{}", ids::guid(&format!("disk:{vm_id}")).replace('-', ""))
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
                "diskSizeGb": 127,
                "managedDisk": {
                    "id": ids::resource_id(sub, &vm.resource_group, DISK.arm_type, &[disk.clone()]),
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

fn computer_name(vm: &str) -> String {
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
    body["powerState"] = json!(format!("VM {}", vm.power_word()));
    if details {
        body["privateIps"] = body.get("privateIps").cloned().unwrap_or(json!(""));
        body["publicIps"] = body.get("publicIps").cloned().unwrap_or(json!(""));
        body["fqdns"] = json!("");
        body["macAddresses"] = body.get("macAddresses").cloned().unwrap_or(json!(""));
    } else if let Some(map) = body.as_object_mut() {
        for field in ["privateIps", "publicIps", "macAddresses"] {
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
        None => json!({ "code": "ProvisioningState/succeeded", "displayStatus": "Provisioning succeeded", "level": "Info", "time": timestamp() }),
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
    let ready = vm.transition.is_none() && vm.power == PowerState::Running && vm.agent_ready_at <= now;
    let agent = if ready {
        json!({ "code": "ProvisioningState/succeeded", "displayStatus": "Ready", "level": "Info", "message": "GuestAgent is running and processing the extensions.", "time": timestamp() })
    } else {
        json!({ "code": "ProvisioningState/Unavailable", "displayStatus": "Not Ready", "level": "Warning", "message": "VM status blob is found but not yet populated.", "time": timestamp() })
    };
    let windows = body.pointer("/storageProfile/osDisk/osType").and_then(Value::as_str) != Some("Linux");
    body["instanceView"] = json!({
        "computerName": computer_name(&vm.name),
        "hyperVGeneration": "V2",
        "osName": if windows { "Windows 11 Enterprise multi-session" } else { "ubuntu" },
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
pub fn target(ctx: &Ctx) -> Result<(String, String), AzError> {
    if let Some(id) = ctx.args.one("ids")? {
        return match ids::parse_id(&id) {
            Some((rg, names)) if names.len() == 1 => Ok((rg, names[0].clone())),
            _ => Err(AzError::usage(format!("argument --ids: invalid resource id: '{id}'"))),
        };
    }
    ctx.args.require(&["name", "resource-group"])?;
    Ok((ctx.args.req("resource-group")?, ctx.args.req("name")?))
}

/// The VM, or ARM's 404 for its group or itself.
pub fn find<'s>(state: &'s mut State, sub: &str, rg: &str, name: &str) -> Result<&'s mut Vm, AzError> {
    if !state.group_exists(sub, rg) {
        return Err(AzError::group_not_found(rg));
    }
    state
        .vms
        .get_mut(&vm_key(sub, rg, name))
        .ok_or_else(|| AzError::vm_not_found(rg, name))
}

pub fn show(ctx: &Ctx) -> Outcome {
    let (rg, name) = target(ctx)?;
    let details = ctx.args.flag("show-details")?;
    let sub = ctx.sub().to_string();
    ctx.delay(READ_SECS);
    ctx.sim
        .transact(|state, _| find(state, &sub, &rg, &name).map(|vm| Some(vm_json(vm, &sub, details))))?
}

pub fn get_instance_view(ctx: &Ctx) -> Outcome {
    let (rg, name) = target(ctx)?;
    let sub = ctx.sub().to_string();
    ctx.delay(READ_SECS);
    ctx.sim
        .transact(|state, now| find(state, &sub, &rg, &name).map(|vm| Some(instance_view(vm, &sub, now))))?
}

pub fn list(ctx: &Ctx) -> Outcome {
    let rg = ctx.args.one("resource-group")?;
    let details = ctx.args.flag("show-details")?;
    let sub = ctx.sub().to_string();
    ctx.delay(READ_SECS);
    let vms = ctx.sim.transact(|state, _| {
        if let Some(rg) = &rg {
            if !state.group_exists(&sub, rg) {
                return Err(AzError::group_not_found(rg));
            }
        }
        Ok(state
            .vms
            .values()
            .filter(|vm| rg.as_ref().is_none_or(|g| g.eq_ignore_ascii_case(&vm.resource_group)))
            .map(|vm| vm_json(vm, &sub, details))
            .collect::<Vec<_>>())
    })??;
    Ok(Some(Value::Array(vms)))
}

fn insert(state: &mut State, id: &str, kind: &str, body: Value, busy: Option<Busy>) {
    state.resources.insert(
        ids::key(id),
        Resource { id: id.to_string(), kind: kind.into(), body, busy },
    );
}

/// What `vm create` was told, resolved to resource names and ids.
struct Plan {
    rg: String,
    name: String,
    id: String,
    location: String,
    tags: Value,
    image: String,
    os_type: String,
    size: String,
    admin: String,
    vnet: String,
    subnet: Option<String>,
    subnet_id: Option<String>,
    public_ip: Option<String>,
    nsg: Option<String>,
    nic_ids: Vec<String>,
    disk: String,
    trusted_launch: bool,
    license: Value,
}

fn plan(ctx: &Ctx) -> Result<Plan, AzError> {
    ctx.args.require(&["name", "resource-group"])?;
    let rg = ctx.args.req("resource-group")?;
    let name = ctx.args.req("name")?;
    let id = ids::resource_id(ctx.sub(), &rg, "Microsoft.Compute/virtualMachines", &[name.clone()]);
    let image = ctx.args.one_or("image", "")?;
    // `--public-ip-address ""` and `--nsg ""` mean none.
    let optional = |option: &str, default: String| -> Result<Option<String>, AzError> {
        Ok(match ctx.args.one(option)? {
            Some(v) if v.is_empty() || v == "\"\"" => None,
            Some(v) => Some(v),
            None => Some(default),
        })
    };
    let subnet = ctx.args.one("subnet")?;
    let subnet_id = subnet.clone().filter(|s| s.starts_with('/'));
    let security = ctx.args.one("security-type")?.unwrap_or_default();
    Ok(Plan {
        location: ctx.location()?,
        tags: ctx.tags(),
        os_type: os_type(ctx, &image)?,
        size: ctx.args.one_or("size", DEFAULT_SIZE)?,
        admin: ctx.args.one_or("admin-username", "azureuser")?,
        vnet: ctx.args.one_or("vnet-name", &format!("{name}VNET"))?,
        subnet: subnet.filter(|s| !s.starts_with('/')),
        subnet_id,
        public_ip: optional("public-ip-address", format!("{name}PublicIP"))?,
        nsg: optional("nsg", format!("{name}NSG"))?,
        nic_ids: ctx.args.many("nics"),
        disk: match ctx.args.one("os-disk-name")? {
            Some(d) => d,
            None => os_disk_name(&id, &name),
        },
        trusted_launch: security.eq_ignore_ascii_case("TrustedLaunch"),
        license: ctx.opt_string("license-type")?,
        image,
        rg,
        name,
        id,
    })
}

pub fn create(ctx: &Ctx) -> Outcome {
    let p = plan(ctx)?;
    let sub = ctx.sub().to_string();
    let summary = ctx.sim.transact(|state, now| create_in(state, &sub, &p, now))??;
    if ctx.no_wait()? {
        return Ok(None);
    }
    ctx.delay(CREATE_SECS);
    let power = ctx.sim.transact(|state, _| {
        find(state, &sub, &p.rg, &p.name).map(|vm| format!("VM {}", vm.power_word()))
    })??;
    let mut out = summary;
    out["powerState"] = json!(power);
    Ok(Some(out))
}

fn create_in(state: &mut State, sub: &str, p: &Plan, now: f64) -> Result<Value, AzError> {
    if !state.group_exists(sub, &p.rg) {
        return Err(AzError::group_not_found(&p.rg));
    }
    let busy = Some(Busy { op: BusyOp::Creating, until: now + CREATE_SECS });
    let base = |arm_type: &str, name: &str| Base {
        id: ids::resource_id(sub, &p.rg, arm_type, &[name.to_string()]),
        name: name.to_string(),
        resource_group: p.rg.clone(),
        names: vec![name.to_string()],
        location: p.location.clone(),
        tags: p.tags.clone(),
    };
    let subnet_id = match &p.subnet_id {
        Some(id) => id.clone(),
        None => {
            let subnet = p.subnet.clone().unwrap_or_else(|| format!("{}Subnet", p.name));
            let id = ids::resource_id(sub, &p.rg, SUBNET.arm_type, &[p.vnet.clone(), subnet.clone()]);
            if !state.resources.contains_key(&ids::key(&id)) {
                // az makes the network when the one named does not exist.
                let vnet = base(VNET.arm_type, &p.vnet);
                if !state.resources.contains_key(&ids::key(&vnet.id)) {
                    let mut body = json!({
                        "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] },
                        "etag": ids::etag(&vnet.id), "location": p.location, "subnets": [],
                        "tags": p.tags, "virtualNetworkPeerings": [],
                    });
                    finish(&mut body, &vnet, VNET.arm_type);
                    insert(state, &vnet.id, VNET.kind, body, busy);
                }
                let mut body = json!({ "addressPrefix": "10.0.0.0/24", "delegations": [], "etag": ids::etag(&id) });
                finish(&mut body, &Base { id: id.clone(), name: subnet, ..base(SUBNET.arm_type, "") }, SUBNET.arm_type);
                insert(state, &id, SUBNET.kind, body, busy);
            }
            id
        }
    };
    let taken = state
        .resources
        .values()
        .filter(|r| r.kind == NIC.kind && r.body.to_string().contains(&subnet_id))
        .count();
    let private_ip = format!("10.0.0.{}", 4 + taken);
    let public = p.public_ip.as_ref().map(|name| {
        let b = base(PUBLIC_IP.arm_type, name);
        let address = network::public_address(&b.id);
        (b, address)
    });
    if let Some((b, address)) = &public {
        insert(state, &b.id, PUBLIC_IP.kind, network::public_ip_body(b, address), busy);
    }
    if let Some(nsg) = &p.nsg {
        let b = base(NSG.arm_type, nsg);
        if !state.resources.contains_key(&ids::key(&b.id)) {
            let mut body = json!({ "etag": ids::etag(&b.id), "location": p.location, "securityRules": [], "tags": p.tags });
            finish(&mut body, &b, NSG.arm_type);
            insert(state, &b.id, NSG.kind, body, busy);
        }
    }
    let nic_ids = if p.nic_ids.is_empty() {
        let b = base(NIC.arm_type, &format!("{}VMNic", p.name));
        let public_id = public.as_ref().map(|(b, _)| b.id.clone());
        let body = network::nic_body(&b, &subnet_id, &private_ip, public_id.as_deref(), Some(&p.id));
        insert(state, &b.id, NIC.kind, body, busy);
        vec![b.id]
    } else {
        p.nic_ids.clone()
    };
    let disk = base(DISK.arm_type, &p.disk);
    let mut disk_json = disk_body(&disk, 127, Some(&p.id), &p.os_type);
    finish(&mut disk_json, &disk, DISK.arm_type);
    insert(state, &disk.id, DISK.kind, disk_json, busy);

    let mac = ids::mac(&nic_ids[0]);
    let public_address = public.as_ref().map(|(_, a)| a.clone()).unwrap_or_default();
    let mut model = json!({
        "hardwareProfile": { "vmSize": p.size },
        "licenseType": p.license,
        "networkProfile": { "networkInterfaces": nic_ids.iter().enumerate().map(|(i, id)| json!({
            "id": id, "primary": i == 0, "resourceGroup": p.rg,
        })).collect::<Vec<_>>() },
        "osProfile": { "adminUsername": p.admin, "computerName": computer_name(&p.name) },
        "storageProfile": {
            "dataDisks": [],
            "imageReference": image_reference(&p.image),
            "osDisk": {
                "caching": "ReadWrite", "createOption": "FromImage", "deleteOption": "Detach", "diskSizeGb": 127,
                "managedDisk": { "id": disk.id, "resourceGroup": p.rg, "storageAccountType": "Premium_LRS" },
                "name": p.disk, "osType": p.os_type,
            },
        },
        "tags": p.tags,
        "timeCreated": timestamp(),
        "vmId": ids::guid(&format!("vmid:{}", p.id)),
        "privateIps": private_ip,
        "publicIps": public_address,
        "macAddresses": mac,
    });
    if p.trusted_launch {
        model["securityProfile"] = json!({ "securityType": "TrustedLaunch", "uefiSettings": { "secureBootEnabled": true, "vTpmEnabled": true } });
    }
    let vm = state.ensure_vm(sub, &p.rg, &p.name, &p.location);
    vm.location = p.location.clone();
    vm.model = model;
    vm.power = PowerState::Running;
    vm.transition = None;
    vm.generalized = false;
    vm.busy = busy;
    // The agent reports once provisioning is done, as `vm create` waits for it.
    vm.agent_ready_at = now + CREATE_SECS;
    Ok(json!({
        "fqdns": "",
        "id": p.id,
        "location": p.location,
        "macAddress": mac,
        "powerState": "VM running",
        "privateIpAddress": private_ip,
        "publicIpAddress": public_address,
        "resourceGroup": p.rg,
        "zones": "",
    }))
}

fn finish(body: &mut Value, b: &Base, arm_type: &str) {
    body["id"] = json!(b.id);
    body["name"] = json!(b.name);
    body["resourceGroup"] = json!(b.resource_group);
    body["type"] = json!(arm_type);
    body["provisioningState"] = json!("Succeeded");
}

pub fn delete(ctx: &Ctx) -> Outcome {
    let (rg, name) = target(ctx)?;
    ctx.confirm()?;
    let sub = ctx.sub().to_string();
    let found = ctx.sim.transact(|state, now| {
        if !state.group_exists(&sub, &rg) {
            return Err(AzError::group_not_found(&rg));
        }
        let Some(vm) = state.vms.get_mut(&vm_key(&sub, &rg, &name)) else {
            return Ok(false);
        };
        vm.busy = Some(Busy { op: BusyOp::Deleting, until: now + DELETE_SECS });
        let vm_id = ids::key(&vm.id);
        // The NIC and disk stay behind, detached, as with deleteOption Detach.
        for r in state.resources.values_mut() {
            if r.body["virtualMachine"]["id"].as_str().is_some_and(|v| ids::key(v) == vm_id) {
                if let Some(map) = r.body.as_object_mut() {
                    map.remove("virtualMachine");
                }
            }
            if r.body["managedBy"].as_str().is_some_and(|v| ids::key(v) == vm_id) {
                r.body["managedBy"] = Value::Null;
                r.body["diskState"] = json!("Unattached");
            }
        }
        Ok(true)
    })??;
    if found && !ctx.no_wait()? {
        ctx.delay(DELETE_SECS);
    }
    Ok(None)
}

fn not_allowed(operation: &str, vm: &str, why: &str) -> AzError {
    AzError::arm(
        "OperationNotAllowed",
        format!("Operation '{operation}' is not allowed on VM '{vm}' since the VM is {why}."),
    )
}

/// Starts a power change and waits for it unless `--no-wait`.
fn power_op(
    ctx: &Ctx,
    seconds: f64,
    change: impl FnOnce(&mut Vm, f64) -> Result<(), AzError>,
) -> Outcome {
    let (rg, name) = target(ctx)?;
    let sub = ctx.sub().to_string();
    ctx.sim.transact(|state, now| {
        let vm = find(state, &sub, &rg, &name)?;
        change(vm, now)
    })??;
    if !ctx.no_wait()? {
        ctx.delay(seconds);
    }
    Ok(None)
}

fn transition(vm: &mut Vm, phase: Phase, to: PowerState, until: f64) {
    vm.transition = Some(Transition { phase, to, until });
}

pub fn start(ctx: &Ctx) -> Outcome {
    power_op(ctx, START_SECS, |vm, now| {
        if vm.generalized {
            return Err(not_allowed("start", &vm.name, "generalized"));
        }
        transition(vm, Phase::Starting, PowerState::Running, now + START_SECS);
        vm.agent_ready_at = vm.agent_ready_at.max(now + START_SECS);
        Ok(())
    })
}

pub fn restart(ctx: &Ctx) -> Outcome {
    power_op(ctx, RESTART_SECS, |vm, now| {
        if vm.generalized {
            return Err(not_allowed("restart", &vm.name, "generalized"));
        }
        if vm.power != PowerState::Running {
            return Err(not_allowed("restart", &vm.name, vm.power.word()));
        }
        transition(vm, Phase::Starting, PowerState::Running, now + RESTART_SECS);
        vm.agent_ready_at = vm.agent_ready_at.max(now + RESTART_SECS);
        Ok(())
    })
}

pub fn stop(ctx: &Ctx) -> Outcome {
    power_op(ctx, STOP_SECS, |vm, now| {
        if vm.power == PowerState::Running || vm.transition.is_some() {
            transition(vm, Phase::Stopping, PowerState::Stopped, now + STOP_SECS);
        }
        Ok(())
    })
}

pub fn deallocate(ctx: &Ctx) -> Outcome {
    power_op(ctx, DEALLOCATE_SECS, |vm, now| {
        if vm.power != PowerState::Deallocated || vm.transition.is_some() {
            transition(vm, Phase::Deallocating, PowerState::Deallocated, now + DEALLOCATE_SECS);
        }
        Ok(())
    })
}

pub fn generalize(ctx: &Ctx) -> Outcome {
    power_op(ctx, GENERALIZE_SECS, |vm, _| {
        let settled_off = vm.transition.is_none() && vm.power != PowerState::Running;
        if !settled_off {
            return Err(not_allowed("generalize", &vm.name, vm.power_word()));
        }
        vm.generalized = true;
        Ok(())
    })
}
