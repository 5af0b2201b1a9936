//! User-facing diagnostics: what is wrong, where (`file:line:col`) and what to do.
//!
//! Every check of the catalog, config and plan produces `Diagnostic`s; they are
//! collected (never stop at the first) and rendered the way `just` renders its
//! errors: a greppable first line, then the source line with a caret underline.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use super::Pos;

/// How bad a diagnostic is: errors stop `plan`/`run` (exit 2), warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The input is invalid; nothing runs.
    Error,
    /// Suspicious but runnable.
    Warning,
    /// Something goldsmith decided for the user and says so (an inferred lock).
    Note,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        })
    }
}

/// One finding about the user's files.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Path relative to the project root (as the user would type it).
    pub file: PathBuf,
    pub pos: Pos,
    pub message: String,
    /// "did you mean", or what to do instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Findings with one key are one mistake seen in many places (a placeholder
    /// no config defines, used 110 times): `Diagnostics::collapse_repeats`
    /// shows them once. Boxed: a diagnostic travels in `Err`s, kept small.
    #[serde(skip)]
    repeat: Option<Box<RepeatKey>>,
}

/// What makes findings one mistake (see `Diagnostic::repeating`).
#[derive(Clone, Debug, PartialEq)]
struct RepeatKey(String);

impl Diagnostic {
    pub fn error(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_path_buf(),
            pos,
            message: message.into(),
            help: None,
            repeat: None,
        }
    }

    pub fn warning(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, pos, message)
        }
    }

    pub fn note(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Note,
            ..Diagnostic::error(file, pos, message)
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Marks this finding as one place of a mistake that may repeat under `key`.
    pub fn repeating(mut self, key: impl Into<String>) -> Self {
        self.repeat = Some(Box::new(RepeatKey(key.into())));
        self
    }

    /// The key given to `repeating`, if any.
    pub fn repeat_key(&self) -> Option<&str> {
        self.repeat.as_ref().map(|k| k.0.as_str())
    }

    /// `file:line:col`, for lists of places.
    pub fn place(&self) -> String {
        format!(
            "{}:{}:{}",
            self.file.display(),
            self.pos.line.max(1),
            self.pos.col.max(1)
        )
    }

    /// `file:line:col: severity: message`, the line tools and people grep for.
    pub fn headline(&self) -> String {
        format!(
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.pos.line.max(1),
            self.pos.col.max(1),
            self.severity,
            self.message
        )
    }

    /// The headline, the source line with a caret underline, and the help.
    pub fn render(&self, sources: &Sources) -> String {
        let mut out = self.headline();
        out.push('\n');
        if let Some(line_text) = sources.line(&self.file, self.pos.line) {
            let number = self.pos.line.to_string();
            let gutter = " ".repeat(number.len());
            // Columns count the file's characters; tabs are shown as four spaces.
            let col = self.pos.col.max(1) as usize;
            let prefix = line_text
                .chars()
                .take(col - 1)
                .collect::<String>()
                .replace('\t', "    ");
            let rest = line_text.chars().count().saturating_sub(col - 1);
            let line_text = line_text.replace('\t', "    ");
            let width = (self.pos.len as usize).clamp(1, rest.max(1));
            let _ = writeln!(out, "{gutter} |");
            let _ = writeln!(out, "{number} | {line_text}");
            let _ = writeln!(
                out,
                "{gutter} | {}{}",
                " ".repeat(prefix.chars().count()),
                "^".repeat(width)
            );
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        out
    }
}

/// The text of every file that was read, kept so diagnostics can show source lines.
#[derive(Default, Debug)]
pub struct Sources {
    texts: HashMap<PathBuf, String>,
}

impl Sources {
    pub fn insert(&mut self, file: PathBuf, text: String) {
        self.texts.insert(file, text);
    }

    pub fn text(&self, file: &Path) -> Option<&str> {
        self.texts.get(file).map(String::as_str)
    }

    pub fn line(&self, file: &Path, line: u32) -> Option<&str> {
        if line == 0 {
            return None;
        }
        self.texts.get(file)?.lines().nth(line as usize - 1)
    }
}

/// Diagnostics in the order they were found, with helpers to ask about them.
#[derive(Default, Debug)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn warning_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }

    /// `--strict`: every warning becomes an error.
    pub fn make_warnings_errors(&mut self) {
        for d in &mut self.items {
            if d.severity == Severity::Warning {
                d.severity = Severity::Error;
            }
        }
    }

    /// Each group of findings sharing a repeat key becomes its first one (in
    /// file order), with the count and the next few places in its message and
    /// its help kept: one mistake, one message.
    pub fn collapse_repeats(&mut self) {
        const SHOWN: usize = 3;
        let mut groups: HashMap<String, Vec<Diagnostic>> = HashMap::new();
        let mut kept = Vec::new();
        for d in std::mem::take(&mut self.items) {
            match d.repeat_key().map(str::to_string) {
                Some(key) => groups.entry(key).or_default().push(d),
                None => kept.push(d),
            }
        }
        for (_, mut group) in groups {
            group.sort_by(|a, b| {
                (&a.file, a.pos.line, a.pos.col).cmp(&(&b.file, b.pos.line, b.pos.col))
            });
            group.dedup_by(|a, b| a.place() == b.place());
            let mut first = group.remove(0);
            if !group.is_empty() {
                let files = 1 + group
                    .iter()
                    .filter(|d| d.file != first.file)
                    .map(|d| &d.file)
                    .collect::<std::collections::HashSet<_>>()
                    .len();
                let mut also = group
                    .iter()
                    .take(SHOWN)
                    .map(Diagnostic::place)
                    .collect::<Vec<_>>()
                    .join(", ");
                if group.len() > SHOWN {
                    also.push_str(&format!(" and {} more", group.len() - SHOWN));
                }
                first.message = format!(
                    "{} ({} uses in {} file{}; also at {})",
                    first.message,
                    group.len() + 1,
                    files,
                    if files == 1 { "" } else { "s" },
                    also
                );
            }
            kept.push(first);
        }
        self.items = kept;
    }

    /// Removes the findings with this repeat key; returns how many there were.
    pub fn remove_repeats(&mut self, key: &str) -> usize {
        let before = self.items.len();
        self.items.retain(|d| d.repeat_key() != Some(key));
        before - self.items.len()
    }

    /// Sorted by file, then position, so output is stable across runs.
    pub fn sorted(&self) -> Vec<&Diagnostic> {
        let mut v: Vec<&Diagnostic> = self.items.iter().collect();
        v.sort_by(|a, b| {
            (&a.file, a.pos.line, a.pos.col, a.severity)
                .cmp(&(&b.file, b.pos.line, b.pos.col, b.severity))
        });
        v
    }
}

/// "did you mean `x`?" for the closest candidate within a small edit distance.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The candidate closest to `word` within a small edit distance: a likely typo of it.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 3 && *d < c.len().max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_sits_under_the_column_after_tabs() {
        let mut sources = Sources::default();
        sources.insert("f.yaml".into(), "k: |\n\techo {{X}}\n".into());
        let pos = Pos {
            line: 2,
            col: 7,
            len: 5,
        };
        let text = Diagnostic::error(Path::new("f.yaml"), pos, "m").render(&sources);
        assert_eq!(
            text,
            "f.yaml:2:7: error: m\n  |\n2 |     echo {{X}}\n  |          ^^^^^\n"
        );
    }
}
