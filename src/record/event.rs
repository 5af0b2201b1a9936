//! The event stream of a run: what `run/` emits and every reporter consumes.
//!
//! The same types, one JSON object per line, make `events.jsonl`. Each line
//! has `version`, `time` (UTC, RFC 3339) and `type`; bump `EVENTS_VERSION`
//! when a field changes meaning or disappears.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::record::failure::FailureClass;
use crate::record::status::{FailFast, OpStatus, RunStatus};
use crate::redact::Redactor;
use crate::text::count;

/// 2: attempt outcomes carry `result` (`pass`, `fail`, `timeout`, `exec-fail`,
/// `cancelled`) instead of `passed`; `run_cancelling` carries a typed reason;
/// planned operations carry their fingerprint.
pub const EVENTS_VERSION: u32 = 2;

/// One line of `events.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventLine {
    pub version: u32,
    pub time: Timestamp,
    #[serde(flatten)]
    pub event: Event,
}

impl EventLine {
    /// `event`, happening now.
    pub fn now(event: Event) -> Self {
        EventLine {
            version: EVENTS_VERSION,
            time: Timestamp::now(),
            event,
        }
    }
}

/// How one attempt ended, and what it found on the way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptOutcome {
    #[serde(flatten)]
    pub result: AttemptResult,
    /// One line a person reads: "exit code 2", "timed out after 15m".
    pub message: String,
    /// A process of the script outlived it and was killed.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub leaked: bool,
    /// Findings that do not fail the attempt (stderr output, reboot required).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub warnings: Vec<String>,
    /// Installer results the script reported (`##goldsmith-msi:<name>:<code>`).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub installs: Vec<InstallResult>,
    /// Per-app download and install results of an install-apps script.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub apps: Vec<AppResult>,
    /// An install needs a restart to finish (3010).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub reboot_required: bool,
    /// An install restarted the VM (1641).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub reboot_started: bool,
    /// The Windows updates a windows-update operation installed, round by round.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub updates: Option<Box<UpdateRun>>,
    /// goldsmith restarted the VM before this attempt, because this
    /// operation's result asked for it (3010, a Windows Update round).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub restarted_for: Option<String>,
    /// Values the script reported (`##goldsmith-output:<name>=<value>`), on a
    /// pass; boxed, as most attempts report none.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub outputs: Option<Box<std::collections::BTreeMap<String, String>>>,
}

/// The result of one attempt. A new way to end becomes a compile error in every consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum AttemptResult {
    /// It did what it should.
    Pass {
        #[serde(skip_serializing_if = "Option::is_none", default)]
        exit_code: Option<i32>,
    },
    /// It ran and failed; `class` says how (`retry.on` names it).
    Fail {
        #[serde(rename = "failure_class")]
        class: FailureClass,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        exit_code: Option<i32>,
        /// The signal that ended the script, when one did.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        signal: Option<i32>,
    },
    /// It ran past its timeout and was terminated.
    Timeout,
    /// goldsmith could not run it (`spawn`) or could not record what it did
    /// (`log-write`): its own result, if any, cannot be trusted.
    ExecFail {
        #[serde(rename = "failure_class")]
        class: FailureClass,
        /// The script's own exit code, when it ran but its output was lost.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        exit_code: Option<i32>,
    },
    /// The run was cancelled while it ran.
    Cancelled,
}

impl AttemptResult {
    /// A failure of `class` with no exit code.
    pub fn failed(class: FailureClass) -> Self {
        AttemptResult::Fail {
            class,
            exit_code: None,
            signal: None,
        }
    }

    pub fn passed(self) -> bool {
        matches!(self, AttemptResult::Pass { .. })
    }

    /// The class `retry.on` and the reports name; `None` for a pass or a cancellation.
    pub fn failure_class(self) -> Option<FailureClass> {
        match self {
            AttemptResult::Pass { .. } | AttemptResult::Cancelled => None,
            AttemptResult::Fail { class, .. } | AttemptResult::ExecFail { class, .. } => {
                Some(class)
            }
            AttemptResult::Timeout => Some(FailureClass::Timeout),
        }
    }

