//! The end-of-run reports (JUnit, step summary, annotations) and the GitHub
//! file commands, fed with `RunRecord`s built from synthetic events: no
//! processes, real files, and parsers that are not ours.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use goldsmith::github::commands::{Level, annotation_line};
use goldsmith::github::outputs::append_outputs;
use goldsmith::record::event::{
    AttemptEnd, AttemptOutcome, AttemptResult, CancelReason, EVENTS_VERSION, Event, EventLine,
    OpEnd, OpKind, PlannedOpRef,
};
use goldsmith::record::failure::FailureClass;
use goldsmith::record::run_record::RunRecord;
use goldsmith::record::status::{FailFast, OpStatus, RunStatus};
use goldsmith::redact::Redactor;
use goldsmith::report::{annotations, junit, summary};
use goldsmith::run_dir::LogReader;
use jiff::Timestamp;
use quick_junit::{NonSuccessKind, Report, TestCaseStatus};

const SECRET: &str = "hunter2-Pa55word";
/// 2023-11-14T22:13:20Z, in milliseconds.
const T0: i64 = 1_700_000_000_000;

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(T0 + ms).expect("a valid time")
}

fn planned(id: &str, stage: usize) -> PlannedOpRef {
    PlannedOpRef {
        id: id.to_string(),
        stage,
        name: id.to_string(),
        kind: OpKind::RunCommand,
        capability: "compute".to_string(),
        file: format!("capabilities/compute/operations/{id}.yaml"),
        line: 2,
        entry_line: 5,
        locks: Vec::new(),
        fingerprint: String::new(),
    }
}

fn ok() -> AttemptOutcome {
    AttemptOutcome::new(AttemptResult::Pass { exit_code: Some(0) }, "exit code 0")
}

fn failed(class: FailureClass, message: &str) -> AttemptOutcome {
    let result = AttemptResult::Fail {
        class,
        exit_code: Some(1),
        signal: None,
    };
    AttemptOutcome::new(result, message)
}

/// Events in time order, each stamped `T0 + ms`.
#[derive(Default)]
struct Events {
    lines: Vec<EventLine>,
}

impl Events {
    fn push(&mut self, ms: i64, event: Event) {
        self.lines.push(EventLine {
            version: EVENTS_VERSION,
            time: ts(ms),
            event,
        });
    }

    fn start(&mut self, ops: &[PlannedOpRef], stages: usize) {
        self.push(
            0,
            Event::RunStarted {
                run_id: "20231114-221320-ab12".into(),
                module: "10-apps".into(),
                module_file: "modules/10-apps/module.yaml".into(),
                resumed_from: None,
                max_parallel: 4,
                fail_fast: FailFast::Continue,
                ops: ops.to_vec(),
                stages,
                setup: Default::default(),
            },
        );
    }

    /// One operation: each attempt takes a second, retries wait half a second.
    #[allow(clippy::too_many_arguments)]
    fn op(
        &mut self,
        id: &str,
        stage: usize,
        start: i64,
        attempts: Vec<AttemptOutcome>,
        status: OpStatus,
        class: Option<FailureClass>,
        reason: Option<&str>,
        continue_on_error: bool,
    ) -> i64 {
        self.push(
            start,
            Event::OpStarted {
                op: id.into(),
                stage,
                lock_wait: Duration::from_millis(250),
            },
        );
        let mut t = start;
        let n = attempts.len();
        for (i, outcome) in attempts.into_iter().enumerate() {
            let number = i as u32 + 1;
            self.push(
                t,
                Event::OpAttemptStarted {
                    op: id.into(),
                    attempt: number,
                },
            );
            t += 1000;
            let retry_in = (i + 1 < n).then(|| Duration::from_millis(500));
            self.push(
                t,
                Event::OpAttemptFinished {
                    op: id.into(),
                    end: AttemptEnd {
                        attempt: number,
                        outcome,
                        duration: Duration::from_secs(1),
                        retry_in,
                    },
                },
            );
            if retry_in.is_some() {
                t += 500;
            }
        }
        let exit_code = (status == OpStatus::Failed).then_some(1);
        self.push(
            t,
            Event::OpFinished {
                op: id.into(),
                end: OpEnd {
                    status,
                    attempts: n as u32,
                    duration: Duration::from_millis((t - start) as u64),
                    exit_code,
                    failure_class: class,
                    reason: reason.map(String::from),
                    log_tail: Vec::new(),
                },
                continue_on_error,
            },
        );
        t
    }

