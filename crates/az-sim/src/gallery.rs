//! Azure Compute Gallery resources: galleries, image definitions and image
//! versions, shaped as `az sig` prints them.

use serde_json::{Map, Value, json};

use super::call::{Call, timestamp};
use super::error::AzError;
use super::ids;
use super::types::{Base, Parent, TypeSpec, no_extras, tags_only};
use super::world::World;

pub const GALLERY: TypeSpec = TypeSpec {
    kind: "gallery",
    arm_type: "Microsoft.Compute/galleries",
    shown_type: None,
    name_opt: "gallery-name",
    parents: &[],
    required: &[],
    build: gallery,
    extras: no_extras,
    update: tags_only,
    wrap: None,
    children: &[],
    create_secs: 10.0,
    update_secs: 5.0,
    delete_secs: 10.0,
    confirm_delete: false,
};

pub const IMAGE_DEFINITION: TypeSpec = TypeSpec {
    kind: "image-definition",
    arm_type: "Microsoft.Compute/galleries/images",
    shown_type: None,
    name_opt: "gallery-image-definition",
    parents: &[Parent::Opt("gallery-name")],
    required: &["publisher", "offer", "sku", "os-type"],
    build: image_definition,
    extras: no_extras,
    update: tags_only,
    wrap: None,
    children: &[],
    create_secs: 5.0,
    update_secs: 5.0,
    delete_secs: 5.0,
    confirm_delete: false,
};

pub const IMAGE_VERSION: TypeSpec = TypeSpec {
    kind: "image-version",
    arm_type: "Microsoft.Compute/galleries/images/versions",
    shown_type: None,
    name_opt: "gallery-image-version",
    parents: &[
        Parent::Opt("gallery-name"),
        Parent::Opt("gallery-image-definition"),
    ],
    required: &[],
    build: image_version,
    extras: no_extras,
    update: tags_only,
    wrap: None,
    children: &[],
    // Replicating an image takes long: this is the step a golden image waits on. Half an
    // hour, as docs/library.md cites ("30 minutes to an hour", terraform-provider-azurerm#3517).
    create_secs: 1800.0,
    update_secs: 60.0,
    delete_secs: 60.0,
    confirm_delete: false,
};

/// `-r`, `-i`, `-e` for `az sig …`.
pub const ALIASES: &[(&str, &str)] = &[
    ("-r", "gallery-name"),
    ("-i", "gallery-image-definition"),
    ("-e", "gallery-image-version"),
    ("--image-name", "gallery-image-definition"),
];

/// A gallery as the compute resource provider makes it: its unique name is the
/// subscription and the upper-cased gallery name.
pub fn gallery_defaults(b: &Base) -> Value {
    let subscription = b.id.split('/').nth(2).unwrap_or_default();
    json!({
        "identifier": { "uniqueName": format!("{subscription}-{}", b.name.to_ascii_uppercase()) },
        "location": b.location,
        "tags": b.tags,
    })
}

fn gallery(call: &Call, b: &Base) -> Result<Value, AzError> {
    let mut body = gallery_defaults(b);
    body["description"] = json!(call.args.one("description")?);
    Ok(body)
}

/// What the compute resource provider fills in on an image definition the request leaves open.
pub fn image_definition_defaults(b: &Base) -> Value {
    json!({
        "architecture": "x64",
        "hyperVGeneration": "V1",
        "location": b.location,
        "tags": b.tags,
    })
}

/// `az sig image-definition create` always says this first (Azure CLI 2.91.0).
const NEW_DEFAULTS_WARNING: &str = "Starting Build (May) 2024, \"az sig image-definition create\" command will use the new default values Hyper-V Generation: V2 and SecurityType: TrustedLaunchSupported.";
/// What it says when `--features SecurityType=Standard` is dropped.
const UPGRADE_SECURITY_HINT: &str = "Consider upgrading security for your workloads using Azure Trusted Launch VMs. To know more about Trusted Launch, please visit https://aka.ms/TrustedLaunch.";

