//! Managed run-commands (Run Command v2): `az vm run-command create`, `show`,
//! `list` and `delete`, a child resource of the VM
//! (`Microsoft.Compute/virtualMachines/runCommands`). Several run on one VM at
//! once, beside at most one action run-command; Windows Installer's mutex is
//! the VM's one mutex for all of them (`script::run` gives 1618 to a later
//! installer). The script plays from its creation; `show --instance-view`
//! reports where it is, as the REST reference "Virtual Machine Run Commands -
//! Get" shapes it; deleting a running one cancels it and frees the installer.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::call::{Call, Outcome};
use super::directives::Directives;
use super::error::AzError;
use super::ids;
use super::installers;
use super::power_state::PowerChange;
use super::run_command::{REBOOT_SECS, append_timeline, record_timeline};
use super::scenario::Scenario;
use super::script::{self, Run, TAIL_BYTES, tail};
use super::world::{Vm, World, vm_key};

/// ARM's type of the resource.
pub const ARM_TYPE: &str = "Microsoft.Compute/virtualMachines/runCommands";
/// How long ARM takes to accept (and, with `--async-execution`, start) a run command.
const PROVISION_SECS: f64 = 5.0;
/// How long a delete takes (it stops a running script first).
const DELETE_SECS: f64 = 3.0;

/// One run command resource, as the world keeps it: what `create` was given,
/// and the script's run, played in advance from its start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManagedRun {
    pub id: String,
    pub name: String,
    pub location: String,
    pub script: String,
    /// `--parameters` (echoed); `--protected-parameters` are never kept.
    pub parameters: Vec<(String, String)>,
    pub async_execution: bool,
    pub timeout_in_seconds: i64,
    pub output_blob_uri: Option<String>,
    pub error_blob_uri: Option<String>,
    /// Simulated seconds: when the script starts and ends (or times out).
    pub start: f64,
    pub end: f64,
    pub timed_out: bool,
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
    pub canceled_at: Option<f64>,
    /// When the installer mutex this script took frees, if it took it.
    pub installer_until: Option<f64>,
    pub reboot: bool,
    pub power: Option<PowerChange>,
    /// The VM has seen the script's reboot or power change.
    #[serde(default)]
    pub applied: bool,
}

/// `instanceView.executionState`, as Azure names its values.
fn execution_state(run: &ManagedRun, now: f64) -> &'static str {
    match run.canceled_at {
        Some(at) if at <= now => "Canceled",
        _ if now < run.start => "Pending",
        _ if now < run.end => "Running",
        _ if run.timed_out => "TimedOut",
        _ if run.exit_code == 0 => "Succeeded",
        _ => "Failed",
    }
}

