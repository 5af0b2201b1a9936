//! The simulated Azure of one run: every VM, resource, provider and Entra
//! group the `az` processes have made or seen, in `<sim dir>/state.json`.
//! It is only ever read, changed and written back under the exclusive lock.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ids;
use super::lock::FileLock;
use super::power_state::{Phase, PowerState};
use super::scenario::{Scenario, VmFaultKind, undeclared_vm};

pub const STATE_FILE: &str = "state.json";
pub const LOCK_FILE: &str = "state.lock";
pub const VERSION: u32 = 1;
pub const DEFAULT_LOCATION: &str = "westeurope";

/// Everything the simulated Azure of one run holds, as `state.json` keeps it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct World {
    pub version: u32,
    /// Real time (Unix seconds) of the run's first `az`: simulated time 0.
    pub started_unix: f64,
    #[serde(default)]
    pub logged_out: bool,
    /// Federated sign-ins by `AZURE_CONFIG_DIR` (`federated.rs`).
    #[serde(default)]
    pub federated_logins: BTreeMap<String, super::federated::FederatedLogin>,
    /// Keyed by the lower-cased VM id.
    #[serde(default)]
    pub vms: BTreeMap<String, Vm>,
    /// Resource groups and every other ARM resource, keyed by the lower-cased id.
    #[serde(default)]
    pub resources: BTreeMap<String, Resource>,
    /// Resource providers asked to register: lower-cased namespace → the
    /// simulated time the registration completes.
    #[serde(default)]
    pub providers: BTreeMap<String, f64>,
    #[serde(default)]
    pub ad_groups: Vec<Value>,
    /// Entra group id → member object ids.
    #[serde(default)]
    pub ad_members: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub role_assignments: Vec<Value>,
    /// Requests each scenario throttle rule has answered with 429 so far.
    #[serde(default)]
    pub throttle_used: Vec<u32>,
    #[serde(default)]
    pub extensions: BTreeSet<String>,
    /// Bumped for every made-up value that must differ between calls.
    #[serde(default)]
    pub serial: u64,
}

/// A long-running ARM operation in flight on a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BusyOp {
    Creating,
    Updating,
    Deleting,
}

