//! The cleanup phase's clock: after a signal, how long the `always: true`
//! operations still have, and when goldsmith must stop waiting for the rest.
//!
//! The budget is real time counted from the first signal. It exists because
//! whoever sent the signal will not wait for long: on a cancelled job (or one
//! over `timeout-minutes`) the GitHub Actions runner sends SIGINT, SIGTERM
//! 7.5 s later and kills the process tree 2.5 s after that
//! (`ProcessInvoker._sigintTimeout`/`_sigtermTimeout` in actions/runner; for a
//! container action that process is `docker run --rm`, which passes the
//! signals on to the container, where `tini` gives them to goldsmith). So
//! after a signal the running operations get half the budget to stop before
//! they are killed, and the cleanup must be over when the budget is. The
//! default `--cancel-budget` of 6 s ends before the runner's SIGTERM, with
//! time left to write the reports before its kill.
//!
//! Decisions only: the scheduler asks, and carries out what comes back.

use std::time::{Duration, Instant};

/// What the clock asks for at a moment.
#[derive(Debug, PartialEq, Eq)]
pub enum Due {
    Nothing,
    /// Kill the operations still running: the cleanup is waiting for them.
    KillRunning,
    /// The budget is spent: stop the cleanup.
    StopCleanup,
}

/// The cleanup's budget after a signal.
#[derive(Debug)]
pub struct CleanupClock {
    budget: Duration,
    signalled_at: Option<Instant>,
    running_killed: bool,
    spent: bool,
}

impl CleanupClock {
    pub fn new(budget: Duration) -> Self {
        CleanupClock {
            budget,
            signalled_at: None,
            running_killed: false,
            spent: false,
        }
    }

    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// The first signal starts the clock; later ones do not move it.
    pub fn signalled(&mut self, now: Instant) {
        self.signalled_at.get_or_insert(now);
    }

    /// How long the running operations get to stop before they are killed.
    pub fn stop_window(&self) -> Duration {
        self.budget / 2
    }

    /// The next moment something is due, if any.
    pub fn next_due(&self) -> Option<Instant> {
        let at = self.signalled_at?;
        if self.spent {
            None
        } else if self.running_killed {
            Some(at + self.budget)
        } else {
            Some(at + self.stop_window())
        }
    }

    /// What is due at `now`; each is due once.
    pub fn due(&mut self, now: Instant) -> Due {
        let Some(at) = self.signalled_at else {
            return Due::Nothing;
        };
        let elapsed = now.saturating_duration_since(at);
        if !self.running_killed && elapsed >= self.stop_window() {
            self.running_killed = true;
            return Due::KillRunning;
        }
        if !self.spent && elapsed >= self.budget {
            self.spent = true;
            return Due::StopCleanup;
        }
        Due::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_due_before_a_signal() {
        let mut clock = CleanupClock::new(Duration::from_secs(6));
        assert_eq!(clock.next_due(), None);
        assert_eq!(clock.due(Instant::now()), Due::Nothing);
    }

    #[test]
    fn half_the_budget_to_stop_then_the_rest_for_the_cleanup() {
        let t0 = Instant::now();
        let mut clock = CleanupClock::new(Duration::from_secs(6));
        clock.signalled(t0);
        clock.signalled(t0 + Duration::from_secs(1));
        assert_eq!(clock.next_due(), Some(t0 + Duration::from_secs(3)));
        assert_eq!(clock.due(t0 + Duration::from_secs(2)), Due::Nothing);
        assert_eq!(clock.due(t0 + Duration::from_secs(3)), Due::KillRunning);
        assert_eq!(clock.due(t0 + Duration::from_secs(3)), Due::Nothing);
        assert_eq!(clock.next_due(), Some(t0 + Duration::from_secs(6)));
        assert_eq!(clock.due(t0 + Duration::from_secs(6)), Due::StopCleanup);
        assert_eq!(clock.next_due(), None);
        assert_eq!(clock.due(t0 + Duration::from_secs(9)), Due::Nothing);
    }

    #[test]
    fn a_late_tick_gives_both_in_order() {
        let t0 = Instant::now();
        let mut clock = CleanupClock::new(Duration::from_secs(6));
        clock.signalled(t0);
        let late = t0 + Duration::from_secs(7);
        assert_eq!(clock.due(late), Due::KillRunning);
        assert_eq!(clock.due(late), Due::StopCleanup);
    }
}
