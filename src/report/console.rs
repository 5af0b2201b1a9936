//! The console: one line per start and finish, the last log lines of a
//! failure, a line every progress interval naming what still runs, and a
//! closing summary. Stable, greppable text.

use std::io::Write;
use std::path::PathBuf;

use crate::duration::format_duration;
use crate::record::event::{AttemptEnd, Event, EventLine, OpEnd, RunningOp, cleanup_line};
use crate::record::run_record::RunRecord;
use crate::record::sink::{Reporter, SinkError};
use crate::record::status::OpStatus;
use crate::redact::Redactor;
use crate::report::console_steps::{restart_line, round_line, totals};
use crate::run_dir::{LogReader, RunDir};
use crate::text::count;

pub struct Console {
    out: Box<dyn Write + Send>,
    redactor: Redactor,
    /// The run directory as people name it (relative to the project root).
    run_dir: PathBuf,
    /// In GitHub Actions: each finished op's log is printed in a group.
    groups: Option<LogReader>,
}

/// The most of one log printed in its group; the file keeps everything.
const GROUP_LOG_BYTES: usize = 1024 * 1024;

impl Console {
    pub fn new(out: Box<dyn Write + Send>, redactor: Redactor, run_dir: PathBuf) -> Self {
        Console {
            out,
            redactor,
            run_dir,
            groups: None,
        }
    }

    /// GitHub Actions: print each op's log in a `::group::` when it finishes.
    pub fn with_log_groups(mut self, logs: LogReader) -> Self {
        self.groups = Some(logs);
        self
    }

    /// The op's whole log (its last MiB) in one group, printed at once so parallel
    /// ops never interleave. Operations print untrusted text: commands are off
    /// inside, under a fresh token the text cannot guess.
    fn log_group(
        &mut self,
        op: &str,
        status: OpStatus,
        duration: std::time::Duration,
    ) -> Result<(), SinkError> {
        let Some(logs) = &self.groups else {
            return Ok(());
        };
        let Ok(Some(tail)) = logs.tail(op, GROUP_LOG_BYTES) else {
            return Ok(());
        };
        let stop = crate::github::commands::StopCommands::new();
        self.command(&crate::github::commands::group(&format!(
            "{op} ({status}, {})",
            format_duration(duration)
        )))?;
        self.command(&stop.stop())?;
        if tail.cut {
            self.line(&format!(
                "[goldsmith] log cut: showing the last {} of {} bytes; the whole log is in the run directory",
                tail.shown_bytes, tail.total_bytes
            ))?;
        }
        for l in tail.text.lines() {
            self.line(l)?;
        }
        self.command(&stop.resume())?;
        self.command(&crate::github::commands::endgroup())
    }

    /// The line of a finished op, its log tail when it failed, and in Actions its whole log.
    fn op_finished(
        &mut self,
        op: &str,
        end: &OpEnd,
        continue_on_error: bool,
        totals: Option<String>,
    ) -> Result<(), SinkError> {
        let OpEnd {
            status,
            attempts,
            duration,
            failure_class,
            reason,
            log_tail,
            ..
        } = end;
        let continue_on_error = &continue_on_error;
        if *attempts > 0 || *status == OpStatus::AlreadyDone {
            self.log_group(op, *status, *duration)?;
        }
        let took = format_duration(*duration);
        // A windows-update operation's totals follow a pass's time.
        let totals = totals.map(|t| format!(" {t}")).unwrap_or_default();
        let text = match status {
            OpStatus::Succeeded if *attempts == 0 => format!(
                "  {:<COL$}{op} ({})",
                "KEEP",
                reason.as_deref().unwrap_or("succeeded before")
            ),
            OpStatus::Succeeded if *attempts > 1 => format!(
                "  {:<COL$}{op} [{took}]{totals} (flaky: passed on attempt {attempts})",
                "PASS"
            ),
            OpStatus::Succeeded => format!("  {:<COL$}{op} [{took}]{totals}", "PASS"),
            OpStatus::AlreadyDone => format!(
                "  {:<COL$}{op} [{took}] (already done: idempotency check passed)",
                "DONE"
            ),
            OpStatus::Failed => {
                let class = failure_class.map(|c| format!("{c}: ")).unwrap_or_default();
                let tries = if *attempts > 1 {
                    format!(" after {attempts} attempts")
                } else {
                    String::new()
                };
                let ignored = if *continue_on_error {
                    " (continue_on_error: not counted)"
                } else {
                    ""
                };
                format!(
                    "  {:<COL$}{op} [{took}] {class}{}{tries}{ignored}",
                    "FAIL",
                    reason.as_deref().unwrap_or("failed")
                )
            }
            OpStatus::Skipped => format!(
                "  {:<COL$}{op}: {}",
                "SKIP",
                reason.as_deref().unwrap_or("skipped")
            ),
            OpStatus::Cancelled => format!(
                "  {:<COL$}{op}: {}",
                "CANCEL",
                reason.as_deref().unwrap_or("cancelled")
            ),
            OpStatus::Pending | OpStatus::Running => {
                format!("  {:<COL$}{op}", status.name())
            }
        };
        self.line(&text)?;
        if !log_tail.is_empty() {
            let log = self.run_dir.join(RunDir::shown_log(op));
            self.line(&format!(
                "  {:COL$}| last {} lines of {}:",
                "",
                log_tail.len(),
                log.display()
            ))?;
            for l in log_tail.clone() {
                self.line(&format!("  {:COL$}| {l}", ""))?;
            }
        }
        Ok(())
    }

