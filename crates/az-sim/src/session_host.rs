//! AVD session hosts, as the session hosts API lists them (`az rest` GET
//! `…/hostPools/<pool>/sessionHosts`: the desktopvirtualization extension
//! 1.0.0 has no `sessionhost` commands). The AVD agent registers a VM with its host pool when the DSC
//! extension that installs it finishes (`avd_agent`). From then on the host
//! is listed: `Unavailable` until its first health checks pass
//! (`HEALTHY_AFTER_SECS` later), then `Available`; `Shutdown` while its VM is
//! stopped or deallocated, `Unavailable` while it restarts or once the VM is
//! gone (the registration stays behind, as in AVD).

use serde_json::{Value, json};

use super::avd::HOST_POOL;
use super::avd_agent::Registration;
use super::call::{Call, timestamp};
use super::error::AzError;
use super::ids;
use super::power_state::PowerState;
use super::resources::READ_SECS;
use super::vm::computer_name;
use super::world::{Resource, Vm, World};

pub const KIND: &str = "session-host";
pub const ARM_TYPE: &str = "Microsoft.DesktopVirtualization/hostpools/sessionhosts";
/// Simulated seconds from registration to the first passed health checks.
pub const HEALTHY_AFTER_SECS: f64 = 60.0;
/// The agent and side-by-side stack versions a new host reports.
const AGENT_VERSION: &str = "1.0.10673.1300";
const SXS_VERSION: &str = "rdp-sxs240920700";
const HEALTH_CHECKS: &[&str] = &[
    "DomainJoinedCheck",
    "DomainTrustCheck",
    "FSLogixHealthCheck",
    "SxSStackListenerCheck",
    "UrlsAccessibleCheck",
    "MonitoringAgentCheck",
    "DomainReachable",
    "WebRTCRedirectorCheck",
    "SupportedEncryptionCheck",
    "MetaDataServiceCheck",
    "AppAttachHealthCheck",
];
/// Where the simulator keeps a host's timing inside its resource body.
const SIM_KEY: &str = "_sim";

/// Registers the VM with the host pool from simulated time `at`. A VM that
/// is registered already keeps its registration.
pub fn register(state: &mut World, reg: &Registration, vm: &Vm, at: f64) {
    let host = computer_name(&vm.name);
    let id = format!("{}/sessionhosts/{host}", reg.pool_id);
    let key = ids::key(&id);
    if state.resources.contains_key(&key) {
        return;
    }
    let body = json!({
        "agentVersion": AGENT_VERSION,
        "allowNewSession": true,
        "assignedUser": null,
        "friendlyName": null,
        "id": id,
        "name": format!("{}/{host}", reg.pool),
        "objectId": ids::guid(&format!("object:{id}")),
        "osVersion": "10.0.22631",
        "resourceGroup": reg.resource_group,
        "resourceId": vm.id,
        "sessions": 0,
        "sxSStackVersion": SXS_VERSION,
        "type": ARM_TYPE,
        "updateErrorMessage": "",
        "updateState": "Succeeded",
        "vmId": ids::guid(&format!("vmid:{}", vm.id)),
        SIM_KEY: { "registered_at": at, "healthy_at": at + HEALTHY_AFTER_SECS },
    });
    state.resources.insert(
        key,
        Resource {
            id,
            kind: KIND.to_string(),
            body,
            busy: None,
        },
    );
}

