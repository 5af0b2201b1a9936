//! Payloads a simulated VM keeps in a local cache: what a script that
//! prefetches a large download (the Microsoft 365 Apps payload, say) leaves
//! behind for a later step. A script says what it downloads with
//! `# goldsmith-sim: download=<payload>:<duration>`; the downloads run at the
//! script's start, one after the other. A payload is in the cache from the
//! moment its download ends: a step that starts its download after that
//! spends nothing, a step that comes earlier (the prefetch still running)
//! downloads it itself, as the real scripts do (they use a cache only once
//! the prefetch has finished and marked it). The time is spent once, by
//! whichever step downloads first.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::script::Phase;

/// One `download=<payload>:<duration>` directive.
#[derive(Debug, Clone, PartialEq)]
pub struct Download {
    pub payload: String,
    pub seconds: f64,
}

/// The VM's cache: each payload and the simulated time its download ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PayloadCache(BTreeMap<String, f64>);

/// What a script's downloads took: their time and a timeline entry each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fetched {
    pub seconds: f64,
    pub phases: Vec<Phase>,
}

impl PayloadCache {
    /// Plays `downloads` from `start`: each payload cached by the time its
    /// turn comes is taken from the cache (a `payload-cached` entry); the
    /// others are downloaded (a `payload-download` entry) and cached from
    /// when they end.
    pub fn fetch(&mut self, downloads: &[Download], start: f64) -> Fetched {
        let mut clock = start;
        let mut phases = Vec::new();
        for d in downloads {
            let cached = self.0.get(&d.payload).is_some_and(|&ready| ready <= clock);
            let begin = clock;
            if !cached {
                clock += d.seconds;
                let ready = self.0.entry(d.payload.clone()).or_insert(clock);
                *ready = ready.min(clock);
            }
            phases.push(Phase {
                app: d.payload.clone(),
                phase: if cached {
                    "payload-cached"
                } else {
                    "payload-download"
                },
                start: begin,
                end: clock,
            });
        }
        Fetched {
            seconds: clock - start,
            phases,
        }
    }
}

/// `download=<payload>:<duration>`: read from the right, so a payload name may hold `:`.
pub fn parse(value: &str) -> Result<Download, String> {
    let usage = || {
        format!("download={value}: write download=<payload>:<duration>, e.g. download=m365-apps:8m")
    };
    let (payload, duration) = value.rsplit_once(':').ok_or_else(usage)?;
    if payload.is_empty() {
        return Err(usage());
    }
    let seconds =
        super::duration::parse_seconds(duration).map_err(|e| format!("download={value}: {e}"))?;
    Ok(Download {
        payload: payload.to_string(),
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn download(payload: &str, seconds: f64) -> Download {
        Download {
            payload: payload.into(),
            seconds,
        }
    }

    #[test]
    fn a_payload_is_downloaded_once_and_only_a_later_step_finds_it() {
        let mut cache = PayloadCache::default();
        // The prefetch: 480 s from t=100.
        let first = cache.fetch(&[download("m365", 480.0)], 100.0);
        assert_eq!(first.seconds, 480.0);
        assert_eq!(first.phases[0].phase, "payload-download");
        // A step starting while it still runs downloads it itself.
        let early = cache.fetch(&[download("m365", 480.0)], 300.0);
        assert_eq!(early.seconds, 480.0);
        // Its later download does not push the cached moment back.
        assert_eq!(cache.0["m365"], 580.0);
        // A step starting after it ended spends nothing.
        let later = cache.fetch(&[download("m365", 480.0), download("odt", 5.0)], 600.0);
        assert_eq!(later.seconds, 5.0);
        let kinds: Vec<(&str, f64, f64)> = later
            .phases
            .iter()
            .map(|p| (p.phase, p.start, p.end))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("payload-cached", 600.0, 600.0),
                ("payload-download", 600.0, 605.0)
            ]
        );
    }

    #[test]
    fn the_directive_names_a_payload_and_a_duration() {
        assert_eq!(parse("m365-apps:8m").unwrap(), download("m365-apps", 480.0));
        assert_eq!(parse("a:b:1s").unwrap(), download("a:b", 1.0));
        for bad in ["m365", ":8m", "m365:soon"] {
            let e = parse(bad).unwrap_err();
            assert!(e.starts_with(&format!("download={bad}")), "{e}");
        }
    }
}
