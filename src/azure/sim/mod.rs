//! The simulated Azure CLI: `goldsmith` invoked as `az` under
//! `goldsmith run --simulate`.
//!
//! It answers the `az` commands an AVD golden-image library uses, in the
//! shapes the real Azure CLI 2.91.0 prints (`tests/fixtures/az`),
//! keeps what they create in a state file shared by every `az` process of one
//! run (under an exclusive lock), simulates time at `GOLDSMITH_SIM_SPEED`, and
//! "runs" run-command scripts by reading their `# goldsmith-sim:` directives.
//! Faults come from the scenario file. `docs/simulator.md` is the user guide.

mod account;
mod argparse;
mod args;
mod avd;
mod avd_agent;
pub mod calls;
mod clock;
mod commands;
mod context;
mod ctx;
pub mod directives;
pub mod duration;
pub mod env;
mod error;
mod faults;
mod gallery;
mod groups;
mod identity;
mod ids;
mod json_arg;
mod lock;
mod network;
mod output;
mod power;
mod resources;
mod rest;
mod run_command;
pub mod scenario;
mod script;
mod seed;
mod session_host;
mod similar;
mod spec;
mod state;
mod storage;
mod types;
mod vm;
mod vm_agent;
mod vm_create;
mod vm_extension;
mod vm_power;
mod wait;

use std::cell::RefCell;
use std::ffi::OsString;
use std::io::{self, Write};
use std::path::Path;

use args::Args;
use commands::Lookup;
use context::Sim;
use ctx::Ctx;
use env::SimEnv;
use error::AzError;
use output::{Format, Query};
use scenario::Scenario;

pub use env::{ATTEMPT, DIR, OP, SCENARIO, SPEED};

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
        let _ = writeln!(stderr, "WARNING: {w}");
    }
    match result {
        Ok(out) => {
            let mut stdout = io::stdout().lock();
            // A closed pipe (`az … | head -1`) is not an error for az either.
            let _ = stdout
                .write_all(out.as_bytes())
                .and_then(|()| stdout.flush());
            calls::record(&record, &args, 0);
            0
        }
        Err(e) => {
            let _ = stderr.write_all(e.render().as_bytes());
            calls::record(&record, &args, e.exit_code());
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
    let mut args = Args::resolve(&split.options, command.aliases);
    if !args.has("help") {
        // az parses every word against the command's definition before it
        // does anything else; the first error is all it says.
        let Some(spec) = spec::command(command.path) else {
            return Err(AzError::sim_io(format!(
                "no argument spec for `az {}`: regenerate src/azure/sim/az_spec.json (docs/simulator.md)",
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
    faults::gate(&sim, command.path, command.arm_type(), &args)?;
    let ctx = Ctx {
        sim: &sim,
        args,
        warnings: RefCell::new(Vec::new()),
    };
    let result = command.run(&ctx);
    warnings.extend(ctx.warnings.take());
    output::render(result?.as_ref(), format, query.as_ref())
}

/// Prepares `<run_dir>/sim/` for a simulated run: the state directory and
/// `bin/az`, a link to this goldsmith binary. Returns the environment the
/// operations need: `GOLDSMITH_SIM_DIR`, `GOLDSMITH_SIM_SPEED`,
/// `GOLDSMITH_SIM_SCENARIO` (when given) and `PATH` with `bin/` first.
/// A scenario file that does not parse is an `InvalidData` error naming its
/// file and line, so a run can refuse to start.
pub fn prepare(
    run_dir: &Path,
    speed: f64,
    scenario: Option<&Path>,
) -> io::Result<Vec<(String, String)>> {
    if !(speed.is_finite() && speed > 0.0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("simulation speed must be a positive number, not {speed}"),
        ));
    }
    let sim_dir = run_dir.join("sim");
    let bin = sim_dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    let link = bin.join("az");
    match std::fs::remove_file(&link) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    std::os::unix::fs::symlink(std::env::current_exe()?, &link)?;
    let mut vars = vec![
        (DIR.to_string(), absolute(&sim_dir)?.display().to_string()),
        (SPEED.to_string(), speed.to_string()),
    ];
    if let Some(path) = scenario {
        Scenario::load(path).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.0))?;
        vars.push((SCENARIO.to_string(), absolute(path)?.display().to_string()));
    }
    let mut path = absolute(&bin)?.into_os_string();
    if let Some(old) = std::env::var_os("PATH").filter(|p| !p.is_empty()) {
        path.push(":");
        path.push(old);
    }
    vars.push(("PATH".to_string(), path.to_string_lossy().into_owned()));
    Ok(vars)
}

/// The file name of a module's own scenario, beside its `module.yaml`.
pub const MODULE_SCENARIO: &str = "sim-scenario.yaml";

/// The scenario a simulated run of the module in `module_file` uses when
/// none is given: `sim-scenario.yaml` in the module's folder, if there is one.
/// A module that needs what earlier modules make (the golden image needs the
/// network) declares it there under `exists:`, and says so under `notice:`.
pub fn module_scenario(module_file: &Path) -> Option<std::path::PathBuf> {
    let path = module_file.parent()?.join(MODULE_SCENARIO);
    path.is_file().then_some(path)
}

/// The scenario's `notice:`, the line a run prints when it starts with it.
pub fn notice(scenario: &Path) -> Option<String> {
    Scenario::load(scenario).ok()?.notice
}

fn absolute(path: &Path) -> io::Result<std::path::PathBuf> {
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(path))
    }
}
