//! What an attempt tells the coordinator while it runs: where a long
//! operation is, the end of each Windows Update round and each VM restart
//! goldsmith made, as they happen rather than at the attempt's end.

use std::sync::Mutex;

use tokio::sync::mpsc;

use super::unit::{Report, UnitMsg};
use super::vm_restart::Restart;
use crate::record::event::{Restarter, UpdateRound, VmRestart};

/// The channel of one attempt of one operation, and the round it is in.
pub struct Tell {
    tx: mpsc::UnboundedSender<Report>,
    op: usize,
    attempt: u32,
    /// The windows-update round whose run-command comes next, for one.
    round: Option<u32>,
    /// The last `step`, shown again after a restart interrupted it.
    step: Mutex<Option<String>>,
}

impl Tell {
    pub fn new(tx: mpsc::UnboundedSender<Report>, op: usize, attempt: u32) -> Self {
        Tell {
            tx,
            op,
            attempt,
            round: None,
            step: Mutex::new(None),
        }
    }

    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The same channel, for round `round` of a windows-update operation.
    pub fn in_round(&self, round: u32) -> Tell {
        Tell {
            tx: self.tx.clone(),
            op: self.op,
            attempt: self.attempt,
            round: Some(round),
            step: Mutex::new(None),
        }
    }

    /// Where the operation is now, for the console's progress lines.
    pub fn step(&self, text: String) {
        if let Ok(mut step) = self.step.lock() {
            *step = Some(text.clone());
        }
        self.send(UnitMsg::Step {
            op: self.op,
            text: Some(text),
        });
    }

    /// Something that comes before the step, such as a VM restart, for as
    /// long as it takes: `resume` shows the step again.
    pub fn meanwhile(&self, text: String) {
        self.send(UnitMsg::Step {
            op: self.op,
            text: Some(text),
        });
    }

    /// Back to the last `step` (or to nothing) after `meanwhile`.
    pub fn resume(&self) {
        let text = self.step.lock().ok().and_then(|s| s.clone());
        self.send(UnitMsg::Step { op: self.op, text });
    }

    /// A windows-update round ended.
    pub fn round_finished(&self, round: UpdateRound) {
        self.send(UnitMsg::UpdateRound {
            op: self.op,
            attempt: self.attempt,
            round,
        });
    }

    /// goldsmith got `vm` back from `restart` before this attempt's run-command.
    pub fn vm_restarted(&self, vm: &str, restart: Restart) {
        let (restarted_by, cause) = match restart {
            Restart::Started { by } => (Restarter::Installer, by),
            Restart::Needed { by } => (Restarter::Goldsmith, by),
        };
        let restart = VmRestart {
            vm: vm.to_string(),
            round: self.round,
            restarted_by,
            cause,
        };
        self.send(UnitMsg::VmRestarted {
            op: self.op,
            restart,
        });
    }

    /// A closed channel means the run is over: nobody is left to tell.
    fn send(&self, msg: UnitMsg) {
        let _ = self.tx.send((jiff::Timestamp::now(), msg));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(rx: &mut mpsc::UnboundedReceiver<Report>) -> Vec<Option<String>> {
        let mut out = Vec::new();
        while let Ok((_, msg)) = rx.try_recv() {
            if let UnitMsg::Step { text, .. } = msg {
                out.push(text);
            }
        }
        out
    }

    #[test]
    fn a_restart_shows_meanwhile_then_the_step_again_or_nothing() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let tell = Tell::new(tx, 0, 1);
        tell.meanwhile("restarting vm1".into());
        tell.resume();
        let round = tell.in_round(2);
        round.step("round 2 of at most 5: searching".into());
        round.meanwhile("restarting vm1".into());
        round.resume();
        let searching = Some("round 2 of at most 5: searching".to_string());
        assert_eq!(
            steps(&mut rx),
            [
                Some("restarting vm1".into()),
                None,
                searching.clone(),
                Some("restarting vm1".into()),
                searching,
            ]
        );
    }
}
