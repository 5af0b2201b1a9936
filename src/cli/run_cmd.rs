//! `run` and `resume`: plan, take the module's lock, prepare the run
//! directory, build the reporters, execute.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use super::CliError;
use super::args::RunFlags;
use super::args::Settings;
use super::azure_setup;
use super::inspect;
use super::paths::RunPaths;
use super::run_values;
use super::sim_world::{self, SimWorld};
use crate::azure::session::Session;
use crate::azure::sign_in::Requested;
use crate::azure::stand_in::{self, StandInRun};
use crate::github::actions::{self, Actions};
use crate::plan::Plan;
use crate::project::Project;
use crate::record::event::{EventLine, RunSetup};
use crate::record::run_record::RunRecord;
use crate::record::sink::{Recorder, Reporter};
use crate::record::state::StateFile;
use crate::redact::Redactor;
use crate::report::{
    check_run, console::Console, finish::FinalReports, jsonl::JsonlWriter, state_file::StateWriter,
};
use crate::run::{ExecOptions, Executor, Preset, UnitContext, signals};
use crate::run_dir::{self, LogReader, RunDir};
use crate::run_lock::{LockError, RunLock};

pub fn run(settings: &Settings, module: &str, flags: &RunFlags) -> Result<i32, CliError> {
    let (mut project, plan) = super::dependencies::plan_run(settings, module, flags, None)?;
    let presets = select(&plan, flags)?;
    let lock = lock_module(&project.root, &plan.module.id, flags)?;
    execute(&mut project, plan, flags, presets, None, lock)
}

pub fn resume(
    settings: &Settings,
    module: Option<&str>,
    flags: &RunFlags,
) -> Result<i32, CliError> {
    let root = &settings.root;
    let module_id = match module {
        Some(name) => {
            // Resolve folder names to ids before looking for runs.
            let mut diags = crate::source::Diagnostics::default();
            let project = inspect::load(settings, &mut diags)?;
            Some(project.module(name)?.id.clone())
        }
        None => run_dir::latest_run(root, None).map(|(_, s)| s.module),
    };
    // The lock first, then the latest run: a run that held the lock has ended
    // (its operations with it), so its state is final.
    let lock = match &module_id {
        Some(id) => Some(lock_module(root, id, flags)?),
        None => None,
    };
    let latest = module_id.and_then(|id| run_dir::latest_run(root, Some(&id)));
    let (Some(lock), Some((dir, previous))) = (lock, latest) else {
        let what = module
            .map(|m| format!(" of module `{m}`"))
            .unwrap_or_default();
        return Err(CliError::Invalid(format!(
            "no earlier run{what} under {} to resume; start one with `goldsmith run <module>`",
            run_dir::runs_root(root).display()
        )));
    };
    sim_world::check_resume(&dir, &previous, flags.simulate)?;
    let (mut project, mut plan) =
        super::dependencies::plan_run(settings, &previous.module, flags, Some(&previous))?;
    if run_values::keep_recorded(&mut project, &plan, &previous.values) {
        plan = super::dependencies::replan(&project, &previous.module, flags)?;
    }
    let mut presets = select(&plan, flags)?;
    if previous.cleanup_ran {
        println!(
            "goldsmith: run {} ran its cleanup, which may have undone what its operations made: every operation runs again (idempotency checks skip what is still there)",
            previous.run_id
        );
    }
    for (i, op) in plan
        .ops
        .iter()
        .enumerate()
        .filter(|_| !previous.cleanup_ran)
    {
        if let Some(prev) = previous.op(&op.id)
            && prev.status.is_ok()
            && prev.fingerprint == op.fingerprint
        {
            presets.insert(
                i,
                Preset::CarriedOver(format!(
                    "{} in run {}, unchanged",
                    prev.status, previous.run_id
                )),
            );
        }
    }
    tracing::debug!("resuming {} from {}", previous.run_id, dir.display());
    let resumed = (RunDir::open(root, &previous.run_id), previous);
    execute(&mut project, plan, flags, presets, Some(resumed), lock)
}

/// A real run needs its secrets; the simulated Azure invents stand-ins.
pub(super) fn secret_check(flags: &RunFlags) -> crate::plan::SecretCheck {
    if flags.simulate {
        crate::plan::SecretCheck::Noted
    } else {
        crate::plan::SecretCheck::Required
    }
}

