//! The access tokens the stand-in's Entra ID issues and its ARM accepts. Each
//! grant gets a fresh random token with a lifetime (an hour, as Entra ID
//! gives, or the scenario's `token_lifetime`, so a run sees its tokens expire
//! and az renew them); ARM refuses a request without one, with one it never
//! issued, or with an expired one, in ARM's words.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Reply;

/// What Entra ID gives a client-credentials token by default.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3599);

pub struct Tokens {
    lifetime: Duration,
    issued: Mutex<HashMap<String, Expiry>>,
}

#[derive(Clone, Copy)]
struct Expiry {
    at: Instant,
    at_utc: jiff::Timestamp,
}

impl Tokens {
    pub fn new(lifetime: Duration) -> Self {
        Tokens {
            lifetime,
            issued: Mutex::new(HashMap::new()),
        }
    }

    /// A new token and its `expires_in`, in whole seconds (at least 1).
    pub fn issue(&self) -> (String, u64) {
        let random = std::collections::hash_map::RandomState::new();
        let token = format!(
            "standin-{:016x}{:016x}",
            random.hash_one(Instant::now()),
            random.hash_one(std::process::id())
        );
        let expiry = Expiry {
            at: Instant::now() + self.lifetime,
            at_utc: jiff::Timestamp::now()
                .checked_add(jiff::SignedDuration::try_from(self.lifetime).unwrap_or_default())
                .unwrap_or(jiff::Timestamp::MAX),
        };
        if let Ok(mut issued) = self.issued.lock() {
            issued.insert(token.clone(), expiry);
        }
        (token, self.lifetime.as_secs().max(1))
    }

    /// ARM's check of the `Authorization` header.
    pub fn check(&self, authorization: Option<&str>) -> Result<(), Reply> {
        let Some(header) = authorization else {
            return Err(unauthorized(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.".into(),
            ));
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .unwrap_or_default();
        let expiry = self
            .issued
            .lock()
            .ok()
            .and_then(|issued| issued.get(token).copied());
        match expiry {
            None => Err(unauthorized(
                "InvalidAuthenticationToken",
                "The access token is invalid.".into(),
            )),
            Some(expiry) if Instant::now() >= expiry.at => Err(unauthorized(
                "ExpiredAuthenticationToken",
                format!(
                    "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                    arm_time(expiry.at_utc),
                    arm_time(jiff::Timestamp::now())
                ),
            )),
            Some(_) => Ok(()),
        }
    }
}

fn unauthorized(code: &str, message: String) -> Reply {
    Reply::arm_error(401, code, &message)
}

/// ARM's way of writing a UTC time in these messages: `11/30/2026 5:04:09 AM`.
fn arm_time(t: jiff::Timestamp) -> String {
    t.strftime("%-m/%-d/%Y %-I:%M:%S %p").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(result: Result<(), Reply>) -> String {
        match result {
            Ok(()) => "ok".into(),
            Err(reply) => reply
                .body
                .map(|b| b["error"]["code"].to_string())
                .unwrap_or_default(),
        }
    }

    #[test]
    fn arm_takes_only_live_tokens_it_issued() {
        let tokens = Tokens::new(Duration::from_millis(50));
        let (token, expires_in) = tokens.issue();
        assert_eq!(expires_in, 1);
        assert_ne!(tokens.issue().0, token);
        assert_eq!(code(tokens.check(Some(&format!("Bearer {token}")))), "ok");
        assert_eq!(code(tokens.check(None)), "\"AuthenticationFailed\"");
        assert_eq!(
            code(tokens.check(Some("Bearer forged"))),
            "\"InvalidAuthenticationToken\""
        );
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            code(tokens.check(Some(&format!("Bearer {token}")))),
            "\"ExpiredAuthenticationToken\""
        );
    }
}
