//! Module dependencies: `dependencies:` in a module file, checked by `validate`,
//! required by `run`, and run first by `run --with-dependencies`.

mod common;

use common::{Project, op_status};
use serde_json::Value;

/// `modules/<folder>/module.yaml` with id `id`, the given dependencies and entries.
fn module(p: &Project, folder: &str, id: &str, deps: &str, entries: &str) {
    p.file(
        &format!("modules/{folder}/module.yaml"),
        &format!("module:\n  id: {id}\n  dependencies: {deps}\n  operations:\n{entries}"),
    );
}

/// base (00-base) ← network (01-network) ← image (02-image); all three list `shared`.
fn chain() -> Project {
    let p = Project::new();
    for id in ["shared", "make-base", "make-network", "make-image"] {
        p.shell_op(
            id,
            "",
            &format!("echo {id} >> \"$GOLDSMITH_RUN_DIR/../../order-{id}\""),
        );
    }
    module(
        &p,
        "00-base",
        "base",
        "[]",
        "    - shared\n    - make-base\n",
    );
    module(
        &p,
        "01-network",
        "network",
        "[\"00-base\"]",
        "    - shared\n    - make-network\n",
    );
    module(
        &p,
        "02-image",
        "image",
        "[network, 00-base]",
        "    - shared\n    - make-image\n",
    );
    p
}

fn plan_json(p: &Project) -> Value {
    let dir = p.latest_run_dir();
    serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).expect("plan.json"))
        .expect("json")
}

#[test]
fn validate_reports_unknown_dependencies_and_cycles_at_their_line() {
    let p = Project::new();
    p.shell_op("a", "", "true");
    module(&p, "00-one", "one", "[two]", "    - a\n");
    module(&p, "01-two", "two", "[00-one]", "    - a\n");
    module(&p, "02-three", "three", "[netwrk]", "    - a\n");
    module(&p, "03-network", "network", "[]", "    - a\n");
    let r = p.run(&["validate"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "modules/01-two/module.yaml:3:18: error: module dependencies form a cycle: one → two → one"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.matches("form a cycle").count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "modules/02-three/module.yaml:3:18: error: `three` depends on `netwrk`, which is not a module"
        ) && r.stderr.contains("did you mean `network`?"),
        "{}",
        r.stderr
    );
}

#[test]
fn run_refuses_until_the_dependencies_succeeded_and_names_them_in_order() {
    let p = chain();
    let r = p.run(&["run", "02-image"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("`image` depends on `00-base` and `01-network` with no succeeded run")
            && r.stderr.contains(
                "run `goldsmith run 00-base`, then `goldsmith run 01-network` first, or add --with-dependencies"
            ),
        "{}",
        r.stderr
    );
    assert!(p.run_dirs().is_empty(), "nothing ran");

    assert_eq!(p.run(&["run", "base"]).code, 0);
    let r = p.run(&["run", "02-image"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("`image` depends on `01-network` with no succeeded run")
            && r.stderr.contains("run `goldsmith run 01-network` first"),
        "{}",
        r.stderr
    );
    assert_eq!(p.run(&["run", "01-network"]).code, 0);
    let r = p.run(&["run", "02-image"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn a_dependency_run_only_in_part_does_not_count() {
    let p = chain();
    assert_eq!(p.run(&["run", "00-base", "--only", "shared"]).code, 0);
    let r = p.run(&["run", "01-network"]);
    assert_eq!(r.code, 2, "make-base was skipped: {}", r.stderr);
}

#[test]
fn a_simulated_run_does_not_count_for_a_real_one() {
    let p = chain();
    assert_eq!(p.run(&["run", "00-base"]).code, 0);
    // The field simulated runs write in state.json.
    let state = p.latest_run_dir().join("state.json");
    let mut json: Value =
        serde_json::from_str(&std::fs::read_to_string(&state).expect("state")).expect("json");
    json["simulated"] = Value::Bool(true);
    std::fs::write(&state, json.to_string()).expect("write");
    let r = p.run(&["run", "01-network"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("`network` depends on `00-base`"),
        "{}",
        r.stderr
    );
}

#[test]
fn with_dependencies_runs_them_first_in_one_run_and_a_shared_operation_once() {
    let p = chain();
    let r = p.run(&["run", "image", "--with-dependencies"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("goldsmith: --with-dependencies: base, network first, then image"),
        "{}",
        r.stdout
    );
    assert_eq!(p.run_dirs().len(), 1, "one run");
    let plan = plan_json(&p);
    assert_eq!(plan["module"]["id"], "image");
    assert_eq!(plan["dependencies"], serde_json::json!(["base", "network"]));
    let ops: Vec<(&str, &str)> = plan["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .map(|o| {
            (
                o["id"].as_str().expect("id"),
                o["module"].as_str().expect("module"),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [
            ("shared", "base"),
            ("make-base", "base"),
            ("make-network", "network"),
            ("make-image", "image"),
        ]
    );
    let shared = std::fs::read_to_string(p.root().join("artifacts/order-shared")).expect("ran");
    assert_eq!(shared, "shared\n", "the shared operation ran once");
    let state = p.state();
    for (id, _) in ops {
        assert_eq!(op_status(&state, id), "succeeded", "{id}");
    }
    let r = p.run(&["plan", "image", "--with-dependencies"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for line in [
        "with its dependencies first: base, network (an operation several modules list runs once, for the first)",
        "stage 1 (module base)",
        "stage 3 (module network)",
        "stage 4",
    ] {
        assert!(r.stdout.lines().any(|l| l == line), "{line}:\n{}", r.stdout);
    }
    // The combined run counts for each module it ran.
    let r = p.run(&["run", "image"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn a_simulated_run_needs_with_dependencies_or_a_scenario() {
    let p = chain();
    let r = p.run(&["run", "01-network", "--simulate"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("a simulated run starts from an empty Azure; add --with-dependencies"),
        "{}",
        r.stderr
    );
    let r = p.run(&["run", "01-network", "--simulate", "--with-dependencies"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    p.file("modules/01-network/sim-scenario.yaml", "exists: []\n");
    let r = p.run(&["run", "01-network", "--simulate"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

/// The `--help` example, on a copy of this repository's modules.
#[test]
fn the_golden_image_plans_with_its_dependencies() {
    let p = Project::new();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = std::process::Command::new("cp")
        .args(["-r", "capabilities", "modules", "config.yaml"])
        .arg(p.root())
        .current_dir(repo)
        .status()
        .expect("cp");
    assert!(status.success());
    let r = p.run(&["plan", "05-golden-image", "--with-dependencies", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plan: Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(
        plan["dependencies"],
        serde_json::json!(["resource-group", "networking"])
    );
    let ops = plan["ops"].as_array().expect("ops");
    let count = |id: &str| ops.iter().filter(|o| o["id"] == id).count();
    assert_eq!(count("create-resource-group"), 1);
    assert_eq!(ops[0]["module"], "resource-group");
    assert_eq!(ops.last().expect("ops")["id"], "delete-build-vm");
}
