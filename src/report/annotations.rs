//! Annotations: a run's failures and warnings, and `validate`'s diagnostics,
//! pinned to the YAML line they come from, most important first, within the
//! runner's limits.
//!
//! This module decides what is worth an annotation and what to advise; it
//! reads records and diagnostics, never processes, and leaves the command
//! format to `github::commands`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::github::commands::{Annotation, Level};
use crate::record::failure::FailureClass;
use crate::record::run_record::{OpRecord, RunRecord};
use crate::record::status::OpStatus;
use crate::source::{Diagnostic, Severity};

/// The runner shows at most this many annotations of one level per step.
pub const PER_LEVEL: usize = 10;
/// And at most this many per job.
pub const TOTAL: usize = 50;

/// Errors for the failures that fail the run, then warnings for failures that
/// were allowed, flaky operations and pending restarts.
pub fn for_run(record: &RunRecord) -> Vec<Annotation> {
    let mut failed: Vec<&OpRecord> = record
        .ops
        .iter()
        .filter(|o| o.counts_as_failure())
        .collect();
    // Stable: equally important failures stay in plan order.
    failed.sort_by_key(|o| importance(o.failure_class));
    let mut out: Vec<Annotation> = failed.into_iter().map(failure).collect();

    for op in &record.ops {
        if op.status == OpStatus::Failed && op.continue_on_error {
            let mut a = at_op(Level::Warning, op);
            a.title = Some(format!("{}: allowed to fail", op.meta.id));
            a.message = format!(
                "{} failed, and `continue_on_error` let the run go on: {}",
                op.meta.id,
                op.reason.as_deref().unwrap_or("no reason recorded")
            );
            out.push(a);
        }
    }
    for op in record.ops.iter().filter(|o| o.is_flaky()) {
        let mut a = at_op(Level::Warning, op);
        a.title = Some(format!("{}: flaky", op.meta.id));
        let first_failure = op
            .attempts
            .iter()
            .find(|a| !a.outcome.passed())
            .map(|a| format!(" (attempt {}: {})", a.number, a.outcome.message))
            .unwrap_or_default();
        a.message = format!(
            "{} passed on attempt {}{first_failure}",
            op.meta.id,
            op.attempts.len()
        );
        out.push(a);
    }
    for op in record.ops.iter().filter(|o| o.reboot_required()) {
        out.push(reboot(record, op));
    }
    out
}

/// Lower is more important: conflicts that beat every retry, then Windows
/// Installer failures, then scripts that failed inside the VM, then timeouts.
fn importance(class: Option<FailureClass>) -> u8 {
    let Some(class) = class else { return 4 };
    match class {
        FailureClass::RunCommandConflict => 0,
        FailureClass::MsiBusy
        | FailureClass::MsiFatal
        | FailureClass::MsiOtherVersion
        | FailureClass::MsiFailed
        | FailureClass::UpdateFailed => 1,
        FailureClass::ScriptExit | FailureClass::NoExitMarker => 2,
        FailureClass::Timeout => 3,
        FailureClass::ExitCode
        | FailureClass::Signal
        | FailureClass::Spawn
        | FailureClass::UnmetRequirement
        | FailureClass::VmNotRunning
        | FailureClass::AgentNotReady
        | FailureClass::ExtensionError
        | FailureClass::LogWrite
        | FailureClass::Throttled
        | FailureClass::NotFound
        | FailureClass::Auth
        | FailureClass::AzError => 4,
    }
}

/// A restart an operation asked for: a warning unless goldsmith restarted
/// the VM itself before a later step on it.
fn reboot(record: &RunRecord, op: &OpRecord) -> Annotation {
    let started = op.attempts.last().is_some_and(|a| a.outcome.reboot_started);
    let restarted_before = record.restarted_for(&op.meta.id);
    let level = if restarted_before.is_some() {
        Level::Notice
    } else {
        Level::Warning
    };
    let mut a = at_op(level, op);
    a.title = Some(format!("{}: reboot required", op.meta.id));
    a.message = match (started, restarted_before) {
        (true, _) => format!(
            "An installer of {} restarted the VM (1641): goldsmith waits for its VM agent before the next step on it.",
            op.meta.id
        ),
        (false, Some(next)) => format!(
            "{} needed a restart to finish (3010): goldsmith restarted the VM before {next}.",
            op.meta.id
        ),
        (false, None) => format!(
            "{} needs a restart to finish (3010): goldsmith restarts the VM before the next step on it, but no later step ran on it; restart the VM before capturing the image.",
            op.meta.id
        ),
    };
    a
}

