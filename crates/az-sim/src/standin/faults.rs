//! The scenario's `faults:` for requests the real az sends. A fault names an
//! operation, its attempts and an az command; the stand-in learns the first
//! two from az's `User-Agent` (goldsmith adds `op/<id> attempt/<n>` through
//! `AZURE_HTTP_USER_AGENT`) and the command from az's `CommandName` header,
//! then answers as Azure does for the fault's class.

use super::Reply;
use crate::error::AzError;
use crate::scenario::FaultClass;

/// What a faulted request gets.
pub enum Injected {
    /// An HTTP answer.
    Reply(Reply),
    /// The connection closes without an answer (ARM cannot be reached).
    Drop,
}

/// The calling operation and attempt, as goldsmith writes them into the
/// User-Agent; attempt 1 when az was started by something else.
pub fn caller(user_agent: &str) -> (Option<&str>, u32) {
    let mut op = None;
    let mut attempt = 1;
    for token in user_agent.split_whitespace() {
        if let Some(id) = token.strip_prefix("op/") {
            op = Some(id);
        } else if let Some(n) = token.strip_prefix("attempt/").and_then(|n| n.parse().ok()) {
            attempt = n;
        }
    }
    (op, attempt)
}

/// The answer for a fault of `class` on a request for `segments` (the ARM path).
pub fn answer(class: FaultClass, segments: &[&str]) -> Injected {
    let (resource_group, type_and_name) = target(segments);
    let error = match class {
        FaultClass::RunCommandConflict => AzError::conflict(),
        FaultClass::VmNotRunning => AzError::vm_not_running(),
        FaultClass::AgentNotReady => {
            AzError::agent_not_ready(type_and_name.rsplit('/').next().unwrap_or("vm"))
        }
        FaultClass::ExtensionError => AzError::extension_error(false),
        FaultClass::Throttled => return with_status(429, &AzError::throttled()),
        FaultClass::NotFound if type_and_name.is_empty() => {
            AzError::group_not_found(&resource_group)
        }
        FaultClass::NotFound => AzError::resource_not_found(&type_and_name, &resource_group),
        FaultClass::ServerError => return with_status(500, &AzError::server_error()),
        // A token ARM no longer accepts: az shows ARM's 401 as it is.
        FaultClass::Auth => {
            return Injected::Reply(Reply::arm_error(
                401,
                "ExpiredAuthenticationToken",
                "The access token has expired (a scenario fault). Sign in again.",
            ));
        }
        FaultClass::AzError => return Injected::Drop,
    };
    Injected::Reply(Reply::from_az(&error))
}

/// ARM's body for `error`, with a status `Reply::from_az` would not choose.
fn with_status(status: u16, error: &AzError) -> Injected {
    let mut reply = Reply::from_az(error);
    reply.status = status;
    Injected::Reply(reply)
}

/// The resource group and `Namespace/type/name` a request path names
/// (`/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}…`).
fn target(segments: &[&str]) -> (String, String) {
    let at = |name: &str| {
        segments
            .iter()
            .position(|s| s.eq_ignore_ascii_case(name))
            .map(|i| i + 1)
    };
    let resource_group = at("resourcegroups")
        .and_then(|i| segments.get(i))
        .map(|s| s.to_string())
        .unwrap_or_default();
    let type_and_name = at("providers")
        .filter(|_| !resource_group.is_empty())
        .map(|i| segments[i..segments.len().min(i + 3)].join("/"))
        .unwrap_or_default();
    (resource_group, type_and_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_comes_from_goldsmiths_user_agent_tokens() {
        let agent = "AZURECLI/2.91.0 (PIP) azsdk-python-core/1.35 Python/3.11 goldsmith/0.1.0 op/create-vm attempt/2";
        assert_eq!(caller(agent), (Some("create-vm"), 2));
        assert_eq!(caller("AZURECLI/2.91.0"), (None, 1));
    }

    #[test]
    fn faults_answer_with_azures_status_and_body() {
        let path = [
            "subscriptions",
            "s",
            "resourceGroups",
            "rg-x",
            "providers",
            "Microsoft.Compute",
            "virtualMachines",
            "vm-1",
            "runCommand",
        ];
        let body = |class| match answer(class, &path) {
            Injected::Reply(r) => (r.status, r.body.map(|b| b["error"]["code"].clone())),
            Injected::Drop => (0, None),
        };
        assert_eq!(
            body(FaultClass::RunCommandConflict),
            (409, Some("Conflict".into()))
        );
        assert_eq!(
            body(FaultClass::Throttled),
            (429, Some("TooManyRequests".into()))
        );
        assert_eq!(
            body(FaultClass::ServerError),
            (500, Some("InternalServerError".into()))
        );
        assert_eq!(
            body(FaultClass::NotFound),
            (404, Some("ResourceNotFound".into()))
        );
        assert_eq!(body(FaultClass::AzError), (0, None));
        assert_eq!(
            target(&path),
            (
                "rg-x".into(),
                "Microsoft.Compute/virtualMachines/vm-1".into()
            )
        );
    }
}
