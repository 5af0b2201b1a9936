//! The simulated Azure CLI (`goldsmith` invoked as `az`).

use std::ffi::OsString;

/// Entry point when the binary runs as `az`; returns the process exit code.
pub fn az_main(_args: Vec<OsString>) -> i32 {
    eprintln!("ERROR: the simulated az is not built yet");
    1
}
