//! The simulated Azure CLI: what answers `az` under `goldsmith run --simulate`.
//!
//! It answers the `az` commands an AVD golden-image library uses, in the
//! shapes the real Azure CLI 2.91.0 prints (the repository's `tests/fixtures/az`),
//! keeps what they create in a state file shared by every `az` process of one
//! run (under an exclusive lock), simulates time at `GOLDSMITH_SIM_SPEED`, and
//! "runs" run-command scripts by reading their `# goldsmith-sim:` directives.
//! Faults come from the scenario file. `docs/simulator.md` is the user guide.
//!
//! goldsmith enters it twice: [`prepare`] sets up a simulated run, and
//! [`az_main`] is the `az` program itself (goldsmith invoked by that name, or
//! this crate's own `az` binary).

mod account;
mod argparse;
mod args;
mod avd;
mod avd_agent;
mod call;
mod call_log;
mod clock;
mod commands;
mod directives;
mod directory;
mod duration;
mod env;
mod error;
mod faults;
mod federated;
mod gallery;
mod groups;
mod identity;
mod ids;
mod installers;
mod json_arg;
mod lock;
mod managed_run_command;
mod network;
mod output;
mod payload_cache;
mod power_state;
mod rbac;
mod resources;
mod rest;
mod run_command;
mod scenario;
mod script;
mod seed;
mod session_host;
mod sim;
mod similar;
mod spec;
pub mod standin;
mod storage;
mod types;
mod vm;
mod vm_agent;
mod vm_create;
mod vm_extension;
mod vm_power;
mod wait;
mod windows_update;
mod world;

use std::cell::RefCell;
use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use args::Args;
use call::Call;
use commands::Lookup;
use env::SimEnv;
use error::AzError;
use output::{Format, Query};
use scenario::Scenario;
use sim::Sim;

pub use env::{ATTEMPT, DEFAULT_CLIENT_ID, DEFAULT_TENANT, DIR, OP, SCENARIO, SPEED};

/// Entry point when the binary runs as `az`; returns the process exit code.
pub fn az_main(args: Vec<OsString>) -> i32 {
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let env = match SimEnv::from_env() {
        Ok(env) => env,
        Err(e) => {
            eprintln!("ERROR: {e}");
            return 1;
        }
    };
    let mut warnings = Vec::new();
    let record = env.clone();
    let result = run(env, &args, &mut warnings);
    let mut stderr = io::stderr().lock();
    for w in &warnings {
        let _ = write!(stderr, "{w}");
    }
    match result {
        Ok(out) => {
            let mut stdout = io::stdout().lock();
            // A closed pipe (`az … | head -1`) is not an error for az either.
            let _ = stdout
                .write_all(out.as_bytes())
                .and_then(|()| stdout.flush());
            call_log::record(&record, &args, 0);
            0
        }
        Err(e) => {
            let _ = stderr.write_all(e.render().as_bytes());
            call_log::record(&record, &args, e.exit_code());
            e.exit_code()
        }
    }
}

fn run(env: SimEnv, raw: &[String], warnings: &mut Vec<String>) -> Result<String, AzError> {
    let split = args::split(raw);
    let (command, used) = match commands::lookup(&split.words) {
        Lookup::Found(c, used) => (c, used),
        Lookup::Group(words) => return Ok(commands::group_help(&words)),
        Lookup::Unknown(e) => return Err(e),
    };
    if let Some(extension) = commands::extension_of(command.path)
        && !extension_installed(&env, extension)?
    {
        // As the real az without it: the command's first word is unknown.
        return Err(AzError::unknown_word(extension));
    }
    let mut args = Args::resolve(&split.options, command.aliases);
    if !args.has("help") {
        // az parses every word against the command's definition before it
        // does anything else; the first error is all it says.
        let Some(spec) = spec::command(command.path) else {
            return Err(AzError::sim_io(format!(
                "no argument spec for `az {}`: regenerate crates/az-sim/src/az_spec.json (docs/simulator.md)",
                command.path
            )));
        };
        let spelled_out = argparse::check(command.path, spec, &raw[used..])?;
        args = Args::resolve(&args::split(&spelled_out).options, command.aliases);
    }
    if args.has("help") {
        let words: Vec<String> = command.path.split(' ').map(String::from).collect();
        return Ok(format!(
            "\nCommand\n    az {}\n\nSimulated by goldsmith: see docs/simulator.md.\n{}",
            command.path,
            commands::group_help(&words[..words.len() - 1])
        ));
    }
    let format = Format::parse(&args.one_or("output", "json")?, command.path)?;
    let query = args.one("query")?.map(|q| Query::compile(&q)).transpose()?;
    let scenario = match &env.scenario {
        Some(path) => Scenario::load(path).map_err(|e| AzError::sim(e.0))?,
        None => Scenario::default(),
    };
    let sim = Sim::new(env, scenario);
    sim.start()?;
    if let Err(e) = faults::gate(&sim, command.path, command.arm_type(), &args) {
        // az shows ARM's 404 for `group exists` (a HEAD) as `false`.
        if command.path == "group exists" && e.exit_code() == 3 {
            return output::render(
                command.path,
                Some(&serde_json::Value::Bool(false)),
                format,
                query.as_ref(),
            );
        }
        return Err(e);
    }
    let call = Call {
        sim: &sim,
        args,
        warnings: RefCell::new(Vec::new()),
    };
    let result = command.run(&call);
    warnings.extend(call.warnings.take());
    output::render(command.path, result?.as_ref(), format, query.as_ref())
}