    pub fn exit_code(self) -> Option<i32> {
        match self {
            AttemptResult::Pass { exit_code }
            | AttemptResult::Fail { exit_code, .. }
            | AttemptResult::ExecFail { exit_code, .. } => exit_code,
            AttemptResult::Timeout | AttemptResult::Cancelled => None,
        }
    }
}

impl AttemptOutcome {
    pub fn new(result: AttemptResult, message: impl Into<String>) -> Self {
        AttemptOutcome {
            result,
            message: message.into(),
            leaked: false,
            warnings: Vec::new(),
            installs: Vec::new(),
            apps: Vec::new(),
            reboot_required: false,
            reboot_started: false,
            restarted_for: None,
            updates: None,
            outputs: None,
        }
    }

    pub fn passed(&self) -> bool {
        self.result.passed()
    }

    pub fn failure_class(&self) -> Option<FailureClass> {
        self.result.failure_class()
    }

    pub fn exit_code(&self) -> Option<i32> {
        self.result.exit_code()
    }

    /// Masks secrets in the text this outcome carries (messages, names from scripts).
    pub fn mask(&mut self, r: &Redactor) {
        mask(r, &mut self.message);
        self.warnings.iter_mut().for_each(|w| mask(r, w));
        for i in &mut self.installs {
            mask(r, &mut i.name);
        }
        for a in &mut self.apps {
            mask(r, &mut a.name);
        }
        if let Some(run) = &mut self.updates {
            for u in &mut run.updates {
                mask(r, &mut u.title);
            }
            if let Some(error) = run.last_round.as_mut().and_then(|l| l.error.as_mut()) {
                mask(r, error);
            }
        }
        if let Some(outputs) = &mut self.outputs {
            outputs.values_mut().for_each(|v| mask(r, v));
        }
    }
}

fn mask(r: &Redactor, text: &mut String) {
    if let std::borrow::Cow::Owned(masked) = r.redact(text) {
        *text = masked;
    }
}

/// What a windows-update operation did: its rounds (each one run-command),
/// the restarts goldsmith made between them, and every update it tried.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateRun {
    pub rounds: u32,
    #[serde(default)]
    pub restarts: u32,
    #[serde(default)]
    pub updates: Vec<UpdateResult>,
    /// What the last round's `##goldsmith-update-round` line said.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_round: Option<RoundSummary>,
}

/// One update of one round (`##goldsmith-update:<kb>:<result>:<hresult>:<title>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpdateResult {
    pub round: u32,
    /// `KB5046617`, or the update's id when it names no KB article.
    pub kb: String,
    pub title: String,
    /// The Windows Update Agent's OperationResultCode: `succeeded`,
    /// `succeeded-with-errors`, `failed`, `aborted`.
    pub result: String,
    /// `0x80240022`.
    pub hresult: String,
}

impl UpdateRun {
    /// `5 updates installed in 3 rounds, 1 restart`: the one wording of a
    /// windows-update attempt's totals (message, console, summary).
    pub fn totals(&self) -> String {
        let installed = self.updates.iter().filter(|u| !u.failed()).count();
        format!(
            "{} installed in {}, {}",
            count(installed, "update"),
            count(self.rounds as usize, "round"),
            count(self.restarts as usize, "restart")
        )
    }
}

impl UpdateResult {
    pub fn failed(&self) -> bool {
        !matches!(self.result.as_str(), "succeeded" | "succeeded-with-errors")
    }
}

/// One round's summary line: how many updates the search found (after the
/// categories and exclusions), how many installed, whether Windows needs a
/// restart, and what failed before any update could (searching, say).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundSummary {
    pub found: u32,
    pub installed: u32,
    pub reboot_required: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// One finished round of a windows-update operation (one run-command), as
/// its script reported it: told when it ends, so a person following a long
/// update phase sees each round, not only the operation's end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpdateRound {
    pub round: u32,
    /// The operation's `windows_update.max_rounds`.
    pub max_rounds: u32,
    /// The updates this round tried.
    #[serde(default)]
    pub updates: Vec<UpdateResult>,
    /// Its `##goldsmith-update-round` line.
    pub summary: RoundSummary,
}

