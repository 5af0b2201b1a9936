//! Managed run-commands (Run Command v2): the command lines of
//! `az vm run-command create | show | list | delete`, and what the run
//! command's instance view says.
//!
//! Unlike `invoke`, Azure reports the script's exit code itself
//! (`instanceView.exitCode`); the wrapper's `##goldsmith-exit:` marker stays
//! as a cross-check, and a disagreement becomes a warning. Secrets travel as
//! `--protected-parameters NAME=@<file>`: az reads a value starting with `@`
//! from that file (it splits each word on its first `=`), so a secret is on
//! no command line, and Azure never echoes protected parameters back.

use std::ffi::OsString;
use std::path::Path;

use serde::Deserialize;

use super::msi::AcceptedCodes;
use super::run_command::{self, VmOutput, VmTarget};
use crate::record::event::{AttemptOutcome, AttemptResult};
use crate::record::failure::FailureClass;

/// ARM names run commands with at most this many characters.
const MAX_NAME: usize = 80;

/// Where every run command of operation `op` starts its name, so that a
/// leftover of an earlier, crashed attempt can be found and deleted.
pub fn name_prefix(op: &str) -> String {
    let mut prefix = format!("goldsmith-{op}");
    prefix.truncate(MAX_NAME - 12);
    prefix.push('-');
    prefix
}

/// The run command of `op`'s attempt `attempt`: unique per operation and attempt.
pub fn name(op: &str, attempt: u32) -> String {
    format!("{}{attempt}", name_prefix(op))
}

fn vm_args(words: &[&str], target: &VmTarget, name: Option<&str>) -> Vec<OsString> {
    let mut args: Vec<OsString> = words.iter().map(OsString::from).collect();
    args.extend(
        [
            "--resource-group",
            &target.resource_group,
            "--vm-name",
            &target.vm,
        ]
        .map(OsString::from),
    );
    if let Some(name) = name {
        args.extend(["--name", name].map(OsString::from));
    }
    args
}

/// What a `create` sends besides the script: its timeout, plain parameters,
/// and protected ones by the file az reads each value from.
pub struct CreateRequest<'a> {
    pub target: &'a VmTarget,
    pub name: &'a str,
    pub timeout_secs: u64,
    pub parameters: &'a [(String, String)],
    /// Protected parameter names and the path az reads each value from.
    pub protected: &'a [(String, String)],
}

/// `az vm run-command create … --async-execution true`: returns as soon as the script starts.
pub fn create_args(req: &CreateRequest<'_>, script_file: &Path) -> Vec<OsString> {
    let mut args = vm_args(&["vm", "run-command", "create"], req.target, Some(req.name));
    let mut script = OsString::from("@");
    script.push(script_file);
    args.extend([OsString::from("--script"), script]);
    args.extend(["--async-execution", "true", "--timeout-in-seconds"].map(OsString::from));
    args.push(req.timeout_secs.to_string().into());
    if !req.parameters.is_empty() {
        args.push("--parameters".into());
        args.extend(
            req.parameters
                .iter()
                .map(|(k, v)| format!("{k}={v}").into()),
        );
    }
    if !req.protected.is_empty() {
        args.push("--protected-parameters".into());
        args.extend(
            req.protected
                .iter()
                .map(|(k, path)| format!("{k}=@{path}").into()),
        );
    }
    args.extend(["--output", "json"].map(OsString::from));
    args
}

/// The create as the operation's log shows it: the masked script's path, the
/// parameters counted, the protected ones by name only.
pub fn shown_create(req: &CreateRequest<'_>, shown_script: &Path) -> String {
    let mut line = format!(
        "az vm run-command create --resource-group {} --vm-name {} --name {} --script @{} --async-execution true --timeout-in-seconds {}",
        req.target.resource_group,
        req.target.vm,
        req.name,
        shown_script.display(),
        req.timeout_secs
    );
    if !req.parameters.is_empty() {
        line.push_str(&format!(" --parameters ({} values)", req.parameters.len()));
    }
    if !req.protected.is_empty() {
        let names: Vec<String> = req
            .protected
            .iter()
            .map(|(k, _)| format!("{k}=***"))
            .collect();
        line.push_str(&format!(" --protected-parameters {}", names.join(" ")));
    }
    line
}

