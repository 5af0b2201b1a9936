//! An install-apps app's `ok_codes`: the shipped `05-golden-image` module,
//! simulated with its dependencies, with install-teams' installers returning
//! 1638 (ERROR_PRODUCT_VERSION) by a scenario (tests/fixtures/scenarios/),
//! and the catalog's checks of the field.

mod common;

use common::{Project, golden_image_with, junit_and_summary, junit_case, op_status};

const ADMIN_PASSWORD: &str = "Gs-OkCodes-Pw#4d2a!";

fn run_with(name: &str) -> (Project, common::Run) {
    golden_image_with(name, ADMIN_PASSWORD)
}

#[test]
fn a_runtime_already_installed_is_accepted_by_the_apps_ok_codes() {
    let (p, r) = run_with("vc-redist-already-installed");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let state = p.state();
    assert_eq!(op_status(&state, "install-teams"), "succeeded");
    assert_eq!(op_status(&state, "create-image-version"), "succeeded");
    let (junit, summary) = junit_and_summary(&p);
    let app = junit_case(&junit, "install-teams/vc-redist-x64");
    assert!(!app.contains("<failure"), "{app}");
    for property in [
        "name=\"goldsmith.installer-code\" value=\"1638\"",
        "name=\"goldsmith.installer-result\" value=\"ERROR_PRODUCT_VERSION\"",
        "name=\"goldsmith.installer-accepted\" value=\"ok_codes\"",
    ] {
        assert!(app.contains(property), "{property} missing: {app}");
    }
    let teams = junit_case(&junit, "install-teams/microsoft-teams");
    assert!(
        teams.contains("name=\"goldsmith.installer-code\" value=\"0\"")
            && !teams.contains("installer-accepted"),
        "{teams}"
    );
    let row = summary
        .lines()
        .find(|l| l.starts_with("| vc-redist-x64 |"))
        .expect("the app's row");
    assert!(row.contains("1638 accepted (ok_codes)"), "{row}");
    assert!(
        r.stdout
            .contains("install-teams: `vc-redist-x64` returned 1638 accepted (ok_codes): ERROR_PRODUCT_VERSION"),
        "{}",
        r.stdout
    );
    // The script's own lines carry the real code.
    let log = std::fs::read_to_string(p.latest_run_dir().join("logs/install-teams.log"))
        .expect("the operation's log");
    assert!(
        log.contains("##goldsmith-msi:vc-redist-x64:1638")
            && log.contains("##goldsmith-app:vc-redist-x64:install:ok:"),
        "{log}"
    );
}

#[test]
fn an_app_without_ok_codes_still_fails_on_1638() {
    let (p, r) = run_with("webrtc-redirector-other-version");
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(op_status(&p.state(), "install-teams"), "failed");
    let (junit, _) = junit_and_summary(&p);
    let app = junit_case(&junit, "install-teams/webrtc-redirector");
    assert!(
        app.contains("the installer returned 1638 (ERROR_PRODUCT_VERSION)")
            && app.contains("type=\"app-install\"")
            && !app.contains("installer-accepted"),
        "{app}"
    );
    let op = junit_case(&junit, "install-teams");
    assert!(
        op.contains("install `webrtc-redirector` returned 1638 (ERROR_PRODUCT_VERSION)"),
        "{op}"
    );
}

#[test]
fn ok_codes_that_cannot_mean_installed_are_errors_with_their_place() {
    let p = Project::new();
    p.file("config.yaml", "azure:\n  resource_group: rg-images\n");
    p.file(
        "capabilities/compute/operations/install.yaml",
        "operation:\n  id: install\n  kind: install-apps\n  target: { vm: vm1, resource_group: \"{{AZURE_RESOURCE_GROUP}}\" }\n  apps:\n    - name: runtime\n      type: exe\n      url: https://downloads.example.com/runtime.exe\n      sha256: 0000000000000000000000000000000000000000000000000000000000000000\n      ok_codes: [1638, already, 3010, 1618]\n",
    );
    p.module("m", "    - install\n");
    let r = p.run(&["validate"]);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let out = format!("{}{}", r.stdout, r.stderr);
    let file = "capabilities/compute/operations/install.yaml";
    for expected in [
        format!("{file}:10:24: error: `ok_codes` entry is a string, not an exit code"),
        format!("{file}:10:33: error: `ok_codes` lists 3010, which already counts as installed"),
        format!("{file}:10:39: error: `ok_codes` lists 1618: Windows Installer is busy"),
    ] {
        assert!(out.contains(&expected), "{expected} missing: {out}");
    }
    assert!(out.contains("need no listing"), "{out}");
}
