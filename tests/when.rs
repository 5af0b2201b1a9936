//! A module entry's `when:` switches an optional step on or off from config,
//! with the real binary on a temporary project.

mod common;

use common::{Project, op_status};

/// Ops `a`, `extra` (switched by `features.extra`) and `after` (depends on
/// `extra`); each leaves `<id>.ran` in the project root when it runs.
fn project(extra: &str) -> Project {
    let p = Project::new();
    for id in ["a", "extra", "after"] {
        p.shell_op(id, "", &format!("touch \"$MARKS/{id}.ran\""));
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
        plan.stdout.contains("(off: features.extra is false)"),
        "{}",
        plan.stdout
    );

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
