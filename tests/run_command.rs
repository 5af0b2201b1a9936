//! run-command operations on the simulated Azure: the truth about the script,
//! one run-command per VM, classified retries, installer codes, injection.

mod common;

use common::{Project, events_of, op_status, time_of};

/// A run-command operation on `vm` whose PowerShell is `body`.
fn vm_op(p: &Project, id: &str, vm: &str, extra: &str, body: &str) {
    let body: String = body.lines().map(|l| format!("      {l}\n")).collect();
    let extra: String = extra.lines().map(|l| format!("  {l}\n")).collect();
    p.file(
        &format!("capabilities/compute/operations/{id}.yaml"),
        &format!(
            "operation:\n  id: {id}\n  kind: run-command\n  target: {{ vm: \"{vm}\", resource_group: \"{{{{AZURE_RESOURCE_GROUP}}}}\" }}\n{extra}  powershell:\n    content: |\n{body}"
        ),
    );
}

/// The VMs these tests run commands on. Nothing exists in the simulated Azure
/// that was not declared or created: the test module's own
/// `sim-scenario.yaml` declares them.
const VMS: &str = "vms:\n  - { resource_group: rg-images, name: vm1 }\n  - { resource_group: rg-images, name: vm-a }\n  - { resource_group: rg-images, name: vm-b }\n  - { resource_group: rg-images, name: gm-temp-vm }\n";

fn project() -> Project {
    let p = Project::new();
    p.file("config.yaml", "azure:\n  resource_group: rg-images\n");
    p.file("modules/m/sim-scenario.yaml", VMS);
    p
}

const FAST: [&str; 3] = ["--simulate", "--sim-speed", "400"];

fn run(p: &Project, extra: &[&str]) -> common::Run {
    let mut args = vec!["run", "m"];
    args.extend(FAST);
    args.extend(extra);
    p.run(&args)
}