/// A VM goldsmith got back before an operation's run-command on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VmRestart {
    pub vm: String,
    /// The round of the windows-update operation about to run, for one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub round: Option<u32>,
    /// goldsmith restarted it, or an installer did and goldsmith waited for its agent.
    pub restarted_by: Restarter,
    pub cause: RestartCause,
}

/// Who restarted a VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restarter {
    /// `az vm restart`, as an installer's 3010 or a Windows Update round asked.
    Goldsmith,
    /// An installer itself (1641): goldsmith only waited for the VM agent.
    Installer,
}

/// Which operation's result asked for a restart, and what in it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartCause {
    pub op: String,
    #[serde(flatten)]
    pub reason: RestartReason,
}

/// What asked for a restart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RestartReason {
    /// Installers' exit codes: 3010 asks for a restart, 1641 started one.
    Installers { installs: Vec<InstallerCode> },
    /// A Windows Update round said Windows needs a restart.
    UpdateRound { round: u32 },
}

/// One installer's exit code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallerCode {
    pub name: String,
    pub code: i64,
}

/// `adobe-acrobat-reader returned 3010`, `Windows Update round 1`.
impl std::fmt::Display for RestartReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestartReason::Installers { installs } => {
                let each: Vec<String> = installs
                    .iter()
                    .map(|i| format!("{} returned {}", i.name, i.code))
                    .collect();
                f.write_str(&each.join(", "))
            }
            RestartReason::UpdateRound { round } => write!(f, "Windows Update round {round}"),
        }
    }
}

/// One phase of one app of an install-apps operation (`##goldsmith-app:` lines).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppResult {
    pub name: String,
    pub phase: AppPhase,
    pub ok: bool,
    pub seconds: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppPhase {
    Download,
    Install,
}

impl AppPhase {
    pub fn name(self) -> &'static str {
        match self {
            AppPhase::Download => "download",
            AppPhase::Install => "install",
        }
    }
}

/// How an operation's end is told: by its unit to the coordinator, and by the
/// coordinator in `op_finished` (the same payload, never copied field by field).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpEnd {
    pub status: OpStatus,
    pub attempts: u32,
    #[serde(with = "crate::record::serde_secs")]
    pub duration: Duration,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure_class: Option<FailureClass>,
    /// Why it ended this way, for people: the failure message or the skip reason.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// The last lines of its log (redacted), when it failed.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub log_tail: Vec<String>,
}

impl OpEnd {
    /// An end without any attempt: skipped, carried over, cancelled or refused before it ran.
    pub fn without_running(
        status: OpStatus,
        failure_class: Option<FailureClass>,
        reason: String,
    ) -> Self {
        OpEnd {
            status,
            attempts: 0,
            duration: Duration::ZERO,
            exit_code: None,
            failure_class,
            reason: Some(reason),
            log_tail: Vec::new(),
        }
    }
}

/// How an attempt's end is told, by the unit and in `op_attempt_finished`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptEnd {
    pub attempt: u32,
    pub outcome: AttemptOutcome,
    #[serde(with = "crate::record::serde_secs")]
    pub duration: Duration,
    /// Set when another attempt follows after this delay.
    #[serde(
        with = "crate::record::serde_opt_secs",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub retry_in: Option<Duration>,
}

/// Why a run stops early.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum CancelReason {
    /// A signal: running operations are terminated.
    Signal { signal: String },
    /// A second signal: running operations are killed.
    SecondSignal { signal: String },
    /// `fail-fast: cancel` after this operation failed.
    FailFast { op: String },
    /// A reporter could not write.
    ReportFailed,
    /// A signal while cleanup operations run: they go on, within the budget.
    SignalDuringCleanup {
        signal: String,
        #[serde(with = "crate::record::serde_secs")]
        budget: Duration,
    },
    /// Operations still ran halfway through the budget after a signal: killed,
    /// so the cleanup can start.
    SlowToStop {
        #[serde(with = "crate::record::serde_secs")]
        after: Duration,
    },
    /// A second signal while cleanup operations run or wait: they are stopped.
    CleanupStopped { signal: String },
    /// The budget after a signal is spent: the cleanup is stopped.
    CleanupBudgetSpent {
        #[serde(with = "crate::record::serde_secs")]
        budget: Duration,
    },
}

