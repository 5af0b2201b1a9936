//! The command line: flags → settings → one command. Prints the final error
//! once and maps every outcome to an exit code (0, 1, 2, 130).

mod action;
mod args;
mod azure_setup;
mod dependencies;
mod inspect;
mod paths;
mod run_cmd;
mod run_values;
mod sim_world;
mod status;

use std::io::Write;

use clap::Parser;

pub use args::{Args, Command};

/// Exit codes of ARCHITECTURE.md.
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const INVALID: i32 = 2;
    pub const CANCELLED: i32 = 130;
}

/// Errors that end a command before or outside a run.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The user's files or flags are invalid; the diagnostics were printed already.
    #[error("{0}")]
    Invalid(String),
    /// Something outside the user's files failed (disk, a report).
    #[error(transparent)]
    Other(#[from] anyhow::Error),
    /// A signal arrived before the run started; nothing ran.
    #[error("{0}")]
    Cancelled(String),
}

impl From<crate::project::ProjectError> for CliError {
    fn from(e: crate::project::ProjectError) -> Self {
        CliError::Invalid(e.0)
    }
}

impl From<crate::github::actions::InputError> for CliError {
    fn from(e: crate::github::actions::InputError) -> Self {
        CliError::Invalid(e.0)
    }
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Invalid(_) => exit::INVALID,
            CliError::Other(_) => exit::FAILED,
            CliError::Cancelled(_) => exit::CANCELLED,
        }
    }
}

pub fn main() -> i32 {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::INVALID
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    init_logging(args.verbose);
    match dispatch(args) {
        Ok(code) => code,
        Err(e) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "error: {e}");
            if let CliError::Other(e) = &e {
                for cause in e.chain().skip(1) {
                    let _ = writeln!(err, "  caused by: {cause}");
                }
            }
            e.exit_code()
        }
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GOLDSMITH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("goldsmith={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn dispatch(args: Args) -> Result<i32, CliError> {
    if matches!(args.command, Command::Run { .. } | Command::Resume { .. }) {
        // First of all: a signal from here on cancels the run (exit 130)
        // instead of killing goldsmith halfway through making its run directory.
        crate::run::signals::install();
    }
    let settings = args.settings();
    let root = &settings.root;
    match &args.command {
        Command::Action => {
            let env: std::collections::HashMap<String, String> = std::env::vars().collect();
            let argv = action::argv_from_inputs(&env)?;
            tracing::debug!("inputs mean: {argv:?}");
            let inner = Args::try_parse_from(&argv)
                .map_err(|e| CliError::Invalid(format!("invalid action inputs: {e}")))?;
            if matches!(inner.command, Command::Action) {
                return Err(CliError::Invalid(
                    "input `command` cannot be `action`".into(),
                ));
            }
            dispatch(inner)
        }
        Command::List => inspect::list(&settings),
        Command::Validate { modules, strict } => inspect::validate(&settings, modules, *strict),
        Command::Plan {
            module,
            json,
            with_dependencies,
            max_parallel,
        } => inspect::plan(&settings, module, *json, *with_dependencies, *max_parallel),
        Command::Run { module, run } => run_cmd::run(&settings, module, run),
        Command::Resume { module, run } => run_cmd::resume(&settings, module.as_deref(), run),
        Command::AzureStandin {
            dir,
            port,
            client_secret,
            sim_scenario,
            sim_speed,
        } => azure_standin(az_sim::standin::Options {
            dir: dir.clone(),
            port: *port,
            client_secret: client_secret.clone(),
            scenario: sim_scenario.clone(),
            speed: Some(*sim_speed),
        }),
        Command::Status { module, run } => status::show(root, module.as_deref(), run.as_deref()),
    }
}

/// `goldsmith azure-standin`: one JSON line saying where it listens, then serve.
fn azure_standin(options: az_sim::standin::Options) -> Result<i32, CliError> {
    az_sim::standin::serve(options, |endpoint| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string(endpoint).unwrap_or_default()
        );
        let _ = out.flush();
    })
    .map_err(|e| CliError::Other(anyhow::Error::new(e).context("the Azure stand-in stopped")))?;
    Ok(exit::OK)
}
