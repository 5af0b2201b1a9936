//! Windows updates and restarts on the simulated Azure: `kind: windows-update`
//! rounds with goldsmith restarting the VM between them, what a failed
//! update, an exclusion and a round limit do, and the restart goldsmith makes
//! before the next run-command after an installer's 3010.

mod common;

use common::{Project, events_of, junit_check, library_copy, op_status};

const VMS: &str = "vms:\n  - { resource_group: rg-images, name: vm1 }\n";

/// A project with one windows-update operation `updates` on vm1 (and `extra` lines in its
/// `windows_update:`), the config values it uses and the scenario text `scenario` after the VMs.
fn project(exclude: &str, extra: &str, scenario: &str) -> Project {
    let p = Project::new();
    p.file(
        "config.yaml",
        &format!(
            "azure:\n  resource_group: rg-images\nwindows_update:\n  categories: Security Updates, Critical Updates, Update Rollups, Definition Updates, Updates\n  exclude: \"{exclude}\"\n"
        ),
    );
    p.file(
        "capabilities/compute/operations/updates.yaml",
        &format!(
            "operation:\n  id: updates\n  kind: windows-update\n  target: {{ vm: vm1, resource_group: \"{{{{AZURE_RESOURCE_GROUP}}}}\" }}\n  timeout: 4h\n  windows_update:\n    categories: \"{{{{WINDOWS_UPDATE_CATEGORIES}}}}\"\n    exclude: \"{{{{WINDOWS_UPDATE_EXCLUDE}}}}\"\n{extra}"
        ),
    );
    p.file("modules/m/sim-scenario.yaml", &format!("{VMS}{scenario}"));
    p.module("m", "    - updates\n");
    p
}

fn run(p: &Project) -> common::Run {
    p.run(&["run", "m", "--simulate", "--sim-speed", "5000"])
}

/// The last attempt's outcome of `op`, from events.jsonl.
fn outcome(p: &Project, op: &str) -> serde_json::Value {
    let ev = p.events();
    events_of(&ev, "op_attempt_finished", op)
        .last()
        .expect("an attempt")["outcome"]
        .clone()
}

fn kbs(outcome: &serde_json::Value) -> Vec<String> {
    outcome["updates"]["updates"]
        .as_array()
        .expect("updates")
        .iter()
        .map(|u| format!("{}:{}", u["round"], u["kb"].as_str().expect("kb")))
        .collect()
}

/// The console's op lines that name `op` (not a log tail's), without their indent,
/// durations emptied (`[]`); waiting for a lock (which depends on timing) left out.
fn console_of(stdout: &str, op: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with("  ") && !l.trim_start().starts_with('|') && l.contains(op))
        .filter(|l| !l.trim_start().starts_with("WAIT "))
        .map(|l| {
            let l = l.trim_start();
            let l = l.split(" (waited ").next().unwrap_or(l);
            match (l.find(" ["), l.find("] ")) {
                (Some(a), Some(b)) if a < b => format!("{} []{}", &l[..a], &l[b + 1..]),
                _ => l.to_string(),
            }
        })
        .collect()
}

fn read(p: &Project, name: &str) -> String {
    std::fs::read_to_string(p.latest_run_dir().join(name)).expect(name)
}

