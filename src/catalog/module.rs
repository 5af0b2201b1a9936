//! A module file (`module:`): an ordered list of operation uses with
//! parallel groups and per-use overrides.

use std::path::PathBuf;
use std::time::Duration;

use crate::catalog::operation::{RetryPolicy, Text, check_id, parse_locks, parse_retry};
use crate::catalog::run_value::RunValueDecl;
use crate::source::Pos;
use crate::source::fields::Reader;
use crate::source::yaml::{Node, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct Module {
    pub id: String,
    pub id_pos: Pos,
    /// The folder name under `modules/` (`05-golden-image`); users may name a module by it.
    pub folder: String,
    pub name: String,
    pub description: String,
    pub version: Option<String>,
    /// Path relative to the project root.
    pub file: PathBuf,
    pub entries: Vec<Entry>,
    /// Where `operations:` is, for "empty module" errors.
    pub operations_pos: Pos,
    /// `dependencies:`: the modules (by id or folder name) whose resources this
    /// one uses, so they must have run first; `catalog::dependencies` resolves them.
    pub dependencies: Vec<(String, Pos)>,
    /// Config values chosen when a run starts (`run_values:`).
    pub run_values: Vec<RunValueDecl>,
}

/// One use of an operation in a module.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub id: String,
    pub pos: Pos,
    pub parallel_group: Option<(u32, Pos)>,
    pub timeout: Option<Duration>,
    /// `expected:`: this use's expected duration, when the module makes it
    /// differ from the operation's own (a payload an earlier step downloaded).
    pub expected: Option<Duration>,
    pub retry: Option<RetryPolicy>,
    pub continue_on_error: bool,
    /// `always: true`: a cleanup, run after a failure or a cancellation too.
    pub always: bool,
    pub depends_on: Vec<(String, Pos)>,
    pub locks: Vec<(String, Pos)>,
    /// `when:`: whether the entry runs, as written (`true`, `false` or a
    /// placeholder such as `{{GOLDEN_IMAGE_REMOVE_APPX_PACKAGES}}`); the
    /// planner renders it (`plan::when`). `None`: it always runs.
    pub when: Option<Text>,
}

const MODULE_FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "version",
    "dependencies",
    "operations",
    "run_values",
];
const ENTRY_FIELDS: &[&str] = &[
    "id",
    "parallel_group",
    "timeout",
    "expected",
    "retry",
    "continue_on_error",
    "always",
    "depends_on",
    "locks",
    "when",
];
/// Bash-engine module fields accepted and ignored.
const MODULE_TOLERATED: &[&str] = &["author", "tags", "metadata", "prerequisites", "notes"];
const ENTRY_TOLERATED: &[&str] = &["name", "description", "notes", "enabled"];

pub fn parse(r: &mut Reader<'_>, root: &Node, folder: String) -> Option<Module> {
    let top = r.fields(root, "file", &["module"], &[])?;
    let node = r.required(&top, "module", "file")?;
    let f = r.fields(node, "module", MODULE_FIELDS, MODULE_TOLERATED)?;
    let id_node = r.required(&f, "id", "module");
    let id = id_node.and_then(|n| r.scalar_text(n, "id"));
    if let (Some(id), Some(n)) = (&id, id_node) {
        check_id(r, id, n.pos, "module");
    }
    let text =
        |r: &mut Reader<'_>, name: &str| r.optional(&f, name).and_then(|n| r.scalar_text(n, name));
    let name = text(r, "name").unwrap_or_default();
    let description = text(r, "description").unwrap_or_default();
    let version = text(r, "version");
    let dependencies = r
        .optional(&f, "dependencies")
        .map(|n| r.string_list(n, "dependencies"))
        .unwrap_or_default();

    let mut entries = Vec::new();
    let mut operations_pos = f.pos;
    match r.optional(&f, "operations") {
        None if f.misspells("operations") => {}
        None => r.error_help(
            f.pos,
            "module has no operations",
            "add `operations:` with at least one `- id: <operation>`",
        ),
        Some(list) => {
            operations_pos = list.pos;
            if let Some(items) = r.list(list, "operations") {
                if items.is_empty() {
                    r.error_help(
                        list.pos,
                        "module has no operations",
                        "add at least one `- id: <operation>`",
                    );
                }
                entries = items
                    .iter()
                    .filter_map(|item| parse_entry(r, item))
                    .collect();
            }
        }
    }
    let run_values = r
        .optional(&f, "run_values")
        .map(|n| super::run_value::parse(r, n))
        .unwrap_or_default();
    Some(Module {
        id: id?,
        id_pos: id_node?.pos,
        folder,
        name,
        description,
        version,
        file: r.file.clone(),
        entries,
        operations_pos,
        dependencies,
        run_values,
    })
}

