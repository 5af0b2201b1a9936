//! Checking the `{{NAME}}` placeholders of one text against the config.

use std::path::Path;

use crate::catalog::operation::Text;
use crate::config::{Config, Origin};
use crate::source::{Diagnostic, Diagnostics, Sources, suggest};
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
            .with_help(help),
        );
    }
    (found, ok)
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
