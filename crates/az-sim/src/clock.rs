//! Simulated time: seconds since the first `az` of the run, running `speed`
//! times faster than real time. Every simulated wait sleeps for real only
//! `duration / speed`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Real time now, in seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Simulated seconds since the run started at `started_unix`.
pub fn sim_now(started_unix: f64, speed: f64) -> f64 {
    ((unix_now() - started_unix) * speed).max(0.0)
}

/// Sleeps for `sim_secs` simulated seconds.
pub fn sleep(sim_secs: f64, speed: f64) {
    if sim_secs > 0.0 && speed > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(sim_secs / speed));
    }
}
