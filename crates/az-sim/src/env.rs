//! The environment one simulated `az` process runs in: where the shared state
//! lives, how fast simulated time runs, the scenario, and which operation
//! attempt is calling.

use std::ffi::OsString;
use std::path::PathBuf;

/// The sim state directory, created by goldsmith before the first operation.
pub const DIR: &str = "GOLDSMITH_SIM_DIR";
/// Simulated seconds per real second.
pub const SPEED: &str = "GOLDSMITH_SIM_SPEED";
/// Optional path of the scenario YAML file.
pub const SCENARIO: &str = "GOLDSMITH_SIM_SCENARIO";
/// The calling operation's id.
pub const OP: &str = "GOLDSMITH_OP";
/// The calling operation's attempt number, 1-based.
pub const ATTEMPT: &str = "GOLDSMITH_ATTEMPT";

pub const DEFAULT_SPEED: f64 = 200.0;
pub const DEFAULT_SUBSCRIPTION: &str = "11111111-2222-3333-4444-555555555555";
pub const DEFAULT_TENANT: &str = "72f988bf-0000-4000-8000-00000000a0a0";
pub const DEFAULT_CLIENT_ID: &str = "00000000-aaaa-bbbb-cccc-000000000001";

#[derive(Debug, Clone)]
pub struct SimEnv {
    pub dir: PathBuf,
    pub speed: f64,
    pub scenario: Option<PathBuf>,
    pub op: Option<String>,
    pub attempt: u32,
    pub subscription: String,
    pub tenant: String,
    pub client_id: String,
    /// `AZURE_CONFIG_DIR` (empty for az's default): whose sign-in this is.
    pub config_dir: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvError {
    #[error(
        "this `az` is goldsmith's simulated Azure CLI: run it through `goldsmith run --simulate` ({DIR} is not set)"
    )]
    NotSimulating,
    #[error("{SPEED}={0:?} is not a positive number of simulated seconds per real second")]
    BadSpeed(String),
    #[error("{ATTEMPT}={0:?} is not an attempt number (0 for a check, then 1, 2, ...)")]
    BadAttempt(String),
}

impl SimEnv {
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Result<Self, EnvError> {
        let text = |name: &str| {
            get(name)
                .map(|v| v.to_string_lossy().trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let dir = get(DIR)
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .ok_or(EnvError::NotSimulating)?;
        let speed = match text(SPEED) {
            None => DEFAULT_SPEED,
            Some(raw) => match raw.parse::<f64>() {
                Ok(s) if s.is_finite() && s > 0.0 => s,
                _ => return Err(EnvError::BadSpeed(raw)),
            },
        };
        let attempt = match text(ATTEMPT) {
            None => 1,
            // 0 is an operation's idempotency check, before its first attempt.
            Some(raw) => match raw.parse::<u32>() {
                Ok(a) => a,
                _ => return Err(EnvError::BadAttempt(raw)),
            },
        };
        Ok(SimEnv {
            dir,
            speed,
            scenario: get(SCENARIO).filter(|s| !s.is_empty()).map(PathBuf::from),
            op: text(OP),
            attempt,
            subscription: text("AZURE_SUBSCRIPTION_ID")
                .unwrap_or_else(|| DEFAULT_SUBSCRIPTION.to_string()),
            tenant: text("AZURE_TENANT_ID").unwrap_or_else(|| DEFAULT_TENANT.to_string()),
            client_id: text("AZURE_CLIENT_ID").unwrap_or_else(|| DEFAULT_CLIENT_ID.to_string()),
            config_dir: text("AZURE_CONFIG_DIR").unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Result<SimEnv, EnvError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SimEnv::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| OsString::from(v))
        })
    }

    #[test]
    fn needs_the_sim_dir() {
        assert_eq!(env(&[]).unwrap_err(), EnvError::NotSimulating);
    }

    #[test]
    fn defaults_and_validation() {
        let e = env(&[(DIR, "/tmp/x")]).unwrap();
        assert_eq!(e.speed, DEFAULT_SPEED);
        assert_eq!(e.attempt, 1);
        assert_eq!(e.subscription, DEFAULT_SUBSCRIPTION);
        assert!(matches!(
            env(&[(DIR, "/tmp/x"), (SPEED, "0")]),
            Err(EnvError::BadSpeed(_))
        ));
        assert!(matches!(
            env(&[(DIR, "/tmp/x"), (ATTEMPT, "zero")]),
            Err(EnvError::BadAttempt(_))
        ));
    }
}
