//! One attempt of a windows-update operation: rounds of the generated script
//! (search, download, install), each a run-command through `vm_attempt`,
//! with goldsmith restarting the VM between rounds when Windows asks
//! (`vm_restart`), until a round finds nothing or `max_rounds` have run.
//! The operation's timeout bounds every round together.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::oplog::OpLog;
use super::process::Stop;
use super::tell::Tell;
use super::unit::UnitContext;
use super::vm_attempt;
use super::vm_restart::{self, Restart};
use crate::azure::windows_update::described;
use crate::duration::format_duration;
use crate::plan::{PlannedOp, RunCommandScript};
use crate::record::event::{
    AttemptOutcome, AttemptResult, RestartCause, RestartReason, UpdateResult, UpdateRound,
    UpdateRun,
};
use crate::record::failure::FailureClass;
use crate::text::count;

/// Where the rounds are: what every round so far reported.
#[derive(Default)]
struct Rounds {
    total: UpdateRun,
    /// An earlier operation's restart goldsmith made before round 1.
    restarted_for: Option<String>,
    warnings: Vec<String>,
}

/// Returns the outcome (carrying every update of every round) and how long the rounds took.
/// `tell` tells the coordinator where the rounds are and how each ended.
pub async fn run(
    ctx: &UnitContext,
    op: &PlannedOp,
    rc: &RunCommandScript,
    tell: &Tell,
    log: &mut OpLog,
    stop: watch::Receiver<Stop>,
) -> (AttemptOutcome, Duration) {
    let started = Instant::now();
    let mut rounds = Rounds::default();
    for round in 1..=rc.rounds {
        let Some(left) = op.timeout.checked_sub(started.elapsed()) else {
            let outcome = AttemptOutcome::new(
                AttemptResult::Timeout,
                format!(
                    "timed out after {} in round {round} of at most {}",
                    format_duration(started.elapsed()),
                    rc.rounds
                ),
            );
            return (rounds.finish(outcome), started.elapsed());
        };
        let searching = format!("round {round} of at most {}: searching", rc.rounds);
        log.note(&searching);
        let in_round = tell.in_round(round);
        in_round.step(searching);
        let mut this_op = op.clone();
        this_op.timeout = left;
        let (outcome, _) = vm_attempt::run(ctx, &this_op, rc, &in_round, log, stop.clone()).await;
        if let Some(end) = rounds.after(ctx, op, rc, round, outcome, log, tell) {
            return (end, started.elapsed());
        }
    }
    unreachable!("the last round always ends the rounds")
}

impl Rounds {
    /// Takes in round `round`'s outcome; returns the attempt's outcome when the rounds are over.
    #[allow(clippy::too_many_arguments)]
    fn after(
        &mut self,
        ctx: &UnitContext,
        op: &PlannedOp,
        rc: &RunCommandScript,
        round: u32,
        mut outcome: AttemptOutcome,
        log: &mut OpLog,
        tell: &Tell,
    ) -> Option<AttemptOutcome> {
        match outcome.restarted_for.take() {
            Some(by) if by == op.id => self.total.restarts += 1,
            Some(earlier) if round == 1 => self.restarted_for = Some(earlier),
            _ => {}
        }
        self.warnings.append(&mut outcome.warnings);
        let this_round = outcome.updates.take().map(|b| *b);
        let Some(reported) = take_round(&mut self.total, this_round, round) else {
            // No result lines: az or the script failed before the round could report.
            return Some(self.finish(outcome));
        };
        let found = format!(
            "round {round} of at most {}: {}{}",
            rc.rounds,
            count(reported.found as usize, "update"),
            if reported.reboot {
                ", Windows asks for a restart"
            } else {
                ""
            }
        );
        log.note(&found);
        tell.step(found);
        tell.round_finished(self.round(round, rc.rounds));
        if reported.reboot {
            let by = RestartCause {
                op: op.id.clone(),
                reason: RestartReason::UpdateRound { round },
            };
            vm_restart::mark(ctx, &rc.target, Restart::Needed { by });
        }
        if let Some(failure) = failed(&self.total, round) {
            outcome.result = AttemptResult::failed(FailureClass::UpdateFailed);
            outcome.message = failure;
            return Some(self.finish(outcome));
        }
        if !outcome.passed() {
            return Some(self.finish(outcome));
        }
        outcome.reboot_required = reported.reboot;
        if reported.found > 0 && round < rc.rounds {
            return None;
        }
        if reported.found > 0 {
            self.warnings.push(format!(
                "Windows Update still found updates in round {round}, the last one `max_rounds` allows: run the operation again or raise `windows_update.max_rounds`"
            ));
        }
        outcome.message = self.total.totals();
        Some(self.finish(outcome))
    }

