//! Consumers of the event stream: console, events.jsonl, state.json.
//!
//! Reporters see only `record` types; they never touch a process. `Fanout`
//! masks secrets in each event's values once, before any reporter sees it, so
//! no reporter ever masks serialised text (which would corrupt its structure).

pub mod annotations;
pub mod console;
pub mod finish;
pub mod jsonl;
pub mod junit;
pub mod state_file;
pub mod summary;

use crate::record::event::EventLine;
use crate::record::sink::{EventSink, SinkError};
use crate::redact::Redactor;

/// Feeds every event, its values masked, to each reporter in turn; the first error wins.
pub struct Fanout<'a> {
    pub sinks: Vec<&'a mut dyn EventSink>,
    pub redactor: Redactor,
}

impl EventSink for Fanout<'_> {
    fn event(&mut self, line: &EventLine) -> Result<(), SinkError> {
        // Without secrets there is nothing to mask: no copy of every event.
        let masked;
        let line = if self.redactor.is_empty() {
            line
        } else {
            let mut copy = line.clone();
            copy.event.mask(&self.redactor);
            masked = copy;
            &masked
        };
        let mut first = Ok(());
        for sink in &mut self.sinks {
            if let Err(e) = sink.event(line)
                && first.is_ok()
            {
                first = Err(e);
            }
        }
        first
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        let mut first = Ok(());
        for sink in &mut self.sinks {
            if let Err(e) = sink.flush()
                && first.is_ok()
            {
                first = Err(e);
            }
        }
        first
    }
}
