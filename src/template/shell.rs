//! Rendering placeholders into bash by reference, never by value.
//!
//! The script is lexed just enough to know the quoting context of each
//! placeholder: unquoted words get `"${NAME}"`, double quotes and unquoted
//! here-documents get `${NAME}`, single quotes are closed and reopened around
//! `"${NAME}"`. Contexts where bash would re-evaluate the value (arithmetic)
//! or never expand it (quoted here-documents) are errors.

use super::Placeholder;

/// A placeholder that cannot be rendered safely where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsafe {
    pub start: usize,
    pub message: String,
    pub help: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctx {
    /// Command text: top level, `$( … )`, backticks.
    Command,
    Double,
    /// `${ … }` parameter expansion; the bool says whether it sits inside double quotes.
    Param(bool),
    Arith,
}

pub fn render(text: &str, placeholders: &[Placeholder]) -> Result<String, Vec<Unsafe>> {
    let mut out = String::with_capacity(text.len() + placeholders.len() * 4);
    let mut errors = Vec::new();
    let mut stack: Vec<(Ctx, char)> = vec![(Ctx::Command, '\0')];
    let mut pending_heredocs: Vec<(String, bool, bool)> = Vec::new();
    let bytes = text.as_bytes();
    let mut next_ph = 0;
    let mut i = 0;
    let at_placeholder = |i: usize, next: usize| placeholders.get(next).filter(|p| p.start == i);

    while i < text.len() {
        let ctx = stack.last().map_or(Ctx::Command, |(c, _)| *c);
        // A placeholder a construct has already copied past (after a backslash,
        // in a here-document delimiter) would reach bash as literal text.
        while let Some(ph) = placeholders.get(next_ph).filter(|p| p.start < i) {
            errors.push(Unsafe {
                start: ph.start,
                message: format!("`{{{{{}}}}}` cannot be rendered where it stands (escaped, or part of a here-document delimiter)", ph.name),
                help: "move the placeholder out of that construct, e.g. into a variable assigned on the line before".into(),
            });
            next_ph += 1;
        }
        if let Some(ph) = at_placeholder(i, next_ph) {
            match ctx {
                Ctx::Command => out.push_str(&format!("\"${{{}}}\"", ph.name)),
                Ctx::Double | Ctx::Param(true) => out.push_str(&format!("${{{}}}", ph.name)),
                Ctx::Param(false) => out.push_str(&format!("\"${{{}}}\"", ph.name)),
                Ctx::Arith => errors.push(Unsafe {
                    start: ph.start,
                    message: format!("`{{{{{}}}}}` inside an arithmetic expression cannot be rendered safely", ph.name),
                    help: "bash evaluates text in `$(( ))` and `(( ))` as code; assign the value to a variable first and check it is a number".into(),
                }),
            }
            i = ph.end;
            next_ph += 1;
            continue;
        }
        let c = bytes[i] as char;
        let rest = &text[i..];
        match ctx {
            Ctx::Command | Ctx::Param(false) | Ctx::Arith => {
                if c == '\\' {
                    let n = next_char_len(text, i + 1);
                    out.push_str(&text[i..i + 1 + n]);
                    i += 1 + n;
                    continue;
                }
                if c == '\'' || rest.starts_with("$'") {
                    let dollar = c == '$';
                    let open = if dollar { 2 } else { 1 };
                    out.push_str(&text[i..i + open]);
                    i += open;
                    i = copy_single_quoted(text, i, dollar, placeholders, &mut next_ph, &mut out);
                    continue;
                }
                if c == '"' {
                    stack.push((Ctx::Double, '"'));
                    out.push(c);
                    i += 1;
                    continue;
                }
                if ctx == Ctx::Command && c == '#' && word_start(bytes, i) {
                    let end = text[i..].find('\n').map_or(text.len(), |e| i + e);
                    // Placeholders in comments are inert; show them as references.
                    i = copy_inert(text, i, end, placeholders, &mut next_ph, &mut out);
                    continue;
                }
                if rest.starts_with("<<<") {
                    // A here-string: its word is an ordinary word, not a here-document delimiter.
                    out.push_str("<<<");
                    i += 3;
                    continue;
                }
                if ctx == Ctx::Command && rest.starts_with("<<") {
                    let (consumed, heredoc) = read_heredoc_operator(&text[i..]);
                    out.push_str(&text[i..i + consumed]);
                    i += consumed;
                    if let Some(h) = heredoc {
                        pending_heredocs.push(h);
                    }
                    continue;
                }
                if ctx == Ctx::Command && c == '\n' && !pending_heredocs.is_empty() {
                    out.push('\n');
                    i += 1;
                    for (delim, quoted, strip_tabs) in std::mem::take(&mut pending_heredocs) {
                        i = copy_heredoc_body(
                            text,
                            i,
                            &delim,
                            quoted,
                            strip_tabs,
                            placeholders,
                            &mut next_ph,
                            &mut out,
                            &mut errors,
                        );
                    }
                    continue;
                }
                if rest.starts_with("$((") || (ctx == Ctx::Command && rest.starts_with("((")) {
                    let open = if c == '$' { 3 } else { 2 };
                    stack.push((Ctx::Arith, ')'));
                    out.push_str(&text[i..i + open]);
                    i += open;
                    continue;
                }
                if rest.starts_with("$(") {
                    stack.push((Ctx::Command, ')'));
                    out.push_str("$(");
                    i += 2;
                    continue;
                }
                if rest.starts_with("${") {
                    stack.push((Ctx::Param(false), '}'));
                    out.push_str("${");
                    i += 2;
                    continue;
                }
                if c == '`' {
                    if stack.last().is_some_and(|(_, close)| *close == '`') {
                        stack.pop();
                    } else {
                        stack.push((Ctx::Command, '`'));
                    }
                    out.push(c);
                    i += 1;
                    continue;
                }
                if c == '(' && stack.len() > 1 {
                    // Nested parentheses (subshells, `case` patterns) inside `$( … )`.
                    stack.push((ctx, ')'));
                    out.push(c);
                    i += 1;
                    continue;
                }
                if stack.len() > 1 && stack.last().is_some_and(|(_, close)| *close == c) {
                    stack.pop();
                    if ctx == Ctx::Arith && text[i + 1..].starts_with(')') {
                        out.push_str("))");
                        i += 2;
                        continue;
                    }
                    out.push(c);
                    i += 1;
                    continue;
                }
            }
            Ctx::Double | Ctx::Param(true) => {
                if c == '\\' {
                    let n = next_char_len(text, i + 1);
                    out.push_str(&text[i..i + 1 + n]);
                    i += 1 + n;
                    continue;
                }
                if ctx == Ctx::Double && c == '"' {
                    stack.pop();
                    out.push(c);
                    i += 1;
                    continue;
                }
                if rest.starts_with("$((") {
                    stack.push((Ctx::Arith, ')'));
                    out.push_str("$((");
                    i += 3;
                    continue;
                }
                if rest.starts_with("$(") {
                    stack.push((Ctx::Command, ')'));
                    out.push_str("$(");
                    i += 2;
                    continue;
                }
                if rest.starts_with("${") {
                    stack.push((Ctx::Param(true), '}'));
                    out.push_str("${");
                    i += 2;
                    continue;
                }
                if c == '`' {
                    stack.push((Ctx::Command, '`'));
                    out.push(c);
                    i += 1;
                    continue;
                }
                if matches!(ctx, Ctx::Param(true)) && c == '}' {
                    stack.pop();
                    out.push(c);
                    i += 1;
                    continue;
                }
            }
        }
        let n = next_char_len(text, i);
        out.push_str(&text[i..i + n]);
        i += n;
    }
    for ph in &placeholders[next_ph.min(placeholders.len())..] {
        errors.push(Unsafe {
            start: ph.start,
            message: format!("`{{{{{}}}}}` cannot be rendered where it stands", ph.name),
            help: "move the placeholder out of that construct".into(),
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn next_char_len(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(0, char::len_utf8)
}

fn word_start(bytes: &[u8], i: usize) -> bool {
    i == 0
        || matches!(
            bytes[i - 1],
            b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'(' | b')'
        )
}

/// Copies a single-quoted string body and its closing quote; placeholders close
/// the quote, insert the reference, and reopen it.
fn copy_single_quoted(
    text: &str,
    mut i: usize,
    dollar: bool,
    placeholders: &[Placeholder],
    next_ph: &mut usize,
    out: &mut String,
) -> usize {
    let bytes = text.as_bytes();
    while i < text.len() {
        if let Some(ph) = placeholders.get(*next_ph).filter(|p| p.start == i) {
            let reopen = if dollar { "$'" } else { "'" };
            out.push_str(&format!("'\"${{{}}}\"{reopen}", ph.name));
            i = ph.end;
            *next_ph += 1;
            continue;
        }
        if dollar && bytes[i] == b'\\' {
            let n = next_char_len(text, i + 1);
            out.push_str(&text[i..i + 1 + n]);
            i += 1 + n;
            continue;
        }
        let n = next_char_len(text, i);
        out.push_str(&text[i..i + n]);
        i += n;
        if bytes[i - n] == b'\'' {
            break;
        }
    }
    i
}

/// Copies `text[i..end]` where nothing is evaluated, writing placeholders as references.
fn copy_inert(
    text: &str,
    mut i: usize,
    end: usize,
    placeholders: &[Placeholder],
    next_ph: &mut usize,
    out: &mut String,
) -> usize {
    while let Some(ph) = placeholders.get(*next_ph).filter(|p| p.start < end) {
        out.push_str(&text[i..ph.start]);
        out.push_str(&format!("${{{}}}", ph.name));
        i = ph.end;
        *next_ph += 1;
    }
    if i < end {
        out.push_str(&text[i..end]);
    }
    end.max(i)
}

/// Reads `<<DELIM`, `<<-DELIM`, `<<'DELIM'`, `<<"DELIM"`, `<<\DELIM`.
/// Returns how many bytes the operator and word take, and (delimiter, quoted, strip_tabs).
fn read_heredoc_operator(rest: &str) -> (usize, Option<(String, bool, bool)>) {
    let mut i = 2;
    let strip_tabs = rest[i..].starts_with('-');
    if strip_tabs {
        i += 1;
    }
    while rest[i..].starts_with([' ', '\t']) {
        i += 1;
    }
    let word_start = i;
    let mut delim = String::new();
    let mut quoted = false;
    let bytes = rest.as_bytes();
    while i < rest.len() {
        let c = bytes[i] as char;
        match c {
            '\'' | '"' => {
                quoted = true;
                let close = rest[i + 1..].find(c).map_or(rest.len(), |e| i + 1 + e);
                delim.push_str(&rest[i + 1..close.min(rest.len())]);
                i = (close + 1).min(rest.len());
            }
            '\\' => {
                quoted = true;
                i += 1;
            }
            c if c.is_whitespace() || matches!(c, ';' | '|' | '&' | '<' | '>' | '(' | ')') => break,
            _ => {
                delim.push(c);
                i += 1;
            }
        }
    }
    if i == word_start || delim.is_empty() {
        return (i, None);
    }
    (i, Some((delim, quoted, strip_tabs)))
}

#[allow(clippy::too_many_arguments)]
fn copy_heredoc_body(
    text: &str,
    mut i: usize,
    delim: &str,
    quoted: bool,
    strip_tabs: bool,
    placeholders: &[Placeholder],
    next_ph: &mut usize,
    out: &mut String,
    errors: &mut Vec<Unsafe>,
) -> usize {
    while i < text.len() {
        let line_end = text[i..].find('\n').map_or(text.len(), |e| i + e);
        let line = &text[i..line_end];
        let trimmed = if strip_tabs {
            line.trim_start_matches('\t')
        } else {
            line
        };
        let is_end = trimmed == delim;
        let mut j = i;
        while let Some(ph) = placeholders.get(*next_ph).filter(|p| p.start < line_end) {
            out.push_str(&text[j..ph.start]);
            if quoted {
                errors.push(Unsafe {
                    start: ph.start,
                    message: format!(
                        "`{{{{{}}}}}` inside a quoted here-document is never expanded by bash",
                        ph.name
                    ),
                    help: format!(
                        "write `<<{delim}` without quotes so bash expands `${{{}}}`",
                        ph.name
                    ),
                });
            }
            out.push_str(&format!("${{{}}}", ph.name));
            j = ph.end;
            *next_ph += 1;
        }
        out.push_str(&text[j..line_end]);
        if line_end < text.len() {
            out.push('\n');
        }
        i = (line_end + 1).min(text.len());
        if is_end {
            break;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::scan;

    fn r(text: &str) -> String {
        let (phs, bad) = scan(text);
        assert!(bad.is_empty());
        render(text, &phs).expect("renders")
    }

    #[test]
    fn quoting_contexts() {
        assert_eq!(r("echo {{A}}"), r#"echo "${A}""#);
        assert_eq!(r(r#"echo "x {{A}} y""#), r#"echo "x ${A} y""#);
        assert_eq!(r("echo 'x {{A}} y'"), r#"echo 'x '"${A}"' y'"#);
        assert_eq!(r("echo $'x {{A}}'"), r#"echo $'x '"${A}"$''"#);
        assert_eq!(r("--name={{A}}"), r#"--name="${A}""#);
        assert_eq!(r("x=$(echo {{A}})"), r#"x=$(echo "${A}")"#);
        assert_eq!(r(r#"x="$(echo {{A}})""#), r#"x="$(echo "${A}")""#);
        assert_eq!(r("echo ${B:-{{A}}}"), r#"echo ${B:-"${A}"}"#);
        assert_eq!(r("# uses {{A}}\necho {{A}}"), "# uses ${A}\necho \"${A}\"");
        assert_eq!(
            r("cat <<EOF\n{{A}}\nEOF\necho {{A}}"),
            "cat <<EOF\n${A}\nEOF\necho \"${A}\""
        );
        assert_eq!(r("echo \\'{{A}}"), "echo \\'\"${A}\"");
        assert_eq!(
            r("cat <<< {{A}}\necho {{A}}"),
            "cat <<< \"${A}\"\necho \"${A}\""
        );
        assert_eq!(r("read x <<< \"v {{A}}\""), "read x <<< \"v ${A}\"");
    }

    #[test]
    fn unsafe_contexts_are_errors() {
        for text in [
            "echo \\{{A}} {{B}}",
            "cat <<{{A}}\nx\n",
            "echo $(( {{A}} + 1 ))",
            "(( {{A}} > 2 ))",
            "cat <<'EOF'\n{{A}}\nEOF\n",
        ] {
            let (phs, _) = scan(text);
            assert!(render(text, &phs).is_err(), "{text}");
        }
    }
}
