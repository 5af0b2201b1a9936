//! A module entry's `when:` switches an optional step on or off from config,
//! with the real binary on a temporary project.

mod common;

use common::{Project, op_status};

/// Ops `a`, `extra` (switched by `features.extra`) and `after` (depends on
/// `extra`); each leaves `<id>.ran` in the project root when it runs.
fn project(extra: &str) -> Project {
    let p = Project::new();
    for id in ["a", "extra", "after"] {
        let expected = if id == "extra" { 300 } else { 10 };
        p.shell_op(
            id,
            &format!("duration: {{ expected: {expected} }}"),
            &format!("touch \"$MARKS/{id}.ran\""),
        );
    }
    p.module(
        "m",
        "    - a\n    - id: extra\n      when: \"{{FEATURES_EXTRA}}\"\n    - id: after\n      depends_on: [extra]\n",
    );
    p.file(
        "config.yaml",
        &format!(
            "marks: {}\nfeatures:\n  extra: {extra}\n",
            p.root().display()
        ),
    );
    p
}

fn ran(p: &Project, id: &str) -> bool {
    p.root().join(format!("{id}.ran")).exists()
}

#[test]
fn a_switched_off_entry_is_skipped_everywhere_and_blocks_nothing() {
    let p = project("false");
    let plan = p.run(&["plan", "m"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains("(off: features.extra is false)")
            && plan
                .stdout
                .contains("3 operations (1 switched off by `when`) in 3 stages"),
        "{}",
        plan.stdout
    );
    // What does not run takes no time in the estimate.
    let json = p.run(&["plan", "m", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).expect("plan json");
    assert_eq!(json["estimated_duration"], 20.0, "{json}");
    assert_eq!(json["ops_without_estimate"], 0, "{json}");
    // Nor is it a step of the longest chain the estimate follows.
    assert_eq!(json["critical_path"], serde_json::json!(["a", "after"]));
    assert!(
        plan.stdout.contains("(longest chain: a -> after)"),
        "{}",
        plan.stdout
    );
    assert_eq!(json["ops"][1]["off"], "off: features.extra is false");

    let run = p.run(&["run", "m"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(ran(&p, "a") && ran(&p, "after"));
    assert!(!ran(&p, "extra"), "a switched-off op ran");
    let why = "off: features.extra is false";
    assert!(
        run.stdout.contains(&format!("extra: {why}")),
        "{}",
        run.stdout
    );

    let state = p.state();
    assert_eq!(op_status(&state, "extra"), "skipped");
    assert_eq!(op_status(&state, "after"), "succeeded");
    let extra = state["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .find(|o| o["id"] == "extra")
        .expect("extra in state");
    assert_eq!(extra["reason"], why);
    let dir = p.latest_run_dir();
    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("junit");
    assert!(
        junit.contains(&format!("<skipped message=\"{why}\"")),
        "{junit}"
    );
    let summary = std::fs::read_to_string(dir.join("summary.md")).expect("summary");
    assert!(summary.contains(why), "{summary}");
}

#[test]
fn a_switched_on_entry_runs_and_the_environment_can_switch_it() {
    let p = project("true");
    let run = p.run(&["run", "m"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(ran(&p, "extra"));
    assert_eq!(op_status(&p.state(), "extra"), "succeeded");

    let p = project("true");
    let run = p.run_env(&["run", "m"], &[("FEATURES_EXTRA", "false")]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(!ran(&p, "extra"));
    assert!(
        run.stdout
            .contains("off: FEATURES_EXTRA (environment) is false"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_when_that_is_not_a_boolean_is_an_error_naming_the_value_and_the_key() {
    let p = project("\"yes\"");
    let run = p.run(&["run", "m"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains(
            "modules/m/module.yaml:7:13: error: `when` of `extra` is `yes` (from features.extra at config.yaml:3:10), not `true` or `false`"
        ),
        "{all}"
    );
    assert!(!ran(&p, "a"), "something ran despite the error");
}

#[test]
fn validate_strict_checks_the_placeholders_of_when() {
    let p = project("true");
    p.module(
        "m",
        "    - a\n    - id: extra\n      when: \"{{FEATURES_EXTRAS}}\"\n    - id: after\n      when: 1\n",
    );
    let run = p.run(&["validate", "--strict"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains(
            "modules/m/module.yaml:7:14: error: undefined placeholder `{{FEATURES_EXTRAS}}`"
        ),
        "{all}"
    );
    assert!(
        all.contains(
            "modules/m/module.yaml:9:13: error: `when` must be `true`, `false` or a placeholder"
        ),
        "{all}"
    );
}

#[test]
fn a_module_whose_only_skips_are_switched_off_counts_as_run_for_its_dependents() {
    let p = project("false");
    p.shell_op("top-op", "", "true");
    p.file(
        "modules/top/module.yaml",
        "module:\n  id: top\n  dependencies: [m]\n  operations:\n    - top-op\n",
    );
    let refused = p.run(&["run", "top"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert_eq!(p.run(&["run", "m"]).code, 0);
    let r = p.run(&["run", "top"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(op_status(&p.state(), "top-op"), "succeeded");
}
