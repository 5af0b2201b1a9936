//! The Checks API's limits on text, applied before anything is sent: a
//! summary of at most 65,535 characters, annotation titles of at most 255,
//! messages of at most 64 KB, and no characters above U+FFFF.
//!
//! Pure string functions; they know the limits, not the requests.

use std::borrow::Cow;

/// `output.summary`: "Maximum length: 65535 characters". Counted here in
/// bytes, never fewer than characters, so it holds however GitHub counts.
pub const SUMMARY_MAX_BYTES: usize = 65_535;
/// An annotation's `title`: "The maximum size is 255 characters".
pub const TITLE_MAX_CHARS: usize = 255;
/// An annotation's `message`: "The maximum size is 64 KB".
pub const MESSAGE_MAX_BYTES: usize = 64 * 1024;

/// Ends a summary that was cut.
pub const TRUNCATION_NOTE: &str = "\n\n> **Note:** this summary was cut to fit the check run's 65,535-character limit. \
The job summary and the run directory (summary.md, junit.xml, logs/) have all of it.\n";

/// Room for the `</details>` tags that close what the cut left open.
const CLOSER_RESERVE: usize = 256;

const REPLACEMENT: char = '\u{FFFD}';

/// `s` with every character above U+FFFF (emoji and other 4-byte UTF-8)
/// replaced by U+FFFD: GitHub rejects or mangles them in check runs.
pub fn bmp_only(s: &str) -> Cow<'_, str> {
    if s.chars().all(|c| (c as u32) <= 0xFFFF) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| if (c as u32) > 0xFFFF { REPLACEMENT } else { c })
            .collect(),
    )
}

