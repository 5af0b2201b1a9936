//! Signing the Azure CLI in, once: the commands `azure/login` runs (`az cloud
//! set`, `az login`, `az account set`), in the configuration directory the
//! caller's environment names, and the moment the access token it got
//! expires. `session` decides when to sign in again.

use std::path::Path;
use std::process::{Command, Stdio};

use super::sign_in::{Principal, Proof, SignIn};

/// Audience Entra ID expects for workload identity federation with GitHub.
pub const AUDIENCE: &str = "api://AzureADTokenExchange";

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(
        "the runner's ID token request failed: {0} (the job needs `permissions: id-token: write`)"
    )]
    Oidc(String),
    #[error("`az {step}` failed (exit code {code}): {stderr}")]
    Az {
        step: String,
        code: i32,
        stderr: String,
    },
    #[error("cannot run {az}: {source}")]
    Spawn {
        az: String,
        #[source]
        source: std::io::Error,
    },
}

/// The Azure CLI with a whole environment of its own (nothing else of the host's).
pub struct Az<'a> {
    pub program: &'a Path,
    pub env: Vec<(String, String)>,
}

impl Az<'_> {
    /// Runs az; its stdout when it exits 0, else az's first error line.
    pub fn output(&self, step: &str, args: &[&str]) -> Result<String, LoginError> {
        let out = Command::new(self.program)
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .map_err(|source| LoginError::Spawn {
                az: self.program.display().to_string(),
                source,
            })?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let stderr = super::classify::headline(&String::from_utf8_lossy(&out.stderr));
        Err(LoginError::Az {
            step: step.to_string(),
            code: out.status.code().unwrap_or(-1),
            stderr: if stderr.trim().is_empty() {
                "(it printed nothing)".into()
            } else {
                stderr
            },
        })
    }
}

/// What a sign-in produced.
pub struct LoggedIn {
    /// Values to mask: the runner's ID token.
    pub secrets: Vec<String>,
    /// When the access token az holds expires (for sign-ins that must be
    /// renewed: OIDC), as `az account get-access-token` reports it.
    pub expires_at: Option<jiff::Timestamp>,
}

/// Signs az in as `sign_in` says. `on_secret` sees
/// every secret value first, before az runs with it, so it can be masked.
pub fn login(
    sign_in: &SignIn,
    az: &Az<'_>,
    on_secret: &dyn Fn(&str),
) -> Result<LoggedIn, LoginError> {
    let mut secrets = Vec::new();
    if let Some(cloud) = sign_in.cloud {
        az.output("cloud set", &["cloud", "set", "--name", cloud])?;
    }
    let mut args: Vec<String> = vec!["login".into()];
    match &sign_in.principal {
        Principal::ServicePrincipal {
            client_id,
            tenant_id,
            proof,
        } => {
            args.extend(
                [
                    "--service-principal",
                    "--username",
                    client_id,
                    "--tenant",
                    tenant_id,
                ]
                .map(String::from),
            );
            match proof {
                Proof::Oidc { url, bearer } => {
                    let token = request_id_token(url, bearer)?;
                    on_secret(&token);
                    args.extend(["--federated-token".to_string(), token.clone()]);
                    secrets.push(token);
                }
                // `=` keeps a secret that starts with `-` from reading as an option.
                Proof::Secret(secret) => args.push(format!("--password={secret}")),
            }
        }
        Principal::ManagedIdentity { client_id } => {
            args.push("--identity".into());
            // Since az 2.69 a user-assigned identity is `--client-id`, no longer `--username`.
            if let Some(id) = client_id {
                args.extend(["--client-id".to_string(), id.clone()]);
            }
        }
    }
    args.extend(["--output", "none"].map(String::from));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    az.output("login", &refs)?;
    if let Some(sub) = &sign_in.subscription {
        az.output(
            "account set",
            &["account", "set", "--subscription", sub, "--output", "none"],
        )?;
    }
    let expires_at = if sign_in.needs_renewal() {
        Some(token_expiry(az)?)
    } else {
        None
    };
    Ok(LoggedIn {
        secrets,
        expires_at,
    })
}

/// When the ARM access token az now holds expires: `expires_on`, POSIX
/// seconds, as az 2.91's `account get-access-token` prints it.
fn token_expiry(az: &Az<'_>) -> Result<jiff::Timestamp, LoginError> {
    let step = "account get-access-token";
    let out = az.output(
        step,
        &[
            "account",
            "get-access-token",
            "--query",
            "expires_on",
            "--output",
            "tsv",
        ],
    )?;
    out.trim()
        .parse::<i64>()
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .ok_or_else(|| LoginError::Az {
            step: step.into(),
            code: 0,
            stderr: format!("`expires_on` is not a time: `{}`", out.trim()),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audience_is_encoded_like_encode_uri_component() {
        assert_eq!(percent_encode(AUDIENCE), "api%3A%2F%2FAzureADTokenExchange");
    }
}
