//! A module entry's `when:`: whether an optional step runs, from config.
//!
//! The value is rendered like any placeholder and must then be exactly
//! `true` or `false`. An entry that is off is still planned (so `plan` shows
//! it and later entries may name it in `depends_on`), but the run records it
//! as skipped with the reason built here, and what waits for it goes on.

use std::path::Path;

use crate::catalog::operation::Text;
use crate::catalog::{Catalog, Entry};
use crate::config::{Config, Origin, Var};
use crate::record::status::OFF_PREFIX;
use crate::source::{Diagnostic, Diagnostics, Sources};
use crate::template;

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
    let rendered = render(file, when, sources, config, diags)?;
    match rendered.value.as_str() {
        "true" => None,
        "false" => Some(match &rendered.keys {
            Some(key) => format!("{OFF_PREFIX}{key} is false"),
            None => format!("{OFF_PREFIX}`when: false` in the module"),
        }),
        _ => {
            diags.push(not_a_boolean(file, when, &entry.id, &rendered));
            None
        }
    }
}

/// The error for a `when:` that renders to neither `true` nor `false`.
fn not_a_boolean(file: &Path, when: &Text, id: &str, rendered: &Rendered) -> Diagnostic {
    let value = match rendered.value.as_str() {
        "" => "empty".to_string(),
        v => format!("`{v}`"),
    };
    let (message, help) = match &rendered.keys {
        Some(key) => (
            format!(
                "`when` of `{id}` is {value} (from {key}{}), not `true` or `false`",
                rendered.places
            ),
            format!("set {key} to `true` or `false`"),
        ),
        None => (
            format!("`when` of `{id}` is {value}, not `true` or `false`"),
            "write `when: true`, `when: false` or `when: \"{{CONFIG_VALUE}}\"`".to_string(),
        ),
    };
    Diagnostic::error(file, when.pos, message).with_help(help)
}

/// A `when:` with its placeholders filled in.
struct Rendered {
    value: String,
    /// The config keys the value came from (`golden_image.remove_appx_packages`,
    /// or `NAME (environment)`); `None` for a literal.
    keys: Option<String>,
    /// Where the keys of the config file are (` at config.yaml:12:5`), or nothing.
    places: String,
}

/// `when`'s text with its placeholders filled in, and where they came from.
fn render(
    file: &Path,
    when: &Text,
    sources: &Sources,
    config: &Config,
    diags: &mut Diagnostics,
) -> Option<Rendered> {
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
        let (key, place) = source(&ph.name, var, config);
        keys.push(key);
        places.extend(place);
        last = ph.end;
    }
    out.push_str(&when.value[last..]);
    Some(Rendered {
        value: out,
        keys: (!keys.is_empty()).then(|| keys.join(", ")),
        places: if places.is_empty() {
            String::new()
        } else {
            format!(" at {}", places.join(", "))
        },
    })
}

/// Where the value of `name` came from: its config key and place in the
/// config file (`golden_image.remove_appx_packages`, `config.yaml:12:5`), or
/// the environment variable that overrode it.
fn source(name: &str, var: &Var, config: &Config) -> (String, Option<String>) {
    match var.origin {
        Origin::File(p) => {
            let shown = config.file.as_deref().unwrap_or(Path::new("config.yaml"));
            let place = format!("{}:{}:{}", shown.display(), p.line, p.col);
            (var.key.clone(), Some(place))
        }
        Origin::Environment => (format!("{name} (environment)"), None),
    }
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
