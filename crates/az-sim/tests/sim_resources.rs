//! In the simulated Azure, as in Azure, a resource exists only when it was
//! declared in the scenario (`vms:`, `exists:`) or created by a command. The
//! crate's `az` binary runs through a link, each call a real process; texts
//! are compared byte for byte with the real az 2.91.0 (the repository's
//! `tests/fixtures/az`) or Azure's documented wording.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const RG: &str = "gm-temp-rg";
const VM: &str = "gm-temp-vm";
const SUB: &str = "11111111-2222-3333-4444-555555555555";

struct Az {
    dir: tempfile::TempDir,
    scenario: Option<PathBuf>,
    env: Vec<(String, String)>,
}

impl Az {
    fn new() -> Az {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("sim/bin")).expect("mkdir");
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_az"), dir.path().join("sim/bin/az"))
            .expect("link");
        Az {
            dir,
            scenario: None,
            env: Vec::new(),
        }
    }

    fn with_scenario(yaml: &str) -> Az {
        let mut az = Az::new();
        let path = az.dir.path().join("scenario.yaml");
        std::fs::write(&path, yaml).expect("scenario");
        az.scenario = Some(path);
        az
    }

    fn var(mut self, name: &str, value: &str) -> Az {
        self.env.push((name.into(), value.into()));
        self
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(self.dir.path().join("sim/bin/az"));
        cmd.args(args)
            .env("GOLDSMITH_SIM_DIR", self.dir.path().join("sim"))
            .env("GOLDSMITH_SIM_SPEED", "2000")
            .env("GOLDSMITH_OP", "op")
            .env("GOLDSMITH_ATTEMPT", "1")
            .env_remove("GOLDSMITH_SIM_SCENARIO")
            .env_remove("AZURE_SUBSCRIPTION_ID")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        if let Some(s) = &self.scenario {
            cmd.env("GOLDSMITH_SIM_SCENARIO", s);
        }
        cmd.output().expect("run az")
    }

    fn state(&self) -> Value {
        let bytes = std::fs::read(self.dir.path().join("sim/state.json")).expect("state.json");
        serde_json::from_slice(&bytes).expect("state json")
    }

    fn scenario_file(&self) -> String {
        self.dir.path().join("scenario.yaml").display().to_string()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/az")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

fn invoke(vm: &str) -> Vec<&str> {
    vec![
        "vm",
        "run-command",
        "invoke",
        "-g",
        RG,
        "-n",
        vm,
        "--command-id",
        "RunPowerShellScript",
        "--scripts",
        "Write-Output hello",
        "--output",
        "json",
    ]
}

/// ARM's error as az prints it.
fn arm(code: &str, message: &str) -> String {
    format!("ERROR: ({code}) {message}\nCode: {code}\nMessage: {message}\n")
}

fn subnet_id(vnet: &str, subnet: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet}"
    )
}

const GROUP_ONLY: &str = "exists:\n  - az group create -n gm-temp-rg -l westeurope\n";