impl std::fmt::Display for CancelReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CancelReason::Signal { signal } => {
                write!(f, "received {signal}: terminating running operations")
            }
            CancelReason::SecondSignal { signal } => {
                write!(
                    f,
                    "second signal ({signal}): killing every running operation"
                )
            }
            CancelReason::FailFast { op } => write!(
                f,
                "`{op}` failed and fail-fast is `cancel`: terminating running operations"
            ),
            CancelReason::ReportFailed => {
                f.write_str("a report could not be written: terminating running operations")
            }
            CancelReason::SignalDuringCleanup { signal, budget } => write!(
                f,
                "received {signal} during the cleanup: it may run {} more; a second signal stops it",
                crate::duration::format_duration(*budget)
            ),
            CancelReason::SlowToStop { after } => write!(
                f,
                "operations still running {} after the signal: killing them so the cleanup can start",
                crate::duration::format_duration(*after)
            ),
            CancelReason::CleanupStopped { signal } => write!(
                f,
                "second signal ({signal}): stopping the cleanup; check for leftovers and run the cleanup operations again"
            ),
            CancelReason::CleanupBudgetSpent { budget } => write!(
                f,
                "the cancellation budget ({}) is spent: stopping the cleanup; check for leftovers and run the cleanup operations again",
                crate::duration::format_duration(*budget)
            ),
        }
    }
}

/// What a run ran against and the values it chose when it started: a
/// simulated run says so in every report, and `resume` continues the same.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSetup {
    /// It ran against goldsmith's simulated Azure (`--simulate`), not a subscription.
    #[serde(default)]
    pub simulated: bool,
    /// The kept simulated Azure it ran in (`--sim-state DIR`), absolute.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sim_state: Option<String>,
    /// Config values chosen when the run started (a module's `run_values:`): name → value.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty", default)]
    pub values: std::collections::BTreeMap<String, String>,
}

/// What made the cleanup run out of its normal place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum CleanupCause {
    /// This operation failed (the first to fail).
    Failure { op: String },
    /// A signal; the cleanup must end within `budget` of it.
    Signal {
        signal: String,
        #[serde(with = "crate::record::serde_secs")]
        budget: Duration,
    },
    /// A reporter could not write.
    ReportFailed,
}

impl std::fmt::Display for CleanupCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CleanupCause::Failure { op } => write!(f, "after the failure of `{op}`"),
            CleanupCause::Signal { signal, budget } => write!(
                f,
                "after {signal}, within {} of it",
                crate::duration::format_duration(*budget)
            ),
            CleanupCause::ReportFailed => f.write_str("after a report could not be written"),
        }
    }
}

/// The console's and summary's line for the start of the cleanup:
/// "running 1 cleanup operation after the failure of `x`: delete-vm".
pub fn cleanup_line(after: &CleanupCause, ops: &[String]) -> String {
    let n = ops.len();
    format!(
        "running {n} cleanup operation{} {after}: {}",
        if n == 1 { "" } else { "s" },
        ops.join(", ")
    )
}

