//! One coordinator per module and root: the run lock.
//!
//! `artifacts/runs/.lock-<module>` is locked (an OS lock on the open file,
//! released by the kernel when the last holder is gone) for the life of a `run`
//! or `resume`, and holds a one-line owner record: pid, run id, start time.
//! A second `run`/`resume` of the module fails at once naming that owner, or
//! waits for the lock. The operations' supervisors inherit the locked file, so
//! the lock is free only when no operation of the run can still be alive.
//!
//! The lock also tells whether a run whose state says `running` has an owner:
//! when nobody holds the lock for it, it was interrupted.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::record::state::StateFile;
use crate::record::status::RunStatus;

/// How often a waiting `run --wait` tries the lock again.
const WAIT_POLL: Duration = Duration::from_millis(100);

/// Who holds the lock, as its holder wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub pid: u32,
    /// Unknown for the first moments, until the run directory has its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub started_at: jiff::Timestamp,
}

/// The lock is held: by whom, if the record could be read, and whether that
/// coordinator process still lives (if not, its operations are being stopped).
#[derive(Clone, Debug)]
pub struct Holder {
    pub owner: Option<Owner>,
    pub coordinator_alive: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{}", busy_message(.module, .holder))]
    Busy { module: String, holder: Holder },
    #[error("cannot use the run lock {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cancelled by {0} while waiting for the run lock; nothing ran")]
    Cancelled(&'static str),
}

fn busy_message(module: &str, holder: &Holder) -> String {
    let Some(owner) = &holder.owner else {
        return format!(
            "module `{module}` is already running in this root (its run is starting); pass --wait to wait for it"
        );
    };
    let run = owner.run_id.as_deref().unwrap_or("(starting)");
    if holder.coordinator_alive {
        format!(
            "module `{module}` is already running in this root: run {run}, goldsmith pid {}, started {}; pass --wait to wait for it, or stop it first",
            owner.pid, owner.started_at
        )
    } else {
        format!(
            "run {run} of module `{module}` (goldsmith pid {}, started {}) was interrupted and its operations are still being stopped; try again in a moment or pass --wait",
            owner.pid, owner.started_at
        )
    }
}

/// `artifacts/runs/.lock-<module>` under `root`.
pub fn lock_path(root: &Path, module: &str) -> PathBuf {
    crate::run_dir::lock_file(root, module)
}

/// The held lock of one module. Dropping it releases it (unless handed on).
pub struct RunLock {
    file: File,
    path: PathBuf,
    owner: Owner,
}

impl RunLock {
    /// Takes the lock of `module` under `root`. Busy: an error naming the
    /// owner, or with `wait`, tries again until it is free; `waiting` is told
    /// once who is waited for, and `cancelled` is asked between tries.
    pub fn acquire(
        root: &Path,
        module: &str,
        wait: bool,
        mut waiting: impl FnMut(&LockError),
        cancelled: impl Fn() -> Option<&'static str>,
    ) -> Result<RunLock, LockError> {
        let path = lock_path(root, module);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(crate::run_dir::runs_root(root)).map_err(io)?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let mut told = false;
        loop {
            if os::try_lock(&file).map_err(io)? {
                break;
            }
            let busy = LockError::Busy {
                module: module.to_string(),
                holder: Holder {
                    owner: read_owner(&path),
                    coordinator_alive: false,
                }
                .checked(),
            };
            if !wait {
                return Err(busy);
            }
            if !told {
                waiting(&busy);
                told = true;
            }
            if let Some(signal) = cancelled() {
                return Err(LockError::Cancelled(signal));
            }
            std::thread::sleep(WAIT_POLL);
        }
        let lock = RunLock {
            file,
            path: path.clone(),
            owner: Owner {
                pid: std::process::id(),
                run_id: None,
                started_at: jiff::Timestamp::now(),
            },
        };
        lock.write_owner().map_err(io)?;
        Ok(lock)
    }

