//! Azure Compute Gallery resources: galleries, image definitions and image
//! versions, shaped as `az sig` prints them.

use serde_json::{Map, Value, json};

use super::call::{Call, timestamp};
use super::error::AzError;
use super::types::{Base, Parent, TypeSpec, no_extras, tags_only};

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
    // Replicating an image takes long: this is the step a golden image waits on.
    create_secs: 600.0,
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

fn image_version(call: &Call, b: &Base) -> Result<Value, AzError> {
    let replicas = call.opt_int("replica-count", 1)?;
    let storage = call.args.one_or("storage-account-type", "Standard_LRS")?;
    let mut regions: Vec<Value> = call
        .args
        .many("target-regions")
        .iter()
        .map(|spec| {
            // `region[=replicas[=storage type]]`
            let mut parts = spec.split('=');
            let region = parts.next().unwrap_or_default();
            let count = parts
                .next()
                .and_then(|c| c.parse::<i64>().ok())
                .unwrap_or(replicas);
            let kind = parts.next().unwrap_or(&storage).to_string();
            json!({ "name": region_name(region), "regionalReplicaCount": count, "storageAccountType": kind })
        })
        .collect();
    if regions.is_empty() {
        regions.push(json!({
            "name": region_name(&b.location),
            "regionalReplicaCount": replicas,
            "storageAccountType": storage,
        }));
    }
    let mut source = Map::new();
    for option in ["virtual-machine", "managed-image", "os-snapshot"] {
        if let Some(v) = call.args.one(option)? {
            source.insert("id".into(), Value::String(v));
        }
    }
    Ok(json!({
        "location": b.location,
        "publishingProfile": {
            "endOfLifeDate": call.args.one("end-of-life-date")?,
            "excludeFromLatest": call.opt_bool("exclude-from-latest", false)?,
            "publishedDate": timestamp(),
            "replicaCount": replicas,
            "replicationMode": "Full",
            "storageAccountType": storage,
            "targetRegions": regions,
        },
        "safetyProfile": { "allowDeletionOfReplicatedLocations": false },
        "storageProfile": {
            "dataDiskImages": [],
            "osDiskImage": { "hostCaching": "ReadWrite", "sizeInGb": 127 },
            "source": Value::Object(source),
        },
        "tags": b.tags,
    }))
}
