//! `junit.xml`: the finished `RunRecord` as JUnit XML, written with quick-junit.
//!
//! One `<testsuite>` per module run and one `<testcase>` per operation, in
//! plan order. Each test case carries `file` and `line` attributes (the
//! operation's YAML), which the GitHub JUnit reporters turn into links.
//!
//! How goldsmith outcomes map onto JUnit, which has no word for some of them:
//!
//! | operation | JUnit |
//! |---|---|
//! | succeeded | passing case |
//! | succeeded after failed attempts (flaky) | passing case, one `<flakyFailure>` per failed attempt |
//! | already done (idempotency check) | passing case, property `goldsmith.status=already-done` |
//! | failed | `<failure type="<failure class>" message="<reason>">`, one `<rerunFailure>` per earlier attempt |
//! | failed with `continue_on_error` | `<failure>` as well, its message starting `allowed to fail (continue_on_error):` and property `goldsmith.continue-on-error=true`: it did fail, and a passing case would hide that from every JUnit viewer; the run's own status still says whether the run failed |
//! | skipped, cancelled, never started | `<skipped message="<reason>">` with `type` `skipped`, `cancelled` or `not-run` |
//! | still running when the record ended | `<error type="unfinished">`: the engine lost track of it, which is a goldsmith problem, not the operation's |
//!
//! Every case has the property `goldsmith.status` with the status name.
//! An install-apps app gets a case of its own (`<op>/<app>`) with its phase
//! times and its installer's code (`goldsmith.installer-code`,
//! `goldsmith.installer-result`, `goldsmith.reboot-required` on 3010/1641,
//! `goldsmith.installer-accepted` when the app's `ok_codes` accepted it).
//! `<system-out>` holds the tail of `logs/<op>.log` (at most 64 KiB), redacted.
//!
//! This module reads records and log files; it never sees a process or an event
//! stream, and it never writes XML by hand.

use std::io;
use std::path::Path;

use chrono::{DateTime, FixedOffset};
use jiff::Timestamp;
use quick_junit::{
    NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite, XmlString,
};

use crate::record::event::{AppPhase, InstallResult};
use crate::record::run_record::{AttemptRecord, OpRecord, RunRecord};
use crate::record::status::OpStatus;
use crate::redact::Redactor;
use crate::run_dir::LogReader;

/// The most of an operation's log that goes into `<system-out>`.
pub const SYSTEM_OUT_LIMIT: usize = 64 * 1024;

/// Writes `out` atomically: a reader never sees half a report.
pub fn write(
    record: &RunRecord,
    logs: &LogReader,
    out: &Path,
    redactor: &Redactor,
) -> io::Result<()> {
    let xml = report(record, logs, redactor)
        .to_string()
        .map_err(io::Error::other)?;
    crate::run_dir::write_atomic(out, xml.as_bytes())
}

/// The whole report: `<testsuites>` with this run's one `<testsuite>`.
pub fn report(record: &RunRecord, logs: &LogReader, redactor: &Redactor) -> Report {
    let mut report = Report::new("goldsmith");
    report.set_time(record.duration);
    report.add_test_suite(suite(record, logs, redactor));
    report
}

