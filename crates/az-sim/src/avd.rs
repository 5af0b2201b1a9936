//! Azure Virtual Desktop resources: host pools (with registration tokens),
//! application groups and workspaces, shaped as `az desktopvirtualization` prints them.

use serde_json::{Value, json};

use super::call::{Call, Outcome, key_values};
use super::error::AzError;
use super::ids;
use super::resources;
use super::types::{Base, Edit, TypeSpec, no_extras};

pub const HOST_POOL: TypeSpec = TypeSpec {
    kind: "host-pool",
    // The AVD resource provider writes its types in lower case.
    arm_type: "Microsoft.DesktopVirtualization/hostpools",
    shown_type: None,
    name_opt: "name",
    parents: &[],
    required: &[
        "host-pool-type",
        "load-balancer-type",
        "preferred-app-group-type",
    ],
    build: host_pool,
    extras: no_extras,
    update: host_pool_update,
    wrap: None,
    children: &[],
    create_secs: 5.0,
    update_secs: 3.0,
    delete_secs: 5.0,
    confirm_delete: true,
};

pub const APP_GROUP: TypeSpec = TypeSpec {
    kind: "application-group",
    arm_type: "Microsoft.DesktopVirtualization/applicationgroups",
    shown_type: None,
    name_opt: "name",
    parents: &[],
    required: &["host-pool-arm-path", "application-group-type"],
    build: app_group,
    extras: no_extras,
    update: common_update,
    wrap: None,
    children: &[],
    create_secs: 3.0,
    update_secs: 3.0,
    delete_secs: 3.0,
    confirm_delete: true,
};

pub const WORKSPACE: TypeSpec = TypeSpec {
    kind: "workspace",
    arm_type: "Microsoft.DesktopVirtualization/workspaces",
    shown_type: None,
    name_opt: "name",
    parents: &[],
    required: &[],
    build: workspace,
    extras: no_extras,
    update: workspace_update,
    wrap: None,
    children: &[],
    create_secs: 3.0,
    update_secs: 3.0,
    delete_secs: 3.0,
    confirm_delete: true,
};

fn host_pool(call: &Call, b: &Base) -> Result<Value, AzError> {
    let mut body = json!({
        "agentUpdate": null,
        "applicationGroupReferences": [],
        "cloudPcResource": false,
        "customRdpProperty": null,
        "description": null,
        "friendlyName": null,
        "hostPoolType": call.args.req("host-pool-type")?,
        "loadBalancerType": call.args.req("load-balancer-type")?,
        "location": b.location,
        "maxSessionLimit": 999999,
        "objectId": ids::guid(&format!("object:{}", b.id)),
        "personalDesktopAssignmentType": call.args.one("personal-desktop-assignment-type")?,
        "preferredAppGroupType": call.args.req("preferred-app-group-type")?,
        "registrationInfo": null,
        "startVMOnConnect": false,
        "tags": b.tags,
        "validationEnvironment": false,
        "vmTemplate": call.args.one("vm-template")?,
    });
    let edit = host_pool_update(call)?;
    edit(&mut body);
    Ok(body)
}

/// A registration token shaped like the JWT Azure hands out.
fn registration_token(seed: &str) -> String {
    format!(
        "eyJhbGciOiJSUzI1NiIsImtpZCI6IkdPTERTTUlUSCIsInR5cCI6IkpXVCJ9.{}.{}",
        ids::secret(&format!("payload:{seed}")),
        ids::secret(&format!("signature:{seed}"))
    )
    .replace(['+', '/'], "_")
}