impl BusyOp {
    pub fn provisioning_state(self) -> &'static str {
        match self {
            BusyOp::Creating => "Creating",
            BusyOp::Updating => "Updating",
            BusyOp::Deleting => "Deleting",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Busy {
    pub op: BusyOp,
    pub until: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resource {
    pub id: String,
    pub kind: String,
    pub body: Value,
    #[serde(default)]
    pub busy: Option<Busy>,
}

/// The world's kind for resource groups.
pub const GROUP_KIND: &str = "group";

impl Resource {
    /// A resource group as ARM shows it: `az group create` makes one, and
    /// so does a VM the scenario declares in a group that does not exist yet.
    pub fn group(id: &str, name: &str, location: &str, tags: Value) -> Self {
        Resource {
            id: id.to_string(),
            kind: GROUP_KIND.to_string(),
            body: json!({
                "id": id,
                "location": location,
                "managedBy": null,
                "name": name,
                "properties": { "provisioningState": "Succeeded" },
                "tags": tags,
                "type": "Microsoft.Resources/resourceGroups",
            }),
            busy: None,
        }
    }
}

/// The one run-command a VM runs at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    pub until: f64,
    pub owner: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub phase: Phase,
    pub to: PowerState,
    pub until: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Vm {
    pub id: String,
    pub resource_group: String,
    pub name: String,
    pub location: String,
    pub power: PowerState,
    #[serde(default)]
    pub transition: Option<Transition>,
    #[serde(default)]
    pub generalized: bool,
    #[serde(default)]
    pub busy: Option<Busy>,
    #[serde(default)]
    pub agent_ready_at: f64,
    #[serde(default)]
    pub run_command: Option<Slot>,
    #[serde(default)]
    pub installer_busy_until: f64,
    /// Managed run commands (`az vm run-command create`), by lower-cased name.
    #[serde(default)]
    pub managed_run_commands: super::managed_run_command::ManagedRuns,
    /// What Windows Update has installed and whether it waits for a restart.
    #[serde(default)]
    pub windows_update: super::windows_update::VmUpdates,
    /// Payloads scripts downloaded into the VM's local cache (`download=`).
    #[serde(default)]
    pub payloads: super::payload_cache::PayloadCache,
    /// What `vm create` was told (size, image, NIC, disk, ...); null for VMs
    /// that existed before the run.
    #[serde(default)]
    pub model: Value,
}

impl Vm {
    pub fn new(subscription: &str, resource_group: &str, name: &str, location: &str) -> Self {
        Vm {
            id: ids::resource_id(
                subscription,
                resource_group,
                "Microsoft.Compute/virtualMachines",
                &[name.to_string()],
            ),
            resource_group: resource_group.to_string(),
            name: name.to_string(),
            location: location.to_string(),
            power: PowerState::Running,
            transition: None,
            generalized: false,
            busy: None,
            agent_ready_at: 0.0,
            run_command: None,
            installer_busy_until: 0.0,
            managed_run_commands: Default::default(),
            windows_update: Default::default(),
            payloads: Default::default(),
            model: Value::Null,
        }
    }

    /// `running`, `stopped`, `deallocating`, ... as in `PowerState/<word>`.
    pub fn power_word(&self) -> &'static str {
        match self.transition {
            Some(t) => t.phase.word(),
            None => self.power.word(),
        }
    }

    /// Running, or being started (the agent check then decides).
    pub fn accepts_run_command(&self) -> bool {
        match self.transition {
            Some(t) => t.phase == Phase::Starting,
            None => self.power == PowerState::Running,
        }
    }
}

pub fn vm_key(subscription: &str, resource_group: &str, name: &str) -> String {
    ids::key(&ids::resource_id(
        subscription,
        resource_group,
        "Microsoft.Compute/virtualMachines",
        &[name.to_string()],
    ))
}

impl World {
    /// The state at the run's first `az`, before the scenario's `exists:`
    /// commands run: the scenario's `vms:` (and their groups).
    pub fn new(started_unix: f64, scenario: &Scenario, subscription: &str) -> Self {
        let mut state = World {
            version: VERSION,
            started_unix,
            throttle_used: vec![0; scenario.throttles.len()],
            ..World::default()
        };
        for seed in &scenario.vms {
            let location = seed.location.as_deref().unwrap_or(DEFAULT_LOCATION);
            let vm = state.ensure_vm(subscription, &seed.resource_group, &seed.name, location);
            vm.power = seed.power_state;
        }
        state
    }

    /// Puts the scenario's `vm:` faults on their VMs, which must exist by now
    /// (a fault no longer makes its VM exist), from `start`, the simulated
    /// time the run begins at.
    pub fn apply_vm_faults(
        &mut self,
        scenario: &Scenario,
        subscription: &str,
        start: f64,
    ) -> Result<(), String> {
        for fault in &scenario.vm_faults {
            let key = vm_key(subscription, &fault.vm.resource_group, &fault.vm.name);
            let Some(vm) = self.vms.get_mut(&key) else {
                return Err(undeclared_vm(fault));
            };
            let until = start + fault.seconds;
            match fault.kind {
                VmFaultKind::Busy => {
                    vm.run_command = Some(Slot {
                        until,
                        owner: "scenario".into(),
                    })
                }
                VmFaultKind::InstallerBusy => {
                    vm.installer_busy_until = vm.installer_busy_until.max(until)
                }
                VmFaultKind::AgentNotReady => vm.agent_ready_at = vm.agent_ready_at.max(until),
            }
        }
        Ok(())
    }

    /// The VM, registered as existing and running (with its resource group)
    /// when the state does not know it yet.
    pub fn ensure_vm(
        &mut self,
        subscription: &str,
        resource_group: &str,
        name: &str,
        location: &str,
    ) -> &mut Vm {
        self.ensure_group(subscription, resource_group, location);
        let key = vm_key(subscription, resource_group, name);
        self.vms
            .entry(key)
            .or_insert_with(|| Vm::new(subscription, resource_group, name, location))
    }

    pub fn ensure_group(&mut self, subscription: &str, resource_group: &str, location: &str) {
        let id = ids::group_id(subscription, resource_group);
        self.resources
            .entry(ids::key(&id))
            .or_insert_with(|| Resource::group(&id, resource_group, location, Value::Null));
    }

    pub fn group_exists(&self, subscription: &str, resource_group: &str) -> bool {
        self.resources
            .contains_key(&ids::key(&ids::group_id(subscription, resource_group)))
    }

    pub fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    /// Finishes every operation whose simulated end has passed.
    pub fn settle(&mut self, now: f64) {
        let deleted: Vec<String> = self
            .resources
            .values()
            .filter(|r| matches!(r.busy, Some(b) if b.op == BusyOp::Deleting && b.until <= now))
            .map(|r| r.id.clone())
            .collect();
        for id in deleted {
            self.remove_tree(&id);
        }
        for r in self.resources.values_mut() {
            if matches!(r.busy, Some(b) if b.until <= now) {
                r.busy = None;
            }
        }
        // A deleted VM takes its child resources (extensions) along.
        let deleted_vms: Vec<String> = self
            .vms
            .values()
            .filter(|vm| matches!(vm.busy, Some(b) if b.op == BusyOp::Deleting && b.until <= now))
            .map(|vm| vm.id.clone())
            .collect();
        for id in deleted_vms {
            self.remove_tree(&id);
        }
        for vm in self.vms.values_mut() {
            if matches!(vm.busy, Some(b) if b.until <= now) {
                vm.busy = None;
            }
            if let Some(t) = vm.transition.filter(|t| t.until <= now) {
                vm.power = t.to;
                vm.transition = None;
            }
            if matches!(&vm.run_command, Some(s) if s.until <= now) {
                vm.run_command = None;
            }
        }
    }

    /// Removes a resource and everything under its id (a group's resources
    /// and VMs, a virtual network's subnets, ...).
    pub fn remove_tree(&mut self, id: &str) {
        let key = ids::key(id);
        let prefix = format!("{key}/");
        self.resources
            .retain(|k, _| k != &key && !k.starts_with(&prefix));
        self.vms.retain(|k, _| k != &key && !k.starts_with(&prefix));
    }
}

/// Where the state lives: `state.json` and its lock file in the sim
/// directory, or, while the scenario's `exists:` commands run, memory.
pub enum Store {
    File(PathBuf),
    Memory(RefCell<Box<World>>),
}

impl Store {
    pub fn new(dir: PathBuf) -> Self {
        Store::File(dir)
    }

    /// Makes `state.json` with `init` unless it exists. An `init` error
    /// writes nothing, so every later `az` of the run fails the same way.
    pub fn create_if_absent<E>(
        &self,
        init: impl FnOnce() -> Result<World, E>,
    ) -> io::Result<Result<(), E>> {
        let Store::File(dir) = self else {
            return Ok(Ok(()));
        };
        let _lock = FileLock::acquire(&dir.join(LOCK_FILE))?;
        let path = dir.join(STATE_FILE);
        if path.exists() {
            return Ok(Ok(()));
        }
        match init() {
            Ok(state) => {
                write_state(dir, &state)?;
                Ok(Ok(()))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    /// The state made in memory, once the `exists:` commands are done.
    pub fn into_state(self) -> Option<World> {
        match self {
            Store::Memory(state) => Some(*state.into_inner()),
            Store::File(_) => None,
        }
    }

    /// Locks, reads (or creates with `init`), lets `f` change the state,
    /// writes it back atomically and unlocks.
    pub fn transact<T>(
        &self,
        init: impl FnOnce() -> World,
        f: impl FnOnce(&mut World) -> T,
    ) -> io::Result<T> {
        let dir = match self {
            Store::File(dir) => dir,
            Store::Memory(state) => return Ok(f(&mut state.borrow_mut())),
        };
        let _lock = FileLock::acquire(&dir.join(LOCK_FILE))?;
        let path = dir.join(STATE_FILE);
        let mut state = match fs::read(&path) {
            Ok(bytes) => {
                let state: World = serde_json::from_slice(&bytes).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{} is not a simulator state file: {e}", path.display()),
                    )
                })?;
                if state.version != VERSION {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{} has state version {}, this goldsmith writes {VERSION}: start a new run",
                            path.display(),
                            state.version
                        ),
                    ));
                }
                state
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => init(),
            Err(e) => return Err(e),
        };
        let out = f(&mut state);
        write_state(dir, &state)?;
        Ok(out)
    }
}

/// Writes `state.json` atomically (the caller holds the lock).
fn write_state(dir: &std::path::Path, state: &World) -> io::Result<()> {
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    fs::write(&tmp, serde_json::to_vec_pretty(state)?)?;
    fs::rename(&tmp, dir.join(STATE_FILE))
}
