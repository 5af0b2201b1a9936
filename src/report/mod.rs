//! The reporters: each consumes the event stream and the run record folded
//! from it (`record::sink::Recorder` folds once and masks secrets in every
//! value before any reporter sees an event, so no reporter masks serialised
//! text, which would corrupt its structure).
//!
//! Reporters see only `record` types and the run directory; they never touch
//! a process.

pub mod annotations;
pub mod check_run;
pub mod console;
mod console_steps;
pub mod finish;
pub mod jsonl;
pub mod junit;
pub mod state_file;
pub mod summary;
mod updates;
mod write_pace;