/// Takes the module's run lock (waiting with `--wait`), then makes sure no
/// signal arrived meanwhile.
fn lock_module(root: &Path, module: &str, flags: &RunFlags) -> Result<RunLock, CliError> {
    stop_if_signalled()?;
    let lock = RunLock::acquire(
        root,
        module,
        flags.wait,
        // One write, so the line is never torn apart in a log.
        |busy| {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("goldsmith: waiting (--wait): {busy}\n").as_bytes(),
            );
        },
        || {
            signals::Received::now()
                .any()
                .then(|| signals::Received::now().name())
        },
    )
    .map_err(|e| match e {
        LockError::Busy { .. } => CliError::Invalid(e.to_string()),
        LockError::Cancelled(_) => CliError::Cancelled(e.to_string()),
        LockError::Io { .. } => nothing_ran(format!(
            "{e}: {}",
            std::error::Error::source(&e)
                .map(ToString::to_string)
                .unwrap_or_default()
        )),
    })?;
    stop_if_signalled()?;
    Ok(lock)
}

/// A SIGINT/SIGTERM before the run directory exists ends the command: nothing ran.
fn stop_if_signalled() -> Result<(), CliError> {
    let received = signals::Received::now();
    if received.any() {
        return Err(CliError::Cancelled(format!(
            "cancelled by {} before the run started; nothing ran",
            received.name()
        )));
    }
    Ok(())
}

/// `--only` and `--from` as presets for the ops that will not run.
fn select(plan: &Plan, flags: &RunFlags) -> Result<HashMap<usize, Preset>, CliError> {
    let index = |id: &str, flag: &str| {
        plan.ops.iter().position(|o| o.id == id).ok_or_else(|| {
            let hint = crate::source::suggest(id, plan.ops.iter().map(|o| o.id.as_str()))
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
            CliError::Invalid(format!(
                "{flag}: `{id}` is not an operation of module `{}`{hint}",
                plan.module.id
            ))
        })
    };
    let mut presets = HashMap::new();
    if !flags.only.is_empty() {
        let chosen: Vec<usize> = flags
            .only
            .iter()
            .map(|id| index(id, "--only"))
            .collect::<Result<_, _>>()?;
        for i in 0..plan.ops.len() {
            if !chosen.contains(&i) {
                presets.insert(i, Preset::Skip("not selected (--only)".into()));
            }
        }
    }
    if let Some(from) = &flags.from {
        let start = index(from, "--from")?;
        for i in 0..start {
            presets.insert(i, Preset::Skip(format!("before `{from}` (--from)")));
        }
    }
    Ok(presets)
}

fn execute(
    project: &mut Project,
    plan: Plan,
    flags: &RunFlags,
    presets: HashMap<usize, Preset>,
    resumed: Option<(RunDir, StateFile)>,
    lock: RunLock,
) -> Result<i32, CliError> {
    let paths = super::paths::check(project, flags)?;
    let actions = Actions::detect();
    let (redactor, requested) = secrets(project, flags, actions.as_ref())?;
    stop_if_signalled()?;
    let session = match flags.simulate {
        true => None,
        false => azure_setup::real_azure(
            requested,
            crate::azure::preflight::calls_az(&plan),
            &operations_env(project),
            azure_setup::masker(actions.as_ref()),
        )?,
    };
    let mut world = flags
        .simulate
        .then(|| {
            SimWorld::open(
                &project.root,
                flags.sim_state.as_deref(),
                resumed.as_ref().map(|(d, s)| (d, s)),
            )
        })
        .transpose()?;
    let plan = choose_values(
        project,
        plan,
        flags,
        &paths,
        world.as_ref(),
        &redactor,
        session.as_deref(),
    )?;
    let project = &*project;
    let (max_parallel, throttled) =
        crate::run::fd_budget::max_parallel(flags.max_parallel as usize);
    let mut opts = ExecOptions {
        run_id: String::new(),
        max_parallel,
        fail_fast: flags.fail_fast,
        progress_interval: flags.progress_interval,
        presets,
        external: external_requirements(&project.root, &plan),
        resumed_from: resumed.map(|(_, s)| s.run_id),
        setup: RunSetup {
            simulated: flags.simulate,
            sim_state: world.as_ref().and_then(SimWorld::kept),
            values: plan
                .run_values
                .iter()
                .filter_map(|v| Some((v.name.clone(), v.value.clone()?)))
                .collect(),
        },
        cancel_budget: flags.cancel_budget,
    };
    let (dir, record) = prepare_run_dir(project, &plan, &mut opts, lock)?;
    if let Some(world) = &mut world {
        world.settle(&dir)?;
    }
    if let Some(note) = throttled {
        println!("{note}");
    }
    // The stand-in of a run through the real az serves until the run ends.
    let azure = Azure {
        session,
        gha: actions.as_ref(),
        sim_dir: world.as_ref().map(SimWorld::dir),
    };
    let (ctx, _standin) = unit_context(project, &plan, &dir, flags, &paths, &redactor, azure)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let check = actions
        .as_ref()
        .and_then(|gha| check_run::start(gha, &runtime, &plan.module.id, &redactor));

    let mut reporters = Reporters::new(project, &dir, &paths, actions.as_ref(), &redactor)?;
    let mut recorder = Recorder::new(record, redactor.clone(), reporters.list());
    let status = runtime.block_on(Executor::new(Arc::new(plan), opts, &mut recorder).run(ctx));
    let record = recorder.into_record();

    if let Some(check) = check {
        check.finish_run(&runtime, &record, reporters.reports.summary());
    }
    let status = status.context("the run stopped because a report could not be written")?;
    Ok(status.exit_code())
}

