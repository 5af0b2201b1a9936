//! The guardian of one operation: goldsmith re-executes itself as a tiny
//! supervisor per operation process, so no operation outlives its coordinator,
//! however the coordinator dies (SIGKILL included).
//!
//! The coordinator starts the supervisor as the leader of a new process group;
//! the supervisor starts the operation in that same group, reports its wait
//! status on a status pipe and then stays until the coordinator kills the group
//! (after its leak check). Signals the coordinator sends to the group (TERM on
//! timeout or cancel, KILL after the grace) reach the operation as before; the
//! supervisor ignores all but KILL.
//!
//! How a supervisor learns that the coordinator died: the *lifeline*, a pipe
//! whose write end only the coordinator holds (O_CLOEXEC, never handed to a
//! child). The kernel closes it when the coordinator dies, and each
//! supervisor's read end reports end of file at once. Unlike PR_SET_PDEATHSIG
//! this does not depend on which thread spawned the supervisor. The supervisor
//! then sends SIGTERM to its group, waits for the kill grace (less when the
//! group is empty sooner) and sends SIGKILL, itself included.
//!
//! Each supervisor also holds the run lock (the module's lock file, inherited
//! as the same open file description), so the lock stays held until the last
//! operation of a run is gone: whoever gets the lock next knows that no
//! operation of an earlier run is alive.

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::fd_pass;

/// `goldsmith __goldsmith-supervise <grace-ms> -- <program> <args>…`: the hidden mode.
pub const ARG: &str = "__goldsmith-supervise";

/// Where the supervisor finds what the coordinator hands it.
const LIFELINE_FD: RawFd = 3;
const LOCK_FD: RawFd = 4;
const STATUS_FD: RawFd = 5;

/// How often a supervisor looks whether its group is empty during the grace.
const GROUP_POLL: Duration = Duration::from_millis(20);

/// The coordinator's end of every lifeline (read end, write end), open for the process's life.
static LIFELINE: OnceLock<Result<(OwnedFd, OwnedFd), i32>> = OnceLock::new();
/// The run lock, held for the process's life and inherited by every supervisor.
static RUN_LOCK: OnceLock<OwnedFd> = OnceLock::new();

/// Keeps `lock` (the run lock's file) open for the rest of this process and
/// hands it to every supervisor, so the lock outlives the coordinator until
/// the last operation is gone. Returns false when a lock was handed over already.
pub fn hold_run_lock(lock: OwnedFd) -> bool {
    RUN_LOCK.set(lock).is_ok()
}

fn lifeline() -> std::io::Result<RawFd> {
    let pipe = LIFELINE.get_or_init(|| {
        // std's pipe: both ends O_CLOEXEC from the start, so no child spawned
        // by another thread meanwhile can keep the write end.
        std::io::pipe()
            .map(|(r, w)| (OwnedFd::from(r), OwnedFd::from(w)))
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
    });
    match pipe {
        Ok((read, _write)) => Ok(read.as_raw_fd()),
        Err(errno) => Err(std::io::Error::from_raw_os_error(*errno)),
    }
}

/// A command that runs `program args` under a supervisor, and the handover
/// to make right after spawning it. The caller sets cwd, env, stdout, stderr
/// and `process_group(0)`; stdin is the handover's socket. `sealed` are
/// descriptors the operation reads by their numbers (`/dev/fd/<n>`). Dropping the
/// command closes the coordinator's copy of the socket, so do that right
/// after spawning.
///
/// No pre-exec hook: std then spawns with `posix_spawn`, whose cost does not
/// grow with the coordinator's memory (`fd_pass`).
pub fn command(
    program: &Path,
    args: &[OsString],
    grace: Duration,
    sealed: Vec<RawFd>,
) -> std::io::Result<(std::process::Command, Handover)> {
    let lifeline = lifeline()?;
    let (ours, theirs) = UnixStream::pair()?;
    let mut cmd = std::process::Command::new(self_exe());
    cmd.arg(ARG)
        .arg(grace.as_millis().to_string())
        .arg("--")
        .arg(program)
        .args(args)
        .stdin(OwnedFd::from(theirs));
    let handover = Handover {
        socket: ours,
        lifeline,
        sealed,
    };
    Ok((cmd, handover))
}

/// What a spawned supervisor is handed over its stdin: the lifeline, its
/// status pipe, the run lock and the sealed scripts.
pub struct Handover {
    socket: UnixStream,
    lifeline: RawFd,
    sealed: Vec<RawFd>,
}

impl Handover {
    /// Hands the spawned supervisor its descriptors; returns the read end of
    /// its status pipe (the coordinator keeps no copy of the write end).
    pub fn send(self) -> std::io::Result<OwnedFd> {
        let (status_read, status_write) = std::io::pipe()?;
        let lock = RUN_LOCK.get().map(|f| f.as_raw_fd());
        let mut fds = vec![self.lifeline, status_write.as_raw_fd()];
        fds.extend(lock);
        fds.extend(&self.sealed);
        let mut data = u8::from(lock.is_some()).to_string();
        for fd in &self.sealed {
            data.push_str(&format!(" {fd}"));
        }
        data.push('\n');
        fd_pass::send(&self.socket, data.as_bytes(), &fds)?;
        Ok(OwnedFd::from(status_read))
    }
}

