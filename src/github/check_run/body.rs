//! The JSON bodies of `POST /repos/{owner}/{repo}/check-runs` and
//! `PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}`, shaped by
//! GitHub's OpenAPI description and within the API's limits.
//!
//! Pure: builds bodies, sends nothing.

use octocrab::params::checks::{
    CheckRunConclusion, CheckRunOutput, CheckRunOutputAnnotation, CheckRunOutputAnnotationLevel,
    CheckRunStatus,
};
use serde::Serialize;

use super::limits::{
    MESSAGE_MAX_BYTES, TITLE_MAX_CHARS, bmp_only, cut_bytes, cut_chars, fit_summary,
};
use super::output::{AnnotationLevel, CheckAnnotation, Conclusion};

/// "The Checks API limits the number of annotations to a maximum of 50 per
/// API request"; more go in further updates, which append.
pub const ANNOTATIONS_PER_REQUEST: usize = 50;

#[derive(Serialize)]
pub struct CreateBody {
    name: String,
    head_sha: String,
    /// Finds the run again when a create's answer was lost (see `CheckRun::start`).
    external_id: String,
    status: CheckRunStatus,
}

#[derive(Serialize)]
pub struct UpdateBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<CheckRunStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conclusion: Option<CheckRunConclusion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<CheckRunOutput>,
}

/// A new run, in progress.
pub fn create(name: &str, head_sha: &str, external_id: &str) -> CreateBody {
    CreateBody {
        name: bmp_only(name).into_owned(),
        head_sha: head_sha.to_string(),
        external_id: external_id.to_string(),
        status: CheckRunStatus::InProgress,
    }
}

/// An existing run, marked in progress.
pub fn in_progress() -> UpdateBody {
    UpdateBody {
        status: Some(CheckRunStatus::InProgress),
        conclusion: None,
        output: None,
    }
}

/// The updates that finish a run: the first carries the conclusion (when
/// there is one), each the title, the summary and up to
/// `ANNOTATIONS_PER_REQUEST` annotations. Always at least one.
pub fn finish(
    conclusion: Option<Conclusion>,
    title: &str,
    summary: &str,
    annotations: &[CheckAnnotation],
) -> Vec<UpdateBody> {
    let title = cut_chars(title, TITLE_MAX_CHARS);
    let summary = fit_summary(summary);
    let mut batches: Vec<&[CheckAnnotation]> =
        annotations.chunks(ANNOTATIONS_PER_REQUEST).collect();
    if batches.is_empty() {
        batches.push(&[]);
    }
    batches
        .into_iter()
        .enumerate()
        .map(|(i, batch)| {
            let conclusion = conclusion.filter(|_| i == 0);
            UpdateBody {
                status: conclusion.map(|_| CheckRunStatus::Completed),
                conclusion: conclusion.map(wire_conclusion),
                output: Some(CheckRunOutput {
                    title: title.clone(),
                    summary: summary.clone(),
                    text: None,
                    annotations: batch.iter().map(wire_annotation).collect(),
                    images: Vec::new(),
                }),
            }
        })
        .collect()
}

fn wire_conclusion(c: Conclusion) -> CheckRunConclusion {
    match c {
        Conclusion::Success => CheckRunConclusion::Success,
        Conclusion::Failure => CheckRunConclusion::Failure,
        Conclusion::Cancelled => CheckRunConclusion::Cancelled,
        Conclusion::TimedOut => CheckRunConclusion::TimedOut,
    }
}

fn wire_annotation(a: &CheckAnnotation) -> CheckRunOutputAnnotation {
    let start_line = a.start_line.max(1);
    let title = a
        .title
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .map(|t| cut_chars(t, TITLE_MAX_CHARS));
    // GitHub refuses an annotation without a message.
    let message = if a.message.trim().is_empty() {
        title.clone().unwrap_or_else(|| a.level.name().to_string())
    } else {
        cut_bytes(&a.message, MESSAGE_MAX_BYTES)
    };
    CheckRunOutputAnnotation {
        path: bmp_only(&a.path).into_owned(),
        start_line,
        end_line: a.end_line.max(start_line),
        start_column: None,
        end_column: None,
        annotation_level: match a.level {
            AnnotationLevel::Notice => CheckRunOutputAnnotationLevel::Notice,
            AnnotationLevel::Warning => CheckRunOutputAnnotationLevel::Warning,
            AnnotationLevel::Failure => CheckRunOutputAnnotationLevel::Failure,
        },
        message,
        title,
        raw_details: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(n: u32) -> CheckAnnotation {
        CheckAnnotation {
            path: "modules/m/module.yaml".into(),
            start_line: n,
            end_line: n,
            level: AnnotationLevel::Notice,
            title: None,
            message: format!("n{n}"),
        }
    }

    #[test]
    fn conclusion_rides_on_the_first_batch_only() {
        let list: Vec<CheckAnnotation> = (1..=51).map(note).collect();
        let bodies = finish(Some(Conclusion::TimedOut), "t", "s", &list);
        let json: Vec<serde_json::Value> = bodies
            .iter()
            .map(|b| serde_json::to_value(b).expect("serializes"))
            .collect();
        assert_eq!(json.len(), 2);
        assert_eq!(json[0]["status"], "completed");
        assert_eq!(json[0]["conclusion"], "timed_out");
        assert!(json[1].get("conclusion").is_none());
        assert_eq!(
            json[1]["output"]["annotations"].as_array().map(Vec::len),
            Some(1)
        );
    }

    #[test]
    fn no_annotations_is_one_update_without_the_field() {
        let bodies = finish(None, "t", "s", &[]);
        let json = serde_json::to_value(&bodies[0]).expect("serializes");
        assert_eq!(bodies.len(), 1);
        assert!(json.get("status").is_none());
        assert!(json["output"].get("annotations").is_none());
    }
}