    /// A workflow command goldsmith writes: never masked, since a short secret such as
    /// `:` would break the command (a broken `::stop-commands::` would let the log that
    /// follows issue commands). What it holds (op ids, statuses, a random token) is no secret.
    fn command(&mut self, text: &str) -> Result<(), SinkError> {
        writeln!(self.out, "{text}").map_err(|source| SinkError {
            what: "cannot write to the console".into(),
            source,
        })
    }

    /// `still running: op (4m10s of ~25m expected; round 2 of at most 5: 3 updates), …`.
    fn progress(&mut self, running: &[RunningOp]) -> Result<(), SinkError> {
        let list: Vec<String> = running
            .iter()
            .map(|r| match &r.step {
                Some(step) => format!("{} ({}; {step})", r.op, elapsed(r)),
                None => format!("{} ({})", r.op, elapsed(r)),
            })
            .collect();
        self.line(&format!(
            "  {:<COL$}still running: {}",
            "...",
            list.join(", ")
        ))
    }

    fn line(&mut self, text: &str) -> Result<(), SinkError> {
        let redacted = self.redactor.redact(text);
        let text = visible_controls(&redacted);
        writeln!(self.out, "{text}").map_err(|source| SinkError {
            what: "cannot write to the console".into(),
            source,
        })
    }
}

/// Control characters from scripts would drive the reader's terminal (ESC
/// sequences can hide or rewrite lines; NUL and BEL are noise): show them as
/// `\x1b` escapes instead. Tabs stay.
fn visible_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            use std::fmt::Write as _;
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

const COL: usize = 7;

/// How long an operation has run, against its `expected` duration when it has one:
/// `4m10s of ~25m expected`, `27m, over the ~25m expected`.
fn elapsed(op: &RunningOp) -> String {
    let so_far = format_duration(op.elapsed);
    match op.expected {
        Some(expected) if op.elapsed <= expected => {
            format!("{so_far} of ~{} expected", format_duration(expected))
        }
        Some(expected) => format!("{so_far}, over the ~{} expected", format_duration(expected)),
        None => so_far,
    }
}

