//! Requests to the GitHub REST API through octocrab: the headers GitHub
//! asks for, a bound on every wait, and retries of what GitHub says will
//! pass (5xx, secondary rate limits with `Retry-After`).
//!
//! It knows HTTP and GitHub's rate-limit rules; it knows nothing of what a
//! check run is, nor of runs or processes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;
use http::header::{ACCEPT, HeaderMap};
use octocrab::Octocrab;
use serde::Serialize;
use tokio::time::Instant;

use super::error::CheckRunError;

/// GitHub's recommended media type for the REST API.
const MEDIA_TYPE: &str = "application/vnd.github+json";
/// Enough of an error body to say what went wrong.
const MESSAGE_MAX_CHARS: usize = 1_000;

/// How long goldsmith waits for the API. The defaults keep one call (a
/// start, or a finish with all its batches) under a minute, so a GitHub
/// outage delays a run by at most that much.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries of one request, the first included.
    pub attempts: u32,
    /// The wait before the first retry; it doubles after each.
    pub first_delay: Duration,
    /// No wait is longer: a `Retry-After` beyond it ends the retries.
    pub max_delay: Duration,
    /// One request, from connecting to the last byte of the answer.
    pub request_timeout: Duration,
    /// Every try of one call together, waits included.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(20),
            request_timeout: Duration::from_secs(15),
            deadline: Duration::from_secs(50),
        }
    }
}

/// The methods the Checks API needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Patch,
}

/// What to do after a failed try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    No,
    /// The policy's growing delay.
    Backoff,
    /// What the server asked for.
    After(Duration),
}

/// A failed try.
#[derive(Debug)]
pub struct Failure {
    pub error: CheckRunError,
    pub retry: Retry,
}

impl Failure {
    /// The request may have reached GitHub and taken effect although its
    /// answer says otherwise (or never came).
    pub fn maybe_applied(&self) -> bool {
        match &self.error {
            CheckRunError::Transport(_) => true,
            CheckRunError::Api { status, .. } => *status >= 500,
            _ => false,
        }
    }

    fn fatal(error: CheckRunError) -> Failure {
        Failure {
            error,
            retry: Retry::No,
        }
    }
}

/// An authenticated client for one API root.
pub struct Api {
    octo: Octocrab,
    policy: RetryPolicy,
}

impl Api {
    /// `api_url` may carry a path (`https://ghe.example.com/api/v3`); every
    /// request path is joined to it.
    pub fn new(api_url: &str, token: &str, policy: RetryPolicy) -> Result<Api, CheckRunError> {
        let client_error = |e: octocrab::Error| CheckRunError::Client(chain(&e));
        // octocrab adds `Authorization: Bearer`, `User-Agent` and
        // `X-GitHub-Api-Version: 2022-11-28` itself.
        let octo = Octocrab::builder()
            .base_uri(api_url)
            .map_err(client_error)?
            .personal_token(token.to_string())
            .add_header(ACCEPT, MEDIA_TYPE.to_string())
            .build()
            .map_err(client_error)?;
        Ok(Api { octo, policy })
    }

    /// When a call that starts now must be done.
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.policy.deadline
    }

    /// One request; the answer's body on a 2xx.
    pub async fn once<B: Serialize + ?Sized>(
        &self,
        verb: Verb,
        path: &str,
        body: Option<&B>,
        deadline: Instant,
    ) -> Result<String, Failure> {
        let left = deadline.saturating_duration_since(Instant::now());
        let limit = self.policy.request_timeout.min(left);
        match tokio::time::timeout(limit, self.exchange(verb, path, body)).await {
            Ok(result) => result,
            Err(_) => Err(Failure {
                error: CheckRunError::Transport(format!(
                    "no answer within {:.1}s",
                    limit.as_secs_f64()
                )),
                retry: Retry::Backoff,
            }),
        }
    }

    async fn exchange<B: Serialize + ?Sized>(
        &self,
        verb: Verb,
        path: &str,
        body: Option<&B>,
    ) -> Result<String, Failure> {
        let sent = match verb {
            Verb::Post => self.octo._post(path, body).await,
            Verb::Patch => self.octo._patch(path, body).await,
            Verb::Get => self.octo._get(path).await,
        };
        let transport = |e: octocrab::Error| Failure {
            error: CheckRunError::Transport(chain(&e)),
            retry: Retry::Backoff,
        };
        let response = sent.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = self
            .octo
            .body_to_string(response)
            .await
            .map_err(transport)?;
        if status.is_success() {
            Ok(text)
        } else {
            Err(classify(status, &headers, &text, SystemTime::now()))
        }
    }

    /// The retry bookkeeping of one request that must be done by `deadline`.
    pub fn retrier(&self, deadline: Instant) -> Retrier {
        Retrier {
            policy: self.policy,
            deadline,
            tries: 1,
            backoff: self.policy.first_delay,
        }
    }
}

/// Counts the tries of one request and waits between them.
///
/// A loop in the caller rather than a retry function taking a closure: a
/// future built from an async closure is not `Send` (rustc cannot prove it
/// for every lifetime), and the CLI may spawn these calls.
pub struct Retrier {
    policy: RetryPolicy,
    deadline: Instant,
    tries: u32,
    backoff: Duration,
}

