//! `events.jsonl`: every event, one JSON object per line (values already masked by the `Recorder`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::record::event::EventLine;
use crate::record::run_record::RunRecord;
use crate::record::sink::{Reporter, SinkError};

pub struct JsonlWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl JsonlWriter {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(JsonlWriter {
            path: path.to_path_buf(),
            out: BufWriter::new(crate::run_dir::create_new(path)?),
        })
    }

    fn error(&self, source: std::io::Error) -> SinkError {
        SinkError {
            what: format!("cannot write {}", self.path.display()),
            source,
        }
    }
}

impl Reporter for JsonlWriter {
    fn event(&mut self, line: &EventLine, _: &RunRecord) -> Result<(), SinkError> {
        let json = serde_json::to_string(line).map_err(|e| self.error(std::io::Error::other(e)))?;
        writeln!(self.out, "{json}").map_err(|e| self.error(e))
    }

    fn flush(&mut self, _: &RunRecord) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| self.error(e))
    }
}
