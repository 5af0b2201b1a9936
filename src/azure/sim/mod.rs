//! The simulated Azure CLI (`goldsmith` invoked as `az`).

use std::ffi::OsString;

/// Entry point when the binary runs as `az`; returns the process exit code.
pub fn az_main(_args: Vec<OsString>) -> i32 {
    eprintln!("ERROR: the simulated az is not built yet");
    1
}

/// Creates `<run_dir>/sim` with `bin/az` linked to this binary; returns the
/// environment the operations need to use it.
pub fn prepare(
    run_dir: &std::path::Path,
    speed: f64,
    scenario: Option<&std::path::Path>,
) -> std::io::Result<Vec<(String, String)>> {
    let dir = run_dir.join("sim");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    std::os::unix::fs::symlink(std::env::current_exe()?, bin.join("az"))?;
    let path = std::env::var("PATH").unwrap_or_default();
    let mut env = vec![
        ("PATH".to_string(), format!("{}:{path}", bin.display())),
        ("GOLDSMITH_SIM_DIR".to_string(), dir.display().to_string()),
        ("GOLDSMITH_SIM_SPEED".to_string(), speed.to_string()),
    ];
    if let Some(s) = scenario {
        env.push((
            "GOLDSMITH_SIM_SCENARIO".to_string(),
            s.display().to_string(),
        ));
    }
    Ok(env)
}