/// Simulated time as a timestamp: the run's simulated clock started at `started_unix`.
fn at(started_unix: f64, t: f64) -> String {
    let nanos = ((started_unix + t) * 1e9) as i128;
    jiff::Timestamp::from_nanosecond(nanos)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

/// The instance view at `now` (REST: `properties.instanceView`).
fn instance_view(run: &ManagedRun, now: f64, started_unix: f64) -> Value {
    let state = execution_state(run, now);
    let done = !matches!(state, "Pending" | "Running");
    let (message, exit, output, error) = match state {
        "Pending" => ("", Value::Null, "", ""),
        "Running" => ("", Value::Null, "", ""),
        "Canceled" => ("RunCommand script execution canceled", Value::Null, "", ""),
        "TimedOut" => (
            "Execution time out",
            json!(-1),
            run.stdout.as_str(),
            run.stderr.as_str(),
        ),
        _ => (
            "RunCommand script execution completed",
            json!(run.exit_code),
            run.stdout.as_str(),
            run.stderr.as_str(),
        ),
    };
    let end = match (state, run.canceled_at) {
        ("Canceled", Some(t)) => json!(at(started_unix, t)),
        _ if done => json!(at(started_unix, run.end)),
        _ => Value::Null,
    };
    json!({
        "endTime": end,
        "error": tail(error, TAIL_BYTES),
        "executionMessage": message,
        "executionState": state,
        "exitCode": exit,
        "output": tail(output, TAIL_BYTES),
        "startTime": if now >= run.start { json!(at(started_unix, run.start)) } else { Value::Null },
        "statuses": [],
    })
}

/// The resource as ARM returns it (REST: "Virtual Machine Run Commands - Get").
pub fn rest_json(run: &ManagedRun, view: Option<Value>) -> Value {
    let parameters: Vec<Value> = (run.parameters.iter())
        .map(|(n, v)| json!({ "name": n, "value": v }))
        .collect();
    let mut properties = json!({
        "asyncExecution": run.async_execution,
        "parameters": parameters,
        "provisioningState": "Succeeded",
        "source": { "script": run.script },
        "timeoutInSeconds": run.timeout_in_seconds,
        "treatFailureAsDeploymentFailure": false,
    });
    if let Some(uri) = &run.output_blob_uri {
        properties["outputBlobUri"] = json!(uri);
    }
    if let Some(uri) = &run.error_blob_uri {
        properties["errorBlobUri"] = json!(uri);
    }
    if let Some(view) = view {
        properties["instanceView"] = view;
    }
    json!({
        "id": run.id,
        "location": run.location,
        "name": run.name,
        "properties": properties,
        "type": ARM_TYPE,
    })
}

/// The resource as az prints it: aaz flattens `properties` into the top level.
fn resource_json(run: &ManagedRun, view: Option<Value>) -> Value {
    flatten(rest_json(run, view))
}

fn flatten(mut body: Value) -> Value {
    if let Some(Value::Object(properties)) =
        body.as_object_mut().and_then(|b| b.remove("properties"))
        && let Some(top) = body.as_object_mut()
    {
        top.extend(properties);
    }
    body
}

/// az reads a value `@path` (or `name=@path`) from that file, as it does for any argument.
fn expand_file(value: &str) -> Result<String, AzError> {
    let Some(path) = value.strip_prefix('@').filter(|p| !p.is_empty()) else {
        return Ok(value.to_string());
    };
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.trim_end_matches('\n').to_string()),
        // az keeps the word as it is when no such file can be read.
        Err(_) => Ok(value.to_string()),
    }
}

/// `name=value` words as az splits them: on the first `=`; a word without
/// one is `arg<n>`.
fn name_values(words: &[String]) -> Result<Vec<(String, String)>, AzError> {
    let mut unnamed = 0;
    let mut out = Vec::new();
    for word in words {
        match word.split_once('=') {
            Some((n, v)) => out.push((n.to_string(), expand_file(v)?)),
            None => {
                unnamed += 1;
                out.push((format!("arg{unnamed}"), expand_file(word)?));
            }
        }
    }
    Ok(out)
}

/// The VM's resource group, its name and the run command's name.
fn names(call: &Call) -> Result<(String, String, String), AzError> {
    Ok((
        call.args.req("resource-group")?,
        call.args.req("vm-name")?,
        call.args.req("name")?,
    ))
}

/// The VM a run command belongs to, after ARM's checks of its group and itself.
fn vm_of<'s>(state: &'s mut World, sub: &str, rg: &str, vm: &str) -> Result<&'s mut Vm, AzError> {
    super::vm::find(state, sub, rg, vm)
}

fn not_found(rg: &str, vm: &str, name: &str) -> AzError {
    AzError::resource_not_found(
        &format!("Microsoft.Compute/virtualMachines/{vm}/runCommands/{name}"),
        rg,
    )
}

/// Applies a finished script's reboot or power change to its VM, once.
fn observe(vm: &mut Vm, now: f64) {
    let mut reboot_at = None;
    let mut power = None;
    for run in vm.managed_run_commands.values_mut() {
        if run.applied || run.canceled_at.is_some() || now < run.end {
            continue;
        }
        run.applied = true;
        if run.reboot {
            reboot_at = Some(run.end);
        }
        power = run.power.map(|p| (p, run.end)).or(power);
    }
    if let Some(t) = reboot_at {
        vm.agent_ready_at = vm.agent_ready_at.max(t + REBOOT_SECS);
    }
    if let Some((p, ended)) = power {
        p.apply(vm, ended);
    }
}

