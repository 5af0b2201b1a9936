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
    /// What the child reads by `/dev/fd/<n>` paths (named in `args`): its
    /// script, and a managed run-command's protected parameter values.
    pub sealed: Vec<SealedScript>,
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
    stop: watch::Receiver<Stop>,
) -> ProcessResult {
    let started = Instant::now();
    let mut running = match Running::start(spec) {
        Ok(running) => running,
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
    let ended = running.watch(spec, log, stop).await;
    let status = running.status(ended).await;
    let leaked = running.clean_up(log).await;
    log.finish();
    let exit = running.exit(spec, status);
    running.into_result(exit, leaked, started)
}

/// A child started under its supervisor, from spawn to the last read of its pipes.
struct Running {
    child: tokio::process::Child,
    /// The group the supervisor leads: what every signal goes to.
    pgid: Option<i32>,
    out: Option<Stream>,
    err: Option<Stream>,
    /// The supervisor's status pipe.
    reports: tokio::net::unix::pipe::Receiver,
    buf: Vec<u8>,
    buf2: Vec<u8>,
    /// Why goldsmith signalled the group, if it did: this, not the exit status, is the result.
    terminated_for: Option<Exit>,
    /// The supervisor was waited for already.
    reaped: bool,
}

impl Running {
    fn start(spec: &ProcessSpec) -> std::io::Result<Self> {
        let (child, streams, reports) = spawn(spec)?;
        let pgid = child.id().map(|p| p as i32);
        let mut streams = streams.into_iter();
        Ok(Running {
            child,
            pgid,
            out: streams.next(),
            err: streams.next(),
            reports,
            buf: vec![0u8; 64 * 1024],
            buf2: vec![0u8; 64 * 1024],
            terminated_for: None,
            reaped: false,
        })
    }

    /// Streams the output until the supervisor reports the exit (or is gone),
    /// terminating the group on timeout or when asked to stop.
    /// Returns the supervisor's report; `None` when the supervisor itself ended.
    async fn watch(
        &mut self,
        spec: &ProcessSpec,
        log: &mut OpLog,
        mut stop: watch::Receiver<Stop>,
    ) -> Option<Report> {
        let pgid = self.pgid;
        let mut report_buf = Vec::new();
        let deadline = tokio::time::Instant::now() + spec.timeout;
        let mut kill_at: Option<tokio::time::Instant> = None;
        let mut stop_open = true;

        if *stop.borrow() != Stop::No {
            self.terminated_for = Some(Exit::Cancelled);
            signal_group(pgid, libc::SIGKILL);
        }

        loop {
            let kill_sleep = async {
                match kill_at {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                n = self.reports.read_buf(&mut report_buf) => {
                    match n {
                        Ok(0) | Err(_) => break None,
                        Ok(_) => {
                            if let Some(end) = report_buf.iter().position(|&b| b == b'\n') {
                                break supervisor::parse_report(&report_buf[..end]);
                            }
                        }
                    }
                }
                n = next_chunk(&mut self.out, &mut self.buf) => on_chunk(&mut self.out, n, &self.buf, log),
                n = next_chunk(&mut self.err, &mut self.buf2) => on_chunk(&mut self.err, n, &self.buf2, log),
                _ = tokio::time::sleep_until(deadline), if self.terminated_for.is_none() => {
                    self.terminated_for = Some(Exit::TimedOut);
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
                        Stop::Terminate if self.terminated_for.is_none() => {
                            self.terminated_for = Some(Exit::Cancelled);
                            log.note("cancelled: sending SIGTERM to the process group");
                            kill_at = Some(begin_terminate(pgid, spec.grace));
                        }
                        Stop::Terminate => {}
                        Stop::Kill => {
                            self.terminated_for.get_or_insert(Exit::Cancelled);
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
        }
    }

    /// The script's exit status as the supervisor reported it. Without a report the
    /// supervisor itself is gone: its fate stands for the script's.
    async fn status(&mut self, ended: Option<Report>) -> std::io::Result<std::process::ExitStatus> {
        match ended {
            Some(Report::Exited(status)) => Ok(status),
            Some(Report::SpawnFailed(e)) => Err(e),
            None => {
                self.reaped = true;
                self.child.wait().await
            }
        }
    }

    /// Reads the rest of the output, kills what is left of the group and waits for
    /// the supervisor. Returns whether a process of the group still held the output.
    async fn clean_up(&mut self, log: &mut OpLog) -> bool {
        // The script has exited; its output may still be in the pipes, or a
        // background process of the group may hold a pipe open.
        let leaked = tokio::time::timeout(
            LEAK_TIMEOUT,
            drain([&mut self.out, &mut self.err], &mut self.buf, log),
        )
        .await
        .is_err();
        // Whatever is left of the group goes, leaked or not, the supervisor with it.
        signal_group(self.pgid, libc::SIGKILL);
        if !self.reaped {
            let _ = self.child.wait().await;
        }
        if leaked {
            log.note("a background process of the script still held its output after it exited; killed the process group");
            // Read what the killed processes left, without waiting on holders outside the group.
            let _ = tokio::time::timeout(
                Duration::from_millis(500),
                drain([&mut self.out, &mut self.err], &mut self.buf, log),
            )
            .await;
        }
        leaked
    }

    /// How the process ended: why goldsmith stopped it, else its exit status.
    fn exit(
        &mut self,
        spec: &ProcessSpec,
        status: std::io::Result<std::process::ExitStatus>,
    ) -> Exit {
        match (self.terminated_for.take(), status) {
            (Some(reason), _) => reason,
            (None, Ok(s)) => match (s.code(), s.signal()) {
                (Some(code), _) => Exit::Code(code),
                (None, Some(sig)) => Exit::Signal(sig),
                (None, None) => Exit::Code(-1),
            },
            (None, Err(e)) if self.reaped => {
                Exit::SpawnFailed(format!("lost track of the script: {e}"))
            }
            (None, Err(e)) => {
                Exit::SpawnFailed(format!("cannot start {}: {e}", spec.program.display()))
            }
        }
    }

    fn into_result(self, exit: Exit, leaked: bool, started: Instant) -> ProcessResult {
        let captured = |s: Option<Stream>| s.and_then(|s| s.buffer).unwrap_or_default();
        ProcessResult {
            exit,
            stdout: captured(self.out),
            stderr: captured(self.err),
            leaked,
            duration: started.elapsed(),
        }
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
    let sealed = spec.sealed.iter().map(SealedScript::fd).collect();
    let (mut cmd, handover) = supervisor::command(&spec.program, &spec.args, spec.grace, sealed)?;
    cmd.current_dir(&spec.cwd)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .process_group(0);
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
    // every process holding them has gone, and our copy of the handover socket.
    drop(cmd);
    let reports = handover.send()?;
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
