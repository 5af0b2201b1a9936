//! `az vm extension set/show/list/delete`. An extension is a child resource of
//! its VM (`…/virtualMachines/<vm>/extensions/<name>`), shown in the shape az
//! 2.91's aaz commands print: the ARM properties flattened, the handler type
//! as `typePropertiesType`, and never the protected settings, which the
//! simulator reads (`@/dev/fd/N` included), hands to the VM agent
//! (`vm_agent`) and forgets. The extension shows `Creating`/`Updating` until
//! the agent is done with it, then `Succeeded` or `Failed`.

use serde_json::{Value, json};

use super::call::{Call, Outcome, timestamp};
use super::error::AzError;
use super::ids;
use super::json_arg::{self, Echo};
use super::resources::{self, READ_SECS};
use super::session_host;
use super::vm;
use super::vm_agent::{self, Effect};
use super::world::{Busy, BusyOp, Resource, World};

pub const KIND: &str = "vm-extension";
pub const ARM_TYPE: &str = "Microsoft.Compute/virtualMachines/extensions";
const DELETE_SECS: f64 = 30.0;
/// Where the simulator keeps the agent's message inside the resource body.
const SIM_KEY: &str = "_sim";

pub const ALIASES: &[(&str, &str)] = &[("--vm-extension-name", "name")];

/// The VM an extension command names, and the extension when it names one.
pub(crate) struct Target {
    pub(crate) rg: String,
    pub(crate) vm: String,
    pub(crate) extension: Option<String>,
}

/// `-g`/`--vm-name` (plus `required`), or `--ids` with the VM's or the
/// extension's id.
fn target(call: &Call, required: &[&str]) -> Result<Target, AzError> {
    if let Some(id) = call.args.one("ids")? {
        let (rg, names) = ids::parse_id(&id)
            .filter(|(_, n)| (1..=2).contains(&n.len()))
            .ok_or_else(|| {
                AzError::usage(format!("argument --ids: invalid resource id: '{id}'"))
            })?;
        let from_id = names.get(1).cloned();
        let still: Vec<&str> = required
            .iter()
            .copied()
            .filter(|r| !(from_id.is_some() && *r == "name"))
            .collect();
        call.args.require(&still)?;
        return Ok(Target {
            rg,
            vm: names[0].clone(),
            extension: match from_id {
                Some(e) => Some(e),
                None => call.args.one("name")?,
            },
        });
    }
    let mut all = vec!["resource-group", "vm-name"];
    all.extend(required);
    call.args.require(&all)?;
    Ok(Target {
        rg: call.args.req("resource-group")?,
        vm: call.args.req("vm-name")?,
        extension: call.args.one("name")?,
    })
}

pub(crate) fn extension_id(subscription: &str, t: &Target, name: &str) -> String {
    ids::resource_id(
        subscription,
        &t.rg,
        ARM_TYPE,
        &[t.vm.clone(), name.to_string()],
    )
}

fn not_found(t: &Target, name: &str) -> AzError {
    AzError::resource_not_found(
        &format!(
            "Microsoft.Compute/virtualMachines/{}/extensions/{name}",
            t.vm
        ),
        &t.rg,
    )
}

/// The extension as ARM shows it: its operation's state while the agent
/// works, and with `$expand=instanceView` what the agent reported.
pub(crate) fn render(state: &World, r: &Resource, instance_view: bool) -> Value {
    let mut body = resources::render(state, r);
    let message = body[SIM_KEY]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if let Some(map) = body.as_object_mut() {
        map.remove(SIM_KEY);
    }
    if instance_view {
        let provisioning = body["provisioningState"].as_str().unwrap_or_default();
        let (code, display, level) = match provisioning {
            "Succeeded" => (
                "ProvisioningState/succeeded",
                "Provisioning succeeded",
                "Info",
            ),
            "Failed" => (
                "ProvisioningState/failed/-1",
                "Provisioning failed",
                "Error",
            ),
            _ => ("ProvisioningState/transitioning", "Transitioning", "Info"),
        };
        body["instanceView"] = json!({
            "name": body["name"],
            "statuses": [{ "code": code, "displayStatus": display, "level": level, "message": message, "time": timestamp() }],
            "type": format!(
                "{}.{}",
                body["publisher"].as_str().unwrap_or_default(),
                body["typePropertiesType"].as_str().unwrap_or_default()
            ),
            "typeHandlerVersion": body["typeHandlerVersion"],
        });
    }
    body
}

