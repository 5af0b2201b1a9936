//! `az vm run-command invoke`: the command line, and what its output says.
//!
//! On Windows, run-command never returns the script's exit code: az exits 0
//! whenever Azure ran the script. The truth is in the output: goldsmith's
//! wrapper prints `##goldsmith-exit:<code>` as the last stdout line, and
//! installs report `##goldsmith-msi:<name>:<code>`.

use std::ffi::OsString;
use std::path::Path;

use serde::Deserialize;

use super::classify;
use super::msi::{self, AcceptedCodes, MsiVerdict};
use crate::record::event::{AttemptOutcome, AttemptResult, InstallResult, LockName};
use crate::record::failure::FailureClass;

/// Azure returns only the last 4,096 bytes of each stream.
pub const OUTPUT_TAIL_BYTES: usize = 4096;

/// A VM, as run-command addresses it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VmTarget {
    pub resource_group: String,
    pub vm: String,
}

impl VmTarget {
    /// The lock every action run-command on this VM holds. Azure compares names case-insensitively.
    pub fn lock_name(&self) -> LockName {
        LockName::vm(&self.resource_group, &self.vm)
    }

    /// The lock of this VM's Windows Installer, held by every operation that runs installers.
    pub fn msi_lock_name(&self) -> LockName {
        LockName::msi(&self.resource_group, &self.vm)
    }
}

/// The arguments of `az` for one invocation.
pub fn invoke_args(
    target: &VmTarget,
    script_file: &Path,
    parameters: &[(String, String)],
) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "vm",
        "run-command",
        "invoke",
        "--resource-group",
        &target.resource_group,
        "--name",
        &target.vm,
        "--command-id",
        "RunPowerShellScript",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let mut scripts = OsString::from("@");
    scripts.push(script_file);
    args.extend([OsString::from("--scripts"), scripts]);
    if !parameters.is_empty() {
        args.push("--parameters".into());
        args.extend(
            parameters
                .iter()
                .map(|(k, v)| OsString::from(format!("{k}={v}"))),
        );
    }
    args.extend(["--output", "json"].map(OsString::from));
    args
}

/// The invocation as the operation's log shows it: the script as `shown_script`
/// (its masked copy in the run directory, not the file az reads) and the
/// parameters only counted, since their values may be secrets.
pub fn shown_invoke(
    target: &VmTarget,
    shown_script: &Path,
    parameters: &[(String, String)],
) -> String {
    let parameters = if parameters.is_empty() {
        String::new()
    } else {
        format!(" --parameters ({} values)", parameters.len())
    };
    format!(
        "az vm run-command invoke --resource-group {} --name {} --command-id RunPowerShellScript --scripts @{}{parameters}",
        target.resource_group,
        target.vm,
        shown_script.display(),
    )
}

/// The script's two streams, as Azure returned them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmOutput {
    pub stdout: String,
    pub stderr: String,
}

#[derive(Deserialize)]
struct Response {
    value: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    code: String,
    #[serde(default)]
    message: String,
}

/// Parses az's JSON, taking entries by `code` (never by position).
pub fn parse_output(json: &str) -> Result<VmOutput, String> {
    let response: Response = serde_json::from_str(json)
        .map_err(|e| format!("az printed output that is not run-command JSON: {e}"))?;
    let mut out = VmOutput::default();
    for item in response.value {
        if item.code.starts_with("ComponentStatus/StdOut/") {
            out.stdout = normalise(&item.message);
        } else if item.code.starts_with("ComponentStatus/StdErr/") {
            out.stderr = normalise(&item.message);
        } else if item.code.starts_with("ProvisioningState/") {
            // Linux: one message holding both streams.
            let (stdout, stderr) = split_linux(&item.message);
            out.stdout = normalise(&stdout);
            out.stderr = normalise(&stderr);
        }
    }
    Ok(out)
}

fn split_linux(message: &str) -> (String, String) {
    let after_out = message
        .split_once("[stdout]\n")
        .map_or(message, |(_, rest)| rest);
    match after_out.split_once("\n[stderr]\n") {
        Some((out, err)) => (out.to_string(), err.to_string()),
        None => (after_out.to_string(), String::new()),
    }
}

/// Removes NULs and collapses "U T F - 1 6   s p a c e d" lines that Windows
/// tools produce when their UTF-16 output is read as bytes.
pub fn normalise(text: &str) -> String {
    let text = text.replace('\0', "");
    let lines: Vec<String> = text.split('\n').map(collapse_spaced).collect();
    lines.join("\n")
}

