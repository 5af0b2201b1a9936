//! Secret redaction, applied at every sink (log files, console, events, state).
//!
//! Values are matched as bytes, so output that is not UTF-8 is redacted too.
//! `StreamRedactor` handles secrets split across the chunks of a pipe.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};

pub const MASK: &str = "***";

#[derive(Clone, Debug, Default)]
pub struct Redactor {
    matcher: Option<AhoCorasick>,
    longest: usize,
}

impl Redactor {
    pub fn new<I, S>(secrets: I) -> Redactor
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut values: Vec<String> = secrets
            .into_iter()
            .map(|s| s.as_ref().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        // A multi-line secret may be printed line by line; mask each line too.
        let lines: Vec<String> = values
            .iter()
            .flat_map(|v| {
                v.lines()
                    .map(str::trim)
                    .filter(|l| l.len() >= 4)
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .collect();
        values.extend(lines);
        values.sort();
        values.dedup();
        if values.is_empty() {
            return Redactor::default();
        }
        let longest = values.iter().map(String::len).max().unwrap_or(0);
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&values)
            .expect("literal patterns always build");
        Redactor {
            matcher: Some(matcher),
            longest,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match &self.matcher {
            Some(m) if m.is_match(text) => {
                Cow::Owned(m.replace_all(text, &vec![MASK; m.patterns_len()]))
            }
            _ => Cow::Borrowed(text),
        }
    }

    pub fn redact_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        match &self.matcher {
            Some(m) if m.is_match(bytes) => {
                Cow::Owned(m.replace_all_bytes(bytes, &vec![MASK.as_bytes(); m.patterns_len()]))
            }
            _ => Cow::Borrowed(bytes),
        }
    }
}

impl Redactor {
    /// Masks every string in `value` (keys and values), never its structure:
    /// the JSON stays valid whatever a secret's value is.
    pub fn mask_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        if self.is_empty() {
            return;
        }
        match value {
            Value::String(s) => {
                if let Cow::Owned(masked) = self.redact(s) {
                    *s = masked;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.mask_json(v)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (key, mut v) in entries {
                    self.mask_json(&mut v);
                    map.insert(self.redact(&key).into_owned(), v);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// Redacts a byte stream that arrives in arbitrary chunks.
///
/// Whole lines are redacted and released at once. A line longer than the
/// buffer is released early except for its last `longest - 1` bytes, which
/// may hold the start of a secret that the next chunk completes.
pub struct StreamRedactor {
    redactor: Redactor,
    pending: Vec<u8>,
}

const MAX_PENDING: usize = 64 * 1024;

impl StreamRedactor {
    pub fn new(redactor: Redactor) -> Self {
        StreamRedactor {
            redactor,
            pending: Vec::new(),
        }
    }

    /// Feeds a chunk; `emit` receives redacted bytes that are safe to write.
    pub fn push(&mut self, chunk: &[u8], mut emit: impl FnMut(&[u8])) {
        if self.redactor.is_empty() {
            emit(chunk);
            return;
        }
        let before = self.pending.len();
        self.pending.extend_from_slice(chunk);
        // Only the new bytes can hold a newline: the pending ones were searched already.
        if let Some(nl) = chunk.iter().rposition(|b| *b == b'\n') {
            let rest = self.pending.split_off(before + nl + 1);
            emit(&self.redactor.redact_bytes(&self.pending));
            self.pending = rest;
        }
        if self.pending.len() > MAX_PENDING {
            let redacted = self.redactor.redact_bytes(&self.pending).into_owned();
            let keep = self.redactor.longest.saturating_sub(1).min(redacted.len());
            let cut = redacted.len() - keep;
            emit(&redacted[..cut]);
            self.pending = redacted[cut..].to_vec();
        }
    }

    pub fn finish(&mut self, mut emit: impl FnMut(&[u8])) {
        if !self.pending.is_empty() {
            emit(&self.redactor.redact_bytes(&self.pending));
            self.pending.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_secrets_split_across_chunks() {
        let r = Redactor::new(["hunter2-secret"]);
        let input = format!(
            "{}hunter2-secret{}hunter2-secret\nend",
            "x".repeat(70_000),
            "y".repeat(3)
        );
        for chunk_size in [1, 3, 7, 4096, 65536, 1 << 20] {
            let mut s = StreamRedactor::new(r.clone());
            let mut out = Vec::new();
            for chunk in input.as_bytes().chunks(chunk_size) {
                s.push(chunk, |b| out.extend_from_slice(b));
            }
            s.finish(|b| out.extend_from_slice(b));
            let out = String::from_utf8(out).expect("utf8");
            assert!(!out.contains("hunter2"), "chunk size {chunk_size}");
            assert_eq!(out.matches(MASK).count(), 2, "chunk size {chunk_size}");
            assert!(out.ends_with("\nend"));
        }
    }

    #[test]
    fn json_values_are_masked_and_structure_kept() {
        let r = Redactor::new(["1", "\"", "value", "true"]);
        let mut v: serde_json::Value = serde_json::from_str(
            r#"{"version":1,"value":"a \" value 1","ok":true,"list":["true"]}"#,
        )
        .expect("json");
        r.mask_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"version":1,"***":"a *** *** ***","ok":true,"list":["***"]})
        );
    }

    #[test]
    fn masks_each_line_of_a_multiline_secret() {
        let r = Redactor::new(["-----BEGIN KEY-----\nabcdefgh\n-----END KEY-----"]);
        assert_eq!(r.redact("key: abcdefgh"), "key: ***");
    }
}
