//! Managed run-commands (`mode: managed`) on the simulated Azure: several at
//! once on one VM, the `vm:` lock only for action run-commands, the `msi:`
//! lock for installers, Azure's exit code, protected parameters, and the run
//! command deleted whatever happens.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Project, events_of, op_status, time_of};

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

fn project() -> Project {
    let p = Project::new();
    p.file(
        "config.yaml",
        "azure:\n  resource_group: rg-images\nsecrets:\n  - ADMIN_PASSWORD\n",
    );
    p.file(
        "modules/m/sim-scenario.yaml",
        "vms:\n  - { resource_group: rg-images, name: vm1 }\n",
    );
    p
}

/// Entries of one parallel group.
fn group(ids: &[&str]) -> String {
    ids.iter()
        .map(|id| format!("    - {{ id: {id}, parallel_group: 1 }}\n"))
        .collect()
}

const SECRET: &str = "Pa55=w0rd-managed-7f3c";

fn run(p: &Project) -> common::Run {
    p.run_env(
        &["run", "m", "--simulate", "--sim-speed", "200"],
        &[("ADMIN_PASSWORD", SECRET)],
    )
}

/// The simulator's timeline lines of `phase`, by operation: (start, end) in simulated seconds.
fn timeline(p: &Project, phase: &str) -> Vec<(String, f64, f64)> {
    let path = p.latest_run_dir().join("sim/timeline.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .filter(|v| v["phase"] == phase)
        .map(|v| {
            (
                v["op"].as_str().expect("op").to_string(),
                v["start"].as_f64().expect("start"),
                v["end"].as_f64().expect("end"),
            )
        })
        .collect()
}

/// The simulated VM's managed run commands, as its world keeps them now.
fn run_commands_left(run_dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run_dir.join("sim/state.json")).expect("sim state");
    let state: serde_json::Value = serde_json::from_str(&text).expect("json");
    state["vms"]
        .as_object()
        .expect("vms")
        .values()
        .flat_map(|vm| {
            vm["managed_run_commands"]
                .as_object()
                .map(|m| m.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn two_managed_operations_run_at_once_on_one_vm_and_leave_nothing_behind() {
    let p = project();
    for id in ["reg-a", "reg-b"] {
        vm_op(
            &p,
            id,
            "mode: managed",
            // Long enough (3 s real) that the two overlap however late the second starts.
            &format!("# goldsmith-sim: duration=10m stdout={id}-done\nWrite-Output ok"),
        );
    }
    p.module("m", &group(&["reg-a", "reg-b"]));
    let r = run(&p);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let scripts = timeline(&p, "script");
    assert_eq!(scripts.len(), 2, "{scripts:?}");
    let (a, b) = (&scripts[0], &scripts[1]);
    assert!(
        a.1 < b.2 && b.1 < a.2,
        "the two scripts overlap in simulated time: {scripts:?}"
    );
    let events = p.events();
    let started = |id| time_of(events_of(&events, "op_started", id)[0]);
    let finished = |id| time_of(events_of(&events, "op_finished", id)[0]);
    assert!(started("reg-b") < finished("reg-a") && started("reg-a") < finished("reg-b"));
    assert!(
        events.iter().all(|e| e["type"] != "lock_wait"),
        "no operation waited for a lock"
    );
    assert!(run_commands_left(&p.latest_run_dir()).is_empty());
    let log = std::fs::read_to_string(p.latest_run_dir().join("logs/reg-a.log")).expect("log");
    assert!(log.contains("az vm run-command create --resource-group rg-images --vm-name vm1 --name goldsmith-reg-a-1"), "{log}");
    assert!(log.contains("reg-a-done"), "{log}");
    assert!(
        log.contains("deleted run command goldsmith-reg-a-1"),
        "{log}"
    );
}

#[test]
fn action_operations_still_take_turns_beside_a_managed_one() {
    let p = project();
    for id in ["act-a", "act-b"] {
        vm_op(&p, id, "", "# goldsmith-sim: duration=1m\nWrite-Output ok");
    }
    vm_op(
        &p,
        "managed",
        "mode: managed",
        "# goldsmith-sim: duration=1m\nWrite-Output ok",
    );
    p.module("m", &group(&["act-a", "act-b", "managed"]));
    let r = run(&p);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let events = p.events();
    let waits: Vec<_> = events.iter().filter(|e| e["type"] == "lock_wait").collect();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert_eq!(waits[0]["op"], "act-b");
    assert_eq!(waits[0]["lock"], "vm:rg-images/vm1");
    assert_eq!(waits[0]["holder"], "act-a");
    let started = |id| time_of(events_of(&events, "op_started", id)[0]);
    let finished = |id| time_of(events_of(&events, "op_finished", id)[0]);
    assert!(started("act-b") >= finished("act-a"));
    assert!(started("managed") < finished("act-a"));
}

/// Two managed operations that each install an MSI for 10 minutes; `installs`
/// says whether they declare it.
fn installers(p: &Project, installs: bool) {
    for id in ["msi-a", "msi-b"] {
        vm_op(
            p,
            id,
            &format!("mode: managed\ninstalls: {installs}\nretry: {{ attempts: 1 }}"),
            &format!("# goldsmith-sim: msi={id}:0:10m\nStart-Process msiexec -Wait"),
        );
    }
    p.module("m", &group(&["msi-a", "msi-b"]));
}

#[test]
fn the_msi_lock_keeps_two_installers_apart() {
    let p = project();
    installers(&p, true);
    let r = run(&p);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let events = p.events();
    let wait = events
        .iter()
        .find(|e| e["type"] == "lock_wait")
        .expect("a lock wait");
    assert_eq!(
        (wait["op"].as_str(), wait["lock"].as_str()),
        (Some("msi-b"), Some("msi:rg-images/vm1"))
    );
    let scripts = timeline(&p, "script");
    let (a, b) = (&scripts[0], &scripts[1]);
    assert!(
        b.1 >= a.2,
        "msi-b starts after msi-a's script ended: {scripts:?}"
    );
}

#[test]
fn without_the_msi_lock_the_second_installer_gets_1618() {
    let p = project();
    installers(&p, false);
    let r = run(&p);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let state = p.state();
    let failed: Vec<&serde_json::Value> = state["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .filter(|o| o["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{state}");
    assert_eq!(failed[0]["failure_class"], "msi-busy");
    assert!(
        r.stdout.contains("1618") || r.stdout.contains("ERROR_INSTALL_ALREADY_RUNNING"),
        "{}",
        r.stdout
    );
}

#[test]
fn the_exit_code_comes_from_azure_and_the_marker_is_a_cross_check() {
    let p = project();
    vm_op(
        &p,
        "exits-3",
        "mode: managed\nretry: { attempts: 1 }",
        "# goldsmith-sim: exit=3 no-marker\nexit 3",
    );
    p.module("m", "    - exits-3\n");
    let r = run(&p);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let state = p.state();
    assert_eq!(op_status(&state, "exits-3"), "failed");
    assert_eq!(state["ops"][0]["failure_class"], "script-exit");
    assert_eq!(state["ops"][0]["exit_code"], 3);
    let events = p.events();
    let attempt = events_of(&events, "op_attempt_finished", "exits-3")[0];
    let warnings = attempt["outcome"]["warnings"].to_string();
    assert!(
        warnings.contains(
            "Azure reports exit code 3, but the script's output has no `##goldsmith-exit` marker"
        ),
        "{attempt}"
    );
    let shown = std::fs::read_to_string(p.latest_run_dir().join("outputs/exits-3.json"))
        .expect("the instance view is kept");
    assert!(shown.contains("\"executionState\": \"Failed\""), "{shown}");
}

#[test]
fn secrets_travel_as_protected_parameters_and_never_reach_a_file() {
    let p = project();
    vm_op(
        &p,
        "join",
        "mode: managed",
        "# goldsmith-sim: duration=30s\n$password = \"{{ADMIN_PASSWORD}}\"\nWrite-Output joined",
    );
    p.module("m", "    - join\n");
    let r = run(&p);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains(SECRET) && !r.stderr.contains(SECRET));
    let run_dir = p.latest_run_dir();
    for file in common::all_files(&run_dir) {
        let bytes = std::fs::read(&file).expect("read");
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SECRET),
            "{} holds the secret",
            file.display()
        );
    }
    let script = std::fs::read_to_string(run_dir.join("scripts/join.ps1")).expect("script");
    assert!(
        script.contains("param([string]$ADMIN_PASSWORD)"),
        "{script}"
    );
    let calls = std::fs::read_to_string(run_dir.join("sim/calls.jsonl")).expect("calls");
    assert!(
        calls.contains("\"--protected-parameters\",\"ADMIN_PASSWORD=@/dev/fd/"),
        "{calls}"
    );
    let log = std::fs::read_to_string(run_dir.join("logs/join.log")).expect("log");
    assert!(
        log.contains("--protected-parameters ADMIN_PASSWORD=***"),
        "{log}"
    );
}

#[test]
fn sigterm_deletes_the_running_run_command() {
    let p = project();
    vm_op(
        &p,
        "long",
        "mode: managed\ninstalls: true",
        "# goldsmith-sim: duration=3h msi=big:0:3h\nStart-Process msiexec -Wait",
    );
    p.module("m", "    - long\n");
    let mut cmd = p.command(&["run", "m", "--simulate", "--sim-speed", "200"]);
    cmd.env("ADMIN_PASSWORD", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("goldsmith starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let created = p
            .run_dirs()
            .last()
            .is_some_and(|d| d.join("sim/state.json").exists() && !run_commands_left(d).is_empty());
        if created {
            break;
        }
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the run ended early"
        );
        assert!(
            Instant::now() < deadline,
            "the run command was never created"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: sending SIGTERM to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().expect("goldsmith ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert_eq!(op_status(&p.state(), "long"), "cancelled");
    let run_dir = p.latest_run_dir();
    assert!(
        run_commands_left(&run_dir).is_empty(),
        "nothing left on the VM"
    );
    let canceled = timeline(&p, "canceled");
    assert_eq!(
        canceled.len(),
        1,
        "the delete stopped the script: {canceled:?}"
    );
    let log = std::fs::read_to_string(run_dir.join("logs/long.log")).expect("log");
    assert!(
        log.contains("deleted run command goldsmith-long-1"),
        "{log}"
    );
}

#[test]
fn validate_and_plan_explain_the_locks_and_the_estimate_counts_the_msi_lock() {
    let p = project();
    for (id, extra) in [
        ("managed-a", "mode: managed\nduration: { expected: 600 }"),
        ("managed-b", "mode: managed\nduration: { expected: 600 }"),
        ("m365", "installs: true\nduration: { expected: 600 }"),
        (
            "managed-msi",
            "mode: managed\ninstalls: true\nduration: { expected: 600 }",
        ),
    ] {
        vm_op(&p, id, extra, "Write-Output ok");
    }
    p.module(
        "m",
        &group(&["managed-a", "managed-b", "m365", "managed-msi"]),
    );
    let r = p.run(&["validate"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains(
        "note: `managed-a` holds no `vm:` lock, as a managed run-command (`az vm run-command create`): several run on one VM at once; no `msi:rg-images/vm1` lock"
    ), "{}", r.stderr);
    assert!(r.stderr.contains(
        "note: `m365` holds `vm:rg-images/vm1`, as it sends its script with `az vm run-command invoke`: Azure runs one per VM at a time; `msi:rg-images/vm1`, as it declares `installs: true`: Windows Installer runs one installer per machine"
    ), "{}", r.stderr);
    let text = p.run(&["plan", "m"]).stdout;
    let line = |id: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("{id} in {text}"))
            .to_string()
    };
    assert!(line("managed-msi").contains("mode managed  "), "{text}");
    assert!(
        line("managed-msi").contains("locks msi:rg-images/vm1"),
        "{text}"
    );
    assert!(!line("m365").contains("mode managed"), "{text}");
    let out = p.run(&["plan", "m", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).expect("plan json");
    let locks = |i: usize| plan["ops"][i]["locks"].to_string();
    assert_eq!(locks(0), "[]");
    assert_eq!(locks(2), r#"["vm:rg-images/vm1","msi:rg-images/vm1"]"#);
    assert_eq!(locks(3), r#"["msi:rg-images/vm1"]"#);
    // The managed pair overlaps; the two installers take turns.
    assert_eq!(
        plan["estimated_duration"], 1200.0,
        "{}",
        plan["critical_path"]
    );
    assert_eq!(
        plan["critical_path"],
        serde_json::json!(["m365", "managed-msi"])
    );
}

#[test]
fn a_leftover_of_a_crashed_run_is_deleted_and_a_vm_fault_is_retried() {
    let p = project();
    p.file(
        "modules/m/sim-scenario.yaml",
        "vms:\n  - { resource_group: rg-images, name: vm1 }\nexists:\n  - 'az vm run-command create -g {{AZURE_RESOURCE_GROUP}} --vm-name vm1 --name goldsmith-step-1 --script \"# goldsmith-sim: duration=3h\" --async-execution true'\nfaults:\n  - { op: step, command: vm run-command create, attempts: 1, class: agent-not-ready }\n",
    );
    vm_op(
        &p,
        "step",
        "mode: managed",
        "# goldsmith-sim: duration=30s\nWrite-Output ok",
    );
    p.module("m", "    - step\n");
    let r = run(&p);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let events = p.events();
    let attempts = events_of(&events, "op_attempt_finished", "step");
    assert!(
        attempts.len() >= 2,
        "the agent fault was retried: {attempts:?}"
    );
    assert_eq!(attempts[0]["outcome"]["failure_class"], "agent-not-ready");
    let message = attempts[0]["outcome"]["message"].as_str().expect("message");
    assert!(
        message.contains("VM 'vm1' has not reported status"),
        "{message}"
    );
    let log = std::fs::read_to_string(p.latest_run_dir().join("logs/step.log")).expect("log");
    assert!(
        log.contains("deleting run command goldsmith-step-1, left on the VM by an earlier attempt"),
        "{log}"
    );
    assert!(run_commands_left(&p.latest_run_dir()).is_empty());
}

#[test]
fn the_operations_timeout_is_the_scripts_timeout_in_azure() {
    let p = project();
    vm_op(
        &p,
        "slow",
        "mode: managed\ntimeout: 30s\nretry: { attempts: 1 }",
        "# goldsmith-sim: duration=2h\nStart-Sleep 7200",
    );
    p.module("m", "    - slow\n");
    let r = run(&p);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let state = p.state();
    assert_eq!(op_status(&state, "slow"), "failed");
    assert_eq!(state["ops"][0]["failure_class"], "timeout", "{state}");
    assert!(
        r.stdout
            .contains("the script ran into its timeout of 30 s in Azure"),
        "{}",
        r.stdout
    );
    let calls = std::fs::read_to_string(p.latest_run_dir().join("sim/calls.jsonl")).expect("calls");
    assert!(calls.contains("\"--timeout-in-seconds\",\"30\""), "{calls}");
    assert!(run_commands_left(&p.latest_run_dir()).is_empty());
}

#[test]
fn the_real_az_runs_managed_run_commands_against_the_stand_in() {
    let Some(az) = common::real_az() else { return };
    let p = project();
    for id in ["reg-a", "reg-b"] {
        vm_op(
            &p,
            id,
            "mode: managed",
            &format!(
                "# goldsmith-sim: duration=5m stdout={id}-done\n$p = \"{{{{ADMIN_PASSWORD}}}}\"\nWrite-Output ok"
            ),
        );
    }
    vm_op(
        &p,
        "fails",
        "mode: managed\nretry: { attempts: 1 }",
        "# goldsmith-sim: exit=4\nexit 4",
    );
    p.module("m", &group(&["reg-a", "reg-b", "fails"]));
    let az = az.to_string_lossy().to_string();
    let r = p.run_env(
        &[
            "run",
            "m",
            "--simulate",
            "--sim-speed",
            "50",
            "--az-cli",
            &az,
        ],
        &[("ADMIN_PASSWORD", SECRET)],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let state = p.state();
    assert_eq!(op_status(&state, "reg-a"), "succeeded");
    assert_eq!(op_status(&state, "reg-b"), "succeeded");
    assert_eq!(op_status(&state, "fails"), "failed");
    assert_eq!(state["ops"][2]["exit_code"], 4);
    let scripts = timeline(&p, "script");
    assert_eq!(scripts.len(), 3, "{scripts:?}");
    let span = |id: &str| scripts.iter().find(|s| s.0 == id).expect("a script line");
    let (a, b) = (span("reg-a"), span("reg-b"));
    assert!(
        a.1 < b.2 && b.1 < a.2,
        "the two scripts overlap: {scripts:?}"
    );
    assert!(run_commands_left(&p.latest_run_dir()).is_empty());
    let log = std::fs::read_to_string(p.latest_run_dir().join("logs/reg-a.log")).expect("log");
    assert!(log.contains("reg-a-done"), "{log}");
    for file in common::all_files(&p.latest_run_dir()) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).expect("read")).to_string();
        assert!(
            !text.contains(SECRET),
            "{} holds the secret",
            file.display()
        );
    }
}

/// A VM restart goldsmith owes an installer (3010) waits until no other script of
/// the run is running on that VM: the managed script beside it is never cut short.
#[test]
fn a_restart_after_3010_waits_for_the_managed_script_beside_it() {
    let p = project();
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
    let r = run(&p);
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
