//! One child process in its own process group: spawn, stream output, time
//! out, terminate, and make sure nothing of it survives.
//!
//! Mechanics follow cargo-nextest: `process_group(0)`, stdin from /dev/null,
//! stdout and stderr on one pipe (interleaved as the script wrote them, read
//! in the same `select!` as `wait()`), SIGTERM to the group on timeout or
//! cancel, SIGKILL after the grace period, and after exit a short leak check
//! before SIGKILL for whatever is left of the group.
//!
//! Every process runs under a supervisor (`supervisor.rs`) that leads its
//! group and kills it when the coordinator dies; the supervisor reports the
//! process's exit on a status pipe, read in the same `select!`.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use super::oplog::OpLog;
use super::sealed::SealedScript;
use super::supervisor::{self, Report};

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
    /// The child's whole environment: nothing of goldsmith's own is inherited.
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub timeout: Duration,
    pub grace: Duration,
    /// Keep stdout and stderr apart in memory (for a program whose output is
    /// data, like az's JSON) instead of streaming both to the log.
    pub capture: bool,
    /// The script the child reads by its `/dev/fd/<n>` path (named in `args`).
    pub script: Option<SealedScript>,
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
    /// With `capture`: what the process wrote, each capped at `CAPTURE_LIMIT`.
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// A process of the group still held the output pipe after the script exited.
    pub leaked: bool,
    pub duration: Duration,
}

/// How long the group may keep a pipe open after the script exits.
const LEAK_TIMEOUT: Duration = Duration::from_millis(200);
/// Captured output beyond this is dropped from the front: the end matters most.
const CAPTURE_LIMIT: usize = 8 * 1024 * 1024;

/// One pipe from the child and where its bytes go.
struct Stream {
    pipe: tokio::net::unix::pipe::Receiver,
    open: bool,
    /// `None`: the op log; `Some`: a capture buffer.
    buffer: Option<Vec<u8>>,
}

impl Stream {
    fn take(&mut self, bytes: &[u8], log: &mut OpLog) {
        match &mut self.buffer {
            None => log.write(bytes),
            Some(buf) => {
                buf.extend_from_slice(bytes);
                if buf.len() > CAPTURE_LIMIT {
                    let excess = buf.len() - CAPTURE_LIMIT;
                    buf.drain(..excess);
                }
            }
        }
    }
}

/// Reads the next chunk of a stream, or waits forever when there is none.
async fn next_chunk(stream: &mut Option<Stream>, buf: &mut [u8]) -> std::io::Result<usize> {
    match stream {
        Some(s) if s.open => s.pipe.read(buf).await,
        _ => std::future::pending().await,
    }
}

fn on_chunk(stream: &mut Option<Stream>, n: std::io::Result<usize>, buf: &[u8], log: &mut OpLog) {
    if let Some(s) = stream {
        match n {
            Ok(0) | Err(_) => s.open = false,
            Ok(n) => s.take(&buf[..n], log),
        }
    }
}

