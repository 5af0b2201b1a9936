//! What an attempt tells the coordinator while it runs: where a long
//! operation is, the end of each Windows Update round and each VM restart
//! goldsmith made, as they happen rather than at the attempt's end.

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
}

impl Tell {
    pub fn new(tx: mpsc::UnboundedSender<Report>, op: usize, attempt: u32) -> Self {
        Tell {
            tx,
            op,
            attempt,
            round: None,
        }
    }

    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The same channel, for round `round` of a windows-update operation.
    pub fn in_round(&self, round: u32) -> Tell {
        Tell {
            tx: self.tx.clone(),
            round: Some(round),
            ..*self
        }
    }

    /// Where the operation is now, for the console's progress lines.
    pub fn step(&self, text: String) {
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
