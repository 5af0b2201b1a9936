//! Flags, subcommands and their help text.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::record::status::FailFast;

const AFTER_HELP: &str = "\
Examples:
  goldsmith list                          modules and operations in this project
  goldsmith validate                      check every file; errors as file:line:col
  goldsmith plan demo                     stages, locks, dependencies, estimate
  goldsmith plan 05-golden-image --with-dependencies
                                          the same with the modules it needs run first
  goldsmith run demo                      run a module
  goldsmith run demo --only demo-prepare,demo-network
                                          run two operations of it
  goldsmith run demo --fail-fast cancel   stop everything at the first failure
  goldsmith run 05-golden-image --simulate --with-dependencies
                                          the golden image and the network it needs, on
                                          goldsmith's simulated Azure
  goldsmith run 05-golden-image --simulate --with-dependencies \\
      --az-cli \"$(tools/az-spec/install-az.sh)\"
                                          the same through the real Azure CLI
  goldsmith run 05-golden-image --simulate --with-dependencies --sim-state sim-azure
                                          a simulated Azure kept in sim-azure/ between runs:
                                          each run publishes the next image version
  goldsmith resume demo                   continue the latest run of `demo`
  goldsmith status                        the latest run as a table

Exit codes: 0 all succeeded, 1 an operation failed, 2 invalid input (nothing ran), 130 cancelled.";

#[derive(Debug, Parser)]
#[command(name = "goldsmith", version, about = "Builds Azure Virtual Desktop golden images from YAML modules of operations", after_help = AFTER_HELP)]
pub struct Args {
    /// Project root holding capabilities/, modules/ and config.yaml [default: $GITHUB_WORKSPACE or the current directory]
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Config file [default: <root>/config.yaml, optional]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// More logging (-v debug, -vv trace), on stderr
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// The global flags resolved once: what every command reads.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `--root`, else `$GITHUB_WORKSPACE`, else the current directory.
    pub root: PathBuf,
    /// `--config`; `None` for the optional `<root>/config.yaml`.
    pub config: Option<PathBuf>,
}