    fn record(&self) -> RunRecord {
        let mut r = RunRecord::default();
        for l in &self.lines {
            r.apply(l);
        }
        r
    }
}

/// A run with one operation of every kind of outcome, and their log files.
fn mixed_run(logs: &Path) -> RunRecord {
    let ids = [
        ("vnet", 1),
        ("storage", 1),
        ("rg", 1),
        ("apps", 2),
        ("probe", 2),
        ("conflict", 2),
        ("slow", 2),
        ("inside", 2),
        ("reboot", 2),
        ("plain", 2),
        ("capture", 3),
        ("late", 3),
        ("never", 3),
    ];
    let ops: Vec<PlannedOpRef> = ids.iter().map(|(id, s)| planned(id, *s)).collect();
    let mut e = Events::default();
    e.start(&ops, 3);
    use FailureClass as F;
    use OpStatus as S;
    e.op("vnet", 1, 100, vec![ok()], S::Succeeded, None, None, false);
    e.op(
        "storage",
        1,
        100,
        vec![failed(F::RunCommandConflict, "409 Conflict"), ok()],
        S::Succeeded,
        None,
        None,
        false,
    );
    e.push(
        100,
        Event::OpStarted {
            op: "rg".into(),
            stage: 1,
            lock_wait: Duration::ZERO,
        },
    );
    e.push(
        300,
        Event::OpCheckFinished {
            op: "rg".into(),
            done: true,
            duration: Duration::from_millis(200),
        },
    );
    e.push(
        300,
        Event::OpFinished {
            op: "rg".into(),
            end: OpEnd {
                status: S::AlreadyDone,
                attempts: 0,
                duration: Duration::from_millis(200),
                exit_code: None,
                failure_class: None,
                reason: Some("idempotency check passed".into()),
                log_tail: Vec::new(),
            },
            continue_on_error: false,
        },
    );
    let msi = "7zip: msiexec exit 1603 (ERROR_INSTALL_FAILURE)";
    e.op(
        "apps",
        2,
        3000,
        vec![failed(F::MsiFatal, msi), failed(F::MsiFatal, msi)],
        S::Failed,
        Some(F::MsiFatal),
        Some(msi),
        false,
    );
    e.op(
        "probe",
        2,
        3000,
        vec![failed(F::ExitCode, "exit code 3")],
        S::Failed,
        Some(F::ExitCode),
        Some("exit code 3"),
        true,
    );
    e.op(
        "conflict",
        2,
        3000,
        vec![
            failed(F::RunCommandConflict, "409 Conflict"),
            failed(F::RunCommandConflict, "409 Conflict"),
            failed(F::RunCommandConflict, "409 Conflict"),
        ],
        S::Failed,
        Some(F::RunCommandConflict),
        Some("(Conflict) Run command extension execution is in progress."),
        false,
    );
    e.op(
        "slow",
        2,
        3000,
        vec![failed(F::Timeout, "timed out after 1s")],
        S::Failed,
        Some(F::Timeout),
        Some("timed out after 1s"),
        false,
    );
    e.op(
        "inside",
        2,
        3000,
        vec![failed(F::ScriptExit, "##goldsmith-exit:2")],
        S::Failed,
        Some(F::ScriptExit),
        Some("the script inside the VM exited 2"),
        false,
    );
    let mut rebooting = ok();
    rebooting.reboot_required = true;
    e.op(
        "reboot",
        2,
        3000,
        vec![rebooting],
        S::Succeeded,
        None,
        None,
        false,
    );
    e.op(
        "plain",
        2,
        3000,
        vec![failed(F::ExitCode, "exit code 1")],
        S::Failed,
        Some(F::ExitCode),
        Some(&format!(
            "az said: a|b <b>bold</b> & more\nsecond line {SECRET}"
        )),
        false,
    );
    e.push(
        9000,
        Event::OpFinished {
            op: "capture".into(),
            end: OpEnd {
                status: S::Skipped,
                attempts: 0,
                duration: Duration::ZERO,
                exit_code: None,
                failure_class: None,
                reason: Some("a dependency did not succeed".into()),
                log_tail: Vec::new(),
            },
            continue_on_error: false,
        },
    );
    e.push(
        9000,
        Event::RunCancelling {
            reason: CancelReason::Signal {
                signal: "SIGTERM".into(),
            },
        },
    );
    e.push(
        9000,
        Event::OpStarted {
            op: "late".into(),
            stage: 3,
            lock_wait: Duration::ZERO,
        },
    );
    e.push(
        9500,
        Event::OpFinished {
            op: "late".into(),
            end: OpEnd {
                status: S::Cancelled,
                attempts: 0,
                duration: Duration::from_millis(500),
                exit_code: None,
                failure_class: None,
                reason: None,
                log_tail: Vec::new(),
            },
            continue_on_error: false,
        },
    );
    e.push(
        10_000,
        Event::RunFinished {
            status: RunStatus::Failed,
            duration: Duration::from_secs(10),
            peak_rss_kib: 1,
        },
    );

    std::fs::create_dir_all(logs).expect("logs dir");
    for (id, _) in ids.iter().take(10) {
        std::fs::write(
            logs.join(format!("{id}.log")),
            format!("{id}: working\n{id}: done\n"),
        )
        .expect("write log");
    }
    std::fs::write(
        logs.join("apps.log"),
        format!(
            "\u{1b}[31mERROR\u{1b}[0m msiexec failed\u{0}here ]]> and \u{FFFF} end\n\
             password was {SECRET}\n```\nfenced? ````` no\n"
        ),
    )
    .expect("write log");
    e.record()
}

