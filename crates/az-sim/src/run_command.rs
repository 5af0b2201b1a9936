//! `az vm run-command invoke`: one action run-command per VM at a time, the
//! VM's power and agent state checked as ARM does, the script "run" from its
//! directives, and the result printed as Windows (`ComponentStatus/…`) or
//! Linux (`ProvisioningState/…`) run-command output.

use std::path::Path;

use serde_json::{Value, json};

use super::call::{Call, Outcome};
use super::clock::unix_now;
use super::directives::Directives;
use super::error::{AzError, Example};
use super::installers;
use super::power_state::PowerChange;
use super::scenario::Scenario;
use super::script::{self, Run, TAIL_BYTES, tail};
use super::world::{Slot, World, vm_key};

/// The agent is back this long after the VM restarts by itself.
pub const REBOOT_SECS: f64 = 60.0;

/// The examples az prints with a usage error of this command (fixture j).
fn examples() -> Vec<Example> {
    [
        (
            "az vm run-command invoke -g MyResourceGroup -n MyVm --command-id RunShellScript --scripts \"sudo apt-get update && sudo apt-get install -y nginx\"",
            "Install nginx on a linux VM.",
        ),
        (
            "az vm run-command invoke -g MyResourceGroup -n MyVm --command-id RunShellScript --scripts 'echo $1 $2' --parameters hello world",
            "Run shell command on a linux VM with parameters.",
        ),
        (
            "az vm run-command invoke --command-id RunPowerShellScript --name win-vm -g my-resource-group --scripts 'param([string]$arg1,[string]$arg2)' 'Write-Host This is a sample script with parameters $arg1 and $arg2' --parameters 'arg1=somefoo' 'arg2=somebar'",
            "Run powershell script on a windows VM with parameters. Script supplied inline. Be wary of single-quoting in CMD.exe.",
        ),
    ]
    .into_iter()
    .map(|(command, description)| Example {
        command: command.into(),
        description: description.into(),
    })
    .collect()
}

struct Request {
    resource_group: String,
    name: String,
    linux: bool,
    script: String,
}

fn request(call: &Call) -> Result<Request, AzError> {
    let mut required = vec!["command-id"];
    if !call.args.has("ids") {
        required.extend(["name", "resource-group"]);
    }
    call.args
        .require(&required)
        .map_err(|e| e.with_examples(examples()))?;
    let (resource_group, name) =
        super::vm::target(call).map_err(|e| e.with_examples(examples()))?;
    let command_id = call.args.req("command-id")?;
    let linux = match command_id.as_str() {
        "RunPowerShellScript" => false,
        "RunShellScript" => true,
        _ => {
            return Err(AzError::arm(
                "InvalidParameter",
                "The value of parameter commandId is invalid.",
            ));
        }
    };
    let mut lines = Vec::new();
    for word in call.args.many("scripts") {
        match word.strip_prefix('@') {
            Some(path) => lines.push(std::fs::read_to_string(path).map_err(|e| {
                AzError::cli(format!(
                    "[Errno {}] {}: '{path}'",
                    e.raw_os_error().unwrap_or(2),
                    io_reason(&e)
                ))
            })?),
            None => lines.push(word),
        }
    }
    Ok(Request {
        resource_group,
        name,
        linux,
        script: script_text(lines),
    })
}

/// The VM an action run-command is sent to.
pub struct Target<'a> {
    pub subscription: &'a str,
    pub resource_group: &'a str,
    pub name: &'a str,
}

/// Starts an action run-command as ARM accepts it: the group and the VM must
/// exist, the VM run and its agent be ready, and no other run-command be in
/// progress on it (409 `Conflict`). The script is played from `now`; the VM
/// holds the run-command slot for `owner` until it ends. Both front ends (the
/// built-in az and the stand-in) start run-commands here.
#[allow(clippy::too_many_arguments)]
pub fn begin(
    state: &mut World,
    now: f64,
    target: &Target<'_>,
    scenario: &Scenario,
    directives: &Directives,
    script: &str,
    owner: &str,
) -> Result<Run, AzError> {
    let (rg, name) = (target.resource_group, target.name);
    // ARM looks up the group, then the VM: nothing comes into existence
    // because a run-command names it.
    if !state.group_exists(target.subscription, rg) {
        return Err(AzError::group_not_found(rg));
    }
    if scenario.is_missing(rg, name) {
        return Err(AzError::vm_not_found(rg, name));
    }
    let Some(vm) = state.vms.get_mut(&vm_key(target.subscription, rg, name)) else {
        return Err(AzError::vm_not_found(rg, name));
    };
    if !vm.accepts_run_command() {
        return Err(AzError::vm_not_running());
    }
    if vm.agent_ready_at > now {
        return Err(AzError::agent_not_ready(&vm.name));
    }
    // az does not retry a 409 without Retry-After: the caller sees it at once.
    if vm.run_command.is_some() {
        return Err(AzError::conflict());
    }
    // The script's downloads come first; a payload already in the VM's cache costs nothing.
    let fetched = vm.payloads.fetch(&directives.downloads, now);
    let mut run = script::run(
        directives,
        script,
        now + fetched.seconds,
        vm.installer_busy_until,
    );
    run.seconds += fetched.seconds;
    run.phases.splice(0..0, fetched.phases);
    vm.installer_busy_until = run.installer_busy_until;
    if let Some(selection) = &directives.windows_update {
        super::windows_update::play(vm, scenario, selection, script, now, &mut run);
    }
    vm.run_command = Some(Slot {
        until: now + run.seconds,
        owner: owner.to_string(),
    });
    Ok(run)
}