/// Every secret value goldsmith knows of (config secrets, credentials in its
/// environment, action inputs with every value of `creds`), masked in the
/// runner's log first and in everything goldsmith writes; and the Azure
/// sign-in the inputs ask for (read on real runs only).
fn secrets(
    project: &Project,
    flags: &RunFlags,
    gha: Option<&Actions>,
) -> Result<(Redactor, Requested), CliError> {
    let config = &project.config;
    let mut secrets: Vec<String> = config.secret_values.values().cloned().collect();
    secrets.extend(crate::run::environment::credentials(std::env::vars()));
    let (requested, sign_in_secrets) = azure_setup::read_inputs(gha.filter(|_| !flags.simulate))?;
    secrets.extend(sign_in_secrets);
    if let Some(gha) = gha {
        secrets.extend(gha.input_secrets());
        // Before anything else is printed: the runner masks these in its log.
        actions::mask(&secrets);
    }
    warn_short_secrets(config);
    Ok((sink_redactor(secrets.iter()), requested))
}

/// The environment every operation's processes start from (before the
/// simulator's settings and the sign-in's configuration directory).
fn operations_env(project: &Project) -> Vec<(String, String)> {
    let mut env = crate::run::environment::inherited(std::env::vars());
    env.extend(project.config.environment());
    env
}

/// The run's Azure sign-in, made before the run directory (real runs), and
/// what a sign-in to the stand-in needs from the action.
struct Azure<'a> {
    session: Option<Arc<Session>>,
    gha: Option<&'a Actions>,
    /// Where the simulated Azure is (`--simulate`).
    sim_dir: Option<&'a Path>,
}

/// Creates the run directory with plan.json, the scripts and the first
/// state.json in it, and names the run in the module's lock before the
/// directory becomes visible. Returns it with the record its state shows.
fn prepare_run_dir(
    project: &Project,
    plan: &Plan,
    opts: &mut ExecOptions,
    mut lock: RunLock,
) -> Result<(RunDir, RunRecord), CliError> {
    let mut record = RunRecord::default();
    let dir = RunDir::create(&project.root, &plan.module.id, |dir| {
        opts.run_id = dir.id.clone();
        record = RunRecord::default();
        record.apply(&EventLine::now(crate::run::run_started(plan, opts)));
        dir.write_plan(plan, &StateFile::from(&record))?;
        // Named in the lock before the run is visible, so `status` never sees it ownerless.
        lock.set_run_id(&dir.id)
    })
    .map_err(|e| {
        nothing_ran(format!(
            "cannot create a run directory under {}: {e}",
            run_dir::runs_root(&project.root).display()
        ))
    })?;
    // From here the lock lives as long as this process or any operation it started.
    crate::run::supervisor::hold_run_lock(lock.into_fd());
    Ok((dir, record))
}

/// The reporters of a run, in the order they see each event.
struct Reporters {
    console: Console,
    events: JsonlWriter,
    state: StateWriter,
    reports: FinalReports,
}

impl Reporters {
    fn new(
        project: &Project,
        dir: &RunDir,
        paths: &RunPaths,
        gha: Option<&Actions>,
        redactor: &Redactor,
    ) -> Result<Self, CliError> {
        let events = JsonlWriter::create(&dir.events())
            .map_err(|e| nothing_ran(format!("cannot write {}: {e}", dir.events().display())))?;
        let root = std::fs::canonicalize(&project.root).unwrap_or(project.root.clone());
        let shown_dir = dir
            .path
            .strip_prefix(&root)
            .unwrap_or(&dir.path)
            .to_path_buf();
        let mut console = Console::new(
            Box::new(std::io::stdout()),
            redactor.clone(),
            shown_dir.clone(),
        );
        if gha.is_some() {
            console = console.with_log_groups(LogReader::new(&dir.logs(), redactor.clone()));
        }
        let targets = gha.map(Actions::targets).transpose()?;
        let reports = FinalReports::new(
            dir,
            &shown_dir,
            paths.junit.clone().unwrap_or_else(|| dir.junit()),
            redactor.clone(),
            targets,
            Box::new(std::io::stdout()),
        );
        Ok(Reporters {
            console,
            events,
            state: StateWriter::new(dir),
            reports,
        })
    }

