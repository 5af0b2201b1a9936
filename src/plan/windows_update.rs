//! Planning a `kind: windows-update` operation: its categories and
//! exclusions checked as templated values, and the generated round script
//! wrapped like any run-command script, with the most rounds it may run.

use super::RunCommandScript;
use crate::azure::windows_update;
use crate::catalog::{Catalog, Operation};
use crate::config::Config;
use crate::source::Diagnostics;

/// Generates, checks and wraps the round script of a windows-update operation.
pub fn plan(
    op: &Operation,
    config: &Config,
    catalog: &Catalog,
    diags: &mut Diagnostics,
) -> Option<RunCommandScript> {
    let wu = op.windows_update.as_ref()?;
    let errors_before = diags.error_count();
    let check = |text, diags: &mut Diagnostics| {
        super::placeholders::check(&op.file, text, &catalog.sources, config, diags).0
    };
    let categories = check(&wu.categories, diags);
    let exclude = wu.exclude.as_ref().map(|t| check(t, diags));
    let target = super::vm::target(op, config, catalog, diags);
    if diags.error_count() > errors_before {
        return None;
    }
    let script = windows_update::script(
        (&wu.categories.value, &categories),
        wu.exclude
            .as_ref()
            .zip(exclude.as_ref())
            .map(|(t, p)| (t.value.as_str(), p.as_slice())),
        wu.max_rounds,
    );
    let names = categories
        .iter()
        .chain(exclude.iter().flatten())
        .map(|p| p.name.as_str());
    let rc = super::vm::generated(op, &script, names, target?, config, wu.pos, diags)?;
    Some(RunCommandScript {
        rounds: wu.max_rounds,
        ..rc
    })
}
