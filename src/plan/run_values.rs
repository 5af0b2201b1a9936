//! The run values of a plan: which config values a run chooses when it
//! starts (a module's `run_values:` whose config value is one of its `when`
//! words), with the chooser's rendered script, or the value already chosen.

use std::time::Duration;

use serde::Serialize;

use super::Script;
use crate::catalog::{Catalog, Module};
use crate::config::Config;
use crate::record::event::OpKind;
use crate::source::{Diagnostic, Diagnostics, suggest};

/// One value chosen when the run starts.
#[derive(Clone, Debug, Serialize)]
pub struct RunValue {
    /// The config variable (`COMPUTE_IMAGE_VERSION`).
    pub name: String,
    /// The config's word that asked for the choice (`auto`).
    pub asked: String,
    /// The operation that chooses it.
    pub from: String,
    /// The value of this run; `None` until the run starts (`plan`, `validate`).
    pub value: Option<String>,
    /// The chooser's rendered bash script.
    #[serde(skip)]
    pub script: String,
    /// How long the chooser may take.
    #[serde(skip)]
    pub timeout: Duration,
}

/// The run values `module` declares that this config asks to choose, or
/// that were chosen already (`Config::chosen`); problems go to `diags`.
pub fn plan(
    catalog: &Catalog,
    module: &Module,
    config: &Config,
    diags: &mut Diagnostics,
) -> Vec<RunValue> {
    let file = module.file.as_path();
    let mut out = Vec::new();
    for decl in &module.run_values {
        let Some(var) = config.vars.get(&decl.name) else {
            diags.push(
                Diagnostic::error(
                    file,
                    decl.pos,
                    format!("run value `{}` is not a config value", decl.name),
                )
                .with_help(
                    "define it in the config file (e.g. `compute.image_version: auto` for COMPUTE_IMAGE_VERSION)",
                ),
            );
            continue;
        };
        let asked = match config.chosen.get(&decl.name) {
            Some(word) => word.clone(),
            None if decl.when.contains(&var.value) => var.value.clone(),
            // An explicit value is used as written.
            None => continue,
        };
        let Some(script) = chooser(catalog, module, decl, config, diags) else {
            continue;
        };
        out.push(RunValue {
            name: decl.name.clone(),
            asked,
            from: decl.from.clone(),
            value: config
                .chosen
                .contains_key(&decl.name)
                .then(|| var.value.clone()),
            script,
            timeout: catalog
                .operation(&decl.from)
                .and_then(|op| op.timeout)
                .unwrap_or(super::default_timeout(OpKind::Shell)),
        });
    }
    out
}

/// The chooser's script rendered with the config, when it is a shell operation.
fn chooser(
    catalog: &Catalog,
    module: &Module,
    decl: &crate::catalog::run_value::RunValueDecl,
    config: &Config,
    diags: &mut Diagnostics,
) -> Option<String> {
    let file = module.file.as_path();
    let Some(op) = catalog.operation(&decl.from) else {
        let help = suggest(&decl.from, catalog.operations.iter().map(|o| o.id.as_str()))
            .unwrap_or_else(|| {
                "name a shell operation that prints the value as its last line".into()
            });
        diags.push(
            Diagnostic::error(
                file,
                decl.from_pos,
                format!("no operation has id `{}`", decl.from),
            )
            .with_help(help),
        );
        return None;
    };
    match super::check_operation(catalog, op, config, diags).0 {
        Script::Bash(text) if op.kind == OpKind::Shell => Some(text),
        Script::Invalid => None,
        _ => {
            diags.push(
                Diagnostic::error(
                    file,
                    decl.from_pos,
                    format!(
                        "run value `{}` comes from `{}`, a {} operation",
                        decl.name,
                        decl.from,
                        op.kind.name()
                    ),
                )
                .with_help("a run value is chosen on the runner: name a `kind: shell` operation"),
            );
            None
        }
    }
}