fn host_pool_update(call: &Call) -> Result<Edit, AzError> {
    let common = common_update(call)?;
    let mut set: Vec<(&str, Value)> = Vec::new();
    for option in ["load-balancer-type", "custom-rdp-property", "ring"] {
        if let Some(v) = call.args.one(option)? {
            set.push((camel(option), json!(v)));
        }
    }
    if call.args.has("max-session-limit") {
        set.push((
            "maxSessionLimit",
            json!(call.opt_int("max-session-limit", 0)?),
        ));
    }
    for (option, field) in [
        ("start-vm-on-connect", "startVMOnConnect"),
        ("validation-environment", "validationEnvironment"),
    ] {
        if call.args.has(option) {
            set.push((field, json!(call.opt_bool(option, false)?)));
        }
    }
    if call.args.has("registration-info") {
        let info = key_values(&call.args.many("registration-info"));
        let operation = info
            .get("registration-token-operation")
            .and_then(Value::as_str)
            .unwrap_or("None")
            .to_string();
        let expiration = info.get("expiration-time").cloned().unwrap_or(Value::Null);
        let registration = match operation.as_str() {
            "Delete" => Value::Null,
            _ => {
                let seed = format!(
                    "{}:{}",
                    call.args.one("name")?.unwrap_or_default(),
                    super::call::timestamp()
                );
                json!({
                    "expirationTime": expiration,
                    "registrationTokenOperation": operation,
                    "token": registration_token(&seed),
                })
            }
        };
        set.push(("registrationInfo", registration));
    }
    Ok(Box::new(move |body: &mut Value| {
        common(body);
        for (field, value) in set {
            body[field] = value;
        }
    }))
}

fn camel(option: &str) -> &'static str {
    match option {
        "load-balancer-type" => "loadBalancerType",
        "custom-rdp-property" => "customRdpProperty",
        "ring" => "ring",
        "friendly-name" => "friendlyName",
        _ => "description",
    }
}

fn common_update(call: &Call) -> Result<Edit, AzError> {
    let mut set: Vec<(&str, Value)> = Vec::new();
    for option in ["friendly-name", "description"] {
        if let Some(v) = call.args.one(option)? {
            set.push((camel(option), json!(v)));
        }
    }
    if call.args.has("tags") {
        set.push(("tags", call.tags()));
    }
    Ok(Box::new(move |body: &mut Value| {
        for (field, value) in set {
            body[field] = value;
        }
    }))
}

fn app_group(call: &Call, b: &Base) -> Result<Value, AzError> {
    let mut body = json!({
        "applicationGroupType": call.args.req("application-group-type")?,
        "cloudPcResource": false,
        "description": null,
        "friendlyName": null,
        "hostPoolArmPath": call.args.req("host-pool-arm-path")?,
        "location": b.location,
        "objectId": ids::guid(&format!("object:{}", b.id)),
        "tags": b.tags,
        "workspaceArmPath": null,
    });
    let edit = common_update(call)?;
    edit(&mut body);
    Ok(body)
}

fn workspace(call: &Call, b: &Base) -> Result<Value, AzError> {
    let mut body = json!({
        "applicationGroupReferences": [],
        "cloudPcResource": false,
        "description": null,
        "friendlyName": null,
        "location": b.location,
        "objectId": ids::guid(&format!("object:{}", b.id)),
        "publicNetworkAccess": "Enabled",
        "tags": b.tags,
    });
    let edit = workspace_update(call)?;
    edit(&mut body);
    Ok(body)
}

fn workspace_update(call: &Call) -> Result<Edit, AzError> {
    let common = common_update(call)?;
    let references = call.args.has("application-group-references").then(|| {
        call.args
            .many("application-group-references")
            .into_iter()
            .filter(|r| !r.is_empty())
            .collect::<Vec<_>>()
    });
    Ok(Box::new(move |body: &mut Value| {
        common(body);
        if let Some(r) = references {
            body["applicationGroupReferences"] = json!(r);
        }
    }))
}

/// `az desktopvirtualization hostpool retrieve-registration-token`.
pub fn retrieve_registration_token(call: &Call) -> Outcome {
    let pool = resources::show(call, &HOST_POOL)?.unwrap_or(Value::Null);
    Ok(Some(match &pool["registrationInfo"] {
        Value::Object(info) => Value::Object(info.clone()),
        _ => json!({ "expirationTime": null, "registrationTokenOperation": "None", "token": null }),
    }))
}
