//! The AVD agent as the DSC extension installs it (the portal's
//! `Configuration.ps1\AddSessionHost` package): the host pool named in the
//! public settings (`properties.hostPoolName`), the registration token from
//! the protected settings (`registrationInfoTokenCredential.Password` is
//! `PrivateSettingsRef:<key>`, the token is `Items.<key>`) or, in the older
//! form, from `properties.registrationInfoToken`. The token must be the host
//! pool's current, unexpired one. The token is only compared, never kept, and
//! no error repeats it.

use serde_json::Value;

use super::avd::HOST_POOL;
use super::world::World;

/// The host pool a VM registers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub pool_id: String,
    pub resource_group: String,
    pub pool: String,
}

/// Whether the DSC settings run the AVD agent's `AddSessionHost` configuration.
pub fn adds_session_host(settings: Option<&Value>) -> bool {
    let Some(s) = settings else {
        return false;
    };
    s["configurationFunction"]
        .as_str()
        .is_some_and(|f| f.to_ascii_lowercase().contains("addsessionhost"))
        || s["properties"]["hostPoolName"].is_string()
}

/// How the DSC extension reports a failed configuration.
fn failed(reason: &str) -> String {
    format!(
        "DSC Configuration 'AddSessionHost' completed with error(s). Following are the first few: PowerShell DSC resource MSFT_ScriptResource failed to execute Set-TargetResource functionality with error message: {reason} More information about troubleshooting is available at https://aka.ms/VMExtensionDSCWindowsTroubleshoot"
    )
}

fn token<'a>(properties: &'a Value, protected: Option<&'a Value>) -> Result<&'a str, String> {
    if let Some(t) = properties["registrationInfoToken"].as_str() {
        return Ok(t);
    }
    let reference = properties["registrationInfoTokenCredential"]["Password"].as_str();
    let Some(key) = reference.and_then(|p| p.strip_prefix("PrivateSettingsRef:")) else {
        return Err(failed(
            "No registration token: the settings have neither registrationInfoToken nor registrationInfoTokenCredential.",
        ));
    };
    protected
        .and_then(|p| p["Items"][key].as_str())
        .ok_or_else(|| {
            failed(&format!(
                "The protected settings have no Items.{key} for the registration token."
            ))
        })
}

/// The host pool the agent registers the VM with, or the DSC error.
pub fn register(
    state: &World,
    subscription: &str,
    settings: Option<&Value>,
    protected: Option<&Value>,
) -> Result<Registration, String> {
    let properties = settings.map_or(&Value::Null, |s| &s["properties"]);
    let Some(name) = properties["hostPoolName"].as_str() else {
        return Err(failed(
            "Cannot bind argument to parameter 'HostPoolName' because it is an empty string.",
        ));
    };
    let token = token(properties, protected)?;
    let prefix = format!("/subscriptions/{subscription}/").to_ascii_lowercase();
    let pools: Vec<_> = state
        .resources
        .iter()
        .filter(|(k, r)| {
            r.kind == HOST_POOL.kind
                && k.starts_with(&prefix)
                && r.body["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .map(|(_, r)| r)
        .collect();
    if pools.is_empty() {
        return Err(failed(&format!(
            "Host pool '{name}' was not found: the agent could not register."
        )));
    }
    let Some(pool) = pools
        .iter()
        .find(|p| p.body["registrationInfo"]["token"].as_str() == Some(token))
    else {
        return Err(failed(&format!(
            "InvalidRegistrationToken: the registration token is not the current token of host pool '{name}'. Renew it with az desktopvirtualization hostpool update --registration-info."
        )));
    };
    let expired = pool.body["registrationInfo"]["expirationTime"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .is_some_and(|t| t <= jiff::Timestamp::now());
    if expired {
        return Err(failed(&format!(
            "InvalidRegistrationToken: the registration token of host pool '{name}' has expired."
        )));
    }
    Ok(Registration {
        pool_id: pool.id.clone(),
        resource_group: pool.body["resourceGroup"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        pool: pool.body["name"].as_str().unwrap_or(name).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::world::Resource;

    fn state_with_pool(token: &str, expires: &str) -> World {
        let mut state = World::default();
        let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DesktopVirtualization/hostpools/pool";
        state.resources.insert(
            id.to_ascii_lowercase(),
            Resource {
                id: id.into(),
                kind: HOST_POOL.kind.into(),
                body: json!({ "name": "pool", "resourceGroup": "rg", "registrationInfo": { "token": token, "expirationTime": expires } }),
                busy: None,
            },
        );
        state
    }

    fn settings(pool: &str) -> Value {
        json!({
            "configurationFunction": "Configuration.ps1\\AddSessionHost",
            "properties": {
                "hostPoolName": pool,
                "registrationInfoTokenCredential": { "UserName": "PLACEHOLDER_DO_NOT_USE", "Password": "PrivateSettingsRef:RegistrationInfoToken" },
            },
        })
    }

    #[test]
    fn registers_with_the_current_token_and_never_repeats_a_wrong_one() {
        let state = state_with_pool("tok-1", "2999-01-01T00:00:00Z");
        let s = settings("POOL");
        assert!(adds_session_host(Some(&s)));
        let good = json!({ "Items": { "RegistrationInfoToken": "tok-1" } });
        let reg = register(&state, "s", Some(&s), Some(&good)).unwrap();
        assert_eq!(
            (reg.pool.as_str(), reg.resource_group.as_str()),
            ("pool", "rg")
        );

        let bad = json!({ "Items": { "RegistrationInfoToken": "stale-secret" } });
        let e = register(&state, "s", Some(&s), Some(&bad)).unwrap_err();
        assert!(
            e.contains("InvalidRegistrationToken") && !e.contains("stale-secret"),
            "{e}"
        );
        assert!(register(&state, "s", Some(&s), None).is_err());
        assert!(register(&state, "s", Some(&settings("other")), Some(&good)).is_err());
        assert!(register(&state, "other-sub", Some(&s), Some(&good)).is_err());
    }

    #[test]
    fn an_expired_token_fails() {
        let state = state_with_pool("tok-1", "2001-01-01T00:00:00Z");
        let good = json!({ "Items": { "RegistrationInfoToken": "tok-1" } });
        let e = register(&state, "s", Some(&settings("pool")), Some(&good)).unwrap_err();
        assert!(e.contains("expired"), "{e}");
    }
}
