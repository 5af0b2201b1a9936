//! The catalog: every operation and module file under the project root,
//! parsed with source positions kept.
//!
//! It knows the operation and module file formats (reading YAML itself is
//! `crate::source`'s job); it knows nothing of plans or runs.

pub mod app_after;
pub mod dependencies;
pub mod module;
pub mod ok_codes;
pub mod operation;
pub mod run_mode;
pub mod run_value;
pub mod windows_update;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::source::fields::Reader;
use crate::source::{Diagnostic, Diagnostics, Sources, file, yaml};
pub use module::{Entry, Module};
pub use operation::Operation;

#[derive(Debug, Default)]
pub struct Catalog {
    pub root: PathBuf,
    pub operations: Vec<Operation>,
    pub modules: Vec<Module>,
    pub sources: Sources,
    by_id: HashMap<String, usize>,
    /// Operation files whose id another file already defined, by that id: a
    /// run of a module that uses the id must not go ahead while it is ambiguous.
    pub duplicates: HashMap<String, Vec<PathBuf>>,
}

impl Catalog {
    /// Loads every catalog file under `root`; problems go to `diags`, loading goes on.
    pub fn load(root: &Path, diags: &mut Diagnostics) -> Catalog {
        let mut catalog = Catalog {
            root: root.to_path_buf(),
            ..Catalog::default()
        };
        for path in operation_files(root) {
            catalog.load_operation(&path, diags);
        }
        for (folder, path) in module_files(root) {
            catalog.load_module(&path, folder, diags);
        }
        catalog
    }

    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.by_id.get(id).map(|i| &self.operations[*i])
    }

    /// A module by id or by folder name (`demo` or `00-demo`).
    pub fn module(&self, name: &str) -> Option<&Module> {
        self.modules
            .iter()
            .find(|m| m.id == name)
            .or_else(|| self.modules.iter().find(|m| m.folder == name))
    }

    pub fn shown_path(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.root).unwrap_or(path).to_path_buf()
    }

    fn read(&mut self, path: &Path, diags: &mut Diagnostics) -> Option<(PathBuf, yaml::Node)> {
        let shown = self.shown_path(path);
        match file::load(&self.root, path, &shown) {
            Ok((text, node)) => {
                self.sources.insert(shown.clone(), text);
                Some((shown, node))
            }
            Err((d, text)) => {
                // Keep the text of a file that was read, so the diagnostic shows the line.
                if let Some(text) = text {
                    self.sources.insert(shown.clone(), text);
                }
                diags.push(d);
                None
            }
        }
    }

    fn load_operation(&mut self, path: &Path, diags: &mut Diagnostics) {
        let Some((shown, node)) = self.read(path, diags) else {
            return;
        };
        let mut r = Reader::new(&shown, diags);
        let Some(mut op) = operation::parse(&mut r, &node, &shown) else {
            return;
        };
        self.read_powershell_file(&mut op, diags);
        if let Some(first) = self.operation(&op.id) {
            let message = format!(
                "operation id `{}` is already defined in {}:{}",
                op.id,
                first.file.display(),
                first.id_pos.line
            );
            diags.push(Diagnostic::error(&shown, op.id_pos, message).with_help(
                "operation ids must be unique across the whole catalog; rename one of them",
            ));
            self.duplicates.entry(op.id).or_default().push(shown);
            return;
        }
        self.by_id.insert(op.id.clone(), self.operations.len());
        self.operations.push(op);
    }

    /// Reads `powershell: {file}` (relative to the operation file) into the operation.
    fn read_powershell_file(&mut self, op: &mut Operation, diags: &mut Diagnostics) {
        let Some(operation::PowerShellSource::File { path, pos, text }) = &mut op.powershell else {
            return;
        };
        let shown = normalise(&op.file.parent().unwrap_or(Path::new("")).join(&*path));
        let read = safe_read::read_inside(
            &self.root,
            &self.root.join(&shown),
            file::MAX_FILE_BYTES as u64,
        )
        .map_err(|e| {
            Diagnostic::error(
                &op.file,
                *pos,
                format!("PowerShell file {} {e}", shown.display()),
            )
            .with_help("`powershell.file` names a regular file inside the project, relative to the operation file")
        })
        .and_then(|bytes| file::decode(&bytes, &shown));
        match read {
            Ok(content) => {
                text.value = content.clone();
                self.sources.insert(shown.clone(), content);
                *path = shown;
            }
            Err(d) => diags.push(d),
        }
    }

    fn load_module(&mut self, path: &Path, folder: String, diags: &mut Diagnostics) {
        let Some((shown, node)) = self.read(path, diags) else {
            return;
        };
        let mut r = Reader::new(&shown, diags);
        let Some(module) = module::parse(&mut r, &node, folder) else {
            return;
        };
        if let Some(first) = self.modules.iter().find(|m| m.id == module.id) {
            let message = format!(
                "module id `{}` is already defined in {}:{}",
                module.id,
                first.file.display(),
                first.id_pos.line
            );
            diags.push(Diagnostic::error(&shown, module.id_pos, message));
            return;
        }
        self.modules.push(module);
    }
}

/// `a/b/../c` → `a/c`, without touching the file system.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn yaml_files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        // Not `is_file()`: a FIFO or a link out of the project is reported by the read, not skipped.
        .filter(|p| !p.is_dir() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// `capabilities/*/operations/*.yaml` then `modules/*/operations/*.yaml`, sorted.
fn operation_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for top in ["capabilities", "modules"] {
        for dir in subdirs(&root.join(top)) {
            files.extend(yaml_files_in(&dir.join("operations")));
        }
    }
    files
}

/// `modules/<folder>/module.yaml`, sorted by folder.
fn module_files(root: &Path) -> Vec<(String, PathBuf)> {
    subdirs(&root.join("modules"))
        .into_iter()
        .filter_map(|dir| {
            let file = ["module.yaml", "module.yml"]
                .iter()
                .map(|n| dir.join(n))
                .find(|p| p.symlink_metadata().is_ok())?;
            let folder = dir.file_name()?.to_string_lossy().into_owned();
            Some((folder, file))
        })
        .collect()
}
