//! The scenario file (`GOLDSMITH_SIM_SCENARIO`): what exists before the run
//! (VMs, and any resource as the `az` command that would have made it), the
//! line goldsmith prints about it, and the faults Azure will show — per
//! operation attempt, per VM, or as throttling. Nothing exists unless declared.

use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::duration::SimDuration;
use super::installers::InstallerResult;
use super::power_state::PowerState;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scenario {
    pub vms: Vec<VmSeed>,
    pub missing_vms: Vec<VmRef>,
    /// `exists:`: az command lines run, in order, when the run's state is made.
    pub exists: Vec<Seed>,
    /// `notice:`: what goldsmith prints when a run starts with this scenario.
    pub notice: Option<String>,
    pub faults: Vec<Fault>,
    pub vm_faults: Vec<VmFault>,
    pub throttles: Vec<Throttle>,
    /// How long the stand-in's access tokens live (simulated seconds); an
    /// hour when absent. Only the stand-in issues tokens.
    pub token_lifetime: Option<f64>,
    /// `installers:`: the codes simulated installers return instead of their directive's.
    pub installers: Vec<InstallerResult>,
    /// `windows_updates:`: the updates every VM has pending, replacing the
    /// default month of updates (`windows_update::default_updates`).
    pub windows_updates: Option<Vec<super::windows_update::SimUpdate>>,
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

/// One `exists:` entry: an az command line, split as a shell would, whose
/// `{{NAME}}` placeholders are filled from the calling operation's environment
/// (the config values) when the state is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// The command words and options, without a leading `az`.
    pub words: Vec<String>,
    /// `exists #<n> (<file>:<line>:<col>)`, for messages.
    pub at: String,
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
    /// HTTP 500 from ARM, which az retries before it gives up.
    ServerError,
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
    /// `fault #<n> (<file>:<line>:<col>)`, for messages.
    pub at: String,
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
    exists: Vec<Spanned<String>>,
    #[serde(default)]
    notice: Option<String>,
    #[serde(default)]
    faults: Vec<Spanned<RawFault>>,
    #[serde(default)]
    token_lifetime: Option<SimDuration>,
    #[serde(default)]
    installers: Vec<Spanned<RawInstaller>>,
    #[serde(default)]
    windows_updates: Option<Vec<super::windows_update::SimUpdate>>,
}

