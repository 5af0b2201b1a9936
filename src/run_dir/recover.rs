//! The state of a run that has not finished, read from its events.
//!
//! `state.json` is a paced snapshot (`report::write_pace`): while a run goes
//! on, or after its coordinator was killed, it may be a moment behind.
//! `events.jsonl` is not: the coordinator flushes it before any operation
//! starts. So an unfinished run's state is the fold of its events (the same
//! fold the snapshot projects, `RunRecord`), and the snapshot only when the
//! events cannot be read.

use std::path::Path;

use crate::record::event::EventLine;
use crate::record::run_record::RunRecord;
use crate::record::state::StateFile;

/// The state `events.jsonl` at `path` folds to; `None` when it cannot be read,
/// holds no `run_started`, or has a line that is not an event (other than a
/// last line cut short by a kill, which is left out).
pub fn from_events(path: &Path) -> Option<StateFile> {
    let text = std::fs::read_to_string(path).ok()?;
    // A kill can cut the last write short: only complete lines count.
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => return None,
    };
    let mut record = RunRecord::default();
    for line in complete.lines() {
        record.apply(&serde_json::from_str::<EventLine>(line).ok()?);
    }
    (!record.run_id.is_empty()).then(|| StateFile::from(&record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::event::{EVENTS_VERSION, Event, OpEnd, OpKind, PlannedOpRef, RunSetup};
    use crate::record::status::{FailFast, OpStatus, RunStatus};

    fn line(event: Event) -> String {
        let line = EventLine {
            version: EVENTS_VERSION,
            time: jiff::Timestamp::UNIX_EPOCH,
            event,
        };
        serde_json::to_string(&line).expect("serialises") + "\n"
    }

    fn started() -> String {
        let op = |id: &str| PlannedOpRef {
            id: id.into(),
            stage: 1,
            name: id.into(),
            kind: OpKind::Shell,
            capability: "bench".into(),
            file: format!("{id}.yaml"),
            line: 1,
            entry_line: 1,
            locks: Vec::new(),
            fingerprint: format!("f-{id}"),
        };
        line(Event::RunStarted {
            run_id: "r1".into(),
            module: "m".into(),
            module_file: "modules/m/module.yaml".into(),
            resumed_from: None,
            ops: vec![op("a"), op("b")],
            stages: 1,
            max_parallel: 2,
            fail_fast: FailFast::FinishStage,
            setup: RunSetup::default(),
        })
    }

    fn finished(op: &str) -> String {
        line(Event::OpFinished {
            op: op.into(),
            end: OpEnd::without_running(OpStatus::Succeeded, None, "done".into()),
            continue_on_error: false,
        })
    }

    fn fold(text: &str) -> Option<StateFile> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, text).expect("write");
        from_events(&path)
    }

    #[test]
    fn the_events_fold_to_the_state_the_snapshot_would_show() {
        let state = fold(&(started() + &finished("a"))).expect("folds");
        assert_eq!(state.run_id, "r1");
        assert_eq!(state.status, RunStatus::Running);
        assert_eq!(state.op("a").map(|o| o.status), Some(OpStatus::Succeeded));
        assert_eq!(state.op("b").map(|o| o.status), Some(OpStatus::Pending));
        assert_eq!(state.op("b").map(|o| o.fingerprint.as_str()), Some("f-b"));
    }

    #[test]
    fn a_last_line_cut_short_by_a_kill_is_left_out() {
        let b = finished("b");
        let text = started() + &finished("a") + &b[..b.len() / 2];
        let state = fold(&text).expect("folds");
        assert_eq!(state.op("a").map(|o| o.status), Some(OpStatus::Succeeded));
        assert_eq!(state.op("b").map(|o| o.status), Some(OpStatus::Pending));
    }

    #[test]
    fn events_that_cannot_be_read_give_no_state() {
        assert!(fold("").is_none(), "empty");
        assert!(fold(&finished("a")).is_none(), "no run_started");
        let broken = started() + "{\"not\": \"an event\"}\n" + &finished("a");
        assert!(
            fold(&broken).is_none(),
            "a line in the middle is not an event"
        );
    }
}
