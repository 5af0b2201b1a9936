//! SIGINT and SIGTERM for `run` and `resume`: counted from the first moment of
//! the command, so a signal that arrives while the catalog loads or the run
//! directory is made still means "cancel" (exit 130) instead of killing
//! goldsmith outright.
//!
//! The handlers only count (async-signal-safe atomics). Before a run starts the
//! CLI looks at the counts; the executor takes over the counts it finds when it
//! starts and then uses tokio's signal streams only to wake up, so no signal is
//! lost or counted twice.

use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

static INTERRUPTS: AtomicU32 = AtomicU32::new(0);
static TERMINATES: AtomicU32 = AtomicU32::new(0);
static INSTALL: Once = Once::new();

/// Installs the counting handlers (once per process).
pub fn install() {
    INSTALL.call_once(|| {
        for (sig, count) in [(libc::SIGINT, &INTERRUPTS), (libc::SIGTERM, &TERMINATES)] {
            // SAFETY: the action only increments an atomic, which is async-signal-safe.
            let registered = unsafe {
                signal_hook_registry::register(sig, move || {
                    count.fetch_add(1, Ordering::SeqCst);
                })
            };
            if let Err(e) = registered {
                tracing::warn!("cannot handle signal {sig}: {e}");
            }
        }
    });
}

/// Signals received so far, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Received {
    pub interrupts: u32,
    pub terminates: u32,
}

impl Received {
    pub fn now() -> Received {
        Received {
            interrupts: INTERRUPTS.load(Ordering::SeqCst),
            terminates: TERMINATES.load(Ordering::SeqCst),
        }
    }

    pub fn any(self) -> bool {
        self.interrupts + self.terminates > 0
    }

    /// The name of a signal received, for messages ("SIGINT" when both were).
    pub fn name(self) -> &'static str {
        if self.interrupts > 0 {
            "SIGINT"
        } else {
            "SIGTERM"
        }
    }

    /// The signals received since `seen`, in a fixed order, each by name.
    pub fn since(self, seen: Received) -> Vec<&'static str> {
        let ints = self.interrupts.saturating_sub(seen.interrupts) as usize;
        let terms = self.terminates.saturating_sub(seen.terminates) as usize;
        std::iter::repeat_n("SIGINT", ints)
            .chain(std::iter::repeat_n("SIGTERM", terms))
            .collect()
    }
}