#[test]
fn a_run_command_on_a_vm_never_created_is_resource_not_found_exit_3() {
    let az = Az::with_scenario(GROUP_ONLY);
    let out = az.run(&invoke(VM));
    assert_eq!(stderr(&out), fixture("f_vm_not_found.stderr"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        fixture("f_vm_not_found.stdout")
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        fixture("f_vm_not_found.exitcode").trim(),
        "3",
        "the fixture's exit code"
    );
    // Asking did not make it exist.
    assert!(az.state()["vms"].as_object().expect("vms").is_empty());
    let again = az.run(&invoke(VM));
    assert_eq!(again.status.code(), Some(3));
}

#[test]
fn a_run_command_in_a_group_never_created_is_resource_group_not_found() {
    let az = Az::new();
    let out = az.run(&invoke(VM));
    assert_eq!(
        stderr(&out),
        arm(
            "ResourceGroupNotFound",
            "Resource group 'gm-temp-rg' could not be found."
        )
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        az.state()["resources"]
            .as_object()
            .expect("resources")
            .is_empty()
    );
}

#[test]
fn vm_create_in_a_subnet_of_a_network_never_created_fails_as_az_does() {
    let az = Az::with_scenario(GROUP_ONLY);
    let subnet = subnet_id("vnet-never", "snet-build");
    let out = az.run(&[
        "vm",
        "create",
        "-g",
        RG,
        "-n",
        VM,
        "--image",
        "Win2022Datacenter",
        "--subnet",
        &subnet,
        "--public-ip-address",
        "",
        "--nsg",
        "",
        "--output",
        "none",
    ]);
    // azure-cli's _validate_vm_vmss_create_vnet: a CLIError before any
    // deployment, after the region notice its validation starts with.
    let err = stderr(&out);
    assert!(err.starts_with("Selecting \"uksouth\" may reduce your costs."));
    assert!(err.ends_with(&format!(
        "222571 \n\nERROR: Subnet '{subnet}' does not exist.\n"
    )));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    // Nothing was made: no VM, no NIC, no disk, no network.
    let state = az.state();
    assert!(state["vms"].as_object().expect("vms").is_empty());
    let kinds: Vec<&str> = state["resources"]
        .as_object()
        .expect("resources")
        .values()
        .map(|r| r["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["group"], "{state}");
    let show = az.run(&["vm", "show", "-g", RG, "-n", VM]);
    assert_eq!(show.status.code(), Some(3));

    // A subnet named without its network is az's usage error.
    let out = az.run(&[
        "vm",
        "create",
        "-g",
        RG,
        "-n",
        VM,
        "--image",
        "Win2022Datacenter",
        "--subnet",
        "snet",
    ]);
    assert_eq!(
        stderr(&out),
        "ERROR: incorrect usage: --subnet ID | --subnet NAME --vnet-name NAME\n"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn vm_create_in_an_existing_subnet_attaches_to_it() {
    let az = Az::with_scenario(&format!(
        "{GROUP_ONLY}  - az network vnet create -g gm-temp-rg -n vnet1 --address-prefixes 10.1.0.0/16\n  - az network vnet subnet create -g gm-temp-rg --vnet-name vnet1 -n snet1 --address-prefixes 10.1.2.0/24\n"
    ));
    let subnet = subnet_id("vnet1", "snet1");
    let out = az.run(&[
        "vm",
        "create",
        "-g",
        RG,
        "-n",
        VM,
        "--image",
        "Win2022Datacenter",
        "--subnet",
        &subnet,
        "--public-ip-address",
        "",
        "--nsg",
        "",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let nic = az.run(&["network", "nic", "show", "-g", RG, "-n", "gm-temp-vmVMNic"]);
    assert!(
        String::from_utf8_lossy(&nic.stdout).contains(&subnet),
        "{}",
        String::from_utf8_lossy(&nic.stdout)
    );
}

#[test]
fn a_nested_resource_under_a_missing_parent_is_parent_resource_not_found() {
    let az = Az::with_scenario(GROUP_ONLY);
    for (args, parent) in [
        (
            vec![
                "network",
                "vnet",
                "subnet",
                "create",
                "-g",
                RG,
                "--vnet-name",
                "vnet-never",
                "-n",
                "snet",
                "--address-prefixes",
                "10.0.1.0/24",
            ],
            "vnet-never",
        ),
        (
            vec![
                "sig",
                "image-definition",
                "create",
                "-g",
                RG,
                "--gallery-name",
                "gal_never",
                "--gallery-image-definition",
                "def",
                "--publisher",
                "p",
                "--offer",
                "o",
                "--sku",
                "s",
                "--os-type",
                "Windows",
            ],
            "gal_never",
        ),
        (
            vec![
                "storage",
                "share-rm",
                "create",
                "-g",
                RG,
                "--storage-account",
                "stnever",
                "-n",
                "share",
            ],
            "stnever",
        ),
    ] {
        let out = az.run(&args);
        // `sig image-definition create` warns about its defaults before anything else.
        let warned = if args[0] == "sig" {
            "WARNING: Starting Build (May) 2024, \"az sig image-definition create\" command will use the new default values Hyper-V Generation: V2 and SecurityType: TrustedLaunchSupported.\n"
        } else {
            ""
        };
        // The wording Azure documents for ParentResourceNotFound.
        assert_eq!(
            stderr(&out),
            warned.to_string()
                + &arm(
                    "ParentResourceNotFound",
                    &format!(
                        "Can not perform requested operation on nested resource. Parent resource '{parent}' not found."
                    )
                ),
            "{args:?}"
        );
        assert_eq!(out.status.code(), Some(3), "{args:?}");
    }
    assert_eq!(
        az.state()["resources"]
            .as_object()
            .expect("resources")
            .len(),
        1,
        "only the group exists"
    );
}

#[test]
fn exists_makes_resources_as_their_commands_would_settled_and_ready() {
    let az = Az::with_scenario(
        "exists:
  - az group create -n {{AZURE_RESOURCE_GROUP}} -l westeurope
  - az network vnet create -g {{AZURE_RESOURCE_GROUP}} -n vnet1 --address-prefixes 10.1.0.0/16
  - >-
    network vnet subnet create -g {{AZURE_RESOURCE_GROUP}} --vnet-name vnet1 -n 'snet one'
    --address-prefixes 10.1.2.0/24
  - az vm create -g {{AZURE_RESOURCE_GROUP}} -n vm-old --image Win2022Datacenter --admin-password {{PW}}
  - az vm create -g {{AZURE_RESOURCE_GROUP}} -n vm-off --image Win2022Datacenter
  - az vm deallocate -g {{AZURE_RESOURCE_GROUP}} -n vm-off
",
    )
    .var("AZURE_RESOURCE_GROUP", RG)
    .var("PW", "Seed-Passw0rd-9!");
    let subnet = az.run(&[
        "network",
        "vnet",
        "subnet",
        "show",
        "-g",
        RG,
        "--vnet-name",
        "vnet1",
        "-n",
        "snet one",
        "--query",
        "[addressPrefix, provisioningState]",
        "-o",
        "tsv",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&subnet.stdout),
        "10.1.2.0/24\nSucceeded\n"
    );
    // The seeded VM runs, its agent ready at once: no create is in flight.
    let out = az.run(&invoke("vm-old"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let off = az.run(&invoke("vm-off"));
    assert_eq!(stderr(&off), fixture("c_vm_not_running.stderr"));
    let state = az.state();
    for r in state["resources"].as_object().expect("resources").values() {
        assert!(r["busy"].is_null(), "settled: {r}");
    }
    // The password given to the seed's vm create is kept nowhere.
    let text = std::fs::read_to_string(az.dir.path().join("sim/state.json")).expect("state");
    assert!(!text.contains("Seed-Passw0rd-9!"));
}

#[test]
fn a_failing_exists_entry_fails_every_call_naming_the_entry_and_not_its_values() {
    let az = Az::with_scenario(
        "exists:\n  - az group create -n rg1 -l westeurope\n  - az vm create -g rg-never -n vm1 --admin-password {{PW}}\n",
    )
    .var("PW", "Seed-Passw0rd-9!");
    let file = az.scenario_file();
    for _ in 0..2 {
        let out = az.run(&["group", "list"]);
        assert_eq!(
            stderr(&out),
            format!(
                "ERROR: goldsmith-sim: exists #2 ({file}:3:5): `vm create -g rg-never -n vm1 --admin-password {{{{PW}}}}` failed: (ResourceGroupNotFound) Resource group 'rg-never' could not be found.\n"
            )
        );
        assert_eq!(out.status.code(), Some(2));
    }
    assert!(!az.dir.path().join("sim/state.json").exists());
}

#[test]
fn an_exists_entry_the_real_az_would_refuse_is_refused() {
    let az = Az::with_scenario("exists:\n  - az group create -n rg1 -l westeurope --tgas x=y\n");
    let out = az.run(&["group", "list"]);
    assert_eq!(
        stderr(&out),
        format!(
            "ERROR: goldsmith-sim: exists #1 ({}:2:5): `group create -n rg1 -l westeurope --tgas x=y` failed: unrecognized arguments: --tgas x=y\n",
            az.scenario_file()
        )
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_exists_placeholder_without_a_value_names_it() {
    let az =
        Az::with_scenario("exists:\n  - az group create -n {{ NO_SUCH_VALUE }} -l westeurope\n");
    let out = az.run(&["group", "list"]);
    assert_eq!(
        stderr(&out),
        format!(
            "ERROR: goldsmith-sim: exists #1 ({}:2:5): {{{{NO_SUCH_VALUE}}}} has no value: it names a config value (or an environment variable of the run)\n",
            az.scenario_file()
        )
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_exists_entries_are_refused_with_file_and_line() {
    for (yaml, says) in [
        (
            "exists:\n  - az network vnet craete -g rg -n v\n",
            "exists #1: `network vnet craete` is not a command the simulated az knows",
        ),
        (
            "exists:\n  - az group create -n 'rg\n",
            "exists #1: `az group create -n 'rg` has an unclosed quote",
        ),
        (
            "exists:\n  - az group create -n {{rg name}}\n",
            "exists #1: `{{rg name}}` in `az group create -n {{rg name}}` is not a placeholder",
        ),
        (
            "exists:\n  - az vm run-command invoke -g rg -n vm\n",
            "changes nothing that exists",
        ),
    ] {
        let az = Az::with_scenario(yaml);
        let out = az.run(&["group", "list"]);
        let text = stderr(&out);
        assert!(
            text.starts_with(&format!(
                "ERROR: goldsmith-sim: {}:2:5: ",
                az.scenario_file()
            )),
            "{text}"
        );
        assert!(text.contains(says), "{yaml}: {text}");
        assert_eq!(out.status.code(), Some(2));
    }
}

#[test]
fn a_vm_fault_needs_its_vm_declared() {
    // Old scenario files relied on the fault making the VM: now a clear error.
    let az = Az::with_scenario(
        "faults:\n  - vm: { resource_group: gm-temp-rg, name: gm-temp-vm }\n    busy_for: 60s\n",
    );
    let out = az.run(&invoke(VM));
    assert_eq!(
        stderr(&out),
        format!(
            "ERROR: goldsmith-sim: fault #1 ({}:2:5): the VM gm-temp-rg/gm-temp-vm is not declared: declare it under `vms:` or with a `vm create` under `exists:` (a `vm:` fault no longer makes its VM exist)\n",
            az.scenario_file()
        )
    );
    assert_eq!(out.status.code(), Some(2));

    // Declared by a seed whose names are placeholders: checked once they have values.
    let az = Az::with_scenario(
        "exists:\n  - az group create -n gm-temp-rg -l westeurope\n  - az vm create -g gm-temp-rg -n {{VM_NAME}} --image Win2022Datacenter\nfaults:\n  - vm: { resource_group: gm-temp-rg, name: gm-temp-vm }\n    busy_for: 1h\n",
    );
    let wrong = az.var("VM_NAME", "other-vm");
    let out = wrong.run(&invoke(VM));
    assert!(
        stderr(&out).contains("the VM gm-temp-rg/gm-temp-vm is not declared"),
        "{}",
        stderr(&out)
    );
    assert_eq!(out.status.code(), Some(2));

    let az = Az::with_scenario(
        "exists:\n  - az group create -n gm-temp-rg -l westeurope\n  - az vm create -g gm-temp-rg -n {{VM_NAME}} --image Win2022Datacenter\nfaults:\n  - vm: { resource_group: gm-temp-rg, name: gm-temp-vm }\n    busy_for: 1h\n",
    )
    .var("VM_NAME", VM);
    assert_eq!(
        stderr(&az.run(&invoke(VM))),
        fixture("b_conflict_in_progress.stderr")
    );
}

#[test]
fn a_role_assignment_on_a_resource_never_created_is_its_404() {
    let az = Az::with_scenario(GROUP_ONLY);
    let share = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Storage/storageAccounts/stnever/fileServices/default/fileshares/profiles"
    );
    let assign = |scope: &str| {
        az.run(&[
            "role",
            "assignment",
            "create",
            "--assignee-object-id",
            "0b7a5c2e-1d2f-4e3a-9b8c-7d6e5f4a3b2c",
            "--assignee-principal-type",
            "Group",
            "--role",
            "Reader",
            "--scope",
            scope,
            "--output",
            "none",
        ])
    };
    let out = assign(&share);
    assert_eq!(
        stderr(&out),
        arm(
            "ResourceNotFound",
            "The Resource 'Microsoft.Storage/storageAccounts/stnever' under resource group 'gm-temp-rg' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
        )
    );
    assert_eq!(out.status.code(), Some(3));
    let out = assign(&format!("/subscriptions/{SUB}/resourceGroups/rg-never"));
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("(ResourceGroupNotFound)"),
        "{}",
        stderr(&out)
    );

    // Once the account exists, the assignment on its share is made.
    let made = az.run(&[
        "storage",
        "account",
        "create",
        "-g",
        RG,
        "-n",
        "stnever",
        "--sku",
        "Premium_LRS",
        "--kind",
        "FileStorage",
        "--output",
        "none",
    ]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    let out = assign(&share);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