fn redactor() -> Redactor {
    Redactor::new([SECRET])
}

/// Where generated reports are kept for `tests/junit_check.py` to run on in CI.
fn kept(name: &str, content: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("goldsmith-reports");
    std::fs::create_dir_all(&dir).expect("report dir");
    let path = dir.join(name);
    std::fs::write(&path, content).expect("keep report");
    path
}

fn write_junit(record: &RunRecord, logs: &Path, out: &Path) -> String {
    junit::write(record, &LogReader::new(logs, redactor()), out, &redactor()).expect("write junit");
    std::fs::read_to_string(out).expect("read junit")
}

#[test]
fn junit_maps_every_outcome() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    let record = mixed_run(&logs);
    let xml = write_junit(&record, &logs, &dir.path().join("junit.xml"));
    kept("mixed.xml", xml.as_bytes());

    let report = Report::deserialize_from_str(&xml).expect("quick-junit reads it back");
    assert_eq!(report.test_suites.len(), 1);
    let suite = &report.test_suites[0];
    assert_eq!(suite.name.as_str(), "10-apps");
    assert_eq!(suite.tests, 13);
    // apps, probe (allowed, still a failure), conflict, slow, inside, plain.
    assert_eq!(suite.failures, 6);
    assert_eq!(suite.skipped, 3);
    assert_eq!(suite.errors, 0);
    let names: Vec<&str> = suite.test_cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "vnet", "storage", "rg", "apps", "probe", "conflict", "slow", "inside", "reboot",
            "plain", "capture", "late", "never"
        ]
    );
    let case = |id: &str| {
        suite
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == id)
            .expect("a case per op")
    };
    let prop = |id: &str, name: &str| {
        case(id)
            .properties
            .iter()
            .find(|p| p.name.as_str() == name)
            .map(|p| p.value.as_str().to_string())
    };

    let vnet = case("vnet");
    assert_eq!(vnet.classname.as_deref(), Some("compute"));
    assert_eq!(
        vnet.extra.get("file").map(|v| v.as_str()),
        Some("capabilities/compute/operations/vnet.yaml")
    );
    assert_eq!(vnet.extra.get("line").map(|v| v.as_str()), Some("2"));
    assert_eq!(vnet.time, Some(Duration::from_secs(1)));
    assert!(xml.contains(r#"time="1.000""#), "seconds with a dot");
    // quick-junit's reader trims text, so look at the file for the last newline.
    assert!(xml.contains("<system-out>vnet: working\nvnet: done\n</system-out>"));

    match &case("storage").status {
        TestCaseStatus::Success { flaky_runs } => {
            assert_eq!(flaky_runs.len(), 1);
            assert_eq!(flaky_runs[0].ty.as_deref(), Some("run-command-conflict"));
        }
        other => panic!("a flaky op passes: {other:?}"),
    }
    assert!(xml.contains("<flakyFailure"));

    assert!(matches!(case("rg").status, TestCaseStatus::Success { .. }));
    assert_eq!(
        prop("rg", "goldsmith.status").as_deref(),
        Some("already-done")
    );

    match &case("apps").status {
        TestCaseStatus::NonSuccess {
            kind,
            message,
            ty,
            description,
            reruns,
        } => {
            assert_eq!(*kind, NonSuccessKind::Failure);
            assert_eq!(ty.as_deref(), Some("msi-fatal"));
            assert_eq!(
                message.as_deref(),
                Some("7zip: msiexec exit 1603 (ERROR_INSTALL_FAILURE)")
            );
            assert!(
                description
                    .as_deref()
                    .is_some_and(|d| d.contains("attempt 2"))
            );
            assert_eq!(reruns.runs.len(), 1, "the earlier attempt is a rerun");
        }
        other => panic!("apps failed: {other:?}"),
    }
    assert!(xml.contains("<rerunFailure"));
    assert_eq!(
        match &case("conflict").status {
            TestCaseStatus::NonSuccess { reruns, .. } => reruns.runs.len(),
            _ => 0,
        },
        2
    );

    match &case("probe").status {
        TestCaseStatus::NonSuccess { message, .. } => assert_eq!(
            message.as_deref(),
            Some("allowed to fail (continue_on_error): exit code 3")
        ),
        other => panic!("probe failed: {other:?}"),
    }
    assert_eq!(
        prop("probe", "goldsmith.continue-on-error").as_deref(),
        Some("true")
    );
    assert_eq!(
        prop("reboot", "goldsmith.reboot-required").as_deref(),
        Some("true")
    );

    for (id, ty, message) in [
        ("capture", "skipped", "a dependency did not succeed"),
        ("late", "cancelled", "cancelled: the run was stopped"),
        ("never", "not-run", "never started: the run ended first"),
    ] {
        match &case(id).status {
            TestCaseStatus::Skipped {
                ty: t, message: m, ..
            } => {
                assert_eq!(t.as_deref(), Some(ty), "{id}");
                assert_eq!(m.as_deref(), Some(message), "{id}");
            }
            other => panic!("{id} is skipped: {other:?}"),
        }
    }
    assert!(xml.contains(r#"timestamp="2023-11-14T22:13:20.000+00:00""#));
}

#[test]
fn junit_strips_control_characters_and_redacts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    let record = mixed_run(&logs);
    let xml = write_junit(&record, &logs, &dir.path().join("junit.xml"));
    assert!(!xml.contains('\u{1b}'), "no ESC");
    assert!(!xml.contains('\u{0}'), "no NUL");
    assert!(!xml.contains('\u{FFFF}'), "no U+FFFF");
    assert!(xml.contains("]]&gt;"), "`]]>` is escaped text");
    assert!(!xml.contains(SECRET));
    let report = Report::deserialize_from_str(&xml).expect("well-formed");
    let apps = report.test_suites[0]
        .test_cases
        .iter()
        .find(|c| c.name.as_str() == "apps")
        .expect("apps");
    let out = apps.system_out.as_deref().expect("apps has output");
    assert!(out.starts_with("ERROR msiexec failedhere ]]> and  end\npassword was ***\n"));
}

#[test]
fn junit_cuts_long_logs_with_a_note() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    let record = mixed_run(&logs);
    // 200,000 bytes of "é" then the secret: the cut falls inside a character.
    let mut log = "é".repeat(100_000);
    log.push_str(&format!("\nlast line {SECRET}\n"));
    std::fs::write(logs.join("vnet.log"), &log).expect("write log");
    let xml = write_junit(&record, &logs, &dir.path().join("junit.xml"));
    let report = Report::deserialize_from_str(&xml).expect("well-formed");
    let vnet = &report.test_suites[0].test_cases[0];
    let out = vnet.system_out.as_deref().expect("vnet has output");
    let (note, rest) = out.split_once('\n').expect("a note line");
    let shown: usize = note
        .strip_prefix("[goldsmith] log cut: showing the last ")
        .and_then(|n| n.strip_suffix(&format!(" of {} bytes", log.len())))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("note: {note}"));
    // The cut skips the rest of a split two-byte character.
    assert_eq!(shown, junit::SYSTEM_OUT_LIMIT - 1);
    // The reader trims the final newline.
    assert_eq!(rest.len() + 1, shown);
    assert!(rest.ends_with("last line ***"));
    assert!(!xml.contains(SECRET));
}

