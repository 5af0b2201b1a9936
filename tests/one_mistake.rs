//! One mistake, one message: a misspelled config key is reported once, at its
//! line, not at every placeholder it leaves undefined; the uses of an
//! undefined placeholder collapse into one error; and a broken file no module
//! of the run uses does not stop the run (`validate` still reports it).

mod common;

use std::path::Path;

use common::{Project, copy_dir};

/// The shipped project with `azure.resource_group` spelled `resource_grup`.
fn library_with_typo() -> Project {
    let p = Project::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["capabilities", "modules"] {
        copy_dir(&repo.join(dir), &p.root().join(dir));
    }
    let config = std::fs::read_to_string(repo.join("config.yaml")).expect("config");
    assert!(config.contains("\n  resource_group: "));
    p.file(
        "config.yaml",
        &config.replacen("\n  resource_group: ", "\n  resource_grup: ", 1),
    );
    p
}

fn error_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(": error: ")).collect()
}

#[test]
fn a_misspelled_config_key_is_one_error_at_its_line() {
    let p = library_with_typo();
    let line = std::fs::read_to_string(p.root().join("config.yaml"))
        .expect("config")
        .lines()
        .position(|l| l.starts_with("  resource_grup:"))
        .expect("the key")
        + 1;
    let r = p.run(&["validate"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let errors = error_lines(&r.stderr);
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    let prefix = format!(
        "config.yaml:{line}:3: error: `resource_grup` (AZURE_RESOURCE_GRUP) is used by no operation; `{{{{AZURE_RESOURCE_GROUP}}}}` is used by "
    );
    assert!(errors[0].starts_with(&prefix), "{}", errors[0]);
    let uses: usize = errors[0][prefix.len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(uses > 50, "{}", errors[0]);
    assert!(
        r.stderr
            .contains("  = help: rename `resource_grup` to `resource_group`"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("\n1 error, "), "{}", r.stderr);

    // A run says the same once, and nothing runs.
    let r = p.run(&["run", "00-resource-group"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert_eq!(error_lines(&r.stderr).len(), 1, "{}", r.stderr);
    assert!(!p.root().join("artifacts/runs").exists());
}

#[test]
fn the_uses_of_an_undefined_placeholder_are_one_error_with_a_count() {
    let p = Project::new();
    p.file("config.yaml", "app:\n  name: x\n");
    p.shell_op("a", "", "echo {{VAULT_URL}}\necho {{VAULT_URL}} again");
    p.shell_op(
        "b",
        "",
        "echo {{VAULT_URL}}\necho {{VAULT_URL}}\necho {{VAULT_URL}}",
    );
    p.module("m", "    - a\n    - b\n");
    let r = p.run(&["plan", "m"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let errors = error_lines(&r.stderr);
    assert_eq!(
        errors,
        [
            "capabilities/test/operations/a.yaml:5:10: error: undefined placeholder `{{VAULT_URL}}` (5 uses in 2 files; also at capabilities/test/operations/a.yaml:6:10, capabilities/test/operations/b.yaml:5:10, capabilities/test/operations/b.yaml:6:10 and 1 more)"
        ],
        "{}",
        r.stderr
    );
}

#[test]
fn a_broken_operation_no_module_uses_does_not_stop_a_run() {
    let p = Project::new();
    p.shell_op("good", "", "echo fine");
    p.module("m", "    - good\n");
    p.file(
        "capabilities/test/operations/broken.yaml",
        "operation:\n  id: broken\n  kind: shel\n  script: echo {{NOPE}}\n",
    );
    let r = p.run(&["run", "m"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "goldsmith: note: 1 error in a file that `m` does not use (capabilities/test/operations/broken.yaml); `goldsmith validate` shows it"
        ),
        "{}",
        r.stderr
    );
    assert!(error_lines(&r.stderr).is_empty(), "{}", r.stderr);
    assert_eq!(p.run(&["plan", "m"]).code, 0);

    let r = p.run(&["validate"]);
    assert_eq!(r.code, 2);
    assert!(
        error_lines(&r.stderr)
            .iter()
            .any(|l| l.starts_with("capabilities/test/operations/broken.yaml:3:")),
        "{}",
        r.stderr
    );

    // A module that lists it sees why it cannot run.
    p.module("m", "    - good\n    - broken\n");
    let r = p.run(&["run", "m"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        error_lines(&r.stderr)
            .iter()
            .any(|l| l.starts_with("capabilities/test/operations/broken.yaml:3:")),
        "{}",
        r.stderr
    );
}
