//! The vocabulary the stages hand each other and other programs read: events
//! (schema-versioned), statuses, failure classes, the run record (the one
//! fold of the event stream), `state.json` as its projection, and the sinks
//! that connect the executor to the reporters.
//!
//! Our `nextest-metadata`: plain serde types with a `version`. `run/` emits
//! events into an `EventSink`, `report/` implements `Reporter`; neither sees
//! the other, and nothing here reads or writes a file.

pub mod event;
pub mod failure;
pub mod run_record;
pub mod sink;
pub mod state;
pub mod status;

/// `Duration` as fractional seconds in JSON.
pub mod serde_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// `Option<Duration>` as fractional seconds in JSON.
pub mod serde_opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::serde_secs::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(|secs| Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom))
            .transpose()
    }
}