/// Whether `az extension add -n <name>` ran in this world (the run's image
/// installs none: goldsmith's library calls AVD through `az rest`).
fn extension_installed(env: &SimEnv, name: &str) -> Result<bool, AzError> {
    let scenario = match &env.scenario {
        Some(path) => Scenario::load(path).map_err(|e| AzError::sim(e.0))?,
        None => Scenario::default(),
    };
    let sim = Sim::new(env.clone(), scenario);
    sim.start()?;
    sim.transact(|state, _| state.extensions.contains(name))
}

/// What goldsmith tells [`prepare`] about a simulated run.
pub struct Setup<'a> {
    /// Where the simulator keeps its state, its call log and `bin/az`
    /// (goldsmith gives the run directory's `sim/`).
    pub sim_dir: &'a Path,
    /// Simulated seconds per real second (`--sim-speed`).
    pub speed: f64,
    /// The scenario file given for the run (`--sim-scenario`), if any.
    pub scenario: Option<PathBuf>,
    /// The module's `module.yaml`. Without a given scenario, the module's own
    /// [`MODULE_SCENARIO`] beside it is the scenario, if there is one: a module
    /// that needs what earlier modules make (the golden image needs the
    /// network) declares it there under `exists:`, and says so under `notice:`.
    pub module_file: &'a Path,
    /// Vets the module's own scenario before it is read and returns the path
    /// to read; its error is returned as is. goldsmith keeps the file inside
    /// the project here, as it does for a given scenario before this.
    pub confine: &'a dyn Fn(&Path) -> io::Result<PathBuf>,
    /// The `az` the operations find first on `PATH`: goldsmith itself (the
    /// built-in az) when `None`, else this program (the real Azure CLI,
    /// signed in to the stand-in that serves this world).
    pub az: Option<&'a Path>,
}

/// A prepared simulated run.
#[derive(Debug)]
pub struct Prepared {
    /// The environment the operations need: `GOLDSMITH_SIM_DIR`,
    /// `GOLDSMITH_SIM_SPEED`, `GOLDSMITH_SIM_SCENARIO` (when there is a
    /// scenario) and `PATH` with `bin/` first.
    pub env: Vec<(String, String)>,
    /// The scenario's `notice:`, the line a run prints when it starts with it.
    pub notice: Option<String>,
    /// The scenario the run uses (given, or the module's own).
    pub scenario: Option<PathBuf>,
}

/// The file name of a module's own scenario, beside its `module.yaml`.
pub const MODULE_SCENARIO: &str = "sim-scenario.yaml";

/// Prepares `sim_dir` for a simulated run: the state directory and
/// `bin/az`, a link to the running program, which answers as the simulated
/// az when invoked by that name (goldsmith's `main` calls [`az_main`]).
/// A speed that is not a positive number is an `InvalidInput` error; a
/// scenario file that does not parse is an `InvalidData` error naming its
/// file and line, so a run can refuse to start.
pub fn prepare(setup: Setup) -> io::Result<Prepared> {
    let scenario = match setup.scenario {
        Some(given) => Some(given),
        None => module_scenario(setup.module_file)
            .map(|path| (setup.confine)(&path))
            .transpose()?,
    };
    let speed = setup.speed;
    if !(speed.is_finite() && speed > 0.0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("simulation speed must be a positive number, not {speed}"),
        ));
    }
    let sim_dir = setup.sim_dir;
    let bin = sim_dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    let link = bin.join("az");
    match std::fs::remove_file(&link) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let az = match setup.az {
        Some(az) => absolute(az)?,
        None => std::env::current_exe()?,
    };
    std::os::unix::fs::symlink(az, &link)?;
    let mut env = vec![
        (DIR.to_string(), absolute(sim_dir)?.display().to_string()),
        (SPEED.to_string(), speed.to_string()),
    ];
    let mut notice = None;
    let scenario = scenario.map(|p| absolute(&p)).transpose()?;
    if let Some(path) = &scenario {
        notice = Scenario::load(path)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.0))?
            .notice;
        env.push((SCENARIO.to_string(), path.display().to_string()));
    }
    let mut path = absolute(&bin)?.into_os_string();
    if let Some(old) = std::env::var_os("PATH").filter(|p| !p.is_empty()) {
        path.push(":");
        path.push(old);
    }
    env.push(("PATH".to_string(), path.to_string_lossy().into_owned()));
    Ok(Prepared {
        env,
        notice,
        scenario,
    })
}

/// Makes the world of a prepared run before anything reaches it, as the
/// first built-in `az` of a run does: the scenario's `vms:`, its `exists:`
/// commands (their `{{NAME}}`s from `lookup`, the operations' variables) and
/// its VM faults. A run through the real az needs this: the stand-in serving
/// the world sees none of the operations' variables. The error names the
/// failing `exists:` entry.
pub fn seed(
    sim_dir: &Path,
    speed: f64,
    scenario: Option<&Path>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), String> {
    let scenario = match scenario {
        Some(path) => Scenario::load(path).map_err(|e| e.0)?,
        None => Scenario::default(),
    };
    let speed = speed.to_string();
    let env = SimEnv::from_lookup(|name| match name {
        DIR => Some(sim_dir.as_os_str().to_owned()),
        SPEED => Some(speed.clone().into()),
        _ => None,
    })
    .map_err(|e| e.to_string())?;
    Sim::new(env, scenario)
        .start_with(lookup)
        .map_err(|e| e.render().trim().to_string())
}

/// `sim-scenario.yaml` in the module's folder, if there is one.
fn module_scenario(module_file: &Path) -> Option<PathBuf> {
    let path = module_file.parent()?.join(MODULE_SCENARIO);
    path.is_file().then_some(path)
}

fn absolute(path: &Path) -> io::Result<PathBuf> {
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(path))
    }
}