fn suite(record: &RunRecord, logs: &LogReader, redactor: &Redactor) -> TestSuite {
    let name = if record.module.is_empty() {
        "goldsmith"
    } else {
        record.module.as_str()
    };
    let mut suite = TestSuite::new(clean(redactor, name));
    if let Some(t) = record.started_at.and_then(chrono_time) {
        suite.set_timestamp(t);
    }
    suite.set_time(record.duration);
    let mut props = vec![
        Property::new("goldsmith.run-id", clean(redactor, &record.run_id)),
        Property::new(
            "goldsmith.module-file",
            clean(redactor, &record.module_file),
        ),
        Property::new(
            "goldsmith.status",
            record.status.map_or("unfinished", |s| s.name()),
        ),
        Property::new(
            "goldsmith.simulated",
            if record.setup.simulated {
                "true"
            } else {
                "false"
            },
        ),
    ];
    for (name, value) in &record.setup.values {
        props.push(Property::new(
            format!("goldsmith.value.{name}").as_str(),
            clean(redactor, value),
        ));
    }
    for (_, name, value) in record.outputs() {
        props.push(Property::new(
            format!("goldsmith.output.{name}").as_str(),
            clean(redactor, value),
        ));
    }
    if let Some(from) = &record.resumed_from {
        props.push(Property::new(
            "goldsmith.resumed-from",
            clean(redactor, from),
        ));
    }
    if let Some(reason) = &record.cancel_reason {
        props.push(Property::new(
            "goldsmith.cancel-reason",
            clean(redactor, &reason.to_string()),
        ));
    }
    if let Some(cleanup) = &record.cleanup {
        props.push(Property::new(
            "goldsmith.cleanup",
            clean(
                redactor,
                &crate::record::event::cleanup_line(&cleanup.after, &cleanup.ops),
            ),
        ));
    }
    suite.add_properties(props);
    for op in &record.ops {
        suite.add_test_case(op_case(op, &record.module, logs, redactor));
        suite.add_test_cases(app_cases(op, redactor));
        suite.add_test_cases(super::updates::junit_cases(op, |s| clean(redactor, s)));
    }
    suite
}

/// A case for something inside `op` (an app, an update): it has the
/// operation's class name and file.
pub(super) fn inner_case(
    op: &OpRecord,
    name: &str,
    status: TestCaseStatus,
    clean: impl Fn(&str) -> String,
) -> TestCase {
    let mut case = TestCase::new(clean(name), status);
    case.set_classname(clean(&format!("{}.{}", op.meta.capability, op.meta.id)));
    if !op.meta.file.is_empty() {
        case.extra
            .insert("file".into(), clean(&op.meta.file).into());
    }
    case
}

/// One case per app of an install-apps operation, named `<op>/<app>`, from
/// the last attempt's `##goldsmith-app` results: its download and install.
pub fn app_cases(op: &OpRecord, redactor: &Redactor) -> Vec<TestCase> {
    let Some(last) = op.attempts.last() else {
        return Vec::new();
    };
    let mut names: Vec<&str> = Vec::new();
    for r in &last.outcome.apps {
        if !names.contains(&r.name.as_str()) {
            names.push(&r.name);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let phases: Vec<_> = last
                .outcome
                .apps
                .iter()
                .filter(|r| r.name == name)
                .collect();
            let failed = phases.iter().find(|r| !r.ok);
            let installed = phases.iter().any(|r| r.phase == AppPhase::Install && r.ok);
            let installer = last.outcome.installs.iter().rfind(|i| i.name == name);
            let status = match failed {
                Some(f) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_type(format!("app-{}", f.phase.name()));
                    let returned = installer
                        .filter(|_| f.phase == AppPhase::Install)
                        .map(|i| format!(": the installer returned {} ({})", i.code, i.meaning))
                        .unwrap_or_default();
                    s.set_message(clean(
                        redactor,
                        &format!(
                            "{} of `{name}` failed after {}s{returned}",
                            f.phase.name(),
                            f.seconds
                        ),
                    ));
                    s
                }
                None if installed => TestCaseStatus::success(),
                None => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_type("not-run");
                    s.set_message("downloaded, not installed");
                    s
                }
            };
            let name = format!("{}/{name}", op.meta.id);
            let mut case = inner_case(op, &name, status, |s| clean(redactor, s));
            let total: f64 = phases.iter().map(|r| r.seconds).sum();
            case.set_time(std::time::Duration::from_secs_f64(total.max(0.0)));
            case.add_properties(phases.iter().map(|r| {
                Property::new(
                    format!("goldsmith.{}-seconds", r.phase.name()),
                    r.seconds.to_string(),
                )
            }));
            case.add_properties(installer.into_iter().flat_map(installer_properties));
            case
        })
        .collect()
}