/// The features `az sig image-definition create` sends: `--features` is one
/// value of space-separated `KEY=VALUE`s; `SecurityType=Standard` is dropped
/// (with a hint), and a V2 definition without a security type is
/// `TrustedLaunchSupported`, as the CLI makes it.
fn image_features(call: &Call, generation: &str) -> Result<Vec<Value>, AzError> {
    let mut security_type = false;
    let mut features = Vec::new();
    let text = call.args.one("features")?.unwrap_or_default();
    for item in text.split_whitespace() {
        let (name, value) = item
            .split_once('=')
            .ok_or_else(|| AzError::cli("usage error: --features KEY=VALUE [KEY=VALUE ...]"))?;
        if name == "SecurityType" {
            security_type = true;
            if value == "Standard" {
                call.warn(UPGRADE_SECURITY_HINT);
                continue;
            }
        }
        features.push(json!({ "name": name, "value": value }));
    }
    if !security_type && generation == "V2" {
        features.push(json!({ "name": "SecurityType", "value": "TrustedLaunchSupported" }));
    }
    Ok(features)
}

fn image_definition(call: &Call, b: &Base) -> Result<Value, AzError> {
    call.warn(NEW_DEFAULTS_WARNING);
    let generation = call.args.one_or("hyper-v-generation", "V2")?;
    let features = image_features(call, &generation)?;
    let mut body = image_definition_defaults(b);
    for (field, value) in [
        ("description", json!(call.args.one("description")?)),
        (
            "features",
            if features.is_empty() {
                Value::Null
            } else {
                Value::Array(features)
            },
        ),
        ("hyperVGeneration", json!(generation)),
        (
            "identifier",
            json!({
                "offer": call.args.req("offer")?,
                "publisher": call.args.req("publisher")?,
                "sku": call.args.req("sku")?,
            }),
        ),
        (
            "osState",
            json!(call.args.one_or("os-state", "Generalized")?),
        ),
        ("osType", json!(call.args.req("os-type")?)),
    ] {
        body[field] = value;
    }
    Ok(body)
}

fn region_name(location: &str) -> String {
    match location.to_ascii_lowercase().as_str() {
        "westeurope" => "West Europe".into(),
        "northeurope" => "North Europe".into(),
        "eastus" => "East US".into(),
        "eastus2" => "East US 2".into(),
        "westus" => "West US".into(),
        "westus2" => "West US 2".into(),
        "uksouth" => "UK South".into(),
        "germanywestcentral" => "Germany West Central".into(),
        "swedencentral" => "Sweden Central".into(),
        other => other.into(),
    }
}

/// The default-value breaking changes Azure CLI 2.91.0 registers for
/// `az sig image-version create`, displayed on every call (`always_display`).
const NEW_VERSION_DEFAULTS_WARNINGS: [&str; 2] = [
    "The default value of '--end-of-life-date' will be changed to '6 months from publish date' from 'None' in a future release.",
    "The default value of '--block-deletion-before-end-of-life' will be changed to 'True' from 'None' in a future release.",
];

