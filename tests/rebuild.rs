//! The weekly rebuild: `compute.image_version: auto` chooses a new version per
//! run and `resume` keeps it; a simulated run says so everywhere and is never
//! mixed with a real one; `--sim-state` keeps a simulated Azure between runs.
//! Real goldsmith processes on a copy of the AVD library (05-golden-image).

mod common;

use std::path::{Path, PathBuf};

use common::{Project, events_of, library_copy, op_status};
use serde_json::Value;

const SIMULATE: [&str; 3] = ["--simulate", "--sim-speed", "600"];
const SECRETS: [(&str, &str); 1] = [("ADMIN_PASSWORD", "Gs-Rebuild-Pw#7c1e!")];

/// The library with 05-golden-image and the modules it depends on.
fn golden_image() -> Project {
    library_copy(&["00-resource-group", "01-networking", "05-golden-image"])
}

fn run(p: &Project, args: &[&str]) -> common::Run {
    p.run_env(args, &SECRETS)
}

fn args<'a>(first: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    first
        .iter()
        .chain(SIMULATE.iter())
        .chain(more)
        .copied()
        .collect()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `<property name value>` pairs of junit.xml's test suite, read with an XML parser.
fn junit_properties(run_dir: &Path) -> Vec<(String, String)> {
    use quick_xml::events::Event;
    let text = std::fs::read_to_string(run_dir.join("junit.xml")).expect("junit.xml");
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut props = Vec::new();
    let mut depth_in_case = 0;
    loop {
        match reader.read_event().expect("junit.xml parses") {
            Event::Eof => break,
            Event::Start(e) if e.name().as_ref() == b"testcase" => depth_in_case += 1,
            Event::End(e) if e.name().as_ref() == b"testcase" => depth_in_case -= 1,
            Event::Empty(e) | Event::Start(e)
                if e.name().as_ref() == b"property" && depth_in_case == 0 =>
            {
                let attr = |name: &[u8]| {
                    e.try_get_attribute(name)
                        .expect("attribute")
                        .map(|a| {
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .expect("value")
                                .into_owned()
                        })
                        .unwrap_or_default()
                };
                props.push((attr(b"name"), attr(b"value")));
            }
            _ => {}
        }
    }
    props
}

fn property(props: &[(String, String)], name: &str) -> Option<String> {
    props
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
}

