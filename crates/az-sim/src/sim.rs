//! The simulated Azure as one `az` process reaches it, and what every command
//! handler works with: the environment, the scenario, and transactions on the
//! shared world with the simulated time they happen at.

use std::cell::{Cell, RefCell};

use super::clock;
use super::env::SimEnv;
use super::error::AzError;
use super::scenario::Scenario;
use super::seed;
use super::world::{Store, World};

/// The environment, the scenario, where the world is kept, and the clock.
pub struct Sim {
    pub env: SimEnv,
    pub scenario: Scenario,
    store: Store,
    /// Simulated time kept here instead of read from the wall clock, and
    /// moved on by waits, which return at once: the scenario's `exists:`
    /// commands run on an in-memory state, in no real time, before the run.
    replay: Option<Cell<f64>>,
}

impl Sim {
    pub fn new(env: SimEnv, scenario: Scenario) -> Self {
        let store = Store::new(env.dir.clone());
        Sim {
            env,
            scenario,
            store,
            replay: None,
        }
    }

    /// A simulator of `state` in memory whose time starts at 0 and passes
    /// only by its commands' waits, which take no real time.
    pub fn replay(env: SimEnv, state: World) -> Self {
        Sim {
            env,
            scenario: Scenario::default(),
            store: Store::Memory(RefCell::new(Box::new(state))),
            replay: Some(Cell::new(0.0)),
        }
    }

    /// The simulated time a replaying simulator has reached.
    pub fn replayed_secs(&self) -> f64 {
        self.replay.as_ref().map_or(0.0, Cell::get)
    }

    /// The in-memory state of a replaying simulator.
    pub fn into_state(self) -> Option<World> {
        self.store.into_state()
    }

    /// Makes the run's state on its first `az`: the scenario's `vms:`, its
    /// `exists:` commands and its VM faults. A failing `exists:` command
    /// fails this and every later `az` of the run, naming the entry.
    pub fn start(&self) -> Result<(), AzError> {
        self.start_with(&|name| std::env::var(name).ok())
    }

    /// [`Sim::start`], with the `exists:` placeholders' values from `lookup`
    /// instead of this process's environment.
    pub fn start_with(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<(), AzError> {
        self.store
            .create_if_absent(|| seed::initial_state(self, lookup))
            .map_err(|e| self.io_error(e))?
    }

    fn io_error(&self, e: std::io::Error) -> AzError {
        AzError::sim_io(format!(
            "cannot use the simulator state in {}: {e}",
            self.env.dir.display()
        ))
    }

    /// Runs `f` on the settled state at simulated time `now`, under the lock.
    pub fn transact<T>(&self, f: impl FnOnce(&mut World, f64) -> T) -> Result<T, AzError> {
        let speed = self.env.speed;
        let replayed = self.replay.as_ref().map(Cell::get);
        self.store
            .transact(
                // `start` made the state; this only runs if someone removed it since.
                || World::new(clock::unix_now(), &self.scenario, &self.env.subscription),
                |state| {
                    let now = replayed.unwrap_or_else(|| clock::sim_now(state.started_unix, speed));
                    state.settle(now);
                    f(state, now)
                },
            )
            .map_err(|e| self.io_error(e))
    }

    /// Waits `seconds` of simulated time (never while holding the lock).
    pub fn sleep(&self, seconds: f64) {
        match &self.replay {
            Some(now) => now.set(now.get() + seconds.max(0.0)),
            None => clock::sleep(seconds, self.env.speed),
        }
    }

    pub fn subscription(&self) -> &str {
        &self.env.subscription
    }
}
