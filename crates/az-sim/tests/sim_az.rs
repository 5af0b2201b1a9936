//! The simulated Azure CLI as a real process: a temp dir with a link named
//! `az` to this crate's `az` binary, the sim environment variables, and outputs
//! compared byte for byte with what the real az 2.91.0 printed (the
//! repository's `tests/fixtures/az`, which goldsmith's own tests read too).

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
        .join("../../tests/fixtures/az")
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

/// The VM the run-command tests use. Nothing exists in the simulated Azure
/// unless a scenario declares it (or a command creates it).
const DECLARED: &str = "vms:\n  - { resource_group: gm-temp-rg, name: gm-temp-vm }\n";

impl Sim {
    /// A simulator where the test VM exists.
    fn new() -> Sim {
        Sim::with_scenario("")
    }

    /// A simulator where nothing exists.
    fn bare() -> Sim {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sim/bin")).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_az"), dir.path().join("sim/bin/az"))
            .unwrap();
        Sim {
            dir,
            scenario: None,
            speed: "1000",
        }
    }

    /// A simulator with `yaml` as its scenario, plus the test VM unless the
    /// scenario lists VMs of its own.
    fn with_scenario(yaml: &str) -> Sim {
        let own_vms = yaml.lines().any(|l| l.starts_with("vms:"));
        if own_vms {
            Sim::bare().scenario(yaml)
        } else {
            Sim::bare().scenario(&format!("{DECLARED}{yaml}"))
        }
    }

    /// This simulator with `yaml`, exactly, as its scenario.
    fn scenario(mut self, yaml: &str) -> Sim {
        let path = self.dir.path().join("scenario.yaml");
        std::fs::write(&path, yaml).unwrap();
        self.scenario = Some(path);
        self
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
fn a_429_without_retry_after_is_retried_only_for_idempotent_methods() {
    // azure-core retries GET, PUT, DELETE with backoff, not POST (fixture e3);
    // the real az against the stand-in showed it (tools/standin).
    let sim = Sim::with_scenario(
        "faults:\n  - throttle: { command: group list, times: 3 }\n  - throttle: { command: vm run-command invoke, times: 1 }\n",
    );
    let listed = sim.az(&["group", "list"]);
    assert_eq!(listed.status.code(), Some(0), "{listed:?}");
    assert_eq!(sim.state().unwrap()["throttle_used"][0], 3);
    assert_case(&sim.az(&hello_args()), "e3_throttled_no_retry_after");
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
    let sim = Sim::bare().scenario("faults:\n  - op: x\n    klass: auth\n");
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
    // Without the extension az does not know the commands (goldsmith's image installs none).
    let unknown = sim.az(&["desktopvirtualization", "hostpool", "list"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).starts_with(
        "ERROR: 'desktopvirtualization' is misspelled or not recognized by the system."
    ));
    ok(&["extension", "add", "-n", "desktopvirtualization"]);
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
    let module_file = dir.path().join("module.yaml");
    let confine = |path: &Path| Ok(path.to_path_buf());
    let sim_dir = dir.path().join("sim");
    let setup = |speed, scenario| az_sim::Setup {
        sim_dir: &sim_dir,
        speed,
        scenario,
        module_file: &module_file,
        confine: &confine,
        az: None,
    };
    let vars = az_sim::prepare(setup(120.0, None)).unwrap().env;
    let get = |k: &str| {
        vars.iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(get("GOLDSMITH_SIM_DIR"), sim_dir.display().to_string());
    assert_eq!(get("GOLDSMITH_SIM_SPEED"), "120");
    assert!(get("PATH").starts_with(&format!("{}", sim_dir.join("bin").display())));
    assert!(
        std::fs::symlink_metadata(sim_dir.join("bin/az"))
            .unwrap()
            .is_symlink()
    );
    // Preparing again (a resumed run) replaces the link.
    az_sim::prepare(setup(120.0, None)).unwrap();

    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "faults:\n  - nonsense: 1\n").unwrap();
    let err = az_sim::prepare(setup(60.0, Some(bad))).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("bad.yaml:2:"), "{err}");
}

