//! The reports written when a run finishes: `junit.xml` and `summary.md` in
//! the run directory always; in GitHub Actions also the job summary, the
//! annotations and the step outputs. A failure to write any of them is an
//! error of the run (it cancels cleanly), never a silent loss.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::github::actions::ActionsTargets;
use crate::github::commands::annotation_line;
use crate::github::outputs::{append_outputs, workspace_relative};
use crate::record::event::{Event, EventLine};
use crate::record::run_record::RunRecord;
use crate::record::sink::{Reporter, SinkError};
use crate::record::status::{OpStatus, RunStatus};
use crate::redact::Redactor;
use crate::report::{annotations, junit, summary};
use crate::run_dir::{LogReader, RunDir};

/// A step output: its name in action.yml and its value.
type Output = (&'static str, String);
/// A path output no later step can open: its name and the path.
type Unreachable = (&'static str, PathBuf);

pub struct FinalReports {
    run_dir: RunDir,
    logs: LogReader,
    /// The step summary, once written: the check run shows the same.
    summary: Option<String>,
    /// The run directory as users name it (relative to the workspace), for outputs.
    shown_run_dir: PathBuf,
    junit_path: PathBuf,
    redactor: Redactor,
    actions: Option<ActionsTargets>,
    out: Box<dyn Write + Send>,
}

impl FinalReports {
    pub fn new(
        run_dir: &RunDir,
        shown_run_dir: &Path,
        junit_path: PathBuf,
        redactor: Redactor,
        actions: Option<ActionsTargets>,
        out: Box<dyn Write + Send>,
    ) -> Self {
        FinalReports {
            run_dir: run_dir.clone(),
            logs: LogReader::new(&run_dir.logs(), redactor.clone()),
            summary: None,
            shown_run_dir: shown_run_dir.to_path_buf(),
            junit_path,
            redactor,
            actions,
            out,
        }
    }

    /// The step summary the run ended with (empty when it never got that far).
    pub fn summary(&self) -> &str {
        self.summary.as_deref().unwrap_or_default()
    }

    fn write_all(&mut self, run: &RunRecord) -> Result<(), SinkError> {
        let err = |what: String| move |source: std::io::Error| SinkError { what, source };
        if let Some(parent) = self.junit_path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(err(format!("cannot create {}", parent.display())))?;
        }
        junit::write(run, &self.logs, &self.junit_path, &self.redactor)
            .map_err(err(format!("cannot write {}", self.junit_path.display())))?;
        let markdown = self
            .summary
            .insert(summary::render(run, &self.logs, &self.redactor))
            .clone();
        let summary_path = self.run_dir.summary();
        crate::run_dir::write_atomic(&summary_path, markdown.as_bytes())
            .map_err(err(format!("cannot write {}", summary_path.display())))?;
        let Some(actions) = self.actions.clone() else {
            return Ok(());
        };
        if let Some(path) = &actions.step_summary {
            append(path, &markdown).map_err(err(format!(
                "cannot append to the job summary {}",
                path.display()
            )))?;
        }
        if actions.annotations {
            let list = annotations::limit(
                annotations::for_run(run),
                "see the job summary for the rest",
            );
            for a in &list {
                // Mask the values, not the command: a short secret must not break its syntax.
                let mut a = a.clone();
                a.message = self.redactor.redact(&a.message).into_owned();
                a.title = a.title.map(|t| self.redactor.redact(&t).into_owned());
                writeln!(self.out, "{}", annotation_line(&a))
                    .map_err(err("cannot write annotations".into()))?;
            }
        }
        if let Some(path) = &actions.outputs {
            let (outputs, unreachable) = self.outputs(run, actions.workspace.as_deref());
            for (name, path) in unreachable {
                writeln!(
                    self.out,
                    "::warning title=goldsmith output {name}::{} is outside the workspace (GITHUB_WORKSPACE), so later steps cannot open it; give a path inside the workspace",
                    path.display()
                )
                .map_err(err("cannot write annotations".into()))?;
            }
            append_outputs(path, &outputs).map_err(err(format!(
                "cannot write the step outputs to {}",
                path.display()
            )))?;
        }
        Ok(())
    }

    /// goldsmith's own outputs (`engine_outputs`), then the values operations
    /// reported (`image-version-id`), which never replace one of goldsmith's
    /// own; with the paths no later step can open.
    fn outputs(
        &self,
        run: &RunRecord,
        workspace: Option<&Path>,
    ) -> (Vec<(String, String)>, Vec<Unreachable>) {
        let (engine, unreachable) = self.engine_outputs(run, workspace);
        let mut outputs: Vec<(String, String)> = engine
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        for (_, name, value) in run.outputs() {
            if !outputs.iter().any(|(k, _)| k == name) {
                outputs.push((name.to_string(), value.to_string()));
            }
        }
        (outputs, unreachable)
    }

    /// `status`, `failed-operations`, the operation counts, `duration-seconds`,
    /// `reboot-required`, and the paths `junit-path` and `run-dir` relative to
    /// the workspace; with the paths no later step can open.
    fn engine_outputs(
        &self,
        run: &RunRecord,
        workspace: Option<&Path>,
    ) -> (Vec<Output>, Vec<Unreachable>) {
        let failed: Vec<&str> = run
            .ops
            .iter()
            .filter(|o| o.counts_as_failure())
            .map(|o| o.meta.id.as_str())
            .collect();
        let status = run.status.unwrap_or(RunStatus::Failed);
        let count = |s: OpStatus| run.count(s).to_string();
        let mut outputs = vec![
            ("status", status.name().to_string()),
            (
                "failed-operations",
                serde_json::to_string(&failed).unwrap_or_else(|_| "[]".into()),
            ),
            ("total", run.ops.len().to_string()),
            ("succeeded", count(OpStatus::Succeeded)),
            ("already-done", count(OpStatus::AlreadyDone)),
            ("failed", count(OpStatus::Failed)),
            ("skipped", count(OpStatus::Skipped)),
            ("cancelled", count(OpStatus::Cancelled)),
            ("duration-seconds", run.duration.as_secs().to_string()),
            (
                "reboot-required",
                run.ops.iter().any(|o| o.reboot_required()).to_string(),
            ),
        ];
        let mut unreachable = Vec::new();
        for (name, path) in [
            ("junit-path", self.junit_path.clone()),
            ("run-dir", self.run_dir.path.clone()),
        ] {
            let shown = match workspace.map(|ws| workspace_relative(&path, ws)) {
                Some(Ok(relative)) => relative,
                Some(Err(absolute)) => {
                    unreachable.push((name, absolute.clone()));
                    absolute
                }
                None if name == "run-dir" => self.shown_run_dir.clone(),
                None => path,
            };
            outputs.push((name, shown.display().to_string()));
        }
        (outputs, unreachable)
    }
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        f.write_all(b"\n")?;
    }
    Ok(())
}

impl Reporter for FinalReports {
    fn event(&mut self, line: &EventLine, run: &RunRecord) -> Result<(), SinkError> {
        if matches!(line.event, Event::RunFinished { .. }) {
            self.write_all(run)?;
        }
        Ok(())
    }

    fn flush(&mut self, _: &RunRecord) -> Result<(), SinkError> {
        self.out.flush().map_err(|source| SinkError {
            what: "cannot write annotations".into(),
            source,
        })
    }
}
