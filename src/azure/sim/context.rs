//! What every command handler works with: the environment, the scenario, and
//! transactions on the shared state with the simulated time they happen at.

use super::clock;
use super::env::SimEnv;
use super::error::AzError;
use super::scenario::Scenario;
use super::state::{State, Store};

pub struct Sim {
    pub env: SimEnv,
    pub scenario: Scenario,
    store: Store,
}

impl Sim {
    pub fn new(env: SimEnv, scenario: Scenario) -> Self {
        let store = Store::new(env.dir.clone());
        Sim {
            env,
            scenario,
            store,
        }
    }

    /// Runs `f` on the settled state at simulated time `now`, under the lock.
    pub fn transact<T>(&self, f: impl FnOnce(&mut State, f64) -> T) -> Result<T, AzError> {
        let speed = self.env.speed;
        self.store
            .transact(
                || State::new(clock::unix_now(), &self.scenario, &self.env.subscription),
                |state| {
                    let now = clock::sim_now(state.started_unix, speed);
                    state.settle(now);
                    f(state, now)
                },
            )
            .map_err(|e| {
                AzError::sim_io(format!(
                    "cannot use the simulator state in {}: {e}",
                    self.env.dir.display()
                ))
            })
    }

    /// Waits `seconds` of simulated time (never while holding the lock).
    pub fn sleep(&self, seconds: f64) {
        clock::sleep(seconds, self.env.speed);
    }

    pub fn subscription(&self) -> &str {
        &self.env.subscription
    }
}
