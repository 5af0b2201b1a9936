//! Running inside GitHub Actions: what the runner gave us (file-command
//! paths, inputs that switch reports off, Azure credentials) and the first
//! thing printed, the masks.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use super::CliError;
use super::action::Inputs;
use crate::azure::login::Credentials;
use crate::report::finish::ActionsTargets;

pub struct Actions {
    pub env: HashMap<String, String>,
}

impl Actions {
    /// `Some` when `GITHUB_ACTIONS=true`.
    pub fn detect() -> Option<Actions> {
        let env: HashMap<String, String> = std::env::vars().collect();
        (env.get("GITHUB_ACTIONS").map(String::as_str) == Some("true")).then_some(Actions { env })
    }

    fn path(&self, var: &str) -> Option<PathBuf> {
        self.env
            .get(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }

    pub fn targets(&self) -> Result<ActionsTargets, CliError> {
        let inputs = Inputs::new(&self.env);
        Ok(ActionsTargets {
            step_summary: if inputs.boolean("summary", true)? {
                self.path("GITHUB_STEP_SUMMARY")
            } else {
                None
            },
            outputs: self.path("GITHUB_OUTPUT"),
            annotations: inputs.boolean("annotations", true)?,
        })
    }

    pub fn annotations_on(&self) -> Result<bool, CliError> {
        Inputs::new(&self.env).boolean("annotations", true)
    }

    /// Secret values that arrived as inputs (the runner masks its own secrets,
    /// but not values a workflow passes in plain inputs).
    pub fn input_secrets(&self) -> Vec<String> {
        Inputs::new(&self.env)
            .get("client-secret")
            .map(str::to_string)
            .into_iter()
            .collect()
    }

    pub fn credentials(&self) -> Credentials {
        let inputs = Inputs::new(&self.env);
        let get = |name: &str| inputs.get(name).map(str::to_string);
        let oidc = match (
            self.env.get("ACTIONS_ID_TOKEN_REQUEST_URL"),
            self.env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        ) {
            (Some(url), Some(token)) if !url.is_empty() && !token.is_empty() => {
                Some((url.clone(), token.clone()))
            }
            _ => None,
        };
        Credentials {
            client_id: get("client-id"),
            tenant_id: get("tenant-id"),
            subscription_id: get("subscription-id"),
            client_secret: get("client-secret"),
            oidc_request: oidc,
            azure_config_dir: self.path("AZURE_CONFIG_DIR"),
        }
    }
}

/// `::add-mask::` for every secret value, before anything else is printed.
pub fn mask<'a>(values: impl IntoIterator<Item = &'a String>) {
    let mut out = std::io::stdout().lock();
    for v in values {
        for line in crate::github::commands::add_mask(v) {
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = out.flush();
}
