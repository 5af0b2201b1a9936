//! The job step summary (`summary.md`, appended to `GITHUB_STEP_SUMMARY`):
//! the result, a table of every operation with failures first, a Mermaid
//! gantt chart of when each one ran, and the log tail of each failure.
//!
//! It owns the Markdown and keeps it under `MAX_BYTES`, since the runner
//! refuses a bigger summary whole. It reads records and log files, never
//! processes or events.

use std::fmt::Write as _;

use crate::duration::format_duration;
use crate::record::event::AppPhase;
use crate::record::run_record::{CleanupPhase, OpRecord, RunRecord};
use crate::record::status::OpStatus;
use crate::redact::Redactor;
use crate::run_dir::LogReader;

/// The runner refuses a summary over 1 MiB; stay clear of the edge.
pub const MAX_BYTES: usize = 1_000_000;

/// Mermaid refuses to draw a diagram over 50,000 characters (`maxTextSize`).
const CHART_MAX_BYTES: usize = 45_000;
/// A table cell longer than this is cut: the details below hold the rest.
const CELL_CHARS: usize = 300;
/// A failure's note in the table: enough to recognise it.
const NOTE_CHARS: usize = 100;
/// Log lines shown per failure when the record holds none.
const LOG_LINES: usize = 20;
const LOG_LINE_CHARS: usize = 400;
/// Room kept for the truncation note.
const NOTE_RESERVE: usize = 512;

pub fn render(record: &RunRecord, logs: &LogReader, redactor: &Redactor) -> String {
    let head = heading(record, redactor);
    let order = table_order(record);
    let rows: Vec<String> = order.iter().map(|op| row(record, op, redactor)).collect();
    let chart = gantt(record)
        + &apps(record, redactor)
        + &super::updates::summary_tables(record, |s| cell(redactor, s, CELL_CHARS));
    let details: Vec<String> = record
        .ops
        .iter()
        .filter(|o| o.status == OpStatus::Failed)
        .map(|op| failure_details(op, logs, redactor))
        .collect();

    let fixed = head.len() + TABLE_HEAD.len() + chart.len() + NOTE_RESERVE;
    let budget = MAX_BYTES.saturating_sub(fixed);
    // Details go first, then rows from the end of the table (failures stay).
    let all_rows: usize = rows.iter().map(String::len).sum();
    let (shown_rows, shown_details) = if all_rows <= budget {
        (rows.len(), fit(&details, budget - all_rows))
    } else {
        (fit(&rows, budget), 0)
    };

    let mut out = head;
    if shown_rows < rows.len() || shown_details < details.len() {
        let _ = writeln!(
            out,
            "> **Note:** summary truncated: the table shows {shown_rows} of {} operations and \
             {shown_details} of {} failure logs, to stay under GitHub's size limit. \
             junit.xml and the run's logs/ folder have everything.\n",
            rows.len(),
            details.len()
        );
    }
    if !rows.is_empty() {
        out.push_str(TABLE_HEAD);
        for r in &rows[..shown_rows] {
            out.push_str(r);
        }
        out.push('\n');
    }
    // Failures right below the table, where people look first; the timeline after.
    for d in &details[..shown_details] {
        out.push_str(d);
    }
    out.push_str(&chart);
    // Every text from a script, a VM or Azure was masked where it was put in; masking the
    // finished Markdown would break its structure when a secret is `|` or `<`.
    if out.len() > MAX_BYTES {
        // Only a secret shorter than the mask can grow the text; cut rather than be refused.
        let mut cut = MAX_BYTES;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        return out[..cut].to_string();
    }
    out
}

/// Per-app download and install times of install-apps operations (last attempt).
fn apps(record: &RunRecord, redactor: &Redactor) -> String {
    let mut out = String::new();
    for op in &record.ops {
        let Some(last) = op.attempts.last().filter(|a| !a.outcome.apps.is_empty()) else {
            continue;
        };
        let _ = writeln!(
            out,
            "#### Apps of {}
",
            cell(redactor, &op.meta.id, CELL_CHARS)
        );
        out.push_str("| App | Download | Install |\n|---|---|---|\n");
        let mut names: Vec<&str> = Vec::new();
        for r in &last.outcome.apps {
            if !names.contains(&r.name.as_str()) {
                names.push(&r.name);
            }
        }
        for name in names {
            let phase = |p: AppPhase| {
                last.outcome
                    .apps
                    .iter()
                    .find(|r| r.name == name && r.phase == p)
                    .map_or("-".to_string(), |r| {
                        format!("{}{}s", if r.ok { "" } else { "failed after " }, r.seconds)
                    })
            };
            let accepted = last
                .outcome
                .installs
                .iter()
                .rfind(|i| i.name == name)
                .filter(|i| i.accepted)
                .map_or(String::new(), |i| {
                    format!(" ({} accepted (ok_codes))", i.code)
                });
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                cell(redactor, name, CELL_CHARS),
                phase(AppPhase::Download),
                phase(AppPhase::Install) + &accepted
            );
        }
        out.push('\n');
    }
    out
}