/// The VM's extension running the same handler, under whatever name.
fn same_handler(state: &World, vm_id: &str, publisher: &str, kind: &str) -> Option<String> {
    let prefix = format!("{}/extensions/", ids::key(vm_id));
    state
        .resources
        .iter()
        .find(|(k, r)| {
            r.kind == KIND
                && k.starts_with(&prefix)
                && r.body["publisher"]
                    .as_str()
                    .is_some_and(|p| p.eq_ignore_ascii_case(publisher))
                && r.body["typePropertiesType"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(kind))
        })
        .and_then(|(_, r)| r.body["name"].as_str().map(String::from))
}

/// What `set` was told, resolved before the state is locked.
pub(crate) struct SetRequest {
    pub(crate) target: Target,
    pub(crate) kind: String,
    pub(crate) publisher: String,
    pub(crate) instance: String,
    pub(crate) version: Option<String>,
    pub(crate) settings: Option<Value>,
    pub(crate) protected: Option<Value>,
    pub(crate) auto_upgrade_minor: bool,
    pub(crate) enable_auto_upgrade: Option<bool>,
    pub(crate) force_update: bool,
}

fn set_request(call: &Call) -> Result<SetRequest, AzError> {
    let target = target(call, &["name", "publisher"])?;
    let kind = call.args.req("name")?;
    // argparse runs the JSON validators before the command reads the VM.
    let settings = json_arg::read(call, "settings", Echo::Show)?;
    let protected = json_arg::read(call, "protected-settings", Echo::Withhold)?;
    let no_auto_upgrade = if call.args.has("no-auto-upgrade") {
        call.warn("Option '--no-auto-upgrade' has been deprecated and will be removed in a future release. Use '--no-auto-upgrade-minor-version' instead.");
        call.args.flag("no-auto-upgrade")?
    } else {
        call.args.flag("no-auto-upgrade-minor-version")?
    };
    let enable_auto_upgrade = if call.args.has("enable-auto-upgrade") {
        Some(call.args.flag("enable-auto-upgrade")?)
    } else {
        None
    };
    Ok(SetRequest {
        instance: call
            .args
            .one("extension-instance-name")?
            .unwrap_or_else(|| kind.clone()),
        publisher: call.args.req("publisher")?,
        version: call.args.one("version")?,
        force_update: call.args.flag("force-update")?,
        auto_upgrade_minor: !no_auto_upgrade,
        enable_auto_upgrade,
        settings,
        protected,
        target,
        kind,
    })
}

/// What the first transaction of `set` decided.
pub(crate) struct Started {
    pub(crate) name: String,
    pub(crate) id: String,
    /// Simulated seconds until the agent is done.
    pub(crate) wait: f64,
    pub(crate) failure: Option<String>,
}

pub(crate) fn start(
    state: &mut World,
    sub: &str,
    req: &SetRequest,
    now: f64,
) -> Result<Started, AzError> {
    let t = &req.target;
    let vm = vm::find(state, sub, &t.rg, &t.vm)?.clone();
    // An extension of the same handler is updated under its own name.
    let name = same_handler(state, &vm.id, &req.publisher, &req.kind)
        .unwrap_or_else(|| req.instance.clone());
    if !vm.accepts_run_command() {
        return Err(AzError::extension_vm_not_running());
    }
    let version = vm_agent::version(&req.publisher, &req.kind, req.version.as_deref());
    // The agent picks the extension up once it is ready (after a create or a restart).
    let done = now.max(vm.agent_ready_at) + vm_agent::seconds(&req.publisher, &req.kind);
    let effect = vm_agent::run(
        state,
        sub,
        &req.publisher,
        &req.kind,
        req.settings.as_ref(),
        req.protected.as_ref(),
    );
    let id = extension_id(sub, t, &name);
    let key = ids::key(&id);
    let serial = state.next_serial();
    let mut body = json!({
        "autoUpgradeMinorVersion": req.auto_upgrade_minor,
        "id": id,
        "location": vm.location,
        "name": name,
        "provisioningState": if effect.is_ok() { "Succeeded" } else { "Failed" },
        "publisher": req.publisher,
        "resourceGroup": t.rg,
        "type": ARM_TYPE,
        "typeHandlerVersion": version,
        "typePropertiesType": req.kind,
        SIM_KEY: { "message": effect.as_ref().err().cloned().unwrap_or_else(|| "Enable succeeded.".into()) },
    });
    if let Some(settings) = &req.settings {
        body["settings"] = settings.clone();
    }
    if let Some(enable) = req.enable_auto_upgrade {
        body["enableAutomaticUpgrade"] = json!(enable);
    }
    if req.force_update {
        body["forceUpdateTag"] = json!(ids::guid(&format!("force-update:{id}:{serial}")));
    }
    let op = if state.resources.contains_key(&key) {
        BusyOp::Updating
    } else {
        BusyOp::Creating
    };
    state.resources.insert(
        key,
        Resource {
            id: id.clone(),
            kind: KIND.to_string(),
            body,
            busy: Some(Busy { op, until: done }),
        },
    );
    if let Ok(Effect::SessionHost(registration)) = &effect {
        session_host::register(state, registration, &vm, done);
    }
    Ok(Started {
        name,
        id,
        wait: done - now,
        failure: effect.err(),
    })
}