fn collapse_spaced(line: &str) -> String {
    let trimmed = line.trim_end_matches('\r');
    let chars: Vec<char> = trimmed.chars().collect();
    let spaced = chars.len() >= 7
        && chars.iter().skip(1).step_by(2).all(|c| *c == ' ')
        && chars
            .iter()
            .step_by(2)
            .filter(|c| !c.is_whitespace())
            .count()
            >= 3;
    if spaced {
        chars.iter().step_by(2).collect()
    } else {
        line.to_string()
    }
}

/// The last `##goldsmith-exit:<code>` in stdout.
pub fn exit_marker(stdout: &str) -> Option<i32> {
    stdout
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("##goldsmith-exit:"))
        .and_then(|c| c.trim().parse().ok())
}

/// Every `##goldsmith-msi:<name>:<code>` in stdout, in order; a failure code
/// the app's `ok_codes` lists is marked accepted.
pub fn installs(stdout: &str, accepted: &AcceptedCodes) -> Vec<InstallResult> {
    stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("##goldsmith-msi:"))
        .filter_map(|rest| {
            let (name, code) = rest.rsplit_once(':')?;
            let code: i64 = code.trim().parse().ok()?;
            let failed = matches!(msi::verdict(code), MsiVerdict::Failed(_));
            let accepted = failed && accepted.accepts(name, code);
            Some(InstallResult {
                name: name.to_string(),
                code,
                meaning: msi::name(code).to_string(),
                ok: !failed || accepted,
                accepted,
            })
        })
        .collect()
}

/// Everything an attempt's result depends on.
pub struct Invocation<'a> {
    pub az_exit: i32,
    pub az_stdout: &'a str,
    pub az_stderr: &'a str,
    pub strict_stderr: bool,
    /// The codes install-apps apps accept by their `ok_codes`.
    pub accepted: &'a AcceptedCodes,
}

/// Decides one attempt from what az printed. Returns the outcome and, on success, the VM's streams.
pub fn decide(inv: &Invocation<'_>) -> (AttemptOutcome, Option<VmOutput>) {
    let mut outcome = AttemptOutcome::new(AttemptResult::failed(FailureClass::AzError), "");
    if inv.az_exit != 0 {
        outcome.result = AttemptResult::failed(classify::classify(inv.az_exit, inv.az_stderr));
        outcome.message = format!(
            "az exited with {}: {}",
            inv.az_exit,
            classify::headline(inv.az_stderr)
        );
        return (outcome, None);
    }
    let vm = match parse_output(inv.az_stdout) {
        Ok(vm) => vm,
        Err(e) => {
            outcome.message = e;
            return (outcome, None);
        }
    };
    let exit = exit_marker(&vm.stdout);
    let outcome = judge(&vm, exit, inv.strict_stderr, inv.accepted);
    (outcome, Some(vm))
}

/// Judges what the script printed and how it exited (`exit`: the exit
/// marker's code for an action run-command, Azure's `exitCode` for a managed
/// one; `None` when the script did not finish), with its installers' codes.
pub fn judge(
    vm: &VmOutput,
    exit: Option<i32>,
    strict_stderr: bool,
    accepted: &AcceptedCodes,
) -> AttemptOutcome {
    let mut outcome = AttemptOutcome::new(AttemptResult::failed(FailureClass::AzError), "");
    outcome.installs = installs(&vm.stdout, accepted);
    outcome.apps = super::install_apps::results(&vm.stdout);
    outcome.updates = super::windows_update::parse(&vm.stdout, 1).map(Box::new);
    for install in &outcome.installs {
        match msi::judge(install) {
            MsiVerdict::RebootRequired => outcome.reboot_required = true,
            MsiVerdict::RebootStarted => outcome.reboot_started = true,
            MsiVerdict::Ok | MsiVerdict::Accepted | MsiVerdict::Failed(_) => {}
        }
    }
    let failed_install = worst_install(&outcome.installs);
    match exit {
        None => {
            outcome.result = AttemptResult::failed(FailureClass::NoExitMarker);
            let truncated = vm.stdout.len() >= OUTPUT_TAIL_BYTES - 64;
            outcome.message = if truncated {
                format!(
                    "no `##goldsmith-exit` marker in the script's output, which is {} bytes: it looks cut to run-command's 4,096-byte tail, so the script's result is unknown",
                    vm.stdout.len()
                )
            } else {
                "no `##goldsmith-exit` marker in the script's output: the script did not finish (the VM may have restarted, or run-command stopped it)".to_string()
            };
        }
        Some(code) if code != 0 => {
            outcome.result = AttemptResult::Fail {
                class: failed_install.map_or(FailureClass::ScriptExit, |(_, c)| c),
                exit_code: Some(code),
                signal: None,
            };
            outcome.message = match failed_install {
                Some((i, _)) => format!(
                    "the script exited with {code}; install `{}` returned {} ({})",
                    i.name, i.code, i.meaning
                ),
                None => format!("the script exited with {code} inside the VM"),
            };
        }
        Some(code) => {
            let failed = |class| AttemptResult::Fail {
                class,
                exit_code: Some(code),
                signal: None,
            };
            if let Some((i, class)) = failed_install {
                outcome.result = failed(class);
                outcome.message =
                    format!("install `{}` returned {} ({})", i.name, i.code, i.meaning);
            } else if !vm.stderr.trim().is_empty() && strict_stderr {
                outcome.result = failed(FailureClass::ScriptExit);
                outcome.message = format!(
                    "the script wrote to stderr (strict_stderr): {}",
                    first_line(&vm.stderr)
                );
            } else {
                outcome.result = AttemptResult::Pass {
                    exit_code: Some(code),
                };
                outcome.message = "exit code 0 inside the VM".to_string();
                if !vm.stderr.trim().is_empty() {
                    outcome.warnings.push(format!(
                        "the script wrote to stderr: {}",
                        first_line(&vm.stderr)
                    ));
                }
            }
        }
    }
    for install in &outcome.installs {
        match msi::judge(install) {
            MsiVerdict::RebootRequired => outcome.warnings.push(format!(
                "`{}` needs a reboot to finish (3010)",
                install.name
            )),
            MsiVerdict::RebootStarted => outcome
                .warnings
                .push(format!("`{}` restarted the VM (1641)", install.name)),
            MsiVerdict::Accepted => outcome.warnings.push(format!(
                "`{}` returned {} accepted (ok_codes): {}",
                install.name, install.code, install.meaning
            )),
            MsiVerdict::Ok | MsiVerdict::Failed(_) => {}
        }
    }
    outcome
}