/// How many of `parts`, from the front, fit in `budget` bytes.
fn fit(parts: &[String], budget: usize) -> usize {
    let mut used = 0;
    parts
        .iter()
        .take_while(|p| {
            used += p.len();
            used <= budget
        })
        .count()
}

/// The first lines of a simulated run's summary, so nobody takes it for a deployment.
const SIMULATED_BANNER: &str = "> [!WARNING]\n> **Simulated run:** goldsmith's simulated Azure answered every `az` call (`--simulate`); nothing was created in a subscription.\n\n";

fn heading(record: &RunRecord, redactor: &Redactor) -> String {
    let status = record.status.map_or("unfinished", |s| s.name());
    let mut out = String::new();
    if record.setup.simulated {
        out.push_str(SIMULATED_BANNER);
    }
    let _ = write!(
        out,
        "## goldsmith <code>{}</code>: {status}\n\n",
        html(&redactor.redact(&record.module))
    );
    let mut counts: Vec<String> = Vec::new();
    for status in [
        OpStatus::Succeeded,
        OpStatus::AlreadyDone,
        OpStatus::Failed,
        OpStatus::Skipped,
        OpStatus::Cancelled,
        OpStatus::Pending,
        OpStatus::Running,
    ] {
        let n = record.count(status);
        let flaky = record
            .ops
            .iter()
            .filter(|o| o.status == status && o.is_flaky())
            .count();
        match (n, flaky) {
            (0, _) => {}
            (n, 0) => counts.push(format!("{n} {}", status.name())),
            (n, f) => counts.push(format!("{n} {} ({f} flaky)", status.name())),
        }
    }
    let allowed = record
        .ops
        .iter()
        .filter(|o| o.status == OpStatus::Failed && o.continue_on_error)
        .count();
    if allowed > 0 {
        counts.push(format!("{allowed} allowed to fail"));
    }
    let _ = writeln!(
        out,
        "**{status}** in {} · {}: {} · run <code>{}</code>",
        format_duration(record.duration),
        crate::text::count(record.ops.len(), "operation"),
        if counts.is_empty() {
            "none".to_string()
        } else {
            counts.join(", ")
        },
        html(&redactor.redact(&record.run_id))
    );
    if let Some(from) = &record.resumed_from {
        let _ = writeln!(out, "\nResumed from run <code>{}</code>.", html(from));
    }
    for (name, value) in &record.setup.values {
        let _ = writeln!(
            out,
            "\nChosen when the run started: <code>{}</code> = <code>{}</code>.",
            html(name),
            html(&redactor.redact(value))
        );
    }
    for (op, name, value) in record.outputs() {
        let _ = writeln!(
            out,
            "\nOutput <code>{}</code> (from <code>{}</code>): <code>{}</code>",
            html(name),
            html(op),
            html(&redactor.redact(value))
        );
    }
    if let Some(reason) = &record.cancel_reason {
        let _ = writeln!(
            out,
            "\nStopped early: {}",
            cell(redactor, &reason.to_string(), CELL_CHARS)
        );
    }
    if let Some(cleanup) = &record.cleanup {
        let _ = writeln!(
            out,
            "\nCleanup: {}",
            cell(redactor, &cleanup_outcome(record, cleanup), CELL_CHARS)
        );
    }
    out.push('\n');
    out
}

/// "1 cleanup operation after the failure of `x`: delete-vm succeeded".
fn cleanup_outcome(record: &RunRecord, cleanup: &CleanupPhase) -> String {
    let n = cleanup.ops.len();
    let results: Vec<String> = cleanup
        .ops
        .iter()
        .map(|id| {
            let status = record
                .ops
                .iter()
                .find(|o| &o.meta.id == id)
                .map_or(OpStatus::Pending, |o| o.status);
            format!("{id} {status}")
        })
        .collect();
    format!(
        "{n} operation{} ran {}: {}",
        if n == 1 { "" } else { "s" },
        cleanup.after,
        results.join(", ")
    )
}

const TABLE_HEAD: &str = "| Operation | Stage | Status | Duration | Attempts | Lock wait | Note |\n\
                          |---|---|---|---|---|---|---|\n";

