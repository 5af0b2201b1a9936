//! `state.json`: the run record's projection, written atomically when the
//! record changed, at the pace `write_pace` sets, and when the run finishes.

use std::time::Instant;

use super::write_pace::WritePace;
use crate::record::event::EventLine;
use crate::record::run_record::RunRecord;
use crate::record::sink::{Reporter, SinkError};
use crate::record::state::StateFile;
use crate::run_dir::RunDir;

pub struct StateWriter {
    dir: RunDir,
    /// The record's revision last written.
    written: Option<u64>,
    pace: WritePace,
    /// A change was held back: it must be written by `pace.next()`.
    held: bool,
}

impl StateWriter {
    /// For a run directory whose first state.json was just written.
    pub fn new(dir: &RunDir) -> Self {
        StateWriter {
            dir: dir.clone(),
            written: None,
            pace: WritePace::new(Instant::now()),
            held: false,
        }
    }

    fn write(&mut self, run: &RunRecord) -> Result<(), SinkError> {
        let started = Instant::now();
        self.dir
            .write_state(&StateFile::from(run))
            .map_err(|source| SinkError {
                what: format!("cannot write {}", self.dir.state().display()),
                source,
            })?;
        self.pace.wrote(started, Instant::now());
        self.written = Some(run.revision());
        self.held = false;
        Ok(())
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
        let finished = run.status.is_some();
        if finished || self.pace.ready(Instant::now()) {
            return self.write(run);
        }
        self.held = true;
        Ok(())
    }

    fn due(&self) -> Option<Instant> {
        self.held.then(|| self.pace.next())
    }
}