/// What a create asks for (from az's options or ARM's PUT body).
pub struct Spec {
    pub rg: String,
    pub vm: String,
    pub name: String,
    pub script: String,
    pub parameters: Vec<(String, String)>,
    pub async_execution: bool,
    /// 0: none.
    pub timeout: i64,
    pub location: Option<String>,
    pub output_blob_uri: Option<String>,
    pub error_blob_uri: Option<String>,
}

fn request(call: &Call) -> Result<Spec, AzError> {
    let (rg, vm, name) = names(call)?;
    let script = match call.args.one("script")? {
        Some(s) => expand_file(&s)?,
        None if call.args.has("command-id") || call.args.has("script-uri") => {
            return Err(AzError::sim(
                "the simulator runs managed run-commands given `--script` only",
            ));
        }
        None => String::new(),
    };
    // Protected values are read (as az does) and never kept.
    name_values(&call.args.many("protected-parameters"))?;
    Ok(Spec {
        rg,
        vm,
        name,
        script,
        parameters: name_values(&call.args.many("parameters"))?,
        async_execution: call.opt_bool("async-execution", false)?,
        timeout: call.opt_int("timeout-in-seconds", 0)?,
        location: call.args.one("location")?,
        output_blob_uri: call.args.one("output-blob-uri")?,
        error_blob_uri: call.args.one("error-blob-uri")?,
    })
}

/// Creates a run command as ARM does: the VM is checked as for an action
/// run-command (running, agent ready), then the script plays from its start,
/// alongside every other script on the VM, sharing its installer mutex. Both
/// front ends (the built-in az and the stand-in) create run commands here.
pub fn begin(
    state: &mut World,
    now: f64,
    subscription: &str,
    scenario: &Scenario,
    directives: &Directives,
    spec: &Spec,
) -> Result<(ManagedRun, Run), AzError> {
    if scenario.is_missing(&spec.rg, &spec.vm) {
        return Err(AzError::vm_not_found(&spec.rg, &spec.vm));
    }
    let vm = vm_of(state, subscription, &spec.rg, &spec.vm)?;
    if !vm.accepts_run_command() {
        return Err(AzError::vm_not_running());
    }
    if vm.agent_ready_at > now {
        return Err(AzError::agent_not_ready(&vm.name));
    }
    let start = now + PROVISION_SECS;
    // The script's downloads come first; a payload already in the VM's cache costs nothing.
    let fetched = vm.payloads.fetch(&directives.downloads, start);
    let mut played = script::run(
        directives,
        &spec.script,
        start + fetched.seconds,
        vm.installer_busy_until,
    );
    played.seconds += fetched.seconds;
    played.phases.splice(0..0, fetched.phases);
    if let Some(selection) = &directives.windows_update {
        super::windows_update::play(vm, scenario, selection, &spec.script, start, &mut played);
    }
    let took_installer = played.installer_busy_until > vm.installer_busy_until;
    vm.installer_busy_until = played.installer_busy_until;
    let limit = if spec.timeout > 0 {
        spec.timeout as f64
    } else {
        f64::INFINITY
    };
    let run = ManagedRun {
        id: ids::resource_id(
            subscription,
            &spec.rg,
            ARM_TYPE,
            &[spec.vm.clone(), spec.name.clone()],
        ),
        name: spec.name.clone(),
        location: spec.location.clone().unwrap_or_else(|| vm.location.clone()),
        script: spec.script.clone(),
        parameters: spec.parameters.clone(),
        async_execution: spec.async_execution,
        timeout_in_seconds: spec.timeout,
        output_blob_uri: spec.output_blob_uri.clone(),
        error_blob_uri: spec.error_blob_uri.clone(),
        start,
        end: start + played.seconds.min(limit),
        timed_out: played.seconds > limit,
        exit_code: played.exit,
        stdout: played.stdout.join("\n"),
        stderr: played.stderr.join("\n"),
        canceled_at: None,
        installer_until: took_installer.then_some(played.installer_busy_until),
        reboot: played.reboot,
        power: played.power,
        applied: false,
    };
    // A PUT on an existing name replaces it (and whatever it was running).
    vm.managed_run_commands
        .insert(spec.name.to_lowercase(), run.clone());
    Ok((run, played))
}

