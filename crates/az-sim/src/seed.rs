//! The state a run starts from: the scenario's `vms:`, then its `exists:`
//! commands, replayed by the simulator's own handlers on an in-memory state
//! in no real time, then its VM faults. What the commands make looks exactly
//! as if an earlier run had made it. This module owns the running of
//! `exists:`; the file format is `scenario`'s.

use std::cell::RefCell;

use super::args::{self, Args};
use super::call::Call;
use super::clock;
use super::commands::{self, Lookup};
use super::error::AzError;
use super::scenario::{Seed, placeholders};
use super::sim::Sim;
use super::world::World;

/// The state of a run's first `az`. The `exists:` commands run from
/// simulated time 0 with their real durations (a network takes 10 s, a VM
/// 120 s), in no real time; the run then starts where they ended, so what
/// they made is as old as it would be had an earlier run made it.
/// `{{NAME}}` placeholders take their values from `lookup`.
pub fn initial_state(sim: &Sim, lookup: &dyn Fn(&str) -> Option<String>) -> Result<World, AzError> {
    let sub = sim.subscription().to_string();
    let mut state = World::new(clock::unix_now(), &sim.scenario, &sub);
    let mut start = 0.0;
    if !sim.scenario.exists.is_empty() {
        let replay = Sim::replay(sim.env.clone(), state);
        for seed in &sim.scenario.exists {
            let words = expand(seed, lookup)?;
            run(&replay, &words).map_err(|e| {
                // The line as written: the values (a password, say) stay out of messages.
                AzError::sim(format!(
                    "{}: `{}` failed: {}",
                    seed.at,
                    seed.words.join(" "),
                    first_line(&e)
                ))
            })?;
        }
        start = replay.replayed_secs();
        state = replay
            .into_state()
            .ok_or_else(|| AzError::sim_io("the scenario's state was not kept in memory"))?;
        // Simulated time `start` is now.
        state.started_unix = clock::unix_now() - start / sim.env.speed;
    }
    state
        .apply_vm_faults(&sim.scenario, &sub, start)
        .map_err(AzError::sim)?;
    Ok(state)
}

/// The seed's words with every `{{NAME}}` replaced by `lookup(NAME)`.
pub fn expand(
    seed: &Seed,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, AzError> {
    let mut out = Vec::with_capacity(seed.words.len());
    for word in &seed.words {
        // `scenario` checked the placeholders' shape when it read the file.
        placeholders(word).map_err(|e| AzError::sim(format!("{}: {e}", seed.at)))?;
        let mut text = String::new();
        let mut rest = word.as_str();
        while let Some(start) = rest.find("{{") {
            let Some(len) = rest[start + 2..].find("}}") else {
                break;
            };
            let name = rest[start + 2..start + 2 + len].trim();
            let value = lookup(name).ok_or_else(|| {
                AzError::sim(format!(
                    "{}: {{{{{name}}}}} has no value: it names a config value (or an environment variable of the run)",
                    seed.at
                ))
            })?;
            text.push_str(&rest[..start]);
            text.push_str(&value);
            rest = &rest[start + 2 + len + 2..];
        }
        text.push_str(rest);
        out.push(text);
    }
    Ok(out)
}

/// Runs one command line on `sim` as `az` would, output discarded.
fn run(sim: &Sim, words: &[String]) -> Result<(), AzError> {
    let split = args::split(words);
    let (command, used) = match commands::lookup(&split.words) {
        Lookup::Found(c, used) => (c, used),
        Lookup::Group(_) => return Err(AzError::usage("a command group, not a command")),
        Lookup::Unknown(e) => return Err(e),
    };
    // The same argument check as every other call: a seed the real az would refuse fails here.
    let spec = super::spec::command(command.path)
        .ok_or_else(|| AzError::sim_io(format!("no argument spec for `az {}`", command.path)))?;
    let spelled_out = super::argparse::check(command.path, spec, &words[used..])?;
    let call = Call {
        sim,
        args: Args::resolve(&args::split(&spelled_out).options, command.aliases),
        warnings: RefCell::new(Vec::new()),
    };
    command.run(&call).map(|_| ())
}

/// An az error's first line, without `ERROR: `.
fn first_line(e: &AzError) -> String {
    let text = e.render();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("ERROR: ").unwrap_or(line).to_string()
}
