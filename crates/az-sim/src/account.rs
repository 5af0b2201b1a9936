//! The session and the subscription: `az login`/`logout`, `az account …`,
//! `az provider …`, `az config set`, `az extension …` and `az version`.

use serde_json::{Value, json};

use super::call::{Call, Outcome};
use super::error::AzError;
use super::resources::READ_SECS;
use super::world::World;

/// A provider registration completes this long after `provider register`.
/// Also how long the stand-in takes to register one (`standin::arm`).
pub const REGISTER_SECS: f64 = 30.0;
pub const LOGIN_ALIASES: &[(&str, &str)] =
    &[("-u", "username"), ("-p", "password"), ("-t", "tenant")];
pub const PROVIDER_ALIASES: &[(&str, &str)] = &[("-n", "namespace")];
pub const CLI_VERSION: &str = "2.91.0";

fn subscription(call: &Call) -> Value {
    let env = &call.sim.env;
    let service_principal =
        call.args.flag("service-principal").unwrap_or(false) || !call.args.has("username");
    json!({
        "homeTenantId": env.tenant,
        "id": env.subscription,
        "isDefault": true,
        "managedByTenants": [],
        "name": "goldsmith simulated subscription",
        "state": "Enabled",
        "tenantId": env.tenant,
        "user": {
            "name": call.args.one("username").ok().flatten().unwrap_or_else(|| env.client_id.clone()),
            "type": if service_principal { "servicePrincipal" } else { "user" },
        },
    })
}

pub fn login(call: &Call) -> Outcome {
    match call.args.one("federated-token")? {
        Some(assertion) => super::federated::login(call.sim, &assertion)?,
        None => super::federated::forget(call.sim)?,
    }
    call.sim.transact(|state, _| state.logged_out = false)?;
    call.delay(2.0);
    let mut sub = subscription(call);
    sub["cloudName"] = json!("AzureCloud");
    Ok(Some(json!([sub])))
}

pub fn logout(call: &Call) -> Outcome {
    call.sim.transact(|state, _| state.logged_out = true)?;
    Ok(None)
}

pub fn account_show(call: &Call) -> Outcome {
    let mut sub = subscription(call);
    sub["environmentName"] = json!("AzureCloud");
    Ok(Some(sub))
}

/// `account get-access-token`: the ARM token az holds (renewed as MSAL
/// renews it, `federated.rs`), in az's shape; the token itself is a stand-in.
pub fn get_access_token(call: &Call) -> Outcome {
    let expires = match super::federated::access_token(call.sim)? {
        Some(at) => at,
        None => super::clock::unix_now() + super::federated::lifetime(call.sim),
    };
    let env = &call.sim.env;
    let at = jiff::Timestamp::from_second(expires as i64).unwrap_or(jiff::Timestamp::MAX);
    Ok(Some(json!({
        "accessToken": format!("simulated-{}", expires as i64),
        "expiresOn": at.strftime("%Y-%m-%d %H:%M:%S.000000").to_string(),
        "expires_on": expires as i64,
        "subscription": env.subscription,
        "tenant": env.tenant,
        "tokenType": "Bearer",
    })))
}

pub fn account_list(call: &Call) -> Outcome {
    let mut sub = subscription(call);
    sub["cloudName"] = json!("AzureCloud");
    Ok(Some(json!([sub])))
}

pub fn account_set(call: &Call) -> Outcome {
    let wanted = call.args.req("subscription")?;
    let env = &call.sim.env;
    if wanted != env.subscription && wanted != "goldsmith simulated subscription" {
        return Err(AzError::cli(format!(
            "The subscription of '{wanted}' doesn't exist in cloud 'AzureCloud'."
        )));
    }
    Ok(None)
}

/// Commands that need no login, like their real counterparts.
pub fn needs_login(command: &str) -> bool {
    !matches!(
        command,
        "login"
            | "logout"
            | "version"
            | "config set"
            | "extension add"
            | "extension show"
            | "extension list"
    )
}

pub fn config_set(_: &Call) -> Outcome {
    Ok(None)
}

pub fn extension_add(call: &Call) -> Outcome {
    let name = call.args.req("name")?;
    call.sim
        .transact(|state, _| state.extensions.insert(name))?;
    call.delay(5.0);
    Ok(None)
}

fn extension_json(name: &str) -> Value {
    json!({
        "experimental": false,
        "extensionType": "whl",
        "name": name,
        "path": format!("/root/.azure/cliextensions/{name}"),
        "preview": false,
        "version": "1.0.0",
    })
}

pub fn extension_show(call: &Call) -> Outcome {
    let name = call.args.req("name")?;
    let installed = call
        .sim
        .transact(|state, _| state.extensions.contains(&name))?;
    if !installed {
        return Err(AzError::cli(format!(
            "The extension {name} is not installed. Please install the extension via `az extension add -n {name}`."
        )));
    }
    Ok(Some(extension_json(&name)))
}

pub fn extension_list(call: &Call) -> Outcome {
    let names = call.sim.transact(|state, _| state.extensions.clone())?;
    Ok(Some(Value::Array(
        names.iter().map(|n| extension_json(n)).collect(),
    )))
}

pub fn version(call: &Call) -> Outcome {
    let names = call.sim.transact(|state, _| state.extensions.clone())?;
    let extensions: serde_json::Map<String, Value> =
        names.into_iter().map(|n| (n, json!("1.0.0"))).collect();
    Ok(Some(json!({
        "azure-cli": CLI_VERSION,
        "azure-cli-core": CLI_VERSION,
        "azure-cli-telemetry": "1.1.0",
        "extensions": extensions,
    })))
}

fn namespace(call: &Call) -> Result<String, AzError> {
    let ns = call.args.req("namespace")?;
    let known = ns.split('.').count() >= 2 && ns.split('.').all(|p| !p.is_empty());
    if !known {
        return Err(AzError::arm_404(
            "InvalidResourceNamespace",
            format!("The resource namespace '{ns}' is invalid."),
        ));
    }
    Ok(ns)
}

pub fn provider_register(call: &Call) -> Outcome {
    let ns = namespace(call)?;
    let wait = call.args.flag("wait")?;
    let key = ns.to_ascii_lowercase();
    call.sim.transact(|state, now| {
        state.providers.entry(key).or_insert(now + REGISTER_SECS);
    })?;
    if wait {
        call.delay(REGISTER_SECS);
    } else {
        call.warn(format!(
            "Registering is still on-going. You can monitor using 'az provider show -n {ns}'"
        ));
    }
    Ok(None)
}

pub fn provider_show(call: &Call) -> Outcome {
    let ns = namespace(call)?;
    let sub = call.sub().to_string();
    call.delay(READ_SECS);
    let body = call
        .sim
        .transact(|world, now| provider(world, now, &sub, &ns))?;
    Ok(Some(body))
}

/// A resource provider as ARM shows it, registered or not (also the stand-in's answer).
pub fn provider(world: &World, now: f64, subscription: &str, ns: &str) -> Value {
    let state = match world.providers.get(&ns.to_ascii_lowercase()) {
        None => "NotRegistered",
        Some(at) if now >= *at => "Registered",
        Some(_) => "Registering",
    };
    json!({
        "id": format!("/subscriptions/{subscription}/providers/{ns}"),
        "namespace": ns,
        "registrationPolicy": "RegistrationRequired",
        "registrationState": state,
        "resourceTypes": [],
    })
}
