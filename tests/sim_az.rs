//! The simulated Azure CLI as a real process: a temp dir with a link named
//! `az` to the goldsmith binary, the sim environment variables, and outputs
//! compared byte for byte with what the real az 2.91.0 printed
//! (`shared/reference/az-fixtures`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const RG: &str = "gm-temp-rg";
const VM: &str = "gm-temp-vm";
/// What goldsmith's wrapper ends a run-command script with.
const MARKER_LINE: &str = "Write-Output \"##goldsmith-exit:$LASTEXITCODE\"";

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/reference/az-fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

fn fixture_exit(case: &str) -> i32 {
    String::from_utf8(fixture(&format!("{case}.exitcode")))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

struct Sim {
    dir: tempfile::TempDir,
    scenario: Option<PathBuf>,
    speed: &'static str,
}

impl Sim {
    fn new() -> Sim {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sim/bin")).unwrap();
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_goldsmith"),
            dir.path().join("sim/bin/az"),
        )
        .unwrap();
        Sim {
            dir,
            scenario: None,
            speed: "1000",
        }
    }

    fn with_scenario(yaml: &str) -> Sim {
        let mut sim = Sim::new();
        let path = sim.dir.path().join("scenario.yaml");
        std::fs::write(&path, yaml).unwrap();
        sim.scenario = Some(path);
        sim
    }

    fn command(&self, op: &str, attempt: u32, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.dir.path().join("sim/bin/az"));
        cmd.args(args)
            .env("GOLDSMITH_SIM_DIR", self.dir.path().join("sim"))
            .env("GOLDSMITH_SIM_SPEED", self.speed)
            .env("GOLDSMITH_OP", op)
            .env("GOLDSMITH_ATTEMPT", attempt.to_string())
            .env_remove("GOLDSMITH_SIM_SCENARIO")
            .env_remove("AZURE_SUBSCRIPTION_ID")
            .stdin(Stdio::null());
        if let Some(s) = &self.scenario {
            cmd.env("GOLDSMITH_SIM_SCENARIO", s);
        }
        cmd
    }

    fn az(&self, args: &[&str]) -> Output {
        self.az_as("op", 1, args)
    }

    fn az_as(&self, op: &str, attempt: u32, args: &[&str]) -> Output {
        self.command(op, attempt, args).output().unwrap()
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command("op", 1, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn state(&self) -> Option<Value> {
        let bytes = std::fs::read(self.dir.path().join("sim/state.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

fn invoke_args<'a>(scripts: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "vm",
        "run-command",
        "invoke",
        "-g",
        RG,
        "-n",
        VM,
        "--command-id",
        "RunPowerShellScript",
        "--scripts",
    ];
    args.extend_from_slice(scripts);
    args
}

fn hello_args() -> Vec<&'static str> {
    let mut args = invoke_args(&["# goldsmith-sim: stdout=hello", MARKER_LINE]);
    args.extend(["--output", "json"]);
    args
}

#[track_caller]
fn assert_case(out: &Output, case: &str) {
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&fixture(&format!("{case}.stderr"))),
        "stderr of {case}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&fixture(&format!("{case}.stdout"))),
        "stdout of {case}"
    );
    assert_eq!(
        out.status.code(),
        Some(fixture_exit(case)),
        "exit code of {case}"
    );
}