pub async fn run(
    spec: &ProcessSpec,
    log: &mut OpLog,
    mut stop: watch::Receiver<Stop>,
) -> ProcessResult {
    let started = Instant::now();
    let (mut child, streams, mut reports) = match spawn(spec) {
        Ok(x) => x,
        Err(e) => {
            return ProcessResult {
                exit: Exit::SpawnFailed(format!("cannot start {}: {e}", spec.program.display())),
                stdout: Vec::new(),
                stderr: Vec::new(),
                leaked: false,
                duration: started.elapsed(),
            };
        }
    };
    let pgid = child.id().map(|p| p as i32);
    let mut streams = streams.into_iter();
    let (mut out, mut err) = (streams.next(), streams.next());
    let mut buf = vec![0u8; 64 * 1024];
    let mut buf2 = vec![0u8; 64 * 1024];
    let mut report_buf = Vec::new();
    let deadline = tokio::time::Instant::now() + spec.timeout;
    let mut terminated_for: Option<Exit> = None;
    let mut kill_at: Option<tokio::time::Instant> = None;
    let mut stop_open = true;

    if *stop.borrow() != Stop::No {
        terminated_for = Some(Exit::Cancelled);
        signal_group(pgid, libc::SIGKILL);
    }

    // What ended the loop: the supervisor's report, or the supervisor's end.
    let ended = loop {
        let kill_sleep = async {
            match kill_at {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            n = reports.read_buf(&mut report_buf) => {
                match n {
                    Ok(0) | Err(_) => break None,
                    Ok(_) => {
                        if let Some(end) = report_buf.iter().position(|&b| b == b'\n') {
                            break supervisor::parse_report(&report_buf[..end]);
                        }
                    }
                }
            }
            n = next_chunk(&mut out, &mut buf) => on_chunk(&mut out, n, &buf, log),
            n = next_chunk(&mut err, &mut buf2) => on_chunk(&mut err, n, &buf2, log),
            _ = tokio::time::sleep_until(deadline), if terminated_for.is_none() => {
                terminated_for = Some(Exit::TimedOut);
                log.note(&format!("timed out after {}: sending SIGTERM to the process group", crate::duration::format_duration(spec.timeout)));
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

    // Without a report the supervisor itself is gone: its fate stands for the script's.
    let mut reaped = false;
    let status = match ended {
        Some(Report::Exited(status)) => Ok(status),
        Some(Report::SpawnFailed(e)) => Err(e),
        None => {
            reaped = true;
            child.wait().await
        }
    };

    // The script has exited; its output may still be in the pipes, or a
    // background process of the group may hold a pipe open.
    let leaked = tokio::time::timeout(LEAK_TIMEOUT, drain([&mut out, &mut err], &mut buf, log))
        .await
        .is_err();
    // Whatever is left of the group goes, leaked or not, the supervisor with it.
    signal_group(pgid, libc::SIGKILL);
    if !reaped {
        let _ = child.wait().await;
    }
    if leaked {
        log.note("a background process of the script still held its output after it exited; killed the process group");
        // Read what the killed processes left, without waiting on holders outside the group.
        let _ = tokio::time::timeout(
            Duration::from_millis(500),
            drain([&mut out, &mut err], &mut buf, log),
        )
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
        (None, Err(e)) if reaped => Exit::SpawnFailed(format!("lost track of the script: {e}")),
        (None, Err(e)) => {
            Exit::SpawnFailed(format!("cannot start {}: {e}", spec.program.display()))
        }
    };
    let captured = |s: Option<Stream>| s.and_then(|s| s.buffer).unwrap_or_default();
    ProcessResult {
        exit,
        stdout: captured(out),
        stderr: captured(err),
        leaked,
        duration: started.elapsed(),
    }
}

async fn drain(streams: [&mut Option<Stream>; 2], buf: &mut [u8], log: &mut OpLog) {
    for stream in streams.into_iter().flatten() {
        while stream.open {
            match stream.pipe.read(buf).await {
                Ok(0) | Err(_) => stream.open = false,
                Ok(n) => stream.take(&buf[..n], log),
            }
        }
    }
}

type Spawned = (
    tokio::process::Child,
    Vec<Stream>,
    tokio::net::unix::pipe::Receiver,
);

fn spawn(spec: &ProcessSpec) -> std::io::Result<Spawned> {
    // std's pipes, not tokio's: both ends are created O_CLOEXEC atomically, and
    // the child gets blocking write ends as programs expect.
    let (out_reader, out_writer) = std::io::pipe()?;
    let (mut cmd, reports) = supervisor::command(&spec.program, &spec.args, spec.grace)?;
    cmd.current_dir(&spec.cwd)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .process_group(0);
    if let Some(script) = &spec.script {
        let fd = script.fd();
        // SAFETY: between fork and exec only fcntl runs, which is async-signal-safe.
        // The fd is close-on-exec in every other child, so only this one inherits it.
        unsafe {
            cmd.pre_exec(move || {
                if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut readers = vec![out_reader];
    if spec.capture {
        let (err_reader, err_writer) = std::io::pipe()?;
        cmd.stdout(out_writer).stderr(err_writer);
        readers.push(err_reader);
    } else {
        // One pipe for both: the log keeps the order the script wrote in.
        cmd.stdout(out_writer.try_clone()?).stderr(out_writer);
    }
    let mut cmd = tokio::process::Command::from(cmd);
    let child = cmd.spawn()?;
    // Dropping the command closes our copies of the write ends, so EOF means
    // every process holding them has gone.
    drop(cmd);
    let streams = readers
        .into_iter()
        .map(|r| {
            Ok(Stream {
                pipe: tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(r))?,
                open: true,
                buffer: spec.capture.then(Vec::new),
            })
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let reports = tokio::net::unix::pipe::Receiver::from_owned_fd(reports)?;
    Ok((child, streams, reports))
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
