//! Checking the `{{NAME}}` placeholders of one text against the config.

use std::path::Path;

use crate::catalog::operation::Text;
use crate::config::Config;
use crate::diag::{Diagnostic, Diagnostics, Sources, suggest};
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
