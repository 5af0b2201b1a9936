//! `az vm create`: the VM with the NIC, OS disk, public IP, NSG and network
//! az makes along with it, shown as az's creation summary.

use serde_json::{Value, json};

use super::call::{Call, Outcome, timestamp};
use super::error::AzError;
use super::ids;
use super::network::{self, NIC, NSG, PUBLIC_IP, SUBNET, VNET};
use super::power_state::PowerState;
use super::types::Base;
use super::vm::{
    DEFAULT_SIZE, DISK, computer_name, disk_body, find, image_reference, os_disk_name,
};
use super::world::{Busy, BusyOp, Resource, World};

/// How long ARM takes to create a VM (and its agent to report).
pub const CREATE_SECS: f64 = 120.0;

fn os_type(call: &Call, image: &str) -> Result<String, AzError> {
    if let Some(t) = call.args.one("os-type")? {
        return Ok(t);
    }
    Ok(image_os_type(image).into())
}

/// The OS of a marketplace image (`publisher:offer:sku:version` or an alias),
/// as its `osDiskImage` says it.
pub fn image_os_type(image: &str) -> &'static str {
    let lower = image.to_ascii_lowercase();
    let linux = [
        "ubuntu",
        "debian",
        "rhel",
        "centos",
        "suse",
        "linux",
        "canonical",
    ]
    .iter()
    .any(|w| lower.contains(w));
    if linux { "Linux" } else { "Windows" }
}
fn insert(state: &mut World, id: &str, kind: &str, body: Value, busy: Option<Busy>) {
    state.resources.insert(
        ids::key(id),
        Resource {
            id: id.to_string(),
            kind: kind.into(),
            body,
            busy,
        },
    );
}

/// What `vm create` was told, resolved to resource names and ids (the
/// stand-in reads the same from the ARM template the real az deploys).
pub struct Plan {
    pub rg: String,
    pub name: String,
    pub id: String,
    pub location: String,
    pub tags: Value,
    pub image: String,
    pub os_type: String,
    pub size: String,
    pub admin: String,
    pub vnet: String,
    pub subnet: Option<String>,
    pub subnet_id: Option<String>,
    pub public_ip: Option<String>,
    pub nsg: Option<String>,
    pub nic_ids: Vec<String>,
    pub disk: String,
    pub trusted_launch: bool,
    pub license: Value,
    /// `--nic-delete-option`: `Delete` removes the NIC with the VM.
    pub nic_delete_option: Option<String>,
    /// `--os-disk-delete-option`: `Delete` removes the OS disk with the VM.
    pub os_disk_delete_option: Option<String>,
}

fn plan(call: &Call) -> Result<Plan, AzError> {
    call.args.require(&["name", "resource-group"])?;
    let rg = call.args.req("resource-group")?;
    let name = call.args.req("name")?;
    let id = ids::resource_id(
        call.sub(),
        &rg,
        "Microsoft.Compute/virtualMachines",
        std::slice::from_ref(&name),
    );
    let image = call.args.one_or("image", "")?;
    // `--public-ip-address ""` and `--nsg ""` mean none.
    let optional = |option: &str, default: String| -> Result<Option<String>, AzError> {
        Ok(match call.args.one(option)? {
            Some(v) if v.is_empty() || v == "\"\"" => None,
            Some(v) => Some(v),
            None => Some(default),
        })
    };
    let subnet = call.args.one("subnet")?;
    let subnet_id = subnet.clone().filter(|s| s.starts_with('/'));
    // az's validator: a subnet is an id, or a name with its network's name.
    if subnet.is_some() && (subnet_id.is_some() == call.args.has("vnet-name")) {
        return Err(AzError::cli(
            "incorrect usage: --subnet ID | --subnet NAME --vnet-name NAME",
        ));
    }
    let security = call.args.one("security-type")?.unwrap_or_default();
    Ok(Plan {
        location: call.location()?,
        tags: call.tags(),
        os_type: os_type(call, &image)?,
        size: call.args.one_or("size", DEFAULT_SIZE)?,
        admin: call.args.one_or("admin-username", "azureuser")?,
        vnet: call.args.one_or("vnet-name", &format!("{name}VNET"))?,
        subnet: subnet.filter(|s| !s.starts_with('/')),
        subnet_id,
        public_ip: optional("public-ip-address", format!("{name}PublicIP"))?,
        nsg: optional("nsg", format!("{name}NSG"))?,
        nic_ids: call.args.many("nics"),
        disk: match call.args.one("os-disk-name")? {
            Some(d) => d,
            None => os_disk_name(&id, &name),
        },
        trusted_launch: security.eq_ignore_ascii_case("TrustedLaunch"),
        license: call.opt_string("license-type")?,
        nic_delete_option: call.args.one("nic-delete-option")?,
        os_disk_delete_option: call.args.one("os-disk-delete-option")?,
        image,
        rg,
        name,
        id,
    })
}