fn failure(op: &OpRecord) -> Annotation {
    let class = op.failure_class.map_or("failed", |c| c.name());
    let mut a = at_op(Level::Error, op);
    a.title = Some(format!("{}: {class}", op.meta.id));
    let reason = op.reason.as_deref().unwrap_or("failed");
    a.message = match op.failure_class {
        Some(c) => format!("{reason}\n{}", advice(c, &op.meta.id)),
        None => reason.to_string(),
    };
    a
}

fn at_op(level: Level, op: &OpRecord) -> Annotation {
    let mut a = Annotation::new(level, "");
    if !op.meta.file.is_empty() {
        a.file = Some(op.meta.file.clone());
        a.line = Some(op.meta.line).filter(|l| *l > 0);
    }
    a
}

/// What to do next, by class, for operation `op`. The reason already says what happened.
pub fn advice(class: FailureClass, op: &str) -> Cow<'static, str> {
    Cow::Borrowed(match class {
        FailureClass::ExitCode => {
            return Cow::Owned(format!(
                "The script exited non-zero: its log tail is in the job summary and in logs/{op}.log of the run directory."
            ));
        }
        FailureClass::Timeout => {
            "It ran past its `timeout` and was stopped: find what hangs in its log, or raise `timeout` in the operation file if the work is slow by nature."
        }
        FailureClass::Signal => {
            "Something outside goldsmith killed the script (the OOM killer?): check the runner's memory."
        }
        FailureClass::Spawn => {
            "goldsmith could not start the script: check that bash is installed and the run directory is writable."
        }
        FailureClass::UnmetRequirement => {
            "An operation it `requires` has not succeeded: fix that one first."
        }
        FailureClass::ScriptExit => {
            "The PowerShell script inside the VM failed: the VM's output (its last 4,096 bytes) is in the log."
        }
        FailureClass::NoExitMarker => {
            "The script inside the VM printed no exit marker, so its result is unknown: a reboot, a crash or the 90-minute run-command limit may have cut it off. Check the VM before retrying."
        }
        FailureClass::RunCommandConflict => {
            "Another run-command kept the VM busy through every retry (409 Conflict): give the operations on this VM a shared lock or separate parallel groups, or allow more `retry` attempts."
        }
        FailureClass::VmNotRunning => {
            "The VM is stopped or deallocated: start it (`az vm start`) and run again; goldsmith does not retry this."
        }
        FailureClass::AgentNotReady => {
            "The VM agent did not answer through every retry: check the VM's boot diagnostics and that the Azure VM agent runs."
        }
        FailureClass::ExtensionError => {
            "The run-command extension failed: check the VM's extensions in the portal or with `az vm extension list`."
        }
        FailureClass::Throttled => {
            "Azure throttled the requests beyond az's own retries: lower the `max-parallel` input (`--max-parallel`) or run again later."
        }
        FailureClass::NotFound => {
            "The VM or resource group does not exist: check the names in config.yaml."
        }
        FailureClass::Auth => {
            "Azure refused az's sign-in or its permissions: give the action's sign-in inputs (README, \"Signing in to Azure\"; azure/login in an earlier step does not reach the container) and check the identity's role on the subscription."
        }
        FailureClass::AzError => "az failed: its error is in the log.",
        FailureClass::MsiBusy => {
            "Another install held the Windows Installer mutex (1618) through every retry: install one package at a time per VM (the MSI lock)."
        }
        FailureClass::MsiFatal => {
            "Windows Installer hit a fatal error (1603): check the verbose msiexec log (/l*v) on the VM; no blind retry, it fails the same way again."
        }
        FailureClass::MsiOtherVersion => {
            "Another version is installed (1638): uninstall it first, or add an idempotency check that accepts it."
        }
        FailureClass::MsiFailed => {
            "Windows Installer failed: look the code up in Microsoft's table of Windows Installer error codes (https://learn.microsoft.com/windows/win32/msi/error-codes)."
        }
        FailureClass::UpdateFailed => {
            "A Windows update failed: the message names its KB and HRESULT; look the code up in Microsoft's Windows Update error reference (https://learn.microsoft.com/windows/deployment/update/windows-update-error-reference), or exclude the update in `windows_update.exclude` if it does not apply to the image."
        }
        FailureClass::LogWrite => {
            "goldsmith could not write the operation's log (disk full or the run directory unwritable), so its output is lost: free space and run again."
        }
    })
}