/// Failures first, then everything else, each in plan order.
fn table_order(record: &RunRecord) -> Vec<&OpRecord> {
    let (mut failed, rest): (Vec<&OpRecord>, Vec<&OpRecord>) = record
        .ops
        .iter()
        .partition(|o| o.status == OpStatus::Failed);
    failed.extend(rest);
    failed
}

/// The table's note on a restart an operation asked for: who restarted the VM, or that nobody did.
fn reboot_note(record: &RunRecord, op: &OpRecord) -> String {
    let started = op.attempts.last().is_some_and(|a| a.outcome.reboot_started);
    match record.restarted_for(&op.meta.id) {
        _ if started => "reboot required (the installer restarted the VM)".to_string(),
        Some(next) => format!("reboot required (goldsmith restarted the VM before {next})"),
        None => {
            "reboot required (no later step on the VM: restart it before capturing)".to_string()
        }
    }
}

fn row(record: &RunRecord, op: &OpRecord, redactor: &Redactor) -> String {
    let mut status = op.status.name().to_string();
    if op.is_flaky() {
        status.push_str(" (flaky)");
    }
    if op.status == OpStatus::Failed && op.continue_on_error {
        status.push_str(" (allowed)");
    }
    let ran = op.started_at.is_some();
    let mut note = String::new();
    if let Some(class) = op.failure_class {
        note.push_str(class.name());
        note.push_str(": ");
    }
    if let Some(reason) = &op.reason {
        // The details below hold the whole story; the cell keeps the table narrow.
        note.push_str(&cell_text(reason.lines().next().unwrap_or(""), NOTE_CHARS));
    }
    if op.is_flaky() {
        let classes: Vec<&str> = op
            .attempts
            .iter()
            .filter(|a| !a.outcome.passed())
            .filter_map(|a| a.outcome.failure_class().map(|c| c.name()))
            .collect();
        let mut distinct = classes.clone();
        distinct.dedup();
        note.push_str(&format!(
            "retried {}× on {}",
            classes.len(),
            distinct.join(", ")
        ));
    }
    if op.reboot_required() {
        if !note.is_empty() {
            note.push_str("; ");
        }
        note.push_str(&reboot_note(record, op));
    }
    format!(
        "| {} | {} | {} | {} | {} | {} | {} |\n",
        cell(redactor, &op.meta.id, CELL_CHARS),
        op.meta.stage,
        status,
        if ran {
            format_duration(op.duration)
        } else {
            String::new()
        },
        if op.attempts.is_empty() {
            String::new()
        } else {
            op.attempts.len().to_string()
        },
        if op.lock_wait.is_zero() {
            String::new()
        } else {
            format_duration(op.lock_wait)
        },
        cell(redactor, &note, CELL_CHARS),
    )
}

/// A Mermaid gantt chart: one bar per operation that started, one section
/// per stage, failures marked `crit`, so what ran side by side shows.
fn gantt(record: &RunRecord) -> String {
    let end_of_run = record.finished_at;
    let bars: Vec<(usize, usize, String)> = record
        .ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| {
            let start = op.started_at?;
            let end = op
                .finished_at
                .or(end_of_run)
                .unwrap_or(start)
                .as_millisecond()
                .max(start.as_millisecond() + 1);
            let crit = if op.status == OpStatus::Failed {
                "crit, "
            } else {
                ""
            };
            let line = format!(
                "    {}:{crit}{}, {end}\n",
                mermaid_name(&op.meta.id),
                start.as_millisecond()
            );
            Some((op.meta.stage, i, line))
        })
        .collect();
    if bars.is_empty() {
        return String::new();
    }
    // Failures get a bar first when not all fit.
    let mut chosen: Vec<&(usize, usize, String)> = Vec::new();
    let mut used = 0;
    let failed_first = bars
        .iter()
        .filter(|b| record.ops[b.1].status == OpStatus::Failed)
        .chain(
            bars.iter()
                .filter(|b| record.ops[b.1].status != OpStatus::Failed),
        );
    for bar in failed_first {
        // Room for the section line of its stage.
        let cost = bar.2.len() + 24;
        if used + cost > CHART_MAX_BYTES {
            break;
        }
        used += cost;
        chosen.push(bar);
    }
    chosen.sort_by_key(|b| (b.0, b.1));

    let mut out = String::from("```mermaid\ngantt\n    dateFormat x\n    axisFormat %H:%M:%S\n");
    let mut stage = None;
    for (s, _, line) in &chosen {
        if stage != Some(*s) {
            let _ = writeln!(out, "    section Stage {s}");
            stage = Some(*s);
        }
        out.push_str(line);
    }
    out.push_str("```\n\n");
    if chosen.len() < bars.len() {
        let _ = writeln!(
            out,
            "The chart shows {} of the {} operations that ran.\n",
            chosen.len(),
            bars.len()
        );
    }
    out
}

