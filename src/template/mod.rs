//! `{{NAME}}` placeholders: finding them, checking them, rendering them safely.
//!
//! A value is never spliced into script text. Each kind of script gets a
//! renderer that turns a placeholder into a reference the interpreter
//! resolves at run time (`"${NAME}"` for bash), so no value can change what
//! the script does.

pub mod bash_context;
pub mod shell;

use std::path::Path;

use crate::catalog::operation::Text;
use crate::source::{Pos, Sources};

/// One `{{NAME}}` in a text, by byte range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placeholder {
    pub name: String,
    pub start: usize,
    pub end: usize,
}

/// A `{{` that does not form a valid placeholder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    pub start: usize,
    pub message: String,
}

/// Finds every `{{ NAME }}` (spaces inside the braces allowed).
pub fn scan(text: &str) -> (Vec<Placeholder>, Vec<Malformed>) {
    let mut found = Vec::new();
    let mut bad = Vec::new();
    let mut i = 0;
    while let Some(rel) = text[i..].find("{{") {
        let start = i + rel;
        let Some(close_rel) = text[start + 2..].find("}}") else {
            bad.push(Malformed {
                start,
                message: "`{{` without a closing `}}`".into(),
            });
            break;
        };
        let end = start + 2 + close_rel + 2;
        let inner = &text[start + 2..end - 2];
        let name = inner.trim();
        if crate::config::is_var_name(name) && !inner.contains('\n') {
            found.push(Placeholder {
                name: name.to_string(),
                start,
                end,
            });
        } else {
            bad.push(Malformed {
                start,
                message: format!("`{}` is not a valid placeholder", &text[start..end]),
            });
        }
        i = end;
    }
    (found, bad)
}

/// The file position of the `{{` at byte `offset` inside `text`.
///
/// The value of a block scalar (`|`, `>`) has its indentation removed, a
/// quoted one its quotes, a folded one its line breaks; so rather than undo
/// those, this finds the same `{{` in the file: the n-th one from where the
/// scalar starts. Falls back to the start of the scalar.
pub fn position(sources: &Sources, file: &Path, text: &Text, offset: usize) -> Pos {
    let offset = offset.min(text.value.len());
    let len = text.value[offset..].find("}}").map_or(2, |e| e as u32 + 2);
    let nth = text.value[..offset].matches("{{").count();
    match find_in_source(sources, file, text.pos, nth) {
        Some((line, col)) => Pos { line, col, len },
        None => Pos { len, ..text.pos },
    }
}

/// Line and column of the `nth` `{{` (0-based) at or after `start` in `file`.
fn find_in_source(sources: &Sources, file: &Path, start: Pos, nth: usize) -> Option<(u32, u32)> {
    let source = sources.text(file)?;
    let line_start = source
        .split_inclusive('\n')
        .take(start.line.checked_sub(1)? as usize)
        .map(str::len)
        .sum::<usize>();
    let from = source[line_start..]
        .char_indices()
        .nth(start.col.saturating_sub(1) as usize)
        .map_or(source.len(), |(i, _)| line_start + i);
    let (at, _) = source[from..].match_indices("{{").nth(nth)?;
    let before = &source[..from + at];
    let line = before.matches('\n').count() as u32 + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() as u32 + 1;
    Some((line, col))
}

