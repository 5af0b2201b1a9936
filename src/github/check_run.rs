//! The check run: one entry in a commit's (and pull request's) checks,
//! `goldsmith / <module>`, opened in progress when work starts and closed
//! with a conclusion, the summary and the annotations when it ends.
//!
//! This module knows the GitHub Checks API (through octocrab) and nothing
//! about processes, scheduling or Azure: the caller hands it a conclusion
//! and texts it already rendered. Publishing is best effort by design: every
//! call is bounded in time and returns a typed error the caller turns into
//! one warning, so a run's result never depends on GitHub being up.
//!
//! - `target`: where the run goes, read from the workflow's environment.
//! - `output`: the conclusion and annotations, and the conversion from
//!   workflow-command annotations.
//! - `limits`: the API's limits on text. `body`: the request bodies.
//! - `api`: requests, retries and error classification.

mod api;
mod body;
mod error;
mod limits;
mod output;
mod target;

use serde::Deserialize;
use tokio::time::Instant;

pub use self::api::RetryPolicy;
use self::api::{Api, Failure, Retry, Verb};
pub use self::body::ANNOTATIONS_PER_REQUEST;
pub use self::error::CheckRunError;
pub use self::limits::{SUMMARY_MAX_BYTES, TITLE_MAX_CHARS, TRUNCATION_NOTE};
pub use self::output::{AnnotationLevel, CheckAnnotation, Conclusion, annotation_from};
pub use self::target::{CheckRunTarget, DEFAULT_API_URL, target_from_env};

/// The check run's name for a module, or for `validate`: `goldsmith / <what>`.
pub fn check_name(what: &str) -> String {
    format!("goldsmith / {what}")
}

/// A check run goldsmith created, or the job's own one it updates.
pub struct CheckRun {
    api: Api,
    owner: String,
    repo: String,
    id: u64,
    /// goldsmith made it, so goldsmith concludes it.
    created: bool,
    html_url: Option<String>,
}

/// The part of a check run's JSON goldsmith reads.
#[derive(Deserialize)]
struct RunRef {
    id: u64,
    html_url: Option<String>,
    external_id: Option<String>,
}

#[derive(Deserialize)]
struct RunList {
    check_runs: Vec<RunRef>,
}

impl CheckRun {
    /// Creates the run `in_progress` on `target.head_sha`, or, with
    /// `target.existing_id`, marks that run in progress (which also proves
    /// early that the token may write it).
    pub async fn start(target: CheckRunTarget, name: &str) -> Result<CheckRun, CheckRunError> {
        Self::start_with(target, name, RetryPolicy::default()).await
    }

    /// `start` with other waits (tests use tiny ones).
    pub async fn start_with(
        target: CheckRunTarget,
        name: &str,
        policy: RetryPolicy,
    ) -> Result<CheckRun, CheckRunError> {
        let api = Api::new(&target.api_url, &target.token, policy)?;
        let deadline = api.deadline();
        let mut run = CheckRun {
            api,
            owner: target.owner,
            repo: target.repo,
            id: 0,
            created: false,
            html_url: None,
        };
        if let Some(id) = target.existing_id {
            run.id = id;
            run.patch(&body::in_progress(), deadline).await?;
            return Ok(run);
        }

        // A create whose answer was lost may still have made the run; it is
        // found again by this id rather than left in progress for ever
        // beside a second one.
        let external_id = format!("goldsmith-{}", uuid::Uuid::new_v4().simple());
        let create = body::create(name, &target.head_sha, &external_id);
        let path = format!("/repos/{}/{}/check-runs", run.owner, run.repo);
        let mut retry = run.api.retrier(deadline);
        let mut maybe_created = false;
        let made = loop {
            if maybe_created
                && let Some(found) = run
                    .find(&target.head_sha, name, &external_id, deadline)
                    .await
            {
                break found;
            }
            let failure = match run
                .api
                .once(Verb::Post, &path, Some(&create), deadline)
                .await
            {
                Ok(text) => match parse::<RunRef>(&text) {
                    Ok(made) => break made,
                    Err(failure) => failure,
                },
                Err(failure) => failure,
            };
            maybe_created |= failure.maybe_applied();
            retry.after(failure).await?;
        };
        run.id = made.id;
        run.html_url = made.html_url;
        run.created = true;
        Ok(run)
    }

    /// Completes the run: the conclusion (only on a run goldsmith created:
    /// the job's own run is the runner's to conclude, and concluding it early
    /// could let a required check pass before the job ends), the title, the
    /// summary (cut to the API's limit, with a note) and the annotations, 50
    /// per request, the API appending each batch to the last.
    pub async fn finish(
        &self,
        conclusion: Conclusion,
        title: &str,
        summary: &str,
        annotations: &[CheckAnnotation],
    ) -> Result<(), CheckRunError> {
        let deadline = self.api.deadline();
        let conclusion = self.created.then_some(conclusion);
        for update in body::finish(conclusion, title, summary, annotations) {
            // A retried batch that had landed shows its annotations twice:
            // better than not at all.
            self.patch(&update, deadline).await?;
        }
        Ok(())
    }

    /// One update, retried as the policy allows.
    async fn patch(
        &self,
        update: &body::UpdateBody,
        deadline: Instant,
    ) -> Result<(), CheckRunError> {
        let path = self.run_path();
        let mut retry = self.api.retrier(deadline);
        loop {
            match self
                .api
                .once(Verb::Patch, &path, Some(update), deadline)
                .await
            {
                Ok(_) => return Ok(()),
                Err(failure) => retry.after(failure).await?,
            }
        }
    }

    /// The check run's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Where people see it, when GitHub said (on create).
    pub fn html_url(&self) -> Option<&str> {
        self.html_url.as_deref()
    }

    /// Whether goldsmith created it (rather than updating the job's own).
    pub fn is_created(&self) -> bool {
        self.created
    }

    fn run_path(&self) -> String {
        format!("/repos/{}/{}/check-runs/{}", self.owner, self.repo, self.id)
    }

    /// The run with `external_id` among the commit's runs named `name`; any
    /// failure counts as not found, and the create is simply tried again.
    async fn find(
        &self,
        head_sha: &str,
        name: &str,
        external_id: &str,
        deadline: Instant,
    ) -> Option<RunRef> {
        let path = format!(
            "/repos/{}/{}/commits/{head_sha}/check-runs?check_name={}&filter=all&per_page=100",
            self.owner,
            self.repo,
            percent_encode(&limits::bmp_only(name))
        );
        let text = self
            .api
            .once(Verb::Get, &path, None::<&()>, deadline)
            .await
            .ok()?;
        let list: RunList = serde_json::from_str(&text).ok()?;
        list.check_runs
            .into_iter()
            .find(|r| r.external_id.as_deref() == Some(external_id))
    }
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Failure> {
    serde_json::from_str(text).map_err(|e| Failure {
        error: CheckRunError::Response(e.to_string()),
        retry: Retry::No,
    })
}

/// A query value: everything but RFC 3986's unreserved characters escaped.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_query_values() {
        assert_eq!(check_name("05-golden-image"), "goldsmith / 05-golden-image");
        assert_eq!(percent_encode("goldsmith / é"), "goldsmith%20%2F%20%C3%A9");
    }
}