/// What the host reports at `now`; `None` before the agent registered it.
fn render(state: &World, r: &Resource, now: f64) -> Option<Value> {
    let sim = &r.body[SIM_KEY];
    if sim["registered_at"].as_f64().unwrap_or(0.0) > now {
        return None;
    }
    let healthy = sim["healthy_at"].as_f64().unwrap_or(0.0) <= now;
    let vm = r.body["resourceId"]
        .as_str()
        .and_then(|id| state.vms.get(&ids::key(id)));
    let status = match vm {
        None => "Unavailable",
        Some(vm) if vm.transition.is_none() && vm.power != PowerState::Running => "Shutdown",
        Some(vm) if vm.transition.is_some() || vm.agent_ready_at > now => "Unavailable",
        Some(_) if healthy => "Available",
        Some(_) => "Unavailable",
    };
    let mut body = r.body.clone();
    if let Some(map) = body.as_object_mut() {
        map.remove(SIM_KEY);
    }
    let now_text = timestamp();
    let checks: Vec<Value> = if healthy {
        HEALTH_CHECKS
            .iter()
            .map(|name| {
                json!({
                    "additionalFailureDetails": { "errorCode": 0, "lastHealthCheckDateTime": now_text, "message": "" },
                    "healthCheckName": name,
                    "healthCheckResult": "HealthCheckSucceeded",
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    body["sessionHostHealthCheckResults"] = Value::Array(checks);
    body["status"] = json!(status);
    body["statusTimestamp"] = json!(now_text);
    body["lastHeartBeat"] = json!(now_text);
    body["lastUpdateTime"] = json!(now_text);
    Some(body)
}

/// The host pool's id, or ARM's 404 for its group or itself.
fn pool_id(state: &World, subscription: &str, rg: &str, pool: &str) -> Result<String, AzError> {
    if !state.group_exists(subscription, rg) {
        return Err(AzError::group_not_found(rg));
    }
    let id = ids::resource_id(subscription, rg, HOST_POOL.arm_type, &[pool.to_string()]);
    if !state.resources.contains_key(&ids::key(&id)) {
        return Err(AzError::resource_not_found(
            &format!("{}/{pool}", HOST_POOL.arm_type),
            rg,
        ));
    }
    Ok(id)
}

/// The hosts of `pool` as the session hosts API lists them: ARM resources
/// with their `properties` (`GET …/hostPools/<pool>/sessionHosts`, which
/// `wait-session-hosts-available` calls through `az rest`, since the
/// desktopvirtualization extension has no `sessionhost` commands).
pub fn list_arm(call: &Call, rg: &str, pool: &str) -> Result<Vec<Value>, AzError> {
    let sub = call.sub().to_string();
    call.delay(READ_SECS);
    call.sim
        .transact(|state, now| hosts_arm(state, now, &sub, rg, pool))?
}

/// The hosts of `pool` at `now` in ARM's shape, for the built-in `az rest`
/// and the stand-in alike.
pub fn hosts_arm(
    state: &World,
    now: f64,
    subscription: &str,
    rg: &str,
    pool: &str,
) -> Result<Vec<Value>, AzError> {
    let prefix = format!(
        "{}/sessionhosts/",
        ids::key(&pool_id(state, subscription, rg, pool)?)
    );
    Ok(state
        .resources
        .iter()
        .filter(|(k, r)| r.kind == KIND && k.starts_with(&prefix))
        .filter_map(|(_, r)| render(state, r, now))
        .map(arm_shape)
        .collect())
}

/// A flattened host (as the simulator keeps it) in ARM's shape: the envelope
/// fields at the top, everything else under `properties`.
fn arm_shape(flat: Value) -> Value {
    const ENVELOPE: &[&str] = &["id", "name", "type", "systemData"];
    let Value::Object(map) = flat else {
        return flat;
    };
    let mut top = serde_json::Map::new();
    let mut properties = serde_json::Map::new();
    for (k, v) in map {
        if ENVELOPE.contains(&k.as_str()) {
            top.insert(k, v);
        } else if k != "resourceGroup" {
            // az adds `resourceGroup` to what it prints; ARM does not send it.
            properties.insert(k, v);
        }
    }
    top.insert("properties".to_string(), Value::Object(properties));
    Value::Object(top)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (World, Vm, Registration) {
        let mut state = World::default();
        let vm = state.ensure_vm("s", "rg", "host-1", "westeurope").clone();
        let reg = Registration {
            pool_id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DesktopVirtualization/hostpools/pool".into(),
            resource_group: "rg".into(),
            pool: "pool".into(),
        };
        (state, vm, reg)
    }

    #[test]
    fn a_host_shows_up_then_becomes_available() {
        let (mut state, vm, reg) = setup();
        register(&mut state, &reg, &vm, 100.0);
        let r = state
            .resources
            .values()
            .find(|r| r.kind == KIND)
            .unwrap()
            .clone();
        assert_eq!(render(&state, &r, 99.0), None);
        let early = render(&state, &r, 100.0).unwrap();
        assert_eq!(early["status"], "Unavailable");
        assert_eq!(early["name"], "pool/host-1");
        assert!(early.get(SIM_KEY).is_none());
        let later = render(&state, &r, 100.0 + HEALTHY_AFTER_SECS).unwrap();
        assert_eq!(later["status"], "Available");
        assert_eq!(
            later["sessionHostHealthCheckResults"]
                .as_array()
                .unwrap()
                .len(),
            HEALTH_CHECKS.len()
        );
        let vm_key = ids::key(&vm.id);
        state.vms.get_mut(&vm_key).unwrap().power = PowerState::Deallocated;
        assert_eq!(render(&state, &r, 1000.0).unwrap()["status"], "Shutdown");
        state.vms.remove(&vm_key);
        assert_eq!(render(&state, &r, 1000.0).unwrap()["status"], "Unavailable");
    }

    #[test]
    fn registering_again_keeps_the_first_registration() {
        let (mut state, vm, reg) = setup();
        register(&mut state, &reg, &vm, 10.0);
        register(&mut state, &reg, &vm, 500.0);
        let hosts: Vec<_> = state
            .resources
            .values()
            .filter(|r| r.kind == KIND)
            .collect();
        assert_eq!(hosts.len(), 1);
        assert_eq!(hosts[0].body[SIM_KEY]["registered_at"], 10.0);
    }
}
