//! Values an operation reports to the run: a line
//! `##goldsmith-output:<name>=<value>` on its output (a shell script's, or a
//! run-command script's stdout). The values of an operation's passing attempt
//! become outputs of the run: the action's step outputs (action.yml declares
//! the ones the library's operations report, e.g. `image-version-id`) and a
//! list in the job summary.

const MARKER: &str = "##goldsmith-output:";
/// The longest output name; GitHub's output names are short identifiers.
const MAX_NAME: usize = 64;

/// The `(name, value)` a log line reports, if it is a well-formed marker:
/// a name of lower-case letters, digits, `-` and `_`, and a non-empty value.
pub fn parse(line: &str) -> Option<(String, String)> {
    let rest = line.trim().strip_prefix(MARKER)?;
    let (name, value) = rest.split_once('=')?;
    let name_ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    let value = value.trim();
    (name_ok && !value.is_empty()).then(|| (name.to_string(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_marker_gives_a_name_and_a_value() {
        assert_eq!(
            parse("##goldsmith-output:image-version-id=/subscriptions/x/versions/1.0.1\r"),
            Some((
                "image-version-id".to_string(),
                "/subscriptions/x/versions/1.0.1".to_string()
            ))
        );
    }

    #[test]
    fn malformed_markers_are_ignored() {
        for line in [
            "##goldsmith-output:image-version-id=",
            "##goldsmith-output:=x",
            "##goldsmith-output:Bad Name=x",
            "##goldsmith-output:no-value",
            "echo ##goldsmith-output:a=b",
        ] {
            assert_eq!(parse(line), None, "{line}");
        }
    }
}