/// One Windows Installer result reported by a script.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallResult {
    pub name: String,
    pub code: i64,
    /// Windows Installer's name for the code (`ERROR_SUCCESS_REBOOT_REQUIRED`).
    pub meaning: String,
    pub ok: bool,
    /// A failure code the app's `ok_codes` lists, so it counts as installed.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub accepted: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        run_id: String,
        module: String,
        module_file: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        resumed_from: Option<String>,
        max_parallel: usize,
        fail_fast: FailFast,
        /// Operation ids in plan order, with their stage numbers (1-based).
        ops: Vec<PlannedOpRef>,
        stages: usize,
        #[serde(flatten)]
        setup: RunSetup,
    },
    StageStarted {
        stage: usize,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        group: Option<u32>,
    },
    StageFinished {
        stage: usize,
    },
    OpStarted {
        op: String,
        stage: usize,
        /// How long the operation was ready but waited for a lock another operation held.
        #[serde(with = "crate::record::serde_secs")]
        lock_wait: Duration,
    },
    /// The op is ready but another op holds (or is ahead in line for) one of its locks.
    LockWait {
        op: String,
        lock: LockName,
        /// The op it waits for.
        holder: String,
    },
    /// The op holds the lock and starts.
    LockAcquired {
        op: String,
        lock: LockName,
        #[serde(with = "crate::record::serde_secs")]
        waited: Duration,
    },
    OpCheckFinished {
        op: String,
        /// The idempotency check exited 0: the work is already done.
        done: bool,
        #[serde(with = "crate::record::serde_secs")]
        duration: Duration,
    },
    OpAttemptStarted {
        op: String,
        attempt: u32,
    },
    OpAttemptFinished {
        op: String,
        #[serde(flatten)]
        end: AttemptEnd,
    },
    OpFinished {
        op: String,
        #[serde(flatten)]
        end: OpEnd,
        /// Its failure does not fail the run (`continue_on_error: true`).
        #[serde(skip_serializing_if = "std::ops::Not::not", default)]
        continue_on_error: bool,
    },
    /// goldsmith signed the Azure CLI in again (`azure::session`) before
    /// `op`'s next attempt: the access token was due to expire, or an attempt
    /// failed with class `auth`.
    AzureSignedIn {
        op: String,
        /// Which sign-in this is (the first, before the run, is 1).
        sign_in: u32,
        reason: String,
    },
    /// A round of a windows-update operation ended.
    UpdateRoundFinished {
        op: String,
        attempt: u32,
        #[serde(flatten)]
        round: UpdateRound,
    },
    /// goldsmith got a VM back (restarted it, or waited for it after an
    /// installer restarted it) before `op`'s run-command on it.
    VmRestarted {
        op: String,
        #[serde(flatten)]
        restart: VmRestart,
    },
    /// Operations still running, emitted every progress interval.
    Progress {
        running: Vec<RunningOp>,
    },
    /// The run stops early: a signal, or `fail-fast: cancel` after a failure.
    RunCancelling {
        reason: CancelReason,
    },
    /// Everything else has stopped after a failure or a cancellation: the
    /// `always: true` operations that have not run yet run now, in list order.
    CleanupStarted {
        after: CleanupCause,
        ops: Vec<String>,
    },
    RunFinished {
        status: RunStatus,
        #[serde(with = "crate::record::serde_secs")]
        duration: Duration,
        /// The engine's own peak resident memory, in KiB.
        peak_rss_kib: u64,
    },
}

impl Event {
    /// Masks secrets in every free-text value, before the event is serialised anywhere.
    ///
    /// Only values that can carry text from a script, a VM or Azure are masked; ids, times,
    /// numbers and statuses are structure, and masking them would corrupt the files that
    /// hold them (a secret `1` would turn `"version": 1` into `"version": ***`).
    pub fn mask(&mut self, r: &Redactor) {
        if r.is_empty() {
            return;
        }
        match self {
            Event::OpAttemptFinished { end, .. } => end.outcome.mask(r),
            Event::OpFinished { end, .. } => {
                if let Some(reason) = &mut end.reason {
                    mask(r, reason);
                }
                end.log_tail.iter_mut().for_each(|l| mask(r, l));
            }
            Event::AzureSignedIn { reason, .. } => mask(r, reason),
            Event::UpdateRoundFinished { round, .. } => {
                round.updates.iter_mut().for_each(|u| mask(r, &mut u.title));
                if let Some(error) = &mut round.summary.error {
                    mask(r, error);
                }
            }
            Event::VmRestarted { restart, .. } => {
                if let RestartReason::Installers { installs } = &mut restart.cause.reason {
                    installs.iter_mut().for_each(|i| mask(r, &mut i.name));
                }
            }
            Event::RunStarted { .. }
            | Event::StageStarted { .. }
            | Event::StageFinished { .. }
            | Event::OpStarted { .. }
            | Event::LockWait { .. }
            | Event::LockAcquired { .. }
            | Event::OpCheckFinished { .. }
            | Event::OpAttemptStarted { .. }
            | Event::Progress { .. }
            | Event::RunCancelling { .. }
            | Event::CleanupStarted { .. }
            | Event::RunFinished { .. } => {}
        }
    }
}

