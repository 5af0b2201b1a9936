//! An operation's log file: output streamed to disk as it arrives, redacted,
//! with the last lines kept in memory for the console and reports.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::redact::{Redactor, StreamRedactor};

/// Lines of output kept for "last lines of a failure".
pub const TAIL_LINES: usize = 20;
/// A kept line longer than this is cut: the tail is for reading, the file has everything.
const TAIL_LINE_CHARS: usize = 400;

pub struct OpLog {
    /// Unbuffered: every chunk reaches the file as it arrives, so `tail -f` shows a live log.
    file: Option<File>,
    redactor: Redactor,
    stream: StreamRedactor,
    tail: VecDeque<String>,
    partial: Vec<u8>,
    /// The first write error; later writes are skipped and the error is reported once.
    pub error: Option<std::io::Error>,
    /// Values reported with `##goldsmith-output:` lines since they were last taken.
    pub outputs: std::collections::BTreeMap<String, String>,
}

impl OpLog {
    /// Opens `path` for appending (attempts of one op share a log).
    pub fn open(path: &Path, redactor: Redactor) -> OpLog {
        let (file, error) = match crate::run_dir::open_append(path) {
            Ok(f) => (Some(f), None),
            Err(e) => (None, Some(e)),
        };
        OpLog {
            file,
            stream: StreamRedactor::new(redactor.clone()),
            redactor,
            tail: VecDeque::with_capacity(TAIL_LINES + 1),
            partial: Vec::new(),
            error,
            outputs: Default::default(),
        }
    }

    /// Raw output of the script.
    pub fn write(&mut self, bytes: &[u8]) {
        let mut redacted = Vec::new();
        self.stream.push(bytes, |b| redacted.extend_from_slice(b));
        self.emit(&redacted);
    }

    /// A line from goldsmith itself, marked so it cannot be mistaken for script output.
    pub fn note(&mut self, text: &str) {
        self.flush_stream();
        if !self.partial.is_empty() {
            self.emit(b"\n");
        }
        let line = format!("[goldsmith] {}\n", self.redactor.redact(text));
        self.emit(line.as_bytes());
    }

    pub fn finish(&mut self) {
        self.flush_stream();
        if !self.partial.is_empty() {
            self.emit(b"\n");
        }
        if let Some(f) = &mut self.file
            && let Err(e) = f.flush()
        {
            self.error.get_or_insert(e);
        }
    }

    pub fn tail(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }

    fn flush_stream(&mut self) {
        let mut redacted = Vec::new();
        self.stream.finish(|b| redacted.extend_from_slice(b));
        self.emit(&redacted);
    }

    fn emit(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(f) = &mut self.file
            && self.error.is_none()
            && let Err(e) = f.write_all(bytes)
        {
            self.error = Some(e);
        }
        self.keep_tail(bytes);
    }

    fn keep_tail(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
            if self.partial.len() < TAIL_LINE_CHARS * 4 {
                let take = nl.min(TAIL_LINE_CHARS * 4 - self.partial.len());
                self.partial.extend_from_slice(&rest[..take]);
            }
            let line = String::from_utf8_lossy(&self.partial);
            let line: String = line
                .trim_end_matches('\r')
                .chars()
                .take(TAIL_LINE_CHARS)
                .collect();
            if let Some((name, value)) = super::op_outputs::parse(&line) {
                self.outputs.insert(name, value);
            }
            if self.tail.len() == TAIL_LINES {
                self.tail.pop_front();
            }
            self.tail.push_back(line);
            self.partial.clear();
            rest = &rest[nl + 1..];
        }
        let room = (TAIL_LINE_CHARS * 4).saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&rest[..rest.len().min(room)]);
    }
}
