//! Running inside GitHub Actions: what the runner gave us (inputs as
//! `INPUT_*` variables, file-command paths, the inputs that switch reports
//! off) and the first thing printed, the masks.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

/// An input whose value is not one the action accepts.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// Where the runner wants to hear from us, and what the user turned off.
#[derive(Clone, Debug, Default)]
pub struct ActionsTargets {
    /// `GITHUB_STEP_SUMMARY`, when the `summary` input is on.
    pub step_summary: Option<PathBuf>,
    /// `GITHUB_OUTPUT`.
    pub outputs: Option<PathBuf>,
    /// The `annotations` input.
    pub annotations: bool,
    /// `GITHUB_WORKSPACE`: path outputs are given relative to it, because the
    /// host mounts it elsewhere in a container action.
    pub workspace: Option<PathBuf>,
}

/// The environment variable the runner sets for input `name`: uppercased,
/// spaces (only spaces) turned into `_`, so `max-parallel` is `INPUT_MAX-PARALLEL`.
pub fn input_var(name: &str) -> String {
    format!("INPUT_{}", name.replace(' ', "_").to_uppercase())
}

/// Reads inputs from an environment snapshot, as @actions/core's `getInput` does (trimmed; empty is unset).
pub struct Inputs<'e> {
    env: &'e HashMap<String, String>,
}

impl<'e> Inputs<'e> {
    pub fn new(env: &'e HashMap<String, String>) -> Self {
        Inputs { env }
    }

    pub fn get(&self, name: &str) -> Option<&'e str> {
        self.env
            .get(&input_var(name))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// `true`/`True`/`TRUE` or `false`/`False`/`FALSE`, as `getBooleanInput` accepts.
    pub fn boolean(&self, name: &str, default: bool) -> Result<bool, InputError> {
        match self.get(name) {
            None => Ok(default),
            Some("true" | "True" | "TRUE") => Ok(true),
            Some("false" | "False" | "FALSE") => Ok(false),
            Some(other) => Err(InputError(format!(
                "input `{name}` must be `true` or `false`, found `{other}` (Support boolean input list: `true | True | TRUE | false | False | FALSE`)"
            ))),
        }
    }
}

pub struct Actions {
    pub env: HashMap<String, String>,
}

impl Actions {
    /// `Some` when `GITHUB_ACTIONS=true`.
    pub fn detect() -> Option<Actions> {
        let env: HashMap<String, String> = std::env::vars().collect();
        (env.get("GITHUB_ACTIONS").map(String::as_str) == Some("true")).then_some(Actions { env })
    }

    pub fn path(&self, var: &str) -> Option<PathBuf> {
        self.env
            .get(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }

    pub fn targets(&self) -> Result<ActionsTargets, InputError> {
        let inputs = Inputs::new(&self.env);
        Ok(ActionsTargets {
            step_summary: if inputs.boolean("summary", true)? {
                self.path("GITHUB_STEP_SUMMARY")
            } else {
                None
            },
            outputs: self.path("GITHUB_OUTPUT"),
            annotations: inputs.boolean("annotations", true)?,
            workspace: self.path("GITHUB_WORKSPACE"),
        })
    }

    pub fn annotations_on(&self) -> Result<bool, InputError> {
        Inputs::new(&self.env).boolean("annotations", true)
    }

    /// Secret values that arrived as inputs (the runner masks its own secrets,
    /// but not values a workflow passes in plain inputs).
    pub fn input_secrets(&self) -> Vec<String> {
        Inputs::new(&self.env)
            .get("client-secret")
            .map(str::to_string)
            .into_iter()
            .collect()
    }
}

/// `::add-mask::` for every secret value, before anything else is printed.
pub fn mask<'a>(values: impl IntoIterator<Item = &'a String>) {
    let mut out = std::io::stdout().lock();
    for v in values {
        for line in crate::github::commands::add_mask(v) {
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = out.flush();
}
