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
fn the_estimate_installs_each_app_as_soon_as_its_download_is_done() {
    // Downloads: chrome and adobe start together; small (no duration: 0)
    // takes chrome's slot at 2 min. Chrome installs 2-5 min while adobe
    // downloads, adobe 5-7 min: the seed's 7 min, not 3 + 3 + 2 = 8.
    let p = project("  download_parallelism: 2\n", &timed_apps());
    assert_eq!(planned_expected(&p), 420.0);
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
    // Chrome installs as soon as its download is done; at 5 min adobe and
    // small are both ready, and adobe, listed first, goes first.
    assert_eq!(rel("chrome", "install"), (120.0, 300.0));
    assert_eq!(rel("adobe-reader", "install"), (300.0, 420.0));
    assert_eq!(rel("small", "install"), (420.0, 450.0));
    // The app results carry the simulated seconds too.
    let summary = std::fs::read_to_string(dir.join("summary.md")).expect("summary");
    assert!(
        summary.contains("| adobe-reader | 180s | 120s |"),
        "{summary}"
    );
}

/// The app results of the operation's finished attempt, in the order the
/// script printed them: `(app, phase, seconds)`.
fn app_results(p: &Project) -> Vec<(String, String, f64)> {
    let events = p.events();
    let finished = common::events_of(&events, "op_attempt_finished", "install");
    let last = finished.last().expect("a finished attempt");
    last["outcome"]["apps"]
        .as_array()
        .unwrap_or_else(|| panic!("apps in {last}"))
        .iter()
        .map(|a| {
            (
                a["name"].as_str().expect("name").to_string(),
                a["phase"].as_str().expect("phase").to_string(),
                a["seconds"].as_f64().expect("seconds"),
            )
        })
        .collect()
}

#[test]
fn each_app_installs_as_soon_as_its_own_download_is_done() {
    // The seed's example: the plan says 7 min, and the simulated run installs
    // Chrome (2 min download, 3 min install) while Adobe (3 / 2 min) downloads.
    let seed = [
        app("chrome", ", expected: { download: 2m, install: 3m }"),
        app("adobe-reader", ", expected: { download: 3m, install: 2m }"),
    ]
    .concat();
    let p = project("  download_parallelism: 2\n", &seed);
    assert_eq!(planned_expected(&p), 420.0);
    let r = p.run(&["run", "m", "--simulate", "--sim-speed", "5000"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let results = app_results(&p);
    let row =
        |name: &str, phase: &str, seconds: f64| (name.to_string(), phase.to_string(), seconds);
    assert_eq!(
        results,
        vec![
            row("chrome", "download", 120.0),
            row("adobe-reader", "download", 180.0),
            row("chrome", "install", 180.0),
            row("adobe-reader", "install", 120.0),
        ]
    );

    // A large app listed first holds back no small one: the small app
    // downloads and installs while the large one still downloads.
    let apps = [
        app("large", ", expected: { download: 10m, install: 1m }"),
        app("small", ", expected: { download: 1m, install: 2m }"),
    ]
    .concat();
    let p = project("  download_parallelism: 2\n", &apps);
    assert_eq!(planned_expected(&p), 660.0);
    let r = p.run(&["run", "m", "--simulate", "--sim-speed", "5000"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        app_results(&p),
        vec![
            row("small", "download", 60.0),
            row("small", "install", 120.0),
            row("large", "download", 600.0),
            row("large", "install", 60.0),
        ]
    );
}

#[test]
fn after_names_an_earlier_app_and_holds_the_install_back() {
    let apps = [
        app("vc-redist", ", expected: { download: 20s, install: 1m }"),
        app(
            "webrtc",
            ", after: vc-redist, expected: { download: 10s, install: 30s }",
        ),
    ]
    .concat();
    let p = project("", &apps);
    // webrtc is downloaded first but installs after vc-redist (20-80 s): 110 s.
    assert_eq!(planned_expected(&p), 110.0);
    let r = p.run(&["run", "m", "--simulate", "--sim-speed", "5000"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let installs: Vec<String> = app_results(&p)
        .into_iter()
        .filter(|(_, phase, _)| phase == "install")
        .map(|(name, _, _)| name)
        .collect();
    assert_eq!(installs, ["vc-redist", "webrtc"]);

    let later = [app("webrtc", ", after: [vc-redist]"), app("vc-redist", "")].concat();
    let p = project("", &later);
    let r = p.run(&["validate"]);
    let text = format!("{}{}", r.stdout, r.stderr);
    assert_ne!(r.code, 0, "{text}");
    assert!(
        text.contains("install.yaml:6:167: error: app `webrtc`: `after: vc-redist` is not an app listed before it")
            && text.contains("`webrtc` is the first app"),
        "{text}"
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

#[test]
fn validate_warns_on_a_download_without_sha256_and_strict_refuses_it() {
    let apps = [
        app("chrome", ""),
        "    - { name: seven-zip, type: msi, url: \"https://downloads.example.com/7z.msi\" }\n"
            .to_string(),
    ]
    .concat();
    let p = project("", &apps);
    let r = p.run(&["validate"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("capabilities/compute/operations/install.yaml:7:7: warning: app `seven-zip` is downloaded without `sha256`"),
        "{all}"
    );
    assert!(!all.contains("app `chrome` is downloaded"), "{all}");
    assert!(all.contains("1 warning"), "{all}");
    let strict = p.run(&["validate", "--strict"]);
    assert_eq!(strict.code, 2, "{}{}", strict.stdout, strict.stderr);
    assert!(
        format!("{}{}", strict.stdout, strict.stderr)
            .contains("install.yaml:7:7: error: app `seven-zip` is downloaded without `sha256`"),
        "{}{}",
        strict.stdout,
        strict.stderr
    );
}

#[test]
fn a_sha256_that_is_not_64_hex_digits_is_an_error_at_the_hash() {
    let apps = "    - name: chrome\n      type: msi\n      url: \"https://downloads.example.com/chrome.msi\"\n      sha256: \"abc123\"\n";
    let p = project("", apps);
    let r = p.run(&["validate"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("capabilities/compute/operations/install.yaml:9:15: error: `sha256` of app `chrome` is not 64 hexadecimal digits (6 characters)"),
        "{all}"
    );
}
