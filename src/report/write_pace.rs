//! When `state.json` is rewritten: at most every [`MIN_INTERVAL`], and never
//! so often that rewriting it takes more than a tenth of the run.
//!
//! Why: `state.json` is a snapshot of every operation, so one rewrite costs in
//! proportion to the number of operations. Rewritten after every change (two
//! per operation), a run of n operations spent time in n² (1,000 trivial
//! operations rewrote 300 KB about 1,500 times, each with an fsync) and was
//! slower than a bash loop doing the same spawns. Paced, a snapshot is at most
//! [`MIN_INTERVAL`] behind while the run goes on, and the last one is written
//! when the run finishes.
//!
//! What a kill in between must not lose is already on disk elsewhere:
//! `events.jsonl` is flushed before any operation starts, and `status`,
//! `resume` and the `requires` check read an unfinished run's state from its
//! events (`run_dir::recover`), so an operation's success is on disk before
//! anything that depends on it starts.

use std::time::{Duration, Instant};

/// The shortest time between two snapshots.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// Snapshots are at least this many times their own cost apart, so however
/// large the run, writing them takes at most a tenth of its time.
const COST_FACTOR: u32 = 10;

/// The pace of one file's snapshots.
#[derive(Debug)]
pub struct WritePace {
    /// When the last snapshot was written (or the file was created).
    last: Instant,
    /// How long the last snapshot took to write.
    cost: Duration,
}

impl WritePace {
    /// A pace whose first snapshot was written at `at` (the run directory's first state).
    pub fn new(at: Instant) -> Self {
        WritePace {
            last: at,
            cost: Duration::ZERO,
        }
    }

    /// The earliest moment the next snapshot may be written.
    pub fn next(&self) -> Instant {
        self.last + MIN_INTERVAL.max(self.cost * COST_FACTOR)
    }

    /// Whether a snapshot may be written at `now`.
    pub fn ready(&self, now: Instant) -> bool {
        now >= self.next()
    }

    /// A snapshot was written from `started` until `ended`.
    pub fn wrote(&mut self, started: Instant, ended: Instant) {
        self.last = ended;
        self.cost = ended.saturating_duration_since(started);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_are_at_least_the_interval_apart() {
        let t0 = Instant::now();
        let mut pace = WritePace::new(t0);
        assert!(!pace.ready(t0 + Duration::from_millis(99)));
        assert!(pace.ready(t0 + MIN_INTERVAL));
        let written = t0 + Duration::from_millis(150);
        pace.wrote(written - Duration::from_millis(1), written);
        assert_eq!(pace.next(), written + MIN_INTERVAL);
    }

    #[test]
    fn a_costly_snapshot_pushes_the_next_one_back_tenfold() {
        let t0 = Instant::now();
        let mut pace = WritePace::new(t0);
        let (started, ended) = (t0 + MIN_INTERVAL, t0 + MIN_INTERVAL * 2);
        pace.wrote(started, ended);
        assert_eq!(pace.next(), ended + MIN_INTERVAL * 10);
        assert!(!pace.ready(ended + MIN_INTERVAL * 9));
    }
}