#[test]
fn junit_passes_junitparser_and_the_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    let record = mixed_run(&logs);
    let xml = write_junit(&record, &logs, &dir.path().join("junit.xml"));
    let path = kept("checked.xml", xml.as_bytes());
    let Some(view) = common::junit_check(&[&path]) else {
        return;
    };
    let suite = &view["files"][0]["suites"][0];
    assert_eq!(suite["name"], "10-apps");
    assert_eq!(suite["tests"], 13);
    assert_eq!(suite["failures"], 6);
    let cases = suite["cases"].as_array().expect("cases");
    let case = |id: &str| {
        cases
            .iter()
            .find(|c| c["name"] == id)
            .unwrap_or_else(|| panic!("case {id}"))
    };
    assert_eq!(
        case("apps")["file"],
        "capabilities/compute/operations/apps.yaml"
    );
    assert_eq!(case("apps")["line"], 2);
    assert_eq!(case("apps")["classname"], "compute");
    assert_eq!(case("apps")["result"][0]["kind"], "failure");
    assert_eq!(case("apps")["result"][0]["type"], "msi-fatal");
    assert_eq!(case("apps")["interim"][0]["kind"], "rerunFailure");
    assert_eq!(case("storage")["result"], serde_json::json!([]));
    assert_eq!(case("storage")["interim"][0]["kind"], "flakyFailure");
    assert_eq!(case("rg")["properties"]["goldsmith.status"], "already-done");
    assert_eq!(case("never")["result"][0]["kind"], "skipped");
    assert!(
        case("apps")["system_out"]
            .as_str()
            .is_some_and(|s| s.contains("]]>"))
    );
}