/// The version names the kept simulated Azure in `world` holds, asked of its own `az`.
fn versions_in(world: &Path) -> Vec<String> {
    let out = std::process::Command::new(world.join("bin/az"))
        .args([
            "sig",
            "image-version",
            "list",
            "-g",
            "rg-avd-weu-001",
            "-r",
            "gal_avd_weu_001",
            "-i",
            "win11-24h2-avd-m365",
            "--query",
            "[].name",
            "-o",
            "tsv",
        ])
        .env("GOLDSMITH_SIM_DIR", world)
        .env("GOLDSMITH_SIM_SPEED", "600")
        .output()
        .expect("the simulated az runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

/// One week's rebuild in the kept world (`more` flags added); returns its run directory.
fn weekly_rebuild(p: &Project, world: &Path, more: &[&str]) -> PathBuf {
    let world = world.to_str().expect("utf-8");
    let mut flags = vec!["--sim-state", world];
    flags.extend(more);
    let r = run(p, &args(&["run", "05-golden-image"], &flags));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("goldsmith: image-version-id = /subscriptions/"),
        "the console names what was published: {}",
        r.stdout
    );
    p.latest_run_dir()
}

#[test]
fn two_weekly_rebuilds_in_one_kept_simulated_azure_publish_two_versions() {
    let p = golden_image();
    let world = p.root().join("kept-azure");

    let plan = run(&p, &["plan", "05-golden-image"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains(
            "COMPUTE_IMAGE_VERSION = `auto`: chosen by next-image-version when the run starts"
        ),
        "{}",
        plan.stdout
    );

    // The first week makes the network too; later weeks find it in the kept world.
    let week1 = weekly_rebuild(&p, &world, &["--with-dependencies"]);
    let week2 = weekly_rebuild(&p, &world, &[]);

    for (dir, version) in [(&week1, "1.0.0"), (&week2, "1.0.1")] {
        let state = read_json(&dir.join("state.json"));
        assert_eq!(state["simulated"], true, "{state}");
        assert_eq!(state["values"]["COMPUTE_IMAGE_VERSION"], version, "{state}");
        assert_eq!(state["sim_state"].as_str(), world.to_str(), "{state}");
        let plan = read_json(&dir.join("plan.json"));
        assert_eq!(plan["run_values"][0]["value"], version, "{plan}");
        let props = junit_properties(dir);
        let id = property(&props, "goldsmith.output.image-version-id").expect("image-version-id");
        assert!(
            id.ends_with(&format!("/images/win11-24h2-avd-m365/versions/{version}")),
            "{id}"
        );
        assert_eq!(
            property(&props, "goldsmith.value.COMPUTE_IMAGE_VERSION").as_deref(),
            Some(version)
        );
        let summary = std::fs::read_to_string(dir.join("summary.md")).expect("summary");
        assert!(summary.contains(&id), "{summary}");
    }

    // Week 2 built a new image: the VM and the publish ran again, only what stays
    // (resource group, gallery, definition) was already there.
    let state = read_json(&week2.join("state.json"));
    for op in [
        "create-build-vm",
        "install-m365-apps",
        "create-image-version",
        "delete-build-vm",
    ] {
        assert_eq!(op_status(&state, op), "succeeded", "{op}: {state}");
    }
    let done: Vec<&str> = state["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .filter(|o| o["status"] == "already-done")
        .map(|o| o["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        done,
        [
            "create-resource-group",
            "create-compute-gallery",
            "create-image-definition"
        ],
        "{state}"
    );
    assert_eq!(versions_in(&world), ["1.0.0", "1.0.1"]);
}

/// Makes install-m365-apps fail (its simulated script exits 1), or undoes it.
fn break_m365(p: &Project, broken: bool) {
    let path = p
        .root()
        .join("capabilities/compute/operations/install-m365-apps.yaml");
    let text = std::fs::read_to_string(&path).expect("op file");
    let (from, to) = (
        "# goldsmith-sim: download=m365-apps-payload:8m duration=17m\n",
        "# goldsmith-sim: download=m365-apps-payload:8m duration=17m exit=1\n",
    );
    let text = if broken {
        text.replacen(from, to, 1)
    } else {
        text.replacen(to, from, 1)
    };
    assert!(
        text.contains(if broken { to } else { from }),
        "the directive line is in the op"
    );
    std::fs::write(&path, text).expect("write op file");
}

#[test]
fn a_failed_simulated_run_resumed_keeps_its_version_and_its_azure() {
    let p = golden_image();
    break_m365(&p, true);
    let failed = run(
        &p,
        &args(&["run", "05-golden-image"], &["--with-dependencies"]),
    );
    assert_eq!(failed.code, 1, "{}{}", failed.stdout, failed.stderr);
    let first = p.latest_run_dir();
    assert_eq!(op_status(&p.state(), "install-m365-apps"), "failed");
    break_m365(&p, false);

    // Without --simulate the simulated run is not continued: exit 2, nothing ran.
    let refused = run(&p, &["resume", "05-golden-image"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused
            .stderr
            .contains("ran against goldsmith's simulated Azure")
            && refused.stderr.contains("--simulate"),
        "{}",
        refused.stderr
    );
    assert_eq!(p.run_dirs().len(), 1, "a refused resume makes no run");

    let resumed = run(&p, &args(&["resume", "05-golden-image"], &[]));
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert!(
        !resumed.stdout.contains("chosen by next-image-version"),
        "no new version is chosen: {}",
        resumed.stdout
    );
    let state = p.state();
    assert_eq!(state["values"]["COMPUTE_IMAGE_VERSION"], "1.0.0", "{state}");
    assert_eq!(state["simulated"], true, "{state}");
    assert_eq!(
        state["resumed_from"].as_str(),
        first.file_name().and_then(|n| n.to_str())
    );
    // The failed run's cleanup deleted its build VM (`delete-build-vm` is
    // `always`), so nothing is carried over: the VM is built again, in the
    // resumed run's copy of that run's simulated Azure, where what the
    // cleanup left (the gallery and image definition) is already done.
    assert!(
        resumed.stdout.contains("ran its cleanup"),
        "{}",
        resumed.stdout
    );
    let events = p.events();
    assert_eq!(
        events_of(&events, "op_attempt_started", "create-build-vm").len(),
        1,
        "the build VM is made again"
    );
    for op in ["create-compute-gallery", "create-image-definition"] {
        assert_eq!(op_status(&state, op), "already-done", "{op}: {state}");
    }
    for op in [
        "install-m365-apps",
        "create-image-version",
        "delete-build-vm",
    ] {
        assert_eq!(op_status(&state, op), "succeeded", "{op}: {state}");
    }
    let started = events
        .iter()
        .find(|e| e["type"] == "run_started")
        .expect("run_started");
    assert_eq!(started["simulated"], true, "{started}");
    assert_eq!(
        started["values"]["COMPUTE_IMAGE_VERSION"], "1.0.0",
        "{started}"
    );
    let id = property(
        &junit_properties(&p.latest_run_dir()),
        "goldsmith.output.image-version-id",
    )
    .expect("image-version-id");
    assert!(id.ends_with("/versions/1.0.0"), "{id}");
}

#[test]
fn a_real_run_is_not_resumed_with_simulate_and_says_it_was_real() {
    let p = Project::new();
    p.shell_op("a", "", "echo a").shell_op("b", "", "exit 1");
    p.module("m", "    - id: a\n    - id: b\n");
    let r = p.run(&["run", "m"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let dir = p.latest_run_dir();
    assert_eq!(p.state()["simulated"], false);
    assert_eq!(
        property(&junit_properties(&dir), "goldsmith.simulated").as_deref(),
        Some("false")
    );
    let summary = std::fs::read_to_string(dir.join("summary.md")).expect("summary");
    assert!(!summary.contains("Simulated run"), "{summary}");

    let refused = p.run(&["resume", "m", "--simulate"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused
            .stderr
            .contains("ran against your Azure subscription")
            && refused.stderr.contains("without --simulate"),
        "{}",
        refused.stderr
    );
    assert_eq!(p.run_dirs().len(), 1, "a refused resume makes no run");
}

#[test]
fn a_simulated_run_is_marked_in_state_events_summary_and_junit() {
    let p = Project::new();
    p.shell_op("a", "", "echo a");
    p.module("m", "    - id: a\n");
    let r = p.run(&["run", "m", "--simulate"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(" on the simulated Azure: module `m`"),
        "{}",
        r.stdout
    );
    let dir = p.latest_run_dir();
    assert_eq!(p.state()["simulated"], true);
    let status = p.run(&["status"]);
    assert!(
        status
            .stdout
            .contains("simulated: ran against goldsmith's simulated Azure"),
        "{}",
        status.stdout
    );
    let events = p.events();
    assert_eq!(events[0]["type"], "run_started");
    assert_eq!(events[0]["simulated"], true, "{}", events[0]);
    let summary = std::fs::read_to_string(dir.join("summary.md")).expect("summary");
    assert!(
        summary.starts_with("> [!WARNING]\n> **Simulated run:**"),
        "{summary}"
    );
    assert_eq!(
        property(&junit_properties(&dir), "goldsmith.simulated").as_deref(),
        Some("true")
    );
}

#[test]
fn a_kept_simulated_azure_serves_one_run_at_a_time_and_only_its_own_folder() {
    let p = Project::new();
    p.shell_op("slow", "", "sleep 30")
        .shell_op("quick", "", "az group list --output none");
    p.module("slow", "    - id: slow\n")
        .module("quick", "    - id: quick\n");
    let world = p.root().join("world");
    let world_arg = world.to_str().expect("utf-8");

    let mut first = p
        .command(&["run", "slow", "--simulate", "--sim-state", world_arg])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("first run starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while p.run_dirs().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let second = p.run(&["run", "quick", "--simulate", "--sim-state", world_arg]);
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(first.id().to_string())
        .status();
    let _ = first.wait();
    assert_eq!(second.code, 2, "{}{}", second.stdout, second.stderr);
    assert!(
        second
            .stderr
            .contains("another goldsmith run is using this simulated Azure"),
        "{}",
        second.stderr
    );

    // Once the first run ended, the world is free; a folder that is not a world is refused.
    let again = p.run(&["run", "quick", "--simulate", "--sim-state", world_arg]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    let not_a_world = p.root().join("capabilities");
    let not_a_world = not_a_world.to_str().expect("utf-8");
    let other = p.run(&["run", "quick", "--simulate", "--sim-state", not_a_world]);
    assert_eq!(other.code, 2, "{}{}", other.stdout, other.stderr);
    assert!(
        other.stderr.contains("neither empty nor a simulated Azure"),
        "{}",
        other.stderr
    );
}

#[test]
fn an_explicit_version_wins_over_auto() {
    let p = golden_image();
    let r = p.run_env(
        &["plan", "05-golden-image", "--json"],
        &[("COMPUTE_IMAGE_VERSION", "1.0.7")],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let plan: Value = serde_json::from_str(&r.stdout).expect("plan json");
    assert!(plan.get("run_values").is_none(), "{plan}");
    let r = p.run(&["plan", "05-golden-image", "--json"]);
    let plan: Value = serde_json::from_str(&r.stdout).expect("plan json");
    assert_eq!(plan["run_values"][0]["asked"], "auto", "{plan}");
    assert_eq!(plan["run_values"][0]["value"], Value::Null, "{plan}");
}

/// A project whose module `m` chooses `APP_VERSION` (config `auto`) with the shell
/// operation `choose` and reports it back through `publish`.
fn chooser_project(choose_script: &str) -> Project {
    let p = Project::new();
    p.file("config.yaml", "app:\n  version: auto\n");
    p.shell_op("choose", "", choose_script);
    p.shell_op(
        "publish",
        "",
        "echo \"publishing {{APP_VERSION}}\"\necho \"##goldsmith-output:image-version-id=/versions/{{APP_VERSION}}\"",
    );
    p.file(
        "modules/m/module.yaml",
        "module:\n  id: m\n  run_values:\n    - name: APP_VERSION\n      from: choose\n      when: [auto]\n  operations:\n    - publish\n",
    );
    p
}

#[test]
fn an_operations_output_is_a_step_output_in_the_action() {
    let p = chooser_project("echo \"asked $GOLDSMITH_RUN_VALUE\" >&2\necho 2.3.4");
    let r = common::run_action(&p, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("APP_VERSION = 2.3.4 (`auto`, chosen by choose)"),
        "{}",
        r.stdout
    );
    // Read the way the runner reads GITHUB_OUTPUT.
    let runner = p.root().join("_runner");
    let outputs = common::parse_file_command(
        &std::fs::read_to_string(runner.join("output")).expect("GITHUB_OUTPUT"),
    );
    assert_eq!(
        outputs["image-version-id"], "/versions/2.3.4",
        "{outputs:?}"
    );
    let summary = std::fs::read_to_string(runner.join("step_summary")).expect("summary");
    assert!(
        summary.contains("<code>/versions/2.3.4</code>"),
        "{summary}"
    );
    assert!(
        summary.contains("<code>APP_VERSION</code> = <code>2.3.4</code>"),
        "{summary}"
    );
}

#[test]
fn a_chooser_that_fails_stops_the_run_before_anything_runs() {
    let p = chooser_project("echo 'cannot reach the gallery' >&2\nexit 4");
    let r = p.run(&["run", "m"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "cannot choose APP_VERSION (`auto`) with operation `choose`: exit code 4: cannot reach the gallery; nothing ran"
        ) && r.stderr.contains("APP_VERSION=<value> in the environment"),
        "{}",
        r.stderr
    );
    assert!(p.run_dirs().is_empty(), "no run directory");

    // A chooser that prints the word it was asked for has chosen nothing.
    let p = chooser_project("echo auto");
    let r = p.run(&["run", "m"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("`auto`, is not a value"), "{}", r.stderr);

    // An explicit value skips the chooser altogether.
    let r = p.run_env(&["run", "m"], &[("APP_VERSION", "9.9.9")]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(p.state().get("values").is_none(), "{}", p.state());
}

#[test]
fn run_values_are_checked_at_their_line() {
    let p = Project::new();
    p.file("config.yaml", "app:\n  version: auto\n");
    p.shell_op("publish", "", "echo {{APP_VERSION}}");
    p.file(
        "capabilities/test/operations/in-vm.yaml",
        "operation:\n  id: in-vm\n  kind: run-command\n  target: { vm: v, resource_group: g }\n  powershell:\n    content: Write-Output 1\n",
    );
    p.file(
        "modules/m/module.yaml",
        "module:\n  id: m\n  run_values:\n    - name: APP_VERSION\n      from: chose\n      when: [auto]\n    - name: MISSING\n      from: publish\n      when: [auto]\n    - name: app.version\n      from: publish\n      when: [auto]\n  operations:\n    - publish\n",
    );
    let r = p.run(&["validate"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    for expected in [
        "modules/m/module.yaml:5:13: error: no operation has id `chose`",
        "modules/m/module.yaml:7:13: error: run value `MISSING` is not a config value",
        "modules/m/module.yaml:10:13: error: run value `app.version` is not a variable name",
    ] {
        assert!(r.stderr.contains(expected), "{expected}\n{}", r.stderr);
    }
    p.file(
        "modules/m/module.yaml",
        "module:\n  id: m\n  run_values:\n    - { name: APP_VERSION, from: in-vm, when: [auto] }\n  operations:\n    - publish\n",
    );
    let r = p.run(&["validate"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("run value `APP_VERSION` comes from `in-vm`, a run-command operation"),
        "{}",
        r.stderr
    );
}

/// A scenario where the golden image's gallery holds these versions already.
fn gallery_with(versions: &[&str]) -> String {
    let mut text = String::from(
        "exists:\n  - az group create -n rg-avd-weu-001 -l westeurope\n  - az sig create -g rg-avd-weu-001 --gallery-name gal_avd_weu_001 -l westeurope\n  - >-\n    az sig image-definition create -g rg-avd-weu-001 --gallery-name gal_avd_weu_001\n    --gallery-image-definition win11-24h2-avd-m365 -l westeurope --publisher Contoso --offer o --sku s\n    --os-type Windows --os-state Generalized --hyper-v-generation V2\n",
    );
    for v in versions {
        text.push_str(&format!(
            "  - >-\n    az sig image-version create -g rg-avd-weu-001 --gallery-name gal_avd_weu_001\n    --gallery-image-definition win11-24h2-avd-m365 --gallery-image-version {v} -l westeurope\n"
        ));
    }
    text
}

/// The version a run of 05-golden-image chooses for `asked` in a gallery holding `versions`
/// (the run does only its first operation).
fn chosen(asked: &str, versions: &[&str]) -> String {
    let p = golden_image();
    p.file("scenario.yaml", &gallery_with(versions));
    let scenario = p.root().join("scenario.yaml");
    let r = p.run_env(
        &args(
            &["run", "05-golden-image"],
            &[
                "--sim-scenario",
                scenario.to_str().expect("utf-8"),
                "--only",
                "create-resource-group",
            ],
        ),
        &[("COMPUTE_IMAGE_VERSION", asked), SECRETS[0]],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    p.state()["values"]["COMPUTE_IMAGE_VERSION"]
        .as_str()
        .expect("a chosen version")
        .to_string()
}

#[test]
fn auto_counts_versions_as_numbers_and_auto_date_counts_todays_builds() {
    // 1.10.0 is above 1.2.9 (a text sort would say otherwise).
    assert_eq!(chosen("auto", &["1.2.9", "1.10.0", "1.9.12"]), "1.10.1");
    let today = || jiff::Timestamp::now().strftime("%Y.%-m%d").to_string();
    let before = today();
    let second = chosen("auto-date", &["1.0.0", &format!("{before}.1")]);
    let after = today();
    assert!(
        second == format!("{before}.2") || second == format!("{after}.1"),
        "{second} (today {before})"
    );
}
