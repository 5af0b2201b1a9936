//! The scenario file (`GOLDSMITH_SIM_SCENARIO`): VMs that exist before the run,
//! VMs that do not exist, and the faults Azure will show — per operation
//! attempt, per VM, or as throttling.

use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::duration::SimDuration;
use super::power::PowerState;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scenario {
    pub vms: Vec<VmSeed>,
    pub missing_vms: Vec<VmRef>,
    pub faults: Vec<Fault>,
    pub vm_faults: Vec<VmFault>,
    pub throttles: Vec<Throttle>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmRef {
    pub resource_group: String,
    pub name: String,
}

impl VmRef {
    pub fn is(&self, resource_group: &str, name: &str) -> bool {
        self.resource_group.eq_ignore_ascii_case(resource_group)
            && self.name.eq_ignore_ascii_case(name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmSeed {
    pub resource_group: String,
    pub name: String,
    #[serde(default)]
    pub power_state: PowerState,
    #[serde(default)]
    pub location: Option<String>,
}

/// What real az prints for a fault (fixtures b, c, d, e2, f, g, i).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultClass {
    RunCommandConflict,
    VmNotRunning,
    AgentNotReady,
    ExtensionError,
    Throttled,
    NotFound,
    Auth,
    AzError,
}

/// Fails matching `az` calls of one operation's early attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub op: Option<String>,
    pub command: Option<String>,
    /// Fails attempts `1..=attempts` (not the idempotency check); every call when absent.
    pub attempts: Option<u32>,
    pub class: FaultClass,
}

impl Fault {
    pub fn matches(&self, op: Option<&str>, attempt: u32, command: &str) -> bool {
        self.op.as_deref().is_none_or(|o| Some(o) == op)
            && self
                .command
                .as_deref()
                .is_none_or(|c| same_command(c, command))
            // Attempt 0 is the idempotency check, which is not one of the attempts counted.
            && self.attempts.is_none_or(|n| (1..=n).contains(&attempt))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmFaultKind {
    /// An outside run-command occupies the VM.
    Busy,
    /// An outside MSI install holds the Windows Installer mutex.
    InstallerBusy,
    /// The VM agent does not report.
    AgentNotReady,
}

/// A VM condition that holds from the start of the run for `seconds`.
#[derive(Debug, Clone, PartialEq)]
pub struct VmFault {
    pub vm: VmRef,
    pub kind: VmFaultKind,
    pub seconds: f64,
}

/// The first `times` matching requests of the run get HTTP 429.
#[derive(Debug, Clone, PartialEq)]
pub struct Throttle {
    pub command: Option<String>,
    pub times: u32,
    /// With `Retry-After`, az retries silently up to 3 times; without, it fails at once.
    pub retry_after: Option<f64>,
}

impl Throttle {
    pub fn matches(&self, command: &str) -> bool {
        self.command
            .as_deref()
            .is_none_or(|c| same_command(c, command))
    }
}

fn same_command(pattern: &str, command: &str) -> bool {
    pattern.split_whitespace().eq(command.split_whitespace())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScenarioError(pub String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    vms: Vec<VmSeed>,
    #[serde(default)]
    missing_vms: Vec<VmRef>,
    #[serde(default)]
    faults: Vec<Spanned<RawFault>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    op: Option<String>,
    command: Option<String>,
    attempts: Option<u32>,
    class: Option<FaultClass>,
    vm: Option<VmRef>,
    busy_for: Option<SimDuration>,
    installer_busy_for: Option<SimDuration>,
    agent_not_ready_for: Option<SimDuration>,
    throttle: Option<RawThrottle>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThrottle {
    command: Option<String>,
    times: u32,
    retry_after: Option<SimDuration>,
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = crate::safe_read::read_regular(path, 1024 * 1024)
            .map_err(|e| format!("{e}"))
            .and_then(|b| String::from_utf8(b).map_err(|_| "is not valid UTF-8".into()))
            .map_err(|e| ScenarioError(format!("the scenario file {} {e}", path.display())))?;
        Scenario::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, shown: &str) -> Result<Scenario, ScenarioError> {
        let mut options = serde_saphyr::Options::default();
        options.with_snippet = false;
        options.strict_booleans = true;
        let raw: Option<RawScenario> =
            serde_saphyr::from_str_with_options(text, options).map_err(|e| {
                let at = e
                    .location()
                    .map(|l| format!("{shown}:{}:{}", l.line(), l.column()))
                    .unwrap_or_else(|| shown.to_string());
                ScenarioError(format!("{at}: invalid scenario: {}", e.without_snippet()))
            })?;
        let Some(raw) = raw else {
            return Ok(Scenario::default());
        };
        let mut scenario = Scenario {
            vms: raw.vms,
            missing_vms: raw.missing_vms,
            ..Scenario::default()
        };
        for (index, fault) in raw.faults.into_iter().enumerate() {
            let at = fault.referenced;
            scenario.add_fault(fault.value).map_err(|message| {
                ScenarioError(format!(
                    "{shown}:{}:{}: fault #{}: {message}",
                    at.line(),
                    at.column(),
                    index + 1
                ))
            })?;
        }
        Ok(scenario)
    }

    fn add_fault(&mut self, f: RawFault) -> Result<(), String> {
        let call_keys = f.op.is_some() || f.command.is_some() || f.attempts.is_some();
        let vm_keys = f.busy_for.is_some()
            || f.installer_busy_for.is_some()
            || f.agent_not_ready_for.is_some();
        if let Some(t) = f.throttle {
            if call_keys || f.class.is_some() || f.vm.is_some() || vm_keys {
                return Err("`throttle` stands alone: put its command inside it".into());
            }
            if t.times == 0 {
                return Err("throttle.times must be at least 1".into());
            }
            self.throttles.push(Throttle {
                command: t.command,
                times: t.times,
                retry_after: t.retry_after.map(|d| d.0),
            });
            return Ok(());
        }
        if let Some(vm) = f.vm {
            if call_keys || f.class.is_some() {
                return Err(
                    "a `vm` fault takes busy_for, installer_busy_for or agent_not_ready_for, not op/command/attempts/class"
                        .into(),
                );
            }
            let kinds = [
                (f.busy_for, VmFaultKind::Busy),
                (f.installer_busy_for, VmFaultKind::InstallerBusy),
                (f.agent_not_ready_for, VmFaultKind::AgentNotReady),
            ];
            let mut any = false;
            for (duration, kind) in kinds {
                if let Some(d) = duration {
                    any = true;
                    self.vm_faults.push(VmFault {
                        vm: vm.clone(),
                        kind,
                        seconds: d.0,
                    });
                }
            }
            if !any {
                return Err(
                    "a `vm` fault needs busy_for, installer_busy_for or agent_not_ready_for".into(),
                );
            }
            return Ok(());
        }
        if vm_keys {
            return Err("busy_for, installer_busy_for and agent_not_ready_for need a `vm`".into());
        }
        let Some(class) = f.class else {
            return Err(
                "say what fails: `class` (with optional op, command, attempts), `vm` or `throttle`"
                    .into(),
            );
        };
        if f.attempts == Some(0) {
            return Err("attempts must be at least 1 (omit it to fail every attempt)".into());
        }
        self.faults.push(Fault {
            op: f.op,
            command: f.command,
            attempts: f.attempts,
            class,
        });
        Ok(())
    }

    pub fn is_missing(&self, resource_group: &str, name: &str) -> bool {
        self.missing_vms.iter().any(|v| v.is(resource_group, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "\
vms:
  - { resource_group: rg, name: vm1, power_state: deallocated }
missing_vms:
  - { resource_group: rg, name: ghost }
faults:
  - op: install-apps
    command: vm run-command invoke
    attempts: 2
    class: run-command-conflict
  - vm: { resource_group: rg, name: vm1 }
    busy_for: 60s
  - vm: { resource_group: rg, name: vm1 }
    installer_busy_for: 1m
  - vm: { resource_group: rg, name: vm1 }
    agent_not_ready_for: 30
  - throttle: { command: vm run-command invoke, times: 2, retry_after: 2s }
";

    #[test]
    fn parses_the_documented_example() {
        let s = Scenario::parse(FULL, "s.yaml").unwrap();
        assert_eq!(s.vms[0].power_state, PowerState::Deallocated);
        assert!(s.is_missing("RG", "Ghost"));
        assert_eq!(s.faults.len(), 1);
        assert!(s.faults[0].matches(Some("install-apps"), 2, "vm  run-command invoke"));
        assert!(!s.faults[0].matches(Some("install-apps"), 3, "vm run-command invoke"));
        assert!(!s.faults[0].matches(Some("other"), 1, "vm run-command invoke"));
        assert_eq!(s.vm_faults.len(), 3);
        assert_eq!(s.vm_faults[1].seconds, 60.0);
        assert_eq!(s.throttles[0].retry_after, Some(2.0));
        assert_eq!(Scenario::parse("", "s.yaml").unwrap(), Scenario::default());
    }

    #[test]
    fn unknown_fields_name_file_and_line() {
        let e =
            Scenario::parse("vms: []\nfaults:\n  - op: x\n    clas: auth\n", "s.yaml").unwrap_err();
        assert!(e.0.starts_with("s.yaml:4:"), "{e}");
        assert!(e.0.contains("clas"), "{e}");
    }

    #[test]
    fn inconsistent_faults_name_the_entry() {
        let e = Scenario::parse("faults:\n  - op: x\n", "s.yaml").unwrap_err();
        assert!(e.0.starts_with("s.yaml:2:"), "{e}");
        assert!(e.0.contains("fault #1"), "{e}");
        let e = Scenario::parse("faults:\n  - busy_for: 5s\n", "s.yaml").unwrap_err();
        assert!(e.0.contains("need a `vm`"), "{e}");
    }
}
