//! Why an attempt failed. Retry rules (`retry.on`) and reports name these classes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The class of one failed attempt. The kebab-case name is what users write in `retry.on`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    /// The script exited with a non-zero code.
    ExitCode,
    /// The script ran past its timeout and was terminated.
    Timeout,
    /// The script was killed by a signal nobody asked for (OOM killer, a `kill` from outside).
    Signal,
    /// goldsmith could not start the script (bash missing, script file unwritable).
    Spawn,
    /// A requirement (`requires`) had not succeeded, so the operation was not started.
    UnmetRequirement,
    /// Inside a VM the script ended with a non-zero `##goldsmith-exit` marker.
    ScriptExit,
    /// Inside a VM the script printed no exit marker, so its result is unknown.
    NoExitMarker,
    /// Azure refused a second run-command on the same VM (409 Conflict).
    RunCommandConflict,
    /// The VM is stopped or deallocated (OperationNotAllowed).
    VmNotRunning,
    /// The VM agent did not answer (VMAgentStatusCommunicationError).
    AgentNotReady,
    /// The run-command extension failed to provision or timed out.
    ExtensionError,
    /// Azure throttled the request (429 TooManyRequests) beyond az's own retries.
    Throttled,
    /// The VM or resource group does not exist.
    NotFound,
    /// az is not logged in or its credentials expired.
    Auth,
    /// az failed in a way none of the other classes describes.
    AzError,
    /// Another Windows Installer install held the machine-wide mutex (1618).
    MsiBusy,
    /// Windows Installer reported a fatal error (1603).
    MsiFatal,
    /// Another version of the product is installed (1638).
    MsiOtherVersion,
    /// Windows Installer reported any other failure code.
    MsiFailed,
    /// A Windows update failed to download or install (its HRESULT names why).
    UpdateFailed,
    /// goldsmith could not record the operation's output (disk full, log file unwritable), so
    /// what it did cannot be shown: the attempt fails even if the script succeeded.
    LogWrite,
}

impl FailureClass {
    pub const ALL: [FailureClass; 21] = [
        FailureClass::ExitCode,
        FailureClass::Timeout,
        FailureClass::Signal,
        FailureClass::Spawn,
        FailureClass::UnmetRequirement,
        FailureClass::ScriptExit,
        FailureClass::NoExitMarker,
        FailureClass::RunCommandConflict,
        FailureClass::VmNotRunning,
        FailureClass::AgentNotReady,
        FailureClass::ExtensionError,
        FailureClass::Throttled,
        FailureClass::NotFound,
        FailureClass::Auth,
        FailureClass::AzError,
        FailureClass::MsiBusy,
        FailureClass::MsiFatal,
        FailureClass::MsiOtherVersion,
        FailureClass::MsiFailed,
        FailureClass::UpdateFailed,
        FailureClass::LogWrite,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FailureClass::ExitCode => "exit-code",
            FailureClass::Timeout => "timeout",
            FailureClass::Signal => "signal",
            FailureClass::Spawn => "spawn",
            FailureClass::UnmetRequirement => "unmet-requirement",
            FailureClass::ScriptExit => "script-exit",
            FailureClass::NoExitMarker => "no-exit-marker",
            FailureClass::RunCommandConflict => "run-command-conflict",
            FailureClass::VmNotRunning => "vm-not-running",
            FailureClass::AgentNotReady => "agent-not-ready",
            FailureClass::ExtensionError => "extension-error",
            FailureClass::Throttled => "throttled",
            FailureClass::NotFound => "not-found",
            FailureClass::Auth => "auth",
            FailureClass::AzError => "az-error",
            FailureClass::MsiBusy => "msi-busy",
            FailureClass::MsiFatal => "msi-fatal",
            FailureClass::MsiOtherVersion => "msi-other-version",
            FailureClass::MsiFailed => "msi-failed",
            FailureClass::UpdateFailed => "update-failed",
            FailureClass::LogWrite => "log-write",
        }
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FailureClass {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        FailureClass::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_str() {
        for class in FailureClass::ALL {
            let json = serde_json::to_string(&class).expect("serializable");
            assert_eq!(json, format!("\"{}\"", class.name()));
            assert_eq!(class.name().parse::<FailureClass>(), Ok(class));
        }
    }
}
