//! How many operations can run at once with the file descriptors this process may open.
//!
//! Each running operation holds a few descriptors (its output pipes, its log
//! file, its sealed script, and for a moment the pipes of fork and exec). With
//! a low `ulimit -n`, starting `max-parallel` of them would fail some with
//! `spawn` errors; goldsmith runs fewer at a time instead, and says so.

/// Descriptors one running operation may hold at the same time.
const PER_OP: u64 = 8;
/// Kept for the runtime, the event and state files, the console and the reports.
const RESERVE: u64 = 24;

/// The limit on descriptors, raised to the hard limit when the soft one is lower.
fn raise_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write/read a plain struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return Some(raised.rlim_cur);
        }
    }
    Some(lim.rlim_cur)
}

fn open_now() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(16, |d| d.count() as u64)
}

/// The parallelism to run with: `wanted`, or fewer when descriptors are short,
/// with the sentence that says why.
pub fn max_parallel(wanted: usize) -> (usize, Option<String>) {
    let Some(limit) = raise_limit() else {
        return (wanted, None);
    };
    let fits = limit.saturating_sub(open_now() + RESERVE) / PER_OP;
    let fits = usize::try_from(fits).unwrap_or(usize::MAX).max(1);
    if fits >= wanted {
        return (wanted, None);
    }
    (
        fits,
        Some(format!(
            "goldsmith: warning: this process may open only {limit} files (ulimit -n): running at most {fits} operations at once instead of {wanted}"
        )),
    )
}