    fn list(&mut self) -> Vec<&mut dyn Reporter> {
        vec![
            &mut self.console,
            &mut self.events,
            &mut self.state,
            &mut self.reports,
        ]
    }
}

/// The least real time a retry budget or a wait for Azure allows when the
/// real az runs the operations (a second or more per call, however fast the
/// simulated clock).
const REAL_AZ_MIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// What every operation's processes share: the environment (with the
/// simulated Azure's settings under `--simulate`), the clock scale, the
/// redactor; and the Azure stand-in of a run through the real az.
fn unit_context(
    project: &Project,
    plan: &Plan,
    dir: &RunDir,
    flags: &RunFlags,
    paths: &RunPaths,
    redactor: &Redactor,
    mut azure: Azure<'_>,
) -> Result<(UnitContext, Option<StandInRun>), CliError> {
    let mut env = operations_env(project);
    let mut time_scale = 1.0;
    let mut standin = None;
    if let Some(sim_dir) = azure.sim_dir {
        let az = flags.az_cli.as_deref();
        let prepared = simulated_azure(project, plan, sim_dir, az, flags, paths)?;
        if let Some(notice) = &prepared.notice {
            println!("goldsmith: simulated Azure: {notice}");
        }
        env.extend(prepared.env);
        if let Some(az) = &flags.az_cli {
            let started = through_real_az(az, sim_dir, flags, prepared.scenario, &env, azure.gha)?;
            env.extend(started.env.iter().cloned());
            azure.session = Some(started.session.clone());
            standin = Some(started);
        } else {
            azure.session = azure_setup::simulated_oidc(sim_dir, &env, azure.gha)?;
        }
        time_scale = 1.0 / flags.sim_speed;
    }
    let cwd = std::fs::canonicalize(&project.root).unwrap_or(project.root.clone());
    let bash =
        crate::run::environment::find_program("bash", &env, &cwd).unwrap_or_else(|| "bash".into());
    let ctx = UnitContext {
        run_id: dir.id.clone(),
        run_dir: dir.clone(),
        cwd,
        bash,
        env,
        secrets: project.config.secret_values.clone(),
        grace: flags.kill_grace,
        redactor: redactor.clone(),
        time_scale,
        min_timeout: if standin.is_some() {
            REAL_AZ_MIN_TIMEOUT
        } else {
            std::time::Duration::ZERO
        },
        restarts: Default::default(),
        busy: Default::default(),
        azure: azure.session,
        cancelled: Default::default(),
    };
    Ok((ctx, standin))
}

/// `--az-cli`: seeds the run's world, starts the stand-in on it and signs the
/// given az in; `env` is the operations' environment (the seeds' placeholders
/// come from it).
fn through_real_az(
    az: &Path,
    sim_dir: &Path,
    flags: &RunFlags,
    scenario: Option<std::path::PathBuf>,
    env: &[(String, String)],
    gha: Option<&Actions>,
) -> Result<StandInRun, CliError> {
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    az_sim::seed(sim_dir, flags.sim_speed, scenario.as_deref(), &lookup)
        .map_err(|e| CliError::Invalid(format!("the simulated Azure: {e}; nothing ran")))?;
    let served = stand_in::Served {
        sim_dir,
        speed: flags.sim_speed,
        scenario,
    };
    let signing = stand_in::Signing {
        oidc: azure_setup::runner_oidc(gha),
        on_secret: azure_setup::masker(gha),
    };
    let started = stand_in::start(az, served, env, signing).map_err(|e| {
        CliError::Invalid(format!(
            "--az-cli: {e}; nothing ran (the run's simulated Azure is in {})",
            sim_dir.display()
        ))
    })?;
    let passed =
        azure_setup::stand_in_preflight(az, &[env, &started.env].concat(), &started.session)?;
    println!(
        "goldsmith: simulated Azure: operations run {} ({}), signed in to the Azure stand-in at {} ({}); requests in {}",
        az.display(),
        passed.version,
        started.standin.endpoint.url,
        started.session.method(),
        started.standin.endpoint.log_file.display()
    );
    Ok(started)
}