/// The program a supervisor runs as: `goldsmith-supervise` beside the running
/// binary when it is there (it holds only this module's code, so it starts in
/// about half the time: once per operation, that is most of goldsmith's own
/// cost per operation), else the running goldsmith binary itself. Both are
/// named through descriptors the coordinator holds (`/proc/<pid>/fd/<n>`,
/// `/proc/self/exe`), so they stay the right files when the binaries on disk
/// are replaced or deleted during the run.
fn self_exe() -> std::path::PathBuf {
    static SUPERVISE: std::sync::OnceLock<Option<std::fs::File>> = std::sync::OnceLock::new();
    if !cfg!(target_os = "linux") {
        return std::env::current_exe().unwrap_or_else(|_| "goldsmith".into());
    }
    let sibling = SUPERVISE.get_or_init(|| {
        let path = std::env::current_exe()
            .ok()?
            .with_file_name("goldsmith-supervise");
        std::fs::File::open(path).ok()
    });
    match sibling {
        Some(file) => format!("/proc/{}/fd/{}", std::process::id(), file.as_raw_fd()).into(),
        None => "/proc/self/exe".into(),
    }
}

/// In the supervisor: takes what the coordinator hands over on stdin and
/// puts it in place (lifeline, status pipe, run lock on 3, 5, 4; each sealed
/// script on the number the operation reads it by), then points stdin at /dev/null.
/// False when the coordinator is gone before it handed anything over.
fn receive_handover() -> bool {
    let Ok((data, fds)) = super::fd_pass::recv(libc::STDIN_FILENO) else {
        return false;
    };
    let text = String::from_utf8_lossy(&data);
    let mut words = text.split_whitespace().map(str::parse::<RawFd>);
    let Some(Ok(has_lock)) = words.next() else {
        return false;
    };
    let mut targets = vec![LIFELINE_FD, STATUS_FD];
    if has_lock == 1 {
        targets.push(LOCK_FD);
    }
    for sealed in words {
        match sealed {
            Ok(fd) if fd >= 0 => targets.push(fd),
            _ => return false,
        }
    }
    fds.len() == targets.len() && place(fds, &targets).is_ok() && null_stdin().is_ok()
}