/// At most `max` characters (an ellipsis marking a cut), BMP only.
pub fn cut_chars(s: &str, max: usize) -> String {
    let s = bmp_only(s);
    if s.chars().count() <= max {
        return s.into_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// At most `max` bytes (an ellipsis marking a cut), BMP only.
pub fn cut_bytes(s: &str, max: usize) -> String {
    let s = bmp_only(s);
    if s.len() <= max {
        return s.into_owned();
    }
    let ellipsis = '…';
    let end = floor_char_boundary(&s, max.saturating_sub(ellipsis.len_utf8()));
    let mut out = s[..end].to_string();
    out.push(ellipsis);
    out
}

/// The summary as GitHub takes it: BMP only and at most
/// `SUMMARY_MAX_BYTES`, cut (when it must be) at a line end outside any code
/// block, with open `<details>` closed and `TRUNCATION_NOTE` at the end.
pub fn fit_summary(summary: &str) -> String {
    let text = bmp_only(summary);
    if text.len() <= SUMMARY_MAX_BYTES {
        return text.into_owned();
    }
    let budget = SUMMARY_MAX_BYTES - TRUNCATION_NOTE.len() - CLOSER_RESERVE;
    let cut = cut_point(&text, budget);
    let kept = &text[..cut];
    let mut out = String::with_capacity(SUMMARY_MAX_BYTES);
    out.push_str(kept);
    if !kept.is_empty() && !kept.ends_with('\n') {
        out.push('\n');
    }
    let closer = "</details>\n";
    let open = open_details(kept).min(CLOSER_RESERVE / closer.len() - 1);
    for _ in 0..open {
        out.push_str(closer);
    }
    out.push_str(TRUNCATION_NOTE);
    out
}

/// Where to cut `text` so that at most `budget` bytes stay.
///
/// A line end, so no table row or word is cut in half, unless the last one
/// is far back; and never inside a fenced code block: a half Mermaid chart
/// draws as an error, so the whole block goes.
fn cut_point(text: &str, budget: usize) -> usize {
    let hard = floor_char_boundary(text, budget);
    let mut cut = match text[..hard].rfind('\n') {
        Some(nl) if nl + 1 >= hard / 2 => nl + 1,
        _ => hard,
    };
    if let Some(fence_start) = open_fence_start(&text[..cut]) {
        cut = fence_start;
    }
    cut
}

/// The byte offset of the line that opens a fenced code block still open at
/// the end of `text`, if one is.
fn open_fence_start(text: &str) -> Option<usize> {
    // (start offset, fence character, fence length)
    let mut open: Option<(usize, char, usize)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        let indent = body.len() - body.trim_start_matches(' ').len();
        if indent > 3 {
            continue;
        }
        let body = &body[indent..];
        let Some(c) = body.chars().next().filter(|c| matches!(c, '`' | '~')) else {
            continue;
        };
        let run = body.chars().take_while(|&x| x == c).count();
        if run < 3 {
            continue;
        }
        match open {
            None => open = Some((start, c, run)),
            Some((_, oc, olen)) if oc == c && run >= olen && body[run..].trim().is_empty() => {
                open = None;
            }
            Some(_) => {}
        }
    }
    open.map(|(start, _, _)| start)
}

/// `<details>` opened and not closed in `text`.
fn open_details(text: &str) -> usize {
    let opened = text.matches("<details").count();
    let closed = text.matches("</details>").count();
    opened.saturating_sub(closed)
}

/// The largest char boundary at or below `index`.
fn floor_char_boundary(s: &str, index: usize) -> usize {
    if index >= s.len() {
        return s.len();
    }
    (0..=index)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn astral_characters_become_replacement_characters() {
        assert_eq!(bmp_only("ok 🚀 é"), "ok \u{FFFD} é");
        assert!(matches!(bmp_only("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn titles_are_cut_by_characters() {
        let t = cut_chars(&"é".repeat(300), TITLE_MAX_CHARS);
        assert_eq!(t.chars().count(), TITLE_MAX_CHARS);
        assert!(t.ends_with('…'));
        assert_eq!(cut_chars("short", TITLE_MAX_CHARS), "short");
    }

    #[test]
    fn bytes_are_cut_on_a_char_boundary() {
        let t = cut_bytes(&"€".repeat(10), 10);
        assert!(t.len() <= 10);
        assert_eq!(t, "€€…");
    }

    #[test]
    fn short_summaries_pass_unchanged() {
        assert_eq!(fit_summary("# ok\n"), "# ok\n");
    }

    #[test]
    fn a_cut_summary_fits_and_says_so() {
        let line = "| op | ✅ succeeded | ünïcödé |\n";
        let text = line.repeat(200_000 / line.len());
        let out = fit_summary(&text);
        assert!(out.len() <= SUMMARY_MAX_BYTES, "{}", out.len());
        assert!(out.ends_with(TRUNCATION_NOTE));
        let body = out.strip_suffix(TRUNCATION_NOTE).unwrap_or_default();
        assert!(body.ends_with(line), "cut at a line end");
    }

    #[test]
    fn the_cut_drops_a_code_block_it_would_split() {
        let head = "# result\n\n";
        let chart = format!(
            "```mermaid\ngantt\n{}```\n",
            "    a : 1, 2\n".repeat(10_000)
        );
        let out = fit_summary(&format!("{head}{chart}"));
        assert_eq!(out, format!("{head}{TRUNCATION_NOTE}"));
    }

    #[test]
    fn the_cut_closes_open_details() {
        let text = format!(
            "<details><summary>x</summary>\n\n{}",
            "a plain log line\n".repeat(10_000)
        );
        let out = fit_summary(&text);
        assert!(out.len() <= SUMMARY_MAX_BYTES);
        assert!(out.ends_with(&format!("</details>\n{TRUNCATION_NOTE}")));
    }

    #[test]
    fn fences_close_only_with_their_own_kind() {
        assert_eq!(open_fence_start("a\n````text\n```\nb\n"), Some(2));
        assert_eq!(open_fence_start("a\n````text\n`````\nb\n"), None);
        assert_eq!(open_fence_start("~~~\n```\n"), Some(0));
    }
}
