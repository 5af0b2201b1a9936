//! What stands between a parsed `az` call and its handler: the login, the
//! scenario's faults for the calling operation attempt, and throttling with
//! az's own silent retries.

use super::account;
use super::args::Args;
use super::error::AzError;
use super::scenario::FaultClass;
use super::sim::Sim;

/// azure-core retries a response with Retry-After at most this often.
const MAX_RETRIES: u32 = 3;

pub fn gate(sim: &Sim, command: &str, arm_type: &str, args: &Args) -> Result<(), AzError> {
    if account::needs_login(command) {
        if sim.transact(|state, _| state.logged_out)? {
            return Err(AzError::not_logged_in());
        }
        super::federated::access_token(sim)?;
    }
    let env = &sim.env;
    if let Some(fault) = sim
        .scenario
        .faults
        .iter()
        .find(|f| f.matches(env.op.as_deref(), env.attempt, command))
    {
        return Err(fault_error(fault.class, command, arm_type, args));
    }
    throttle(sim, command, retries_without_retry_after(command, args))
}

/// Whether azure-core retries a 429 that has no `Retry-After`: only for the
/// idempotent methods (HEAD, GET, PUT, DELETE), not for the POST or PATCH
/// these commands send (azure-core's `RetryPolicy._is_method_retryable`).
fn retries_without_retry_after(command: &str, args: &Args) -> bool {
    const POST_OR_PATCH: [&str; 17] = [
        "vm run-command invoke",
        "vm deallocate",
        "vm generalize",
        "vm restart",
        "vm start",
        "vm stop",
        "storage account keys list",
        "storage account update",
        "storage share-rm update",
        "desktopvirtualization hostpool retrieve-registration-token",
        "desktopvirtualization hostpool update",
        "desktopvirtualization applicationgroup update",
        "desktopvirtualization workspace update",
        "provider register",
        "ad group create",
        "ad group member add",
        "ad group member check",
    ];
    if command == "rest" {
        let method = args.one("method").ok().flatten().unwrap_or_default();
        return !matches!(method.to_lowercase().as_str(), "post" | "patch");
    }
    !POST_OR_PATCH.contains(&command)
}

fn fault_error(class: FaultClass, command: &str, arm_type: &str, args: &Args) -> AzError {
    let option = |name: &str| args.one(name).ok().flatten();
    // `vm extension …` and managed `vm run-command …` name their VM with
    // --vm-name and the child resource with -n.
    let extension = command.starts_with("vm extension ");
    let child =
        extension || (command.starts_with("vm run-command ") && command != "vm run-command invoke");
    let name = (if child {
        option("vm-name")
    } else {
        option("name")
    })
    .unwrap_or_else(|| "vm".into());
    let rg = args
        .one("resource-group")
        .ok()
        .flatten()
        .unwrap_or_else(|| "rg".into());
    match class {
        FaultClass::RunCommandConflict => AzError::conflict(),
        FaultClass::VmNotRunning => AzError::vm_not_running(),
        FaultClass::AgentNotReady => AzError::agent_not_ready(&name),
        FaultClass::ExtensionError if extension => {
            let kind = option("name").unwrap_or_else(|| "extension".into());
            AzError::extension_failed(
                &option("extension-instance-name").unwrap_or_else(|| kind.clone()),
                &option("publisher").unwrap_or_default(),
                &kind,
                "The extension failed to execute (a scenario fault).",
            )
        }
        FaultClass::ExtensionError => AzError::extension_error(
            args.one("command-id").ok().flatten().as_deref() == Some("RunShellScript"),
        ),
        FaultClass::Throttled => AzError::throttled(),
        FaultClass::NotFound if command.starts_with("group ") => AzError::group_not_found(&name),
        FaultClass::NotFound => AzError::resource_not_found(&format!("{arm_type}/{name}"), &rg),
        FaultClass::Auth => AzError::not_logged_in(),
        FaultClass::AzError => AzError::arm_unreachable(),
        FaultClass::ServerError => AzError::server_error(),
    }
}

/// Each request the scenario throttles counts once for the whole run; az
/// waits Retry-After and tries again, silently, up to three times.
/// azure-core's backoff before retry `n` (1-based) of a 429 without
/// `Retry-After`: none for the first, then 0.8 s × 2^(n-1).
fn backoff(n: u32) -> f64 {
    if n <= 1 {
        0.0
    } else {
        0.8 * f64::from(1u32 << (n - 1))
    }
}

fn throttle(sim: &Sim, command: &str, retry_without_header: bool) -> Result<(), AzError> {
    if sim.scenario.throttles.is_empty() {
        return Ok(());
    }
    for attempt in 0..=MAX_RETRIES {
        let hit = sim.transact(|state, _| {
            state.throttle_used.resize(sim.scenario.throttles.len(), 0);
            for (index, rule) in sim.scenario.throttles.iter().enumerate() {
                if rule.matches(command) && state.throttle_used[index] < rule.times {
                    state.throttle_used[index] += 1;
                    return Some(rule.retry_after);
                }
            }
            None
        })?;
        match hit {
            None => return Ok(()),
            Some(Some(wait)) if attempt < MAX_RETRIES => sim.sleep(wait),
            Some(None) if retry_without_header && attempt < MAX_RETRIES => {
                sim.sleep(backoff(attempt + 1))
            }
            Some(_) => return Err(AzError::throttled()),
        }
    }
    Err(AzError::throttled())
}
