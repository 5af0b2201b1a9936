//! The golden image's cleanup, end to end on a copy of the library: whatever
//! step of the build VM's customisation fails, and in every fail-fast mode,
//! or when the run is cancelled mid-customisation, the run leaves no build VM
//! (nor its NIC and OS disk) and publishes no image version. What is left is
//! asked of the run's simulated Azure through its own `az`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Project, op_status};
use serde_json::Value;

const MODULE: &str = "05-golden-image";
/// From config.example.yaml.
const RG: &str = "rg-avd-weu-001";
const GALLERY: &str = "gal_avd_weu_001";
const IMAGE: &str = "win11-24h2-avd-m365";
const SPEED: &str = "1000";
const SECRETS: [(&str, &str); 1] = [("ADMIN_PASSWORD", "Gs-Cleanup#Build7Pw!")];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A copy of the library with config.example.yaml as its config.
fn library() -> Project {
    let p = Project::new();
    copy_dir(&repo().join("capabilities"), &p.root().join("capabilities"));
    copy_dir(&repo().join("modules"), &p.root().join("modules"));
    std::fs::copy(
        repo().join("config.example.yaml"),
        p.root().join("config.yaml"),
    )
    .expect("config");
    p
}

/// The module's own scenario (what 00 and 01 make) plus `faults`.
fn scenario(p: &Project, faults: &str) -> PathBuf {
    let seeds = std::fs::read_to_string(
        repo()
            .join("modules")
            .join(MODULE)
            .join("sim-scenario.yaml"),
    )
    .expect("the module's scenario");
    let path = p.root().join("fault.yaml");
    std::fs::write(&path, format!("{seeds}\nfaults:\n{faults}")).expect("scenario");
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
    let ids: Vec<String> = plan["ops"]
        .as_array()
        .expect("ops")
        .iter()
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
