//! Running a plan: the coordinator and its scheduling decisions, one unit per
//! operation, child processes.
//!
//! Emits events through `EventSink`; knows nothing about GitHub or how events
//! are shown or stored.

mod backoff;
pub mod cleanup;
pub mod environment;
pub mod executor;
pub mod fd_budget;
mod fd_pass;
mod managed_attempt;
mod op_outputs;
mod oplog;
pub mod process;
mod scheduler;
mod sealed;
pub mod signals;
pub mod supervisor;
mod tell;
pub mod unit;
mod vm_attempt;
pub mod vm_restart;
mod windows_update;

pub use executor::Executor;
pub use scheduler::{ExecOptions, Preset, run_started};
pub use unit::UnitContext;