/// The run command (ARM's body) at `now`, its instance view with `expand`.
pub fn get(
    state: &mut World,
    now: f64,
    subscription: &str,
    (rg, vm, name): (&str, &str, &str),
    expand: bool,
) -> Result<Value, AzError> {
    let started = state.started_unix;
    let machine = vm_of(state, subscription, rg, vm)?;
    observe(machine, now);
    let run = (machine.managed_run_commands.get(&name.to_lowercase()))
        .ok_or_else(|| not_found(rg, vm, name))?;
    Ok(rest_json(
        run,
        expand.then(|| instance_view(run, now, started)),
    ))
}

/// The VM's run commands (ARM's bodies) at `now`.
pub fn all(
    state: &mut World,
    now: f64,
    subscription: &str,
    (rg, vm): (&str, &str),
    expand: bool,
) -> Result<Vec<Value>, AzError> {
    let started = state.started_unix;
    let machine = vm_of(state, subscription, rg, vm)?;
    observe(machine, now);
    Ok((machine.managed_run_commands.values())
        .map(|r| rest_json(r, expand.then(|| instance_view(r, now, started))))
        .collect())
}

/// Deletes a run command: a running script is stopped (Canceled) and its hold
/// on the installer mutex released. Returns what was deleted, if anything.
pub fn remove(
    state: &mut World,
    now: f64,
    subscription: &str,
    (rg, vm, name): (&str, &str, &str),
) -> Result<Option<ManagedRun>, AzError> {
    let machine = vm_of(state, subscription, rg, vm)?;
    observe(machine, now);
    let Some(mut run) = machine.managed_run_commands.remove(&name.to_lowercase()) else {
        return Ok(None);
    };
    if now < run.end {
        run.canceled_at = Some(now);
        if run.installer_until == Some(machine.installer_busy_until) {
            machine.installer_busy_until = now;
        }
    }
    Ok(Some(run))
}

/// `az vm run-command create`.
pub fn create(call: &Call) -> Outcome {
    let spec = request(call)?;
    let directives = Directives::parse(&spec.script).map_err(|e| AzError::sim(e.to_string()))?;
    let scenario = &call.sim.scenario;
    let (op, attempt) = (call.sim.env.op.as_deref(), call.sim.env.attempt);
    let directives = installers::apply(&scenario.installers, op, attempt, &directives);
    let sub = call.sub().to_string();
    let (run, played) = call
        .sim
        .transact(|state, now| begin(state, now, &sub, scenario, &directives, &spec))??;
    let key = vm_key(&sub, &spec.rg, &spec.vm);
    let (dir, op) = (&call.sim.env.dir, op.unwrap_or_default());
    record_timeline(dir, op, &key, &played);
    record_script(dir, op, &key, &run, "script", run.start, run.end);
    let wait = if run.async_execution {
        PROVISION_SECS
    } else {
        run.end - run.start + PROVISION_SECS
    };
    call.delay(wait);
    Ok(Some(resource_json(&run, None)))
}

/// `az vm run-command show [--instance-view]`.
pub fn show(call: &Call) -> Outcome {
    let (rg, vm, name) = names(call)?;
    let expand = call.args.flag("instance-view")?
        || call.args.one("expand")?.as_deref() == Some("instanceView");
    let sub = call.sub().to_string();
    let body = call
        .sim
        .transact(|state, now| get(state, now, &sub, (&rg, &vm, &name), expand))??;
    Ok(Some(flatten(body)))
}

/// `az vm run-command list --vm-name VM -g RG [--expand instanceView]`.
pub fn list(call: &Call) -> Outcome {
    let (Some(rg), Some(vm)) = (call.args.one("resource-group")?, call.args.one("vm-name")?) else {
        return Err(AzError::cli(
            "Please specify --location or specify --vm-name and --resource-group",
        ));
    };
    let expand = call.args.one("expand")?.as_deref() == Some("instanceView");
    let sub = call.sub().to_string();
    let bodies = call
        .sim
        .transact(|state, now| all(state, now, &sub, (&rg, &vm), expand))??;
    Ok(Some(Value::Array(
        bodies.into_iter().map(flatten).collect(),
    )))
}

