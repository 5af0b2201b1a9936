//! The scenario's `installers:` make a simulated installer return a code: the
//! shipped `05-golden-image` module, simulated with its dependencies, with
//! Adobe Acrobat Reader's installer returning 3010 or 1603
//! (tests/fixtures/scenarios/).

mod common;

use common::{Project, golden_image_with, junit_and_summary, junit_case, op_status, real_az};

const ADMIN_PASSWORD: &str = "Gs-Installer-Pw#7c1e!";
const APP_CASE: &str = "install-build-vm-apps/adobe-acrobat-reader";

fn run_with(name: &str) -> (Project, common::Run) {
    golden_image_with(name, ADMIN_PASSWORD)
}

/// The summary's row of install-build-vm-apps.
fn apps_row(summary: &str) -> &str {
    summary
        .lines()
        .find(|l| l.starts_with("| install-build-vm-apps |"))
        .expect("the operation's row")
}

#[test]
fn an_installer_returning_3010_passes_and_says_a_reboot_is_required() {
    let (p, r) = run_with("adobe-reboot-required");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(op_status(&p.state(), "install-build-vm-apps"), "succeeded");
    let (junit, summary) = junit_and_summary(&p);
    let app = junit_case(&junit, APP_CASE);
    assert!(!app.contains("<failure"), "{app}");
    for property in [
        "name=\"goldsmith.installer-code\" value=\"3010\"",
        "name=\"goldsmith.installer-result\" value=\"ERROR_SUCCESS_REBOOT_REQUIRED\"",
        "name=\"goldsmith.reboot-required\" value=\"true\"",
    ] {
        assert!(app.contains(property), "{property} missing: {app}");
    }
    // Only Adobe asked for a restart.
    let chrome = junit_case(&junit, "install-build-vm-apps/google-chrome");
    assert!(
        chrome.contains("name=\"goldsmith.installer-code\" value=\"0\"")
            && !chrome.contains("reboot-required"),
        "{chrome}"
    );
    let op = junit_case(&junit, "install-build-vm-apps");
    assert!(
        op.contains("name=\"goldsmith.reboot-required\" value=\"true\""),
        "{op}"
    );
    let row = apps_row(&summary);
    assert!(
        row.contains("| succeeded |")
            && row.contains("reboot required (goldsmith restarted the VM before install-teams)"),
        "{row}"
    );
    // The restart happened: the next run-command's log shows az vm restart before its script.
    let log = std::fs::read_to_string(p.latest_run_dir().join("logs/install-teams.log"))
        .expect("install-teams log");
    let restart = log
        .find("az vm restart --resource-group rg-avd-weu-001 --name vm-avdbuild01")
        .unwrap_or_else(|| panic!("no restart in {log}"));
    let invoke = log
        .find("az vm run-command invoke")
        .expect("the run-command");
    assert!(restart < invoke, "{log}");
}

#[test]
fn an_installer_returning_1603_fails_the_operation_with_its_name() {
    let (p, r) = run_with("adobe-install-failure");
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let state = p.state();
    assert_eq!(op_status(&state, "install-build-vm-apps"), "failed");
    assert_eq!(op_status(&state, "cleanup-build-vm"), "skipped");
    let (junit, summary) = junit_and_summary(&p);
    let app = junit_case(&junit, APP_CASE);
    // 120 s: the install time the library declares for Adobe (`expected: { install: 2m }`).
    assert!(
        app.contains("<failure message=\"install of `adobe-acrobat-reader` failed after 120s: the installer returned 1603 (ERROR_INSTALL_FAILURE)\" type=\"app-install\""),
        "{app}"
    );
    let op = junit_case(&junit, "install-build-vm-apps");
    assert!(
        op.contains("type=\"msi-fatal\"")
            && op.contains("install `adobe-acrobat-reader` returned 1603 (ERROR_INSTALL_FAILURE)"),
        "{op}"
    );
    let row = apps_row(&summary);
    assert!(
        row.contains("| failed |") && row.contains("1603 (ERROR_INSTALL_FAILURE)"),
        "{row}"
    );
    // The other apps' installers were untouched.
    assert!(
        !junit_case(&junit, "install-build-vm-apps/google-chrome").contains("<failure"),
        "{junit}"
    );
}

/// Through the real Azure CLI and the stand-in: the stand-in learns the
/// calling operation and attempt from az's User-Agent, so an entry limited
/// to one operation's first attempt applies there, and one for another
/// operation does not.
#[test]
fn the_stand_in_applies_installers_to_the_operation_they_name() {
    let Some(az) = real_az() else { return };
    let p = Project::new();
    p.file("config.yaml", "azure:\n  resource_group: rg-images\n");
    p.file(
        "capabilities/compute/operations/install.yaml",
        "operation:\n  id: install\n  kind: install-apps\n  target: { vm: vm1, resource_group: \"{{AZURE_RESOURCE_GROUP}}\" }\n  apps:\n    - { name: reader, type: exe, url: \"https://downloads.example.com/reader.exe\" }\n    - { name: editor, type: msi, url: \"https://downloads.example.com/editor.msi\" }\n",
    );
    p.module("m", "    - install\n");
    p.file(
        "scenario.yaml",
        "vms:\n  - { resource_group: rg-images, name: vm1 }\ninstallers:\n  - { op: install, app: reader, code: 3010, attempts: 1 }\n  - { op: another-op, app: editor, code: 1603 }\n",
    );
    let scenario = p.root().join("scenario.yaml");
    let r = p.run(&[
        "run",
        "m",
        "--simulate",
        "--sim-speed",
        "2000",
        "--sim-scenario",
        scenario.to_str().expect("a UTF-8 path"),
        "--az-cli",
        az.to_str().expect("a UTF-8 path"),
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let (junit, _) = junit_and_summary(&p);
    let reader = junit_case(&junit, "install/reader");
    assert!(
        reader.contains("name=\"goldsmith.installer-code\" value=\"3010\"")
            && reader.contains("name=\"goldsmith.reboot-required\" value=\"true\""),
        "{reader}"
    );
    let editor = junit_case(&junit, "install/editor");
    assert!(
        editor.contains("name=\"goldsmith.installer-code\" value=\"0\"")
            && !editor.contains("<failure"),
        "{editor}"
    );
}