    /// Records the run's id, so a second `run` and `status` can name it.
    pub fn set_run_id(&mut self, run_id: &str) -> std::io::Result<()> {
        self.owner.run_id = Some(run_id.to_string());
        self.write_owner()
    }

    fn write_owner(&self) -> std::io::Result<()> {
        // Rewritten in place: a new file (rename) would not be the locked one.
        let mut line = serde_json::to_vec(&self.owner).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.set_len(0)?;
        self.file.write_all_at(&line, 0)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The locked file, for whoever keeps the lock from here on.
    pub fn into_fd(self) -> OwnedFd {
        OwnedFd::from(self.file)
    }
}

impl Holder {
    fn checked(mut self) -> Holder {
        self.coordinator_alive = self.owner.as_ref().is_some_and(|o| process_alive(o.pid));
        self
    }
}

/// Who holds the lock of `module` (`None`: nobody, or no lock file).
pub fn holder(root: &Path, module: &str) -> Option<Holder> {
    let path = lock_path(root, module);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .ok()?;
    // An unreadable lock state counts as held: better "running" than a false "interrupted".
    if !os::is_locked(&file).unwrap_or(true) {
        return None;
    }
    Some(
        Holder {
            owner: read_owner(&path),
            coordinator_alive: false,
        }
        .checked(),
    )
}

/// The status of a run as `status` and `resume` should see it: a run recorded
/// as running whose coordinator is gone is `interrupted`.
pub fn effective_status(root: &Path, state: &StateFile) -> RunStatus {
    if state.status != RunStatus::Running {
        return state.status;
    }
    match holder(root, &state.module) {
        Some(Holder {
            owner: Some(owner),
            coordinator_alive: true,
        }) if owner.run_id.as_deref() == Some(state.run_id.as_str()) => RunStatus::Running,
        _ => RunStatus::Interrupted,
    }
}

fn read_owner(path: &Path) -> Option<Owner> {
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    serde_json::from_str(text.trim()).ok()
}

/// Whether `pid` is a live process; a zombie (killed, not yet reaped) is not.
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if cfg!(target_os = "linux") {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit_once(") ").and_then(|(_, r)| r.chars().next());
        return matches!(state, Some(s) if s != 'Z' && s != 'X');
    }
    // SAFETY: kill with signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Open file description locks on Linux: the lock belongs to the open file,
/// is shared by every process that inherited it, and can be tested without
/// taking it (`status` must never make a starting `run` fail).
#[cfg(target_os = "linux")]
mod os {
    use super::*;

    fn whole_file(kind: libc::c_int) -> libc::flock {
        // SAFETY: a plain C struct for which all zeroes is valid.
        let mut fl: libc::flock = unsafe { std::mem::zeroed() };
        fl.l_type = kind as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        fl
    }

    pub fn try_lock(file: &File) -> std::io::Result<bool> {
        let fl = whole_file(libc::F_WRLCK);
        // SAFETY: fcntl reads the struct we pass.
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &fl) } == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
            _ => Err(e),
        }
    }

    pub fn is_locked(file: &File) -> std::io::Result<bool> {
        let mut fl = whole_file(libc::F_WRLCK);
        // SAFETY: fcntl writes into the struct we pass.
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut fl) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
    }
}

/// flock elsewhere: also a lock of the open file; testing it means taking a
/// shared lock for a moment.
#[cfg(not(target_os = "linux"))]
mod os {
    use super::*;

    fn flock(file: &File, op: libc::c_int) -> std::io::Result<bool> {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), op | libc::LOCK_NB) } == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EWOULDBLOCK) => Ok(false),
            _ => Err(e),
        }
    }

    pub fn try_lock(file: &File) -> std::io::Result<bool> {
        flock(file, libc::LOCK_EX)
    }

    pub fn is_locked(file: &File) -> std::io::Result<bool> {
        let free = flock(file, libc::LOCK_SH)?;
        if free {
            // SAFETY: as above.
            unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
        }
        Ok(!free)
    }
}