/// `az vm run-command show --instance-view`.
pub fn show_args(target: &VmTarget, name: &str) -> Vec<OsString> {
    let mut args = vm_args(&["vm", "run-command", "show"], target, Some(name));
    args.extend(["--instance-view", "--output", "json"].map(OsString::from));
    args
}

/// `az vm run-command delete --yes`: stops the script if it still runs.
pub fn delete_args(target: &VmTarget, name: &str) -> Vec<OsString> {
    let mut args = vm_args(&["vm", "run-command", "delete"], target, Some(name));
    args.push("--yes".into());
    args
}

/// `az vm run-command list`: the VM's run commands, for finding leftovers.
pub fn list_args(target: &VmTarget) -> Vec<OsString> {
    let mut args = vm_args(&["vm", "run-command", "list"], target, None);
    args.extend(["--output", "json"].map(OsString::from));
    args
}

/// The names in `list`'s output that start with `prefix` (compared as ARM does, ignoring case).
pub fn leftovers(list_json: &str, prefix: &str) -> Vec<String> {
    #[derive(Deserialize)]
    struct Item {
        name: String,
    }
    let items: Vec<Item> = serde_json::from_str(list_json).unwrap_or_default();
    let prefix = prefix.to_lowercase();
    items
        .into_iter()
        .map(|i| i.name)
        .filter(|n| n.to_lowercase().starts_with(&prefix))
        .collect()
}

/// `instanceView.executionState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum ExecutionState {
    Unknown,
    Pending,
    Running,
    Failed,
    Succeeded,
    TimedOut,
    Canceled,
}

impl ExecutionState {
    /// The script ended: nothing will change any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Failed | Self::Succeeded | Self::TimedOut | Self::Canceled
        )
    }
}

/// The run command's instance view (REST: "Virtual Machine Run Commands - Get").
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceView {
    pub execution_state: ExecutionState,
    #[serde(default)]
    pub execution_message: Option<String>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub output: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

/// The instance view in `show --instance-view`'s output.
pub fn parse_show(json: &str) -> Result<InstanceView, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Shown {
        instance_view: Option<InstanceView>,
    }
    let shown: Shown = serde_json::from_str(json)
        .map_err(|e| format!("az printed output that is not a run command: {e}"))?;
    shown
        .instance_view
        .ok_or_else(|| "az printed a run command without its instance view".to_string())
}

/// Decides an attempt from a terminal instance view: Azure's exit code rules,
/// checked against the wrapper's exit marker.
pub fn decide(
    view: &InstanceView,
    timeout_secs: u64,
    strict_stderr: bool,
    accepted: &AcceptedCodes,
) -> (AttemptOutcome, VmOutput) {
    let vm = VmOutput {
        stdout: run_command::normalise(view.output.as_deref().unwrap_or("")),
        stderr: run_command::normalise(view.error.as_deref().unwrap_or("")),
    };
    let message = view.execution_message.as_deref().unwrap_or("").trim();
    let outcome = match view.execution_state {
        ExecutionState::TimedOut => AttemptOutcome::new(
            AttemptResult::Timeout,
            format!("the script ran into its timeout of {timeout_secs} s in Azure"),
        ),
        ExecutionState::Canceled => AttemptOutcome::new(
            AttemptResult::failed(FailureClass::AzError),
            format!(
                "Azure cancelled the script (the run command was deleted or replaced){}",
                detail(message)
            ),
        ),
        _ => {
            let mut outcome = run_command::judge(&vm, view.exit_code, strict_stderr, accepted);
            if view.exit_code.is_none() {
                outcome.message = format!(
                    "Azure reports the script {} without an exit code{}",
                    if view.execution_state == ExecutionState::Failed {
                        "failed"
                    } else {
                        "ended"
                    },
                    detail(message)
                );
            }
            if let Some(warning) = cross_check(view.exit_code, &vm.stdout) {
                outcome.warnings.push(warning);
            }
            outcome
        }
    };
    (outcome, vm)
}

