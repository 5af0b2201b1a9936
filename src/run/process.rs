//! One child process in its own process group: spawn, stream output, time
//! out, terminate, and make sure nothing of it survives.
//!
//! Mechanics follow cargo-nextest: `process_group(0)`, stdin from /dev/null,
//! stdout and stderr on one pipe (interleaved as the script wrote them, read
//! in the same `select!` as `wait()`), SIGTERM to the group on timeout or
//! cancel, SIGKILL after the grace period, and after exit a short leak check
//! before SIGKILL for whatever is left of the group.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use super::oplog::OpLog;

/// What the coordinator asks of running operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stop {
    /// Keep going.
    No,
    /// Terminate: SIGTERM, grace, SIGKILL.
    Terminate,
    /// SIGKILL now (second signal).
    Kill,
}

pub struct ProcessSpec {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub timeout: Duration,
    pub grace: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    /// Killed by a signal nobody in goldsmith sent.
    Signal(i32),
    TimedOut,
    Cancelled,
    SpawnFailed(String),
}

#[derive(Clone, Debug)]
pub struct ProcessResult {
    pub exit: Exit,
    /// A process of the group still held the output pipe after the script exited.
    pub leaked: bool,
    pub duration: Duration,
}

/// How long the group may keep the pipe open after the script exits.
const LEAK_TIMEOUT: Duration = Duration::from_millis(200);

pub async fn run(
    spec: &ProcessSpec,
    log: &mut OpLog,
    mut stop: watch::Receiver<Stop>,
) -> ProcessResult {
    let started = Instant::now();
    let spawned = spawn(spec);
    let (mut child, mut pipe) = match spawned {
        Ok(x) => x,
        Err(e) => {
            return ProcessResult {
                exit: Exit::SpawnFailed(format!("cannot start {}: {e}", spec.program.display())),
                leaked: false,
                duration: started.elapsed(),
            };
        }
    };
    let pgid = child.id().map(|p| p as i32);
    let mut buf = vec![0u8; 64 * 1024];
    let mut pipe_open = true;
    let deadline = tokio::time::Instant::now() + spec.timeout;
    let mut terminated_for: Option<Exit> = None;
    let mut kill_at: Option<tokio::time::Instant> = None;
    let mut stop_open = true;

    if *stop.borrow() != Stop::No {
        terminated_for = Some(Exit::Cancelled);
        signal_group(pgid, libc::SIGKILL);
    }

    let status = loop {
        let kill_sleep = async {
            match kill_at {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            status = child.wait() => break status,
            n = pipe.read(&mut buf), if pipe_open => match n {
                Ok(0) | Err(_) => pipe_open = false,
                Ok(n) => log.write(&buf[..n]),
            },
            _ = tokio::time::sleep_until(deadline), if terminated_for.is_none() => {
                terminated_for = Some(Exit::TimedOut);
                log.note(&format!("timed out after {}: sending SIGTERM to the process group", crate::catalog::fields::format_duration(spec.timeout)));
                kill_at = Some(begin_terminate(pgid, spec.grace));
            }
            changed = stop.changed(), if stop_open => {
                if changed.is_err() {
                    // The coordinator is gone; nobody will ask again.
                    stop_open = false;
                    continue;
                }
                let request = *stop.borrow_and_update();
                match request {
                    Stop::No => {}
                    Stop::Terminate if terminated_for.is_none() => {
                        terminated_for = Some(Exit::Cancelled);
                        log.note("cancelled: sending SIGTERM to the process group");
                        kill_at = Some(begin_terminate(pgid, spec.grace));
                    }
                    Stop::Terminate => {}
                    Stop::Kill => {
                        terminated_for.get_or_insert(Exit::Cancelled);
                        log.note("cancelled again: sending SIGKILL to the process group");
                        signal_group(pgid, libc::SIGKILL);
                    }
                }
            }
            _ = kill_sleep => {
                log.note("grace period over: sending SIGKILL to the process group");
                signal_group(pgid, libc::SIGKILL);
                kill_at = None;
            }
        }
    };

    // The script has exited; its output may still be in the pipe, or a
    // background process of the group may hold the pipe open.
    let mut leaked = false;
    if pipe_open {
        let drain = async {
            loop {
                match pipe.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => log.write(&buf[..n]),
                }
            }
        };
        if tokio::time::timeout(LEAK_TIMEOUT, drain).await.is_err() {
            leaked = true;
        }
    }
    // Whatever is left of the group goes, leaked or not.
    signal_group(pgid, libc::SIGKILL);
    if leaked {
        log.note("a background process of the script still held its output after it exited; killed the process group");
        // Read what the killed processes left in the pipe, without waiting on holders outside the group.
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            while let Ok(n) = pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                log.write(&buf[..n]);
            }
        })
        .await;
    }
    log.finish();

    let exit = match (terminated_for, status) {
        (Some(reason), _) => reason,
        (None, Ok(s)) => match (s.code(), s.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(sig)) => Exit::Signal(sig),
            (None, None) => Exit::Code(-1),
        },
        (None, Err(e)) => Exit::SpawnFailed(format!("lost track of the script: {e}")),
    };
    ProcessResult {
        exit,
        leaked,
        duration: started.elapsed(),
    }
}

fn spawn(
    spec: &ProcessSpec,
) -> std::io::Result<(tokio::process::Child, tokio::net::unix::pipe::Receiver)> {
    // std's pipe, not tokio's: both ends are created O_CLOEXEC atomically, and
    // the child gets a blocking write end as programs expect.
    let (reader, writer) = std::io::pipe()?;
    let mut cmd = std::process::Command::new(&spec.program);
    cmd.args(&spec.args)
        .current_dir(&spec.cwd)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .process_group(0);
    let mut cmd = tokio::process::Command::from(cmd);
    let child = cmd.spawn()?;
    // Dropping the command closes our copies of the write end, so EOF means
    // every process holding it has gone.
    drop(cmd);
    let pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(reader))?;
    Ok((child, pipe))
}

fn begin_terminate(pgid: Option<i32>, grace: Duration) -> tokio::time::Instant {
    if grace.is_zero() {
        signal_group(pgid, libc::SIGKILL);
    } else {
        signal_group(pgid, libc::SIGTERM);
    }
    tokio::time::Instant::now() + grace
}

/// Signals the whole group. Errors are ignored: the group may be exiting right now.
pub fn signal_group(pgid: Option<i32>, signal: i32) {
    if let Some(pgid) = pgid.filter(|p| *p > 1) {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}
