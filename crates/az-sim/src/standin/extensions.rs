//! VM extensions as ARM serves them to the real az (`az vm extension
//! set/show`): `PUT …/virtualMachines/{vm}/extensions/{name}` starts the
//! extension through the built-in az's own `vm_extension::start` (so the VM
//! agent runs it and the AVD agent registers the session host exactly as
//! there), answers 201 with an `Azure-AsyncOperation` that is polled until
//! the agent is done (`Failed` with the handler's error); `GET` shows it.
//! Also the extension image catalog `vm extension set` reads for the latest
//! version when `--version` is missing (`vm_agent`'s handlers).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::arm::Request;
use super::{Reply, StandIn, operations};
use crate::error::AzError;
use crate::ids;
use crate::vm;
use crate::vm_agent;
use crate::vm_extension::{self, SetRequest, Target};

/// Whether the lower-cased segments name a VM extension, an extension
/// operation, or the extension image catalog of a location.
pub fn serves(lower: &[&str]) -> bool {
    use super::arm::Under::{Group, Subscription};
    matches!(
        super::arm::under(lower),
        Some(Group {
            provider: "microsoft.compute",
            rest: ["virtualmachines", _, "extensions", _],
        }) | Some(Subscription {
            provider: "microsoft.compute",
            rest: ["locations", _, "publishers"]
                | [
                    "locations",
                    _,
                    "publishers",
                    _,
                    "artifacttypes",
                    "vmextension",
                    ..
                ]
                | ["locations", _, "extensionoperations", _],
        })
    )
}

pub fn route(standin: &StandIn, req: &Request<'_>) -> Reply {
    let lower = &req.lower;
    let at = |i: usize| req.segments[i];
    match (req.method, &lower[..]) {
        ("PUT", [.., "extensions", _]) => set(standin, at(3), at(7), at(9), req.body),
        ("GET", [.., "extensions", _]) => {
            let expand = req.query.to_lowercase().contains("instanceview");
            show(standin, at(3), at(7), at(9), expand)
        }
        ("GET", [.., "extensionoperations", id]) => poll(standin, id),
        ("GET", [.., "publishers"]) => Reply::json(
            200,
            Value::Array(
                vm_agent::publishers()
                    .into_iter()
                    .map(|p| catalog_entry(standin, at(5), p, &[]))
                    .collect(),
            ),
        ),
        ("GET", [.., "artifacttypes", "vmextension", "types"]) => {
            let publisher = at(7);
            Reply::json(
                200,
                Value::Array(
                    vm_agent::handlers_of(publisher)
                        .into_iter()
                        .map(|(kind, _)| {
                            catalog_entry(
                                standin,
                                at(5),
                                publisher,
                                &["ArtifactTypes", "VMExtension", "Types", kind],
                            )
                        })
                        .collect(),
                ),
            )
        }
        ("GET", [.., "artifacttypes", "vmextension", "types", _, "versions"]) => {
            let (publisher, kind) = (at(7), at(11));
            let versions: Vec<Value> = vm_agent::handlers_of(publisher)
                .into_iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(kind))
                .map(|(kind, latest)| {
                    let version = format!("{latest}.0.0");
                    catalog_entry(
                        standin,
                        at(5),
                        publisher,
                        &[
                            "ArtifactTypes",
                            "VMExtension",
                            "Types",
                            kind,
                            "Versions",
                            &version,
                        ],
                    )
                })
                .collect();
            Reply::json(200, Value::Array(versions))
        }
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

/// One entry of the extension image catalog: its id, location and name
/// (the last of `path`, or the publisher).
fn catalog_entry(standin: &StandIn, location: &str, publisher: &str, path: &[&str]) -> Value {
    let mut id = format!(
        "/Subscriptions/{}/Providers/Microsoft.Compute/Locations/{location}/Publishers/{publisher}",
        standin.env.subscription
    );
    for part in path {
        id.push('/');
        id.push_str(part);
    }
    json!({ "id": id, "location": location, "name": path.last().copied().unwrap_or(publisher) })
}

/// An extension operation: the extension it waits for, and ARM's error
/// (code, message) once it fails.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    key: String,
    failure: Option<(String, String)>,
}

/// An extension as the simulator shows it (flattened, the handler type as
/// `typePropertiesType`) in ARM's shape.
fn to_arm(mut flat: Value) -> Value {
    let kind = flat
        .as_object_mut()
        .and_then(|m| m.remove("typePropertiesType"))
        .unwrap_or(Value::Null);
    let mut arm = super::wire::to_arm(&flat);
    arm["properties"]["type"] = kind;
    arm
}

