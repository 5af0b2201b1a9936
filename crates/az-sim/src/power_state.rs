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

/// A power change in flight, shown until it completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Starting,
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
            Phase::Stopping => "stopping",
            Phase::Deallocating => "deallocating",
        }
    }
}
