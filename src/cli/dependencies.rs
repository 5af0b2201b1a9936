//! The plan of `run`/`resume` for a module with `dependencies:`: with
//! `--with-dependencies` the modules it depends on are planned into the same
//! run, first; without it each must already have succeeded in this root.

use super::CliError;
use super::args::{RunFlags, Settings};
use super::inspect;
use crate::catalog::{Module, dependencies};
use crate::plan::{Plan, PlanOptions};
use crate::project::Project;
use crate::record::state::StateFile;
use crate::run_dir::RanIn;

/// Plans `module` for a run, or for resuming the run `resumed`; exit 2
/// (nothing ran) when a dependency is not met.
pub fn plan_run(
    settings: &Settings,
    module: &str,
    flags: &RunFlags,
    resumed: Option<&StateFile>,
) -> Result<(Project, Plan), CliError> {
    let (project, mut plans) = inspect::load_plans(
        settings,
        module,
        PlanOptions {
            secrets: super::run_cmd::secret_check(flags),
        },
        flags.simulate,
        flags.with_dependencies,
    )?;
    if flags.with_dependencies {
        let plan = merged(plans)?;
        if !plan.dependencies.is_empty() {
            println!(
                "goldsmith: --with-dependencies: {} first, then {}",
                plan.dependencies.join(", "),
                plan.module.id
            );
        }
        return Ok((project, plan));
    }
    let plan = plans.pop().expect("the module's own plan");
    check_met(&project, &plan, flags, resumed)?;
    Ok((project, plan))
}

/// The plans (dependencies first) as one; exit 2 when two modules render a
/// shared operation differently.
fn merged(plans: Vec<Plan>) -> Result<Plan, CliError> {
    crate::plan::merge(plans)
        .map_err(|e| CliError::Invalid(format!("--with-dependencies: {e}; nothing ran")))
}

/// Plans `module` again, as `plan_run` did, with the project's values as they
/// are now (the run values chosen when the run starts).
pub fn replan(project: &Project, module: &str, flags: &RunFlags) -> Result<Plan, CliError> {
    let options = PlanOptions {
        secrets: super::run_cmd::secret_check(flags),
    };
    let mut diags = crate::source::Diagnostics::default();
    let target = project.module(module)?;
    let mut modules = if flags.with_dependencies {
        dependencies::resolve(&project.catalog, target, &mut diags)
    } else {
        Vec::new()
    };
    modules.push(target);
    let plans: Option<Vec<Plan>> = modules
        .iter()
        .map(|m| project.plan(m, options, &mut diags))
        .collect();
    match plans {
        Some(plans) if !diags.has_errors() => merged(plans),
        _ => {
            inspect::print_diagnostics(project, &diags);
            Err(CliError::Invalid(format!(
                "`{module}` is invalid with the values chosen for this run; nothing ran"
            )))
        }
    }
}

/// Each dependency of the plan's module has succeeded in this root (a real
/// run), or the simulated Azure of this run is given what they make.
/// A resumed run continues where its dependencies' work already is (its own
/// Azure, or the one it ran in): what it did for them counts.
fn check_met(
    project: &Project,
    plan: &Plan,
    flags: &RunFlags,
    resumed: Option<&StateFile>,
) -> Result<(), CliError> {
    let module = project.module(&plan.module.id)?;
    let done_in_resumed = |d: &&Module| {
        resumed.is_some_and(|s| {
            d.entries
                .iter()
                .all(|e| s.op(&e.id).is_some_and(|o| o.done_or_off()))
        })
    };
    let deps: Vec<&Module> =
        dependencies::resolve(&project.catalog, module, &mut Default::default())
            .into_iter()
            .filter(|d| !done_in_resumed(d))
            .collect();
    if deps.is_empty() {
        return Ok(());
    }
    let kept = flags
        .sim_state
        .as_deref()
        .filter(|_| flags.simulate)
        .map(|d| super::sim_world::kept_dir(&project.root, d));
    let azure = match &kept {
        Some(world) => RanIn::KeptWorld(world),
        None if flags.simulate => return simulated_world_has(project, module, &deps, flags),
        None => RanIn::Real,
    };
    // Every run's state is read once, not once per dependency.
    let runs = crate::run_dir::all_runs(&project.root);
    let missing: Vec<&Module> = deps
        .into_iter()
        .filter(|d| {
            let ops: Vec<&str> = d.entries.iter().map(|e| e.id.as_str()).collect();
            crate::run_dir::succeeded_run(&runs, &ops, azure).is_none()
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let (where_, how) = match &kept {
        Some(world) => (
            format!("the simulated Azure kept in {}", world.display()),
            format!(" --simulate --sim-state {}", world.display()),
        ),
        None => (project.root.display().to_string(), String::new()),
    };
    Err(CliError::Invalid(format!(
        "`{}` depends on {} with no succeeded run in {where_}; run {} first, or add --with-dependencies to run {} first in this run; nothing ran",
        module.id,
        names(&missing),
        commands(&missing, &how),
        if missing.len() == 1 { "it" } else { "them" },
    )))
}

/// A simulated run starts from an empty simulated Azure, so no earlier run
/// made anything in it: its dependencies must run in it, unless a scenario
/// (`--sim-scenario` or the module's own `sim-scenario.yaml`) declares what they make.
fn simulated_world_has(
    project: &Project,
    module: &Module,
    deps: &[&Module],
    flags: &RunFlags,
) -> Result<(), CliError> {
    let own_scenario = project
        .root
        .join(&module.file)
        .with_file_name(az_sim::MODULE_SCENARIO);
    if flags.sim_scenario.is_some() || own_scenario.is_file() {
        return Ok(());
    }
    Err(CliError::Invalid(format!(
        "`{}` depends on {}, and a simulated run starts from an empty Azure; add --with-dependencies to run {} first in this run (or give --sim-scenario declaring what {}); nothing ran",
        module.id,
        names(deps),
        if deps.len() == 1 { "it" } else { "them" },
        if deps.len() == 1 {
            "it makes"
        } else {
            "they make"
        },
    )))
}

/// `00-resource-group` and `01-networking`, by folder: what users type.
fn names(modules: &[&Module]) -> String {
    let quoted: Vec<String> = modules.iter().map(|m| format!("`{}`", m.folder)).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// `goldsmith run 00-resource-group`, then `goldsmith run 01-networking`, with `flags`.
fn commands(modules: &[&Module], flags: &str) -> String {
    modules
        .iter()
        .map(|m| format!("`goldsmith run {}{flags}`", m.folder))
        .collect::<Vec<_>>()
        .join(", then ")
}