/// `az sig image-version create`: the request the CLI sends (its `--target-regions`
/// parsed as `region[=replicas|=storage type][=storage type]`, the source VM as
/// `virtualMachineId`), made into the version as the compute resource provider
/// makes it.
fn image_version(call: &Call, b: &Base) -> Result<Value, AzError> {
    for warning in NEW_VERSION_DEFAULTS_WARNINGS {
        call.warn(warning);
    }
    let replicas = call.args.one("replica-count")?;
    let regions: Vec<Value> = call
        .args
        .many("target-regions")
        .iter()
        .map(|spec| {
            let parts: Vec<&str> = spec.splitn(3, '=').collect();
            let mut region = json!({ "name": parts[0] });
            match parts[1..] {
                [count] => match count.parse::<i64>() {
                    Ok(count) => region["regionalReplicaCount"] = json!(count),
                    Err(_) => region["storageAccountType"] = json!(count),
                },
                [count, kind] => {
                    region["regionalReplicaCount"] = json!(count.parse::<i64>().unwrap_or(1));
                    region["storageAccountType"] = json!(kind);
                }
                _ => {}
            }
            region
        })
        .collect();
    let mut profile = json!({
        "targetRegions": if regions.is_empty() { json!([{ "name": b.location }]) } else { Value::Array(regions) },
    });
    if let Some(count) = replicas {
        profile["replicaCount"] = json!(count.parse::<i64>().map_err(|_| {
            AzError::usage(format!(
                "argument {}: invalid int value: '{count}'",
                call.args.shown("replica-count")
            ))
        })?);
    }
    for (field, option) in [
        ("storageAccountType", "storage-account-type"),
        ("endOfLifeDate", "end-of-life-date"),
    ] {
        if let Some(value) = call.args.one(option)? {
            profile[field] = json!(value);
        }
    }
    if call.args.has("exclude-from-latest") {
        profile["excludeFromLatest"] = json!(call.opt_bool("exclude-from-latest", false)?);
    }
    let mut source = Map::new();
    for (option, field) in [
        ("virtual-machine", "virtualMachineId"),
        ("managed-image", "id"),
        ("os-snapshot", "id"),
    ] {
        if let Some(v) = call.args.one(option)? {
            source.insert(field.into(), Value::String(v));
        }
    }
    let request = json!({
        "publishingProfile": profile,
        "storageProfile": { "source": source },
    });
    Ok(image_version_from_request(b, &request))
}

/// An image version as the compute resource provider makes it from a
/// request (in `az`'s flattened shape): the profile's replica count and
/// storage type (1, `Standard_LRS` when unset) are each target region's
/// unless it sets its own, regions are named as Azure displays them, and the
/// capture is dated now.
pub fn image_version_from_request(b: &Base, request: &Value) -> Value {
    let asked = &request["publishingProfile"];
    let replicas = asked["replicaCount"].as_i64().unwrap_or(1);
    let storage = asked["storageAccountType"]
        .as_str()
        .unwrap_or("Standard_LRS")
        .to_string();
    let mut regions: Vec<Value> = asked["targetRegions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|region| {
            json!({
                "name": region_name(region["name"].as_str().unwrap_or_default()),
                "regionalReplicaCount": region["regionalReplicaCount"].as_i64().unwrap_or(replicas),
                "storageAccountType": region["storageAccountType"].as_str().unwrap_or(&storage),
            })
        })
        .collect();
    if regions.is_empty() {
        regions.push(json!({
            "name": region_name(&b.location),
            "regionalReplicaCount": replicas,
            "storageAccountType": storage,
        }));
    }
    let mut profile = json!({
        "excludeFromLatest": asked["excludeFromLatest"].as_bool().unwrap_or(false),
        "publishedDate": timestamp(),
        "replicaCount": replicas,
        "replicationMode": asked["replicationMode"].as_str().unwrap_or("Full"),
        "storageAccountType": storage,
        "targetRegions": regions,
    });
    if let Some(date) = asked["endOfLifeDate"].as_str() {
        profile["endOfLifeDate"] = json!(date);
    }
    let source = request
        .pointer("/storageProfile/source")
        .filter(|s| s.is_object())
        .cloned()
        .unwrap_or_else(|| json!({}));
    json!({
        "location": b.location,
        "publishingProfile": profile,
        "safetyProfile": { "allowDeletionOfReplicatedLocations": false },
        "storageProfile": {
            "dataDiskImages": [],
            "osDiskImage": { "hostCaching": "ReadWrite", "sizeInGB": 127 },
            "source": source,
        },
        "tags": b.tags,
    })
}

/// An image version of the provider's defaults alone (one replica of
/// `Standard_LRS` in the version's region).
pub fn image_version_defaults(b: &Base) -> Value {
    image_version_from_request(b, &Value::Null)
}

