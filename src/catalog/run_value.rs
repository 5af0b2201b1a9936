//! `run_values:` of a module file: config values chosen when a run starts
//! instead of written by hand, each by an operation that prints the value.
//!
//! `compute.image_version: auto` is the case this exists for: a weekly
//! rebuild needs a new image version every week, and `resume` must continue
//! the version its run chose. The module names the operation that chooses
//! (one that asks Azure, e.g. `az sig image-version list`) and the config
//! words that ask for it; any other config value is used as written.

use crate::config::is_var_name;
use crate::source::Pos;
use crate::source::fields::Reader;
use crate::source::yaml::Node;

/// One declared run value.
#[derive(Clone, Debug, PartialEq)]
pub struct RunValueDecl {
    /// The config variable it sets (`COMPUTE_IMAGE_VERSION`).
    pub name: String,
    pub pos: Pos,
    /// The shell operation whose last line of output is the value.
    pub from: String,
    pub from_pos: Pos,
    /// The config values that ask for a choice (`auto`, `auto-date`); the
    /// operation gets the one given as `GOLDSMITH_RUN_VALUE`.
    pub when: Vec<String>,
}

const FIELDS: &[&str] = &["name", "from", "when"];

/// Reads `run_values:`, a list of `{name, from, when}`.
pub fn parse(r: &mut Reader<'_>, node: &Node) -> Vec<RunValueDecl> {
    let Some(items) = r.list(node, "run_values") else {
        return Vec::new();
    };
    let mut out: Vec<RunValueDecl> = Vec::new();
    for item in items {
        let Some(decl) = parse_one(r, item) else {
            continue;
        };
        if let Some(first) = out.iter().find(|d| d.name == decl.name) {
            r.error(
                decl.pos,
                format!(
                    "run value `{}` is declared twice (first on line {})",
                    decl.name, first.pos.line
                ),
            );
            continue;
        }
        out.push(decl);
    }
    out
}

fn parse_one(r: &mut Reader<'_>, item: &Node) -> Option<RunValueDecl> {
    let f = r.fields(item, "run_values[]", FIELDS, &[])?;
    let name_node = r.required(&f, "name", "run_values[]");
    let from_node = r.required(&f, "from", "run_values[]");
    let when_node = r.required(&f, "when", "run_values[]");
    let name = name_node.and_then(|n| r.string(n, "name"));
    let from = from_node.and_then(|n| r.string(n, "from"));
    let when: Vec<String> = when_node
        .map(|n| r.string_list(n, "when"))
        .unwrap_or_default()
        .into_iter()
        .map(|(w, _)| w)
        .collect();
    let (name, name_node, from, from_node, when_node) =
        (name?, name_node?, from?, from_node?, when_node?);
    if !is_var_name(&name) {
        r.error_help(
            name_node.pos,
            format!("run value `{name}` is not a variable name"),
            "name the config variable it sets, in UPPER_SNAKE (`compute.image_version` is COMPUTE_IMAGE_VERSION)",
        );
        return None;
    }
    if when.is_empty() {
        r.error_help(
            when_node.pos,
            format!("run value `{name}` has no `when` words"),
            "list the config values that ask for a choice, e.g. `when: [auto]`",
        );
        return None;
    }
    Some(RunValueDecl {
        name,
        pos: name_node.pos,
        from,
        from_pos: from_node.pos,
        when,
    })
}
