//! The Windows updates of windows-update operations in the reports: one
//! JUnit test case per update (a failure for one that failed, with its
//! HRESULT's name) and a table per operation in the job summary.
//!
//! The text cleaners belong to the reporter calling (XML for JUnit,
//! Markdown cells for the summary), so they are passed in.

use std::fmt::Write as _;

use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus};

use crate::azure::windows_update::described;
use crate::record::event::UpdateResult;
use crate::record::run_record::{OpRecord, RunRecord};

/// The updates of `op`'s last attempt, if it is a windows-update operation that reported any.
fn updates(op: &OpRecord) -> &[UpdateResult] {
    op.update_run().map_or(&[], |run| run.updates.as_slice())
}

/// How an update ended, for people: `succeeded`, `failed: 0x80240022 WU_E_ALL_UPDATES_FAILED`.
fn result_text(u: &UpdateResult) -> String {
    if u.failed() {
        format!("{}: {}", u.result, described(&u.hresult))
    } else {
        u.result.clone()
    }
}

/// One case per update, named `<op> / <KB> <title>`.
pub fn junit_cases(op: &OpRecord, clean: impl Fn(&str) -> String) -> Vec<TestCase> {
    updates(op)
        .iter()
        .map(|u| {
            let status = if u.failed() {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_type("update-failed");
                s.set_message(clean(&format!(
                    "{} {} in round {}: {}",
                    u.kb,
                    u.result,
                    u.round,
                    described(&u.hresult)
                )));
                s
            } else {
                TestCaseStatus::success()
            };
            let name = format!("{} / {} {}", op.meta.id, u.kb, u.title);
            let mut case = super::junit::inner_case(op, &name, status, &clean);
            case.add_properties([
                Property::new("goldsmith.round", u.round.to_string()),
                Property::new("goldsmith.kb", clean(&u.kb)),
                Property::new("goldsmith.result", clean(&u.result)),
                Property::new("goldsmith.hresult", clean(&u.hresult)),
            ]);
            case
        })
        .collect()
}

/// A table of updates per windows-update operation, for the job summary.
pub fn summary_tables(record: &RunRecord, cell: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    for op in &record.ops {
        let list = updates(op);
        let Some(run) = op.update_run() else {
            continue;
        };
        let _ = writeln!(
            out,
            "#### Windows updates of {}\n\n{}.\n",
            cell(&op.meta.id),
            run.totals()
        );
        if list.is_empty() {
            continue;
        }
        out.push_str("| Round | KB | Title | Result |\n|---|---|---|---|\n");
        for u in list {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                u.round,
                cell(&u.kb),
                cell(&u.title),
                cell(&result_text(u))
            );
        }
        out.push('\n');
    }
    out
}
