//! Reading one YAML file safely: size cap, UTF-8 check, parse budget.
//!
//! Any failure becomes a `Diagnostic` at the best position we can name, so a
//! bad file never aborts the load of the others.

use std::path::Path;

use super::yaml::Node;
use super::{Diagnostic, Pos};

/// Catalog and config files are hand-written; anything larger is a mistake or an attack.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Deeper nesting than this is never needed by a module, an operation or a config.
const MAX_DEPTH: usize = 64;

/// Reads `path` (shown to users as `shown`), which must resolve under `root`,
/// and returns its text and tree. On a syntax error the text read so far is
/// returned with the diagnostic, so the diagnostic can show the line.
pub fn load(
    root: &Path,
    path: &Path,
    shown: &Path,
) -> Result<(String, Node), (Diagnostic, Option<String>)> {
    let bytes = read(root, path, shown).map_err(|d| (d, None))?;
    let text = decode(&bytes, shown)
        .map_err(|d| (d, Some(String::from_utf8_lossy(&bytes).into_owned())))?;
    match parse(&text, shown) {
        Ok(node) => Ok((text, node)),
        Err(d) => Err((d, Some(text))),
    }
}

/// The bytes of a catalog or config file: inside `root`, a regular file, at most `MAX_FILE_BYTES`.
pub fn read(root: &Path, path: &Path, shown: &Path) -> Result<Vec<u8>, Diagnostic> {
    safe_read::read_inside(root, path, MAX_FILE_BYTES as u64).map_err(|e| {
        let d = Diagnostic::error(
            shown,
            Pos {
                line: 1,
                col: 1,
                len: 0,
            },
            match &e {
                // The wording users already know from `decode`.
                safe_read::ReadError::TooLarge { size, limit } => format!(
                    "file is {size} bytes, larger than the {limit} byte limit for catalog files"
                ),
                _ => format!("{} {e}", shown.display()),
            },
        );
        match e {
            safe_read::ReadError::TooLarge { .. } => d.with_help(
                "split it up, or move large scripts into a `powershell: {file: ...}`",
            ),
            safe_read::ReadError::Outside(_) | safe_read::ReadError::NotRegular(_) => {
                d.with_help("catalog files must be regular files inside the project; copy the file in instead of linking to it")
            }
            _ => d,
        }
    })
}

pub fn decode(bytes: &[u8], shown: &Path) -> Result<String, Diagnostic> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::error(
            shown,
            Pos {
                line: 1,
                col: 1,
                len: 0,
            },
            format!(
                "file is {} bytes, larger than the {} byte limit for catalog files",
                bytes.len(),
                MAX_FILE_BYTES
            ),
        )
        .with_help("split it up, or move large scripts into a `powershell: {file: ...}`"));
    }
    String::from_utf8(bytes.to_vec()).map_err(|e| {
        let good = &bytes[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|b| **b == b'\n').count() as u32 + 1;
        let line_start = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let col = String::from_utf8_lossy(&good[line_start..]).chars().count() as u32 + 1;
        Diagnostic::error(
            shown,
            Pos { line, col, len: 1 },
            format!(
                "file is not valid UTF-8 (byte 0x{:02x} at offset {})",
                bytes[good.len()],
                good.len()
            ),
        )
        .with_help("save the file as UTF-8")
    })
}

pub fn parse(text: &str, shown: &Path) -> Result<Node, Diagnostic> {
    let mut options = serde_saphyr::Options::default();
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.max_events = 200_000;
    budget.max_aliases = 1_000;
    budget.max_nodes = 200_000;
    options.budget = Some(budget);
    options.with_snippet = false;
    // YAML 1.2: only `true`/`false` are booleans, so `on:` stays a key (as in GitHub workflows).
    options.strict_booleans = true;
    // Duplicate keys reach `Reader::fields`, which names the field and both lines.
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    serde_saphyr::from_str_with_options::<Node>(text, options).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos {
                line: l.line() as u32,
                col: l.column() as u32,
                len: 1,
            })
            .unwrap_or(Pos {
                line: 1,
                col: 1,
                len: 0,
            });
        let (message, help) = explain(e.without_snippet());
        let d = Diagnostic::error(shown, pos, message);
        match help {
            Some(help) => d.with_help(help),
            None => d,
        }
    })
}

/// The parser's error as a message for people, and what to do about it when we know.
fn explain(e: &serde_saphyr::Error) -> (String, Option<String>) {
    use serde_saphyr::budget::BudgetBreach;
    let nested = (
        "YAML is nested too deeply".to_string(),
        Some(format!(
            "catalog files need at most {MAX_DEPTH} levels; look for unclosed `[` or `{{`"
        )),
    );
    match e {
        serde_saphyr::Error::Budget { breach, .. } => match breach {
            BudgetBreach::Depth { .. } => nested,
            BudgetBreach::Aliases { .. } | BudgetBreach::AliasAnchorRatio { .. } => (
                "YAML uses too many aliases (`*name`)".into(),
                Some("write the values out instead of repeating aliases".into()),
            ),
            _ => (
                "YAML has too many nodes for a catalog file".into(),
                Some("split the file up".into()),
            ),
        },
        serde_saphyr::Error::MultipleDocuments { .. } => (
            "file holds more than one YAML document".into(),
            Some("keep one document per file: remove the second `---` and what follows, or move it to its own file".into()),
        ),
        _ => {
            let message = parser_message(e);
            if message == "recursion limit exceeded" {
                return nested;
            }
            let help = syntax_help(&message).map(str::to_string);
            (format!("invalid YAML: {message}"), help)
        }
    }
}

/// What to do about the parser's syntax errors people make most.
fn syntax_help(message: &str) -> Option<&'static str> {
    const HELP: &[(&str, &str)] = &[
        (
            "unclosed bracket",
            "close the bracket, or quote the value if the bracket is part of the text",
        ),
        (
            "unclosed quote",
            "close the quote; for text over several lines use a block scalar (`key: |`)",
        ),
        (
            "tabs",
            "indent with spaces; YAML does not allow tabs for indentation",
        ),
        (
            "mapping values are not allowed",
            "quote a value that contains `: `, or check the indentation of this line",
        ),
        (
            "did not find expected",
            "check the indentation: keys of one mapping, and items of one list, start in the same column",
        ),
        (
            "simple key expected",
            "check the indentation: keys of one mapping, and items of one list, start in the same column",
        ),
    ];
    HELP.iter()
        .find(|(needle, _)| message.contains(needle))
        .map(|(_, help)| *help)
}

/// The parser's message without its own location suffix (we print ours in front).
fn parser_message(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("").trim();
    let cut = first.find(" at line ").map_or(first, |i| &first[..i]);
    cut.trim_end_matches('.').to_string()
}
