//! `state.json`: the run state folded from events, written atomically when it changed.

use std::path::{Path, PathBuf};

use crate::record::event::EventLine;
use crate::record::sink::{EventSink, SinkError};
use crate::record::state::RunState;

pub struct StateWriter {
    path: PathBuf,
    state: RunState,
    dirty: bool,
}

impl StateWriter {
    pub fn new(path: &Path, state: RunState) -> Self {
        StateWriter {
            path: path.to_path_buf(),
            state,
            dirty: true,
        }
    }

    pub fn state(&self) -> &RunState {
        &self.state
    }
}

impl EventSink for StateWriter {
    fn event(&mut self, line: &EventLine) -> Result<(), SinkError> {
        self.dirty |= self.state.apply(line);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if !self.dirty {
            return Ok(());
        }
        let error = |source| SinkError {
            what: format!("cannot write {}", self.path.display()),
            source,
        };
        let json =
            serde_json::to_vec_pretty(&self.state).map_err(|e| error(std::io::Error::other(e)))?;
        crate::run_dir::write_atomic(&self.path, &json).map_err(error)?;
        self.dirty = false;
        Ok(())
    }
}
