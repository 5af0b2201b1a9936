//! Publishing a check run for `run` and `validate` when goldsmith runs in
//! GitHub Actions with a token. The run's result never depends on it: any
//! API failure becomes one warning, and the summary and annotations stay.

use crate::github::check_run::{self, CheckAnnotation, CheckRun, Conclusion};
use crate::github::commands::{Annotation, Level, annotation_line};
use crate::record::failure::FailureClass;
use crate::record::run_record::RunRecord;
use crate::record::status::RunStatus;
use crate::redact::Redactor;

use crate::github::actions::{Actions, Inputs};

/// A check run in progress, with what is needed to finish it.
pub struct Check {
    run: CheckRun,
    redactor: Redactor,
    /// `working-directory`, so annotation paths are relative to the repository.
    dir: String,
}

/// Starts `goldsmith / <what>` as `in_progress`; `None` (with a warning when
/// something went wrong) when no check run can be published.
pub fn start(
    gha: &Actions,
    runtime: &tokio::runtime::Runtime,
    what: &str,
    redactor: &Redactor,
) -> Option<Check> {
    let target = match check_run::target_from_env(&gha.env) {
        Ok(t) => t,
        Err(why) => {
            tracing::debug!("no check run: {why}");
            return None;
        }
    };
    match runtime.block_on(CheckRun::start(target, &check_run::check_name(what))) {
        Ok(run) => Some(Check {
            run,
            redactor: redactor.clone(),
            dir: Inputs::new(&gha.env)
                .get("working-directory")
                .unwrap_or("")
                .to_string(),
        }),
        Err(e) => {
            warn(&e.warning());
            None
        }
    }
}

impl Check {
    /// Finishes the check run of a module run: the conclusion, title and
    /// annotations come from the record, the summary is the step summary.
    pub fn finish_run(self, runtime: &tokio::runtime::Runtime, run: &RunRecord, summary: &str) {
        let annotations = crate::report::annotations::for_run(run);
        self.finish(runtime, conclusion(run), &title(run), summary, &annotations);
    }

    pub fn finish(
        self,
        runtime: &tokio::runtime::Runtime,
        conclusion: Conclusion,
        title: &str,
        summary: &str,
        annotations: &[Annotation],
    ) {
        let r = &self.redactor;
        let list: Vec<CheckAnnotation> = annotations
            .iter()
            .filter_map(check_run::annotation_from)
            .map(|mut a| {
                a.message = r.redact(&a.message).into_owned();
                a.title = a.title.map(|t| r.redact(&t).into_owned());
                a.in_dir(&self.dir)
            })
            .collect();
        let done = runtime.block_on(self.run.finish(
            conclusion,
            &r.redact(title),
            &r.redact(summary),
            &list,
        ));
        if let Err(e) = done {
            warn(&e.warning());
        }
    }
}

fn warn(message: &str) {
    println!(
        "{}",
        annotation_line(&Annotation::new(
            Level::Warning,
            format!("goldsmith check run: {message}")
        ))
    );
}

/// The conclusion of a run: a failed run whose failures are all timeouts timed out.
pub fn conclusion(record: &RunRecord) -> Conclusion {
    match record.status {
        Some(RunStatus::Succeeded) => Conclusion::Success,
        Some(RunStatus::Cancelled) => Conclusion::Cancelled,
        _ => {
            let failures: Vec<_> = record
                .ops
                .iter()
                .filter(|o| o.counts_as_failure())
                .collect();
            if !failures.is_empty()
                && failures
                    .iter()
                    .all(|o| o.failure_class == Some(FailureClass::Timeout))
            {
                Conclusion::TimedOut
            } else {
                Conclusion::Failure
            }
        }
    }
}

/// `golden-image: 2 failed, 18 succeeded`; `[simulated] golden-image: …` for a simulated run.
pub fn title(record: &RunRecord) -> String {
    use crate::record::status::OpStatus;
    let mut parts = Vec::new();
    for (status, word) in [
        (OpStatus::Failed, "failed"),
        (OpStatus::Cancelled, "cancelled"),
        (OpStatus::Succeeded, "succeeded"),
        (OpStatus::AlreadyDone, "already done"),
        (OpStatus::Skipped, "skipped"),
    ] {
        let n = record.count(status);
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    let simulated = if record.setup.simulated {
        "[simulated] "
    } else {
        ""
    };
    format!("{simulated}{}: {}", record.module, parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::title;
    use crate::record::event::{Event, EventLine, RunSetup};
    use crate::record::run_record::RunRecord;
    use crate::record::status::FailFast;

    fn started(simulated: bool) -> RunRecord {
        let mut record = RunRecord::default();
        record.apply(&EventLine::now(Event::RunStarted {
            run_id: "r1".into(),
            module: "golden-image".into(),
            module_file: "modules/05-golden-image/module.yaml".into(),
            resumed_from: None,
            max_parallel: 8,
            fail_fast: FailFast::FinishStage,
            ops: Vec::new(),
            stages: 0,
            setup: RunSetup {
                simulated,
                ..RunSetup::default()
            },
        }));
        record
    }

    #[test]
    fn a_simulated_run_says_so_in_the_title() {
        assert!(title(&started(true)).starts_with("[simulated] golden-image:"));
        assert!(title(&started(false)).starts_with("golden-image:"));
    }
}