fn no_operation(r: &mut Reader<'_>, pos: Pos) {
    r.error_help(
        pos,
        "module entry names no operation",
        "add `id: <operation id>` to the entry",
    );
}

fn parse_entry(r: &mut Reader<'_>, item: &Node) -> Option<Entry> {
    // `- create-vnet` is shorthand for `- id: create-vnet`.
    if let Value::Str(id) = &item.value {
        return Some(Entry {
            id: id.clone(),
            pos: item.pos,
            parallel_group: None,
            timeout: None,
            expected: None,
            retry: None,
            continue_on_error: false,
            always: false,
            depends_on: Vec::new(),
            locks: Vec::new(),
            when: None,
        });
    }
    if item.value == Value::Null {
        no_operation(r, item.pos);
        return None;
    }
    let f = r.fields(item, "operations[]", ENTRY_FIELDS, ENTRY_TOLERATED)?;
    let Some(id_node) = r.optional(&f, "id") else {
        if !f.misspells("id") {
            no_operation(r, f.pos);
        }
        return None;
    };
    let id = r.string(id_node, "id")?;
    let parallel_group = r
        .optional(&f, "parallel_group")
        .and_then(|n| r.positive_int(n, "parallel_group").map(|g| (g, n.pos)));
    let timeout = r
        .optional(&f, "timeout")
        .and_then(|n| r.duration(n, "timeout"));
    let expected = r
        .optional(&f, "expected")
        .and_then(|n| r.duration(n, "expected"));
    let retry = r
        .optional(&f, "retry")
        .and_then(|n| parse_retry(r, n, "retry"));
    let continue_on_error = r
        .optional(&f, "continue_on_error")
        .and_then(|n| r.bool(n, "continue_on_error"))
        .unwrap_or(false);
    let always = r
        .optional(&f, "always")
        .and_then(|n| r.bool(n, "always"))
        .unwrap_or(false);
    let depends_on = r
        .optional(&f, "depends_on")
        .map(|n| r.string_list(n, "depends_on"))
        .unwrap_or_default();
    let locks = r
        .optional(&f, "locks")
        .map(|n| parse_locks(r, n))
        .unwrap_or_default();
    let when = r.optional(&f, "when").and_then(|n| parse_when(r, n));
    Some(Entry {
        id,
        pos: id_node.pos,
        parallel_group,
        timeout,
        expected,
        retry,
        continue_on_error,
        always,
        depends_on,
        locks,
        when,
    })
}

/// `when:` as text: a YAML boolean becomes `true`/`false`; a string is kept
/// for the planner to render (it may be a placeholder).
fn parse_when(r: &mut Reader<'_>, node: &Node) -> Option<Text> {
    let value = match &node.value {
        Value::Bool(b) => b.to_string(),
        Value::Str(s) => s.clone(),
        _ => {
            r.error_help(
                node.pos,
                "`when` must be `true`, `false` or a placeholder",
                "write `when: \"{{CONFIG_VALUE}}\"` naming a config value that is `true` or `false`",
            );
            return None;
        }
    };
    Some(Text {
        value,
        pos: node.pos,
    })
}
