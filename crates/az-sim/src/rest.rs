//! `az rest`: the ARM calls the library makes directly, because no command
//! of az itself covers them: the AVD control plane (host pools, application
//! groups, workspaces, the registration token; `avd::arm_request`, which the
//! stand-in serves too) and a host pool's session hosts
//! (`GET …/hostPools/<pool>/sessionHosts`).

use serde_json::{Value, json};

use super::avd::{self, ArmRequest};
use super::call::{Call, Outcome};
use super::error::AzError;
use super::json_arg::{self, Echo};
use super::resources::READ_SECS;
use super::session_host;

/// The ARM host az rest prepends to a relative URL.
const ARM: &str = "https://management.azure.com";

/// `--url` without the ARM host and query, `{subscriptionId}` filled in as
/// az does, split into path segments.
fn segments(call: &Call, url: &str) -> Vec<String> {
    let path = url.strip_prefix(ARM).unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    path.replace("{subscriptionId}", call.sub())
        .split('/')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// What az rest prints for an HTTP error: the reason and the body as ARM sent it.
fn http_error(e: AzError) -> AzError {
    let AzError::Arm {
        code,
        message,
        not_found,
    } = &e
    else {
        return e;
    };
    let reason = if *not_found { "Not Found" } else { "Conflict" };
    let body = json!({ "error": { "code": code, "message": message } });
    AzError::cli(format!("{reason}({body})"))
}

pub fn rest(call: &Call) -> Outcome {
    let url = call.args.req("url")?;
    let method = call.args.one_or("method", "get")?.to_ascii_uppercase();
    let parts = segments(call, &url);
    let lower: Vec<String> = parts.iter().map(|s| s.to_ascii_lowercase()).collect();
    let words: Vec<&str> = lower.iter().map(String::as_str).collect();
    match (method.as_str(), words.as_slice()) {
        (
            "GET",
            [
                "subscriptions",
                sub,
                "resourcegroups",
                _,
                "providers",
                "microsoft.desktopvirtualization",
                "hostpools",
                _,
                "sessionhosts",
            ],
        ) if sub.eq_ignore_ascii_case(call.sub()) => {
            let hosts = session_host::list_arm(call, &parts[3], &parts[7]).map_err(http_error)?;
            Ok(Some(json!({ "nextLink": null, "value": hosts })))
        }
        (
            _,
            [
                "subscriptions",
                sub,
                "resourcegroups",
                _,
                "providers",
                "microsoft.desktopvirtualization",
                kind,
                _,
                action @ ..,
            ],
        ) if sub.eq_ignore_ascii_case(call.sub()) && action.len() <= 1 => {
            let Some(spec) = avd::arm_kind(kind) else {
                return Err(not_simulated(&method, &url));
            };
            let body = json_arg::read(call, "body", Echo::Show)?.unwrap_or(Value::Null);
            let sub = call.sub().to_string();
            call.delay(READ_SECS);
            let reply = call.sim.transact(|world, _| {
                avd::arm_request(
                    world,
                    &ArmRequest {
                        method: &method,
                        subscription: &sub,
                        resource_group: &parts[3],
                        spec,
                        name: &parts[7],
                        action: parts.get(8).map(String::as_str),
                        body: &body,
                    },
                )
            })?;
            Ok(reply.map_err(http_error)?.body)
        }
        _ => Err(not_simulated(&method, &url)),
    }
}

fn not_simulated(method: &str, url: &str) -> AzError {
    AzError::sim(format!(
        "`az rest --method {method} --url {url}` is not simulated; the simulator answers the AVD control plane (Microsoft.DesktopVirtualization hostPools, applicationGroups, workspaces, retrieveRegistrationToken, sessionHosts) only (docs/simulator.md)"
    ))
}