/// az's rule for `--admin-password` (`_validate_admin_password`): 12 to 123
/// characters (72 on Linux), with 3 of lower case, upper case, digit and symbol.
fn check_admin_password(call: &Call, p: &Plan) -> Result<(), AzError> {
    let Some(password) = call.args.one("admin-password")? else {
        return Ok(());
    };
    let max = if p.os_type == "Linux" { 72 } else { 123 };
    const SYMBOLS: &str = " `~!@#$%^&*()=+_[]{}\\|;:./'\",<>?";
    let kinds = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| SYMBOLS.contains(c)),
    ];
    let length = password.chars().count();
    if (12..=max).contains(&length) && kinds.iter().filter(|k| **k).count() >= 3 {
        return Ok(());
    }
    Err(AzError::cli(format!(
        "The password length must be between 12 and {max}. Password must have the 3 of the following: 1 lower case character, 1 upper case character, 1 number and 1 special character."
    )))
}

/// What az 2.91 says first while it validates a VM: a cheaper region for
/// some locations (`display_region_recommendation`).
fn region_notice(call: &Call, p: &Plan) {
    let cheaper = match p.location.as_str() {
        "westeurope" => Some("uksouth"),
        "francecentral" | "germanywestcentral" => Some("northeurope"),
        _ => None,
    };
    if let Some(region) = cheaper {
        call.notice(format!(
            "Selecting \"{region}\" may reduce your costs.\u{202f}The region you've selected may cost more for the same services. You can disable this message in the future with the command \"az config set core.display_region_identified=false\". Learn more at https://go.microsoft.com/fwlink/?linkid=222571 \n\n"
        ));
    }
}

/// What az 2.91 says once the network checks passed, for a marketplace image
/// (generation 2): the Trusted Launch hint (its `trusted_launch_set_default`
/// never finds the image's security feature).
fn trusted_launch_hint(call: &Call, p: &Plan) {
    if !p.image.starts_with('/') && p.image.split(':').count() == 4 {
        call.warn("Consider upgrading security for your workloads using Azure Trusted Launch VMs. To know more about Trusted Launch, please visit https://aka.ms/TrustedLaunch.");
    }
}

pub fn create(call: &Call) -> Outcome {
    let p = plan(call)?;
    region_notice(call, &p);
    check_admin_password(call, &p)?;
    let sub = call.sub().to_string();
    let summary = call
        .sim
        .transact(|state, now| create_in(state, &sub, &p, now))??;
    trusted_launch_hint(call, &p);
    if call.no_wait()? {
        return Ok(None);
    }
    call.delay(CREATE_SECS);
    let power = call.sim.transact(|state, _| {
        find(state, &sub, &p.rg, &p.name).map(|vm| format!("VM {}", vm.power_word()))
    })??;
    let mut out = summary;
    out["powerState"] = json!(power);
    Ok(Some(out))
}

/// Puts the VM and what comes with it (NIC, OS disk, public IP, NSG, network)
/// in the world, busy creating for [`CREATE_SECS`]; returns az's summary.
pub fn create_in(state: &mut World, sub: &str, p: &Plan, now: f64) -> Result<Value, AzError> {
    if !state.group_exists(sub, &p.rg) {
        return Err(AzError::group_not_found(&p.rg));
    }
    let busy = Some(Busy {
        op: BusyOp::Creating,
        until: now + CREATE_SECS,
    });
    let base = |arm_type: &str, name: &str| Base {
        id: ids::resource_id(sub, &p.rg, arm_type, &[name.to_string()]),
        name: name.to_string(),
        resource_group: p.rg.clone(),
        location: p.location.clone(),
        tags: p.tags.clone(),
    };
    let subnet_id = match &p.subnet_id {
        // az checks a subnet given by id before it deploys anything; a subnet
        // given by name (with --vnet-name) that does not exist is made below.
        Some(id) if !state.resources.contains_key(&ids::key(id)) => {
            return Err(AzError::cli(format!("Subnet '{id}' does not exist.")));
        }
        Some(id) => id.clone(),
        None => {
            let subnet = p
                .subnet
                .clone()
                .unwrap_or_else(|| format!("{}Subnet", p.name));
            let id = ids::resource_id(
                sub,
                &p.rg,
                SUBNET.arm_type,
                &[p.vnet.clone(), subnet.clone()],
            );
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
                finish(
                    &mut body,
                    &Base {
                        id: id.clone(),
                        name: subnet,
                        ..base(SUBNET.arm_type, "")
                    },
                    SUBNET.arm_type,
                );
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
        insert(
            state,
            &b.id,
            PUBLIC_IP.kind,
            network::public_ip_body(b, address),
            busy,
        );
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
        let body = network::nic_body(
            &b,
            &subnet_id,
            &private_ip,
            public_id.as_deref(),
            Some(&p.id),
        );
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
        "networkProfile": { "networkInterfaces": nic_ids.iter().enumerate().map(|(i, id)| {
            let mut nic = json!({ "id": id, "primary": i == 0, "resourceGroup": p.rg });
            if let Some(option) = &p.nic_delete_option {
                nic["deleteOption"] = json!(option);
            }
            nic
        }).collect::<Vec<_>>() },
        "osProfile": { "adminUsername": p.admin, "computerName": computer_name(&p.name) },
        "storageProfile": {
            "dataDisks": [],
            "imageReference": image_reference(&p.image),
            "osDisk": {
                "caching": "ReadWrite", "createOption": "FromImage", "diskSizeGB": 127,
                "deleteOption": p.os_disk_delete_option.as_deref().unwrap_or("Detach"),
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