/// `az vm run-command delete --yes`: deleting what is not there succeeds, as ARM answers 204.
pub fn delete(call: &Call) -> Outcome {
    let (rg, vm, name) = (
        call.args.req("resource-group")?,
        call.args.req("vm-name")?,
        call.args.req("name")?,
    );
    call.confirm()?;
    let sub = call.sub().to_string();
    let removed = call
        .sim
        .transact(|state, now| remove(state, now, &sub, (&rg, &vm, &name)))??;
    let op = call.sim.env.op.as_deref().unwrap_or_default();
    record_cancel(
        &call.sim.env.dir,
        op,
        &vm_key(&sub, &rg, &vm),
        removed.as_ref(),
    );
    if !call.no_wait()? {
        call.delay(DELETE_SECS);
    }
    Ok(None)
}

/// Notes in the timeline that deleting `removed` stopped its script.
pub fn record_cancel(dir: &Path, op: &str, vm: &str, removed: Option<&ManagedRun>) {
    if let Some(run) = removed
        && let Some(t) = run.canceled_at
    {
        record_script(dir, op, vm, run, "canceled", run.start.min(t), t);
    }
}

/// A managed script's span in `<sim dir>/timeline.jsonl` (from create; a
/// delete that cancels it adds a `canceled` line), so tests and people see
/// which scripts overlapped on a VM.
pub fn record_script(
    dir: &Path,
    op: &str,
    vm: &str,
    run: &ManagedRun,
    phase: &str,
    start: f64,
    end: f64,
) {
    let line = json!({
        "vm": vm, "op": op, "run_command": run.name, "phase": phase, "start": start, "end": end,
    });
    append_timeline(dir, &format!("{line}\n"));
}

/// The VM's managed run commands, by lower-cased name, for `world::Vm`.
pub type ManagedRuns = BTreeMap<String, ManagedRun>;

#[cfg(test)]
mod tests {
    use super::*;

    fn run(exit_code: i32, timed_out: bool) -> ManagedRun {
        ManagedRun {
            id: "id".into(),
            name: "n".into(),
            location: "westeurope".into(),
            script: String::new(),
            parameters: Vec::new(),
            async_execution: true,
            timeout_in_seconds: 60,
            output_blob_uri: None,
            error_blob_uri: None,
            start: 10.0,
            end: 40.0,
            timed_out,
            exit_code,
            stdout: "out".into(),
            stderr: String::new(),
            canceled_at: None,
            installer_until: None,
            reboot: false,
            power: None,
            applied: false,
        }
    }

    #[test]
    fn the_execution_state_follows_the_clock() {
        let r = run(0, false);
        assert_eq!(execution_state(&r, 5.0), "Pending");
        assert_eq!(execution_state(&r, 20.0), "Running");
        assert_eq!(execution_state(&r, 40.0), "Succeeded");
        assert_eq!(execution_state(&run(3, false), 41.0), "Failed");
        assert_eq!(execution_state(&run(0, true), 41.0), "TimedOut");
        let mut c = run(0, false);
        c.canceled_at = Some(20.0);
        assert_eq!(execution_state(&c, 30.0), "Canceled");
    }

    #[test]
    fn the_instance_view_reports_the_exit_code_once_done() {
        let view = instance_view(&run(3, false), 41.0, 0.0);
        assert_eq!(view["executionState"], "Failed");
        assert_eq!(view["exitCode"], 3);
        assert_eq!(view["output"], "out");
        let view = instance_view(&run(3, false), 20.0, 0.0);
        assert_eq!(view["exitCode"], Value::Null);
        assert_eq!(view["endTime"], Value::Null);
    }

    #[test]
    fn parameters_split_on_the_first_equals_sign() {
        let words = ["a=b=c".to_string(), "plain".to_string()];
        assert_eq!(
            name_values(&words).unwrap(),
            [
                ("a".to_string(), "b=c".to_string()),
                ("arg1".to_string(), "plain".to_string())
            ]
        );
    }
}
