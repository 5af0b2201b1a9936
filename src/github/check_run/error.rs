//! Why a check run could not be published, typed so the caller can tell a
//! read-only token (expected on fork pull requests) from an outage.

/// A failed check-run request, after any retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckRunError {
    /// 403 without rate-limit headers: the token may not write checks (a
    /// fork pull request's read-only token, or no `checks: write`).
    #[error("the token may not write check runs (403 forbidden): {message}")]
    Forbidden { message: String },
    /// Rate limited for longer than goldsmith is willing to wait.
    #[error("rate limited by the github api ({status}): {message}")]
    RateLimited { status: u16, message: String },
    /// Any other answer that is not a success.
    #[error("the github api answered {status}: {message}")]
    Api { status: u16, message: String },
    /// No answer: connection refused or reset, TLS, timeout.
    #[error("cannot reach the github api: {0}")]
    Transport(String),
    /// The client could not be built (a bad `GITHUB_API_URL`, no TLS roots).
    #[error("cannot set up a github api client: {0}")]
    Client(String),
    /// A success whose body is not the check run asked for.
    #[error("the github api's answer is not a check run: {0}")]
    Response(String),
}

impl CheckRunError {
    /// The one warning a run shows when it goes on without its check run.
    pub fn warning(&self) -> String {
        let fallback = "The results are in the annotations and the job summary.";
        match self {
            CheckRunError::Forbidden { .. } => format!(
                "No check run was published: {self}. A pull request from a fork gets a read-only \
                 GITHUB_TOKEN; otherwise give the job `permissions: checks: write`. {fallback}"
            ),
            _ => format!("The check run could not be published: {self}. {fallback}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_says_why_and_what_to_do() {
        let w = CheckRunError::Forbidden {
            message: "Resource not accessible by integration".into(),
        }
        .warning();
        assert!(w.contains("fork"), "{w}");
        assert!(w.contains("checks: write"), "{w}");
        assert!(w.contains("Resource not accessible by integration"), "{w}");
    }
}
