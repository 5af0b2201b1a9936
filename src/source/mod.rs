//! Reading the user's YAML files and saying what is wrong with them.
//!
//! Positions, the spanned YAML tree, the safe read of one file, typed field
//! reads and the diagnostics they produce. Both `catalog` (operation and
//! module files) and `config` (`config.yaml`) build on it; it knows neither
//! file format.

mod diag;
pub mod fields;
pub mod file;
mod pos;
pub mod yaml;

pub use diag::{Diagnostic, Diagnostics, Severity, Sources, closest, suggest};
pub use pos::Pos;