/// Moves each of `fds` to its target number. Via copies above every target
/// first, so a descriptor that arrived on a target is not overwritten before
/// it is moved.
fn place(fds: Vec<OwnedFd>, targets: &[RawFd]) -> std::io::Result<()> {
    let floor = targets.iter().copied().max().unwrap_or(0).max(9) + 1;
    let temps = fds
        .iter()
        .map(|fd| {
            // SAFETY: fcntl on a descriptor we own; the copy is owned below.
            let temp = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, floor) };
            match temp {
                t if t < 0 => Err(std::io::Error::last_os_error()),
                // SAFETY: `t` was just returned by fcntl and nothing else owns it.
                t => Ok(unsafe { OwnedFd::from_raw_fd(t) }),
            }
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    drop(fds);
    for (temp, &target) in temps.iter().zip(targets) {
        // dup2 clears O_CLOEXEC on the target; the copies close when dropped.
        // SAFETY: dup2 on descriptor numbers; no memory is involved.
        if unsafe { libc::dup2(temp.as_raw_fd(), target) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn null_stdin() -> std::io::Result<()> {
    let null = std::fs::File::open("/dev/null")?;
    // SAFETY: dup2 on descriptor numbers; no memory is involved.
    if unsafe { libc::dup2(null.as_raw_fd(), libc::STDIN_FILENO) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// What a supervisor reported on its status pipe.
#[derive(Debug)]
pub enum Report {
    /// The operation exited with this wait status.
    Exited(std::process::ExitStatus),
    /// The operation could not be started.
    SpawnFailed(std::io::Error),
}

/// Parses one status line; `None` for anything else (a supervisor killed mid-write).
pub fn parse_report(line: &[u8]) -> Option<Report> {
    let line = std::str::from_utf8(line).ok()?.trim_end();
    let (kind, value) = line.split_once(' ')?;
    let value: i32 = value.parse().ok()?;
    match kind {
        "status" => Some(Report::Exited(std::process::ExitStatus::from_raw(value))),
        "spawn-error" => Some(Report::SpawnFailed(std::io::Error::from_raw_os_error(
            value,
        ))),
        _ => None,
    }
}

/// The supervisor process: `args` are what follows [`ARG`]. Returns an exit
/// code only when it could not start the operation; otherwise it ends when its
/// group is killed.
pub fn main(args: Vec<OsString>) -> i32 {
    let mut args = args.into_iter();
    let grace = args
        .next()
        .and_then(|g| g.to_str()?.parse::<u64>().ok())
        .map(Duration::from_millis);
    let (Some(grace), Some(sep), Some(program)) = (grace, args.next(), args.next()) else {
        eprintln!("goldsmith: {ARG} is internal to goldsmith; it is not meant to be run by hand");
        return 2;
    };
    if sep != "--" {
        eprintln!("goldsmith: {ARG} is internal to goldsmith; it is not meant to be run by hand");
        return 2;
    }
    if !receive_handover() {
        // The coordinator died before it handed anything over: do not start.
        return 0;
    }
    for fd in [LIFELINE_FD, LOCK_FD, STATUS_FD] {
        // The operation gets none of them: a leaked background process must
        // neither hold the run lock nor look like the supervisor.
        // SAFETY: fcntl on descriptor numbers; no memory is involved.
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    // SAFETY: STATUS_FD was put there by the coordinator for us alone.
    let mut status = unsafe { std::fs::File::from_raw_fd(STATUS_FD) };
    survive_group_signals();
    if coordinator_gone() {
        // The coordinator died before the operation started: do not start it.
        return 0;
    }
    let me = std::process::id() as libc::pid_t;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args);
    // SAFETY: prctl, getppid and raise are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            // A backstop for a supervisor killed on its own: the operation goes with it.
            #[cfg(target_os = "linux")]
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::getppid() != me {
                libc::raise(libc::SIGKILL);
            }
            let _ = me;
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let errno = e.raw_os_error().unwrap_or(libc::ENOENT);
            let _ = status.write_all(format!("spawn-error {errno}\n").as_bytes());
            return 127;
        }
    };
    release_output();
    std::thread::spawn(move || {
        wait_for_coordinator_death();
        terminate_group(grace);
    });
    let code = match child.wait() {
        Ok(s) => s.into_raw(),
        // Cannot happen for our own child; report a plain failure rather than nothing.
        Err(_) => 1 << 8,
    };
    let _ = status.write_all(format!("status {code}\n").as_bytes());
    // Stay until the coordinator kills the group after its leak check, or dies.
    loop {
        std::thread::park();
    }
}

extern "C" fn ignore(_: libc::c_int) {}

/// The coordinator signals the whole group; only the operation should react.
/// A handler rather than SIG_IGN, because ignored signals would be inherited
/// by the operation and handlers are reset at exec.
fn survive_group_signals() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: installs a handler that does nothing; the struct is fully initialised.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = ignore as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// Whether the lifeline is closed already (without waiting).
fn coordinator_gone() -> bool {
    let mut pfd = libc::pollfd {
        fd: LIFELINE_FD,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one pollfd we own.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n > 0 && pfd.revents & (libc::POLLHUP | libc::POLLIN | libc::POLLERR | libc::POLLNVAL) != 0
}

/// Blocks until the lifeline reports end of file (or is unusable).
fn wait_for_coordinator_death() {
    let mut byte = [0u8; 1];
    loop {
        // SAFETY: read into a one-byte buffer we own.
        let n = unsafe { libc::read(LIFELINE_FD, byte.as_mut_ptr().cast(), 1) };
        if n == 0 {
            return;
        }
        if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// Points our stdout and stderr at /dev/null: the output pipe must reach end
/// of file when the operation's group is done, not when the supervisor is.
fn release_output() {
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        for fd in [libc::STDOUT_FILENO, libc::STDERR_FILENO] {
            // SAFETY: dup2 on descriptor numbers; no memory is involved.
            unsafe {
                libc::dup2(null.as_raw_fd(), fd);
            }
        }
    }
}

/// The coordinator is gone: SIGTERM to the group, the grace (shorter when the
/// group empties), SIGKILL to the group, this process included.
fn terminate_group(grace: Duration) -> ! {
    // SAFETY: getpgrp and kill take no memory.
    let group = unsafe { libc::getpgrp() };
    if !grace.is_zero() {
        // SAFETY: as above.
        unsafe { libc::kill(-group, libc::SIGTERM) };
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && others_alive(group) {
            std::thread::sleep(GROUP_POLL);
        }
    }
    // SAFETY: as above.
    unsafe { libc::kill(-group, libc::SIGKILL) };
    std::process::exit(137)
}

/// Whether a live process other than this one is in `group`.
#[cfg(target_os = "linux")]
fn others_alive(group: libc::pid_t) -> bool {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            return false;
        };
        if pid == me {
            return false;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // After the parenthesised command name: state, ppid, pgrp.
        let mut fields = stat
            .rsplit_once(") ")
            .map(|(_, r)| r)
            .unwrap_or("")
            .split(' ');
        let state = fields.next().unwrap_or("Z");
        let pgrp = fields.nth(1).and_then(|p| p.parse::<libc::pid_t>().ok());
        pgrp == Some(group) && state != "Z" && state != "X"
    })
}

/// Without /proc, assume the group lives until the grace is over.
#[cfg(not(target_os = "linux"))]
fn others_alive(_group: libc::pid_t) -> bool {
    true
}
