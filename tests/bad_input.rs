//! Bad input never runs anything: every mistake in the user's files gives exit
//! code 2, a `file:line:col` diagnostic with what to do, and no script starts.
//!
//! Each project's operations would `touch` a marker file if they ever ran; every
//! test checks that the marker and `artifacts/runs` do not exist afterwards.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{Project, Run};

/// The script every operation runs: it leaves `ran` in the project root.
fn marker_script(p: &Project) -> String {
    format!("touch '{}'", marker(p).display())
}

fn marker(p: &Project) -> PathBuf {
    p.root().join("ran")
}

/// A shell operation `id` (plus `extra` fields) that would leave the marker.
fn op(p: &Project, id: &str, extra: &str) {
    p.shell_op(id, extra, &marker_script(p));
}

#[track_caller]
fn assert_nothing_ran(p: &Project) {
    assert!(!marker(p).exists(), "an operation ran");
    assert!(
        !p.root().join("artifacts/runs").exists(),
        "a run directory was created"
    );
}

/// The lines of the diagnostic whose first line is `headline` (up to the blank line after it).
#[track_caller]
fn block<'a>(stderr: &'a str, headline: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = stderr.lines().collect();
    let Some(start) = lines.iter().position(|l| *l == headline) else {
        panic!("no line\n{headline}\nin stderr:\n{stderr}");
    };
    lines[start..]
        .iter()
        .take_while(|l| !l.is_empty())
        .copied()
        .collect()
}

/// `path:line:col: error: …` lines.
fn error_headlines(stderr: &str) -> Vec<&str> {
    let number = |s: Option<&str>| s.is_some_and(|s| s.parse::<u32>().is_ok());
    stderr
        .lines()
        .filter(|l| {
            l.split_once(": error: ").is_some_and(|(location, _)| {
                let mut parts = location.rsplitn(3, ':');
                number(parts.next()) && number(parts.next()) && parts.next().is_some()
            })
        })
        .collect()
}

/// Each `(headline, help)` is printed, help line included; no other error is.
#[track_caller]
fn assert_diagnostics(out: &Run, expected: &[(&str, Option<&str>)]) {
    for (headline, help) in expected {
        let lines = block(&out.stderr, headline);
        if let Some(help) = help {
            let help_line = format!("  = help: {help}");
            assert!(
                lines.contains(&help_line.as_str()),
                "no help line\n{help_line}\nunder {headline}; stderr:\n{}",
                out.stderr
            );
        }
    }
    assert_eq!(
        error_headlines(&out.stderr).len(),
        expected.len(),
        "error count; stderr:\n{}",
        out.stderr
    );
}

/// `validate` and `run m` both exit 2 with exactly these errors, and nothing runs.
#[track_caller]
fn assert_rejected(p: &Project, expected: &[(&str, Option<&str>)]) {
    for args in [&["validate"][..], &["run", "m"][..]] {
        let out = p.run(args);
        assert_eq!(out.code, 2, "{args:?}; stderr:\n{}", out.stderr);
        assert_diagnostics(&out, expected);
        assert_nothing_ran(p);
    }
}

/// Runs goldsmith; kills it and fails when it takes longer than `limit`.
fn run_with_deadline(p: &Project, args: &[&str], limit: Duration) -> Output {
    let child = p
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("goldsmith starts");
    let pid = child.id();
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || send.send(child.wait_with_output()));
    match receive.recv_timeout(limit) {
        Ok(out) => out.expect("goldsmith output"),
        Err(_) => {
            // The waiter has not reported, so the child is still running (unreaped): the pid is its own.
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("goldsmith {args:?} did not finish within {limit:?}");
        }
    }
}

/// `validate` exits 2 within a few seconds, not a crash or a signal. The file
/// is one no module uses, so `run m` is not held up by it: it loads as quickly
/// and runs, with a note.
#[track_caller]
fn assert_rejected_in_time(p: &Project, expected: &[(&str, Option<&str>)]) {
    let out = run_with_deadline(p, &["validate"], Duration::from_secs(5));
    assert_eq!(out.status.signal(), None, "validate killed by a signal");
    let out = common::to_run(out);
    assert_eq!(out.code, 2, "validate; stderr:\n{}", out.stderr);
    assert_diagnostics(&out, expected);
    assert_nothing_ran(p);
    let out = common::to_run(run_with_deadline(p, &["run", "m"], Duration::from_secs(5)));
    assert_eq!(out.code, 0, "run m; stderr:\n{}", out.stderr);
    assert!(
        out.stderr
            .contains("goldsmith: note: 1 error in a file that `m` does not use"),
        "{}",
        out.stderr
    );
}

