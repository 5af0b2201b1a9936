//! Signing the Azure CLI in inside the action's container.
//!
//! In order of preference: OpenID Connect (the workflow has `id-token:
//! write`: ask the runner for a token with audience
//! `api://AzureADTokenExchange` and hand it to `az login --federated-token`),
//! a client secret, or an existing `AZURE_CONFIG_DIR`. Nothing here runs
//! under `--simulate`.

use std::path::PathBuf;
use std::process::Command;

/// Audience Entra ID expects for workload identity federation with GitHub.
pub const AUDIENCE: &str = "api://AzureADTokenExchange";

#[derive(Clone, Debug, Default)]
pub struct Credentials {
    pub client_id: Option<String>,
    pub tenant_id: Option<String>,
    pub subscription_id: Option<String>,
    pub client_secret: Option<String>,
    /// `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, present with `id-token: write`.
    pub oidc_request: Option<(String, String)>,
    pub azure_config_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(
        "no Azure credentials: give `client-id` and `tenant-id` with `permissions: id-token: write` (OIDC) or a `client-secret`, or set AZURE_CONFIG_DIR to a logged-in az configuration"
    )]
    NoCredentials,
    #[error("the OIDC token request to the runner failed: {0}")]
    Oidc(String),
    #[error("`az {step}` failed (exit code {code}): {stderr}")]
    Az {
        step: String,
        code: i32,
        stderr: String,
    },
    #[error("cannot run az: {0}")]
    Spawn(#[source] std::io::Error),
}

/// How goldsmith signed in, for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    Oidc,
    ClientSecret,
    ExistingConfig,
}

/// Values that must be masked before anything is printed (the OIDC token once fetched).
pub type Secrets = Vec<String>;

/// Signs az in; returns how, and the secret values that appeared on the way.
pub fn login(creds: &Credentials, az: &str) -> Result<(Method, Secrets), LoginError> {
    let mut secrets = Vec::new();
    let method = match (&creds.client_id, &creds.tenant_id) {
        (Some(client), Some(tenant)) => {
            // The one difference between the two sign-ins: what proves who we are.
            let (method, flag, proof) = if let Some((url, bearer)) = &creds.oidc_request {
                let token = request_id_token(url, bearer)?;
                secrets.push(token.clone());
                (Method::Oidc, "--federated-token", token)
            } else if let Some(secret) = &creds.client_secret {
                (Method::ClientSecret, "--password", secret.clone())
            } else {
                return Err(LoginError::NoCredentials);
            };
            let args = [
                "login",
                "--service-principal",
                "--username",
                client,
                "--tenant",
                tenant,
                flag,
                &proof,
                "--output",
                "none",
            ];
            run_az(az, "login", &args)?;
            method
        }
        _ if creds.azure_config_dir.is_some() => Method::ExistingConfig,
        _ => return Err(LoginError::NoCredentials),
    };
    if let Some(sub) = &creds.subscription_id {
        run_az(
            az,
            "account set",
            &["account", "set", "--subscription", sub],
        )?;
    }
    Ok((method, secrets))
}

/// GET `<url>&audience=api%3A%2F%2FAzureADTokenExchange` with the runner's bearer token; the JWT is in `value`.
pub fn request_id_token(url: &str, bearer: &str) -> Result<String, LoginError> {
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!("{url}{sep}audience={}", percent_encode(AUDIENCE));
    let response = ureq::get(&full)
        .header("Authorization", &format!("Bearer {bearer}"))
        .header("Accept", "application/json; api-version=2.0")
        .header("User-Agent", "goldsmith")
        .call()
        .map_err(|e| LoginError::Oidc(e.to_string()))?;
    let body: serde_json::Value = response
        .into_body()
        .read_json()
        .map_err(|e| LoginError::Oidc(format!("the answer is not JSON: {e}")))?;
    body.get("value")
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .ok_or_else(|| LoginError::Oidc("the answer has no `value`".into()))
}

/// encodeURIComponent: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn run_az(az: &str, step: &str, args: &[&str]) -> Result<(), LoginError> {
    let out = Command::new(az)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(LoginError::Spawn)?;
    if out.status.success() {
        return Ok(());
    }
    Err(LoginError::Az {
        step: step.to_string(),
        code: out.status.code().unwrap_or(-1),
        stderr: crate::azure::classify::headline(&String::from_utf8_lossy(&out.stderr)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audience_is_encoded_like_encode_uri_component() {
        assert_eq!(percent_encode(AUDIENCE), "api%3A%2F%2FAzureADTokenExchange");
    }
}
