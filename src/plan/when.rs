//! A module entry's `when:`: whether an optional step runs, from config.
//!
//! The value is rendered like any placeholder and must then be exactly
//! `true` or `false`. An entry that is off is still planned (so `plan` shows
//! it and later entries may name it in `depends_on`), but the run records it
//! as skipped with the reason built here, and what waits for it goes on.

use std::path::Path;

use crate::catalog::operation::Text;
use crate::catalog::{Catalog, Entry};
use crate::config::{Config, Origin};
use crate::source::{Diagnostic, Diagnostics, Sources};
use crate::template;

use crate::record::status::OFF_PREFIX;

/// The skip reason when `entry` is switched off, `None` when it runs (or its
/// `when:` has an error, reported in `diags`).
pub fn off_reason(
    file: &Path,
    entry: &Entry,
    sources: &Sources,
    config: &Config,
    diags: &mut Diagnostics,
) -> Option<String> {
    let when = entry.when.as_ref()?;
    let (value, from, places) = render(file, when, sources, config, diags)?;
    match value.as_str() {
        "true" => None,
        "false" => Some(match &from {
            Some(key) => format!("{OFF_PREFIX}{key} is false"),
            None => format!("{OFF_PREFIX}`when: false` in the module"),
        }),
        _ => {
            let message = match &from {
                Some(key) => format!(
                    "`when` of `{}` is `{value}` (from {key}{places}), not `true` or `false`",
                    entry.id
                ),
                None => format!(
                    "`when` of `{}` is `{value}`, not `true` or `false`",
                    entry.id
                ),
            };
            let help = match &from {
                Some(key) => format!("set {key} to `true` or `false`"),
                None => "write `when: true`, `when: false` or `when: \"{{CONFIG_VALUE}}\"`".into(),
            };
            diags.push(Diagnostic::error(file, when.pos, message).with_help(help));
            None
        }
    }
}

/// `when`'s text with its placeholders filled in, the config keys they came
/// from (`golden_image.remove_appx_packages`, or `NAME (environment)`) and,
/// for the keys of the config file, where they are (` at config.yaml:12:5`).
fn render(
    file: &Path,
    when: &Text,
    sources: &Sources,
    config: &Config,
    diags: &mut Diagnostics,
) -> Option<(String, Option<String>, String)> {
    let (found, defined) = super::placeholders::check(file, when, sources, config, diags);
    if !defined {
        return None;
    }
    let mut out = String::new();
    let mut keys = Vec::new();
    let mut places = Vec::new();
    let mut last = 0;
    for ph in &found {
        out.push_str(&when.value[last..ph.start]);
        let Some(var) = config.vars.get(&ph.name) else {
            let pos = template::position(sources, file, when, ph.start);
            diags.push(
                Diagnostic::error(
                    file,
                    pos,
                    format!("`when` may not use the secret `{}`", ph.name),
                )
                .with_help("`when` names a config value that is `true` or `false`"),
            );
            return None;
        };
        out.push_str(&var.value);
        match var.origin {
            Origin::File(p) => {
                keys.push(var.key.clone());
                let shown = config.file.as_deref().unwrap_or(Path::new("config.yaml"));
                places.push(format!("{}:{}:{}", shown.display(), p.line, p.col));
            }
            Origin::Environment => keys.push(format!("{} (environment)", ph.name)),
        }
        last = ph.end;
    }
    out.push_str(&when.value[last..]);
    let from = (!keys.is_empty()).then(|| keys.join(", "));
    let places = if places.is_empty() {
        String::new()
    } else {
        format!(" at {}", places.join(", "))
    };
    Some((out, from, places))
}

/// Whether some module entry's `when:` uses the config value `name`.
pub fn uses_name(catalog: &Catalog, name: &str) -> bool {
    catalog
        .modules
        .iter()
        .flat_map(|m| &m.entries)
        .filter_map(|e| e.when.as_ref())
        .any(|w| template::scan(&w.value).0.iter().any(|p| p.name == name))
}