/// Keeps the `nothing ran` checks honest: the same project shape without the mistake runs.
#[test]
fn a_valid_project_runs_and_leaves_the_marker() {
    let p = Project::new();
    op(&p, "a", "");
    p.module("m", "    - id: a\n");
    let out = p.run(&["run", "m"]);
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    assert!(marker(&p).exists());
    assert_eq!(p.run_dirs().len(), 1);
}

#[test]
fn invalid_yaml_unclosed_bracket() {
    let p = Project::new();
    op(&p, "a", "");
    p.module("m", "    - id: a\n      depends_on: [a\n");
    assert_rejected(
        &p,
        &[(
            "modules/m/module.yaml:6:19: error: invalid YAML: unclosed bracket '['",
            Some("close the bracket, or quote the value if the bracket is part of the text"),
        )],
    );
}

#[test]
fn invalid_yaml_bad_indentation() {
    let p = Project::new();
    op(&p, "a", "");
    p.module("m", "    - id: a\n   parallel_group: 1\n");
    assert_rejected(
        &p,
        &[(
            "modules/m/module.yaml:6:4: error: invalid YAML: while parsing a block mapping, did not find expected key",
            Some(
                "check the indentation: keys of one mapping, and items of one list, start in the same column",
            ),
        )],
    );
}

#[test]
fn unknown_fields_get_a_did_you_mean() {
    let p = Project::new();
    p.file(
        "capabilities/test/operations/a.yaml",
        &format!(
            "operation:\n  id: a\n  kind: shell\n  scirpt: |\n    {}\n",
            marker_script(&p)
        ),
    );
    op(&p, "b", "");
    p.module("m", "    - id: a\n    - id: b\n      paralel_group: 1\n");
    // One mistake, one error: no "has no script" for the misspelt `script`.
    assert_rejected(
        &p,
        &[
            (
                "capabilities/test/operations/a.yaml:4:3: error: unknown field `scirpt` in `operation`",
                Some("did you mean `script`?"),
            ),
            (
                "modules/m/module.yaml:7:7: error: unknown field `paralel_group` in `operations[]`",
                Some("did you mean `parallel_group`?"),
            ),
        ],
    );
}

#[test]
fn quoted_parallel_group_is_the_wrong_type() {
    let p = Project::new();
    op(&p, "a", "");
    p.module("m", "    - id: a\n      parallel_group: \"1\"\n");
    assert_rejected(
        &p,
        &[(
            "modules/m/module.yaml:6:23: error: `parallel_group` must be a positive integer, found the string \"1\"",
            Some("remove the quotes: `parallel_group: 1`"),
        )],
    );
}

#[test]
fn module_entry_naming_no_operation() {
    let p = Project::new();
    op(&p, "a", "");
    p.module("m", "    - id: a\n    - parallel_group: 1\n    -\n");
    let help = Some("add `id: <operation id>` to the entry");
    assert_rejected(
        &p,
        &[
            (
                "modules/m/module.yaml:6:7: error: module entry names no operation",
                help,
            ),
            (
                "modules/m/module.yaml:7:6: error: module entry names no operation",
                help,
            ),
        ],
    );
}

#[test]
fn same_operation_id_in_two_files() {
    let p = Project::new();
    op(&p, "a", "");
    p.file(
        "capabilities/other/operations/copy.yaml",
        &format!(
            "operation:\n  id: a\n  kind: shell\n  script: {}\n",
            marker_script(&p)
        ),
    );
    p.module("m", "    - id: a\n");
    assert_rejected(
        &p,
        &[(
            "capabilities/test/operations/a.yaml:2:7: error: operation id `a` is already defined in capabilities/other/operations/copy.yaml:2",
            Some("operation ids must be unique across the whole catalog; rename one of them"),
        )],
    );
}

