//! Typed reads from a spanned YAML tree, with an error at the exact node.
//!
//! `Reader` collects diagnostics instead of failing: a missing or mistyped
//! field yields `None` plus one diagnostic, and checking goes on.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::yaml::{Key, Node, Value};
use super::{Diagnostic, Diagnostics, Pos, suggest};
use crate::duration::parse_duration;

pub struct Reader<'d> {
    pub file: PathBuf,
    pub diags: &'d mut Diagnostics,
}

/// The fields of one mapping, already checked for unknown and duplicate keys.
pub struct Fields<'n> {
    pub pos: Pos,
    entries: &'n [(Key, Node)],
    /// Keys reported as unknown, so a misspelt required field is not reported twice.
    unknown: Vec<&'n str>,
}

impl<'n> Fields<'n> {
    pub fn get(&self, name: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| v)
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some_and(|n| n.value != Value::Null)
    }

    /// Whether an unknown key looks like a misspelling of `name` (and was reported as one).
    pub fn misspells(&self, name: &str) -> bool {
        self.unknown.iter().any(|k| suggest(k, [name]).is_some())
    }
}

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Int(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Str(_) => "a string",
        Value::Seq(_) => "a list",
        Value::Map(_) => "a mapping",
    }
}

impl<'d> Reader<'d> {
    pub fn new(file: &Path, diags: &'d mut Diagnostics) -> Self {
        Reader {
            file: file.to_path_buf(),
            diags,
        }
    }

    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(&self.file, pos, message));
    }

    pub fn error_help(&mut self, pos: Pos, message: impl Into<String>, help: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(&self.file, pos, message).with_help(help));
    }

    pub fn warning(&mut self, pos: Pos, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::warning(&self.file, pos, message));
    }

    fn wrong_type(&mut self, node: &Node, what: &str, expected: &str) {
        self.error(
            node.pos,
            format!(
                "`{what}` must be {expected}, found {}",
                type_name(&node.value)
            ),
        );
    }

    /// A string that would be the right value without its quotes.
    fn quoted(&mut self, node: &Node, what: &str, expected: &str, text: &str) {
        self.error_help(
            node.pos,
            format!("`{what}` must be {expected}, found the string \"{text}\""),
            format!("remove the quotes: `{}: {}`", leaf(what), text.trim()),
        );
    }

    /// Checks that `node` is a mapping whose keys are all in `known` or `tolerated`.
    pub fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        known: &[&str],
        tolerated: &[&str],
    ) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            self.wrong_type(node, what, "a mapping");
            return None;
        };
        let mut unknown = Vec::new();
        for (i, (key, _)) in entries.iter().enumerate() {
            if let Some((first, _)) = entries[..i].iter().find(|(k, _)| k.name == key.name) {
                self.error(
                    key.pos,
                    format!(
                        "duplicate field `{}` in `{what}` (first set on line {})",
                        key.name, first.pos.line
                    ),
                );
            }
            if known.contains(&key.name.as_str()) || tolerated.contains(&key.name.as_str()) {
                continue;
            }
            unknown.push(key.name.as_str());
            let message = format!("unknown field `{}` in `{what}`", key.name);
            match suggest(&key.name, known.iter().copied()) {
                Some(help) => self.error_help(key.pos, message, help),
                None => self.error_help(
                    key.pos,
                    message,
                    format!("expected one of: {}", known.join(", ")),
                ),
            }
        }
        Some(Fields {
            pos: node.pos,
            entries,
            unknown,
        })
    }

    pub fn required<'n>(
        &mut self,
        fields: &Fields<'n>,
        name: &str,
        what: &str,
    ) -> Option<&'n Node> {
        match fields.get(name) {
            Some(n) if n.value != Value::Null => Some(n),
            // "unknown field `scirpt`… did you mean `script`?" already says it.
            _ if fields.misspells(name) => None,
            _ => {
                self.error(
                    fields.pos,
                    format!("`{what}` is missing required field `{name}`"),
                );
                None
            }
        }
    }

    /// A non-null optional field.
    pub fn optional<'n>(&self, fields: &Fields<'n>, name: &str) -> Option<&'n Node> {
        fields.get(name).filter(|n| n.value != Value::Null)
    }

    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.wrong_type(node, what, "a string");
                None
            }
        }
    }

    /// A scalar read as text: `name: 1.0` is the string "1.0".
    pub fn scalar_text(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => {
                self.wrong_type(node, what, "a string");
                None
            }
        }
    }

    pub fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            Value::Str(s) if s.parse::<bool>().is_ok() => {
                self.quoted(node, what, "`true` or `false`", s);
                None
            }
            _ => {
                self.wrong_type(node, what, "`true` or `false`");
                None
            }
        }
    }

    pub fn positive_int(&mut self, node: &Node, what: &str) -> Option<u32> {
        match &node.value {
            Value::Int(i) if *i >= 1 && *i <= u32::MAX as i64 => Some(*i as u32),
            Value::Int(i) => {
                self.error(
                    node.pos,
                    format!("`{what}` must be a positive integer, found {i}"),
                );
                None
            }
            Value::Str(s) if s.trim().parse::<u32>().is_ok_and(|i| i >= 1) => {
                self.quoted(node, what, "a positive integer", s);
                None
            }
            _ => {
                self.wrong_type(node, what, "a positive integer");
                None
            }
        }
    }

    pub fn list<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            _ => {
                self.wrong_type(node, what, "a list");
                None
            }
        }
    }

    /// A list of strings; a single string is accepted as a list of one.
    pub fn string_list(&mut self, node: &Node, what: &str) -> Vec<(String, Pos)> {
        match &node.value {
            Value::Str(s) => vec![(s.clone(), node.pos)],
            Value::Seq(items) => items
                .iter()
                .filter_map(|item| self.string(item, what).map(|s| (s, item.pos)))
                .collect(),
            _ => {
                self.wrong_type(node, what, "a list of strings");
                Vec::new()
            }
        }
    }

    /// `15m`, `90s`, `1h30m`, `500ms`, or a bare number of seconds; must be > 0.
    pub fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        let parsed = match &node.value {
            Value::Int(i) if *i > 0 => Ok(Duration::from_secs(*i as u64)),
            Value::Int(i) => Err(format!("`{what}` must be greater than zero, found {i}")),
            Value::Float(f) if *f > 0.0 && f.is_finite() && *f < 1e9 => {
                Ok(Duration::from_secs_f64(*f))
            }
            Value::Float(f) => Err(format!("`{what}` must be greater than zero, found {f}")),
            Value::Str(s) if s.trim_start().starts_with('-') => {
                Err(format!("`{what}` must be greater than zero, found `{s}`"))
            }
            Value::Str(s) => parse_duration(s).and_then(|d| {
                if d.is_zero() {
                    Err(format!("`{what}` must be greater than zero, found `{s}`"))
                } else {
                    Ok(d)
                }
            }),
            _ => Err(format!(
                "`{what}` must be a duration like `15m` or `90s`, found {}",
                type_name(&node.value)
            )),
        };
        match parsed {
            Ok(d) => Some(d),
            Err(message) => {
                self.error_help(
                    node.pos,
                    message,
                    "write a duration like `90s`, `15m` or `1h30m`",
                );
                None
            }
        }
    }
}

/// `retry.attempts` → `attempts`: the key as written in the file.
fn leaf(what: &str) -> &str {
    what.rsplit('.').next().unwrap_or(what)
}