/// The install failure that decides the class: a permanent failure outranks a busy installer,
/// since retrying cannot fix it.
fn worst_install(installs: &[InstallResult]) -> Option<(&InstallResult, FailureClass)> {
    let failed = installs.iter().filter_map(|i| match msi::judge(i) {
        MsiVerdict::Failed(class) => Some((i, class)),
        _ => None,
    });
    failed.max_by_key(|(_, class)| *class != FailureClass::MsiBusy)
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .chars()
        .take(300)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(case: &str, ext: &str) -> String {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/az");
        std::fs::read_to_string(dir.join(format!("{case}.{ext}"))).expect("fixture")
    }

    fn json(stdout: &str, stderr: &str) -> String {
        serde_json::json!({"value": [
            {"code": "ComponentStatus/StdErr/succeeded", "displayStatus": "Provisioning succeeded", "level": "Info", "message": stderr},
            {"code": "ComponentStatus/StdOut/succeeded", "displayStatus": "Provisioning succeeded", "level": "Info", "message": stdout},
        ]})
        .to_string()
    }

    fn decide_json(stdout_json: &str, strict: bool) -> AttemptOutcome {
        decide(&Invocation {
            az_exit: 0,
            az_stdout: stdout_json,
            az_stderr: "",
            strict_stderr: strict,
            accepted: &AcceptedCodes::default(),
        })
        .0
    }

    #[test]
    fn real_success_outputs_pass() {
        for case in [
            "a_windows_success",
            "a2_linux_success",
            "k_request_shape_multi",
        ] {
            let (outcome, vm) = decide(&Invocation {
                az_exit: 0,
                az_stdout: &fixture(case, "stdout"),
                az_stderr: "",
                strict_stderr: false,
                accepted: &AcceptedCodes::default(),
            });
            assert!(outcome.passed(), "{case}: {}", outcome.message);
            assert_eq!(
                vm.expect("output").stdout.lines().next(),
                Some("hello"),
                "{case}"
            );
        }
    }

    #[test]
    fn entries_are_taken_by_code_not_position() {
        let out = parse_output(&json("out\n##goldsmith-exit:0", "err")).expect("parses");
        assert_eq!(out.stdout, "out\n##goldsmith-exit:0");
        assert_eq!(out.stderr, "err");
    }

    #[test]
    fn the_marker_decides_not_az() {
        let o = decide_json(&json("x\n##goldsmith-exit:1", "boom"), false);
        assert_eq!(
            (o.passed(), o.failure_class(), o.exit_code()),
            (false, Some(FailureClass::ScriptExit), Some(1))
        );
        let o = decide_json(&json("x", ""), false);
        assert_eq!(o.failure_class(), Some(FailureClass::NoExitMarker));
        assert!(o.message.contains("did not finish"));
        let o = decide_json(&json(&"y".repeat(4096), ""), false);
        assert!(o.message.contains("4,096-byte tail"), "{}", o.message);
        let o = decide_json(&json("##goldsmith-exit:0", "a warning"), false);
        assert!(o.passed() && o.warnings[0].contains("a warning"));
        let o = decide_json(&json("##goldsmith-exit:0", "a warning"), true);
        assert!(!o.passed());
    }

    #[test]
    fn installer_lines_decide_too() {
        let o = decide_json(
            &json("##goldsmith-msi:chrome:3010\n##goldsmith-exit:0", ""),
            false,
        );
        assert!(o.passed() && o.reboot_required);
        let o = decide_json(
            &json("##goldsmith-msi:chrome:1618\n##goldsmith-exit:0", ""),
            false,
        );
        assert_eq!(o.failure_class(), Some(FailureClass::MsiBusy));
        let o = decide_json(
            &json(
                "##goldsmith-msi:a:1618\n##goldsmith-msi:b:1603\n##goldsmith-exit:1603",
                "",
            ),
            false,
        );
        assert_eq!(o.failure_class(), Some(FailureClass::MsiFatal));
        assert!(o.message.contains("ERROR_INSTALL_FAILURE"));
        let o = decide_json(
            &json("##goldsmith-msi:a:1641\n##goldsmith-exit:0", ""),
            false,
        );
        assert!(o.passed() && o.reboot_started);
    }

    #[test]
    fn an_apps_ok_codes_accept_its_code_and_no_other_apps() {
        let codes = [1638];
        let accepted = AcceptedCodes::new([("vc-redist-x64", &codes[..])]);
        let decide_with = |stdout: &str| {
            decide(&Invocation {
                az_exit: 0,
                az_stdout: &json(stdout, ""),
                az_stderr: "",
                strict_stderr: false,
                accepted: &accepted,
            })
            .0
        };
        let o = decide_with("##goldsmith-msi:vc-redist-x64:1638\n##goldsmith-exit:0");
        assert!(o.passed(), "{}", o.message);
        let i = &o.installs[0];
        assert_eq!(
            (i.code, i.meaning.as_str(), i.ok, i.accepted),
            (1638, "ERROR_PRODUCT_VERSION", true, true)
        );
        assert_eq!(
            o.warnings,
            ["`vc-redist-x64` returned 1638 accepted (ok_codes): ERROR_PRODUCT_VERSION"]
        );
        let o = decide_with(
            "##goldsmith-msi:vc-redist-x64:1603\n##goldsmith-msi:webrtc:1638\n##goldsmith-exit:1",
        );
        assert!(!o.passed());
        assert!(o.installs.iter().all(|i| !i.ok && !i.accepted));
        let o = decide_with("##goldsmith-msi:webrtc:1638\n##goldsmith-exit:1");
        assert_eq!(o.failure_class(), Some(FailureClass::MsiOtherVersion));
        assert!(
            o.message
                .contains("`webrtc` returned 1638 (ERROR_PRODUCT_VERSION)")
        );
    }

    #[test]
    fn az_failures_are_classified() {
        let o = decide(&Invocation {
            az_exit: 1,
            az_stdout: "",
            az_stderr: &fixture("b_conflict_in_progress", "stderr"),
            accepted: &AcceptedCodes::default(),
            strict_stderr: false,
        })
        .0;
        assert_eq!(o.failure_class(), Some(FailureClass::RunCommandConflict));
        assert!(
            o.message
                .starts_with("az exited with 1: (Conflict) Run command extension"),
            "{}",
            o.message
        );
    }

    #[test]
    fn utf16_spaced_text_and_nuls_are_normalised() {
        assert_eq!(
            normalise("T h i s   i s   f i n e\r\nok"),
            "This is fine\nok"
        );
        assert_eq!(normalise("a\0b\0c"), "abc");
        assert_eq!(normalise("a b c"), "a b c");
    }

    #[test]
    fn the_shown_invocation_counts_the_parameters_and_names_the_masked_script() {
        let target = VmTarget {
            resource_group: "rg".into(),
            vm: "vm1".into(),
        };
        let script = Path::new("scripts/op.ps1");
        assert_eq!(
            shown_invoke(&target, script, &[]),
            "az vm run-command invoke --resource-group rg --name vm1 --command-id RunPowerShellScript --scripts @scripts/op.ps1"
        );
        let parameters = [("a".into(), "1".into()), ("b".into(), "secret".into())];
        let shown = shown_invoke(&target, script, &parameters);
        assert!(shown.ends_with(" --scripts @scripts/op.ps1 --parameters (2 values)"));
        assert!(!shown.contains("secret"));
    }

    #[test]
    fn lock_names_ignore_case() {
        let a = VmTarget {
            resource_group: "RG-Images".into(),
            vm: "GM-Temp-VM".into(),
        };
        assert_eq!(a.lock_name().to_string(), "vm:rg-images/gm-temp-vm");
    }
}