/// What an app's installer returned: its code and Windows Installer's name
/// for it, `goldsmith.reboot-required` when it asks for a restart (3010)
/// or started one (1641), and `goldsmith.installer-accepted: ok_codes` when
/// the code is a failure the app's `ok_codes` accepts.
fn installer_properties(i: &InstallResult) -> Vec<Property> {
    let mut props = vec![
        Property::new("goldsmith.installer-code", i.code.to_string()),
        Property::new("goldsmith.installer-result", i.meaning.as_str()),
    ];
    if matches!(i.code, 3010 | 1641) {
        props.push(Property::new("goldsmith.reboot-required", "true"));
    }
    if i.accepted {
        props.push(Property::new("goldsmith.installer-accepted", "ok_codes"));
    }
    props
}

/// The test case of one operation. App results get cases of their own next
/// to these, built the same way.
pub fn op_case(op: &OpRecord, module: &str, logs: &LogReader, redactor: &Redactor) -> TestCase {
    let meta = &op.meta;
    let mut case = TestCase::new(clean(redactor, &meta.id), op_status(op, redactor));
    let classname = if meta.capability.is_empty() {
        module
    } else {
        meta.capability.as_str()
    };
    case.set_classname(clean(redactor, classname));
    if !meta.file.is_empty() {
        case.extra
            .insert("file".into(), clean(redactor, &meta.file).into());
    }
    if meta.line > 0 {
        case.extra
            .insert("line".into(), meta.line.to_string().into());
    }
    if let Some(t) = op.started_at.and_then(chrono_time) {
        case.set_timestamp(t);
    }
    case.set_time(op.duration);
    case.add_properties(op_properties(op));
    case.system_out = system_out(logs, &meta.id);
    case
}

fn op_properties(op: &OpRecord) -> Vec<Property> {
    let mut props = vec![
        Property::new("goldsmith.status", op.status.name()),
        Property::new("goldsmith.stage", op.meta.stage.to_string()),
    ];
    props.push(Property::new("goldsmith.kind", op.meta.kind.name()));
    if !op.attempts.is_empty() {
        props.push(Property::new(
            "goldsmith.attempts",
            op.attempts.len().to_string(),
        ));
    }
    if op.status == OpStatus::Failed && op.continue_on_error {
        props.push(Property::new("goldsmith.continue-on-error", "true"));
    }
    if op.reboot_required() {
        props.push(Property::new("goldsmith.reboot-required", "true"));
    }
    props
}

fn op_status(op: &OpRecord, redactor: &Redactor) -> TestCaseStatus {
    let reason = op.reason.as_deref().map(|r| clean(redactor, r));
    let skipped = |ty: &str, default: &str| {
        let mut s = TestCaseStatus::skipped();
        s.set_type(ty);
        s.set_message(reason.clone().unwrap_or_else(|| default.to_string()));
        s
    };
    match op.status {
        OpStatus::Succeeded | OpStatus::AlreadyDone => {
            let mut s = TestCaseStatus::success();
            s.add_reruns(
                op.attempts
                    .iter()
                    .filter(|a| !a.outcome.passed())
                    .map(|a| rerun(a, redactor)),
            );
            s
        }
        OpStatus::Failed => {
            let class = op.failure_class.map_or("failed", |c| c.name());
            let first_line = reason
                .as_deref()
                .and_then(|r| r.lines().next())
                .unwrap_or("failed");
            let message = if op.continue_on_error {
                format!("allowed to fail (continue_on_error): {first_line}")
            } else {
                first_line.to_string()
            };
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type(class);
            s.set_message(message);
            s.set_description(failure_description(op, redactor));
            let earlier = op.attempts.len().saturating_sub(1);
            s.add_reruns(op.attempts[..earlier].iter().map(|a| rerun(a, redactor)));
            s
        }
        OpStatus::Skipped => skipped("skipped", "skipped"),
        OpStatus::Cancelled => skipped("cancelled", "cancelled: the run was stopped"),
        OpStatus::Pending => skipped("not-run", "never started: the run ended first"),
        OpStatus::Running => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_type("unfinished");
            s.set_message("the run record ended while this operation was running");
            if let Some(r) = reason {
                s.set_description(r);
            }
            s
        }
    }
}

