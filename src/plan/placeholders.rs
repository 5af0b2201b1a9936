//! Checking the `{{NAME}}` placeholders of one text against the config.

use std::path::Path;

use crate::catalog::Catalog;
use crate::catalog::operation::Text;
use crate::config::{Config, Origin};
use crate::source::{Diagnostic, Diagnostics, Pos, Sources, closest, suggest};
use crate::template::bash_context::Need;
use crate::template::shell::Use;
use crate::template::{self, Placeholder};

/// Reports malformed and undefined placeholders of `text` (from `file`);
/// returns every well-formed placeholder and whether all were defined.
pub fn check(
    file: &Path,
    text: &Text,
    sources: &Sources,
    config: &Config,
    diags: &mut Diagnostics,
) -> (Vec<Placeholder>, bool) {
    let (found, malformed) = template::scan(&text.value);
    let mut ok = malformed.is_empty();
    for m in malformed {
        let pos = template::position(sources, file, text, m.start);
        diags.push(
            Diagnostic::error(file, pos, m.message)
                .with_help("placeholders look like `{{NAME}}` with NAME in UPPER_SNAKE"),
        );
    }
    for ph in found.iter().filter(|p| !config.is_defined(&p.name)) {
        ok = false;
        let pos = template::position(sources, file, text, ph.start);
        let help = suggest(&ph.name, config.names()).unwrap_or_else(|| {
            format!(
                "define it in config.yaml (`{}`) or list it under `secrets:`",
                ph.name.to_ascii_lowercase().replacen('_', ".", 1)
            )
        });
        diags.push(
            Diagnostic::error(
                file,
                pos,
                format!("undefined placeholder `{{{{{}}}}}`", ph.name),
            )
            .with_help(help)
            .repeating(undefined_key(&ph.name)),
        );
    }
    (found, ok)
}

/// The repeat key of every use of an undefined placeholder `name`.
fn undefined_key(name: &str) -> String {
    format!("undefined placeholder {name}")
}

/// One mistake, one message: a config key spelled wrong (`resource_grup`)
/// leaves its placeholder undefined at every use. When an undefined
/// placeholder is used in several places and the closest defined name is a
/// config value no operation uses, the uses are replaced by one error at that
/// config line (one typo in the config is likelier than the same typo in
/// several places; a single use keeps its own error and "did you mean").
pub fn explain_misspelled_keys(catalog: &Catalog, config: &Config, diags: &mut Diagnostics) {
    let Some(config_file) = config.file.as_deref() else {
        return;
    };
    let mut undefined: Vec<String> = diags
        .items
        .iter()
        .filter_map(|d| d.repeat_key()?.strip_prefix("undefined placeholder "))
        .map(str::to_string)
        .collect();
    undefined.sort();
    undefined.dedup();
    for name in undefined {
        let key = undefined_key(&name);
        let places = diags
            .items
            .iter()
            .filter(|d| d.repeat_key() == Some(key.as_str()))
            .count();
        if places < 2 {
            continue;
        }
        let Some((var, pos)) = unused_neighbour(catalog, config, &name) else {
            continue;
        };
        let uses = diags.remove_repeats(&key);
        let (key, pos) = config_key(&catalog.sources, config_file, pos, &var);
        let wanted = var
            .strip_suffix(&key.to_ascii_uppercase())
            .and_then(|prefix| name.strip_prefix(prefix))
            .map(str::to_ascii_lowercase);
        let help = match wanted {
            Some(right) => format!("rename `{key}` to `{right}`"),
            None => format!("rename `{key}` so that it defines `{name}`"),
        };
        diags.push(
            Diagnostic::error(
                config_file,
                pos,
                format!(
                    "`{key}` ({var}) is used by no operation; `{{{{{name}}}}}` is used by {uses} placeholder{}, and nothing defines it",
                    if uses == 1 { "" } else { "s" }
                ),
            )
            .with_help(help),
        );
    }
}

