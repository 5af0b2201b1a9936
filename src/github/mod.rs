//! Talking to GitHub Actions: workflow commands on stdout (`commands`) and the
//! `GITHUB_OUTPUT` / `GITHUB_ENV` file commands (`outputs`).
//!
//! Formats only what the runner reads; it knows nothing of runs, processes or
//! Azure. `run/` must never import it (ARCHITECTURE.md: one direction).

pub mod check_run;
pub mod commands;
pub mod outputs;
