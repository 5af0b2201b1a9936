//! Delays between attempts: exponential from `delay`, capped at `max_delay`, with jitter.

use std::time::Duration;

use crate::catalog::operation::RetryPolicy;

/// The wait after failed attempt number `attempt` (1-based). `jitter` is in (0.5, 1].
pub fn delay(policy: &RetryPolicy, attempt: u32, jitter: f64) -> Duration {
    let exp = 2f64.powi(attempt.saturating_sub(1).min(30) as i32);
    let base = (policy.delay.as_secs_f64() * exp).min(policy.max_delay.as_secs_f64());
    Duration::from_secs_f64(base * jitter.clamp(0.5, 1.0))
}

pub fn random_jitter() -> f64 {
    0.5 + rand::random::<f64>() * 0.5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps() {
        let p = RetryPolicy {
            attempts: 10,
            delay: Duration::from_secs(15),
            max_delay: Duration::from_secs(300),
            on: vec![],
            budget: None,
        };
        let secs: Vec<u64> = (1..=7).map(|a| delay(&p, a, 1.0).as_secs()).collect();
        assert_eq!(secs, [15, 30, 60, 120, 240, 300, 300]);
        assert_eq!(delay(&p, 1, 0.5).as_secs_f64(), 7.5);
    }
}
