//! Talking to GitHub Actions: the runner's environment and inputs
//! (`actions`), workflow commands on stdout (`commands`), the
//! `GITHUB_OUTPUT` / `GITHUB_ENV` file commands (`outputs`) and the Checks API
//! (`check_run`).
//!
//! Formats only what the runner reads; it knows nothing of runs, processes or
//! Azure. `run/` must never import it (ARCHITECTURE.md: one direction).

pub mod actions;
pub mod check_run;
pub mod commands;
pub mod outputs;