/// What the compute resource provider checks before it captures a VM into an
/// image version: the VM exists, and its OS state is its image definition's
/// (a VM not yet generalized cannot become a generalized image). Other kinds
/// of resources pass.
pub fn check_capture(world: &World, kind: &str, version: &Value) -> Result<(), AzError> {
    if kind != IMAGE_VERSION.kind {
        return Ok(());
    }
    let Some(vm_id) = version
        .pointer("/storageProfile/source/virtualMachineId")
        .and_then(Value::as_str)
    else {
        return Ok(());
    };
    let Some(vm) = world.vms.get(&ids::key(vm_id)) else {
        let name = vm_id.rsplit('/').next().unwrap_or_default();
        let resource_group = vm_id.split('/').nth(4).unwrap_or_default();
        return Err(AzError::vm_not_found(resource_group, name));
    };
    let version_id = version["id"].as_str().unwrap_or_default();
    let definition_id = version_id
        .rsplit_once("/versions/")
        .map_or(version_id, |(definition, _)| definition);
    let wanted = world
        .resources
        .get(&ids::key(definition_id))
        .and_then(|d| d.body["osState"].as_str())
        .unwrap_or("Generalized");
    let state = if vm.generalized {
        "Generalized"
    } else {
        "Specialized"
    };
    if state.eq_ignore_ascii_case(wanted) {
        return Ok(());
    }
    Err(AzError::arm(
        "BadRequest",
        format!(
            "The resource with id '{vm_id}' has a different OS state ['{state}'] than the parent gallery image OS state ['{wanted}']."
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{Resource, Vm, vm_key};

    const RG: &str = "/subscriptions/s/resourceGroups/rg";

    fn base(id: &str) -> Base {
        Base {
            id: id.into(),
            name: "1.0.0".into(),
            resource_group: "rg".into(),
            location: "westeurope".into(),
            tags: json!({}),
        }
    }

    #[test]
    fn each_target_region_takes_the_profile_replicas_and_storage_unless_it_sets_its_own() {
        let request = json!({ "publishingProfile": {
            "replicaCount": 2,
            "storageAccountType": "Standard_ZRS",
            "targetRegions": [{ "name": "westeurope" }, { "name": "uksouth", "regionalReplicaCount": 3 }],
        }});
        let version = image_version_from_request(&base("/v"), &request);
        let regions = &version["publishingProfile"]["targetRegions"];
        assert_eq!(
            regions,
            &json!([
                { "name": "West Europe", "regionalReplicaCount": 2, "storageAccountType": "Standard_ZRS" },
                { "name": "UK South", "regionalReplicaCount": 3, "storageAccountType": "Standard_ZRS" },
            ])
        );
        let alone = image_version_defaults(&base("/v"));
        assert_eq!(
            alone["publishingProfile"]["targetRegions"][0]["name"],
            "West Europe"
        );
        assert!(alone["publishingProfile"].get("endOfLifeDate").is_none());
    }

    #[test]
    fn a_vm_is_captured_into_a_generalized_definition_only_once_generalized() {
        let mut world = World::default();
        let definition = format!("{RG}/providers/Microsoft.Compute/galleries/g/images/d");
        world.resources.insert(
            ids::key(&definition),
            Resource {
                id: definition.clone(),
                kind: IMAGE_DEFINITION.kind.into(),
                body: json!({ "osState": "Generalized" }),
                busy: None,
            },
        );
        let vm = Vm::new("s", "rg", "vm", "westeurope");
        let version = json!({
            "id": format!("{definition}/versions/1.0.0"),
            "storageProfile": { "source": { "virtualMachineId": vm.id } },
        });
        let missing = check_capture(&world, IMAGE_VERSION.kind, &version);
        assert!(
            matches!(missing, Err(AzError::Arm { ref code, .. }) if code == "ResourceNotFound")
        );
        world.vms.insert(vm_key("s", "rg", "vm"), vm);
        let refused = check_capture(&world, IMAGE_VERSION.kind, &version);
        assert!(
            matches!(refused, Err(AzError::Arm { ref message, .. }) if message.contains("['Specialized']"))
        );
        if let Some(vm) = world.vms.values_mut().next() {
            vm.generalized = true;
        }
        assert!(check_capture(&world, IMAGE_VERSION.kind, &version).is_ok());
        assert!(check_capture(&world, GALLERY.kind, &version).is_ok());
    }
}