#[test]
fn summary_escapes_orders_and_charts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    let record = mixed_run(&logs);
    let md = summary::render(&record, &LogReader::new(&logs, redactor()), &redactor());
    kept("summary.md", md.as_bytes());

    assert!(md.starts_with("## goldsmith <code>10-apps</code>: failed\n"));
    assert!(md.contains("**failed** in 10s · 13 operations:"));
    assert!(!md.contains(SECRET));
    assert!(md.contains("| plain | 2 | failed |"));
    assert!(
        md.contains("exit-code: az said: a\\|b &lt;b&gt;bold&lt;/b&gt; &amp; more |"),
        "escaped note cell:\n{md}"
    );

    let table: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| Operation"))
        .map(|l| l.split(" | ").next().unwrap_or("").trim_start_matches("| "))
        .collect();
    assert_eq!(
        table,
        [
            "apps", "probe", "conflict", "slow", "inside", "plain", "vnet", "storage", "rg",
            "reboot", "capture", "late", "never"
        ],
        "failures first, then plan order"
    );
    assert!(md.contains("| storage | 1 | succeeded (flaky) |"));
    assert!(md.contains("| probe | 2 | failed (allowed) |"));

    assert!(md.contains("```mermaid\ngantt\n    dateFormat x\n"));
    assert!(md.contains("    section Stage 1\n    vnet:1700000000100, 1700000001100\n"));
    assert!(md.contains("    apps:crit, 1700000003000, 1700000005500\n"));
    assert!(md.contains("    section Stage 3\n    late:"));
    assert!(
        !md.contains("    never:"),
        "an op that never started has no bar"
    );
}

