//! A simulated run through the real Azure CLI (`run --simulate --az-cli <az>`):
//! goldsmith's Azure stand-in serves the run's simulated Azure over HTTPS, and
//! the given az gets a configuration of its own in the run's `sim/` (its config
//! and extension dirs, a cloud `Local` whose Entra ID, ARM and Microsoft Graph
//! endpoints are the stand-in, a CA bundle that trusts it) and is signed in as
//! the stand-in's service principal before the first operation, through the
//! same `session` as on Azure (so its renewal is tested). Nothing of the
//! user's own `~/.azure` is read or changed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use az_sim::standin::{Endpoint, Options, Running};

use super::login::{Az, LoginError};
use super::session::{Session, Setup};
use super::sign_in::{Principal, Proof, SignIn};

/// The name the stand-in's cloud is registered under.
const CLOUD: &str = "Local";

/// A started stand-in and the environment that points the real az at it.
pub struct StandInRun {
    /// Serves until dropped: keep it for the run.
    pub standin: Running,
    /// `AZURE_EXTENSION_DIR`, `REQUESTS_CA_BUNDLE` and the telemetry switch.
    pub env: Vec<(String, String)>,
    /// The sign-in (its `AZURE_CONFIG_DIR`), renewed as on Azure.
    pub session: Arc<Session>,
}

#[derive(Debug, thiserror::Error)]
pub enum StandInError {
    #[error("cannot start the Azure stand-in: {0}")]
    Start(#[source] std::io::Error),
    #[error("cannot run {az}: {source}")]
    Spawn {
        az: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the runner's ID token request failed: {0}")]
    Oidc(String),
    #[error("`az {step}` against the stand-in failed (exit code {code}): {stderr}")]
    Az {
        step: String,
        code: i32,
        stderr: String,
    },
}

/// What the stand-in serves: the run's world, speed and scenario.
pub struct Served<'a> {
    pub sim_dir: &'a Path,
    pub speed: f64,
    pub scenario: Option<PathBuf>,
}

/// How az signs in to the stand-in: with the secret made for the run, or
/// with OIDC (a federated token from `oidc`, the runner's token endpoint of an
/// action run), which `session` renews as on Azure.
pub struct Signing {
    pub oidc: Option<Proof>,
    pub on_secret: Box<dyn Fn(&str) + Send + Sync>,
}

/// Starts the stand-in on the run's world and signs `az` in to it; `base`
/// is the operations' environment (no host credentials in it).
pub fn start(
    az: &Path,
    served: Served<'_>,
    base: &[(String, String)],
    signing: Signing,
) -> Result<StandInRun, StandInError> {
    let secret = format!("standin-{}", uuid::Uuid::new_v4().simple());
    let standin = az_sim::standin::start(Options {
        dir: served.sim_dir.to_path_buf(),
        port: 0,
        client_secret: Some(secret.clone()),
        scenario: served.scenario,
        speed: Some(served.speed),
    })
    .map_err(StandInError::Start)?;
    let endpoint = standin.endpoint.clone();
    let env: Vec<(String, String)> = base
        .iter()
        .cloned()
        .chain(az_env(served.sim_dir, &endpoint))
        .collect();
    let az_cli = Az {
        program: az,
        env: env.clone(),
    };
    let run = |step: &str, args: &[&str]| {
        az_cli
            .output(step, &[args, &["--output", "none"]].concat())
            .map(drop)
            .map_err(standin_error)
    };
    run(
        "config set",
        &[
            "config",
            "set",
            "core.instance_discovery=false",
            "core.collect_telemetry=false",
            "core.survey_message=false",
        ],
    )?;
    let url = endpoint.url.as_str();
    let arm = format!("{url}/");
    run(
        "cloud register",
        &[
            "cloud",
            "register",
            "--name",
            CLOUD,
            "--skip-endpoint-discovery",
            "--endpoint-resource-manager",
            &arm,
            "--endpoint-active-directory",
            url,
            "--endpoint-active-directory-resource-id",
            "https://management.core.windows.net/",
            "--endpoint-microsoft-graph-resource-id",
            &arm,
        ],
    )?;
    run("cloud set", &["cloud", "set", "--name", CLOUD])?;
    let sign_in = SignIn {
        principal: Principal::ServicePrincipal {
            client_id: endpoint.client_id.clone(),
            tenant_id: endpoint.tenant.clone(),
            proof: signing.oidc.unwrap_or(Proof::Secret(secret)),
        },
        cloud: None,
        subscription: None,
    };
    let session = Session::start(Setup {
        sign_in,
        az: az.to_path_buf(),
        env,
        // Not in the run directory, which is uploaded: a runner's ID token would be in it.
        root: super::session::private_temp_dir(),
        remove_root: true,
        on_secret: signing.on_secret,
    })
    .map_err(standin_error)?;
    let mut env = az_env(served.sim_dir, &endpoint);
    env.retain(|(k, _)| k != "AZURE_CONFIG_DIR");
    Ok(StandInRun {
        standin,
        env,
        session,
    })
}

fn standin_error(e: LoginError) -> StandInError {
    match e {
        LoginError::Az { step, code, stderr } => StandInError::Az { step, code, stderr },
        LoginError::Spawn { az, source } => StandInError::Spawn { az, source },
        LoginError::Oidc(message) => StandInError::Oidc(message),
    }
}

/// The variables that give az its own configuration, trusting the stand-in.
fn az_env(sim_dir: &Path, endpoint: &Endpoint) -> Vec<(String, String)> {
    let path = |p: PathBuf| p.display().to_string();
    vec![
        ("AZURE_CONFIG_DIR".into(), path(sim_dir.join("az-config"))),
        (
            "AZURE_EXTENSION_DIR".into(),
            path(sim_dir.join("az-extensions")),
        ),
        ("REQUESTS_CA_BUNDLE".into(), path(endpoint.ca_file.clone())),
        ("AZURE_CORE_COLLECT_TELEMETRY".into(), "false".into()),
    ]
}