/// The config value from the config file closest to `name`, when no operation uses it.
fn unused_neighbour(catalog: &Catalog, config: &Config, name: &str) -> Option<(String, Pos)> {
    let var = closest(name, config.names())?.to_string();
    let Origin::File(pos) = config.vars.get(&var)?.origin else {
        return None;
    };
    let used = catalog
        .operations
        .iter()
        .any(|op| super::planner::uses_name(op, &var))
        || super::when::uses_name(catalog, &var);
    (!used).then_some((var, pos))
}

/// The key of the value at `pos` as written in the config file
/// (`resource_grup: rg-avd` → `resource_grup`) and where it starts; the
/// variable's name at `pos` when the key is not on the value's line.
fn config_key(sources: &Sources, file: &Path, pos: Pos, var: &str) -> (String, Pos) {
    let before: Option<String> = sources.line(file, pos.line).map(|line| {
        line.chars()
            .take(pos.col.saturating_sub(1) as usize)
            .collect()
    });
    let key = before.as_deref().and_then(|b| {
        let b = b.trim_end().strip_suffix(':')?;
        let start = b
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .last()?
            .0;
        Some((
            b[start..].to_string(),
            b[..start].chars().count() as u32 + 1,
        ))
    });
    match key {
        Some((key, col)) => {
            let len = key.chars().count() as u32;
            (
                key,
                Pos {
                    line: pos.line,
                    col,
                    len,
                },
            )
        }
        None => (var.to_string(), pos),
    }
}

/// Checks the values of placeholders bash reads as numbers or names (see
/// `template::bash_context`): a value that is not a plain integer or name is
/// an error naming where the value came from; a secret not set yet is a
/// warning, since only `run` knows its value (and checks it then).
pub fn check_uses(
    file: &Path,
    text: &Text,
    uses: &[Use],
    sources: &Sources,
    config: &Config,
    diags: &mut Diagnostics,
) {
    for u in uses {
        let what = match u.need {
            Need::Integer => "a plain integer",
            Need::Name => "a plain variable name",
        };
        let pos = template::position(sources, file, text, u.start);
        let (value, source) = match config.vars.get(&u.name) {
            Some(var) => (
                Some(var.value.as_str()),
                origin(config, &u.name, &var.origin),
            ),
            None => (
                config.secret_values.get(&u.name).map(String::as_str),
                format!("environment variable {} (a secret)", u.name),
            ),
        };
        let Some(value) = value else {
            diags.push(
                Diagnostic::warning(
                    file,
                    pos,
                    format!(
                        "`{{{{{}}}}}` is {}; its value is not set yet, so it cannot be checked before `run`",
                        u.name, u.context
                    ),
                )
                .with_help(format!("`run` refuses to start unless the value is {what}")),
            );
            continue;
        };
        if u.need.accepts(value) {
            continue;
        }
        diags.push(
            Diagnostic::error(
                file,
                pos,
                format!(
                    "`{{{{{}}}}}` is {}, and its value (from {source}) is not {what}",
                    u.name, u.context
                ),
            )
            .with_help(match u.need {
                Need::Integer => format!(
                    "set {source} to an integer like `42` or `-1`, or compare it as text (`[[ \"{{{{{}}}}}\" == … ]]`)",
                    u.name
                ),
                Need::Name => format!(
                    "set {source} to a name of letters, digits and `_` that does not start with a digit"
                ),
            }),
        );
    }
}

/// `config.yaml:12:5` or `environment variable NAME`.
fn origin(config: &Config, name: &str, origin: &Origin) -> String {
    match origin {
        Origin::File(p) => format!(
            "{}:{}:{}",
            config
                .file
                .as_deref()
                .unwrap_or(Path::new("config.yaml"))
                .display(),
            p.line,
            p.col
        ),
        Origin::Environment => format!("environment variable {name}"),
    }
}
