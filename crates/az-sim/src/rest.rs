//! `az rest`: the ARM calls the library makes directly, because no command
//! covers them. Only what the library uses is simulated: listing a host
//! pool's session hosts (`GET /subscriptions/{subscriptionId}/resourceGroups/
//! <rg>/providers/Microsoft.DesktopVirtualization/hostPools/<pool>/sessionHosts`).

use serde_json::json;

use super::call::{Call, Outcome};
use super::error::AzError;
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

pub fn rest(call: &Call) -> Outcome {
    let url = call.args.req("url")?;
    let method = call.args.one_or("method", "get")?.to_ascii_lowercase();
    let parts = segments(call, &url);
    let lower: Vec<String> = parts.iter().map(|s| s.to_ascii_lowercase()).collect();
    let words: Vec<&str> = lower.iter().map(String::as_str).collect();
    match (method.as_str(), words.as_slice()) {
        (
            "get",
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
            let hosts = session_host::list_arm(call, &parts[3], &parts[7])?;
            Ok(Some(json!({ "nextLink": null, "value": hosts })))
        }
        _ => Err(AzError::sim(format!(
            "`az rest --method {method} --url {url}` is not simulated; the simulator answers GET …/hostPools/<pool>/sessionHosts only (docs/simulator.md)"
        ))),
    }
}
