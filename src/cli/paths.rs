//! Paths given on the command line for `run`: checked before anything runs.
//!
//! The scenario file is read from the project like the catalog is; output
//! files (`--junit-path`) may not overwrite the project's own inputs, which a
//! typo or a hostile workflow input could otherwise destroy.

use std::path::{Component, Path, PathBuf};

use super::CliError;
use super::args::RunFlags;
use crate::project::Project;

pub struct RunPaths {
    /// `--junit-path` made absolute; `None` for the default in the run directory.
    pub junit: Option<PathBuf>,
    /// `--sim-scenario`, resolved inside the project.
    pub scenario: Option<PathBuf>,
}

pub fn check(project: &Project, flags: &RunFlags) -> Result<RunPaths, CliError> {
    let scenario = flags
        .sim_scenario
        .as_ref()
        .map(|s| {
            safe_read::resolve_inside(&project.root, s)
                .map_err(|e| CliError::Invalid(format!("--sim-scenario: {} {e}", s.display())))
        })
        .transpose()?;
    let junit = flags
        .junit_path
        .as_ref()
        .map(|p| {
            let absolute = if p.is_absolute() {
                p.clone()
            } else {
                project.root.join(p)
            };
            refuse_inputs(project, &absolute)
                .map_err(|why| CliError::Invalid(format!("--junit-path {}: {why}", p.display())))?;
            Ok::<_, CliError>(absolute)
        })
        .transpose()?;
    Ok(RunPaths { junit, scenario })
}

/// An output path may not land on the catalog (`capabilities/`, `modules/`) or the config.
fn refuse_inputs(project: &Project, path: &Path) -> Result<(), String> {
    // Both readings of `..`: the kernel's (after symlinks) and the text's.
    let written = lexical(path);
    let resolved = resolve_for_writing(&written);
    let root = std::fs::canonicalize(&project.root).unwrap_or(project.root.clone());
    let lexical_root = lexical(&project.root);
    for dir in ["capabilities", "modules"] {
        if resolved.starts_with(root.join(dir)) || written.starts_with(lexical_root.join(dir)) {
            return Err(format!(
                "would write into `{dir}/`, which holds the project's own files; choose a path outside `capabilities/` and `modules/`"
            ));
        }
    }
    let config = project
        .config
        .file
        .as_ref()
        .map(|f| resolve_for_writing(&project.root.join(f)));
    if config.as_ref() == Some(&resolved) || resolved == root.join("config.yaml") {
        return Err("would overwrite the config file; choose another path".into());
    }
    if resolved.is_dir() {
        return Err("is a directory; give a file name".into());
    }
    Ok(())
}

/// `a/b/../c` → `a/c`, without touching the file system.
fn lexical(path: &Path) -> PathBuf {
    let path = std::path::absolute(path).unwrap_or(path.to_path_buf());
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Where a write to `path` would land: the longest existing ancestor with its
/// symlinks resolved, then the rest with `..` applied.
fn resolve_for_writing(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while std::fs::symlink_metadata(&existing).is_err() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut out = std::fs::canonicalize(&existing).unwrap_or(existing);
    for part in rest.iter().rev() {
        match Path::new(part).components().next() {
            Some(Component::ParentDir) => {
                out.pop();
            }
            Some(Component::CurDir) | None => {}
            Some(_) => out.push(part),
        }
    }
    out
}
