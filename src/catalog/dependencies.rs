//! Module dependencies (`dependencies:` in a module file): the modules whose
//! resources a module uses, so they must have run before it, and the order to
//! run them in.
//!
//! A dependency names a module by id or by folder name (`networking` or
//! `01-networking`, as the bash engine wrote them). Unknown names and cycles
//! are errors at the `dependencies:` item that causes them.

use std::collections::HashMap;

use super::{Catalog, Module};
use crate::source::{Diagnostic, Diagnostics, suggest};

/// The modules `module` depends on, directly or through others, each after its
/// own dependencies (`module` itself not included). Problems go to `diags`;
/// the list then holds what could be resolved.
pub fn resolve<'a>(
    catalog: &'a Catalog,
    module: &'a Module,
    diags: &mut Diagnostics,
) -> Vec<&'a Module> {
    let mut walk = Walk::new(catalog);
    walk.visit(module, diags);
    walk.order.pop();
    walk.order
}

/// Checks the dependencies of every module, reporting each unknown name and
/// each cycle once (`validate`).
pub fn check_all(catalog: &Catalog, diags: &mut Diagnostics) {
    let mut walk = Walk::new(catalog);
    for module in &catalog.modules {
        walk.visit(module, diags);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    /// On the current path: meeting it again closes a cycle.
    Visiting,
    Done,
}

/// A depth-first walk over `dependencies:`; `order` lists each module after its dependencies.
struct Walk<'a> {
    catalog: &'a Catalog,
    marks: HashMap<&'a str, Mark>,
    path: Vec<&'a str>,
    order: Vec<&'a Module>,
}

impl<'a> Walk<'a> {
    fn new(catalog: &'a Catalog) -> Self {
        Walk {
            catalog,
            marks: HashMap::new(),
            path: Vec::new(),
            order: Vec::new(),
        }
    }

    fn visit(&mut self, module: &'a Module, diags: &mut Diagnostics) {
        if self.marks.contains_key(module.id.as_str()) {
            return;
        }
        self.marks.insert(&module.id, Mark::Visiting);
        self.path.push(&module.id);
        for (name, pos) in &module.dependencies {
            let Some(dep) = self.catalog.module(name) else {
                diags.push(
                    Diagnostic::error(
                        &module.file,
                        *pos,
                        format!("`{}` depends on `{name}`, which is not a module", module.id),
                    )
                    .with_help(self.known_help(name)),
                );
                continue;
            };
            if self.marks.get(dep.id.as_str()) == Some(&Mark::Visiting) {
                let start = self.path.iter().position(|m| *m == dep.id).unwrap_or(0);
                let mut cycle: Vec<&str> = self.path[start..].to_vec();
                cycle.push(&dep.id);
                diags.push(
                    Diagnostic::error(
                        &module.file,
                        *pos,
                        format!("module dependencies form a cycle: {}", cycle.join(" → ")),
                    )
                    .with_help("a module cannot need itself, directly or through others; remove one of these dependencies"),
                );
                continue;
            }
            self.visit(dep, diags);
        }
        self.path.pop();
        self.marks.insert(&module.id, Mark::Done);
        self.order.push(module);
    }

    fn known_help(&self, name: &str) -> String {
        let names = self
            .catalog
            .modules
            .iter()
            .flat_map(|m| [m.id.as_str(), m.folder.as_str()]);
        suggest(name, names).unwrap_or_else(|| {
            let ids: Vec<&str> = self.catalog.modules.iter().map(|m| m.id.as_str()).collect();
            format!(
                "`dependencies` names modules by id or folder name: {}",
                ids.join(", ")
            )
        })
    }
}