/// Sets up the simulated Azure in the run directory: the environment that
/// points az at it, and the scenario it uses.
fn simulated_azure(
    project: &Project,
    plan: &Plan,
    sim_dir: &Path,
    az: Option<&Path>,
    flags: &RunFlags,
    paths: &RunPaths,
) -> Result<az_sim::Prepared, CliError> {
    // Without --sim-scenario, the module's own sim-scenario.yaml (what it needs to
    // exist), read only from inside the project.
    let confine = |path: &Path| {
        safe_read::resolve_inside(&project.root, path).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{}: {e}", path.display()),
            )
        })
    };
    let prepared = az_sim::prepare(az_sim::Setup {
        sim_dir,
        speed: flags.sim_speed,
        scenario: paths.scenario.clone(),
        module_file: &project.root.join(&plan.module.file),
        confine: &confine,
        az,
    })
    .map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => CliError::Invalid(e.to_string()),
        std::io::ErrorKind::InvalidData | std::io::ErrorKind::NotFound => {
            CliError::Invalid(format!("--sim-scenario: {e}"))
        }
        _ => CliError::Other(anyhow::Error::new(e).context("cannot prepare the simulated Azure")),
    })?;
    Ok(prepared)
}

/// Chooses the run values the plan still needs, with the environment the
/// operations will get (in the simulated Azure the run will use), and plans again.
fn choose_values(
    project: &mut Project,
    plan: Plan,
    flags: &RunFlags,
    paths: &RunPaths,
    world: Option<&SimWorld>,
    redactor: &Redactor,
    session: Option<&Session>,
) -> Result<Plan, CliError> {
    if plan.run_values.iter().all(|v| v.value.is_some()) {
        return Ok(plan);
    }
    let mut env = operations_env(project);
    // A real run's sign-in: the chooser asks the subscription, as operations do.
    env.extend(session.map(Session::env).unwrap_or_default());
    // The built-in az, also under --az-cli: the stand-in that serves the real az
    // starts with the run, and answers from this same world.
    if let Some(world) = world {
        env.extend(simulated_azure(project, &plan, world.dir(), None, flags, paths)?.env);
    }
    let chooser = run_values::Chooser {
        env: &env,
        redactor,
    };
    let module = plan.module.id.clone();
    run_values::choose(project, plan, &chooser, |project| {
        super::dependencies::replan(project, &module, flags)
    })
}

/// A failure while preparing the run: nothing ran, so it exits 2 like invalid input.
fn nothing_ran(what: String) -> CliError {
    CliError::Invalid(format!(
        "{what}; nothing ran. Make the artifacts folder writable (or free space), or run from another --root"
    ))
}

/// A secret of one to three characters is masked too, but it may hide ordinary output
/// (`1` in "exit code 1"): say so once, before the run.
fn warn_short_secrets(config: &crate::config::Config) {
    let short: Vec<&str> = config
        .secret_values
        .iter()
        .filter(|(_, v)| v.chars().count() < 4)
        .map(|(name, _)| name.as_str())
        .collect();
    for name in short {
        println!(
            "goldsmith: warning: secret `{name}` is shorter than 4 characters: it is masked, but so is every other occurrence of its value in logs and reports"
        );
    }
}

/// A redactor for every sink: secret values, and their JSON-escaped forms as they appear
/// in JSON that scripts and az print into logs.
pub fn sink_redactor<'a>(secrets: impl Iterator<Item = &'a String>) -> Redactor {
    let mut forms = Vec::new();
    for s in secrets {
        forms.push(s.clone());
        let json = serde_json::to_string(s).unwrap_or_default();
        forms.push(json[1..json.len().saturating_sub(1)].to_string());
    }
    Redactor::new(forms)
}

/// For `requires` outside the module: did the op succeed in the newest run that recorded it?
fn external_requirements(root: &Path, plan: &Plan) -> HashMap<String, bool> {
    let wanted: Vec<&str> = plan
        .ops
        .iter()
        .flat_map(|o| o.requires_outside.iter().map(|r| r.id.as_str()))
        .collect();
    if wanted.is_empty() {
        return HashMap::new();
    }
    let runs = run_dir::all_runs(root);
    wanted
        .into_iter()
        .map(|id| {
            let ok = runs
                .iter()
                .find_map(|(_, s)| s.op(id))
                .is_some_and(|o| o.status.is_ok());
            (id.to_string(), ok)
        })
        .collect()
}