#[test]
fn same_entry_twice_in_a_module() {
    let p = Project::new();
    op(&p, "a", "");
    op(&p, "b", "");
    p.module("m", "    - id: a\n    - id: b\n    - id: a\n");
    assert_rejected(
        &p,
        &[(
            "modules/m/module.yaml:7:11: error: operation `a` is listed twice in this module (first on line 5)",
            Some("an operation runs once per module; remove one of the entries"),
        )],
    );
}

#[test]
fn parallel_group_split_by_another_stage() {
    let help = Some(
        "entries of one parallel group must be listed together; goldsmith never reorders entries",
    );
    // Group 1, then a stage without a group or with group 2, then group 1 again.
    for (between, again) in [
        ("    - id: b\n", 9),
        ("    - id: b\n      parallel_group: 2\n", 10),
    ] {
        let p = Project::new();
        for id in ["a", "b", "c"] {
            op(&p, id, "");
        }
        p.module(
            "m",
            &format!(
                "    - id: a\n      parallel_group: 1\n{between}    - id: c\n      parallel_group: 1\n"
            ),
        );
        let headline = format!(
            "modules/m/module.yaml:{again}:23: error: `parallel_group: 1` appears again after a different stage (first used on line 6, stage 1)"
        );
        assert_rejected(&p, &[(&headline, help)]);
    }
}

#[test]
fn depends_on_a_later_entry() {
    let p = Project::new();
    op(&p, "a", "");
    op(&p, "b", "");
    p.module("m", "    - id: a\n      depends_on: [b]\n    - id: b\n");
    assert_rejected(
        &p,
        &[(
            "modules/m/module.yaml:6:20: error: `a` depends on `b`, which comes later in the module",
            Some(
                "`depends_on` may only name earlier entries; move the entry below the one it depends on",
            ),
        )],
    );
}

#[test]
fn depends_on_an_unknown_entry() {
    let p = Project::new();
    op(&p, "a", "");
    op(&p, "b", "");
    p.module("m", "    - id: a\n    - id: b\n      depends_on: [zz, a]\n");
    assert_rejected(
        &p,
        &[(
            "modules/m/module.yaml:7:20: error: `b` depends on `zz`, which is not an entry of this module",
            Some("`depends_on` names earlier entries of this module: `a`"),
        )],
    );
}

#[test]
fn undefined_placeholder_in_a_block_scalar() {
    let p = Project::new();
    p.file("config.yaml", "azure:\n  resource_group: rg-1\n");
    let script = format!(
        "echo {{{{NOPE}}}}\n  echo \"rg={{{{AZURE_RESOURCE_GRUOP}}}}\"\n{}",
        marker_script(&p)
    );
    p.shell_op("a", "", &script);
    p.module("m", "    - id: a\n");
    assert_rejected(
        &p,
        &[
            (
                "capabilities/test/operations/a.yaml:5:10: error: undefined placeholder `{{NOPE}}`",
                Some("define it in config.yaml (`nope`) or list it under `secrets:`"),
            ),
            (
                "capabilities/test/operations/a.yaml:6:16: error: undefined placeholder `{{AZURE_RESOURCE_GRUOP}}`",
                Some("did you mean `AZURE_RESOURCE_GROUP`?"),
            ),
        ],
    );
    // The caret sits under the placeholder in the file's own line.
    let out = p.run(&["validate"]);
    let lines = block(
        &out.stderr,
        "capabilities/test/operations/a.yaml:6:16: error: undefined placeholder `{{AZURE_RESOURCE_GRUOP}}`",
    );
    assert_eq!(lines[2], "6 |       echo \"rg={{AZURE_RESOURCE_GRUOP}}\"");
    assert_eq!(
        lines[3],
        format!("  | {}{}", " ".repeat(15), "^".repeat(24))
    );
}

