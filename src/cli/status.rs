//! `status`: a run's state as a table.

use std::io::Write;
use std::path::Path;

use super::{CliError, exit};
use crate::duration::format_duration;
use crate::record::state::StateFile;
use crate::record::status::{OpStatus, RunStatus};
use crate::run_dir;

pub fn show(root: &Path, module: Option<&str>, run: Option<&str>) -> Result<i32, CliError> {
    let mut state = match run {
        Some(id) => run_dir::read_run(root, id).map_err(|e| {
            CliError::Invalid(format!(
                "{e}: {}",
                std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            ))
        })?,
        None => match run_dir::latest_run(root, module) {
            Some((_, s)) => s,
            None => {
                let what = module
                    .map(|m| format!(" of module `{m}`"))
                    .unwrap_or_default();
                return Err(CliError::Invalid(format!(
                    "no runs{what} under {}",
                    run_dir::runs_root(root).display()
                )));
            }
        },
    };
    // A run recorded as running whose coordinator is gone says so.
    state.status = crate::run_lock::effective_status(root, &state);
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{}", table(&state));
    if state.status == RunStatus::Interrupted {
        let _ = writeln!(
            out,
            "goldsmith stopped before this run finished (killed or crashed); `goldsmith resume {}{}` continues it",
            state.module,
            if state.simulated == Some(true) {
                " --simulate"
            } else {
                ""
            }
        );
    }
    Ok(exit::OK)
}

pub fn table(state: &StateFile) -> String {
    let mut s = format!(
        "run {}  module {}  status {}  started {}\n",
        state.run_id, state.module, state.status, state.started_at
    );
    if let Some(r) = &state.resumed_from {
        s.push_str(&format!("resumed from {r}\n"));
    }
    if state.simulated == Some(true) {
        s.push_str("simulated: ran against goldsmith's simulated Azure, not a subscription\n");
    }
    for (name, value) in &state.values {
        s.push_str(&format!("{name} = {value} (chosen when the run started)\n"));
    }
    let width = state
        .ops
        .iter()
        .map(|o| o.id.len())
        .max()
        .unwrap_or(9)
        .max(9);
    s.push_str(&format!(
        "{:<width$}  {:>5}  {:<12}  {:>8}  {:>8}  NOTE\n",
        "OPERATION", "STAGE", "STATUS", "ATTEMPTS", "DURATION"
    ));
    for o in &state.ops {
        let note = match (&o.failure_class, &o.reason) {
            (Some(c), Some(r)) => format!("{c}: {r}"),
            (Some(c), None) => c.to_string(),
            (None, Some(r)) => r.clone(),
            (None, None) => String::new(),
        };
        let row = format!(
            "{:<width$}  {:>5}  {:<12}  {:>8}  {:>8}  {}",
            o.id,
            o.stage,
            // An operation cannot still be running in a run whose coordinator is gone.
            if state.status == RunStatus::Interrupted && o.status == OpStatus::Running {
                "interrupted"
            } else {
                o.status.name()
            },
            o.attempts,
            o.duration
                .map(format_duration)
                .unwrap_or_else(|| "-".into()),
            note
        );
        s.push_str(row.trim_end());
        s.push('\n');
    }
    s
}