#[test]
fn the_golden_image_installs_updates_in_rounds_with_a_restart() {
    let p = library_copy(&["00-resource-group", "01-networking", "05-golden-image"]);
    let r = p.run(&[
        "run",
        "05-golden-image",
        "--simulate",
        "--with-dependencies",
        "--sim-speed",
        "5000",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let o = outcome(&p, "install-windows-updates");
    assert_eq!(o["result"], "pass");
    assert_eq!(
        kbs(&o),
        [
            "1:KB5068861",
            "1:KB5066131",
            "1:KB2267602",
            "1:KB890830",
            "2:KB4052623"
        ]
    );
    assert_eq!(
        (&o["updates"]["rounds"], &o["updates"]["restarts"]),
        (&3.into(), &1.into())
    );
    assert_eq!(o["message"], "5 updates installed in 3 rounds, 1 restart");
    // The console follows the rounds as they end, and the pass says what they did.
    let console = console_of(&r.stdout, "install-windows-updates");
    assert_eq!(
        console,
        [
            "START  install-windows-updates",
            "...    install-windows-updates: round 1: 4 updates installed (KB5068861, KB5066131, KB2267602, KB890830), restart needed",
            "...    vm-avdbuild01 restarted before install-windows-updates round 2 (round 1 needed it)",
            "...    install-windows-updates: round 2: 1 update installed (KB4052623)",
            "...    install-windows-updates: round 3: no updates found",
            "PASS   install-windows-updates [] 5 updates installed in 3 rounds, 1 restart",
        ],
        "{}",
        r.stdout
    );
    // Each line is an event of events.jsonl too.
    let ev = p.events();
    let rounds = events_of(&ev, "update_round_finished", "install-windows-updates");
    assert_eq!(rounds.len(), 3);
    assert_eq!(rounds[0]["summary"]["found"], 4);
    assert_eq!(rounds[0]["summary"]["reboot_required"], true);
    assert_eq!(rounds[0]["updates"][3]["kb"], "KB890830");
    let restarts = events_of(&ev, "vm_restarted", "install-windows-updates");
    assert_eq!(restarts.len(), 1);
    assert_eq!(
        restarts[0],
        &serde_json::json!({
            "version": 2, "time": restarts[0]["time"], "type": "vm_restarted",
            "op": "install-windows-updates", "vm": "vm-avdbuild01", "round": 2,
            "restarted_by": "goldsmith",
            "cause": {"op": "install-windows-updates", "kind": "update-round", "round": 1}
        })
    );
    let log = read(&p, "logs/install-windows-updates.log");
    assert!(
        log.contains("round 1 of at most 5: 4 updates, Windows asks for a restart"),
        "{log}"
    );
    assert!(log.contains(
        "needs a restart (install-windows-updates: Windows Update round 1): restarting it first"
    ));
    assert!(log.contains("az vm restart --resource-group rg-avd-weu-001 --name vm-avdbuild01"));
    assert!(log.contains("round 3 of at most 5: 0 updates"));

    let summary = read(&p, "summary.md");
    assert!(
        summary.contains(
            "#### Windows updates of install-windows-updates\n\n5 updates installed in 3 rounds, 1 restart.\n"
        ),
        "{summary}"
    );
    assert!(summary.contains("| Round | KB | Title | Result |"));
    assert!(summary.contains(
        "| 2 | KB4052623 | Update for Microsoft Defender Antivirus antimalware platform"
    ));

    let Some(view) = junit_check(&[&p.latest_run_dir().join("junit.xml")]) else {
        return;
    };
    let cases = view["files"][0]["suites"][0]["cases"]
        .as_array()
        .expect("cases");
    let updates: Vec<&serde_json::Value> = cases
        .iter()
        .filter(|c| {
            c["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("install-windows-updates / "))
        })
        .collect();
    assert_eq!(updates.len(), 5, "{cases:?}");
    assert!(updates[0]["name"].as_str().expect("name").starts_with(
        "install-windows-updates / KB5068861 2025-11 Cumulative Update for Windows 11"
    ));
    assert!(
        updates
            .iter()
            .all(|c| c["result"].as_array().is_some_and(Vec::is_empty))
    );
    assert_eq!(updates[4]["properties"]["goldsmith.round"], "2");
}

#[test]
fn a_failed_update_fails_the_operation_with_its_hresult_name() {
    let scenario = "windows_updates:\n  - { kb: KB5068861, title: 2025-11 Cumulative Update, category: Security Updates, seconds: 1500, reboot: true }\n  - { kb: KB890830, title: Windows Malicious Software Removal Tool, category: Update Rollups, seconds: 120, result: failed, hresult: \"0x80240022\" }\n";
    let p = project("", "", scenario);
    let r = run(&p);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let s = p.state();
    assert_eq!(op_status(&s, "updates"), "failed");
    assert_eq!(s["ops"][0]["failure_class"], "update-failed");
    let o = outcome(&p, "updates");
    assert_eq!(
        o["message"],
        "update KB890830 (Windows Malicious Software Removal Tool) failed in round 1: 0x80240022 WU_E_ALL_UPDATES_FAILED"
    );
    assert_eq!(
        console_of(&r.stdout, "updates"),
        [
            "START  updates",
            "...    updates: round 1: 1 update installed (KB5068861), 1 update failed (KB890830 0x80240022 WU_E_ALL_UPDATES_FAILED), restart needed",
            "FAIL   updates [] update-failed: update KB890830 (Windows Malicious Software Removal Tool) failed in round 1: 0x80240022 WU_E_ALL_UPDATES_FAILED",
        ],
        "{}",
        r.stdout
    );
    let summary = read(&p, "summary.md");
    assert!(
        summary.contains("| 1 | KB890830 | Windows Malicious Software Removal Tool | failed: 0x80240022 WU_E_ALL_UPDATES_FAILED |"),
        "{summary}"
    );
    assert!(summary.contains("| 1 | KB5068861 | 2025-11 Cumulative Update | succeeded |"));
    let Some(view) = junit_check(&[&p.latest_run_dir().join("junit.xml")]) else {
        return;
    };
    let cases = view["files"][0]["suites"][0]["cases"]
        .as_array()
        .expect("cases");
    let failed = cases
        .iter()
        .find(|c| c["name"] == "updates / KB890830 Windows Malicious Software Removal Tool")
        .expect("a case for the failed update");
    assert_eq!(failed["result"][0]["kind"], "failure");
    assert_eq!(failed["result"][0]["type"], "update-failed");
    assert_eq!(
        failed["result"][0]["message"],
        "KB890830 failed in round 1: 0x80240022 WU_E_ALL_UPDATES_FAILED"
    );
    let op_case = cases
        .iter()
        .find(|c| c["name"] == "updates")
        .expect("op case");
    assert_eq!(op_case["result"][0]["type"], "update-failed");
}

#[test]
fn excluded_updates_and_other_categories_are_left_alone() {
    let p = project("KB5068861, Malicious Software", "", "");
    let r = run(&p);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let o = outcome(&p, "updates");
    // Neither the cumulative update (by KB) nor the MSRT (by title) is installed;
    // the .NET update still asks for a restart, after which the platform update appears.
    assert_eq!(kbs(&o), ["1:KB5066131", "1:KB2267602", "2:KB4052623"]);

    // Categories choose too: only definition updates.
    let p = project("", "", "");
    p.file(
        "config.yaml",
        "azure:\n  resource_group: rg-images\nwindows_update:\n  categories: Definition Updates\n  exclude: \"\"\n",
    );
    assert_eq!(run(&p).code, 0);
    let o = outcome(&p, "updates");
    assert_eq!(kbs(&o), ["1:KB2267602"]);
    assert_eq!(o["updates"]["restarts"], 0);
}

#[test]
fn updates_left_after_max_rounds_pass_with_a_warning() {
    let scenario = "windows_updates:\n  - { kb: KB1, title: first, category: Updates, seconds: 60, reboot: true }\n  - { kb: KB2, title: second, category: Updates, seconds: 60, reboot: true, after_restarts: 1 }\n  - { kb: KB3, title: third, category: Updates, seconds: 60, reboot: true, after_restarts: 2 }\n";
    let p = project("", "    max_rounds: 2\n", scenario);
    let r = run(&p);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let o = outcome(&p, "updates");
    assert_eq!(o["result"], "pass");
    assert_eq!(kbs(&o), ["1:KB1", "2:KB2"]);
    let warnings = o["warnings"].to_string();
    assert!(
        warnings.contains("still found updates in round 2, the last one `max_rounds` allows"),
        "{warnings}"
    );
    // The last round asked for a restart nobody made: the note stays a warning.
    assert_eq!(o["reboot_required"], true);
    let summary = read(&p, "summary.md");
    assert!(
        summary.contains("reboot required (no later step on the VM: restart it before capturing)"),
        "{summary}"
    );
}

#[test]
fn max_rounds_is_a_literal_between_1_and_10() {
    let p = project("", "    max_rounds: 11\n", "");
    let r = p.run(&["validate"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "capabilities/compute/operations/updates.yaml:9:17: error: `windows_update.max_rounds` is 11, over 10"
        ),
        "{}",
        r.stderr
    );
}

/// A run-command operation on vm1 whose simulated run prints `directives`.
fn vm_op(p: &Project, id: &str, directives: &str) {
    p.file(
        &format!("capabilities/compute/operations/{id}.yaml"),
        &format!(
            "operation:\n  id: {id}\n  kind: run-command\n  target: {{ vm: vm1, resource_group: \"{{{{AZURE_RESOURCE_GROUP}}}}\" }}\n  powershell:\n    content: |\n      # goldsmith-sim: {directives}\n      Write-Output done\n"
        ),
    );
}

#[test]
fn after_a_3010_the_next_run_command_on_the_vm_restarts_it_first() {
    let p = Project::new();
    p.file("config.yaml", "azure:\n  resource_group: rg-images\n");
    p.file("modules/m/sim-scenario.yaml", VMS);
    vm_op(&p, "apps", "msi=adobe-acrobat-reader:3010:30s");
    vm_op(&p, "settings", "duration=20s");
    p.module("m", "    - apps\n    - settings\n");
    let r = run(&p);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let log = read(&p, "logs/settings.log");
    assert!(
        log.contains(
            "vm1 needs a restart (apps: adobe-acrobat-reader returned 3010): restarting it first"
        ),
        "{log}"
    );
    assert!(log.contains("az vm restart --resource-group rg-images --name vm1 --output none"));
    assert!(log.contains("the VM agent is ready"));
    assert_eq!(outcome(&p, "settings")["restarted_for"], "apps");
    assert!(
        r.stdout.contains(
            "  ...    vm1 restarted before settings (apps: adobe-acrobat-reader returned 3010)\n"
        ),
        "{}",
        r.stdout
    );
    let ev = p.events();
    let restarted = events_of(&ev, "vm_restarted", "settings");
    assert_eq!(restarted.len(), 1);
    assert_eq!(restarted[0]["restarted_by"], "goldsmith");
    assert_eq!(
        restarted[0]["cause"],
        serde_json::json!({"op": "apps", "kind": "installers", "installs": [{"name": "adobe-acrobat-reader", "code": 3010}]})
    );
    assert_eq!(outcome(&p, "apps")["reboot_required"], true);
    let summary = read(&p, "summary.md");
    assert!(
        summary.contains("reboot required (goldsmith restarted the VM before settings)"),
        "{summary}"
    );
    // The simulated VM really restarted: az vm restart reached it.
    let calls =
        std::fs::read_to_string(p.latest_run_dir().join("sim/calls.jsonl")).unwrap_or_default();
    assert!(calls.contains("\"restart\""), "{calls}");

    // Without a later step on the VM, nobody restarts it and the note says so.
    let p2 = Project::new();
    p2.file("config.yaml", "azure:\n  resource_group: rg-images\n");
    p2.file("modules/m/sim-scenario.yaml", VMS);
    vm_op(&p2, "apps", "msi=adobe-acrobat-reader:3010:30s");
    p2.module("m", "    - apps\n");
    assert_eq!(run(&p2).code, 0);
    let summary = read(&p2, "summary.md");
    assert!(
        summary.contains("reboot required (no later step on the VM: restart it before capturing)")
    );
}

#[test]
fn after_a_1641_the_console_says_an_installer_restarted_the_vm() {
    let p = Project::new();
    p.file("config.yaml", "azure:\n  resource_group: rg-images\n");
    p.file("modules/m/sim-scenario.yaml", VMS);
    vm_op(&p, "apps", "msi=teams:1641:30s");
    vm_op(&p, "settings", "duration=20s");
    p.module("m", "    - apps\n    - settings\n");
    let r = run(&p);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(
            "  ...    vm1 restarted by an installer, back before settings (apps: teams returned 1641)\n"
        ),
        "{}",
        r.stdout
    );
    let ev = p.events();
    let restarted = events_of(&ev, "vm_restarted", "settings");
    assert_eq!(restarted[0]["restarted_by"], "installer");
    // goldsmith did not restart it: the attempt is not `restarted_for` anything.
    assert!(outcome(&p, "settings").get("restarted_for").is_none());
}