#[test]
fn prepare_takes_the_modules_own_scenario_as_confine_returns_it() {
    let dir = tempfile::tempdir().unwrap();
    let module_dir = dir.path().join("modules/m");
    std::fs::create_dir_all(&module_dir).unwrap();
    let module_file = module_dir.join("module.yaml");
    let sim_dir = dir.path().join("sim");
    let setup = |confine| az_sim::Setup {
        sim_dir: &sim_dir,
        speed: 60.0,
        scenario: None,
        module_file: &module_file,
        confine,
        az: None,
    };
    let refuse = |path: &Path| {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: refused", path.display()),
        ))
    };
    // Without a scenario beside the module there is nothing to vet or read.
    let prepared = az_sim::prepare(setup(&refuse)).unwrap();
    assert!(
        prepared
            .env
            .iter()
            .all(|(k, _)| k != "GOLDSMITH_SIM_SCENARIO")
    );
    assert_eq!(prepared.notice, None);

    std::fs::write(
        module_dir.join(az_sim::MODULE_SCENARIO),
        "notice: vm1 stands in for the VM\n",
    )
    .unwrap();
    let err = az_sim::prepare(setup(&refuse)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(
        err.to_string().ends_with("sim-scenario.yaml: refused"),
        "{err}"
    );

    // The path confine returns is the one read and handed to the operations.
    let elsewhere = dir.path().join("vetted.yaml");
    std::fs::write(&elsewhere, "notice: the vetted copy\n").unwrap();
    let vetted = |_: &Path| Ok(elsewhere.clone());
    let prepared = az_sim::prepare(setup(&vetted)).unwrap();
    assert_eq!(prepared.notice.as_deref(), Some("the vetted copy"));
    assert!(prepared.env.contains(&(
        "GOLDSMITH_SIM_SCENARIO".to_string(),
        elsewhere.display().to_string()
    )));
}

#[test]
fn table_output_and_logout() {
    let sim = Sim::bare();
    sim.az(&["group", "create", "-n", "rg1", "-l", "westeurope"]);
    let out = sim.az(&["group", "list", "-o", "table"]);
    // `group list` has its own table transformer in the real az, and tabulate
    // strips each line's end (seen against the stand-in, tools/standin).
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Name  Location    Status\n----  ----------  ---------\nrg1   westeurope  Succeeded\n"
    );
    // The VM the run-commands below use, made as in Azure.
    sim.az(&["group", "create", "-n", RG, "-l", "westeurope"]);
    let made = sim.az(&[
        "vm",
        "create",
        "-g",
        RG,
        "-n",
        VM,
        "--image",
        "Win2022Datacenter",
    ]);
    assert_eq!(made.status.code(), Some(0), "{made:?}");
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

