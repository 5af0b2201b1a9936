//! Where events go. The executor writes to one `EventSink`: the `Recorder`,
//! which masks each event's values, folds it into the run record (the one
//! fold of the stream), and hands the event and the record to every
//! `Reporter`. Reporters never fold events themselves and never read back
//! what another reporter wrote.

use std::time::Instant;

use crate::record::event::EventLine;
use crate::record::run_record::RunRecord;
use crate::redact::Redactor;

/// What the executor emits into.
pub trait EventSink {
    fn event(&mut self, line: &EventLine) -> Result<(), SinkError>;
    /// Called once per scheduling round, and before any operation starts:
    /// everything emitted so far that anything may depend on (the event
    /// stream) is on disk when it returns; snapshots may be held back.
    fn flush(&mut self) -> Result<(), SinkError>;
    /// When a held-back write is due: `flush` must be called by then.
    fn due(&self) -> Option<Instant>;
}

/// A consumer of the event stream and of the run as folded so far.
pub trait Reporter {
    /// `run` already includes `line`.
    fn event(&mut self, line: &EventLine, run: &RunRecord) -> Result<(), SinkError>;
    /// Once per scheduling round, after the events of the round, and before
    /// any operation starts. A reporter may hold back a costly write until
    /// the moment it returns from `due` (the driver flushes again by then).
    fn flush(&mut self, run: &RunRecord) -> Result<(), SinkError>;
    /// When a write held back by `flush` is due; `None` when nothing is held back.
    fn due(&self) -> Option<Instant> {
        None
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct SinkError {
    pub what: String,
    #[source]
    pub source: std::io::Error,
}

/// Masks, folds, fans out. The first reporter error wins; every reporter still sees every event.
pub struct Recorder<'a> {
    run: RunRecord,
    redactor: Redactor,
    reporters: Vec<&'a mut dyn Reporter>,
}

impl<'a> Recorder<'a> {
    /// `run` is the record so far (the run directory's first state is folded from it).
    pub fn new(run: RunRecord, redactor: Redactor, reporters: Vec<&'a mut dyn Reporter>) -> Self {
        Recorder {
            run,
            redactor,
            reporters,
        }
    }

    /// The run as recorded (complete once `run_finished` was handled).
    pub fn into_record(self) -> RunRecord {
        self.run
    }
}

impl EventSink for Recorder<'_> {
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
        self.run.apply(line);
        let run = &self.run;
        first_error(self.reporters.iter_mut().map(|r| r.event(line, run)))
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        let run = &self.run;
        first_error(self.reporters.iter_mut().map(|r| r.flush(run)))
    }

    fn due(&self) -> Option<Instant> {
        self.reporters.iter().filter_map(|r| r.due()).min()
    }
}

/// Runs every call (no reporter is skipped) and keeps the first error.
fn first_error(results: impl Iterator<Item = Result<(), SinkError>>) -> Result<(), SinkError> {
    let mut first = Ok(());
    for result in results {
        if first.is_ok() {
            first = result;
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::event::{EVENTS_VERSION, Event};

    /// Counts the events it sees; fails every one when `fails` names it.
    struct Counting {
        name: &'static str,
        fails: bool,
        seen: usize,
    }

    impl Reporter for Counting {
        fn event(&mut self, _: &EventLine, _: &RunRecord) -> Result<(), SinkError> {
            self.seen += 1;
            match self.fails {
                true => Err(SinkError {
                    what: self.name.into(),
                    source: std::io::Error::other("full"),
                }),
                false => Ok(()),
            }
        }

        fn flush(&mut self, _: &RunRecord) -> Result<(), SinkError> {
            Ok(())
        }
    }

    #[test]
    fn every_reporter_sees_every_event_and_the_first_error_wins() {
        let reporter = |name, fails| Counting {
            name,
            fails,
            seen: 0,
        };
        let (mut a, mut b, mut c) = (
            reporter("a", false),
            reporter("b", true),
            reporter("c", true),
        );
        let mut recorder = Recorder::new(
            RunRecord::default(),
            Redactor::default(),
            vec![&mut a, &mut b, &mut c],
        );
        let line = EventLine {
            version: EVENTS_VERSION,
            time: jiff::Timestamp::UNIX_EPOCH,
            event: Event::StageFinished { stage: 1 },
        };
        let error = recorder.event(&line).expect_err("b and c fail");
        assert_eq!(error.what, "b");
        drop(recorder);
        assert_eq!((a.seen, b.seen, c.seen), (1, 1, 1));
    }
}
