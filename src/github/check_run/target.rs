//! Where a check run goes: the API, the token, the repository, the commit
//! and, optionally, the job's own check run, read from a workflow step's
//! environment.
//!
//! It knows GitHub's environment variables and event payloads; it knows
//! nothing of HTTP, runs or processes.

use std::collections::HashMap;
use std::fmt;

/// What `api.github.com` is called when `GITHUB_API_URL` is unset.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// Everything needed to publish one check run.
#[derive(Clone, PartialEq, Eq)]
pub struct CheckRunTarget {
    /// The REST API root, without a trailing slash: `https://api.github.com`,
    /// or `https://<host>/api/v3` on GitHub Enterprise Server.
    pub api_url: String,
    pub token: String,
    pub owner: String,
    pub repo: String,
    /// The commit the check run is attached to.
    pub head_sha: String,
    /// Update this check run (the job's own) instead of creating one.
    pub existing_id: Option<u64>,
}

// By hand, so the token never reaches a log through `{:?}`.
impl fmt::Debug for CheckRunTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckRunTarget")
            .field("api_url", &self.api_url)
            .field("token", &"***")
            .field("owner", &self.owner)
            .field("repo", &self.repo)
            .field("head_sha", &self.head_sha)
            .field("existing_id", &self.existing_id)
            .finish()
    }
}

/// The target described by a workflow step's environment: `GITHUB_API_URL`
/// (default `https://api.github.com`), `GITHUB_REPOSITORY`, `GITHUB_SHA`,
/// `GITHUB_EVENT_NAME`, `GITHUB_EVENT_PATH`, and the inputs `github-token`
/// and `check-run-id`.
///
/// `Err` says, in a sentence, why no check run can be published.
pub fn target_from_env(env: &HashMap<String, String>) -> Result<CheckRunTarget, String> {
    let get = |name: &str| env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());

    let token = get("INPUT_GITHUB-TOKEN")
        .ok_or("the `github-token` input is empty, so no check run is published")?
        .to_string();

    let api_url = get("GITHUB_API_URL")
        .unwrap_or(DEFAULT_API_URL)
        .trim_end_matches('/')
        .to_string();
    if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
        return Err(format!(
            "GITHUB_API_URL `{api_url}` is not an http(s) URL, so no check run is published"
        ));
    }

    let repository = get("GITHUB_REPOSITORY").ok_or(
        "GITHUB_REPOSITORY is not set, so there is no repository to publish a check run to",
    )?;
    let (owner, repo) = split_repository(repository).ok_or_else(|| {
        format!(
            "GITHUB_REPOSITORY `{repository}` is not `owner/repo`, so no check run is published"
        )
    })?;

    let head_sha = head_sha(&get)?;

    let existing_id = match get("INPUT_CHECK-RUN-ID") {
        None => None,
        Some(text) => match check_run_id(text) {
            Some(id) => Some(id),
            None => {
                return Err(format!(
                    "the `check-run-id` input must be a check run's number (`${{{{ job.check_run_id }}}}`), found `{text}`"
                ));
            }
        },
    };

    Ok(CheckRunTarget {
        api_url,
        token,
        owner: owner.to_string(),
        repo: repo.to_string(),
        head_sha,
        existing_id,
    })
}

/// The commit a person sees the check on.
///
/// On `pull_request*` events `GITHUB_SHA` is a merge commit nobody looks at
/// (or, for `pull_request_target`, the base branch), so the pull request's
/// head from the event payload is the one that shows on the pull request.
fn head_sha<'e>(get: &impl Fn(&str) -> Option<&'e str>) -> Result<String, String> {
    let event = get("GITHUB_EVENT_NAME").unwrap_or("");
    if event.starts_with("pull_request") {
        let path = get("GITHUB_EVENT_PATH").ok_or_else(|| {
            format!("GITHUB_EVENT_PATH is not set on a `{event}` event, so the pull request's head commit is unknown")
        })?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the event payload {path}: {e}"))?;
        let payload: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("the event payload {path} is not JSON: {e}"))?;
        let sha = payload
            .pointer("/pull_request/head/sha")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| format!("the event payload {path} has no `pull_request.head.sha`"))?;
        return checked_sha(sha, "pull_request.head.sha");
    }
    let sha = get("GITHUB_SHA")
        .ok_or("GITHUB_SHA is not set, so there is no commit to attach a check run to")?;
    checked_sha(sha, "GITHUB_SHA")
}

