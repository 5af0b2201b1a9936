//! VM power states as Azure reports them (`PowerState/<word>`, `VM <word>`).

use serde::{Deserialize, Serialize};

/// A settled power state: what a VM is in when no start/stop is in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PowerState {
    #[default]
    Running,
    Stopped,
    Deallocated,
}

/// A script's change to its VM's power (`power=`), `after` seconds after the
/// script ends (`power-after=`: sysprep returns at once and Windows shuts
/// itself down minutes later).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PowerChange {
    pub to: PowerState,
    #[serde(default)]
    pub after: f64,
}

/// A power change in flight, shown until it completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Starting,
    /// The guest is shutting itself down: Azure still reports it running.
    ShuttingDown,
    Stopping,
    Deallocating,
}

impl PowerState {
    pub fn word(self) -> &'static str {
        match self {
            PowerState::Running => "running",
            PowerState::Stopped => "stopped",
            PowerState::Deallocated => "deallocated",
        }
    }
}

impl Phase {
    pub fn word(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::ShuttingDown => "running",
            Phase::Stopping => "stopping",
            Phase::Deallocating => "deallocating",
        }
    }
}

impl PowerChange {
    /// Applies the change to `vm`, whose script ended at `ended`.
    pub fn apply(self, vm: &mut crate::world::Vm, ended: f64) {
        if self.after > 0.0 {
            vm.transition = Some(crate::world::Transition {
                phase: Phase::ShuttingDown,
                to: self.to,
                until: ended + self.after,
            });
        } else {
            vm.power = self.to;
            vm.transition = None;
        }
    }
}