/// Runs `script` in bash with the simulated `az` first on `PATH`, so a test can
/// pass `--protected-settings @<(printf …)` as the library's operations do.
fn bash(sim: &Sim, script: &str) -> Output {
    let path = format!(
        "{}:{}",
        sim.dir.path().join("sim/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("PATH", path)
        .env("GOLDSMITH_SIM_DIR", sim.dir.path().join("sim"))
        .env("GOLDSMITH_SIM_SPEED", sim.speed)
        .env("GOLDSMITH_OP", "op")
        .env("GOLDSMITH_ATTEMPT", "1")
        .env_remove("GOLDSMITH_SIM_SCENARIO")
        .env_remove("AZURE_SUBSCRIPTION_ID")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Fails when `needle` is on stdout, stderr or in the simulator's state.
#[track_caller]
fn assert_nowhere(sim: &Sim, out: &Output, needle: &str) {
    for (what, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !String::from_utf8_lossy(bytes).contains(needle),
            "{needle} is on {what}"
        );
    }
    let state = std::fs::read_to_string(sim.dir.path().join("sim/state.json")).unwrap();
    assert!(!state.contains(needle), "{needle} is in state.json");
}

fn group_and_vm(sim: &Sim) {
    for args in [
        &["group", "create", "-n", "rg", "-l", "westeurope"][..],
        &[
            "vm",
            "create",
            "-g",
            "rg",
            "-n",
            "host-1",
            "--image",
            "Win2022Datacenter",
        ],
    ] {
        let out = sim.az(args);
        assert_eq!(out.status.code(), Some(0), "{}", message_of(&out));
    }
}

fn message_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn vm_extension_set_show_list_delete() {
    let sim = Sim::new();
    group_and_vm(&sim);
    let secret = "sim-secret-storage-key-0001";
    let protected = sim.dir.path().join("protected.json");
    std::fs::write(
        &protected,
        format!("{{\"storageAccountKey\": \"{secret}\"}}\n"),
    )
    .unwrap();
    let at_file = format!("@{}", protected.display());
    let out = sim.az(&[
        "vm",
        "extension",
        "set",
        "-g",
        "rg",
        "--vm-name",
        "host-1",
        "-n",
        "CustomScriptExtension",
        "--publisher",
        "Microsoft.Compute",
        "--version",
        "1.10.12",
        "--settings",
        r#"{"commandToExecute": "hostname"}"#,
        "--protected-settings",
        &at_file,
    ]);
    let ext = stdout_json(&out);
    assert_eq!(ext["name"], "CustomScriptExtension");
    assert_eq!(ext["publisher"], "Microsoft.Compute");
    assert_eq!(ext["typePropertiesType"], "CustomScriptExtension");
    assert_eq!(ext["type"], "Microsoft.Compute/virtualMachines/extensions");
    // az sends only major.minor.
    assert_eq!(ext["typeHandlerVersion"], "1.10");
    assert_eq!(ext["provisioningState"], "Succeeded");
    assert_eq!(ext["autoUpgradeMinorVersion"], true);
    assert_eq!(ext["settings"]["commandToExecute"], "hostname");
    assert_eq!(ext["resourceGroup"], "rg");
    assert!(
        ext["id"]
            .as_str()
            .unwrap()
            .ends_with("/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/host-1/extensions/CustomScriptExtension")
    );
    assert!(ext.get("protectedSettings").is_none(), "{ext}");
    assert_nowhere(&sim, &out, secret);

    // Without --version az takes the handler's latest major.minor.
    let out = sim.az(&[
        "vm",
        "extension",
        "set",
        "-g",
        "rg",
        "--vm-name",
        "host-1",
        "-n",
        "AADLoginForWindows",
        "--publisher",
        "Microsoft.Azure.ActiveDirectory",
        "--query",
        "[typeHandlerVersion, provisioningState]",
        "-o",
        "tsv",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2.2\nSucceeded\n");

    let show = |name: &str| {
        sim.az(&[
            "vm",
            "extension",
            "show",
            "-g",
            "rg",
            "--vm-name",
            "host-1",
            "-n",
            name,
            "--query",
            "provisioningState",
            "-o",
            "tsv",
        ])
    };
    assert_eq!(
        String::from_utf8_lossy(&show("AADLoginForWindows").stdout),
        "Succeeded\n"
    );
    let listed = stdout_json(&sim.az(&[
        "vm",
        "extension",
        "list",
        "-g",
        "rg",
        "--vm-name",
        "host-1",
        "--query",
        "[].name",
    ]));
    assert_eq!(
        listed,
        serde_json::json!(["AADLoginForWindows", "CustomScriptExtension"])
    );

    // az 2.91's `vm extension delete` asks nothing (it has no --yes); a
    // second delete is ARM's 204.
    for _ in 0..2 {
        let out = sim.az(&[
            "vm",
            "extension",
            "delete",
            "-g",
            "rg",
            "--vm-name",
            "host-1",
            "-n",
            "AADLoginForWindows",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", message_of(&out));
        assert!(out.stdout.is_empty());
    }
    let gone = show("AADLoginForWindows");
    assert_eq!(gone.status.code(), Some(3));
    assert!(message_of(&gone).starts_with(
        "ERROR: (ResourceNotFound) The Resource 'Microsoft.Compute/virtualMachines/host-1/extensions/AADLoginForWindows' under resource group 'rg' was not found."
    ));

    // Deleting the VM takes its extensions along.
    sim.az(&["vm", "delete", "-g", "rg", "-n", "host-1", "--yes"]);
    // The state settles on the next call, which no longer finds the VM.
    let listed = sim.az(&["vm", "extension", "list", "-g", "rg", "--vm-name", "host-1"]);
    assert_eq!(listed.status.code(), Some(3));
    assert!(
        !sim.state()
            .unwrap()
            .to_string()
            .contains("/extensions/CustomScriptExtension")
    );
}

#[test]
fn protected_settings_from_a_pipe_are_read_and_never_printed() {
    let sim = Sim::new();
    group_and_vm(&sim);
    let secret = "pipe-secret-0002";
    // The extension as the library passes it: the secret only in a process substitution.
    let ok = bash(
        &sim,
        &format!(
            r#"secret={secret}
az vm extension set -g rg --vm-name host-1 -n CustomScriptExtension --publisher Microsoft.Compute \
  --settings '{{"commandToExecute":"hostname"}}' \
  --protected-settings @<(printf '{{"commandToExecute":"%s"}}' "$secret")"#
        ),
    );
    assert_eq!(ok.status.code(), Some(0), "{}", message_of(&ok));
    assert_eq!(stdout_json(&ok)["provisioningState"], "Succeeded");
    assert_nowhere(&sim, &ok, secret);

    // Protected settings that are not JSON fail like az, but without their text.
    let bad = bash(
        &sim,
        &format!(
            r#"az vm extension set -g rg --vm-name host-1 -n CustomScriptExtension --publisher Microsoft.Compute \
  --protected-settings @<(printf '{{"commandToExecute": %s}}' {secret})"#
        ),
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        message_of(&bad).starts_with("ERROR: Failed to parse string as JSON:\n"),
        "{}",
        message_of(&bad)
    );
    assert_nowhere(&sim, &bad, secret);

    // Public settings are echoed, as az does.
    let out = sim.az(&[
        "vm",
        "extension",
        "set",
        "-g",
        "rg",
        "--vm-name",
        "host-1",
        "-n",
        "CustomScriptExtension",
        "--publisher",
        "Microsoft.Compute",
        "--settings",
        "{'a': 1}",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        message_of(&out),
        "ERROR: Failed to parse string as JSON:\n{'a': 1}\nError detail: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)\nThe provided JSON string may have been parsed by the shell. See https://docs.microsoft.com/cli/azure/use-cli-effectively#use-quotation-marks-in-arguments\n"
    );
}

#[test]
fn vm_extension_errors() {
    let sim = Sim::new();
    group_and_vm(&sim);
    let set = |extra: &[&str]| {
        let mut args = vec!["vm", "extension", "set", "-g", "rg"];
        args.extend_from_slice(extra);
        sim.az(&args)
    };
    let missing = set(&["--vm-name", "host-1"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        message_of(&missing)
            .starts_with("ERROR: the following arguments are required: --name/-n, --publisher\n")
    );
    let typo = set(&[
        "--vm-name",
        "host-1",
        "-n",
        "X",
        "--publisher",
        "Y",
        "--protected-settngs",
        "{}",
    ]);
    // `--protected-setting` would do: argparse takes an unambiguous prefix.
    assert_eq!(typo.status.code(), Some(2));
    assert!(
        message_of(&typo).starts_with("ERROR: unrecognized arguments: --protected-settngs {}\n")
    );
    let no_vm = set(&["--vm-name", "ghost", "-n", "X", "--publisher", "Y"]);
    assert_eq!(no_vm.status.code(), Some(3));
    assert!(message_of(&no_vm).starts_with(
        "ERROR: (ResourceNotFound) The Resource 'Microsoft.Compute/virtualMachines/ghost' under resource group 'rg' was not found."
    ));
    let no_file = set(&[
        "--vm-name",
        "host-1",
        "-n",
        "X",
        "--publisher",
        "Y",
        "--settings",
        "settings.json",
    ]);
    assert_eq!(no_file.status.code(), Some(1));
    assert_eq!(
        message_of(&no_file),
        "ERROR: JSON file does not exist: 'settings.json'\n"
    );
    let deprecated = set(&[
        "--vm-name",
        "host-1",
        "-n",
        "X",
        "--publisher",
        "Y",
        "--no-auto-upgrade",
        "--query",
        "autoUpgradeMinorVersion",
    ]);
    assert_eq!(String::from_utf8_lossy(&deprecated.stdout), "false\n");
    assert!(
        message_of(&deprecated)
            .starts_with("WARNING: Option '--no-auto-upgrade' has been deprecated")
    );

    sim.az(&["vm", "deallocate", "-g", "rg", "-n", "host-1"]);
    let stopped = set(&["--vm-name", "host-1", "-n", "X", "--publisher", "Y"]);
    assert_eq!(stopped.status.code(), Some(1));
    assert!(message_of(&stopped).starts_with(
        "ERROR: (OperationNotAllowed) Cannot modify extensions in the VM when the VM is not running.\n"
    ));
}

/// The DSC settings and protected settings register-session-hosts passes.
fn dsc_script(vm: &str, pool: &str, token_expr: &str, extra: &str) -> String {
    format!(
        r#"settings='{{"modulesUrl":"https://example.invalid/Configuration.zip","configurationFunction":"Configuration.ps1\\AddSessionHost","properties":{{"hostPoolName":"{pool}","registrationInfoTokenCredential":{{"UserName":"PLACEHOLDER_DO_NOT_USE","Password":"PrivateSettingsRef:RegistrationInfoToken"}},"aadJoin":true}}}}'
az vm extension set -g rg --vm-name {vm} --name DSC --publisher Microsoft.Powershell --version 2.83 \
  --extension-instance-name Microsoft.PowerShell.DSC --settings "$settings" \
  --protected-settings @<(printf '{{"Items":{{"RegistrationInfoToken":"%s"}}}}' {token_expr}) {extra}"#
    )
}

#[test]
fn the_avd_agent_registers_a_session_host_that_becomes_available() {
    let mut sim = Sim::new();
    // The DSC extension takes 240 simulated seconds (2.4 s here), the first
    // health checks another 60 (0.6 s).
    sim.speed = "100";
    group_and_vm(&sim);
    for args in [
        &["extension", "add", "-n", "desktopvirtualization"][..],
        &[
            "desktopvirtualization",
            "hostpool",
            "create",
            "-g",
            "rg",
            "-n",
            "pool",
            "--host-pool-type",
            "Pooled",
            "--load-balancer-type",
            "BreadthFirst",
            "--preferred-app-group-type",
            "Desktop",
        ][..],
        &[
            "desktopvirtualization",
            "hostpool",
            "update",
            "-g",
            "rg",
            "-n",
            "pool",
            "--registration-info",
            "expiration-time=2099-01-01T00:00:00Z",
            "registration-token-operation=Update",
        ],
        &[
            "vm",
            "create",
            "-g",
            "rg",
            "-n",
            "host-2",
            "--image",
            "Win2022Datacenter",
        ],
    ] {
        let out = sim.az(args);
        assert_eq!(out.status.code(), Some(0), "{}", message_of(&out));
    }
    // The extension has no `sessionhost` commands: the library lists the
    // hosts with `az rest` (wait-session-hosts-available).
    let url = |pool: &str| {
        format!(
            "/subscriptions/{{subscriptionId}}/resourceGroups/rg/providers/Microsoft.DesktopVirtualization/hostPools/{pool}/sessionHosts?api-version=2024-04-03"
        )
    };
    let pool_url = url("pool");
    let hosts = || {
        sim.az(&[
            "rest",
            "--method",
            "get",
            "--url",
            &pool_url,
            "--query",
            "value[].[name, properties.status]",
            "-o",
            "tsv",
        ])
    };
    assert_eq!(String::from_utf8_lossy(&hosts().stdout), "");

    // A token that is not the pool's fails the DSC extension, without naming the token.
    let wrong = bash(
        &sim,
        &dsc_script("host-2", "pool", "not-the-pool-token-0003", "-o none"),
    );
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        message_of(&wrong).starts_with(
            "ERROR: (VMExtensionProvisioningError) VM has reported a failure when processing extension 'Microsoft.PowerShell.DSC' (publisher 'Microsoft.Powershell' and type 'DSC')."
        ),
        "{}",
        message_of(&wrong)
    );
    assert_nowhere(&sim, &wrong, "not-the-pool-token-0003");
    let state = sim.az(&[
        "vm",
        "extension",
        "show",
        "-g",
        "rg",
        "--vm-name",
        "host-2",
        "-n",
        "Microsoft.PowerShell.DSC",
        "--query",
        "provisioningState",
        "-o",
        "tsv",
    ]);
    assert_eq!(String::from_utf8_lossy(&state.stdout), "Failed\n");

    // The pool's current token registers the VM.
    let token = "$(az desktopvirtualization hostpool retrieve-registration-token -g rg -n pool --query token -o tsv)";
    let ok = bash(
        &sim,
        &dsc_script("host-1", "pool", token, "--query provisioningState -o tsv"),
    );
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout),
        "Succeeded\n",
        "{}",
        message_of(&ok)
    );
    assert_eq!(
        String::from_utf8_lossy(&hosts().stdout),
        "pool/host-1\tUnavailable\n"
    );
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        String::from_utf8_lossy(&hosts().stdout),
        "pool/host-1\tAvailable\n"
    );
    let host = stdout_json(&sim.az(&["rest", "--url", &pool_url, "--query", "value[0]"]));
    assert_eq!(host["name"], "pool/host-1");
    let host = &host["properties"];
    assert!(
        host["resourceId"]
            .as_str()
            .unwrap()
            .ends_with("/virtualMachines/host-1")
    );
    assert_eq!(host["allowNewSession"], true);
    assert!(
        host["sessionHostHealthCheckResults"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["healthCheckResult"] == "HealthCheckSucceeded")
    );

    // A deallocated host is shut down; the registration outlives the VM.
    sim.az(&["vm", "deallocate", "-g", "rg", "-n", "host-1"]);
    assert_eq!(
        String::from_utf8_lossy(&hosts().stdout),
        "pool/host-1\tShutdown\n"
    );
    sim.az(&["vm", "delete", "-g", "rg", "-n", "host-1", "--yes"]);
    assert_eq!(
        String::from_utf8_lossy(&hosts().stdout),
        "pool/host-1\tUnavailable\n"
    );

    // az rest prints an HTTP error as its reason and the body ARM sent, and exits 1
    // (what the real az 2.91.0 prints against the stand-in).
    let missing = sim.az(&["rest", "--url", &url("nope")]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(message_of(&missing).starts_with(
        "ERROR: Not Found({\"error\":{\"code\":\"ResourceNotFound\",\"message\":\"The Resource 'Microsoft.DesktopVirtualization/hostpools/nope' under resource group 'rg' was not found."
    ));
}

#[test]
fn delete_options_of_delete_take_the_nic_and_os_disk_with_the_vm_even_without_waiting() {
    let mut sim = Sim::bare();
    sim.speed = "20000";
    let run = |args: &[&str]| sim.az(args);
    let ok = |args: &[&str]| {
        let out = run(args);
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
    let create = |name: &str, delete: bool| {
        let mut args = vec![
            "vm",
            "create",
            "-g",
            "rg",
            "-n",
            name,
            "--image",
            "Win2022Datacenter",
            "--public-ip-address",
            "",
            "--nsg",
            "",
            "--admin-username",
            "azureuser",
            "--admin-password",
            "Str0ng!Passw0rd",
            "--output",
            "none",
        ];
        if delete {
            args.extend([
                "--nic-delete-option",
                "Delete",
                "--os-disk-delete-option",
                "Delete",
            ]);
        }
        ok(&args);
    };
    create("gone", true);
    create("kept", false);
    let option = ok(&[
        "vm",
        "show",
        "-g",
        "rg",
        "-n",
        "gone",
        "--query",
        "networkProfile.networkInterfaces[0].deleteOption",
        "-o",
        "tsv",
    ]);
    assert_eq!(option, "Delete\n");
    for vm in ["gone", "kept"] {
        ok(&["vm", "delete", "-g", "rg", "-n", vm, "--yes", "--no-wait"]);
    }
    // 60 simulated seconds of deleting: 3 ms at this speed.
    std::thread::sleep(std::time::Duration::from_millis(50));
    let names = |kind: &str| ok(&[kind, "list", "-g", "rg", "--query", "[].name", "-o", "tsv"]);
    assert_eq!(
        ok(&["vm", "list", "-g", "rg", "--query", "[].name", "-o", "tsv"]),
        ""
    );
    let nics = ok(&[
        "network", "nic", "list", "-g", "rg", "--query", "[].name", "-o", "tsv",
    ]);
    assert_eq!(nics, "keptVMNic\n", "only the detached NIC stays");
    let disks = names("disk");
    assert!(!disks.contains("gone"), "{disks}");
    assert!(disks.contains("kept"), "{disks}");
}
