//! `{{NAME}}` placeholders: finding them, checking them, rendering them safely.
//!
//! A value is never spliced into script text. Each kind of script gets a
//! renderer that turns a placeholder into a reference the interpreter
//! resolves at run time (`"${NAME}"` for bash), so no value can change what
//! the script does.

pub mod shell;

use crate::catalog::operation::Text;
use crate::catalog::yaml::Pos;
use crate::diag::Sources;

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

/// The file position of byte `offset` inside `text`, which starts at `text.pos`.
///
/// Block scalars (`|`, `>`) start on the line after their indicator; their
/// content lines sit at the indentation of the file line.
pub fn position(sources: &Sources, file: &std::path::Path, text: &Text, offset: usize) -> Pos {
    let before = &text.value[..offset.min(text.value.len())];
    let line_in_value = before.matches('\n').count() as u32;
    let col_in_line = before.rsplit('\n').next().unwrap_or("").chars().count() as u32;
    let indicator = sources
        .line(file, text.pos.line)
        .and_then(|l| l.chars().nth(text.pos.col.saturating_sub(1) as usize));
    let len = text.value[offset.min(text.value.len())..]
        .find("}}")
        .map_or(2, |e| e as u32 + 2);
    match indicator {
        Some('|') | Some('>') => {
            let line = text.pos.line + 1 + line_in_value;
            let indent = sources
                .line(file, line)
                .map_or(0, |l| l.chars().take_while(|c| *c == ' ').count() as u32);
            Pos {
                line,
                col: indent + col_in_line + 1,
                len,
            }
        }
        Some(q @ ('"' | '\'')) if line_in_value == 0 => {
            let _ = q;
            Pos {
                line: text.pos.line,
                col: text.pos.col + 1 + col_in_line,
                len,
            }
        }
        _ if line_in_value == 0 => Pos {
            line: text.pos.line,
            col: text.pos.col + col_in_line,
            len,
        },
        _ => Pos {
            line: text.pos.line + line_in_value,
            col: col_in_line + 1,
            len,
        },
    }
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
}