/// Ends the run-command `owner` started on the VM `key`: frees its slot and
/// applies what the script did to the VM (a reboot, a shutdown).
pub fn finish(
    state: &mut World,
    now: f64,
    key: &str,
    owner: &str,
    reboot: bool,
    power: Option<PowerChange>,
) {
    let Some(vm) = state.vms.get_mut(key) else {
        return;
    };
    if vm.run_command.as_ref().is_some_and(|s| s.owner == owner) {
        vm.run_command = None;
    }
    if reboot {
        vm.agent_ready_at = vm.agent_ready_at.max(now + REBOOT_SECS);
    }
    if let Some(power) = power {
        power.apply(vm, now);
    }
}

/// The run-command's own script: its `--scripts` words (or `script` lines of
/// the REST body) as one text.
pub fn script_text(lines: Vec<String>) -> String {
    lines.join("\n")
}

fn io_reason(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory",
        std::io::ErrorKind::PermissionDenied => "Permission denied",
        _ => "Cannot read file",
    }
}

pub fn invoke(call: &Call) -> Outcome {
    let req = request(call)?;
    let directives = Directives::parse(&req.script).map_err(|e| AzError::sim(e.to_string()))?;
    let scenario = &call.sim.scenario;
    let (op, attempt) = (call.sim.env.op.as_deref(), call.sim.env.attempt);
    let directives = installers::apply(&scenario.installers, op, attempt, &directives);
    let sub = call.sub().to_string();
    let key = vm_key(&sub, &req.resource_group, &req.name);
    let owner = format!("{}:{}", std::process::id(), unix_now());
    let run = call.sim.transact(|state, now| {
        begin(
            state,
            now,
            &Target {
                subscription: &sub,
                resource_group: &req.resource_group,
                name: &req.name,
            },
            scenario,
            &directives,
            &req.script,
            &owner,
        )
    })??;
    let op = call.sim.env.op.as_deref().unwrap_or_default();
    record_timeline(&call.sim.env.dir, op, &key, &run);
    call.delay(run.seconds);
    call.sim
        .transact(|state, now| finish(state, now, &key, &owner, run.reboot, run.power))?;
    Ok(Some(if req.linux {
        linux_result(&run)
    } else {
        windows_result(&run)
    }))
}

/// Appends the install-apps phases and the payload downloads (`download=`)
/// to `<sim dir>/timeline.jsonl`, so tests and people can see which
/// downloads overlapped, that installs took turns and which step paid for a payload.
pub fn record_timeline(dir: &Path, op: &str, vm: &impl std::fmt::Display, run: &Run) {
    if run.phases.is_empty() {
        return;
    }
    let mut text = String::new();
    for p in &run.phases {
        let line = json!({ "vm": vm.to_string(), "op": op, "app": p.app, "phase": p.phase, "start": p.start, "end": p.end });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    append_timeline(dir, &text);
}

/// Appends whole lines to `<sim dir>/timeline.jsonl`.
pub fn append_timeline(dir: &Path, text: &str) {
    let path = dir.join("timeline.jsonl");
    // One append per script: O_APPEND keeps concurrent writers' lines whole.
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        use std::io::Write;
        let _ = f.write_all(text.as_bytes());
    }
}

fn item(code: &str, message: &str) -> Value {
    json!({
        "code": code,
        "displayStatus": "Provisioning succeeded",
        "level": "Info",
        "message": message,
    })
}

/// RunPowerShellScript: one item per stream; the script's exit code is not reported.
pub fn windows_result(run: &Run) -> Value {
    json!({ "value": [
        item("ComponentStatus/StdOut/succeeded", tail(&run.stdout.join("\n"), TAIL_BYTES)),
        item("ComponentStatus/StdErr/succeeded", tail(&run.stderr.join("\n"), TAIL_BYTES)),
    ]})
}

/// RunShellScript: both streams in one message.
pub fn linux_result(run: &Run) -> Value {
    let lines = |l: &[String]| l.iter().map(|s| format!("{s}\n")).collect::<String>();
    let out = lines(&run.stdout);
    let err = lines(&run.stderr);
    let message = format!(
        "Enable succeeded: \n[stdout]\n{}\n[stderr]\n{}",
        tail(&out, TAIL_BYTES),
        tail(&err, TAIL_BYTES)
    );
    json!({ "value": [item("ProvisioningState/succeeded", &message)] })
}