impl Reporter for Console {
    fn event(&mut self, line: &EventLine, run: &RunRecord) -> Result<(), SinkError> {
        match &line.event {
            Event::RunStarted {
                run_id,
                module,
                ops,
                stages,
                max_parallel,
                fail_fast,
                resumed_from,
                setup,
                ..
            } => {
                let resumed = resumed_from
                    .as_ref()
                    .map(|r| format!(", resuming {r}"))
                    .unwrap_or_default();
                let against = if setup.simulated {
                    " on the simulated Azure"
                } else {
                    ""
                };
                self.line(&format!(
                    "goldsmith: run {run_id}{against}: module `{module}`, {} in {} (max-parallel {max_parallel}, fail-fast {}{resumed})",
                    count(ops.len(), "operation"),
                    count(*stages, "stage"),
                    fail_fast.name()
                ))
            }
            Event::StageStarted { stage, group } => {
                let group = group
                    .map(|g| format!(" (parallel group {g})"))
                    .unwrap_or_default();
                self.line(&format!("stage {stage}/{}{group}", run.stages))
            }
            Event::StageFinished { .. } => Ok(()),
            Event::OpStarted { op, lock_wait, .. } => {
                let wait = if lock_wait.as_secs_f64() >= 0.1 {
                    format!(" (waited {} for a lock)", format_duration(*lock_wait))
                } else {
                    String::new()
                };
                self.line(&format!("  {:<COL$}{op}{wait}", "START"))
            }
            Event::LockWait { op, lock, holder } => self.line(&format!(
                "  {:<COL$}{op}: waiting for lock {lock} (held by {holder})",
                "WAIT"
            )),
            Event::LockAcquired { .. }
            | Event::OpCheckFinished { .. }
            | Event::OpAttemptStarted { .. } => Ok(()),
            Event::OpAttemptFinished { op, end } => {
                let AttemptEnd {
                    attempt,
                    outcome,
                    retry_in,
                    ..
                } = end;
                for w in &outcome.warnings {
                    self.line(&format!("  {:<COL$}{op}: {w}", "WARN"))?;
                }
                match retry_in {
                    Some(delay) => self.line(&format!(
                        "  {:<COL$}{op}: attempt {attempt} failed ({}: {}); retrying in {}",
                        "RETRY",
                        outcome.failure_class().map_or("failure", |c| c.name()),
                        outcome.message,
                        format_duration(*delay)
                    )),
                    None => Ok(()),
                }
            }
            Event::OpFinished {
                op,
                end,
                continue_on_error,
            } => {
                let totals = run.op(op).and_then(totals);
                self.op_finished(op, end, *continue_on_error, totals)
            }
            Event::UpdateRoundFinished { op, round, .. } => {
                self.line(&format!("  {:<COL$}{}", "...", round_line(op, round)))
            }
            Event::VmRestarted { op, restart } => {
                self.line(&format!("  {:<COL$}{}", "...", restart_line(op, restart)))
            }
            Event::Progress { running } => self.progress(running),
            Event::AzureSignedIn {
                op,
                sign_in,
                reason,
            } => self.line(&format!(
                "  {:<COL$}{op}: signed in to Azure again (sign-in {sign_in}): {reason}",
                "AUTH"
            )),
            Event::RunCancelling { reason } => self.line(&format!("goldsmith: {reason}")),
            Event::CleanupStarted { after, ops } => {
                self.line(&format!("goldsmith: {}", cleanup_line(after, ops)))
            }
            Event::RunFinished {
                status, duration, ..
            } => {
                let n = |s| run.count(s);
                let mut parts = vec![format!("{} succeeded", n(OpStatus::Succeeded))];
                if run.flaky() > 0 {
                    parts.push(format!("{} flaky", run.flaky()));
                }
                for s in [
                    OpStatus::AlreadyDone,
                    OpStatus::Failed,
                    OpStatus::Skipped,
                    OpStatus::Cancelled,
                ] {
                    if n(s) > 0 || s == OpStatus::Failed {
                        parts.push(format!("{} {}", n(s), s.name()));
                    }
                }
                let dir = self.run_dir.display().to_string();
                self.line(&format!(
                    "goldsmith: run {status} in {}: {}",
                    format_duration(*duration),
                    parts.join(", ")
                ))?;
                for (op, name, value) in run.outputs() {
                    self.line(&format!("goldsmith: {name} = {value} (from {op})"))?;
                }
                self.line(&format!("goldsmith: logs, state and events in {dir}"))
            }
        }
    }

    fn flush(&mut self, _: &RunRecord) -> Result<(), SinkError> {
        self.out.flush().map_err(|source| SinkError {
            what: "cannot write to the console".into(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_long_step_shows_how_far_along_it_is() {
        let op = |elapsed: u64, expected: Option<u64>| RunningOp {
            op: "install-m365-apps".into(),
            elapsed: Duration::from_secs(elapsed),
            expected: expected.map(Duration::from_secs),
            step: None,
        };
        assert_eq!(elapsed(&op(40, None)), "40s");
        assert_eq!(elapsed(&op(250, Some(1500))), "4m10s of ~25m expected");
        assert_eq!(
            elapsed(&op(1620, Some(1500))),
            "27m, over the ~25m expected"
        );
    }

    #[test]
    fn a_step_an_operation_reports_joins_its_progress() {
        let running = vec![RunningOp {
            op: "install-windows-updates".into(),
            elapsed: Duration::from_secs(600),
            expected: Some(Duration::from_secs(2700)),
            step: Some("round 2 of at most 5: 3 updates".into()),
        }];
        /// What the console wrote, kept after it is dropped.
        #[derive(Clone, Default)]
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("lock").extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let out = Shared::default();
        let mut console = Console::new(
            Box::new(out.clone()),
            Redactor::new(Vec::<String>::new()),
            PathBuf::from("runs/x"),
        );
        console.progress(&running).expect("writes");
        let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf8");
        assert_eq!(
            text.trim_end(),
            "  ...    still running: install-windows-updates (10m of ~45m expected; round 2 of at most 5: 3 updates)"
        );
    }

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(visible_controls("a\tb"), "a\tb");
        assert_eq!(
            visible_controls("\u{1b}[2Jgone\0\u{7}\u{9b}"),
            "\\x1b[2Jgone\\x00\\x07\\x9b"
        );
    }
}
