//! A project: the catalog and config under one root, loaded with every
//! problem collected, and what can be asked of it before anything runs
//! (find a module, plan it, validate everything).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::catalog::operation::PowerShellSource;
use crate::catalog::{Catalog, Module};
use crate::config::Config;
use crate::plan::{self, Plan, PlanOptions};
use crate::source::{Diagnostic, Diagnostics, suggest};

pub struct Project {
    pub root: PathBuf,
    pub catalog: Catalog,
    pub config: Config,
}

/// A problem that stops a command before any file is checked or anything runs.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProjectError(pub String);

impl Project {
    /// Loads the catalog and the config (`config_file`, or the optional
    /// `<root>/config.yaml`); every problem in them goes to `diags`.
    pub fn load(
        root: &Path,
        config_file: Option<&Path>,
        diags: &mut Diagnostics,
    ) -> Result<Project, ProjectError> {
        if !root.is_dir() {
            return Err(ProjectError(format!(
                "project root {} is not a directory",
                root.display()
            )));
        }
        let mut catalog = Catalog::load(root, diags);
        let env: HashMap<String, String> = std::env::vars().collect();
        let (file, required) = match config_file {
            Some(f) => (f.to_path_buf(), true),
            None => (root.join("config.yaml"), false),
        };
        let shown = file
            .strip_prefix(root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| file.clone());
        let config = Config::load(
            root,
            &file,
            &shown,
            required,
            &env,
            &mut catalog.sources,
            diags,
        );
        Ok(Project {
            root: root.to_path_buf(),
            catalog,
            config,
        })
    }

    /// The module with this id or folder name, or an error naming the closest ones.
    pub fn module(&self, name: &str) -> Result<&Module, ProjectError> {
        self.catalog.module(name).ok_or_else(|| {
            let names = self
                .catalog
                .modules
                .iter()
                .flat_map(|m| [m.id.as_str(), m.folder.as_str()]);
            let hint = suggest(name, names)
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
            let known: Vec<&str> = self.catalog.modules.iter().map(|m| m.id.as_str()).collect();
            ProjectError(format!(
                "unknown module `{name}`{hint} (modules: {})",
                if known.is_empty() {
                    "none under modules/".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    /// Plans `module`; `None` (with the reasons in `diags`) when it cannot run.
    pub fn plan(
        &self,
        module: &Module,
        options: PlanOptions,
        diags: &mut Diagnostics,
    ) -> Option<Plan> {
        plan::build(&self.catalog, module, &self.config, options, diags)
    }

    /// Checks `modules` as `plan` would, with their `dependencies:`, and with
    /// `all_operations` also the operations no module uses and the
    /// dependencies of every module. Findings are summarised (`summarise`).
    pub fn validate(&self, modules: &[&Module], all_operations: bool, diags: &mut Diagnostics) {
        let options = PlanOptions {
            secrets: crate::plan::SecretCheck::Unchecked,
        };
        for module in modules {
            self.plan(module, options, diags);
        }
        if all_operations {
            self.check_unused_operations(diags);
            crate::catalog::dependencies::check_all(&self.catalog, diags);
        } else {
            for module in modules {
                crate::catalog::dependencies::resolve(&self.catalog, module, diags);
            }
        }
        self.summarise(diags);
    }

    /// Makes the findings of loading and planning what a person should read:
    /// each kept once (missing secrets are found once per module), a
    /// misspelled config key reported once at its line instead of at every
    /// use of the placeholder it fails to define, and the uses of any other
    /// undefined placeholder as one error with a count.
    pub fn summarise(&self, diags: &mut Diagnostics) {
        let mut seen = HashSet::new();
        diags.items.retain(|d| seen.insert(d.headline()));
        plan::explain_misspelled_keys(&self.catalog, &self.config, diags);
        diags.collapse_repeats();
    }

    /// Takes out the findings in files none of `modules` reads (an operation
    /// no module of the run lists, another module's file): they are
    /// `validate`'s business and do not stop a run of other modules. Call it
    /// only when `modules` planned: an unknown operation may be explained by a
    /// broken file nothing seems to use.
    pub fn set_aside_unrelated(
        &self,
        modules: &[&Module],
        diags: &mut Diagnostics,
    ) -> Vec<Diagnostic> {
        let mut read: HashSet<&Path> = modules.iter().map(|m| m.file.as_path()).collect();
        read.extend(self.config.file.as_deref());
        for op in modules
            .iter()
            .flat_map(|m| &m.entries)
            .filter_map(|e| self.catalog.operation(&e.id))
        {
            read.insert(&op.file);
            if let Some(PowerShellSource::File { path, .. }) = &op.powershell {
                read.insert(path);
            }
            read.extend(
                self.catalog
                    .duplicates
                    .get(&op.id)
                    .into_iter()
                    .flatten()
                    .map(PathBuf::as_path),
            );
        }
        let (kept, aside) = std::mem::take(&mut diags.items)
            .into_iter()
            .partition(|d| read.contains(d.file.as_path()));
        diags.items = kept;
        aside
    }

    /// Operations no module uses still get their placeholders checked.
    fn check_unused_operations(&self, diags: &mut Diagnostics) {
        let used: HashSet<&str> = self
            .catalog
            .modules
            .iter()
            .flat_map(|m| m.entries.iter().map(|e| e.id.as_str()))
            .collect();
        for op in self
            .catalog
            .operations
            .iter()
            .filter(|o| !used.contains(o.id.as_str()))
        {
            plan::check_operation(&self.catalog, op, &self.config, diags);
        }
    }

    /// The simulated Azure needs no real secrets: each missing one gets a
    /// random stand-in (still masked everywhere), so a first run needs no
    /// setup. It passes Azure's password rules (upper and lower case, digits,
    /// a symbol), as a VM's administrator password must. Returns the names given stand-ins.
    pub fn use_stand_in_secrets(&mut self) -> Vec<String> {
        let missing: Vec<String> = self
            .config
            .missing_secrets()
            .into_iter()
            .map(|(n, _)| n.clone())
            .collect();
        for name in &missing {
            let value = format!(
                "Sim-{:016x}{:016x}",
                rand::random::<u64>(),
                rand::random::<u64>()
            );
            self.config.secret_values.insert(name.clone(), value);
        }
        missing
    }
}