/// A check run's id as the runner renders `job.check_run_id`, a number the
/// expression engine holds as a double: `51725241954`, or in exponent form
/// once it grows large enough.
fn check_run_id(text: &str) -> Option<u64> {
    if let Ok(id) = text.parse::<u64>() {
        return Some(id).filter(|id| *id > 0);
    }
    let value = text.parse::<f64>().ok()?;
    // Beyond 2^53 a double no longer holds every integer: the id is lost.
    let exact = value > 0.0 && value.fract() == 0.0 && value <= 9_007_199_254_740_992.0;
    exact.then_some(value as u64)
}

/// A SHA-1 or SHA-256 object name: it goes into a request body as is.
fn checked_sha(sha: &str, source: &str) -> Result<String, String> {
    let sha = sha.trim();
    if matches!(sha.len(), 40 | 64) && sha.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(sha.to_ascii_lowercase())
    } else {
        Err(format!("{source} `{sha}` is not a commit SHA"))
    }
}

/// `owner/repo`, each made only of the characters GitHub allows in names,
/// so both can go into a URL path unescaped.
fn split_repository(repository: &str) -> Option<(&str, &str)> {
    let (owner, repo) = repository.split_once('/')?;
    let name_ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    (name_ok(owner) && name_ok(repo)).then_some((owner, repo))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn push_event_uses_github_sha_and_the_default_api() {
        let t = target_from_env(&env(&[
            ("INPUT_GITHUB-TOKEN", "t0k"),
            ("GITHUB_REPOSITORY", "octo/golden"),
            ("GITHUB_SHA", SHA),
            ("GITHUB_EVENT_NAME", "push"),
        ]))
        .expect("target");
        assert_eq!(t.api_url, DEFAULT_API_URL);
        assert_eq!((t.owner.as_str(), t.repo.as_str()), ("octo", "golden"));
        assert_eq!(t.head_sha, SHA);
        assert_eq!(t.existing_id, None);
        assert!(!format!("{t:?}").contains("t0k"));
    }

    #[test]
    fn reasons_name_what_is_missing() {
        let no_token = target_from_env(&env(&[("GITHUB_REPOSITORY", "o/r"), ("GITHUB_SHA", SHA)]));
        assert!(no_token.is_err_and(|e| e.contains("github-token")));
        let bad_repo = target_from_env(&env(&[
            ("INPUT_GITHUB-TOKEN", "t"),
            ("GITHUB_REPOSITORY", "o/r/../x"),
            ("GITHUB_SHA", SHA),
        ]));
        assert!(bad_repo.is_err_and(|e| e.contains("owner/repo")));
        let bad_id = target_from_env(&env(&[
            ("INPUT_GITHUB-TOKEN", "t"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_SHA", SHA),
            ("INPUT_CHECK-RUN-ID", "abc"),
        ]));
        assert!(bad_id.is_err_and(|e| e.contains("check-run-id")));
    }

    #[test]
    fn check_run_ids_as_the_runner_writes_them() {
        assert_eq!(check_run_id("51725241954"), Some(51_725_241_954));
        assert_eq!(check_run_id("1E+16"), None, "past 2^53");
        assert_eq!(check_run_id("1E+15"), Some(1_000_000_000_000_000));
        assert_eq!(check_run_id("5.1725241954E+10"), Some(51_725_241_954));
        assert_eq!(check_run_id("0"), None);
        assert_eq!(check_run_id("1.5"), None);
        assert_eq!(check_run_id("${{ job.check_run_id }}"), None);
    }

    #[test]
    fn empty_check_run_id_creates_a_run() {
        let t = target_from_env(&env(&[
            ("INPUT_GITHUB-TOKEN", "t"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_SHA", SHA),
            ("INPUT_CHECK-RUN-ID", " "),
            ("GITHUB_API_URL", "https://ghe.example.com/api/v3/"),
        ]))
        .expect("target");
        assert_eq!(t.existing_id, None);
        assert_eq!(t.api_url, "https://ghe.example.com/api/v3");
    }
}
