//! Reading operation logs back: the one reader every report uses, redacted,
//! reading only the end of a file however large it is.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::redact::Redactor;

/// Bytes read before the part shown: the first `REDACT_MARGIN` are always
/// dropped, so a secret split by the start of the read is never shown in
/// part, and the second leave room for redactions that shorten the text.
const REDACT_MARGIN: usize = 16 * 1024;

/// The `logs/` folder of one run, read with the run's redactor.
#[derive(Clone, Debug)]
pub struct LogReader {
    dir: PathBuf,
    redactor: Redactor,
}

impl LogReader {
    pub fn new(dir: &Path, redactor: Redactor) -> Self {
        LogReader {
            dir: dir.to_path_buf(),
            redactor,
        }
    }

    pub fn path(&self, op: &str) -> PathBuf {
        self.dir.join(format!("{op}.log"))
    }

    /// The last `max_bytes` of `op`'s log, redacted; `None` when it has no log.
    pub fn tail(&self, op: &str, max_bytes: usize) -> io::Result<Option<LogTail>> {
        read_tail(&self.path(op), max_bytes, &self.redactor)
    }

    /// At most the last `lines` lines of `op`'s log, each cut to `chars`; a read
    /// error becomes the one line saying so.
    pub fn last_lines(&self, op: &str, lines: usize, chars: usize) -> Vec<String> {
        match self.tail(op, lines * chars * 4) {
            Ok(Some(tail)) => {
                let all: Vec<&str> = tail.text.lines().collect();
                all[all.len().saturating_sub(lines)..]
                    .iter()
                    .map(|l| l.chars().take(chars).collect())
                    .collect()
            }
            Ok(None) => Vec::new(),
            Err(e) => vec![format!(
                "[goldsmith] cannot read {}: {e}",
                self.path(op).display()
            )],
        }
    }
}

/// The end of a log file, redacted, cut at a character boundary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogTail {
    pub text: String,
    /// The size of the whole file.
    pub total_bytes: u64,
    /// The bytes of `text` (after redaction).
    pub shown_bytes: usize,
    /// Only the end of the file is in `text`.
    pub cut: bool,
}

/// The last `max_bytes` of `path`, redacted; `None` when there is no such file.
///
/// Only the end of the file is read, so a huge log costs no more than a small one.
fn read_tail(path: &Path, max_bytes: usize, redactor: &Redactor) -> io::Result<Option<LogTail>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let total_bytes = file.metadata()?.len();
    let window = (max_bytes + 2 * REDACT_MARGIN) as u64;
    let start = total_bytes.saturating_sub(window);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(window).read_to_end(&mut bytes)?;
    let redacted = redactor.redact_bytes(&bytes);
    let mut keep_from = redacted.len().saturating_sub(max_bytes);
    if start > 0 {
        keep_from = keep_from.max(REDACT_MARGIN.min(redacted.len()));
    }
    // Step over UTF-8 continuation bytes so the cut never splits a character.
    while redacted
        .get(keep_from)
        .is_some_and(|b| b & 0b1100_0000 == 0b1000_0000)
    {
        keep_from += 1;
    }
    let shown = &redacted[keep_from..];
    Ok(Some(LogTail {
        text: String::from_utf8_lossy(shown).into_owned(),
        total_bytes,
        shown_bytes: shown.len(),
        cut: start > 0 || keep_from > 0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail_of(content: &[u8], max: usize, redactor: &Redactor) -> LogTail {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("op.log");
        std::fs::write(&path, content).expect("write log");
        read_tail(&path, max, redactor)
            .expect("readable")
            .expect("exists")
    }

    #[test]
    fn a_missing_log_is_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tail = read_tail(&dir.path().join("nope.log"), 10, &Redactor::default());
        assert!(matches!(tail, Ok(None)));
    }

    #[test]
    fn a_short_log_is_whole() {
        let t = tail_of(b"one\ntwo\n", 64, &Redactor::default());
        assert_eq!(t.text, "one\ntwo\n");
        assert!(!t.cut);
        assert_eq!(t.total_bytes, 8);
    }

    #[test]
    fn the_cut_lands_on_a_char_boundary() {
        // "é" is two bytes; a cut one byte into it must skip the rest of it.
        let content = "aé".repeat(10);
        let t = tail_of(content.as_bytes(), 4, &Redactor::default());
        assert!(t.cut);
        assert_eq!(t.text, "aé");
        assert_eq!(t.shown_bytes, 3);
    }

    #[test]
    fn a_secret_split_by_the_read_window_never_shows() {
        const SHOWN: usize = 64 * 1024;
        let secret = "s3cr3t-value-xyz";
        let redactor = Redactor::new([secret]);
        let window = SHOWN + 2 * REDACT_MARGIN;
        // The window starts `k` bytes into the secret, so it reads only its end.
        for k in 1..secret.len() {
            let mut content = "x".repeat(1000);
            content.push_str(secret);
            content.push_str(&"y".repeat(window + k - secret.len()));
            let t = tail_of(content.as_bytes(), SHOWN, &redactor);
            assert!(t.cut);
            assert_eq!(t.text, "y".repeat(SHOWN), "k {k}");
        }
    }
}