/// An operation id as a gantt task name: Mermaid reads `:` as the start of
/// the task data, `;` and line breaks as the end of a statement and `#` as
/// an entity, so only plain characters stay; a name that is a gantt keyword
/// gets a suffix so it is not read as one.
fn mermaid_name(id: &str) -> String {
    const KEYWORDS: [&str; 18] = [
        "accdescr",
        "acctitle",
        "axisformat",
        "call",
        "click",
        "dateformat",
        "excludes",
        "gantt",
        "href",
        "includes",
        "inclusiveenddates",
        "section",
        "tickinterval",
        "title",
        "todaymarker",
        "topaxis",
        "weekday",
        "weekend",
    ];
    let mut name: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || KEYWORDS.contains(&name.to_ascii_lowercase().as_str()) {
        name.push('_');
    }
    name
}

/// `<details>` with the end of a failed operation's log in a code block.
fn failure_details(op: &OpRecord, logs: &LogReader, redactor: &Redactor) -> String {
    let reason = op.reason.as_deref().unwrap_or("failed");
    let class = op
        .failure_class
        .map(|c| format!("{c}: "))
        .unwrap_or_default();
    let summary = cell_text(
        &redactor.redact(&format!("{}: {class}{reason}", op.meta.id)),
        CELL_CHARS,
    );
    let lines: Vec<String> = if op.log_tail.is_empty() {
        logs.last_lines(&op.meta.id, LOG_LINES, LOG_LINE_CHARS)
    } else {
        op.log_tail
            .iter()
            .map(|l| redactor.redact(l).into_owned())
            .collect()
    };
    let lines: Vec<String> = lines.iter().map(|l| printable(l)).collect();
    let mut out = format!("<details><summary>{}</summary>\n\n", html(&summary));
    if lines.is_empty() {
        out.push_str("No log output.\n");
    } else {
        let body = lines.join("\n");
        let fence = "`".repeat(longest_backtick_run(&body).max(2) + 1);
        let _ = write!(out, "{fence}text\n{body}\n{fence}\n");
    }
    out.push_str("\n</details>\n\n");
    out
}

/// A fence must be longer than any backtick run inside, or a log line could close it.
fn longest_backtick_run(s: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// Text for a table cell: redacted, on one line, cut to `max` characters,
/// HTML-escaped and with `|` escaped so it cannot open a new column.
fn cell(redactor: &Redactor, s: &str, max: usize) -> String {
    html(&cell_text(&redactor.redact(s), max)).replace('|', "\\|")
}

/// One line, at most `max` characters (before escaping, so no entity is cut).
fn cell_text(s: &str, max: usize) -> String {
    // Cut first: a reason may be megabytes long.
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(max).collect();
    let mut one_line = printable(&head.replace("\r\n", " ").replace(['\n', '\r'], " "));
    if chars.next().is_some() {
        one_line.push('…');
    }
    one_line
}

/// Without terminal colour codes and control characters, which a browser
/// shows as boxes (or, for NUL, may cut the text at).
fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            // A CSI sequence: parameters, then one final byte in @..~.
            chars.next();
            for p in chars.by_ref() {
                if ('@'..='~').contains(&p) {
                    break;
                }
            }
        } else if !c.is_control() || c == '\t' {
            out.push(c);
        }
    }
    out
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_html_pipes_and_newlines() {
        let r = Redactor::default();
        assert_eq!(
            cell(&r, "a|b <x> & y\r\nz\nw", 100),
            "a\\|b &lt;x&gt; &amp; y z w"
        );
    }

    #[test]
    fn cells_are_cut_before_escaping() {
        let r = Redactor::default();
        assert_eq!(cell(&r, "&&&&", 2), "&amp;&amp;…");
    }

    #[test]
    fn mermaid_names_are_plain() {
        assert_eq!(mermaid_name("a:b#c;d e"), "a_b_c_d_e");
        assert_eq!(mermaid_name("section"), "section_");
        assert_eq!(mermaid_name("Title"), "Title_");
        assert_eq!(mermaid_name("install-apps"), "install-apps");
    }

    #[test]
    fn printable_drops_colours_and_controls() {
        assert_eq!(
            printable("\u{1b}[31;1mred\u{1b}[0m\u{0}\tend\u{7}"),
            "red\tend"
        );
    }

    #[test]
    fn backtick_runs() {
        assert_eq!(longest_backtick_run("a ``` b ````` c"), 5);
        assert_eq!(longest_backtick_run("none"), 0);
    }
}