fn set(standin: &StandIn, rg: &str, vm_name: &str, name: &str, body: &[u8]) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return Reply::arm_error(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        );
    };
    let properties = &body["properties"];
    let text = |field: &str| properties[field].as_str().map(str::to_string);
    let (Some(publisher), Some(kind)) = (text("publisher"), text("type")) else {
        return Reply::arm_error(
            400,
            "InvalidParameter",
            "The extension's publisher and type are required.",
        );
    };
    let request = SetRequest {
        target: Target {
            rg: rg.to_string(),
            vm: vm_name.to_string(),
            extension: Some(name.to_string()),
        },
        kind,
        publisher,
        instance: name.to_string(),
        version: text("typeHandlerVersion"),
        settings: properties.get("settings").cloned(),
        protected: properties.get("protectedSettings").cloned(),
        auto_upgrade_minor: properties["autoUpgradeMinorVersion"]
            .as_bool()
            .unwrap_or(true),
        enable_auto_upgrade: properties["enableAutomaticUpgrade"].as_bool(),
        force_update: properties["forceUpdateTag"].is_string(),
    };
    let sub = standin.env.subscription.clone();
    let started = standin.sim().transact(|world, now| {
        let started = vm_extension::start(world, &sub, &request, now)?;
        let key = ids::key(&started.id);
        let shown = world
            .resources
            .get(&key)
            .map(|r| vm_extension::render(world, r, false))
            .unwrap_or(Value::Null);
        let location = vm::find(world, &sub, rg, vm_name)?.location.clone();
        Ok::<_, AzError>((started, key, shown, location, now, world.next_serial()))
    });
    let (started, key, shown, location, now, serial) = match started {
        Ok(Ok(started)) => started,
        Ok(Err(e)) | Err(e) => return Reply::from_az(&e),
    };
    let id = operations::new_id(&key, now, serial);
    let failure = started.failure.and_then(|message| {
        match AzError::extension_failed(&started.name, &request.publisher, &request.kind, &message)
        {
            AzError::Arm { code, message, .. } => Some((code, message)),
            _ => None,
        }
    });
    let pending = Pending { key, failure };
    if let Err(reply) = operations::save(standin, &id, &pending) {
        return reply;
    }
    let mut reply = Reply::json(201, to_arm(shown));
    reply.async_operation = Some(operations::url(
        standin,
        &format!(
            "/subscriptions/{sub}/providers/Microsoft.Compute/locations/{location}/extensionOperations/{id}"
        ),
    ));
    reply.retry_after = Some(1);
    reply
}

fn show(standin: &StandIn, rg: &str, vm_name: &str, name: &str, expand: bool) -> Reply {
    let sub = standin.env.subscription.clone();
    let shown = standin.sim().transact(|world, _| {
        vm::find(world, &sub, rg, vm_name)?;
        let target = Target {
            rg: rg.to_string(),
            vm: vm_name.to_string(),
            extension: Some(name.to_string()),
        };
        world
            .resources
            .get(&ids::key(&vm_extension::extension_id(&sub, &target, name)))
            .filter(|r| r.kind == vm_extension::KIND)
            .map(|r| vm_extension::render(world, r, expand))
            .ok_or_else(|| {
                AzError::resource_not_found(
                    &format!("Microsoft.Compute/virtualMachines/{vm_name}/extensions/{name}"),
                    rg,
                )
            })
    });
    match shown {
        Ok(Ok(body)) => Reply::json(200, to_arm(body)),
        Ok(Err(e)) | Err(e) => Reply::from_az(&e),
    }
}