#[test]
fn missing_secret_is_an_error_for_run_and_a_note_for_plan() {
    let p = Project::new();
    p.file("config.yaml", "secrets: [ADMIN_PASSWORD, UNUSED_TOKEN]\n");
    p.shell_op(
        "a",
        "",
        &format!(
            "{}\necho \"{{{{ADMIN_PASSWORD}}}}\" > /dev/null",
            marker_script(&p)
        ),
    );
    p.module("m", "    - id: a\n");
    let help =
        "  = help: export ADMIN_PASSWORD=… before running (secrets are never read from files)";
    let without_secret = |args: &[&str]| {
        let mut cmd = p.command(args);
        cmd.env_remove("ADMIN_PASSWORD");
        common::to_run(cmd.output().expect("goldsmith runs"))
    };

    // validate checks the files, not this environment.
    let out = without_secret(&["validate"]);
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    assert!(!out.stderr.contains("ADMIN_PASSWORD"), "{}", out.stderr);

    let out = without_secret(&["plan", "m"]);
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    let lines = block(
        &out.stderr,
        "config.yaml:1:11: note: secret `ADMIN_PASSWORD` is not set in the environment; `run` will need it (`a` uses it)",
    );
    assert!(lines.contains(&help), "stderr:\n{}", out.stderr);
    assert!(error_headlines(&out.stderr).is_empty(), "{}", out.stderr);
    assert_nothing_ran(&p);

    let out = without_secret(&["run", "m"]);
    assert_eq!(out.code, 2, "stderr:\n{}", out.stderr);
    let lines = block(
        &out.stderr,
        "config.yaml:1:11: error: secret `ADMIN_PASSWORD` is not set in the environment (`a` uses it)",
    );
    assert!(lines.contains(&help), "stderr:\n{}", out.stderr);
    assert_eq!(error_headlines(&out.stderr).len(), 1, "{}", out.stderr);
    assert!(
        !out.stderr
            .lines()
            .any(|l| l.contains("secret `UNUSED_TOKEN`")),
        "a secret no operation uses is not required"
    );
    assert_nothing_ran(&p);
}

#[test]
fn zero_and_negative_timeouts() {
    let p = Project::new();
    op(&p, "a", "timeout: 0");
    p.module("m", "    - id: a\n      timeout: -5s\n");
    let help = Some("write a duration like `90s`, `15m` or `1h30m`");
    assert_rejected(
        &p,
        &[
            (
                "capabilities/test/operations/a.yaml:4:12: error: `timeout` must be greater than zero, found 0",
                help,
            ),
            (
                "modules/m/module.yaml:6:16: error: `timeout` must be greater than zero, found `-5s`",
                help,
            ),
        ],
    );
}

#[test]
fn empty_operations_list() {
    let p = Project::new();
    op(&p, "a", "");
    p.file(
        "modules/m/module.yaml",
        "module:\n  id: m\n  name: test module\n  operations: []\n",
    );
    assert_rejected(
        &p,
        &[(
            "modules/m/module.yaml:4:15: error: module has no operations",
            Some("add at least one `- id: <operation>`"),
        )],
    );
}

#[test]
fn module_without_operations_key() {
    let p = Project::new();
    op(&p, "a", "");
    p.file(
        "modules/m/module.yaml",
        "module:\n  id: m\n  name: test module\n",
    );
    assert_rejected(
        &p,
        &[(
            "modules/m/module.yaml:2:3: error: module has no operations",
            Some("add `operations:` with at least one `- id: <operation>`"),
        )],
    );
}

#[test]
fn operation_ids_that_are_paths() {
    let p = Project::new();
    op(&p, "a", "");
    for (file, id) in [("slash", "x/y"), ("dots", "../evil")] {
        p.file(
            &format!("capabilities/test/operations/{file}.yaml"),
            &format!(
                "operation:\n  id: {id}\n  kind: shell\n  script: {}\n",
                marker_script(&p)
            ),
        );
    }
    p.module("m", "    - id: a\n    - id: x/y\n    - id: ../evil\n");
    let help = Some(
        "ids use letters, digits, `-`, `_` and `.`, without `/` or `..` (they name files in the run directory)",
    );
    assert_rejected(
        &p,
        &[
            (
                "capabilities/test/operations/dots.yaml:2:7: error: invalid operation id `../evil`",
                help,
            ),
            (
                "capabilities/test/operations/slash.yaml:2:7: error: invalid operation id `x/y`",
                help,
            ),
        ],
    );
}

#[test]
fn huge_file_is_refused_quickly() {
    let p = Project::new();
    op(&p, "a", "");
    p.module("m", "    - id: a\n");
    let line = format!("    echo {}\n", "x".repeat(70));
    let mut text = String::from("operation:\n  id: huge\n  kind: shell\n  script: |\n");
    while text.len() < 5 * 1024 * 1024 {
        text.push_str(&line);
    }
    p.file("capabilities/test/operations/huge.yaml", &text);
    let headline = format!(
        "capabilities/test/operations/huge.yaml:1:1: error: file is {} bytes, larger than the 1048576 byte limit for catalog files",
        text.len()
    );
    assert_rejected_in_time(
        &p,
        &[(
            &headline,
            Some("split it up, or move large scripts into a `powershell: {file: ...}`"),
        )],
    );
}