fn stdout_json(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn message(out: &Output) -> String {
    stdout_json(out)["value"][0]["message"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn windows_success_is_byte_identical() {
    let sim = Sim::new();
    assert_case(&sim.az(&hello_args()), "a_windows_success");
    let without_output = invoke_args(&["# goldsmith-sim: stdout=hello", MARKER_LINE]);
    assert_case(
        &sim.az(&without_output),
        "a4_windows_success_default_output",
    );
    let mut tsv = invoke_args(&["# goldsmith-sim: stdout=hello", MARKER_LINE]);
    tsv.extend(["--query", "value[0].message", "--output", "tsv"]);
    assert_case(&sim.az(&tsv), "a3_windows_success_query_tsv");
}

#[test]
fn linux_success_is_byte_identical() {
    let sim = Sim::new();
    let out = sim.az(&[
        "vm",
        "run-command",
        "invoke",
        "-g",
        RG,
        "-n",
        VM,
        "--command-id",
        "RunShellScript",
        "--scripts",
        "# goldsmith-sim: stdout=hello",
        "echo \"##goldsmith-exit:$?\"",
        "--output",
        "json",
    ]);
    assert_case(&out, "a2_linux_success");
}

#[test]
fn the_script_exit_code_is_not_propagated() {
    let sim = Sim::new();
    let out = sim.az(&invoke_args(&[
        "# goldsmith-sim: exit=1 stderr=boom",
        MARKER_LINE,
    ]));
    let v = stdout_json(&out);
    assert_eq!(v["value"][0]["message"], "##goldsmith-exit:1");
    assert_eq!(v["value"][1]["code"], "ComponentStatus/StdErr/succeeded");
    assert_eq!(v["value"][1]["message"], "boom");
    let out = sim.az(&invoke_args(&["# goldsmith-sim: no-marker", MARKER_LINE]));
    assert_eq!(message(&out), "");
}

#[test]
fn busy_vm_gives_the_conflict() {
    let sim = Sim::with_scenario(&format!(
        "faults:\n  - vm: {{ resource_group: {RG}, name: {VM} }}\n    busy_for: 1h\n"
    ));
    assert_case(&sim.az(&hello_args()), "b_conflict_in_progress");
}

#[test]
fn stopped_vm_is_not_running() {
    let sim = Sim::with_scenario(&format!(
        "vms:\n  - {{ resource_group: {RG}, name: {VM}, power_state: deallocated }}\n"
    ));
    assert_case(&sim.az(&hello_args()), "c_vm_not_running");
}

#[test]
fn agent_not_ready_names_the_vm() {
    let sim = Sim::with_scenario(&format!(
        "faults:\n  - vm: {{ resource_group: {RG}, name: {VM} }}\n    agent_not_ready_for: 1h\n"
    ));
    assert_case(&sim.az(&hello_args()), "d_agent_status_failed");
}

#[test]
fn missing_vm_is_not_found_with_exit_3() {
    let sim = Sim::with_scenario(&format!(
        "missing_vms:\n  - {{ resource_group: {RG}, name: {VM} }}\n"
    ));
    assert_case(&sim.az(&hello_args()), "f_vm_not_found");
}

#[test]
fn throttling_beyond_azs_retries_fails_like_e2() {
    let sim = Sim::with_scenario(
        "faults:\n  - throttle: { command: vm run-command invoke, times: 10, retry_after: 2s }\n",
    );
    assert_case(&sim.az(&hello_args()), "e2_throttled_always");
    // 4 requests (1 + 3 silent retries) were spent on that call.
    assert_eq!(sim.state().unwrap()["throttle_used"][0], 4);
}

#[test]
fn throttling_within_azs_retries_succeeds_like_e() {
    let sim = Sim::with_scenario(
        "faults:\n  - throttle: { command: vm run-command invoke, times: 2, retry_after: 2s }\n",
    );
    assert_case(&sim.az(&hello_args()), "e_throttled_then_success");
}

#[test]
fn faults_follow_the_callers_attempt() {
    let sim = Sim::with_scenario(
        "faults:\n  - op: install-apps\n    command: vm run-command invoke\n    attempts: 1\n    class: run-command-conflict\n",
    );
    assert_case(
        &sim.az_as("install-apps", 1, &hello_args()),
        "b_conflict_in_progress",
    );
    assert_case(
        &sim.az_as("install-apps", 2, &hello_args()),
        "a_windows_success",
    );
    assert_case(
        &sim.az_as("other-op", 1, &hello_args()),
        "a_windows_success",
    );
}

#[test]
fn two_invokes_on_one_vm_conflict() {
    let sim = Sim::new();
    let first = sim.spawn(&invoke_args(&[
        "# goldsmith-sim: duration=1h stdout=first",
        MARKER_LINE,
    ]));
    // The first holds the VM's slot once the state says so; it then sleeps
    // 3.6 s of real time, long enough for the second to be refused.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let held = sim.state().is_some_and(|s| {
            s["vms"]
                .as_object()
                .is_some_and(|vms| vms.values().any(|vm| !vm["run_command"].is_null()))
        });
        if held {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first invoke never took the slot"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_case(&sim.az(&hello_args()), "b_conflict_in_progress");
    let first = first.wait_with_output().unwrap();
    assert_eq!(message(&first), "first\n##goldsmith-exit:0");
    assert!(first.stderr.is_empty());
}

#[test]
fn output_keeps_the_last_4096_bytes() {
    let sim = Sim::new();
    let out = sim.az(&invoke_args(&[
        "# goldsmith-sim: stdout=start stdout-bytes=10000",
        MARKER_LINE,
    ]));
    let m = message(&out);
    assert_eq!(m.len(), 4096);
    assert!(m.ends_with("\n##goldsmith-exit:0"), "{m}");
    assert!(!m.contains("start"));
}

#[test]
fn msi_reports_1618_while_the_installer_is_busy() {
    let script = ["# goldsmith-sim: msi=7zip:0:30s msi=vlc:3010", MARKER_LINE];
    let sim = Sim::with_scenario(&format!(
        "faults:\n  - vm: {{ resource_group: {RG}, name: {VM} }}\n    installer_busy_for: 1h\n"
    ));
    assert_eq!(
        message(&sim.az(&invoke_args(&script))),
        "##goldsmith-msi:7zip:1618\n##goldsmith-msi:vlc:1618\n##goldsmith-exit:0"
    );
    let free = Sim::new();
    assert_eq!(
        message(&free.az(&invoke_args(&script))),
        "##goldsmith-msi:7zip:0\n##goldsmith-msi:vlc:3010\n##goldsmith-exit:0"
    );
}

#[test]
fn group_create_then_show() {
    let sim = Sim::new();
    let created = stdout_json(&sim.az(&["group", "create", "-n", "rg1", "-l", "northeurope"]));
    assert_eq!(
        created["id"],
        "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg1"
    );
    assert_eq!(created["properties"]["provisioningState"], "Succeeded");
    let shown = sim.az(&["group", "show", "--name", "rg1"]);
    assert_eq!(stdout_json(&shown), created);
    let out = sim.az(&["group", "show", "-g", "rg2"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ERROR: (ResourceGroupNotFound) Resource group 'rg2' could not be found.\n\
         Code: ResourceGroupNotFound\n\
         Message: Resource group 'rg2' could not be found.\n"
    );
    let exists = sim.az(&["group", "exists", "-n", "rg1"]);
    assert_eq!(String::from_utf8_lossy(&exists.stdout), "true\n");
    let exists = sim.az(&["group", "exists", "-n", "rg2", "-o", "tsv"]);
    assert_eq!(String::from_utf8_lossy(&exists.stdout), "false\n");
}

#[test]
fn unknown_command_is_a_usage_error() {
    let sim = Sim::new();
    let out = sim.az(&["frobnicate", "now"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("ERROR: 'frobnicate' is misspelled or not recognized by the system.\n"),
        "{stderr}"
    );
    let out = sim.az(&["grup", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Did you mean 'group' ?"));
}

#[test]
fn missing_command_id_is_byte_identical() {
    let sim = Sim::new();
    let out = sim.az(&[
        "vm",
        "run-command",
        "invoke",
        "-g",
        RG,
        "-n",
        VM,
        "--scripts",
        "Write-Output hello",
        "--output",
        "json",
    ]);
    assert_case(&out, "j_missing_command_id");
}

#[test]
fn outside_goldsmith_it_says_so() {
    let out = Command::new(Sim::new().dir.path().join("sim/bin/az"))
        .args(["account", "show"])
        .env_remove("GOLDSMITH_SIM_DIR")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("ERROR: ") && stderr.contains("goldsmith run --simulate"));
    assert_eq!(stderr.lines().count(), 1);
}

#[test]
fn a_bad_scenario_names_file_and_line() {
    let sim = Sim::with_scenario("faults:\n  - op: x\n    klass: auth\n");
    let out = sim.az(&["account", "show"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("scenario.yaml:3:"), "{stderr}");
    assert!(stderr.contains("klass"), "{stderr}");
}

#[test]
fn a_bad_directive_names_the_script_line() {
    let sim = Sim::new();
    let out = sim.az(&invoke_args(&[
        "Write-Output hi",
        "# goldsmith-sim: durashun=5s",
    ]));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("ERROR: goldsmith-sim: script line 2: unknown directive `durashun`"),
        "{stderr}"
    );
}

#[test]
fn a_golden_image_build_end_to_end() {
    let mut sim = Sim::new();
    sim.speed = "20000";
    let ok = |args: &[&str]| {
        let out = sim.az(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "az {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(&["group", "create", "-n", "rg", "-l", "westeurope"]);
    let vnet: Value = serde_json::from_str(&ok(&[
        "network",
        "vnet",
        "create",
        "-g",
        "rg",
        "-n",
        "vnet",
        "--address-prefixes",
        "10.1.0.0/16",
        "--subnet-name",
        "snet",
        "--subnet-prefixes",
        "10.1.0.0/24",
    ]))
    .unwrap();
    assert_eq!(
        vnet["newVNet"]["subnets"][0]["addressPrefix"],
        "10.1.0.0/24"
    );
    let vm_out: Value = serde_json::from_str(&ok(&[
        "vm",
        "create",
        "-g",
        "rg",
        "-n",
        "build-vm",
        "--image",
        "MicrosoftWindowsDesktop:office-365:win11-23h2-avd-m365:latest",
        "--vnet-name",
        "vnet",
        "--subnet",
        "snet",
        "--public-ip-address",
        "",
        "--nsg",
        "",
        "--admin-username",
        "azureuser",
    ]))
    .unwrap();
    assert_eq!(vm_out["powerState"], "VM running");
    assert_eq!(vm_out["privateIpAddress"], "10.0.0.4");
    assert_eq!(vm_out["publicIpAddress"], "");
    let code = ok(&[
        "vm",
        "run-command",
        "invoke",
        "-g",
        "rg",
        "-n",
        "build-vm",
        "--command-id",
        "RunPowerShellScript",
        "--scripts",
        "# goldsmith-sim: msi=app:0",
        "--query",
        "value[0].code",
        "-o",
        "tsv",
    ]);
    assert_eq!(code, "ComponentStatus/StdOut/succeeded\n");
    ok(&[
        "vm",
        "run-command",
        "invoke",
        "-g",
        "rg",
        "-n",
        "build-vm",
        "--command-id",
        "RunPowerShellScript",
        "--scripts",
        "# goldsmith-sim: power=stopped duration=2m",
    ]);
    ok(&[
        "vm",
        "wait",
        "-g",
        "rg",
        "-n",
        "build-vm",
        "--custom",
        "instanceView.statuses[?code=='PowerState/stopped']",
    ]);
    ok(&["vm", "deallocate", "-g", "rg", "-n", "build-vm"]);
    ok(&["vm", "generalize", "-g", "rg", "-n", "build-vm"]);
    let power = ok(&[
        "vm",
        "get-instance-view",
        "-g",
        "rg",
        "-n",
        "build-vm",
        "--query",
        "instanceView.statuses[].code",
        "-o",
        "tsv",
    ]);
    assert_eq!(
        power,
        "ProvisioningState/succeeded\nPowerState/deallocated\nOSState/generalized\n"
    );
    ok(&["sig", "create", "-g", "rg", "-r", "gallery"]);
    ok(&[
        "sig",
        "image-definition",
        "create",
        "-g",
        "rg",
        "-r",
        "gallery",
        "-i",
        "avd",
        "--publisher",
        "me",
        "--offer",
        "avd",
        "--sku",
        "win11",
        "--os-type",
        "Windows",
        "--hyper-v-generation",
        "V2",
    ]);
    let vm_id = ok(&[
        "vm", "show", "-g", "rg", "-n", "build-vm", "--query", "id", "-o", "tsv",
    ]);
    let version = ok(&[
        "sig",
        "image-version",
        "create",
        "-g",
        "rg",
        "-r",
        "gallery",
        "-i",
        "avd",
        "-e",
        "1.0.0",
        "--virtual-machine",
        vm_id.trim(),
        "--query",
        "provisioningState",
        "-o",
        "tsv",
    ]);
    assert_eq!(version, "Succeeded\n");
    let disk = ok(&[
        "vm",
        "show",
        "-g",
        "rg",
        "-n",
        "build-vm",
        "--query",
        "storageProfile.osDisk.name",
        "-o",
        "tsv",
    ]);
    ok(&["vm", "delete", "-g", "rg", "-n", "build-vm", "--yes"]);
    let out = sim.az(&["vm", "show", "-g", "rg", "-n", "build-vm"]);
    assert_eq!(out.status.code(), Some(3));
    let state = ok(&[
        "disk",
        "show",
        "-g",
        "rg",
        "-n",
        disk.trim(),
        "--query",
        "diskState",
        "-o",
        "tsv",
    ]);
    assert_eq!(state, "Unattached\n");
    ok(&["disk", "delete", "-g", "rg", "-n", disk.trim(), "--yes"]);
    ok(&[
        "network",
        "nic",
        "delete",
        "-g",
        "rg",
        "-n",
        "build-vmVMNic",
    ]);
    ok(&["group", "delete", "-n", "rg", "--yes"]);
    assert_eq!(ok(&["group", "exists", "-n", "rg"]), "false\n");
}

#[test]
fn after_a_reboot_the_agent_is_not_ready_for_a_while() {
    let mut sim = Sim::new();
    // 60 simulated seconds of reboot last 6 real seconds here.
    sim.speed = "10";
    let reboot = invoke_args(&["# goldsmith-sim: reboot duration=1s"]);
    assert_eq!(message(&sim.az(&reboot)), "");
    assert_case(&sim.az(&hello_args()), "d_agent_status_failed");
    let ready = sim.az(&[
        "vm",
        "get-instance-view",
        "-g",
        RG,
        "-n",
        VM,
        "--query",
        "instanceView.vmAgent.statuses[0].displayStatus",
        "-o",
        "tsv",
    ]);
    assert_eq!(String::from_utf8_lossy(&ready.stdout), "Not Ready\n");
}

#[test]
fn avd_resources_and_registration_token() {
    let sim = Sim::new();
    let ok = |args: &[&str]| {
        let out = sim.az(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(&["group", "create", "-n", "avd", "-l", "westeurope"]);
    let pool: Value = serde_json::from_str(&ok(&[
        "desktopvirtualization",
        "hostpool",
        "create",
        "-g",
        "avd",
        "-n",
        "pool",
        "--host-pool-type",
        "Pooled",
        "--load-balancer-type",
        "BreadthFirst",
        "--preferred-app-group-type",
        "Desktop",
        "--max-session-limit",
        "8",
    ]))
    .unwrap();
    assert_eq!(pool["maxSessionLimit"], 8);
    assert_eq!(pool["registrationInfo"], Value::Null);
    ok(&[
        "desktopvirtualization",
        "hostpool",
        "update",
        "-g",
        "avd",
        "-n",
        "pool",
        "--registration-info",
        "expiration-time=2030-01-01T00:00:00Z",
        "registration-token-operation=Update",
    ]);
    let token = ok(&[
        "desktopvirtualization",
        "hostpool",
        "retrieve-registration-token",
        "-g",
        "avd",
        "-n",
        "pool",
        "--query",
        "token",
        "-o",
        "tsv",
    ]);
    assert!(token.starts_with("eyJ"), "{token}");
    let out = sim.az(&[
        "desktopvirtualization",
        "workspace",
        "show",
        "-g",
        "avd",
        "-n",
        "nope",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with(
        "ERROR: (ResourceNotFound) The Resource 'Microsoft.DesktopVirtualization/workspaces/nope' under resource group 'avd' was not found."
    ));
}

#[test]
fn prepare_links_az_and_returns_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let vars = goldsmith::azure::sim::prepare(dir.path(), 120.0, None).unwrap();
    let get = |k: &str| {
        vars.iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let sim_dir = dir.path().join("sim");
    assert_eq!(get("GOLDSMITH_SIM_DIR"), sim_dir.display().to_string());
    assert_eq!(get("GOLDSMITH_SIM_SPEED"), "120");
    assert!(get("PATH").starts_with(&format!("{}", sim_dir.join("bin").display())));
    assert!(
        std::fs::symlink_metadata(sim_dir.join("bin/az"))
            .unwrap()
            .is_symlink()
    );
    // Preparing again (a resumed run) replaces the link.
    goldsmith::azure::sim::prepare(dir.path(), 120.0, None).unwrap();

    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "faults:\n  - nonsense: 1\n").unwrap();
    let err = goldsmith::azure::sim::prepare(dir.path(), 60.0, Some(&bad)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("bad.yaml:2:"), "{err}");
}

#[test]
fn table_output_and_logout() {
    let sim = Sim::new();
    sim.az(&["group", "create", "-n", "rg1", "-l", "westeurope"]);
    let out = sim.az(&["group", "list", "-o", "table"]);
    // tabulate pads every column, the last one too.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Location    Name\n----------  ----\nwesteurope  rg1 \n"
    );
    assert_eq!(sim.az(&["logout"]).status.code(), Some(0));
    assert_case(&sim.az(&hello_args()), "g_not_logged_in");
    sim.az(&[
        "login",
        "--service-principal",
        "-u",
        "app",
        "-p",
        "secret",
        "--tenant",
        "t",
    ]);
    assert_case(&sim.az(&hello_args()), "a_windows_success");
}
