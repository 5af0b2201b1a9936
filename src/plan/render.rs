//! The plan as people read it (`goldsmith plan`) and as programs read it (`--json`).

use crate::text::count;
use std::fmt::Write;

use super::Plan;
use crate::duration::format_duration;

pub fn text(plan: &Plan, max_parallel: usize) -> String {
    let mut out = header(plan, max_parallel);
    let width = plan.ops.iter().map(|o| o.id.len()).max().unwrap_or(0);
    for stage in &plan.stages {
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", stage_heading(plan, stage));
        for &i in &stage.ops {
            let _ = writeln!(out, "{}", op_line(plan, i, width).trim_end());
        }
    }
    out
}

/// The module, the estimate, the dependencies planned first and the run values.
fn header(plan: &Plan, max_parallel: usize) -> String {
    let mut out = String::new();
    let off = plan.ops.iter().filter(|o| o.off.is_some()).count();
    let _ = writeln!(
        out,
        "module {} ({}): {}{} in {}, max-parallel {}",
        plan.module.id,
        plan.module.file.display(),
        count(plan.ops.len(), "operation"),
        if off > 0 {
            format!(" ({off} switched off by `when`)")
        } else {
            String::new()
        },
        count(plan.stages.len(), "stage"),
        max_parallel
    );
    let mut estimate = format!(
        "estimated duration: {}",
        format_duration(plan.estimated_duration)
    );
    if !plan.critical_path.is_empty() && !plan.estimated_duration.is_zero() {
        let _ = write!(
            estimate,
            " (longest chain: {})",
            plan.critical_path.join(" -> ")
        );
    }
    if plan.ops_without_estimate > 0 {
        let _ = write!(
            estimate,
            "; {} no expected duration",
            match plan.ops_without_estimate {
                1 => "1 operation has".to_string(),
                n => format!("{n} operations have"),
            }
        );
    }
    let _ = writeln!(out, "{estimate}");
    if !plan.dependencies.is_empty() {
        let _ = writeln!(
            out,
            "with its dependencies first: {} (an operation several modules list runs once, for the first)",
            plan.dependencies.join(", ")
        );
    }
    for v in &plan.run_values {
        let _ = match &v.value {
            Some(value) => writeln!(
                out,
                "{} = {value} (`{}`, chosen by {} when the run started)",
                v.name, v.asked, v.from
            ),
            None => writeln!(
                out,
                "{} = `{}`: chosen by {} when the run starts, and kept by `resume`",
                v.name, v.asked, v.from
            ),
        };
    }
    out
}

/// `stage 3 (parallel group 1, 3 operations)`; a dependency's stages name
/// their module (`--with-dependencies`).
fn stage_heading(plan: &Plan, stage: &super::Stage) -> String {
    let from = stage
        .ops
        .first()
        .map(|&i| plan.ops[i].module.as_str())
        .filter(|m| *m != plan.module.id);
    match (stage.parallel_group, from) {
        (Some(g), from) => format!(
            "stage {} (parallel group {g}, {}{})",
            stage.number,
            count(stage.ops.len(), "operation"),
            from.map(|m| format!(", module {m}")).unwrap_or_default()
        ),
        (None, None) => format!("stage {}", stage.number),
        (None, Some(m)) => format!("stage {} (module {m})", stage.number),
    }
}

/// One operation: kind, timeout, expected duration, retries, locks, what it
/// waits for and its flags.
fn op_line(plan: &Plan, i: usize, width: usize) -> String {
    let op = &plan.ops[i];
    let mut line = format!(
        "  {:<width$}  {:<12}  timeout {:<6}",
        op.id,
        op.kind.name(),
        format_duration(op.timeout)
    );
    if let super::Script::RunCommand(rc) = &op.script
        && rc.mode == crate::catalog::run_mode::RunMode::Managed
    {
        line.push_str("  mode managed");
    }
    if let Some(e) = op.expected {
        let _ = write!(line, "  expected {}", format_duration(e));
    }
    if op.retry.attempts > 1 {
        let on: Vec<&str> = op.retry.on.iter().map(|c| c.name()).collect();
        let _ = write!(line, "  retry {}x on {}", op.retry.attempts, on.join(","));
    }
    if !op.locks.is_empty() {
        let locks: Vec<String> = op.locks.iter().map(ToString::to_string).collect();
        let _ = write!(line, "  locks {}", locks.join(","));
    }
    // An op that waits for the earlier stages waits for its `requires` there anyway.
    let deps: Vec<&str> = op
        .depends_on
        .iter()
        .filter(|&&d| !op.waits_for_stage || plan.ops[d].stage == op.stage)
        .map(|d| plan.ops[*d].id.as_str())
        .collect();
    if !op.waits_for_stage || !deps.is_empty() {
        let after = if deps.is_empty() {
            "-".to_string()
        } else {
            deps.join(",")
        };
        let _ = write!(line, "  after {after}");
    }
    if !op.requires_outside.is_empty() {
        let reqs: Vec<&str> = op.requires_outside.iter().map(|r| r.id.as_str()).collect();
        let _ = write!(line, "  requires {}", reqs.join(","));
    }
    if let Some(off) = &op.off {
        let _ = write!(line, "  ({off})");
    }
    for (set, note) in [
        (op.has_idempotency_check, "  (idempotency check)"),
        (op.continue_on_error, "  (continue on error)"),
        (
            op.always,
            "  (always: also after a failure or cancellation)",
        ),
    ] {
        if set {
            line.push_str(note);
        }
    }
    line
}

pub fn json(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).expect("a plan is always serializable")
}