#[test]
fn a_script_that_exits_1_in_the_vm_fails_though_az_succeeded() {
    let p = project();
    vm_op(
        &p,
        "fails",
        "vm1",
        "",
        "# goldsmith-sim: exit=1 stderr=boom\nthrow 'boom'",
    );
    p.module("m", "    - fails\n");
    let r = run(&p, &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let s = p.state();
    assert_eq!(op_status(&s, "fails"), "failed");
    assert_eq!(s["ops"][0]["failure_class"], "script-exit");
    let json = std::fs::read_to_string(p.latest_run_dir().join("outputs/fails.json"))
        .expect("az output kept");
    assert!(json.contains("ComponentStatus/StdOut/succeeded"), "{json}");
    assert!(
        r.stdout.contains("the script exited with 1 inside the VM"),
        "{}",
        r.stdout
    );
}

#[test]
fn output_cut_without_a_marker_fails_with_no_exit_marker() {
    let p = project();
    vm_op(
        &p,
        "cut",
        "vm1",
        "",
        "# goldsmith-sim: stdout-bytes=20000 no-marker\nWrite-Output lots",
    );
    p.module("m", "    - cut\n");
    assert_eq!(run(&p, &[]).code, 1);
    let s = p.state();
    assert_eq!(s["ops"][0]["failure_class"], "no-exit-marker");
    assert!(
        s["ops"][0]["reason"]
            .as_str()
            .expect("reason")
            .contains("4,096-byte tail")
    );
}

#[test]
fn two_ops_on_one_vm_take_turns_while_another_vm_overlaps() {
    let p = project();
    vm_op(
        &p,
        "a1",
        "vm-a",
        "",
        "# goldsmith-sim: duration=60s\nWrite-Output a1",
    );
    vm_op(
        &p,
        "a2",
        "VM-A",
        "",
        "# goldsmith-sim: duration=60s\nWrite-Output a2",
    );
    vm_op(
        &p,
        "b",
        "vm-b",
        "",
        "# goldsmith-sim: duration=90s\nWrite-Output b",
    );
    p.module("m", "    - { id: a1, parallel_group: 1 }\n    - { id: a2, parallel_group: 1 }\n    - { id: b, parallel_group: 1 }\n");
    let v = p.run(&["validate"]);
    assert!(
        v.stderr.contains("warning: a1 and a2 both run on VM vm-a in parallel group 1; goldsmith will run them one at a time. One install-apps operation downloads in parallel instead."),
        "{}",
        v.stderr
    );
    assert_eq!(p.run(&["validate", "--strict"]).code, 2);
    let r = run(&p, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let ev = p.events();
    let start = |op| time_of(events_of(&ev, "op_started", op)[0]);
    let end = |op| time_of(events_of(&ev, "op_finished", op)[0]);
    assert!(
        start("a2") >= end("a1"),
        "two run-commands on one VM overlapped"
    );
    assert!(start("b") < end("a1"), "the other VM's op waited");
    for op in ["a1", "a2", "b"] {
        assert_eq!(
            events_of(&ev, "op_attempt_finished", op).len(),
            1,
            "{op} needed a retry"
        );
    }
    let wait = &events_of(&ev, "lock_wait", "a2")[0];
    assert_eq!(wait["lock"], "vm:rg-images/vm-a");
    assert_eq!(wait["holder"], "a1");
    assert!(
        r.stdout
            .contains("WAIT   a2: waiting for lock vm:rg-images/vm-a (held by a1)"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_run_command_held_from_outside_is_retried_until_it_succeeds() {
    let p = project();
    vm_op(&p, "configure", "vm1", "", "Write-Output configured");
    p.module("m", "    - configure\n");
    p.file(
        "scenario.yaml",
        &format!(
            "{VMS}faults:\n  - vm: {{ resource_group: rg-images, name: vm1 }}\n    busy_for: 120s\n"
        ),
    );
    let scenario = p.root().join("scenario.yaml");
    let r = run(&p, &["--sim-scenario", scenario.to_str().expect("utf8")]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let ev = p.events();
    let attempts = events_of(&ev, "op_attempt_finished", "configure");
    assert!(attempts.len() >= 2, "no retry happened");
    assert_eq!(
        attempts[0]["outcome"]["failure_class"],
        "run-command-conflict"
    );
    assert!(attempts[0]["retry_in"].as_f64().is_some());
    assert_eq!(
        attempts.last().expect("attempt")["outcome"]["result"],
        "pass"
    );
}

#[test]
fn a_stopped_vm_fails_at_once_without_retry() {
    let p = project();
    vm_op(&p, "configure", "vm1", "", "Write-Output hi");
    p.module("m", "    - configure\n");
    p.file(
        "scenario.yaml",
        "vms:\n  - { resource_group: rg-images, name: vm1, power_state: deallocated }\n",
    );
    let scenario = p.root().join("scenario.yaml");
    assert_eq!(
        run(&p, &["--sim-scenario", scenario.to_str().expect("utf8")]).code,
        1
    );
    let ev = p.events();
    let attempts = events_of(&ev, "op_attempt_finished", "configure");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["outcome"]["failure_class"], "vm-not-running");
}

#[test]
fn a_busy_installer_is_retried_and_3010_records_reboot_required() {
    let p = project();
    vm_op(
        &p,
        "install",
        "vm1",
        "",
        "# goldsmith-sim: msi=chrome:3010:30s\nStart-Process msiexec -Wait",
    );
    p.module("m", "    - install\n");
    p.file(
        "scenario.yaml",
        &format!(
            "{VMS}faults:\n  - vm: {{ resource_group: rg-images, name: vm1 }}\n    installer_busy_for: 60s\n"
        ),
    );
    let scenario = p.root().join("scenario.yaml");
    let r = run(&p, &["--sim-scenario", scenario.to_str().expect("utf8")]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let ev = p.events();
    let attempts = events_of(&ev, "op_attempt_finished", "install");
    assert!(attempts.len() >= 2);
    assert_eq!(attempts[0]["outcome"]["failure_class"], "msi-busy");
    let last = &attempts.last().expect("attempt")["outcome"];
    assert_eq!(last["result"], "pass");
    assert_eq!(last["reboot_required"], true);
    assert_eq!(
        last["installs"][0]["meaning"],
        "ERROR_SUCCESS_REBOOT_REQUIRED"
    );
}

#[test]
fn hostile_config_values_stay_literals_in_the_powershell() {
    let p = Project::new();
    let hostile = "x'; Remove-Item C:\\ -Recurse #\u{2019}; $(calc) `n \"q\" @'\n'@";
    p.file(
        "config.yaml",
        &format!(
            "azure:\n  resource_group: rg\napp:\n  name: {}\n",
            serde_json::to_string(hostile).expect("json")
        ),
    );
    vm_op(
        &p,
        "hello",
        "vm1",
        "",
        "Write-Output \"Hello {{APP_NAME}}\"\nNew-Item -Path C:\\apps\\{{APP_NAME}} -Force",
    );
    p.module("m", "    - hello\n");
    p.file(
        "modules/m/sim-scenario.yaml",
        "vms:\n  - { resource_group: rg, name: vm1 }\n",
    );
    assert_eq!(run(&p, &[]).code, 0);
    let script =
        std::fs::read_to_string(p.latest_run_dir().join("scripts/hello.ps1")).expect("script");
    assert!(
        script.contains("Write-Output \"Hello ${env:APP_NAME}\""),
        "{script}"
    );
    let literal = "${env:APP_NAME} = 'x''; Remove-Item C:\\ -Recurse #\u{2019}\u{2019}; $(calc) `n \"q\" @''\n''@'";
    assert!(script.contains(literal), "{script}");
}

#[test]
fn powershell_syntax_errors_and_single_quoted_placeholders_are_reported_by_validate() {
    let p = project();
    vm_op(
        &p,
        "broken",
        "vm1",
        "",
        "Write-Output 'ok'\nif ($a -eq 1 {\n  Write-Output x\n}",
    );
    vm_op(
        &p,
        "quoted",
        "vm1",
        "",
        "Write-Output '{{AZURE_RESOURCE_GROUP}}'",
    );
    p.module("m", "    - broken\n    - quoted\n");
    let r = p.run(&["validate"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "capabilities/compute/operations/broken.yaml:8:7: error: PowerShell syntax error"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("error: PowerShell syntax error"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("capabilities/compute/operations/quoted.yaml:7:21: error: `{{AZURE_RESOURCE_GROUP}}` inside a single-quoted PowerShell string is never expanded"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_bash_engine_shell_op_calling_run_command_gets_the_vm_lock() {
    let p = Project::new();
    p.file(
        "config.yaml",
        "azure:\n  resource_group: rg-images\ngolden_image:\n  temp_vm_name: gm-temp-vm\n",
    );
    p.file("modules/m/sim-scenario.yaml", VMS);
    p.shell_op(
        "legacy",
        "",
        "az vm run-command invoke \\\n  --resource-group \"{{AZURE_RESOURCE_GROUP}}\" \\\n  --name \"$GOLDEN_IMAGE_TEMP_VM_NAME\" \\\n  --command-id RunPowerShellScript --scripts 'Write-Output hi'",
    );
    vm_op(
        &p,
        "modern",
        "{{GOLDEN_IMAGE_TEMP_VM_NAME}}",
        "",
        "Write-Output hi",
    );
    p.module(
        "m",
        "    - { id: legacy, parallel_group: 1 }\n    - { id: modern, parallel_group: 1 }\n",
    );
    let r = p.run(&["validate"]);
    assert!(r.stderr.contains("note: `legacy` calls `az vm run-command invoke`: holding lock `vm:rg-images/gm-temp-vm`"), "{}", r.stderr);
    let r = run(&p, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let ev = p.events();
    assert!(
        time_of(events_of(&ev, "op_started", "modern")[0])
            >= time_of(events_of(&ev, "op_finished", "legacy")[0])
    );
}

#[test]
fn install_apps_downloads_together_installs_each_when_downloaded_and_reports_each_app() {
    let p = project();
    let apps: String = ["chrome", "seven-zip", "notepad-plus", "vlc", "adobe-reader"]
        .iter()
        .map(|a| format!("    - {{ name: {a}, type: msi, url: \"https://downloads.example.com/{a}.msi\", args: \"/qn /norestart\" }}\n"))
        .collect();
    p.file(
        "capabilities/compute/operations/install.yaml",
        &format!("operation:\n  id: install\n  kind: install-apps\n  target: {{ vm: vm1, resource_group: \"{{{{AZURE_RESOURCE_GROUP}}}}\" }}\n  download_parallelism: 3\n  apps:\n{apps}"),
    );
    p.module("m", "    - install\n");
    let r = run(&p, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let run_dir = p.latest_run_dir();

    let ev = p.events();
    let outcome = &events_of(&ev, "op_attempt_finished", "install")[0]["outcome"];
    assert_eq!(
        outcome["apps"].as_array().expect("apps").len(),
        10,
        "{outcome}"
    );
    assert_eq!(outcome["installs"].as_array().expect("installs").len(), 5);

    // The simulated timeline: downloads overlap, installs never do.
    let timeline: Vec<serde_json::Value> =
        std::fs::read_to_string(run_dir.join("sim/timeline.jsonl"))
            .expect("timeline")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
    let spans = |phase: &str| -> Vec<(f64, f64)> {
        timeline
            .iter()
            .filter(|t| t["phase"] == phase)
            .map(|t| {
                (
                    t["start"].as_f64().expect("start"),
                    t["end"].as_f64().expect("end"),
                )
            })
            .collect()
    };
    let (downloads, installs) = (spans("download"), spans("install"));
    assert_eq!((downloads.len(), installs.len()), (5, 5));
    let overlaps = |a: (f64, f64), b: (f64, f64)| a.0 < b.1 && b.0 < a.1;
    assert!(
        overlaps(downloads[0], downloads[1]) && overlaps(downloads[0], downloads[2]),
        "{downloads:?}"
    );
    for (i, a) in installs.iter().enumerate() {
        for b in &installs[i + 1..] {
            assert!(!overlaps(*a, *b), "installs overlapped: {installs:?}");
        }
    }
    // Each app installs once its own download is done, the first while the
    // last two still download (three slots, five apps).
    let span_of = |app: &str, phase: &str| {
        let t = timeline
            .iter()
            .find(|t| t["app"] == app && t["phase"] == phase)
            .expect("a phase");
        (
            t["start"].as_f64().expect("start"),
            t["end"].as_f64().expect("end"),
        )
    };
    for app in ["chrome", "seven-zip", "notepad-plus", "vlc", "adobe-reader"] {
        assert!(
            span_of(app, "install").0 >= span_of(app, "download").1,
            "{timeline:?}"
        );
    }
    let last_download = downloads.iter().map(|d| d.1).fold(0.0, f64::max);
    let first_install = installs.iter().map(|i| i.0).fold(f64::MAX, f64::min);
    assert!(first_install < last_download, "{timeline:?}");

    // Each app is a JUnit case of its own; the summary shows the times.
    let junit = std::fs::read_to_string(run_dir.join("junit.xml")).expect("junit");
    for app in ["chrome", "seven-zip", "notepad-plus", "vlc", "adobe-reader"] {
        assert!(
            junit.contains(&format!("name=\"install/{app}\"")),
            "{junit}"
        );
    }
    let summary = std::fs::read_to_string(run_dir.join("summary.md")).expect("summary");
    assert!(summary.contains("| chrome | 20s | "), "{summary}");
}

#[test]
fn the_modules_own_scenario_declares_its_vms_and_an_explicit_one_replaces_it() {
    let p = project();
    vm_op(&p, "hello", "vm1", "", "Write-Output hi");
    p.module("m", "    - hello\n");
    p.file(
        "modules/m/sim-scenario.yaml",
        &format!("notice: vm1 stands in for the image builder's VM\n{VMS}"),
    );
    let r = run(&p, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .starts_with("goldsmith: simulated Azure: vm1 stands in for the image builder's VM\n"),
        "{}",
        r.stdout
    );

    // Given explicitly, a scenario replaces the module's: vm1 was never made.
    p.file(
        "other.yaml",
        "exists:\n  - az group create -n rg-images -l westeurope\n",
    );
    let other = p.root().join("other.yaml");
    let r = run(&p, &["--sim-scenario", other.to_str().expect("utf8")]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("stands in"), "{}", r.stdout);
    let ev = p.events();
    let attempts = events_of(&ev, "op_attempt_finished", "hello");
    assert_eq!(attempts.len(), 1, "a missing VM is not retried");
    assert_eq!(attempts[0]["outcome"]["failure_class"], "not-found");
    let log = std::fs::read_to_string(p.latest_run_dir().join("logs/hello.log")).expect("log");
    assert!(
        log.contains("(ResourceNotFound) The Resource 'Microsoft.Compute/virtualMachines/vm1' under resource group 'rg-images' was not found."),
        "{log}"
    );

    // A module scenario that does not parse stops the run before anything runs.
    p.file("modules/m/sim-scenario.yaml", "exists:\n  - az nonsense\n");
    let r = run(&p, &[]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("sim-scenario.yaml:2:5: exists #1: `nonsense` is not a command"),
        "{}",
        r.stderr
    );
}
