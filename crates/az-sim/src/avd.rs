//! Azure Virtual Desktop resources: host pools (with registration tokens),
//! application groups and workspaces, shaped as `az desktopvirtualization` prints them.

use serde_json::{Value, json};

use super::call::{Call, Outcome, key_values};
use super::error::AzError;
use super::ids;
use super::resources;
use super::types::{Base, Edit, TypeSpec, no_extras};
use super::world::{Resource, World};

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

/// The AVD type an ARM path segment names (`hostPools`, `applicationGroups`, `workspaces`).
pub fn arm_kind(segment: &str) -> Option<&'static TypeSpec> {
    match segment.to_ascii_lowercase().as_str() {
        "hostpools" => Some(&HOST_POOL),
        "applicationgroups" => Some(&APP_GROUP),
        "workspaces" => Some(&WORKSPACE),
        _ => None,
    }
}

/// One ARM request on an AVD resource, the same for the built-in `az rest`
/// and the stand-in: the method, the resource, the action after it
/// (`retrieveRegistrationToken`) and the request body.
pub struct ArmRequest<'a> {
    pub method: &'a str,
    pub subscription: &'a str,
    pub resource_group: &'a str,
    pub spec: &'static TypeSpec,
    pub name: &'a str,
    pub action: Option<&'a str>,
    pub body: &'a Value,
}

/// ARM's answer: the status and the body (none for 204).
pub struct ArmReply {
    pub status: u16,
    pub body: Option<Value>,
}

/// Serves one AVD request from the world, as the DesktopVirtualization
/// resource provider answers it at [`API_VERSION`]: PUT creates or replaces
/// (201/200), PATCH updates the properties it names (a `registrationInfo`
/// with `registrationTokenOperation: Update` makes a new token), GET reads,
/// DELETE removes, POST `retrieveRegistrationToken` returns the token. The
/// library pins api-version 2024-04-03 (capabilities/avd/operations).
pub fn arm_request(world: &mut World, req: &ArmRequest<'_>) -> Result<ArmReply, AzError> {
    let rg = req.resource_group;
    if !world.group_exists(req.subscription, rg) {
        return Err(AzError::group_not_found(rg));
    }
    let id = ids::resource_id(
        req.subscription,
        rg,
        req.spec.arm_type,
        &[req.name.to_string()],
    );
    let key = ids::key(&id);
    let not_found =
        || AzError::resource_not_found(&format!("{}/{}", req.spec.arm_type, req.name), rg);
    let ok = |body: Value| ArmReply {
        status: 200,
        body: Some(body),
    };
    match (req.method, req.action) {
        ("GET", None) => world
            .resources
            .get(&key)
            .map(|r| ok(arm_view(&r.body)))
            .ok_or_else(not_found),
        ("PUT", None) => {
            let created = !world.resources.contains_key(&key);
            let Some(location) = req.body["location"].as_str() else {
                return Err(AzError::arm(
                    "LocationRequired",
                    "The location property is required for this definition.",
                ));
            };
            let mut body = defaults(req.spec, &id);
            body["id"] = json!(id);
            body["name"] = json!(req.name);
            body["type"] = json!(req.spec.arm_type);
            body["resourceGroup"] = json!(rg);
            body["location"] = json!(location.to_ascii_lowercase().replace(' ', ""));
            body["tags"] = req.body.get("tags").cloned().unwrap_or(json!({}));
            apply(&mut body, &req.body["properties"], &id);
            world.resources.insert(
                key,
                Resource {
                    id: id.clone(),
                    kind: req.spec.kind.to_string(),
                    body: body.clone(),
                    busy: None,
                },
            );
            Ok(ArmReply {
                status: if created { 201 } else { 200 },
                body: Some(arm_view(&body)),
            })
        }
        ("PATCH", None) => {
            let resource = world.resources.get_mut(&key).ok_or_else(not_found)?;
            if let Some(tags) = req.body.get("tags") {
                resource.body["tags"] = tags.clone();
            }
            apply(&mut resource.body, &req.body["properties"], &id);
            Ok(ok(arm_view(&resource.body)))
        }
        ("DELETE", None) => Ok(ArmReply {
            status: if world.resources.remove(&key).is_some() {
                200
            } else {
                204
            },
            body: None,
        }),
        ("POST", Some(action))
            if req.spec.kind == HOST_POOL.kind
                && action.eq_ignore_ascii_case("retrieveRegistrationToken") =>
        {
            let pool = world.resources.get(&key).ok_or_else(not_found)?;
            Ok(ok(match &pool.body["registrationInfo"] {
                Value::Object(info) => Value::Object(info.clone()),
                _ => {
                    json!({ "expirationTime": null, "registrationTokenOperation": "None", "token": null })
                }
            }))
        }
        (method, action) => Err(AzError::arm_404(
            "NotFound",
            format!(
                "The resource provider does not serve {method} {id}{}.",
                action.map(|a| format!("/{a}")).unwrap_or_default()
            ),
        )),
    }
}

/// The properties a new resource has before the request's are applied.
fn defaults(spec: &TypeSpec, id: &str) -> Value {
    let object_id = ids::guid(&format!("object:{id}"));
    if spec.kind == HOST_POOL.kind {
        json!({
            "agentUpdate": null, "applicationGroupReferences": [], "cloudPcResource": false,
            "customRdpProperty": null, "description": null, "friendlyName": null,
            "maxSessionLimit": 999999, "objectId": object_id, "personalDesktopAssignmentType": null,
            "registrationInfo": null, "startVMOnConnect": false, "validationEnvironment": false,
            "vmTemplate": null,
        })
    } else if spec.kind == APP_GROUP.kind {
        json!({
            "cloudPcResource": false, "description": null, "friendlyName": null,
            "objectId": object_id, "workspaceArmPath": null,
        })
    } else {
        json!({
            "applicationGroupReferences": [], "cloudPcResource": false, "description": null,
            "friendlyName": null, "objectId": object_id, "publicNetworkAccess": "Enabled",
        })
    }
}

/// Writes the request's `properties` into the kept body; a host pool's
/// `registrationInfo` is an operation on its token, not a value to store.
fn apply(body: &mut Value, properties: &Value, id: &str) {
    let Some(properties) = properties.as_object() else {
        return;
    };
    for (key, value) in properties {
        if key == "registrationInfo" {
            body[key.as_str()] = match value["registrationTokenOperation"].as_str() {
                Some("Delete") => Value::Null,
                Some("Update") => json!({
                    "expirationTime": value["expirationTime"],
                    "registrationTokenOperation": "Update",
                    "token": registration_token(&format!("{id}:{}", super::call::timestamp())),
                }),
                _ => body[key.as_str()].clone(),
            };
        } else {
            body[key.as_str()] = value.clone();
        }
    }
}

/// A kept resource in ARM's shape: the envelope on top, the rest under
/// `properties`. Since 2023-09-05 ARM never returns the registration token
/// on a read: `retrieveRegistrationToken` does.
pub fn arm_view(flat: &Value) -> Value {
    const ENVELOPE: &[&str] = &["id", "name", "type", "location", "tags"];
    let mut properties = flat.as_object().cloned().unwrap_or_default();
    let mut top = serde_json::Map::new();
    for key in ENVELOPE {
        top.insert(
            key.to_string(),
            properties.remove(*key).unwrap_or(Value::Null),
        );
    }
    properties.remove("resourceGroup");
    if let Some(info) = properties
        .get_mut("registrationInfo")
        .and_then(Value::as_object_mut)
    {
        info.insert("token".into(), Value::Null);
    }
    top.insert("properties".into(), Value::Object(properties));
    Value::Object(top)
}