/// At most `PER_LEVEL - 1` of each level, in the order given (most important
/// first), and one `…and N more <level>s: <summary_hint>` for the rest, so no
/// level goes over `PER_LEVEL` and the runner drops nothing silently.
pub fn limit(annotations: Vec<Annotation>, summary_hint: &str) -> Vec<Annotation> {
    let mut by_level: BTreeMap<Level, Vec<Annotation>> = BTreeMap::new();
    for a in annotations {
        by_level.entry(a.level).or_default().push(a);
    }
    let mut out = Vec::new();
    for (level, mut list) in by_level {
        if list.len() > PER_LEVEL {
            let rest = list.len() - (PER_LEVEL - 1);
            list.truncate(PER_LEVEL - 1);
            list.push(Annotation::new(
                level,
                format!("…and {rest} more {}s: {summary_hint}", level.name()),
            ));
        }
        out.extend(list);
    }
    out.truncate(TOTAL);
    out
}

/// `validate`'s findings as annotations on the YAML they are about.
pub fn for_diagnostics(diags: &[&Diagnostic]) -> Vec<Annotation> {
    diags
        .iter()
        .map(|d| {
            let level = match d.severity {
                Severity::Error => Level::Error,
                Severity::Warning => Level::Warning,
                Severity::Note => Level::Notice,
            };
            let mut message = d.message.clone();
            if let Some(help) = &d.help {
                message.push_str("\nhelp: ");
                message.push_str(help);
            }
            let line = Some(d.pos.line).filter(|l| *l > 0);
            let col = Some(d.pos.col).filter(|c| *c > 0);
            Annotation {
                level,
                title: Some(title_words(&d.message)),
                file: Some(d.file.display().to_string()).filter(|f| !f.is_empty()),
                line,
                // GitHub honours columns only on a one-line annotation.
                end_line: line,
                col,
                end_column: col.filter(|_| d.pos.len > 0).map(|c| c + d.pos.len),
                message,
            }
        })
        .collect()
}

/// The first few words of a message, for a title that fits on one line.
fn title_words(message: &str) -> String {
    const WORDS: usize = 8;
    const CHARS: usize = 60;
    let first_line = message.lines().next().unwrap_or("");
    let words: Vec<&str> = first_line.split_whitespace().collect();
    let mut title = words[..words.len().min(WORDS)].join(" ");
    if title.chars().count() > CHARS {
        title = title.chars().take(CHARS).collect();
    }
    if title.len() < first_line.trim().len() {
        title.push('…');
    }
    title
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(n: usize) -> Annotation {
        Annotation::new(Level::Error, format!("e{n}"))
    }

    #[test]
    fn limit_keeps_nine_and_counts_the_rest() {
        let mut list: Vec<Annotation> = (0..25).map(err).collect();
        list.push(Annotation::new(Level::Warning, "w"));
        let out = limit(list, "see the job summary");
        let errors: Vec<&Annotation> = out.iter().filter(|a| a.level == Level::Error).collect();
        assert_eq!(errors.len(), PER_LEVEL);
        assert_eq!(errors[0].message, "e0");
        assert_eq!(errors[8].message, "e8");
        assert_eq!(
            errors[9].message,
            "…and 16 more errors: see the job summary"
        );
        assert_eq!(out.iter().filter(|a| a.level == Level::Warning).count(), 1);
    }

    #[test]
    fn limit_leaves_ten_alone() {
        let out = limit((0..10).map(err).collect(), "x");
        assert_eq!(out.len(), 10);
        assert_eq!(out[9].message, "e9");
    }

    #[test]
    fn titles_are_the_first_words() {
        assert_eq!(
            title_words("unknown field `tmeout`"),
            "unknown field `tmeout`"
        );
        assert_eq!(
            title_words("one two three four five six seven eight nine\nmore"),
            "one two three four five six seven eight…"
        );
    }
}
