//! `run` and `resume`: plan, prepare the run directory, execute, report.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use super::args::RunFlags;
use super::gha::{self, Actions};
use super::project::{self, Project};
use super::{Args, CliError};
use crate::plan::{Plan, PlanOptions, Script};
use crate::record::state::RunState;
use crate::redact::Redactor;
use crate::report::{
    Fanout, console::Console, finish::FinalReports, jsonl::JsonlWriter, state_file::StateWriter,
};
use crate::run::{ExecOptions, Executor, Preset, UnitContext, signals};
use crate::run_dir::{self, RunDir};
use crate::run_lock::{LockError, RunLock};

pub fn run(root: &Path, args: &Args, module: &str, flags: &RunFlags) -> Result<i32, CliError> {
    let (project, plan) = project::load_plan(
        root,
        args,
        module,
        PlanOptions {
            secrets_required: !flags.simulate,
        },
        flags.simulate,
    )?;
    let presets = select(&plan, flags)?;
    let lock = lock_module(&project.root, &plan.module.id, flags)?;
    execute(&project, plan, flags, presets, None, lock)
}

pub fn resume(
    root: &Path,
    args: &Args,
    module: Option<&str>,
    flags: &RunFlags,
) -> Result<i32, CliError> {
    let module_id = match module {
        Some(name) => {
            // Resolve folder names to ids before looking for runs.
            let mut diags = crate::diag::Diagnostics::default();
            let project = project::load(root, args, &mut diags)?;
            Some(project::find_module(&project, name)?.id.clone())
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
    let (project, plan) = project::load_plan(
        root,
        args,
        &previous.module,
        PlanOptions {
            secrets_required: !flags.simulate,
        },
        flags.simulate,
    )?;
    let mut presets = select(&plan, flags)?;
    for (i, op) in plan.ops.iter().enumerate() {
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
    execute(&project, plan, flags, presets, Some(previous.run_id), lock)
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
            let hint = crate::diag::suggest(id, plan.ops.iter().map(|o| o.id.as_str()))
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
    project: &Project,
    plan: Plan,
    flags: &RunFlags,
    presets: HashMap<usize, Preset>,
    resumed_from: Option<String>,
    mut lock: RunLock,
) -> Result<i32, CliError> {
    let config = &project.config;
    let paths = super::paths::check(project, flags)?;
    let actions = Actions::detect();
    let mut secrets: Vec<String> = config.secret_values.values().cloned().collect();
    secrets.extend(crate::run::environment::credentials(std::env::vars()));
    if let Some(gha) = &actions {
        secrets.extend(gha.input_secrets());
        // Before anything else is printed: the runner masks these in its log.
        gha::mask(&secrets);
    }
    warn_short_secrets(config);
    if let Some(gha) = actions.as_ref().filter(|_| !flags.simulate) {
        sign_in(gha, &mut secrets)?;
    }
    stop_if_signalled()?;
    let redactor = sink_redactor(secrets.iter());
    let external = external_requirements(&project.root, &plan);
    let started_at = jiff::Timestamp::now();
    let initial_state = |id: &str| {
        RunState::new(
            id,
            &plan.module.id,
            &plan.module.file.display().to_string(),
            started_at,
            plan.ops
                .iter()
                .map(|o| (o.id.clone(), o.stage, o.fingerprint.clone()))
                .collect(),
        )
    };
    let dir = RunDir::create(&project.root, &plan.module.id, |dir| {
        write_run_files(dir, &plan)?;
        let json =
            serde_json::to_vec_pretty(&initial_state(&dir.id)).map_err(std::io::Error::other)?;
        run_dir::write_atomic(&dir.state(), &json)?;
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
    let initial = initial_state(&dir.id);
    let mut state = StateWriter::new(&dir.state(), initial);
    let mut events = JsonlWriter::create(&dir.events())
        .map_err(|e| nothing_ran(format!("cannot write {}: {e}", dir.events().display())))?;
    let shown_dir = dir
        .path
        .strip_prefix(&project.root)
        .unwrap_or(&dir.path)
        .to_path_buf();
    let mut console = Console::new(
        Box::new(std::io::stdout()),
        redactor.clone(),
        shown_dir.clone(),
    );
    let run_dir = std::fs::canonicalize(&dir.path).unwrap_or(dir.path.clone());
    if actions.is_some() {
        console = console.with_log_groups(run_dir.join("logs"));
    }
    let junit_path = paths.junit.unwrap_or_else(|| run_dir.join("junit.xml"));
    let targets = actions.as_ref().map(Actions::targets).transpose()?;
    let mut reports = FinalReports::new(
        &run_dir,
        &shown_dir,
        junit_path,
        redactor.clone(),
        targets,
        Box::new(std::io::stdout()),
    );
    let mut fanout = Fanout {
        sinks: vec![&mut console, &mut events, &mut state, &mut reports],
        redactor: redactor.clone(),
    };

    let (max_parallel, throttled) =
        crate::run::fd_budget::max_parallel(flags.max_parallel as usize);
    if let Some(note) = throttled {
        println!("{note}");
    }
    let opts = ExecOptions {
        run_id: dir.id.clone(),
        max_parallel,
        fail_fast: flags.fail_fast,
        progress_interval: flags.progress_interval,
        presets,
        external,
        resumed_from,
    };
    let mut env = crate::run::environment::inherited(std::env::vars());
    env.extend(config.environment());
    let mut time_scale = 1.0;
    if flags.simulate {
        // Without --sim-scenario, the module's own sim-scenario.yaml (what it needs to exist),
        // read only from inside the project.
        let confine = |path: &std::path::Path| {
            crate::safe_read::resolve_inside(&project.root, path).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })
        };
        let prepared = az_sim::prepare(az_sim::Setup {
            run_dir: &run_dir,
            speed: flags.sim_speed,
            scenario: paths.scenario.clone(),
            module_file: &project.root.join(&plan.module.file),
            confine: &confine,
        })
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::NotFound => {
                CliError::Invalid(format!("--sim-scenario: {e}"))
            }
            _ => {
                CliError::Other(anyhow::Error::new(e).context("cannot prepare the simulated Azure"))
            }
        })?;
        if let Some(notice) = prepared.notice {
            println!("goldsmith: simulated Azure: {notice}");
        }
        env.extend(prepared.env);
        time_scale = 1.0 / flags.sim_speed;
    }
    let ctx = UnitContext {
        run_id: dir.id.clone(),
        run_dir: run_dir.clone(),
        cwd: std::fs::canonicalize(&project.root).unwrap_or(project.root.clone()),
        env,
        secrets: config.secret_values.clone(),
        grace: flags.kill_grace,
        redactor: redactor.clone(),
        time_scale,
        rebooting: Default::default(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let check = actions
        .as_ref()
        .and_then(|gha| super::check::start(gha, &runtime, &plan.module.id, &redactor));
    let plan = Arc::new(plan);
    let status = runtime.block_on(Executor::new(plan, opts, &mut fanout).run(ctx));
    drop(fanout);
    if let Some(check) = check {
        let record = reports.record();
        let summary = std::fs::read_to_string(run_dir.join("summary.md")).unwrap_or_default();
        let annotations = crate::report::annotations::for_run(record);
        check.finish(
            &runtime,
            super::check::conclusion(record),
            &super::check::title(record),
            &summary,
            &annotations,
        );
    }
    let status = status.context("the run stopped because a report could not be written")?;
    Ok(status.exit_code())
}

/// A failure while preparing the run: nothing ran, so it exits 2 like invalid input.
fn nothing_ran(what: String) -> CliError {
    CliError::Invalid(format!(
        "{what}; nothing ran. Make the artifacts folder writable (or free space), or run from another --root"
    ))
}

/// plan.json and the rendered scripts, written into the run directory before it is visible.
fn write_run_files(dir: &RunDir, plan: &Plan) -> std::io::Result<()> {
    let write = |path: std::path::PathBuf, text: &str| {
        std::fs::write(&path, text)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
    };
    write(dir.plan(), &crate::plan::render::json(plan))?;
    for op in &plan.ops {
        match &op.script {
            Script::Bash(text) => write(dir.script(&op.id, "sh"), text)?,
            Script::RunCommand(rc) => write(dir.script(&op.id, "ps1"), &rc.shown)?,
            Script::Invalid => {}
        }
        if let Some(check) = &op.check {
            write(dir.script(&op.id, "check.sh"), check)?;
        }
    }
    Ok(())
}

/// Signs the Azure CLI in with the action's credentials; a token fetched on the way is masked at once.
fn sign_in(gha: &Actions, secrets: &mut Vec<String>) -> Result<(), CliError> {
    let creds = gha.credentials();
    if creds.client_id.is_none() && creds.tenant_id.is_none() && creds.client_secret.is_none() {
        if creds.azure_config_dir.is_none() {
            println!(
                "goldsmith: no Azure credentials given (inputs client-id and tenant-id); az uses the configuration it finds"
            );
        }
        return Ok(());
    }
    match crate::azure::login::login(&creds, "az") {
        Ok((method, new_secrets)) => {
            gha::mask(&new_secrets);
            secrets.extend(new_secrets);
            println!("goldsmith: signed in to Azure ({method:?})");
            Ok(())
        }
        Err(e) => Err(CliError::Other(
            anyhow::Error::new(e).context("cannot sign in to Azure"),
        )),
    }
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
