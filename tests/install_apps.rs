//! `kind: install-apps` apps with their own durations: the plan's estimate and
//! the simulated timeline follow them (the real binary on a temporary project).

mod common;

use common::Project;

/// An install-apps operation `install` on vm1 with these app lines (YAML list
/// items) and `extra` operation lines, in module `m`.
fn project(extra: &str, apps: &str) -> Project {
    let p = Project::new();
    p.file("config.yaml", "azure:\n  resource_group: rg-images\n");
    p.file(
        "modules/m/sim-scenario.yaml",
        "vms:\n  - { resource_group: rg-images, name: vm1 }\n",
    );
    p.file(
        "capabilities/compute/operations/install.yaml",
        &format!("operation:\n  id: install\n  kind: install-apps\n  target: {{ vm: vm1, resource_group: \"{{{{AZURE_RESOURCE_GROUP}}}}\" }}\n{extra}  apps:\n{apps}"),
    );
    p.module("m", "    - install\n");
    p
}

fn app(name: &str, expected: &str) -> String {
    format!(
        "    - {{ name: {name}, type: msi, url: \"https://downloads.example.com/{name}.msi\", sha256: \"{}\"{expected} }}\n",
        "ab".repeat(32)
    )
}

/// Chrome (2 min download, 3 min install), Adobe (3 / 2 min) and one app
/// without durations, two downloads at a time.
fn timed_apps() -> String {
    [
        app("chrome", ", expected: { download: 2m, install: 3m }"),
        app("adobe-reader", ", expected: { download: 3m, install: 2m }"),
        app("small", ""),
    ]
    .concat()
}

fn planned_expected(p: &Project) -> serde_json::Value {
    let r = p.run(&["plan", "m", "--json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).expect("plan json");
    assert_eq!(plan["estimated_duration"], plan["ops"][0]["expected"]);
    plan["ops"][0]["expected"].clone()
}

#[test]
fn the_estimate_adds_parallel_downloads_and_sequential_installs() {
    // Downloads: chrome and adobe start together; small (no duration: 0)
    // takes chrome's slot. They end at 3 min; installs 3 + 2 min follow.
    let p = project("  download_parallelism: 2\n", &timed_apps());
    assert_eq!(planned_expected(&p), 480.0);
    // The operation's own expected duration wins.
    let p = project(
        "  download_parallelism: 2\n  duration: { expected: 60 }\n",
        &timed_apps(),
    );
    assert_eq!(planned_expected(&p), 60.0);
    // No durations anywhere: no estimate, as before.
    let p = project("", &app("small", ""));
    let r = p.run(&["plan", "m"]);
    assert!(
        r.stdout.contains("1 operation has no expected duration"),
        "{}",
        r.stdout
    );
}

#[test]
fn an_app_that_declares_durations_is_simulated_with_them() {
    let p = project("  download_parallelism: 2\n", &timed_apps());
    let r = p.run(&["run", "m", "--simulate", "--sim-speed", "5000"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let dir = p.latest_run_dir();
    let timeline: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("sim/timeline.jsonl"))
        .expect("timeline")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let span = |app: &str, phase: &str| -> (f64, f64) {
        let t = timeline
            .iter()
            .find(|t| t["app"] == app && t["phase"] == phase)
            .unwrap_or_else(|| panic!("{app} {phase} in {timeline:?}"));
        (
            t["start"].as_f64().expect("start"),
            t["end"].as_f64().expect("end"),
        )
    };
    let t0 = span("chrome", "download").0;
    let rel = |app: &str, phase: &str| {
        let (a, b) = span(app, phase);
        ((a - t0).round(), (b - t0).round())
    };
    assert_eq!(rel("chrome", "download"), (0.0, 120.0));
    assert_eq!(rel("adobe-reader", "download"), (0.0, 180.0));
    // The app without durations keeps today's 20 s download, in the first free slot.
    assert_eq!(rel("small", "download"), (120.0, 140.0));
    assert_eq!(rel("chrome", "install"), (180.0, 360.0));
    assert_eq!(rel("adobe-reader", "install"), (360.0, 480.0));
    assert_eq!(rel("small", "install"), (480.0, 510.0));
    // The app results carry the simulated seconds too.
    let summary = std::fs::read_to_string(dir.join("summary.md")).expect("summary");
    assert!(
        summary.contains("| adobe-reader | 180s | 120s |"),
        "{summary}"
    );
}

#[test]
fn a_bad_app_duration_is_an_error_at_its_line() {
    let p = project(
        "",
        &app("chrome", ", expected: { download: soon, instal: 3m }"),
    );
    let r = p.run(&["validate"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("capabilities/compute/operations/install.yaml:6:"),
        "{all}"
    );
    assert!(all.contains("soon"), "{all}");
    assert!(all.contains("instal"), "{all}");
}
