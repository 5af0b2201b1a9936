//! Values never execute in bash: each context where bash would evaluate a
//! value as arithmetic, a variable name or code is first shown to execute a
//! hostile value in the real bash (the oracle), then goldsmith is shown to
//! refuse that value before anything runs, and to run a plain value.

mod common;

use std::path::Path;
use std::process::Command;

use common::Project;

/// A value that runs `touch <marker>` wherever bash evaluates it as arithmetic or a name.
fn hostile(marker: &Path) -> String {
    format!("a[$(touch {})]", marker.display())
}

/// (script with `{{A}}`, the same as bash would get it with the value by reference, a plain value).
const NUMBER_AND_NAME_CONTEXTS: &[(&str, &str, &str)] = &[
    (
        r#"[[ "{{A}}" -gt 0 ]] || true"#,
        r#"[[ "${A}" -gt 0 ]] || true"#,
        "3",
    ),
    (
        r#"[[ 1 -eq {{A}} ]] || true"#,
        r#"[[ 1 -eq "${A}" ]] || true"#,
        "-1",
    ),
    (
        r#"[[ -v "{{A}}" ]] || true"#,
        r#"[[ -v "${A}" ]] || true"#,
        "HOME_X",
    ),
    (
        r#"[ -v "{{A}}" ] || true"#,
        r#"[ -v "${A}" ] || true"#,
        "HOME_X",
    ),
    (r#"let "n={{A}}" || true"#, r#"let "n=${A}" || true"#, "4"),
    (
        r#"arr=(1 2); arr[{{A}}]=3"#,
        r#"arr=(1 2); arr["${A}"]=3"#,
        "0",
    ),
    (
        r#"arr=(1 2); echo "${arr[{{A}}]}""#,
        r#"arr=(1 2); echo "${arr["${A}"]}""#,
        "1",
    ),
    (
        r#"s=abcdef; echo "${s:{{A}}}""#,
        r#"s=abcdef; echo "${s:"${A}"}""#,
        "2",
    ),
    (
        r#"s=abcdef; echo "${s:1:{{A}}}""#,
        r#"s=abcdef; echo "${s:1:"${A}"}""#,
        "2",
    ),
    ("declare -i n\nn={{A}}", "declare -i n\nn=\"${A}\"", "5"),
    (
        r#"printf -v "{{A}}" %s x"#,
        r#"printf -v "${A}" %s x"#,
        "out",
    ),
    (
        r#"read -r {{A}} <<< hi"#,
        r#"read -r "${A}" <<< hi"#,
        "line",
    ),
    (
        r#"f() { local {{A}}=1; }; f"#,
        r#"f() { local "${A}"=1; }; f"#,
        "v",
    ),
    (
        r#"declare -n r={{A}}; echo "$r""#,
        r#"declare -n r="${A}"; echo "$r""#,
        "HOME",
    ),
    (r#"echo "${!{{A}}}""#, r#"echo "${!A}""#, "HOME"),
    (r#"echo $(( {{A}} + 1 ))"#, r#"echo $(( ${A} + 1 ))"#, "41"),
    (
        r#"for (( i = 0; i < {{A}}; i++ )); do :; done"#,
        r#"for (( i = 0; i < ${A}; i++ )); do :; done"#,
        "2",
    ),
];

/// (script with `{{A}}`, as bash would get it): the value is code there; always refused.
const CODE_CONTEXTS: &[(&str, &str)] = &[
    (r#"eval "echo {{A}}""#, r#"eval "echo ${A}""#),
    (r#"bash -c "echo {{A}}""#, r#"bash -c "echo ${A}""#),
    (r#"sh -c "echo {{A}}""#, r#"sh -c "echo ${A}""#),
    (r#"echo "{{A}}" | bash"#, r#"echo "${A}" | bash"#),
    ("bash <<EOF\necho {{A}}\nEOF", "bash <<EOF\necho ${A}\nEOF"),
    (r#"source <(echo "{{A}}")"#, r#"source <(echo "${A}")"#),
    (r#"trap "echo {{A}}" EXIT"#, r#"trap "echo ${A}" EXIT"#),
];

/// Runs `script` in the real bash with `A=value`, in `dir`.
fn bash(dir: &Path, script: &str, value: &str) {
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("A", value)
        .current_dir(dir)
        .output()
        .expect("bash runs");
}

fn project(script: &str, config: &str) -> Project {
    let p = Project::new();
    p.shell_op("op", "", script);
    p.module("m", "    - op\n");
    p.file("config.yaml", config);
    p
}

#[test]
fn the_oracle_bash_executes_each_hostile_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, (_, by_reference, _)) in NUMBER_AND_NAME_CONTEXTS.iter().enumerate() {
        let marker = dir.path().join(format!("n{i}"));
        bash(dir.path(), by_reference, &hostile(&marker));
        assert!(
            marker.exists(),
            "bash did not execute the value in: {by_reference}"
        );
    }
    for (i, (_, by_reference)) in CODE_CONTEXTS.iter().enumerate() {
        let marker = dir.path().join(format!("c{i}"));
        bash(
            dir.path(),
            by_reference,
            &format!("$(touch {})", marker.display()),
        );
        assert!(
            marker.exists(),
            "bash did not execute the value in: {by_reference}"
        );
    }
}

#[test]
fn a_hostile_config_value_in_a_number_or_name_context_is_refused_before_anything_runs() {
    for (script, _, _) in NUMBER_AND_NAME_CONTEXTS {
        let scratch = tempfile::tempdir().expect("tempdir");
        let marker = scratch.path().join("pwned");
        let p = project(script, &format!("a: '{}'\n", hostile(&marker)));
        let r = p.run(&["run", "m"]);
        assert_eq!(r.code, 2, "{script}\n{}{}", r.stdout, r.stderr);
        assert!(
            r.stderr
                .contains("and its value (from config.yaml:1:4) is not a plain"),
            "{script}\n{}",
            r.stderr
        );
        assert!(!marker.exists(), "the value ran: {script}");
        assert!(p.run_dirs().is_empty(), "a run started: {script}");
        let v = p.run(&["validate"]);
        assert_eq!(v.code, 2, "{script}\n{}", v.stderr);
        assert!(!marker.exists(), "the value ran under validate: {script}");
    }
}

#[test]
fn an_environment_override_is_checked_too_and_named() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let marker = scratch.path().join("pwned");
    let p = project(r#"[[ "{{A}}" -gt 0 ]] && echo positive"#, "a: 1\n");
    let r = p.run_env(&["run", "m"], &[("A", &hostile(&marker))]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "capabilities/test/operations/op.yaml:5:9: error: `{{A}}` is an operand of `-gt` in `[[ ]]`, which bash evaluates as arithmetic, and its value (from environment variable A) is not a plain integer"
        ),
        "{}",
        r.stderr
    );
    assert!(!marker.exists());
    // resume plans again, with the same check.
    let first = p.run(&["run", "m"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let r = p.run_env(&["resume", "m"], &[("A", &hostile(&marker))]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("environment variable A"), "{}", r.stderr);
    assert!(!marker.exists());
}

#[test]
fn plain_values_run_in_every_number_or_name_context() {
    for (script, _, plain) in NUMBER_AND_NAME_CONTEXTS {
        let p = project(script, &format!("a: '{plain}'\nhome_x: y\n"));
        let r = p.run(&["run", "m"]);
        assert_eq!(r.code, 0, "{script}\n{}{}", r.stdout, r.stderr);
    }
}

#[test]
fn code_contexts_are_validate_errors_whatever_the_value() {
    for (script, _) in CODE_CONTEXTS {
        let p = project(script, "a: hello\n");
        let v = p.run(&["validate"]);
        assert_eq!(v.code, 2, "{script}\n{}", v.stderr);
        assert!(
            v.stderr.contains("which runs its value as code"),
            "{script}\n{}",
            v.stderr
        );
        let r = p.run(&["run", "m"]);
        assert_eq!(r.code, 2, "{script}\n{}", r.stderr);
        assert!(p.run_dirs().is_empty(), "a run started: {script}");
    }
}
