//! The Azure side of starting a run: read the action's sign-in inputs
//! (refusing conflicting ones before anything runs), sign in, and the
//! preflight checks, each failure one message with exit 2 and nothing run.

use std::path::Path;
use std::sync::Arc;

use super::CliError;
use crate::azure::preflight;
use crate::azure::session::{Session, Setup};
use crate::azure::sign_in::{self, Proof, Requested};
use crate::github::actions::{self, Actions};

/// The action's sign-in inputs (none outside an action): what they ask for,
/// and their secret values (every value of a `creds` JSON among them).
pub fn read_inputs(gha: Option<&Actions>) -> Result<(Requested, Vec<String>), CliError> {
    match gha {
        Some(gha) => sign_in::from_inputs(&gha.env)
            .map_err(|e| CliError::Invalid(format!("{e}; nothing ran"))),
        None => Ok((Requested::Existing { subscription: None }, Vec::new())),
    }
}

/// The runner's token endpoint, in an action run with `id-token: write`:
/// under `--simulate --az-cli` az signs in to the Azure stand-in with it, as
/// it would to Entra ID.
pub fn runner_oidc(gha: Option<&Actions>) -> Option<Proof> {
    let var = |name: &str| gha?.env.get(name).filter(|v| !v.is_empty()).cloned();
    Some(Proof::Oidc {
        url: var("ACTIONS_ID_TOKEN_REQUEST_URL")?,
        bearer: var("ACTIONS_ID_TOKEN_REQUEST_TOKEN")?,
    })
}

/// Masks a secret met while signing in: in the runner's log at once (an
/// action run); goldsmith itself never prints or writes it.
pub fn masker(gha: Option<&Actions>) -> Box<dyn Fn(&str) + Send + Sync> {
    let in_action = gha.is_some();
    Box::new(move |secret: &str| {
        if in_action {
            actions::mask([&secret.to_string()]);
        }
    })
}

/// A run against Azure: signs in when the inputs ask for it, then, when an
/// operation calls az (`calls_az`), checks that az can work. `env` is the
/// operations' environment.
pub fn real_azure(
    requested: Requested,
    calls_az: bool,
    env: &[(String, String)],
    on_secret: Box<dyn Fn(&str) + Send + Sync>,
) -> Result<Option<Arc<Session>>, CliError> {
    let az = Path::new("az");
    let (session, subscription) = match requested {
        Requested::Existing { subscription } => (None, subscription),
        Requested::SignIn(sign_in) => {
            // Fails before signing in when az is missing, with the same message.
            preflight::locate(az, env).map_err(stop)?;
            let subscription = sign_in.subscription.clone();
            let method = sign_in.method();
            let cloud = sign_in.cloud.unwrap_or("the configured cloud");
            let session = Session::start(Setup {
                sign_in,
                az: az.to_path_buf(),
                env: env.to_vec(),
                root: crate::azure::session::private_temp_dir(),
                remove_root: true,
                on_secret,
            })
            .map_err(|e| {
                CliError::Invalid(format!(
                    "cannot sign in to Azure ({method}): {e}; nothing ran"
                ))
            })?;
            let renewal = session
                .expires_at()
                .map(|t| {
                    format!(
                        "; the access token lasts until {}, goldsmith signs in again before then",
                        t.strftime("%H:%M:%S UTC")
                    )
                })
                .unwrap_or_default();
            println!("goldsmith: signed in to Azure ({method}, {cloud}){renewal}");
            (Some(session), subscription)
        }
    };
    if !calls_az {
        return Ok(session);
    }
    let mut env = env.to_vec();
    env.extend(session.iter().flat_map(|s| s.env()));
    let passed = preflight::check(az, &env, subscription.as_deref()).map_err(stop)?;
    println!("goldsmith: {}", passed.line());
    Ok(session)
}

/// `--simulate` (the built-in az) in an action run with `id-token: write`:
/// the simulated az signs in with the runner's ID token, and keeps it as
/// Azure does (`az_sim`'s `federated.rs`), so the run renews it as on Azure.
/// Without the runner's token endpoint the built-in az needs no sign-in.
pub fn simulated_oidc(
    sim_dir: &Path,
    env: &[(String, String)],
    gha: Option<&Actions>,
) -> Result<Option<Arc<Session>>, CliError> {
    let Some(oidc) = runner_oidc(gha) else {
        return Ok(None);
    };
    let sign_in = sign_in::SignIn {
        principal: sign_in::Principal::ServicePrincipal {
            client_id: az_sim::DEFAULT_CLIENT_ID.into(),
            tenant_id: az_sim::DEFAULT_TENANT.into(),
            proof: oidc,
        },
        cloud: None,
        subscription: None,
    };
    let session = Session::start(Setup {
        sign_in,
        az: sim_dir.join("bin/az"),
        env: env.to_vec(),
        root: crate::azure::session::private_temp_dir(),
        remove_root: true,
        on_secret: masker(gha),
    })
    .map_err(|e| {
        CliError::Invalid(format!(
            "cannot sign the simulated az in with the runner's ID token: {e}; nothing ran"
        ))
    })?;
    println!("goldsmith: simulated Azure: signed in with OIDC (the runner's ID token)");
    Ok(Some(session))
}

/// Preflight against the Azure stand-in (`--az-cli`), signed in by `session`.
pub fn stand_in_preflight(
    az: &Path,
    env: &[(String, String)],
    session: &Session,
) -> Result<preflight::Passed, CliError> {
    let mut env = env.to_vec();
    env.extend(session.env());
    preflight::check(az, &env, None).map_err(stop)
}

fn stop(e: preflight::PreflightError) -> CliError {
    CliError::Invalid(format!("preflight: {e}; nothing ran"))
}
