//! GitHub Actions workflow commands (`::error …::`, `::group::`, `::add-mask::`,
//! `::stop-commands::`) as strings, escaped exactly as @actions/core escapes them.
//!
//! Pure functions: this module formats lines and never prints them; the caller
//! decides where they go. It knows nothing of runs or records.

use std::fmt;

/// `%`, CR and LF in a command's message, as @actions/core `escapeData` does.
pub fn escape_data(s: &str) -> String {
    escape(s, false)
}

/// `escape_data` plus `:` and `,`, which end a property (@actions/core `escapeProperty`).
pub fn escape_property(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, property: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            ':' if property => out.push_str("%3A"),
            ',' if property => out.push_str("%2C"),
            c => out.push(c),
        }
    }
    out
}

/// The severity of an annotation; also the command name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// `::error`: shown red; the runner keeps 10 per step.
    Error,
    /// `::warning`: shown yellow; the runner keeps 10 per step.
    Warning,
    /// `::notice`: shown grey; the runner keeps 10 per step.
    Notice,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One annotation: a message GitHub pins to a file and line of the commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    pub level: Level,
    pub title: Option<String>,
    /// Relative to the repository root, as GitHub resolves it.
    pub file: Option<String>,
    pub line: Option<u32>,
    pub end_line: Option<u32>,
    pub col: Option<u32>,
    pub end_column: Option<u32>,
    pub message: String,
}

impl Annotation {
    pub fn new(level: Level, message: impl Into<String>) -> Self {
        Annotation {
            level,
            title: None,
            file: None,
            line: None,
            end_line: None,
            col: None,
            end_column: None,
            message: message.into(),
        }
    }
}

/// `::error title=…,file=…,line=…,endLine=…,col=…,endColumn=…::message`.
///
/// Properties come in @actions/core's order (`toCommandProperties`), and like
/// `Command.toString` there, an empty string or a zero is left out.
pub fn annotation_line(a: &Annotation) -> String {
    let numbers = [
        ("line", a.line),
        ("endLine", a.end_line),
        ("col", a.col),
        ("endColumn", a.end_column),
    ];
    let mut props: Vec<String> = Vec::new();
    for (key, value) in [("title", &a.title), ("file", &a.file)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            props.push(format!("{key}={}", escape_property(v)));
        }
    }
    for (key, value) in numbers {
        if let Some(v) = value.filter(|v| *v != 0) {
            props.push(format!("{key}={v}"));
        }
    }
    let mut line = format!("::{}", a.level.name());
    if !props.is_empty() {
        line.push(' ');
        line.push_str(&props.join(","));
    }
    line.push_str("::");
    line.push_str(&escape_data(&a.message));
    line
}

/// Opens a foldable group in the log.
pub fn group(title: &str) -> String {
    format!("::group::{}", escape_data(title))
}

pub fn endgroup() -> String {
    "::endgroup::".to_string()
}

/// `::add-mask::` lines for a value, one per line of it.
///
/// The runner masks each command's value as one string, so a multi-line secret
/// printed line by line would leak unless each line is masked on its own.
/// Blank lines are skipped: the runner refuses to mask whitespace, with a
/// warning in the log.
pub fn add_mask(value: &str) -> Vec<String> {
    value
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("::add-mask::{}", escape_data(l)))
        .collect()
}

/// Stops the runner from reading workflow commands in what follows (say, a
/// log that might contain `::set-env` or `::add-mask::` lines), until the
/// resume line with the same token.
///
/// The token is fresh and random, so the output being shielded cannot guess
/// it and switch commands back on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StopCommands {
    token: String,
}

impl StopCommands {
    /// A new 128-bit random token, as hex.
    pub fn new() -> Self {
        StopCommands {
            token: format!("{:032x}", rand::random::<u128>()),
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// `::stop-commands::<token>`
    pub fn stop(&self) -> String {
        format!("::stop-commands::{}", self.token)
    }

    /// `::<token>::`, which turns commands back on.
    pub fn resume(&self) -> String {
        format!("::{}::", self.token)
    }
}

impl Default for StopCommands {
    fn default() -> Self {
        StopCommands::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_error_annotation() {
        let a = Annotation {
            level: Level::Error,
            title: Some("T: x,y%".into()),
            file: Some("src/a,b:c.rs".into()),
            line: Some(3),
            end_line: Some(3),
            col: Some(2),
            end_column: Some(5),
            message: "100% done\r\nline2: a,b".into(),
        };
        assert_eq!(
            annotation_line(&a),
            "::error title=T%3A x%2Cy%25,file=src/a%2Cb%3Ac.rs,line=3,endLine=3,col=2,endColumn=5::100%25 done%0D%0Aline2: a,b"
        );
    }

    #[test]
    fn missing_and_empty_properties_are_left_out() {
        let mut a = Annotation::new(Level::Notice, "hi");
        assert_eq!(annotation_line(&a), "::notice::hi");
        a.title = Some(String::new());
        a.line = Some(0);
        a.col = Some(4);
        assert_eq!(annotation_line(&a), "::notice col=4::hi");
        a.level = Level::Warning;
        a.file = Some("f.yaml".into());
        assert_eq!(annotation_line(&a), "::warning file=f.yaml,col=4::hi");
    }

    #[test]
    fn escaping_is_percent_first() {
        assert_eq!(escape_data("%0A\n"), "%250A%0A");
        assert_eq!(escape_property("%3A:"), "%253A%3A");
        assert_eq!(escape_data("a:b,c"), "a:b,c");
    }

    #[test]
    fn groups_escape_their_title() {
        assert_eq!(group("stage 1\nx"), "::group::stage 1%0Ax");
        assert_eq!(endgroup(), "::endgroup::");
    }

    #[test]
    fn masks_each_non_empty_line() {
        assert_eq!(
            add_mask("line1\r\n\n  \nl%2\n"),
            vec!["::add-mask::line1", "::add-mask::l%252"]
        );
        assert!(add_mask("").is_empty());
    }

    #[test]
    fn stop_commands_tokens_are_fresh_128_bit_hex() {
        let a = StopCommands::new();
        let b = StopCommands::new();
        assert_ne!(a.token(), b.token());
        assert_eq!(a.token().len(), 32);
        assert!(a.token().chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a.stop(), format!("::stop-commands::{}", a.token()));
        assert_eq!(a.resume(), format!("::{}::", a.token()));
    }
}
