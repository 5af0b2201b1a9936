//! `state.json`: the run record's projection, written atomically when the record changed.

use crate::record::event::EventLine;
use crate::record::run_record::RunRecord;
use crate::record::sink::{Reporter, SinkError};
use crate::record::state::StateFile;
use crate::run_dir::RunDir;

pub struct StateWriter {
    dir: RunDir,
    /// The record's revision last written.
    written: Option<u64>,
}

impl StateWriter {
    pub fn new(dir: &RunDir) -> Self {
        StateWriter {
            dir: dir.clone(),
            written: None,
        }
    }
}

impl Reporter for StateWriter {
    fn event(&mut self, _: &EventLine, _: &RunRecord) -> Result<(), SinkError> {
        Ok(())
    }

    fn flush(&mut self, run: &RunRecord) -> Result<(), SinkError> {
        if self.written == Some(run.revision()) {
            return Ok(());
        }
        self.dir
            .write_state(&StateFile::from(run))
            .map_err(|source| SinkError {
                what: format!("cannot write {}", self.dir.state().display()),
                source,
            })?;
        self.written = Some(run.revision());
        Ok(())
    }
}