/// `- { op: install-m365-apps, app: m365, code: 1603, attempts: 1 }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstaller {
    op: Option<String>,
    app: String,
    code: i32,
    attempts: Option<u32>,
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
        let text = safe_read::read_regular(path, 1024 * 1024)
            .map_err(|e| e.to_string())
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
            token_lifetime: raw.token_lifetime.map(|d| d.0),
            windows_updates: raw.windows_updates,
            notice: raw
                .notice
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty()),
            ..Scenario::default()
        };
        // The notice goes to the console (a CI log): one line of text, so it
        // can neither add lines nor hide or recolour what goldsmith prints.
        if let Some(n) = &scenario.notice
            && n.chars().any(char::is_control)
        {
            return Err(ScenarioError(format!(
                "{shown}: `notice` is printed as one line of text: remove its line breaks and control characters"
            )));
        }
        for (index, entry) in raw.exists.into_iter().enumerate() {
            let at = entry.referenced;
            let place = format!("{shown}:{}:{}", at.line(), at.column());
            let words = seed_words(&entry.value).map_err(|message| {
                ScenarioError(format!("{place}: exists #{}: {message}", index + 1))
            })?;
            scenario.exists.push(Seed {
                words,
                at: format!("exists #{} ({place})", index + 1),
            });
        }
        for (index, fault) in raw.faults.into_iter().enumerate() {
            let at = fault.referenced;
            let place = format!("{shown}:{}:{}", at.line(), at.column());
            scenario
                .add_fault(fault.value, format!("fault #{} ({place})", index + 1))
                .map_err(|message| {
                    ScenarioError(format!("{place}: fault #{}: {message}", index + 1))
                })?;
        }
        for (index, entry) in raw.installers.into_iter().enumerate() {
            let at = entry.referenced;
            let place = format!("{shown}:{}:{}", at.line(), at.column());
            let installer = installer(entry.value).map_err(|message| {
                ScenarioError(format!("{place}: installers #{}: {message}", index + 1))
            })?;
            scenario.installers.push(installer);
        }
        scenario.check_fault_vms_declared()?;
        Ok(scenario)
    }

    /// A `vm:` fault once made its VM exist. Now the VM must be declared, so a
    /// scenario written for the old behaviour fails here, before the run,
    /// instead of as a puzzling ResourceNotFound inside it. Names given as
    /// `{{PLACEHOLDER}}`s are only known when the state is made, where
    /// `World` checks again.
    fn check_fault_vms_declared(&self) -> Result<(), ScenarioError> {
        let mut declared: Vec<VmRef> = self
            .vms
            .iter()
            .map(|v| VmRef {
                resource_group: v.resource_group.clone(),
                name: v.name.clone(),
            })
            .collect();
        for seed in &self.exists {
            match seed_vm(seed) {
                SeedVm::Vm(vm) => declared.push(vm),
                SeedVm::NotAVm => {}
                SeedVm::Unknown => return Ok(()),
            }
        }
        for fault in &self.vm_faults {
            if !declared
                .iter()
                .any(|d| d.is(&fault.vm.resource_group, &fault.vm.name))
            {
                return Err(ScenarioError(undeclared_vm(fault)));
            }
        }
        Ok(())
    }

    fn add_fault(&mut self, f: RawFault, at: String) -> Result<(), String> {
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
                        at: at.clone(),
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

/// An `installers:` entry, checked.
fn installer(raw: RawInstaller) -> Result<InstallerResult, String> {
    if raw.app.trim().is_empty() {
        return Err("`app` names the app or MSI whose installer returns `code`".into());
    }
    if raw.attempts == Some(0) {
        return Err("attempts must be at least 1 (omit it for every attempt)".into());
    }
    Ok(InstallerResult {
        op: raw.op,
        app: raw.app,
        code: raw.code,
        attempts: raw.attempts,
    })
}

/// What a scenario says about a `vm:` fault whose VM does not exist.
pub fn undeclared_vm(fault: &VmFault) -> String {
    format!(
        "{}: the VM {}/{} is not declared: declare it under `vms:` or with a `vm create` under `exists:` (a `vm:` fault no longer makes its VM exist)",
        fault.at, fault.vm.resource_group, fault.vm.name
    )
}

/// An `exists:` line as command words: split as a shell would, without a
/// leading `az`, naming a command the simulator knows, with well-formed
/// placeholders.
fn seed_words(line: &str) -> Result<Vec<String>, String> {
    // Placeholders first, on the whole line: `{{ NAME }}` must not be split
    // into three words.
    let mut tidy = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        tidy.push_str(&rest[..start]);
        tidy.push_str(&format!(
            "{{{{{}}}}}",
            rest[start + 2..start + 2 + len].trim()
        ));
        rest = &rest[start + 2 + len + 2..];
    }
    tidy.push_str(rest);
    placeholders(&tidy)?;
    let mut words = shlex::split(&tidy)
        .ok_or_else(|| format!("`{line}` has an unclosed quote or a trailing backslash"))?;
    if words.first().is_some_and(|w| w == "az") {
        words.remove(0);
    }
    if words.is_empty() {
        return Err("an empty command: write the az command that made the resource".into());
    }
    for word in &words {
        placeholders(word)?;
    }
    let split = super::args::split(&words);
    match super::commands::lookup(&split.words) {
        super::commands::Lookup::Found(command, used) if used == split.words.len() => {
            if command.path == "vm run-command invoke" {
                return Err(
                    "`vm run-command invoke` changes nothing that exists: declare resources with the commands that create them".into(),
                );
            }
            Ok(words)
        }
        _ => Err(format!(
            "`{}` is not a command the simulated az knows (docs/simulator.md lists them)",
            split.words.join(" ")
        )),
    }
}

/// The names of the `{{NAME}}` placeholders in `word`.
pub fn placeholders(word: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = word;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            return Err(format!(
                "`{word}` opens a `{{{{` placeholder it does not close"
            ));
        };
        let name = rest[start + 2..start + 2 + len].trim();
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!(
                "`{{{{{name}}}}}` in `{word}` is not a placeholder: write {{{{NAME}}}} with a config value's name"
            ));
        }
        names.push(name);
        rest = &rest[start + 2 + len + 2..];
    }
    Ok(names)
}