/// The extension operation's status: in progress while the agent works on
/// it, then `Succeeded`, or `Failed` with the handler's error.
fn poll(standin: &StandIn, id: &str) -> Reply {
    let pending: Pending = match operations::load(standin, id) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let done = standin.sim().transact(|world, _| {
        world
            .resources
            .get(&pending.key)
            .is_none_or(|r| r.busy.is_none())
    });
    match (done, pending.failure) {
        (Ok(true), Some((code, message))) => Reply::json(
            200,
            json!({
                "name": id,
                "status": "Failed",
                "startTime": jiff::Timestamp::now().to_string(),
                "error": { "code": code, "message": message },
            }),
        ),
        (Ok(done), _) => operations::status(id, done),
        (Err(e), _) => Reply::from_az(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::avd::HOST_POOL;
    use crate::env::DEFAULT_SUBSCRIPTION;
    use crate::world::Resource;

    /// A stand-in whose world has a running VM `host-1` and a host pool
    /// `pool` with the registration token `tok-1`.
    fn standin(dir: &std::path::Path) -> StandIn {
        let s = StandIn::for_tests(dir, None);
        s.sim()
            .transact(|world, _| {
                world.ensure_vm(DEFAULT_SUBSCRIPTION, "rg", "host-1", "westeurope");
                let id = ids::resource_id(DEFAULT_SUBSCRIPTION, "rg", HOST_POOL.arm_type, &["pool".into()]);
                world.resources.insert(
                    ids::key(&id),
                    Resource {
                        id,
                        kind: HOST_POOL.kind.into(),
                        body: json!({ "name": "pool", "resourceGroup": "rg",
                                      "registrationInfo": { "token": "tok-1", "expirationTime": "2999-01-01T00:00:00Z" } }),
                        busy: None,
                    },
                );
            })
            .expect("the world");
        s
    }

    fn dsc(token: &str) -> Vec<u8> {
        json!({
            "location": "westeurope",
            "properties": {
                "publisher": "Microsoft.Powershell",
                "type": "DSC",
                "typeHandlerVersion": "2.83",
                "autoUpgradeMinorVersion": true,
                "settings": { "configurationFunction": "Configuration.ps1\\AddSessionHost",
                              "properties": { "hostPoolName": "pool",
                                              "registrationInfoTokenCredential": { "UserName": "x", "Password": "PrivateSettingsRef:RegistrationInfoToken" } } },
                "protectedSettings": { "Items": { "RegistrationInfoToken": token } },
            },
        })
        .to_string()
        .into_bytes()
    }

    /// Polls the operation a PUT answered with until it is over.
    fn settled(s: &StandIn, reply: &Reply) -> Value {
        let url = reply
            .async_operation
            .as_deref()
            .expect("Azure-AsyncOperation");
        let path = url
            .trim_start_matches("https://127.0.0.1:1")
            .split('?')
            .next()
            .unwrap_or_default()
            .to_string();
        for _ in 0..100 {
            let status = super::super::route(s, "GET", &path, "", b"");
            let body = status.body.clone().expect("a status");
            if body["status"] != "InProgress" {
                return body;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the extension operation never ended");
    }

    #[test]
    fn the_dsc_extension_registers_the_session_host_and_a_stale_token_fails_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = standin(dir.path());
        let rg = format!("/subscriptions/{DEFAULT_SUBSCRIPTION}/resourceGroups/rg");
        let ext = format!(
            "{rg}/providers/Microsoft.Compute/virtualMachines/host-1/extensions/Microsoft.PowerShell.DSC"
        );
        let hosts =
            format!("{rg}/providers/Microsoft.DesktopVirtualization/hostPools/pool/sessionHosts");
        assert_eq!(super::super::route(&s, "GET", &ext, "", b"").status, 404);

        let created = super::super::route(&s, "PUT", &ext, "", &dsc("tok-1"));
        assert_eq!((created.status, created.retry_after), (201, Some(1)));
        let body = created.body.clone().expect("the extension");
        assert_eq!(body["properties"]["provisioningState"], "Creating");
        assert_eq!(body["properties"]["type"], "DSC");
        assert!(body["properties"].get("protectedSettings").is_none());
        assert_eq!(settled(&s, &created)["status"], "Succeeded");
        let shown = super::super::route(&s, "GET", &ext, "", b"");
        assert_eq!(
            shown.body.expect("the extension")["properties"]["provisioningState"],
            "Succeeded"
        );
        let listed = super::super::route(&s, "GET", &hosts, "", b"");
        let listed = listed.body.expect("the hosts");
        assert_eq!(listed["value"][0]["name"], "pool/host-1");

        let stale = super::super::route(&s, "PUT", &ext, "", &dsc("stale-secret"));
        let failed = settled(&s, &stale);
        assert_eq!(failed["status"], "Failed");
        assert_eq!(failed["error"]["code"], "VMExtensionProvisioningError");
        assert!(!failed.to_string().contains("stale-secret"));
    }

    #[test]
    fn the_catalog_lists_the_latest_version_of_a_known_handler() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = StandIn::for_tests(dir.path(), None);
        let base = format!(
            "/subscriptions/{DEFAULT_SUBSCRIPTION}/providers/Microsoft.Compute/locations/westeurope/publishers"
        );
        let publishers = super::super::route(&s, "GET", &base, "", b"")
            .body
            .expect("publishers");
        assert!(
            publishers
                .as_array()
                .expect("a list")
                .iter()
                .any(|p| p["name"] == "Microsoft.Azure.ActiveDirectory")
        );
        let versions = super::super::route(
            &s,
            "GET",
            &format!(
                "{base}/Microsoft.Azure.ActiveDirectory/artifacttypes/vmextension/types/AADLoginForWindows/versions"
            ),
            "",
            b"",
        );
        assert_eq!(versions.body.expect("versions")[0]["name"], "2.2.0.0");
    }
}