#[test]
fn summary_details_fence_outlasts_backticks_in_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    let record = mixed_run(&logs);
    let md = summary::render(&record, &LogReader::new(&logs, redactor()), &redactor());
    let start = md
        .find("<details><summary>apps: msi-fatal: 7zip")
        .expect("details for apps");
    let details = &md[start..];
    let details = &details[..details.find("</details>").expect("closed")];
    // The log holds runs of 3 and 5 backticks, so the fence needs 6.
    assert!(details.contains("\n\n``````text\n"), "{details}");
    assert!(details.contains("password was ***"));
    assert!(
        details.contains("\nERROR msiexec failedhere ]]> and \u{FFFF} end\n"),
        "colour codes and NUL are gone: {details}"
    );
    assert!(details.trim_end().ends_with("\n``````"), "{details}");
    assert!(md.contains("<details><summary>plain: exit-code: az said: a|b &lt;b&gt;bold&lt;/b&gt; &amp; more second line ***</summary>"));
}

/// `n` operations, every 7th failed with `reason`. Only `run_started` goes
/// through `RunRecord::apply`: it finds an op by a linear search per event,
/// which makes 50,000 ops' worth of events take most of a minute in a debug
/// build, so the rest is filled in the way `apply` would.
fn many_ops(n: usize, reason: &str) -> RunRecord {
    let ops: Vec<PlannedOpRef> = (0..n)
        .map(|i| planned(&format!("op-{i:05}"), 1 + i / 1000))
        .collect();
    let mut e = Events::default();
    e.start(&ops, n / 1000 + 1);
    e.push(
        (n as i64) + 5000,
        Event::RunFinished {
            status: RunStatus::Failed,
            duration: Duration::from_secs(60),
            peak_rss_kib: 1,
        },
    );
    let mut record = e.record();
    for (i, op) in record.ops.iter_mut().enumerate() {
        let failed = i % 7 == 0;
        op.status = if failed {
            OpStatus::Failed
        } else {
            OpStatus::Succeeded
        };
        op.started_at = Some(ts(i as i64));
        op.finished_at = Some(ts(i as i64 + 1000));
        op.duration = Duration::from_secs(1);
        if failed {
            op.failure_class = Some(FailureClass::ExitCode);
            op.reason = Some(reason.to_string());
            op.exit_code = Some(1);
        }
    }
    record
}

#[test]
fn summary_stays_under_the_limit_with_fifty_thousand_ops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = many_ops(50_000, "exit code 1");
    let md = summary::render(
        &record,
        &LogReader::new(dir.path(), Redactor::default()),
        &Redactor::default(),
    );
    kept("summary-50k.md", md.as_bytes());
    assert!(md.len() <= summary::MAX_BYTES, "{} bytes", md.len());
    assert!(md.contains("> **Note:** summary truncated: "));
    // Failures come first, so the first rows are failures.
    let first_row = md.lines().find(|l| l.starts_with("| op-")).expect("rows");
    assert!(first_row.starts_with("| op-00000 | 1 | failed |"));
    let chart = &md[md.find("```mermaid").expect("chart")..];
    let chart = &chart[..chart[3..].find("```").expect("chart closed") + 3];
    assert!(
        chart.len() < 50_000,
        "Mermaid draws at most 50,000 characters"
    );
}

#[test]
fn summary_stays_under_the_limit_with_huge_reasons() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reason = "x|<y>\n".repeat(100_000);
    let record = many_ops(300, &reason);
    let md = summary::render(
        &record,
        &LogReader::new(dir.path(), Redactor::default()),
        &Redactor::default(),
    );
    assert!(md.len() <= summary::MAX_BYTES, "{} bytes", md.len());
    assert!(!md.contains("<y>"), "escaped even when cut");
}

#[test]
fn summary_of_a_small_run_is_not_truncated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    let md = summary::render(
        &mixed_run(&logs),
        &LogReader::new(&logs, redactor()),
        &redactor(),
    );
    assert!(!md.contains("summary truncated"));
}

