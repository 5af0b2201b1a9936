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

pub const EVENTS_VERSION: u32 = 1;

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

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptOutcome {
    /// True when the attempt did what it should.
    pub passed: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exit_code: Option<i32>,
    /// The signal that ended the script, when one did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signal: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure_class: Option<FailureClass>,
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
}

impl AttemptOutcome {
    pub fn new(passed: bool, message: impl Into<String>) -> Self {
        AttemptOutcome {
            passed,
            exit_code: None,
            signal: None,
            failure_class: None,
            message: message.into(),
            leaked: false,
            warnings: Vec::new(),
            installs: Vec::new(),
            apps: Vec::new(),
            reboot_required: false,
            reboot_started: false,
        }
    }
}

impl AttemptOutcome {
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
    }
}

fn mask(r: &Redactor, text: &mut String) {
    if let std::borrow::Cow::Owned(masked) = r.redact(text) {
        *text = masked;
    }
}

/// One phase of one app of an install-apps operation (`##goldsmith-app:` lines).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppResult {
    pub name: String,
    /// `download` or `install`.
    pub phase: String,
    pub ok: bool,
    pub seconds: f64,
}

/// One Windows Installer result reported by a script.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallResult {
    pub name: String,
    pub code: i64,
    /// Windows Installer's name for the code (`ERROR_SUCCESS_REBOOT_REQUIRED`).
    pub meaning: String,
    pub ok: bool,
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
        lock: String,
        /// The op it waits for.
        holder: String,
    },
    /// The op holds the lock and starts.
    LockAcquired {
        op: String,
        lock: String,
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
        attempt: u32,
        outcome: AttemptOutcome,
        #[serde(with = "crate::record::serde_secs")]
        duration: Duration,
        /// Set when another attempt follows after this delay.
        #[serde(
            with = "crate::record::serde_opt_secs",
            skip_serializing_if = "Option::is_none",
            default
        )]
        retry_in: Option<Duration>,
    },
    OpFinished {
        op: String,
        status: OpStatus,
        attempts: u32,
        #[serde(with = "crate::record::serde_secs")]
        duration: Duration,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        exit_code: Option<i32>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        failure_class: Option<FailureClass>,
        /// Why it ended this way, for people: the failure message or the skip reason.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        reason: Option<String>,
        /// Its failure does not fail the run (`continue_on_error: true`).
        #[serde(skip_serializing_if = "std::ops::Not::not", default)]
        continue_on_error: bool,
        /// The last lines of its log (redacted), when it failed.
        #[serde(skip_serializing_if = "Vec::is_empty", default)]
        log_tail: Vec<String>,
    },
    /// Operations still running, emitted every progress interval.
    Progress {
        running: Vec<RunningOp>,
    },
    /// The run stops early: a signal, or `fail-fast: cancel` after a failure.
    RunCancelling {
        reason: String,
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
            Event::OpAttemptFinished { outcome, .. } => outcome.mask(r),
            Event::OpFinished {
                reason, log_tail, ..
            } => {
                if let Some(reason) = reason {
                    mask(r, reason);
                }
                log_tail.iter_mut().for_each(|l| mask(r, l));
            }
            Event::RunCancelling { reason } => mask(r, reason),
            Event::RunStarted { .. }
            | Event::StageStarted { .. }
            | Event::StageFinished { .. }
            | Event::OpStarted { .. }
            | Event::LockWait { .. }
            | Event::LockAcquired { .. }
            | Event::OpCheckFinished { .. }
            | Event::OpAttemptStarted { .. }
            | Event::Progress { .. }
            | Event::RunFinished { .. } => {}
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedOpRef {
    pub id: String,
    pub stage: usize,
    #[serde(default)]
    pub name: String,
    /// `shell`, `run-command` or `install-apps`.
    #[serde(default)]
    pub kind: String,
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
    pub locks: Vec<String>,
    /// Hash of the rendered script and its inputs (`state.json` keeps it for `resume`).
    #[serde(default)]
    pub fingerprint: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunningOp {
    pub op: String,
    #[serde(with = "crate::record::serde_secs")]
    pub elapsed: Duration,
}