/// How an operation runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpKind {
    /// bash on the runner, usually `az …`.
    Shell,
    /// PowerShell inside a VM through `az vm run-command invoke`.
    RunCommand,
    /// A declared list of apps turned into one PowerShell script run inside a VM.
    InstallApps,
    /// Windows updates installed through the Windows Update Agent, in rounds
    /// with a restart between them, until a round finds nothing.
    WindowsUpdate,
}

impl OpKind {
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Shell => "shell",
            OpKind::RunCommand => "run-command",
            OpKind::InstallApps => "install-apps",
            OpKind::WindowsUpdate => "windows-update",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedOpRef {
    pub id: String,
    pub stage: usize,
    #[serde(default)]
    pub name: String,
    pub kind: OpKind,
    #[serde(default)]
    pub capability: String,
    /// The operation file, relative to the project root.
    #[serde(default)]
    pub file: String,
    /// The line of the operation's `id` in `file`.
    #[serde(default)]
    pub line: u32,
    /// The module file and the line of this operation's entry in it.
    #[serde(default)]
    pub entry_line: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locks: Vec<LockName>,
    /// Hash of the rendered script and its inputs (`state.json` keeps it for `resume`).
    #[serde(default)]
    pub fingerprint: String,
}

/// A lock an operation holds while it runs: operations holding the same lock
/// run one at a time, in list order. Written as text (`vm:rg/name`, `my-lock`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LockName {
    /// One VM's action run-command channel (`vm:<resource-group>/<vm>`): Azure
    /// runs one `az vm run-command invoke` per VM at a time.
    Vm { resource_group: String, vm: String },
    /// One VM's Windows Installer (`msi:<resource-group>/<vm>`): Windows runs one
    /// installer per machine, whichever channel started it (a second gets 1618).
    Msi { resource_group: String, vm: String },
    /// A lock a module or operation names itself.
    Named(String),
}

impl LockName {
    /// The lock of a VM; Azure names are case-insensitive, so it is lower-cased.
    pub fn vm(resource_group: &str, vm: &str) -> Self {
        LockName::Vm {
            resource_group: resource_group.to_lowercase(),
            vm: vm.to_lowercase(),
        }
    }

    /// The Windows Installer lock of a VM, lower-cased like [`LockName::vm`].
    pub fn msi(resource_group: &str, vm: &str) -> Self {
        LockName::Msi {
            resource_group: resource_group.to_lowercase(),
            vm: vm.to_lowercase(),
        }
    }
}

impl std::str::FromStr for LockName {
    type Err = std::convert::Infallible;

    /// As written: a declared `vm:RG/Name` (or `msi:RG/Name`) is the VM's lock
    /// with that exact spelling.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let vm_part = |prefix: &str| {
            text.strip_prefix(prefix)
                .and_then(|r| r.split_once('/'))
                .map(|(rg, vm)| (rg.to_string(), vm.to_string()))
        };
        Ok(if let Some((resource_group, vm)) = vm_part("vm:") {
            LockName::Vm { resource_group, vm }
        } else if let Some((resource_group, vm)) = vm_part("msi:") {
            LockName::Msi { resource_group, vm }
        } else {
            LockName::Named(text.to_string())
        })
    }
}

impl std::fmt::Display for LockName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockName::Vm { resource_group, vm } => write!(f, "vm:{resource_group}/{vm}"),
            LockName::Msi { resource_group, vm } => write!(f, "msi:{resource_group}/{vm}"),
            LockName::Named(name) => f.write_str(name),
        }
    }
}