impl Retrier {
    /// After a failed try: waits and returns `Ok` to try again, or returns
    /// the error when the failure is final or the policy or deadline says stop.
    pub async fn after(&mut self, failure: Failure) -> Result<(), CheckRunError> {
        let wait = match failure.retry {
            Retry::No => return Err(failure.error),
            Retry::After(wait) => wait,
            Retry::Backoff => {
                let wait = self.backoff;
                self.backoff = (self.backoff * 2).min(self.policy.max_delay);
                wait
            }
        };
        if self.tries >= self.policy.attempts
            || wait > self.policy.max_delay
            || Instant::now() + wait >= self.deadline
        {
            return Err(failure.error);
        }
        tokio::time::sleep(wait).await;
        self.tries += 1;
        Ok(())
    }
}

/// A non-2xx answer, following GitHub's rules for rate limits: wait for
/// `Retry-After` when it is there, else until `x-ratelimit-reset` when
/// `x-ratelimit-remaining` is 0; a secondary limit without either asks for a
/// minute or more, past any budget here.
fn classify(status: StatusCode, headers: &HeaderMap, body: &str, now: SystemTime) -> Failure {
    let code = status.as_u16();
    let message = error_message(status, body);
    let retry_after = header_u64(headers, "retry-after").map(Duration::from_secs);
    let exhausted = header_u64(headers, "x-ratelimit-remaining") == Some(0);
    let rate_limited = |wait: Option<Duration>| {
        let message = match wait {
            Some(w) => format!("{message} (asked to wait {}s)", w.as_secs()),
            None => message.clone(),
        };
        Failure {
            error: CheckRunError::RateLimited {
                status: code,
                message,
            },
            retry: wait.map_or(Retry::No, Retry::After),
        }
    };
    match code {
        403 | 429 => {
            if let Some(wait) = retry_after {
                rate_limited(Some(wait))
            } else if exhausted {
                let reset = header_u64(headers, "x-ratelimit-reset").unwrap_or(0);
                let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
                // A second more, since the reset time is rounded down.
                rate_limited(Some(Duration::from_secs(reset.saturating_sub(now) + 1)))
            } else if code == 429 || message.to_lowercase().contains("rate limit") {
                rate_limited(None)
            } else {
                Failure::fatal(CheckRunError::Forbidden { message })
            }
        }
        500..=599 => Failure {
            error: CheckRunError::Api {
                status: code,
                message,
            },
            retry: retry_after.map_or(Retry::Backoff, Retry::After),
        },
        _ => Failure::fatal(CheckRunError::Api {
            status: code,
            message,
        }),
    }
}

/// GitHub's `message` and `errors`, else the start of the body, else the
/// status's reason.
fn error_message(status: StatusCode, body: &str) -> String {
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(json) => {
            let mut text = json
                .get("message")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string();
            if let Some(errors) = json.get("errors").and_then(serde_json::Value::as_array) {
                let details: Vec<String> = errors
                    .iter()
                    .map(|e| match e {
                        serde_json::Value::String(s) => s.clone(),
                        other => other
                            .get("message")
                            .and_then(serde_json::Value::as_str)
                            .map_or_else(|| other.to_string(), str::to_string),
                    })
                    .collect();
                if !details.is_empty() {
                    text = format!("{text} ({})", details.join("; "));
                }
            }
            text
        }
        Err(_) => body.trim().to_string(),
    };
    let text = if text.trim().is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string()
    } else {
        text
    };
    super::limits::cut_chars(&text, MESSAGE_MAX_CHARS)
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// An error and its causes, since octocrab's own text is often just
/// "Service Error".
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    const NOW: u64 = 1_700_000_000;

    fn at(status: u16, h: &[(&'static str, &'static str)], body: &str) -> Failure {
        let status = StatusCode::from_u16(status).expect("status");
        classify(
            status,
            &headers(h),
            body,
            UNIX_EPOCH + Duration::from_secs(NOW),
        )
    }

    #[test]
    fn plain_403_is_forbidden_and_final() {
        let f = at(
            403,
            &[],
            r#"{"message":"Resource not accessible by integration"}"#,
        );
        assert_eq!(f.retry, Retry::No);
        assert_eq!(
            f.error,
            CheckRunError::Forbidden {
                message: "Resource not accessible by integration".into()
            }
        );
    }

    #[test]
    fn rate_limits_wait_as_told() {
        let f = at(403, &[("retry-after", "7")], "{}");
        assert_eq!(f.retry, Retry::After(Duration::from_secs(7)));
        assert!(matches!(
            f.error,
            CheckRunError::RateLimited { status: 403, .. }
        ));
        let f = at(
            429,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1700000030"),
            ],
            "",
        );
        assert_eq!(f.retry, Retry::After(Duration::from_secs(31)));
        let f = at(
            403,
            &[],
            r#"{"message":"You have exceeded a secondary rate limit."}"#,
        );
        assert!(matches!(f.error, CheckRunError::RateLimited { .. }));
        assert_eq!(f.retry, Retry::No);
    }

    #[test]
    fn server_errors_back_off_and_others_do_not_retry() {
        assert_eq!(
            at(502, &[], "<html>bad gateway</html>").retry,
            Retry::Backoff
        );
        let f = at(
            422,
            &[],
            r#"{"message":"Invalid request.","errors":["No commit found for SHA: x"]}"#,
        );
        assert_eq!(f.retry, Retry::No);
        assert_eq!(
            f.error.to_string(),
            "the github api answered 422: Invalid request. (No commit found for SHA: x)"
        );
        assert_eq!(
            at(404, &[], "").error.to_string(),
            "the github api answered 404: Not Found"
        );
    }
}
