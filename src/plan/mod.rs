//! The plan: what a run of one module will do, computed before anything runs.
//!
//! Built from the catalog and config by `Planner`; every problem found on the
//! way is a diagnostic at the user's line. The executor takes a `Plan` and
//! nothing else.

mod combine;
mod downloads;
mod placeholders;
mod planner;
pub mod render;
pub mod run_values;
mod vm;
mod vm_locks;
pub mod when;
mod windows_update;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::catalog::operation::RetryPolicy;
use crate::record::event::{LockName, OpKind};
pub use combine::merge;
pub use placeholders::explain_misspelled_keys;
pub use planner::{PlanOptions, SecretCheck, build, check_operation};

pub const PLAN_VERSION: u32 = 1;

/// Default timeouts when neither the operation nor the module entry sets one.
pub fn default_timeout(kind: OpKind) -> Duration {
    match kind {
        OpKind::Shell => Duration::from_secs(30 * 60),
        // Azure's own limit for one run-command.
        OpKind::RunCommand | OpKind::InstallApps => Duration::from_secs(90 * 60),
        // Every round: Packer's windows-update provisioner allows 4 hours.
        OpKind::WindowsUpdate => Duration::from_secs(4 * 60 * 60),
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub version: u32,
    pub module: ModuleRef,
    pub stages: Vec<Stage>,
    pub ops: Vec<PlannedOp>,
    /// Longest chain of `expected` durations through the dependency graph.
    #[serde(with = "crate::record::serde_secs")]
    pub estimated_duration: Duration,
    /// The operations on that chain, in order.
    pub critical_path: Vec<String>,
    /// Operations without an `expected` duration (counted as zero in the estimate).
    pub ops_without_estimate: usize,
    /// The modules planned into this run before `module` (`--with-dependencies`), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    /// Config values chosen when the run starts (a module's `run_values:`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub run_values: Vec<run_values::RunValue>,
}

impl Plan {
    /// The operations as the event stream names them (`run_started`).
    pub fn op_refs(&self) -> Vec<crate::record::event::PlannedOpRef> {
        self.ops
            .iter()
            .map(|o| crate::record::event::PlannedOpRef {
                id: o.id.clone(),
                stage: o.stage,
                name: o.name.clone(),
                kind: o.kind,
                capability: o.capability.clone(),
                file: o.file.display().to_string(),
                line: o.line,
                entry_line: o.entry_line,
                locks: o.locks.clone(),
                fingerprint: o.fingerprint.clone(),
            })
            .collect()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ModuleRef {
    pub id: String,
    pub name: String,
    pub folder: String,
    pub file: PathBuf,
}

#[derive(Clone, Debug, Serialize)]
pub struct Stage {
    /// 1-based.
    pub number: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_group: Option<u32>,
    /// Indexes into `Plan::ops`.
    pub ops: Vec<usize>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlannedOp {
    pub id: String,
    /// The id of the module whose entry this is: the plan's own, or one of its
    /// `dependencies` (an operation several of them list is planned once, for the first).
    pub module: String,
    pub name: String,
    pub capability: String,
    pub kind: OpKind,
    /// The operation file, relative to the root, and the line of its `id`.
    pub file: PathBuf,
    pub line: u32,
    /// The line of this operation's entry in the module file.
    pub entry_line: u32,
    /// 1-based stage number.
    pub stage: usize,
    #[serde(with = "crate::record::serde_secs")]
    pub timeout: Duration,
    #[serde(
        with = "crate::record::serde_opt_secs",
        skip_serializing_if = "Option::is_none"
    )]
    pub expected: Option<Duration>,
    pub retry: RetryPolicy,
    pub continue_on_error: bool,
    /// Runs after a failure or a cancellation too, once everything else has
    /// stopped (a cleanup such as deleting a build VM).
    pub always: bool,
    /// Switched off by its entry's `when:`: the skip reason the run records
    /// (`off: golden_image.remove_appx_packages is false`). It does not run,
    /// and what waits for it goes on as if it had succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub off: Option<String>,
    /// Explicit `depends_on` plus `requires` that name earlier entries: indexes into `Plan::ops`.
    /// When empty and `waits_for_stage` is true, the op waits for every earlier stage.
    pub depends_on: Vec<usize>,
    /// Whether the op waits for all earlier stages (no `depends_on` given).
    pub waits_for_stage: bool,
    pub locks: Vec<LockName>,
    /// `requires` naming operations outside this module: checked against earlier runs.
    pub requires_outside: Vec<ExternalRequirement>,
    #[serde(skip)]
    pub script: Script,
    #[serde(skip)]
    pub check: Option<String>,
    pub has_idempotency_check: bool,
    /// The names of the secrets its texts use: only these reach its environment.
    pub secrets: Vec<String>,
    pub fingerprint: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExternalRequirement {
    pub id: String,
    pub optional: bool,
}

/// What the executor runs for an op.
#[derive(Clone, Debug, Default)]
pub enum Script {
    /// A rendered bash script: placeholders are `${NAME}` references.
    Bash(String),
    /// PowerShell sent to a VM with `az vm run-command invoke` or `create`.
    RunCommand(RunCommandScript),
    /// Rendering failed; such a plan has errors and never runs.
    #[default]
    Invalid,
}

#[derive(Clone, Debug)]
pub struct RunCommandScript {
    pub target: crate::azure::run_command::VmTarget,
    /// The wrapped script as sent: it holds the values it uses, secrets included.
    pub wrapped: String,
    /// The same with secret values masked: what goes into the run directory.
    pub shown: String,
    /// `--parameters name=value`, resolved.
    pub parameters: Vec<(String, String)>,
    pub strict_stderr: bool,
    /// How many times at most the script runs: a windows-update operation's
    /// rounds (with a restart between them when Windows asks); 1 otherwise.
    pub rounds: u32,
    /// An install-apps operation's apps' `ok_codes`, for judging their installers' codes.
    pub accepted: crate::azure::msi::AcceptedCodes,
    /// `invoke` (action) or `create` (managed).
    pub mode: crate::catalog::run_mode::RunMode,
    /// Managed only: the secrets the script uses, by name with their values, sent
    /// as `--protected-parameters` (`wrapped` then holds no secret value).
    pub protected: Vec<(String, String)>,
}

#[cfg(test)]
impl PlannedOp {
    /// A one-line shell operation of module `m` with no retry, lock or
    /// dependency, for unit tests to adjust.
    pub(crate) fn for_test(id: &str, stage: usize) -> PlannedOp {
        Self {
            id: id.to_string(),
            module: "m".to_string(),
            name: id.to_string(),
            capability: "compute".to_string(),
            kind: OpKind::Shell,
            file: PathBuf::from(format!("capabilities/compute/operations/{id}.yaml")),
            line: 1,
            entry_line: 1,
            stage,
            timeout: Duration::from_secs(60),
            expected: None,
            retry: RetryPolicy {
                attempts: 1,
                delay: Duration::ZERO,
                max_delay: Duration::ZERO,
                on: Vec::new(),
                budget: None,
            },
            continue_on_error: false,
            always: false,
            off: None,
            depends_on: Vec::new(),
            waits_for_stage: true,
            locks: Vec::new(),
            requires_outside: Vec::new(),
            script: Script::Bash("true".to_string()),
            check: None,
            has_idempotency_check: false,
            secrets: Vec::new(),
            fingerprint: String::new(),
        }
    }
}
