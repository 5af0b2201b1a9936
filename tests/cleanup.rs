//! The golden image's cleanup, end to end on a copy of the library: whatever
//! step of the build VM's customisation fails, and in every fail-fast mode,
//! or when the run is cancelled mid-customisation, the run leaves no build VM
//! (nor its NIC and OS disk) and publishes no image version. What is left is
//! asked of the run's simulated Azure through its own `az`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Project, library_copy, op_status};
use serde_json::Value;

const MODULE: &str = "05-golden-image";
/// From config.example.yaml.
const RG: &str = "rg-avd-weu-001";
const GALLERY: &str = "gal_avd_weu_001";
const IMAGE: &str = "win11-24h2-avd-m365";
const SPEED: &str = "5000";
const SECRETS: [(&str, &str); 1] = [("ADMIN_PASSWORD", "Gs-Cleanup#Build7Pw!")];

/// The library with the golden image and the modules it depends on.
fn library() -> Project {
    library_copy(&["00-resource-group", "01-networking", MODULE])
}

/// A scenario of `faults` (the network and resource group come from the
/// module's dependencies, run first in the same run).
fn scenario(p: &Project, faults: &str) -> PathBuf {
    let path = p.root().join("fault.yaml");
    std::fs::write(&path, format!("faults:\n{faults}")).expect("scenario");
    path
}

fn run_args<'a>(scenario: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        MODULE,
        "--simulate",
        "--sim-speed",
        SPEED,
        "--sim-scenario",
        scenario.to_str().expect("utf8"),
        "--with-dependencies",
    ];
    args.extend(extra);
    args
}