/// The file position of any byte `offset` inside `text` (a syntax error, say).
///
/// Exact for a whole file and for literal block scalars (`|`), whose span
/// starts at their first content line and whose lines keep the block's
/// indentation; for other multi-line scalars the line is right and the column
/// approximate.
pub fn offset_position(sources: &Sources, file: &Path, text: &Text, offset: usize) -> Pos {
    let offset = offset.min(text.value.len());
    let before = &text.value[..offset];
    let line_in_value = before.matches('\n').count() as u32;
    let col_in_line = before.rsplit('\n').next().unwrap_or("").chars().count() as u32;
    let whole_file = sources.text(file) == Some(text.value.as_str());
    let quoted = !whole_file
        && sources
            .line(file, text.pos.line)
            .and_then(|l| l.chars().nth(text.pos.col.saturating_sub(1) as usize))
            .is_some_and(|c| c == '"' || c == '\'');
    let (line, col) = if whole_file {
        (1 + line_in_value, 1 + col_in_line)
    } else if line_in_value == 0 {
        (
            text.pos.line,
            text.pos.col + u32::from(quoted) + col_in_line,
        )
    } else {
        (text.pos.line + line_in_value, text.pos.col + col_in_line)
    };
    Pos { line, col, len: 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_placeholders_and_reports_malformed_ones() {
        let (found, bad) = scan("a {{ X }} b {{Y_2}} {{bad name}} {{");
        assert_eq!(
            found,
            vec![
                Placeholder {
                    name: "X".into(),
                    start: 2,
                    end: 9
                },
                Placeholder {
                    name: "Y_2".into(),
                    start: 12,
                    end: 19
                },
            ]
        );
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[0].message, "`{{bad name}}` is not a valid placeholder");
    }

    /// Parses `yaml` as `key: <scalar>` and returns the position of the `n`-th `{{` of the value.
    fn pos_of_nth(yaml: &str, n: usize) -> (u32, u32) {
        let file = Path::new("op.yaml");
        let root = crate::source::file::parse(yaml, file).expect("yaml");
        let crate::source::yaml::Value::Map(entries) = root.value else {
            panic!("a mapping");
        };
        let node = &entries[0].1;
        let crate::source::yaml::Value::Str(value) = &node.value else {
            panic!("a string");
        };
        let text = Text {
            value: value.clone(),
            pos: node.pos,
        };
        let mut sources = Sources::default();
        sources.insert(file.to_path_buf(), yaml.to_string());
        let offset = value.match_indices("{{").nth(n).expect("placeholder").0;
        let pos = position(&sources, file, &text, offset);
        (pos.line, pos.col)
    }

    #[test]
    fn offsets_map_to_file_positions() {
        let file = Path::new("op.yaml");
        let yaml = "script: |\n  if (x {\n    y\n";
        let root = crate::source::file::parse(yaml, file).expect("yaml");
        let crate::source::yaml::Value::Map(entries) = root.value else {
            panic!("a mapping")
        };
        let node = &entries[0].1;
        let crate::source::yaml::Value::Str(value) = &node.value else {
            panic!("a string")
        };
        let text = Text {
            value: value.clone(),
            pos: node.pos,
        };
        let mut sources = Sources::default();
        sources.insert(file.to_path_buf(), yaml.to_string());
        let at = |needle: &str| {
            let p = offset_position(&sources, file, &text, value.find(needle).expect("needle"));
            (p.line, p.col)
        };
        assert_eq!(at("x"), (2, 7));
        assert_eq!(at("y"), (3, 5));
        let whole = Path::new("s.ps1");
        sources.insert(whole.to_path_buf(), "a\n bc\n".to_string());
        let t = Text {
            value: "a\n bc\n".into(),
            pos: Pos {
                line: 1,
                col: 1,
                len: 0,
            },
        };
        let p = offset_position(&sources, whole, &t, 4);
        assert_eq!((p.line, p.col), (2, 3));
    }

    #[test]
    fn positions_are_file_lines_and_columns() {
        let block = "script: |\n  echo {{A}}\n    echo \"{{B}}\"\n";
        assert_eq!(pos_of_nth(block, 0), (2, 8));
        assert_eq!(pos_of_nth(block, 1), (3, 11));
        let leading_blank = "script: |\n\n  x\n  {{A}}\n";
        assert_eq!(pos_of_nth(leading_blank, 0), (4, 3));
        let folded = "script: >\n  a\n  b {{A}}\n";
        assert_eq!(pos_of_nth(folded, 0), (3, 5));
        assert_eq!(pos_of_nth("script: \"x {{A}}\"\n", 0), (1, 12));
        assert_eq!(pos_of_nth("script: x {{A}} {{B}}\n", 1), (1, 17));
        assert_eq!(pos_of_nth("script: caf\u{e9} {{A}}\n", 0), (1, 14));
    }
}