    /// Round `round` as it ended: its updates and its summary line.
    fn round(&self, round: u32, max_rounds: u32) -> UpdateRound {
        UpdateRound {
            round,
            max_rounds,
            updates: (self.total.updates.iter())
                .filter(|u| u.round == round)
                .cloned()
                .collect(),
            summary: self.total.last_round.clone().unwrap_or_default(),
        }
    }

    /// The attempt's outcome: the last round's, carrying every round's updates and warnings.
    fn finish(&mut self, mut outcome: AttemptOutcome) -> AttemptOutcome {
        outcome.restarted_for = self.restarted_for.take();
        outcome.warnings = std::mem::take(&mut self.warnings);
        if self.total.rounds > 0 {
            outcome.updates = Some(Box::new(std::mem::take(&mut self.total)));
        }
        outcome
    }
}

/// What one round reported.
struct Step {
    found: u32,
    reboot: bool,
}

/// Adds a round's updates to the total; `None` when the round reported nothing.
fn take_round(total: &mut UpdateRun, round_run: Option<UpdateRun>, round: u32) -> Option<Step> {
    let mut round_run = round_run?;
    total.rounds = round;
    for u in &mut round_run.updates {
        u.round = round;
    }
    total.updates.append(&mut round_run.updates);
    let summary = round_run.last_round.unwrap_or_default();
    let step = Step {
        found: summary.found,
        reboot: summary.reboot_required,
    };
    total.last_round = Some(summary);
    Some(step)
}

/// Why round `round` failed: the updates that failed (named with their
/// HRESULT), or what failed before any could be tried.
fn failed(total: &UpdateRun, round: u32) -> Option<String> {
    let failed: Vec<&UpdateResult> = total
        .updates
        .iter()
        .filter(|u| u.round == round && u.failed())
        .collect();
    if let Some(first) = failed.first() {
        let more = match failed.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        return Some(format!(
            "update {} ({}) {} in round {round}: {}{more}",
            first.kb,
            first.title,
            first.result,
            described(&first.hresult)
        ));
    }
    total.last_round.as_ref()?.error.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::event::RoundSummary;

    fn update(round: u32, kb: &str, result: &str, hresult: &str) -> UpdateResult {
        UpdateResult {
            round,
            kb: kb.into(),
            title: format!("{kb} title"),
            result: result.into(),
            hresult: hresult.into(),
        }
    }

    #[test]
    fn rounds_add_up_and_a_failed_update_names_its_hresult() {
        let mut total = UpdateRun::default();
        let first = UpdateRun {
            rounds: 1,
            restarts: 0,
            updates: vec![update(1, "KB1", "succeeded", "0x00000000")],
            last_round: Some(RoundSummary {
                found: 1,
                installed: 1,
                reboot_required: true,
                error: None,
            }),
        };
        let step = take_round(&mut total, Some(first), 1).expect("reported");
        assert!(step.reboot && step.found == 1);
        assert_eq!(failed(&total, 1), None);
        let second = UpdateRun {
            updates: vec![
                update(1, "KB2", "failed", "0x80240022"),
                update(1, "KB3", "aborted", "0x8BADF00D"),
            ],
            last_round: Some(RoundSummary::default()),
            ..UpdateRun::default()
        };
        take_round(&mut total, Some(second), 2).expect("reported");
        assert_eq!(total.updates[1].round, 2);
        assert_eq!(
            failed(&total, 2).as_deref(),
            Some(
                "update KB2 (KB2 title) failed in round 2: 0x80240022 WU_E_ALL_UPDATES_FAILED (and 1 more)"
            )
        );
        assert!(take_round(&mut total, None, 3).is_none());
        assert_eq!(total.totals(), "1 update installed in 2 rounds, 0 restarts");
    }
}
