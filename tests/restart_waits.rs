//! A VM restart goldsmith owes an installer (3010) waits until no other
//! script of the run is running on that VM: a managed run-command beside the
//! installer is never cut short by the restart.

mod common;

use common::{Project, events_of, time_of};

/// A run-command operation on vm1 with `extra` fields and the PowerShell `body`.
fn vm_op(p: &Project, id: &str, extra: &str, body: &str) {
    let body: String = body.lines().map(|l| format!("      {l}\n")).collect();
    let extra: String = extra.lines().map(|l| format!("  {l}\n")).collect();
    p.file(
        &format!("capabilities/compute/operations/{id}.yaml"),
        &format!(
            "operation:\n  id: {id}\n  kind: run-command\n  target: {{ vm: vm1, resource_group: \"{{{{AZURE_RESOURCE_GROUP}}}}\" }}\n{extra}  powershell:\n    content: |\n{body}"
        ),
    );
}

#[test]
fn a_restart_after_3010_waits_for_the_managed_script_beside_it() {
    let p = Project::new();
    p.file("config.yaml", "azure:\n  resource_group: rg-images\n");
    p.file(
        "modules/m/sim-scenario.yaml",
        "vms:\n  - { resource_group: rg-images, name: vm1 }\n",
    );
    vm_op(
        &p,
        "setup",
        "installs: true",
        "# goldsmith-sim: msi=reader:3010:10s\nWrite-Output installed",
    );
    vm_op(
        &p,
        "long",
        "mode: managed",
        "# goldsmith-sim: duration=10m stdout=long-done\nWrite-Output long-done",
    );
    vm_op(
        &p,
        "after",
        "",
        "# goldsmith-sim: duration=10s\nWrite-Output ok",
    );
    p.module(
        "m",
        "    - { id: setup, parallel_group: 1 }\n    - { id: long, parallel_group: 1 }\n    - { id: after, parallel_group: 1, depends_on: [setup] }\n",
    );
    let r = p.run(&["run", "m", "--simulate", "--sim-speed", "200"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    let events = p.events();
    let finished = |id| time_of(events_of(&events, "op_finished", id)[0]);
    let started = |id| time_of(events_of(&events, "op_started", id)[0]);
    assert!(
        started("after") < finished("long"),
        "`after` became ready while `long` ran"
    );
    let log = std::fs::read_to_string(p.latest_run_dir().join("logs/after.log")).expect("log");
    let waited = log
        .find("1 other script(s) of this run are running on it: waiting for them to end first")
        .unwrap_or_else(|| panic!("after waited for long: {log}"));
    let restarted = log
        .find("az vm restart")
        .unwrap_or_else(|| panic!("after restarted vm1: {log}"));
    assert!(waited < restarted, "{log}");
    let long_log = std::fs::read_to_string(p.latest_run_dir().join("logs/long.log")).expect("log");
    assert!(long_log.contains("long-done"), "{long_log}");
    assert!(
        !long_log.contains("restart"),
        "nothing restarted vm1 under long: {long_log}"
    );
}
