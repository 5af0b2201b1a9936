//! What a run against Azure checks before its first operation: that `az` is
//! on the operations' PATH (and which version), that it is signed in, and
//! that the subscription asked for is the one selected. Each failure is one
//! message naming the fix; the run then stops with exit 2 before anything
//! ran, instead of every operation failing its attempts with exit 127 or
//! "Please run 'az login'".
//!
//! CLI extensions: the library declares none (its AVD operations call the
//! REST API through `az rest` precisely so that nothing is installed at run
//! time), so there is nothing to check for them.

use std::path::{Path, PathBuf};

use super::login::{Az, LoginError};
use crate::plan::{Plan, Script};

/// What the checks found, for the log.
pub struct Passed {
    /// `azure-cli 2.91.0`.
    pub version: String,
    pub az: PathBuf,
    /// `<name> (<id>)`.
    pub subscription: String,
    /// Who az is signed in as.
    pub user: String,
}

impl Passed {
    /// One line for the log.
    pub fn line(&self) -> String {
        format!(
            "preflight: {} at {}, signed in as {}, subscription {}",
            self.version,
            self.az.display(),
            self.user,
            self.subscription
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error(
        "the Azure CLI (`az`) is not on the operations' PATH ({path}): install it (https://learn.microsoft.com/cli/azure/install-azure-cli), or run goldsmith as its container action, which has it"
    )]
    NotOnPath { path: String },
    #[error("`{az} version` failed: {detail}; reinstall the Azure CLI")]
    Broken { az: String, detail: String },
    #[error(
        "az is not signed in ({detail}): give the action's sign-in inputs (README, \"Signing in to Azure\") or run `az login`"
    )]
    NotSignedIn { detail: String },
    #[error(
        "az has subscription {selected} selected, not {wanted}: give `subscription-id` only for a subscription the identity can use, or run `az account set --subscription {wanted}`"
    )]
    OtherSubscription { wanted: String, selected: String },
}

/// Runs the checks with `env`, the operations' environment; `program` is
/// `az` (looked up on that PATH) or a path.
pub fn check(
    program: &Path,
    env: &[(String, String)],
    subscription: Option<&str>,
) -> Result<Passed, PreflightError> {
    let az_path = locate(program, env)?;
    let az = Az {
        program: &az_path,
        env: env.to_vec(),
    };
    let broken = |e: LoginError| PreflightError::Broken {
        az: az_path.display().to_string(),
        detail: e.to_string(),
    };
    let version = az
        .output("version", &["version", "--output", "json"])
        .map_err(broken)?;
    let version: serde_json::Value =
        serde_json::from_str(&version).map_err(|e| PreflightError::Broken {
            az: az_path.display().to_string(),
            detail: format!("its output is not JSON: {e}"),
        })?;
    let account = az
        .output("account show", &["account", "show", "--output", "json"])
        .map_err(|e| PreflightError::NotSignedIn {
            detail: match e {
                LoginError::Az { stderr, .. } => stderr,
                other => other.to_string(),
            },
        })?;
    let account: serde_json::Value = serde_json::from_str(&account).unwrap_or_default();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("?").to_string();
    let (id, name) = (text(&account["id"]), text(&account["name"]));
    if let Some(wanted) = subscription
        && !wanted.eq_ignore_ascii_case(&id)
        && wanted != name
    {
        return Err(PreflightError::OtherSubscription {
            wanted: wanted.to_string(),
            selected: format!("{name} ({id})"),
        });
    }
    Ok(Passed {
        version: format!("azure-cli {}", text(&version["azure-cli"])),
        az: az_path,
        subscription: format!("{name} ({id})"),
        user: format!(
            "{} {}",
            text(&account["user"]["type"]),
            text(&account["user"]["name"])
        ),
    })
}

/// Whether the run needs az: an operation runs a command on a VM (goldsmith
/// calls az for it) or its script has the word `az` where a command can
/// stand. A module of plain bash (the demo) runs without the Azure CLI.
pub fn calls_az(plan: &Plan) -> bool {
    plan.ops.iter().any(|op| match &op.script {
        Script::Bash(text) => text
            .split(|c: char| c.is_whitespace() || ";|&()`$\"'{}".contains(c))
            .any(|word| word == "az"),
        Script::RunCommand(_) => true,
        Script::Invalid => false,
    })
}

/// `program` itself when it has a `/`, else the first executable of that
/// name on the environment's PATH, as a shell finds it.
pub fn locate(program: &Path, env: &[(String, String)]) -> Result<PathBuf, PreflightError> {
    let path = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if program.components().count() > 1 {
        return Ok(program.to_path_buf());
    }
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
        .ok_or(PreflightError::NotOnPath { path })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn az_is_looked_up_on_the_given_path_only() {
        let dir = std::env::temp_dir().join(format!("preflight-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let env = |p: &Path| vec![("PATH".to_string(), p.display().to_string())];
        let missing = locate(Path::new("az"), &env(&dir));
        assert!(matches!(missing, Err(PreflightError::NotOnPath { .. })));
        let az = dir.join("az");
        std::fs::write(&az, "#!/bin/sh\n").expect("write");
        assert!(
            locate(Path::new("az"), &env(&dir)).is_err(),
            "not executable"
        );
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(locate(Path::new("az"), &env(&dir)).expect("found"), az);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
