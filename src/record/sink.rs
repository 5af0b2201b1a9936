//! Where events go: the one interface between the executor and the reporters.

use crate::record::event::EventLine;

/// A consumer of the event stream (console, events.jsonl, state.json, reports).
pub trait EventSink {
    fn event(&mut self, line: &EventLine) -> Result<(), SinkError>;
    /// Called once per scheduling round: coalesced writes happen here.
    fn flush(&mut self) -> Result<(), SinkError>;
}

#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct SinkError {
    pub what: String,
    #[source]
    pub source: std::io::Error,
}