impl Serialize for LockName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LockName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(text.parse().unwrap_or_else(|never| match never {}))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunningOp {
    pub op: String,
    #[serde(with = "crate::record::serde_secs")]
    pub elapsed: Duration,
    /// The operation's `expected` duration, so a long step shows how far along it is.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::record::serde_opt_secs"
    )]
    pub expected: Option<Duration>,
    /// Where a long operation is (`round 2 of at most 5: 3 updates`), when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_an_outcome_masks_what_the_vm_wrote_about_updates() {
        let mut outcome = AttemptOutcome::new(AttemptResult::Pass { exit_code: Some(0) }, "ok");
        outcome.updates = Some(Box::new(UpdateRun {
            rounds: 1,
            restarts: 0,
            updates: vec![UpdateResult {
                round: 1,
                kb: "KB1".into(),
                title: "an update hunter2".into(),
                result: "succeeded".into(),
                hresult: "0x00000000".into(),
            }],
            last_round: Some(RoundSummary {
                found: 1,
                installed: 1,
                reboot_required: false,
                error: Some("search failed for hunter2".into()),
            }),
        }));
        outcome.mask(&Redactor::new(["hunter2"]));
        let run = outcome.updates.expect("updates");
        assert_eq!(run.updates[0].title, "an update ***");
        assert_eq!(
            run.last_round.and_then(|l| l.error).as_deref(),
            Some("search failed for ***")
        );
    }

    /// The on-disk shape of the typed payloads (schema 2), and that it reads back.
    #[test]
    fn typed_payloads_round_trip_through_events_jsonl() {
        let line = EventLine {
            version: EVENTS_VERSION,
            time: Timestamp::from_second(1_700_000_000).expect("a valid time"),
            event: Event::OpAttemptFinished {
                op: "a".into(),
                end: AttemptEnd {
                    attempt: 1,
                    outcome: AttemptOutcome::new(
                        AttemptResult::Fail {
                            class: FailureClass::MsiBusy,
                            exit_code: Some(1618),
                            signal: None,
                        },
                        "busy",
                    ),
                    duration: Duration::from_millis(1500),
                    retry_in: Some(Duration::from_secs(30)),
                },
            },
        };
        let json: serde_json::Value = serde_json::to_value(&line).expect("serialises");
        assert_eq!(json["type"], "op_attempt_finished");
        assert_eq!(json["attempt"], 1);
        assert_eq!(json["outcome"]["result"], "fail");
        assert_eq!(json["outcome"]["failure_class"], "msi-busy");
        assert_eq!(json["outcome"]["exit_code"], 1618);
        assert_eq!(json["retry_in"], 30.0);
        let back: EventLine = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, line);

        let cancelling = Event::RunCancelling {
            reason: CancelReason::SecondSignal {
                signal: "SIGTERM".into(),
            },
        };
        let json = serde_json::to_value(&cancelling).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({"type": "run_cancelling", "reason": {"kind": "second-signal", "signal": "SIGTERM"}})
        );
        assert_eq!(
            cancelling_text(&cancelling),
            "second signal (SIGTERM): killing every running operation"
        );
    }

    fn cancelling_text(event: &Event) -> String {
        match event {
            Event::RunCancelling { reason } => reason.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lock_names_are_written_as_text() {
        let vm = LockName::vm("RG-Images", "GM-VM");
        assert_eq!(
            serde_json::to_string(&vm).expect("json"),
            "\"vm:rg-images/gm-vm\""
        );
        let named: LockName = serde_json::from_str("\"license-server\"").expect("json");
        assert_eq!(named, LockName::Named("license-server".into()));
        let declared: LockName = "vm:RG/Name".parse().unwrap_or_else(|never| match never {});
        assert!(matches!(declared, LockName::Vm { .. }));
        assert_eq!(declared.to_string(), "vm:RG/Name");
        let msi = LockName::msi("RG-Images", "GM-VM");
        assert_eq!(msi.to_string(), "msi:rg-images/gm-vm");
        let back: LockName = serde_json::from_str("\"msi:rg-images/gm-vm\"").expect("json");
        assert_eq!(back, msi);
        assert_ne!(msi, vm);
    }
}
