//! A simulated run through the real Azure CLI (`run --simulate --az-cli <az>`):
//! goldsmith's Azure stand-in serves the run's simulated Azure over HTTPS, and
//! the given az gets a configuration of its own in the run's `sim/` (its config
//! and extension dirs, a cloud `Local` whose Entra ID, ARM and Microsoft Graph
//! endpoints are the stand-in, a CA bundle that trusts it) and is signed in as
//! the stand-in's service principal before the first operation. Nothing of the
//! user's own `~/.azure` is read or changed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use az_sim::standin::{Endpoint, Options, Running};

/// The name the stand-in's cloud is registered under.
const CLOUD: &str = "Local";

/// A started stand-in and the environment that points the real az at it.
pub struct StandInRun {
    /// Serves until dropped: keep it for the run.
    pub standin: Running,
    /// `AZURE_CONFIG_DIR`, `AZURE_EXTENSION_DIR`, `REQUESTS_CA_BUNDLE` and the telemetry switch.
    pub env: Vec<(String, String)>,
    /// `azure-cli 2.91.0`, as `az version` says.
    pub version: String,
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

/// Starts the stand-in on the run's world and signs `az` in to it; `base`
/// is the operations' environment (no host credentials in it).
pub fn start(
    az: &Path,
    served: Served<'_>,
    base: &[(String, String)],
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
    let env = az_env(served.sim_dir, &endpoint);
    let az = Az {
        program: az,
        env: base.iter().chain(&env).cloned().collect(),
    };
    az.run(
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
    az.run(
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
    az.run("cloud set", &["cloud", "set", "--name", CLOUD])?;
    az.run(
        "login",
        &[
            "login",
            "--service-principal",
            "--username",
            &endpoint.client_id,
            "--tenant",
            &endpoint.tenant,
            "--password",
            &secret,
        ],
    )?;
    let version = az.output("version", &["version", "--query", "\"azure-cli\""])?;
    Ok(StandInRun {
        standin,
        env,
        version: format!("azure-cli {}", version.trim().trim_matches('"')),
    })
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

/// The real az with the run's environment, and nothing else of the host's.
struct Az<'a> {
    program: &'a Path,
    env: Vec<(String, String)>,
}

impl Az<'_> {
    fn run(&self, step: &str, args: &[&str]) -> Result<(), StandInError> {
        self.output(step, &[args, &["--output", "none"]].concat())
            .map(drop)
    }

    fn output(&self, step: &str, args: &[&str]) -> Result<String, StandInError> {
        let out = Command::new(self.program)
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .map_err(|source| StandInError::Spawn {
                az: self.program.display().to_string(),
                source,
            })?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let stderr = crate::azure::classify::headline(&String::from_utf8_lossy(&out.stderr));
        Err(StandInError::Az {
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