#[test]
fn annotations_put_the_worst_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = mixed_run(&dir.path().join("logs"));
    let all = annotations::for_run(&record);
    let errors: Vec<&str> = all
        .iter()
        .filter(|a| a.level == Level::Error)
        .filter_map(|a| a.title.as_deref())
        .collect();
    assert_eq!(
        errors,
        [
            "conflict: run-command-conflict",
            "apps: msi-fatal",
            "inside: script-exit",
            "slow: timeout",
            "plain: exit-code",
        ]
    );
    let apps = all
        .iter()
        .find(|a| a.title.as_deref() == Some("apps: msi-fatal"))
        .expect("apps");
    assert_eq!(
        apps.file.as_deref(),
        Some("capabilities/compute/operations/apps.yaml")
    );
    assert_eq!(apps.line, Some(2));
    assert!(apps.message.contains("1603"));
    assert!(apps.message.contains("verbose msiexec log"));
    assert!(apps.message.contains("no blind retry"));

    let warnings: Vec<&str> = all
        .iter()
        .filter(|a| a.level == Level::Warning)
        .map(|a| a.message.as_str())
        .collect();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(warnings[0].starts_with("probe failed, and `continue_on_error`"));
    assert_eq!(
        warnings[1],
        "storage passed on attempt 2 (attempt 1: 409 Conflict)"
    );
    assert!(warnings[2].contains("3010"));

    let line = annotation_line(apps);
    assert_eq!(
        line,
        "::error title=apps%3A msi-fatal,file=capabilities/compute/operations/apps.yaml,line=2::\
         7zip: msiexec exit 1603 (ERROR_INSTALL_FAILURE)%0AWindows Installer hit a fatal error (1603): \
         check the verbose msiexec log (/l*v) on the VM; no blind retry, it fails the same way again."
    );
    assert!(!line.contains('\n'));
}

/// A 3010 stays a warning while nothing restarted the VM; once goldsmith
/// restarted it before a later step, the note is a notice naming that step.
#[test]
fn a_restart_goldsmith_made_turns_the_3010_warning_into_a_notice() {
    let record = |restarted: bool| {
        let mut e = Events::default();
        e.start(&[planned("apps", 1), planned("settings", 2)], 2);
        let mut asked = ok();
        asked.reboot_required = true;
        let t = e.op(
            "apps",
            1,
            1000,
            vec![asked],
            OpStatus::Succeeded,
            None,
            None,
            false,
        );
        let mut next = ok();
        next.restarted_for = restarted.then(|| "apps".to_string());
        e.op(
            "settings",
            2,
            t,
            vec![next],
            OpStatus::Succeeded,
            None,
            None,
            false,
        );
        e.record()
    };
    let reboot = |record: &RunRecord| {
        annotations::for_run(record)
            .into_iter()
            .find(|a| a.title.as_deref() == Some("apps: reboot required"))
            .expect("a reboot note")
    };
    let note = reboot(&record(true));
    assert_eq!(note.level, Level::Notice);
    assert_eq!(
        note.message,
        "apps needed a restart to finish (3010): goldsmith restarted the VM before settings."
    );
    let note = reboot(&record(false));
    assert_eq!(note.level, Level::Warning);
    assert!(
        note.message
            .contains("no later step ran on it; restart the VM before capturing the image")
    );
}

#[test]
fn annotations_are_limited_per_level() {
    let record = many_ops(200, "exit code 1");
    let limited = annotations::limit(annotations::for_run(&record), "see the job summary");
    let errors: Vec<_> = limited.iter().filter(|a| a.level == Level::Error).collect();
    assert_eq!(errors.len(), 10);
    // 200 ops, every 7th failed: 29 failures, 9 shown.
    assert_eq!(
        errors[9].message,
        "…and 20 more errors: see the job summary"
    );
    assert!(limited.len() <= annotations::TOTAL);
}

#[test]
fn diagnostics_become_annotations() {
    use goldsmith::source::{Diagnostic, Pos};
    let file = Path::new("modules/10-apps/module.yaml");
    let e = Diagnostic::error(
        file,
        Pos {
            line: 4,
            col: 7,
            len: 5,
        },
        "unknown operation `instal` in this module list",
    )
    .with_help("did you mean `install`?");
    let w = Diagnostic::warning(
        file,
        Pos {
            line: 9,
            col: 3,
            len: 0,
        },
        "slow",
    );
    let n = Diagnostic::note(
        file,
        Pos {
            line: 1,
            col: 1,
            len: 2,
        },
        "lock inferred",
    );
    let out = annotations::for_diagnostics(&[&e, &w, &n]);
    assert_eq!(
        annotation_line(&out[0]),
        "::error title=unknown operation `instal` in this module list,file=modules/10-apps/module.yaml,line=4,endLine=4,col=7,endColumn=12::unknown operation `instal` in this module list%0Ahelp: did you mean `install`?"
    );
    assert_eq!(
        annotation_line(&out[1]),
        "::warning title=slow,file=modules/10-apps/module.yaml,line=9,endLine=9,col=3::slow"
    );
    assert_eq!(out[2].level, Level::Notice);
    assert_eq!(out[2].end_column, Some(3));
}

