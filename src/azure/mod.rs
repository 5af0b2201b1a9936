//! Everything goldsmith knows about Azure: signing in and keeping the sign-in
//! alive, the preflight checks, run-command invocation and output, the VM
//! agent check, the failure classifier, Windows Installer codes and the
//! Windows Update round script with its result codes.
//! The simulated Azure `--simulate` runs against is its own crate, `az-sim`
//! (`crates/az-sim`).
//!
//! It plugs into the executor through a small interface (build the command,
//! classify the result) and knows nothing about scheduling or reports.

pub mod classify;
pub mod install_apps;
pub mod login;
pub mod managed_run_command;
pub mod msi;
pub mod powershell;
pub mod preflight;
pub mod run_command;
pub mod session;
pub mod sign_in;
pub mod stand_in;
pub mod vm_agent;
pub mod windows_update;
pub mod wu_errors;
