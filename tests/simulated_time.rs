//! `--simulate` speeds up the simulated Azure, not the runner's clock: an
//! operation's timeout is real time, whatever `--sim-speed` says.

mod common;

use std::path::Path;

use common::{Project, copy_dir, op_status};

#[test]
fn the_demo_runs_under_simulate() {
    let p = Project::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(
        &repo.join("capabilities/demo"),
        &p.root().join("capabilities/demo"),
    );
    copy_dir(&repo.join("modules/demo"), &p.root().join("modules/demo"));
    std::fs::copy(repo.join("config.yaml"), p.root().join("config.yaml")).expect("config");
    // Its operations sleep a real second under a 2-minute timeout; at the default speed
    // a scaled timeout was 600ms.
    let r = p.run(&["run", "demo", "--simulate"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("9 succeeded, 0 failed"), "{}", r.stdout);
}

#[test]
fn an_operation_timeout_is_real_time_at_any_simulated_speed() {
    let p = Project::new();
    p.shell_op("slow", "timeout: 3s", "sleep 1\necho slept");
    p.shell_op("stuck", "timeout: 1s", "sleep 30");
    p.module("m", "    - slow\n    - stuck\n");
    let started = std::time::Instant::now();
    let r = p.run(&["run", "m", "--simulate", "--sim-speed", "1000"]);
    let took = started.elapsed();
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let state = p.state();
    assert_eq!(op_status(&state, "slow"), "succeeded", "{state}");
    assert_eq!(op_status(&state, "stuck"), "failed", "{state}");
    assert!(r.stdout.contains("timed out after 1s"), "{}", r.stdout);
    assert!(
        took >= std::time::Duration::from_secs(2),
        "both timeouts held for real seconds: {took:?}"
    );
}