#[test]
fn deeply_nested_file_is_refused_quickly() {
    let p = Project::new();
    op(&p, "a", "");
    p.module("m", "    - id: a\n");
    p.file(
        "capabilities/test/operations/deep.yaml",
        &format!("{}\n", "[".repeat(10_000)),
    );
    assert_rejected_in_time(
        &p,
        &[(
            "capabilities/test/operations/deep.yaml:1:256: error: YAML is nested too deeply",
            Some("catalog files need at most 64 levels; look for unclosed `[` or `{`"),
        )],
    );
}

#[test]
fn file_that_is_not_utf8() {
    let p = Project::new();
    p.module("m", "    - id: a\n");
    let mut bytes =
        b"operation:\n  id: a\n  kind: shell\n  script: |\n    echo caf\xc3\xa9 ".to_vec();
    bytes.extend_from_slice(b"\xff\xfe\n    ");
    bytes.extend_from_slice(marker_script(&p).as_bytes());
    bytes.push(b'\n');
    let dir = p.root().join("capabilities/test/operations");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("a.yaml"), bytes).expect("write");
    // Column 15 counts `é` as one character; offset 60 counts its two bytes.
    assert_rejected(
        &p,
        &[
            (
                "capabilities/test/operations/a.yaml:5:15: error: file is not valid UTF-8 (byte 0xff at offset 60)",
                Some("save the file as UTF-8"),
            ),
            (
                "modules/m/module.yaml:5:11: error: no operation has id `a`",
                Some(
                    "operations live in capabilities/<capability>/operations/<id>.yaml; `goldsmith list` shows them",
                ),
            ),
        ],
    );
}

#[test]
fn validate_reports_every_error_at_once() {
    let p = Project::new();
    op(&p, "a", "timeot: 5m");
    op(&p, "b", "timeout: 0s");
    p.module("m", "    - id: a\n    - id: b\n    - id: create-vnet\n");
    let out = p.run(&["validate"]);
    assert_eq!(out.code, 2, "stderr:\n{}", out.stderr);
    assert_diagnostics(
        &out,
        &[
            (
                "capabilities/test/operations/a.yaml:4:3: error: unknown field `timeot` in `operation`",
                Some("did you mean `timeout`?"),
            ),
            (
                "capabilities/test/operations/b.yaml:4:12: error: `timeout` must be greater than zero, found `0s`",
                Some("write a duration like `90s`, `15m` or `1h30m`"),
            ),
            (
                "modules/m/module.yaml:7:11: error: no operation has id `create-vnet`",
                Some(
                    "operations live in capabilities/<capability>/operations/<id>.yaml; `goldsmith list` shows them",
                ),
            ),
        ],
    );
    assert_nothing_ran(&p);
}

#[test]
fn an_az_cli_that_cannot_be_signed_in_stops_the_run_before_any_operation() {
    let p = Project::new();
    op(&p, "a", "");
    p.module("m", "    - id: a\n");
    let out = p.run(&["run", "m", "--simulate", "--az-cli", "false"]);
    assert_eq!(out.code, 2, "stderr:\n{}", out.stderr);
    assert!(
        out.stderr.contains(
            "--az-cli: `az config set` against the stand-in failed (exit code 1): (it printed nothing); nothing ran"
        ),
        "{}",
        out.stderr
    );
    let missing = p.run(&["run", "m", "--simulate", "--az-cli", "/nonexistent/az"]);
    assert_eq!(missing.code, 2, "stderr:\n{}", missing.stderr);
    assert!(
        missing
            .stderr
            .contains("invalid value '/nonexistent/az' for '--az-cli <AZ>': no such file"),
        "{}",
        missing.stderr
    );
    // A bare name is looked up on PATH, as a shell would.
    let unknown = p.run(&["run", "m", "--simulate", "--az-cli", "no-such-az-here"]);
    assert_eq!(unknown.code, 2, "stderr:\n{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("`no-such-az-here` is not on PATH"),
        "{}",
        unknown.stderr
    );
    assert!(!marker(&p).exists(), "an operation ran");
}