fn detail(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// A disagreement between Azure's exit code and the wrapper's marker.
fn cross_check(azure: Option<i32>, stdout: &str) -> Option<String> {
    let marker = run_command::exit_marker(stdout);
    match (azure, marker) {
        (Some(a), Some(m)) if a != m => Some(format!(
            "Azure reports exit code {a}, but the script's `##goldsmith-exit` marker says {m}: goldsmith went by Azure's"
        )),
        (Some(a), None) if stdout.len() < run_command::OUTPUT_TAIL_BYTES - 64 => Some(format!(
            "Azure reports exit code {a}, but the script's output has no `##goldsmith-exit` marker: the wrapper did not finish"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> VmTarget {
        VmTarget {
            resource_group: "rg".into(),
            vm: "vm1".into(),
        }
    }

    fn view(state: &str, exit: Option<i32>, output: &str) -> InstanceView {
        serde_json::from_value(serde_json::json!({
            "executionState": state, "exitCode": exit, "output": output, "error": "",
            "executionMessage": "RunCommand script execution completed",
        }))
        .expect("view")
    }

    #[test]
    fn the_create_line_keeps_secrets_in_files() {
        let protected = [("ADMIN_PASSWORD".to_string(), "/dev/fd/12".to_string())];
        let req = CreateRequest {
            target: &target(),
            name: "goldsmith-op-1",
            timeout_secs: 600,
            parameters: &[("a".into(), "b=c".into())],
            protected: &protected,
        };
        let args: Vec<String> = create_args(&req, Path::new("/dev/fd/11"))
            .into_iter()
            .map(|a| a.into_string().expect("utf-8"))
            .collect();
        assert_eq!(
            args.join(" "),
            "vm run-command create --resource-group rg --vm-name vm1 --name goldsmith-op-1 --script @/dev/fd/11 --async-execution true --timeout-in-seconds 600 --parameters a=b=c --protected-parameters ADMIN_PASSWORD=@/dev/fd/12 --output json"
        );
        let shown = shown_create(&req, Path::new("scripts/op.ps1"));
        assert!(
            shown.ends_with("--parameters (1 values) --protected-parameters ADMIN_PASSWORD=***"),
            "{shown}"
        );
    }

    #[test]
    fn names_are_unique_per_attempt_and_short_enough() {
        assert_eq!(name("op", 2), "goldsmith-op-2");
        assert!(name(&"x".repeat(128), 1000).len() <= MAX_NAME);
        let list = r#"[{"name":"goldsmith-op-1"},{"name":"GOLDSMITH-OP-3"},{"name":"goldsmith-op2-1"},{"name":"other"}]"#;
        assert_eq!(
            leftovers(list, &name_prefix("op")),
            ["goldsmith-op-1", "GOLDSMITH-OP-3"]
        );
    }

    #[test]
    fn azures_exit_code_decides_and_the_marker_cross_checks() {
        let accepted = AcceptedCodes::default();
        let (o, _) = decide(
            &view("Failed", Some(3), "x\n##goldsmith-exit:3"),
            60,
            false,
            &accepted,
        );
        assert_eq!((o.passed(), o.exit_code()), (false, Some(3)));
        assert!(o.warnings.is_empty());
        let (o, _) = decide(
            &view("Succeeded", Some(0), "x\n##goldsmith-exit:2"),
            60,
            false,
            &accepted,
        );
        assert!(o.passed());
        assert!(o.warnings[0].contains("marker says 2"), "{:?}", o.warnings);
        let (o, _) = decide(&view("Failed", Some(5), "no marker"), 60, false, &accepted);
        assert_eq!(o.exit_code(), Some(5));
        assert!(o.warnings[0].contains("no `##goldsmith-exit` marker"));
        let (o, _) = decide(&view("TimedOut", Some(-1), ""), 60, false, &accepted);
        assert_eq!(o.result, AttemptResult::Timeout);
        let parsed = parse_show(r#"{"name":"n","instanceView":{"executionState":"Running"}}"#)
            .expect("parses");
        assert!(!parsed.execution_state.is_terminal());
    }
}
