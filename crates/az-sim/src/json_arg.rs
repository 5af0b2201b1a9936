//! Options that take JSON the way az reads them (`--settings`,
//! `--protected-settings`): `@path` (also `@/dev/fd/N` from bash process
//! substitution, and `@-` for stdin) is replaced by the file's text, a value
//! naming an existing file is read as a JSON file, and anything else is
//! parsed as a JSON string (azure-cli's `_expand_file_prefixed_files`, then
//! `validate_file_or_dict`). A secret option's text never appears in an error.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::call::Call;
use super::error::AzError;

/// Whether a parse error may show the text it could not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// az echoes the text, as for `--settings`.
    Show,
    /// A secret (`--protected-settings`): the simulator withholds the text.
    Withhold,
}

/// What the error shows instead of a secret option's text.
pub const WITHHELD: &str = "<the value of a protected option, withheld by goldsmith's simulator>";

const QUOTING: &str = "The provided JSON string may have been parsed by the shell. See https://docs.microsoft.com/cli/azure/use-cli-effectively#use-quotation-marks-in-arguments";

/// The option's value as JSON, or `None` when it is not given.
pub fn read(call: &Call, option: &str, echo: Echo) -> Result<Option<Value>, AzError> {
    match call.args.one(option)? {
        None => Ok(None),
        Some(raw) => parse(&expand(&raw), echo).map(Some),
    }
}

/// `@path` becomes the file's text without its trailing newlines; a file
/// that cannot be read leaves the word as it is, as az does.
fn expand(raw: &str) -> String {
    let Some(path) = raw.strip_prefix('@').filter(|p| !p.is_empty()) else {
        return raw.to_string();
    };
    let read = if path == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map(|_| text)
    } else {
        std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    match read {
        Ok(text) => {
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            text.trim_end_matches('\n').to_string()
        }
        Err(_) => raw.to_string(),
    }
}

fn parse(text: &str, echo: Echo) -> Result<Value, AzError> {
    // A value that names a file is that file's JSON.
    if !text.is_empty() && Path::new(text).exists() {
        let content = std::fs::read_to_string(text).map_err(|e| {
            AzError::cli(format!(
                "Failed to parse file '{text}' with exception:\n{e}"
            ))
        })?;
        return serde_json::from_str(content.strip_prefix('\u{feff}').unwrap_or(&content)).map_err(
            |e| {
                AzError::cli(format!(
                    "Failed to parse file '{text}' with exception:\n{}",
                    python_detail(&content, &e)
                ))
            },
        );
    }
    if text.ends_with(".json") {
        return Err(AzError::cli(format!("JSON file does not exist: '{text}'")));
    }
    serde_json::from_str(text).map_err(|e| {
        let shown = match echo {
            Echo::Show => text,
            Echo::Withhold => WITHHELD,
        };
        AzError::cli(format!(
            "Failed to parse string as JSON:\n{shown}\nError detail: {}\n{QUOTING}",
            python_detail(text, &e)
        ))
    })
}

/// serde's error in the words of Python's `json` module, which az prints:
/// `Expecting value: line 1 column 1 (char 0)`.
fn python_detail(text: &str, e: &serde_json::Error) -> String {
    let message = e.to_string();
    let what = if message.starts_with("key must be a string") {
        "Expecting property name enclosed in double quotes"
    } else if message.starts_with("expected `,` or") {
        "Expecting ',' delimiter"
    } else if message.starts_with("expected `:`") {
        "Expecting ':' delimiter"
    } else if message.starts_with("trailing characters") {
        "Extra data"
    } else if message.starts_with("control character") {
        "Invalid control character at"
    } else {
        "Expecting value"
    };
    let line = e.line().max(1);
    let mut column = e.column().max(1);
    if message.starts_with("expected ident") {
        // serde stops inside a bare word; Python points at its first letter.
        let chars: Vec<char> = text
            .split('\n')
            .nth(line - 1)
            .unwrap_or("")
            .chars()
            .collect();
        while column > 1
            && chars
                .get(column - 2)
                .is_some_and(|c| c.is_ascii_alphabetic())
        {
            column -= 1;
        }
    }
    let char_offset: usize = text
        .split('\n')
        .take(line - 1)
        .map(|l| l.chars().count() + 1)
        .sum::<usize>()
        + column
        - 1;
    format!("{what}: line {line} column {column} (char {char_offset})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_and_files() {
        assert_eq!(parse(r#"{"a":1}"#, Echo::Show).unwrap()["a"], 1);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.json");
        std::fs::write(&file, "{\"b\": true}\n\n").unwrap();
        let at = format!("@{}", file.display());
        assert_eq!(expand(&at), "{\"b\": true}");
        assert_eq!(
            parse(&file.display().to_string(), Echo::Show).unwrap()["b"],
            true
        );
        // A file that cannot be read stays a word, which is not JSON.
        assert_eq!(expand("@/nonexistent/x"), "@/nonexistent/x");
        assert_eq!(expand("@"), "@");
    }

    #[test]
    fn errors_read_like_az_and_withhold_secrets() {
        let e = parse("{'a': 1}", Echo::Show).unwrap_err().render();
        assert!(
            e.starts_with("ERROR: Failed to parse string as JSON:\n{'a': 1}\nError detail: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)\n"),
            "{e}"
        );
        let e = parse("{\"Items\": secret-token}", Echo::Withhold)
            .unwrap_err()
            .render();
        assert!(!e.contains("secret-token"), "{e}");
        assert!(e.contains(WITHHELD), "{e}");
        assert_eq!(
            parse("missing.json", Echo::Show).unwrap_err().render(),
            "ERROR: JSON file does not exist: 'missing.json'\n"
        );
        let e = parse("nope", Echo::Show).unwrap_err().render();
        assert!(
            e.contains("Error detail: Expecting value: line 1 column 1 (char 0)"),
            "{e}"
        );
    }
}
