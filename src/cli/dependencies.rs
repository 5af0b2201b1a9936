//! The plan of `run`/`resume` for a module with `dependencies:`: with
//! `--with-dependencies` the modules it depends on are planned into the same
//! run, first; without it each must already have succeeded in this root.

use super::CliError;
use super::args::{RunFlags, Settings};
use super::inspect;
use crate::catalog::{Module, dependencies};
use crate::plan::{Plan, PlanOptions};
use crate::project::Project;

/// Plans `module` for a run; exit 2 (nothing ran) when a dependency is not met.
pub fn plan_run(
    settings: &Settings,
    module: &str,
    flags: &RunFlags,
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
        let plan = crate::plan::merge(plans)
            .map_err(|e| CliError::Invalid(format!("--with-dependencies: {e}; nothing ran")))?;
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
    check_met(&project, &plan, flags)?;
    Ok((project, plan))
}

/// Each dependency of the plan's module has succeeded in this root (a real
/// run), or the simulated Azure of this run is given what they make.
fn check_met(project: &Project, plan: &Plan, flags: &RunFlags) -> Result<(), CliError> {
    let module = project.module(&plan.module.id)?;
    let deps = dependencies::resolve(&project.catalog, module, &mut Default::default());
    if deps.is_empty() {
        return Ok(());
    }
    if flags.simulate {
        return simulated_world_has(project, module, &deps, flags);
    }
    let missing: Vec<&Module> = deps
        .into_iter()
        .filter(|d| {
            let ops: Vec<&str> = d.entries.iter().map(|e| e.id.as_str()).collect();
            crate::run_dir::succeeded_real_run(&project.root, &ops).is_none()
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(CliError::Invalid(format!(
        "`{}` depends on {} with no succeeded run in {}; run {} first, or add --with-dependencies to run {} first in this run; nothing ran",
        module.id,
        names(&missing),
        project.root.display(),
        commands(&missing),
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

/// `goldsmith run 00-resource-group`, then `goldsmith run 01-networking`.
fn commands(modules: &[&Module]) -> String {
    modules
        .iter()
        .map(|m| format!("`goldsmith run {}`", m.folder))
        .collect::<Vec<_>>()
        .join(", then ")
}