/// The runner's reader of `GITHUB_OUTPUT` / `GITHUB_ENV`, written from
/// actions/runner `SetEnvFileCommand.ProcessCommand` (Linux: LF line ends):
/// `name=value` lines and `name<<DELIMITER` heredocs, blank lines skipped.
fn runner_parse(text: &str) -> Result<Vec<(String, String)>, String> {
    fn read_line<'a>(text: &'a str, index: &mut usize) -> Option<(&'a str, usize)> {
        if *index >= text.len() {
            return None;
        }
        let from = *index;
        match text[from..].find('\n') {
            None => {
                *index = text.len();
                Some((&text[from..], 0))
            }
            Some(lf) => {
                *index = from + lf + 1;
                Some((&text[from..from + lf], 1))
            }
        }
    }
    let mut out = Vec::new();
    let mut index = 0;
    while let Some((line, _)) = read_line(text, &mut index) {
        if line.is_empty() {
            continue;
        }
        let equals = line.find('=');
        let heredoc = line.find("<<");
        match (equals, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                let (name, value) = line.split_at(e);
                out.push((name.to_string(), value[1..].to_string()));
            }
            (e, Some(h)) if e.is_none_or(|e| h < e) => {
                let name = &line[..h];
                let delimiter = &line[h + 2..];
                if name.is_empty() || delimiter.is_empty() {
                    return Err(format!("Invalid format '{line}'"));
                }
                let start = index;
                let mut end = index;
                loop {
                    match read_line(text, &mut index) {
                        None => return Err(format!("Matching delimiter not found '{delimiter}'")),
                        Some((l, _)) if l == delimiter => break,
                        Some((_, newline)) => end = index - newline,
                    }
                }
                let value = if end > start { &text[start..end] } else { "" };
                out.push((name.to_string(), value.to_string()));
            }
            _ => return Err(format!("Invalid format '{line}'")),
        }
    }
    Ok(out)
}

#[test]
fn outputs_round_trip_through_the_runners_parser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("github_output");
    std::fs::write(&path, "earlier=kept\n").expect("seed");
    let tricky = [
        ("status", "failed"),
        ("multi", "line one\nline two\n\nline four"),
        ("looks_like_commands", "evil=1\nother<<EOF\nx\nEOF"),
        ("empty", ""),
        ("trailing_newline", "value\n"),
        ("json", "{\"a\": \"b=c<<d\"}"),
    ];
    append_outputs(&path, &tricky).expect("append");
    append_outputs(&path, &[("second", "call")]).expect("append again");
    let text = std::fs::read_to_string(&path).expect("read");
    let parsed = runner_parse(&text).expect("the runner accepts it");
    let mut expected = vec![("earlier".to_string(), "kept".to_string())];
    expected.extend(tricky.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    expected.push(("second".into(), "call".into()));
    assert_eq!(parsed, expected);

    let delimiters: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once("<<ghadelimiter_").map(|(_, d)| d))
        .collect();
    assert_eq!(delimiters.len(), 7);
    let mut unique = delimiters.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 7, "a new delimiter per value");
}

#[test]
fn outputs_refuse_injection_and_write_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("github_output");
    std::fs::write(&path, "earlier=kept\n").expect("seed");
    for name in ["a<<EOF", "a\nb", "a=b", ""] {
        let err = append_outputs(&path, &[("fine", "v"), (name, "v")]).expect_err(name);
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "earlier=kept\n"
    );
}

#[test]
fn no_report_holds_the_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    let record = mixed_run(&logs);
    let xml = write_junit(&record, &logs, &dir.path().join("junit.xml"));
    let md = summary::render(&record, &LogReader::new(&logs, redactor()), &redactor());
    assert!(!xml.contains(SECRET));
    assert!(!md.contains(SECRET));
}