enum SeedVm {
    Vm(VmRef),
    NotAVm,
    /// A `vm create` whose group or name is a placeholder.
    Unknown,
}

/// The VM a `vm create` seed makes.
fn seed_vm(seed: &Seed) -> SeedVm {
    let split = super::args::split(&seed.words);
    if split.words.join(" ") != "vm create" {
        return SeedVm::NotAVm;
    }
    let value = |names: &[&str]| {
        split
            .options
            .iter()
            .rev()
            .find(|(flag, _)| names.contains(&flag.as_str()))
            .and_then(|(_, v)| v.first().cloned())
    };
    match (value(&["-g", "--resource-group"]), value(&["-n", "--name"])) {
        (Some(rg), Some(name)) if !rg.contains("{{") && !name.contains("{{") => SeedVm::Vm(VmRef {
            resource_group: rg,
            name,
        }),
        _ => SeedVm::Unknown,
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
    fn installers_are_read_and_checked_at_their_place() {
        let s = Scenario::parse(
            "installers:\n  - { app: adobe-acrobat-reader, code: 3010 }\n  - { op: install-m365-apps, app: m365, code: 1603, attempts: 1 }\n",
            "s.yaml",
        )
        .unwrap();
        assert_eq!(
            s.installers[1],
            InstallerResult {
                op: Some("install-m365-apps".into()),
                app: "m365".into(),
                code: 1603,
                attempts: Some(1),
            }
        );
        assert_eq!(
            (s.installers[0].op.as_ref(), s.installers[0].code),
            (None, 3010)
        );
        let e = Scenario::parse(
            "installers:\n  - { app: a, code: 0 }\n  - { app: m365, code: 1603, attempts: 0 }\n",
            "s.yaml",
        )
        .unwrap_err();
        assert!(
            e.0.starts_with("s.yaml:3:5: installers #2: attempts must be at least 1"),
            "{e}"
        );
        let e = Scenario::parse("installers:\n  - { app: a, exit: 3010 }\n", "s.yaml").unwrap_err();
        assert!(e.0.contains("exit"), "{e}");
    }

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
    fn exists_lines_become_command_words() {
        let s = Scenario::parse(
            "notice: seeded the network\nexists:\n  - az group create -n {{ RG }} -l westeurope\n  - network vnet create -g {{RG}} -n 'my vnet'\n  - az vm create -g rg -n vm1\nfaults:\n  - vm: { resource_group: RG, name: VM1 }\n    busy_for: 1m\n",
            "s.yaml",
        )
        .unwrap();
        assert_eq!(s.notice.as_deref(), Some("seeded the network"));
        assert_eq!(
            s.exists[0].words,
            ["group", "create", "-n", "{{RG}}", "-l", "westeurope"]
        );
        assert_eq!(s.exists[1].words[6], "my vnet");
        assert_eq!(s.exists[1].at, "exists #2 (s.yaml:4:5)");
        assert_eq!(s.vm_faults[0].at, "fault #1 (s.yaml:7:5)");
    }

    #[test]
    fn a_notice_is_one_line_of_text() {
        for bad in [
            "notice: \"a\\nb\"\n",
            "notice: \"\\e[2Kfake\"\n",
            "notice: |\n  a\n  b\n",
        ] {
            let e = Scenario::parse(bad, "s.yaml").unwrap_err();
            assert!(e.0.contains("one line of text"), "{bad}: {e}");
        }
        let folded = Scenario::parse("notice: >-\n  one\n  line\n", "s.yaml").unwrap();
        assert_eq!(folded.notice.as_deref(), Some("one line"));
    }

    #[test]
    fn a_vm_fault_on_an_undeclared_vm_is_refused() {
        let e = Scenario::parse(
            "faults:\n  - vm: { resource_group: rg, name: vm1 }\n    busy_for: 1m\n",
            "s.yaml",
        )
        .unwrap_err();
        assert!(
            e.0.starts_with("fault #1 (s.yaml:2:5): the VM rg/vm1 is not declared"),
            "{e}"
        );
        // A placeholder name is left to the first `az`, which knows its value.
        Scenario::parse(
            "exists:\n  - vm create -g rg -n {{VM}}\nfaults:\n  - vm: { resource_group: rg, name: vm1 }\n    busy_for: 1m\n",
            "s.yaml",
        )
        .unwrap();
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