/// `az vm extension set`: adds or updates the extension and waits for the agent.
pub fn set(call: &Call) -> Outcome {
    let req = set_request(call)?;
    let sub = call.sub().to_string();
    let started = call
        .sim
        .transact(|state, now| start(state, &sub, &req, now))??;
    if started.name != req.instance {
        call.warn(format!(
            "A {} extension with name {} already exists. Updating it with your settings...",
            req.kind, started.name
        ));
    }
    if call.no_wait()? {
        return Ok(None);
    }
    call.delay(started.wait);
    let shown = call.sim.transact(|state, _| {
        vm::find(state, &sub, &req.target.rg, &req.target.vm)?;
        state
            .resources
            .get(&ids::key(&started.id))
            .map(|r| render(state, r, false))
            .ok_or_else(|| not_found(&req.target, &started.name))
    })??;
    if let (Some(message), Some("Failed")) = (&started.failure, shown["provisioningState"].as_str())
    {
        return Err(AzError::extension_failed(
            &started.name,
            &req.publisher,
            &req.kind,
            message,
        ));
    }
    Ok(Some(shown))
}

/// `az vm extension show`.
pub fn show(call: &Call) -> Outcome {
    let t = target(call, &["name"])?;
    let name = t.extension.clone().unwrap_or_default();
    let expand = call
        .args
        .one("expand")?
        .is_some_and(|e| e.eq_ignore_ascii_case("instanceView"));
    let sub = call.sub().to_string();
    call.delay(READ_SECS);
    call.sim.transact(|state, _| {
        vm::find(state, &sub, &t.rg, &t.vm)?;
        state
            .resources
            .get(&ids::key(&extension_id(&sub, &t, &name)))
            .filter(|r| r.kind == KIND)
            .map(|r| Some(render(state, r, expand)))
            .ok_or_else(|| not_found(&t, &name))
    })?
}

/// `az vm extension list`.
pub fn list(call: &Call) -> Outcome {
    let t = target(call, &[])?;
    let expand = call
        .args
        .one("expand")?
        .is_some_and(|e| e.eq_ignore_ascii_case("instanceView"));
    let sub = call.sub().to_string();
    call.delay(READ_SECS);
    let items = call.sim.transact(|state, _| {
        let vm_id = vm::find(state, &sub, &t.rg, &t.vm)?.id.clone();
        let prefix = format!("{}/extensions/", ids::key(&vm_id));
        Ok::<_, AzError>(
            state
                .resources
                .iter()
                .filter(|(k, r)| r.kind == KIND && k.starts_with(&prefix))
                .map(|(_, r)| render(state, r, expand))
                .collect::<Vec<_>>(),
        )
    })??;
    Ok(Some(Value::Array(items)))
}

/// `az vm extension delete`: ARM answers 204 for an extension that is not there.
pub fn delete(call: &Call) -> Outcome {
    let t = target(call, &["name"])?;
    let name = t.extension.clone().unwrap_or_default();
    let sub = call.sub().to_string();
    let found = call.sim.transact(|state, now| {
        if !state.group_exists(&sub, &t.rg) {
            return Err(AzError::group_not_found(&t.rg));
        }
        let Some(r) = state
            .resources
            .get_mut(&ids::key(&extension_id(&sub, &t, &name)))
            .filter(|r| r.kind == KIND)
        else {
            return Ok(false);
        };
        r.busy = Some(Busy {
            op: BusyOp::Deleting,
            until: now + DELETE_SECS,
        });
        Ok(true)
    })??;
    if found && !call.no_wait()? {
        call.delay(DELETE_SECS);
    }
    Ok(None)
}
