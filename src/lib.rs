//! goldsmith: builds Azure Virtual Desktop golden images from YAML modules of
//! operations, running them in parallel groups without breaking Azure's and
//! Windows' one-at-a-time rules, and reporting every operation.
//!
//! Data flows one way: `catalog` + `config` → `plan` → `run` → events →
//! `report`. `record` holds the types the stages hand each other. `source`
//! (positions, the spanned YAML reader, diagnostics) lies under `catalog` and
//! `config`; like `duration` and `redact`, it is a shared foundation that
//! imports none of the stages.

pub mod azure;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod duration;
pub mod github;
pub mod plan;
pub mod project;
pub mod record;
pub mod redact;
pub mod report;
pub mod run;
pub mod run_dir;
pub mod run_lock;
pub mod source;
pub mod template;
pub mod text;