impl Args {
    pub fn settings(&self) -> Settings {
        Settings {
            root: self
                .root
                .clone()
                .or_else(|| std::env::var_os("GITHUB_WORKSPACE").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from(".")),
            config: self.config.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List modules and operations
    List,
    /// Check every file (or the named modules) and print all errors and warnings at once
    #[command(
        after_help = "Output: one `file:line:col: error|warning: message` line per finding, then the source line.\nExit code 2 when there are errors."
    )]
    Validate {
        /// Modules to check (id or folder name); all when none are given
        modules: Vec<String>,
        /// Treat warnings as errors
        #[arg(long)]
        strict: bool,
    },
    /// Show what a run would do: stages, operations, timeouts, locks, dependencies, estimate
    Plan {
        /// Module id or folder name
        module: String,
        /// Print the plan as a versioned JSON document
        #[arg(long)]
        json: bool,
        /// Plan the modules it depends on into it, first, as `run --with-dependencies` would
        #[arg(long)]
        with_dependencies: bool,
        #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        max_parallel: u16,
    },
    /// Run a module
    Run {
        /// Module id or folder name
        module: String,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Continue the latest run of a module: unchanged succeeded operations are not run again
    Resume {
        /// Module id or folder name [default: the module of the latest run]
        module: Option<String>,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Run as the GitHub Action: read the inputs from `INPUT_*` variables (the container's entry point)
    Action,
    /// Serve the simulated Azure over HTTPS (Entra ID and ARM) for the real Azure CLI; see docs/simulator.md
    #[command(
        name = "azure-standin",
        after_help = "Prints one JSON line (url, ca_file, tenant, subscription, client_id, log_file) once it listens,\nthen serves until SIGINT or SIGTERM. `goldsmith run <module> --simulate --az-cli <az>` starts one\nitself and signs an isolated real az in to it; docs/simulator.md shows the setup by hand.\n\nExample:\n  goldsmith azure-standin --dir /tmp/azure --sim-scenario modules/05-golden-image/sim-scenario.yaml"
    )]
    AzureStandin {
        /// The simulated Azure's state directory (kept there with the CA and the request log)
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The port on 127.0.0.1 [default: a free one]
        #[arg(long, default_value_t = 0, value_name = "PORT")]
        port: u16,
        /// The service principal's secret the token endpoint accepts [default: any]
        #[arg(
            long,
            env = "GOLDSMITH_STANDIN_CLIENT_SECRET",
            hide_env_values = true,
            value_name = "SECRET"
        )]
        client_secret: Option<String>,
        /// A scenario: what exists at the start and the faults to answer with (docs/simulator.md)
        #[arg(long, value_name = "FILE")]
        sim_scenario: Option<PathBuf>,
        /// Simulated seconds per real second
        #[arg(long, env = "GOLDSMITH_SIM_SPEED", default_value_t = 200.0, value_name = "F", value_parser = parse_speed)]
        sim_speed: f64,
    },
    /// Show the latest run (or one run) as a table
    Status {
        /// Only runs of this module
        module: Option<String>,
        /// A run id (a folder under artifacts/runs/)
        #[arg(long, value_name = "RUN_ID")]
        run: Option<String>,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunFlags {
    /// Run only these operations (comma-separated or repeated); the others are recorded as skipped
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub only: Vec<String>,
    /// Start at this operation; earlier ones are recorded as skipped
    #[arg(long, value_name = "ID")]
    pub from: Option<String>,
    /// At most this many operations at once
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub max_parallel: u16,
    /// After a failure: finish the stage, cancel everything, or continue with what does not wait for it
    #[arg(long, value_enum, default_value_t = FailFast::FinishStage)]
    pub fail_fast: FailFast,
    /// How long a terminated operation gets between SIGTERM and SIGKILL
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub kill_grace: Duration,
    /// After SIGINT/SIGTERM, how long until the `always: true` cleanup must be over (running operations get half of it to stop, then are killed); GitHub Actions sends SIGTERM 7.5s after SIGINT and kills 2.5s later
    #[arg(long, default_value = "6s", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub cancel_budget: Duration,
    /// How often to print what is still running
    #[arg(long, default_value = "30s", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub progress_interval: Duration,
    /// When the module is already running in this root, wait for that run to end instead of exiting 2
    #[arg(long)]
    pub wait: bool,
    /// Run the modules this one depends on (`dependencies:`) first, in this run; without it each must have succeeded in this root before
    #[arg(long)]
    pub with_dependencies: bool,
    /// Where to write the JUnit report [default: <run-dir>/junit.xml]
    #[arg(long, value_name = "FILE")]
    pub junit_path: Option<PathBuf>,
    /// Run against goldsmith's simulated Azure instead of a subscription (no login, nothing created)
    #[arg(long, env = "GOLDSMITH_SIMULATE", value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    pub simulate: bool,
    /// Simulated seconds per real second (with --simulate); retry backoff and waits for Azure scale with it, operation timeouts stay real time
    #[arg(long, default_value_t = 200.0, value_name = "F", requires = "simulate", value_parser = parse_speed)]
    pub sim_speed: f64,
    /// Faults to inject into the simulated Azure (with --simulate); see docs/simulator.md
    #[arg(long, value_name = "FILE", requires = "simulate")]
    pub sim_scenario: Option<PathBuf>,
    /// Keep the simulated Azure in DIR (relative to the root) between runs (created if absent; one run at a time),
    /// so a second run sees what the first made (with --simulate); see docs/simulator.md
    #[arg(long, value_name = "DIR", requires = "simulate")]
    pub sim_state: Option<PathBuf>,
    /// Run the operations through this Azure CLI (the real one, e.g. a venv's bin/az), signed in
    /// to goldsmith's Azure stand-in over HTTPS, instead of the built-in az (with --simulate)
    #[arg(long, value_name = "AZ", requires = "simulate", value_parser = parse_az_cli)]
    pub az_cli: Option<PathBuf>,
}

fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 && f <= 100_000.0 => Ok(f),
        _ => Err("must be a number greater than 0 (and at most 100000)".into()),
    }
}

/// `--az-cli`: a path (made absolute, as the operations run elsewhere) or a
/// bare name looked up on `PATH`, as a shell would; it must be a file.
fn parse_az_cli(s: &str) -> Result<PathBuf, String> {
    let given = PathBuf::from(s);
    let found = if s.contains('/') {
        std::path::absolute(&given).ok().filter(|p| p.is_file())
    } else {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(&given))
                .find(|p| p.is_file())
        })
    };
    found.ok_or_else(|| {
        if s.contains('/') {
            "no such file (give the path of an `az`, e.g. the one tools/az-spec/install-az.sh prints)".into()
        } else {
            format!("`{s}` is not on PATH (give the path of an `az`, e.g. the one tools/az-spec/install-az.sh prints)")
        }
    })
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::duration::parse_duration(s)
}

fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err("must be greater than zero".into()),
        d => Ok(d),
    }
}