/// The operations that customise the build VM: after the VM and gallery are
/// made, before the image version is published.
fn customisation_steps(p: &Project) -> Vec<String> {
    let r = p.run_env(&["plan", MODULE, "--json"], &SECRETS);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let plan: Value = serde_json::from_str(&r.stdout).expect("plan json");
    // An optional step config.example.yaml switches off never runs, so it cannot fail.
    let ids: Vec<String> = plan["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .filter(|o| o["off"].is_null())
        .map(|o| o["id"].as_str().expect("id").to_string())
        .collect();
    let at = |id: &str| ids.iter().position(|i| i == id).expect(id);
    let steps = ids[at("create-image-definition") + 1..at("create-image-version")].to_vec();
    assert_eq!(
        steps.first().map(String::as_str),
        Some("wait-build-vm-agent")
    );
    assert_eq!(
        steps.last().map(String::as_str),
        Some("generalize-build-vm")
    );
    steps
}

/// What a query of the run's simulated Azure prints, one name a line.
fn ask(run_dir: &Path, args: &[&str]) -> String {
    let sim = run_dir.join("sim");
    let out = Command::new(sim.join("bin/az"))
        .args(args)
        .args(["--query", "[].name", "--output", "tsv"])
        .env("GOLDSMITH_SIM_DIR", &sim)
        .env("GOLDSMITH_SIM_SPEED", SPEED)
        .env("GOLDSMITH_OP", "test")
        .env_remove("GOLDSMITH_SIM_SCENARIO")
        .stdin(Stdio::null())
        .output()
        .expect("the simulated az runs");
    assert!(
        out.status.success(),
        "az {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// Nothing that bills is left: no VM, NIC or disk in the resource group, no image version.
#[track_caller]
fn assert_nothing_left(run_dir: &Path, what: &str) {
    for list in [
        &["vm", "list", "-g", RG][..],
        &["network", "nic", "list", "-g", RG],
        &["disk", "list", "-g", RG],
        &["network", "public-ip", "list", "-g", RG],
        &[
            "sig",
            "image-version",
            "list",
            "-g",
            RG,
            "-r",
            GALLERY,
            "-i",
            IMAGE,
        ],
    ] {
        let left = ask(run_dir, list);
        assert!(
            left.is_empty(),
            "{what}: `az {}` lists {left}",
            list.join(" ")
        );
    }
}

fn cleanup_started(p: &Project) -> Value {
    p.events()
        .into_iter()
        .find(|e| e["type"] == "cleanup_started")
        .expect("a cleanup_started event")
}

fn every_step_failing_leaves_nothing(mode: &str) {
    let p = library();
    for step in customisation_steps(&p) {
        let faults = format!("  - op: {step}\n    class: az-error\n");
        let path = scenario(&p, &faults);
        let r = p.run_env(&run_args(&path, &["--fail-fast", mode]), &SECRETS);
        let what = format!("--fail-fast {mode}, `{step}` failing");
        assert_eq!(r.code, 1, "{what}:\n{}{}", r.stdout, r.stderr);
        let state = p.state();
        assert_eq!(op_status(&state, &step), "failed", "{what}");
        assert_eq!(
            op_status(&state, "create-image-version"),
            "skipped",
            "{what}"
        );
        assert_eq!(
            op_status(&state, "delete-build-vm"),
            "succeeded",
            "{what}:\n{}",
            r.stdout
        );
        assert_eq!(state["status"], "failed", "{what}");
        let cleanup = cleanup_started(&p);
        assert_eq!(cleanup["after"]["op"], step.as_str(), "{what}: {cleanup}");
        assert!(
            r.stdout.contains(&format!(
                "goldsmith: running 1 cleanup operation after the failure of `{step}`: delete-build-vm"
            )),
            "{what}:\n{}",
            r.stdout
        );
        assert_nothing_left(&p.latest_run_dir(), &what);
    }
}

#[test]
fn a_failing_customisation_step_leaves_nothing_with_fail_fast_finish_stage() {
    every_step_failing_leaves_nothing("finish-stage");
}

#[test]
fn a_failing_customisation_step_leaves_nothing_with_fail_fast_cancel() {
    every_step_failing_leaves_nothing("cancel");
}

#[test]
fn a_failing_customisation_step_leaves_nothing_with_fail_fast_continue() {
    every_step_failing_leaves_nothing("continue");
}

/// Waits until the run in `p` has started `op`.
fn wait_for_start(p: &Project, op: &str, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let started = p.run_dirs().pop().is_some_and(|dir| {
            std::fs::read_to_string(dir.join("events.jsonl")).is_ok_and(|text| {
                text.lines().any(|l| {
                    l.contains("\"type\":\"op_started\"") && l.contains(&format!("\"op\":\"{op}\""))
                })
            })
        });
        if started {
            return;
        }
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the run ended before `{op}` started"
        );
        assert!(Instant::now() < deadline, "`{op}` did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigterm_mid_customisation_deletes_the_build_vm_without_waiting_and_exits_130() {
    let p = library();
    // A quiet scenario: nothing fails.
    let path = scenario(&p, "  []\n");
    let mut cmd = p.command(&run_args(&path, &[]));
    cmd.envs(SECRETS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("goldsmith starts");
    wait_for_start(&p, "install-m365-apps", &mut child);
    // SAFETY: sending SIGTERM to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().expect("goldsmith ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");

    let state = p.state();
    assert_eq!(state["status"], "cancelled");
    assert_eq!(op_status(&state, "install-m365-apps"), "cancelled");
    assert_eq!(op_status(&state, "create-image-version"), "cancelled");
    assert_eq!(
        op_status(&state, "delete-build-vm"),
        "succeeded",
        "{stdout}"
    );
    let cleanup = cleanup_started(&p);
    assert_eq!(cleanup["after"]["kind"], "signal", "{cleanup}");
    assert_eq!(cleanup["after"]["signal"], "SIGTERM");
    assert!(
        stdout.contains(
            "goldsmith: running 1 cleanup operation after SIGTERM, within 6s of it: delete-build-vm"
        ),
        "{stdout}"
    );
    // The cleanup knew it was cancelled: it started the deletion and did not wait.
    let run_dir = p.latest_run_dir();
    let log = std::fs::read_to_string(run_dir.join("logs/delete-build-vm.log")).expect("log");
    assert!(
        log.contains("deletion started, not waited for (the run was cancelled)"),
        "{log}"
    );
    // The deletion goes on in Azure: a simulated minute is 60 ms at this speed.
    std::thread::sleep(Duration::from_millis(200));
    assert_nothing_left(&run_dir, "after SIGTERM");
}

// The engine's rules for `always: true`, on small shell modules.

/// A module `m`: `make` records itself, `step` runs `step_script`, `publish` and
/// `undo` (always) record themselves; `undo` also records GOLDSMITH_CANCELLED.
fn shell_build(step_script: &str, undo_script: &str) -> Project {
    let p = Project::new();
    let log = p.root().join("ran");
    let note = |what: &str| format!("echo {what} >> {}", log.display());
    p.shell_op("make", "", &note("make"))
        .shell_op("step", "", step_script)
        .shell_op("publish", "requires: [make]", &note("publish"))
        .shell_op(
            "undo",
            "",
            &format!(
                "{}\n{undo_script}",
                note("undo cancelled=${GOLDSMITH_CANCELLED:-0}")
            ),
        )
        .module(
            "m",
            "    - make\n    - step\n    - publish\n    - { id: undo, always: true }\n",
        );
    p
}

fn ran(p: &Project) -> String {
    std::fs::read_to_string(p.root().join("ran")).unwrap_or_default()
}

#[test]
fn plan_shows_an_always_entry_and_validate_rejects_a_bad_value() {
    let p = shell_build("true", "");
    let r = p.run(&["plan", "m"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let undo = r.stdout.lines().find(|l| l.contains("undo")).expect("undo");
    assert!(
        undo.ends_with("(always: also after a failure or cancellation)"),
        "{undo}"
    );
    let publish = r
        .stdout
        .lines()
        .find(|l| l.contains("publish"))
        .expect("publish");
    assert!(
        !publish.contains("after make"),
        "it waits for every earlier stage: {publish}"
    );
    p.module("m", "    - make\n    - { id: undo, always: sometimes }\n");
    let r = p.run(&["validate", "m"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("modules/m/module.yaml:6:27: error: `always` must be `true` or `false`"),
        "{}",
        r.stderr
    );
}

#[test]
fn without_a_failure_the_cleanup_runs_in_its_place() {
    let p = shell_build("true", "");
    let r = p.run(&["run", "m"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(ran(&p), "make\npublish\nundo cancelled=0\n");
    assert!(!r.stdout.contains("cleanup operation"), "{}", r.stdout);
}

#[test]
fn after_a_failure_the_cleanup_runs_and_a_resume_carries_nothing_over() {
    let p = shell_build("exit 1", "");
    let r = p.run(&["run", "m", "--fail-fast", "continue"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        ran(&p),
        "make\nundo cancelled=0\n",
        "publish ran after `step` failed"
    );
    assert!(
        r.stdout
            .contains("goldsmith: running 1 cleanup operation after the failure of `step`: undo")
    );
    assert_eq!(p.state()["cleanup_ran"], true);

    // The cleanup undid what `make` made: resume runs it again.
    p.shell_op("step", "", "true");
    let r = p.run(&["resume", "m"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("ran its cleanup"), "{}", r.stdout);
    assert_eq!(
        ran(&p),
        "make\nundo cancelled=0\nmake\npublish\nundo cancelled=0\n"
    );
}

/// Starts `goldsmith run m` with `args` and waits for `marker` to exist.
fn start_and_wait(p: &Project, args: &[&str], marker: &Path) -> std::process::Child {
    let mut full = vec!["run", "m"];
    full.extend(args);
    let mut child = p
        .command(&full)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("goldsmith starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !marker.exists() {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the run ended before {}",
            marker.display()
        );
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            marker.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

fn signal(child: &std::process::Child, sig: i32) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, sig) };
}

#[test]
fn a_cancelled_run_tells_its_cleanup_and_a_second_signal_stops_it() {
    let p = shell_build("true", "");
    let step_on = p.root().join("step.on");
    let undo_on = p.root().join("undo.on");
    p.shell_op(
        "step",
        "",
        &format!("touch {}\nsleep 30", step_on.display()),
    );
    p.shell_op(
        "undo",
        "",
        &format!(
            "echo \"undo cancelled=${{GOLDSMITH_CANCELLED:-0}}\" >> {}\ntouch {}\nsleep 30",
            p.root().join("ran").display(),
            undo_on.display()
        ),
    );
    let child = start_and_wait(&p, &["--cancel-budget", "20s"], &step_on);
    let begun = Instant::now();
    signal(&child, libc::SIGINT);
    while !undo_on.exists() {
        assert!(
            begun.elapsed() < Duration::from_secs(10),
            "the cleanup never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().expect("goldsmith ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(
        begun.elapsed() < Duration::from_secs(10),
        "the cleanup was not stopped"
    );
    assert_eq!(ran(&p), "make\nundo cancelled=1\n");
    assert!(
        stdout.contains(
            "goldsmith: running 1 cleanup operation after SIGINT, within 20s of it: undo"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("goldsmith: second signal (SIGTERM): stopping the cleanup"),
        "{stdout}"
    );
    let state = p.state();
    assert_eq!(state["status"], "cancelled");
    assert_eq!(op_status(&state, "step"), "cancelled");
    assert_eq!(op_status(&state, "publish"), "cancelled");
    assert_eq!(op_status(&state, "undo"), "cancelled");
}

#[test]
fn the_cancel_budget_kills_what_ignores_sigterm_and_then_the_cleanup() {
    let p = shell_build("true", "");
    let step_on = p.root().join("step.on");
    // Both ignore SIGTERM (and the sleep they run does too: it inherits the ignore).
    p.shell_op(
        "step",
        "",
        &format!("trap '' TERM\ntouch {}\nsleep 30", step_on.display()),
    );
    p.shell_op("undo", "", "trap '' TERM\nsleep 30");
    let child = start_and_wait(
        &p,
        &["--cancel-budget", "2s", "--kill-grace", "60s"],
        &step_on,
    );
    let begun = Instant::now();
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().expect("goldsmith ends");
    let took = begun.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(took < Duration::from_secs(6), "took {took:?}:\n{stdout}");
    assert!(took >= Duration::from_secs(2), "took {took:?}:\n{stdout}");
    assert!(stdout.contains(
        "goldsmith: operations still running 1s after the signal: killing them so the cleanup can start"
    ), "{stdout}");
    assert!(
        stdout.contains("goldsmith: the cancellation budget (2s) is spent: stopping the cleanup"),
        "{stdout}"
    );
    let state = p.state();
    assert_eq!(op_status(&state, "step"), "cancelled");
    assert_eq!(op_status(&state, "undo"), "cancelled");
}