/// The body of a `<failure>`: the whole reason, then one line per attempt.
fn failure_description(op: &OpRecord, redactor: &Redactor) -> String {
    let mut lines: Vec<String> = Vec::new();
    if let Some(r) = &op.reason {
        lines.push(clean(redactor, r));
    }
    if let Some(code) = op.exit_code {
        lines.push(format!("exit code: {code}"));
    }
    for a in &op.attempts {
        let class = a
            .outcome
            .failure_class()
            .map(|c| format!(" [{c}]"))
            .unwrap_or_default();
        let retry = a
            .retry_in
            .map(|d| format!(", retried after {:.1}s", d.as_secs_f64()))
            .unwrap_or_default();
        lines.push(format!(
            "attempt {}: {}{class} ({:.3}s{retry})",
            a.number,
            clean(redactor, &a.outcome.message),
            a.duration.as_secs_f64()
        ));
    }
    lines.join("\n")
}

fn rerun(a: &AttemptRecord, redactor: &Redactor) -> TestRerun {
    let mut r = TestRerun::new(NonSuccessKind::Failure);
    // The JUnit schemas that know reruns require `type`.
    r.set_type(a.outcome.failure_class().map_or("failed", |c| c.name()));
    r.set_message(format!(
        "attempt {}: {}",
        a.number,
        clean(redactor, &a.outcome.message)
    ));
    r.set_time(a.duration);
    if let Some(t) = a.started_at.and_then(chrono_time) {
        r.set_timestamp(t);
    }
    r
}

fn system_out(logs: &LogReader, op: &str) -> Option<XmlString> {
    match logs.tail(op, SYSTEM_OUT_LIMIT) {
        Ok(None) => None,
        Ok(Some(tail)) => {
            let mut text = String::new();
            if tail.cut {
                text.push_str(&format!(
                    "[goldsmith] log cut: showing the last {} of {} bytes\n",
                    tail.shown_bytes, tail.total_bytes
                ));
            }
            text.push_str(&tail.text);
            Some(xml_text(&text))
        }
        // A report without one log beats no report; the note says what is missing.
        Err(e) => Some(xml_text(&format!(
            "[goldsmith] cannot read {}: {e}",
            logs.path(op).display()
        ))),
    }
}

/// Redacted text without the characters XML 1.0 forbids.
fn clean(redactor: &Redactor, s: &str) -> String {
    xml_text(&redactor.redact(s)).into_string()
}

/// quick-junit's `XmlString` drops ANSI escapes and C0 controls but lets the
/// noncharacters U+FFFE and U+FFFF through, which XML 1.0 also forbids and
/// parsers such as expat reject.
fn xml_text(s: &str) -> XmlString {
    if s.contains(['\u{FFFE}', '\u{FFFF}']) {
        XmlString::new(s.replace(['\u{FFFE}', '\u{FFFF}'], ""))
    } else {
        XmlString::new(s)
    }
}

fn chrono_time(t: Timestamp) -> Option<DateTime<FixedOffset>> {
    let nanos = u32::try_from(t.subsec_nanosecond()).ok()?;
    DateTime::from_timestamp(t.as_second(), nanos).map(|d| d.fixed_offset())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noncharacters_are_dropped() {
        assert_eq!(xml_text("a\u{FFFE}b\u{FFFF}c\u{1b}[31md").as_str(), "abcd");
    }
}
