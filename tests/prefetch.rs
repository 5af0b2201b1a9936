//! Downloading early without installing: download-m365-apps fills the build
//! VM's payload cache that install-m365-apps then installs from, and
//! download-windows-updates leaves the updates downloaded for the install
//! rounds. On the simulated Azure the download time is spent once, by
//! whichever step downloads first (the shipped library, the real binary).

mod common;

use common::{Project, library_copy, op_status};
use serde_json::Value;

/// The shipped library with a module `m` of `ops` on the build VM of config.example.yaml.
fn library_module(ops: &[&str]) -> Project {
    let p = library_copy(&[]);
    p.file(
        "modules/m/sim-scenario.yaml",
        "vms:\n  - { resource_group: rg-avd-weu-001, name: vm-avdbuild01 }\n",
    );
    let entries: String = ops.iter().map(|op| format!("    - {op}\n")).collect();
    p.module("m", &entries);
    p
}

fn run(p: &Project) {
    let r = p.run(&["run", "m", "--simulate", "--sim-speed", "5000"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

/// The payload entries of the simulated timeline: `(op, phase, seconds)`.
fn payloads(p: &Project) -> Vec<(String, String, f64)> {
    let text = std::fs::read_to_string(p.latest_run_dir().join("sim/timeline.jsonl"))
        .expect("sim/timeline.jsonl");
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .filter(|t| t["app"] == "m365-apps-payload")
        .map(|t| {
            let seconds = t["end"].as_f64().expect("end") - t["start"].as_f64().expect("start");
            (
                t["op"].as_str().expect("op").to_string(),
                t["phase"].as_str().expect("phase").to_string(),
                seconds.round(),
            )
        })
        .collect()
}

#[test]
fn install_m365_apps_installs_from_the_payload_download_m365_apps_left() {
    let p = library_module(&["download-m365-apps", "install-m365-apps"]);
    run(&p);
    assert_eq!(
        payloads(&p),
        vec![
            (
                "download-m365-apps".into(),
                "payload-download".into(),
                480.0
            ),
            ("install-m365-apps".into(), "payload-cached".into(), 0.0),
        ]
    );
    // The plan shows the download as its own step; both estimates add up to the install alone.
    let r = p.run(&["plan", "m", "--json"]);
    let plan: Value = serde_json::from_str(&r.stdout).expect("plan json");
    let expected: Vec<f64> = plan["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .map(|o| o["expected"].as_f64().expect("expected"))
        .collect();
    assert_eq!(expected, [540.0, 1500.0]);
}

#[test]
fn install_m365_apps_alone_downloads_the_payload_itself() {
    let p = library_module(&["install-m365-apps"]);
    run(&p);
    assert_eq!(
        payloads(&p),
        vec![("install-m365-apps".into(), "payload-download".into(), 480.0)]
    );
}

#[test]
fn download_windows_updates_leaves_them_downloaded_for_the_install_round() {
    let p = library_module(&["download-windows-updates", "install-windows-updates"]);
    run(&p);
    let state = p.state();
    for op in ["download-windows-updates", "install-windows-updates"] {
        assert_eq!(op_status(&state, op), "succeeded", "{state}");
    }
    let log = std::fs::read_to_string(p.latest_run_dir().join("logs/download-windows-updates.log"))
        .expect("the download step's log");
    assert!(
        log.contains("##goldsmith-update-download-round:found=4:downloaded=4"),
        "{log}"
    );
    let sim: Value = serde_json::from_str(
        &std::fs::read_to_string(p.latest_run_dir().join("sim/state.json")).expect("sim state"),
    )
    .expect("sim json");
    let vm = sim["vms"]
        .as_object()
        .expect("vms")
        .values()
        .find(|vm| vm["name"] == "vm-avdbuild01")
        .expect("the build VM");
    let downloaded: Vec<&str> = vm["windows_update"]["downloaded"]
        .as_object()
        .expect("downloaded")
        .keys()
        .map(String::as_str)
        .collect();
    // The four offered before a restart; the Defender platform update, offered
    // after it, was downloaded by the install round itself.
    assert_eq!(
        downloaded,
        ["KB2267602", "KB5066131", "KB5068861", "KB890830"],
        "{vm}"
    );
    assert_eq!(
        vm["windows_update"]["installed"]
            .as_array()
            .expect("installed")
            .len(),
        5
    );
}

/// The here-string that builds the Office Deployment Tool configuration in an operation file.
fn configuration(op: &str) -> String {
    let path = common::repo().join(format!("capabilities/compute/operations/{op}.yaml"));
    let text = std::fs::read_to_string(&path).expect("operation file");
    let start = text.find("$languages = ").expect("the configuration");
    let end = start + text[start..].find("\"@\n").expect("the here-string's end");
    // The statements at any indentation (one is inside an `else` block); the
    // here-string's lines exactly, their spaces are part of the XML.
    let body = start + text[start..end].find("@\"").expect("the here-string");
    let statements: Vec<&str> = text[start..body].lines().map(str::trim).collect();
    format!("{}\n{}", statements.join("\n"), &text[body..end])
}

#[test]
fn the_download_and_the_install_build_the_same_configuration() {
    // install-m365-apps uses the cache only when its configuration's SHA-256
    // matches the one download-m365-apps marked it with: a drift here would
    // silently turn the prefetch into wasted time.
    assert_eq!(
        configuration("download-m365-apps"),
        configuration("install-m365-apps")
    );
}
