//! Catalog reads never escape the project: links out, `..`, devices, FIFOs and
//! huge files are refused at the referencing line, quickly, without printing
//! what they hold; output paths never overwrite the project's own files.

mod common;

use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::Project;

/// A value only goldsmith's own environment holds: it must never be printed.
const ENV_SECRET: &str = "goldsmith-test-environ-8c1f2a";

/// Runs goldsmith with `ENV_SECRET` in its environment; kills it and fails after `limit`.
fn run_within(p: &Project, args: &[&str], limit: Duration) -> common::Run {
    let child = p
        .command(args)
        .env("CATALOG_READS_MARKER", ENV_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("goldsmith starts");
    let pid = child.id();
    let (send, receive) = mpsc::channel::<std::io::Result<Output>>();
    std::thread::spawn(move || send.send(child.wait_with_output()));
    match receive.recv_timeout(limit) {
        Ok(out) => common::to_run(out.expect("output")),
        Err(_) => {
            // The waiter has not reported, so the child is unreaped: the pid is still its own.
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("goldsmith {args:?} did not finish within {limit:?}");
        }
    }
}

/// `validate` and `run` exit 2 at once with `expected` in stderr and nothing leaked.
#[track_caller]
fn assert_refused(p: &Project, expected: &str) {
    for args in [&["validate"][..], &["run", "m", "--simulate"][..]] {
        let r = run_within(p, args, Duration::from_secs(10));
        assert_eq!(r.code, 2, "{args:?}\n{}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(expected), "{args:?}\n{}", r.stderr);
        for out in [&r.stdout, &r.stderr] {
            assert!(!out.contains(ENV_SECRET), "the environment leaked:\n{out}");
            assert!(!out.contains("root:x:0"), "/etc/passwd leaked:\n{out}");
        }
        assert!(p.run_dirs().is_empty(), "a run started");
    }
}

/// A file no module uses: `validate` refuses it as `assert_refused` says, while
/// `run m` is not held up by it and shows nothing of it but its name.
#[track_caller]
fn assert_refused_by_validate(p: &Project, expected: &str, file: &str) {
    let r = run_within(p, &["validate"], Duration::from_secs(10));
    assert_eq!(r.code, 2, "validate\n{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains(expected), "validate\n{}", r.stderr);
    let r = run_within(p, &["run", "m", "--simulate"], Duration::from_secs(10));
    assert_eq!(r.code, 0, "run\n{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "goldsmith: note: 1 error in a file that `m` does not use ({file})"
        )),
        "{}",
        r.stderr
    );
    for out in [&r.stdout, &r.stderr] {
        assert!(!out.contains(ENV_SECRET), "the environment leaked:\n{out}");
    }
}

fn ps_op(p: &Project, file: &str) {
    p.file("config.yaml", "azure:\n  resource_group: rg-images\n");
    p.file(
        "capabilities/compute/operations/ps.yaml",
        &format!("operation:\n  id: ps\n  kind: run-command\n  target: {{ vm: vm1, resource_group: \"{{{{AZURE_RESOURCE_GROUP}}}}\" }}\n  powershell:\n    file: {file}\n"),
    );
    p.module("m", "    - ps\n");
}

fn mkfifo(path: &std::path::Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

#[test]
fn powershell_file_in_proc_is_refused_at_its_line() {
    let p = Project::new();
    ps_op(&p, "/proc/self/environ");
    assert_refused(
        &p,
        "capabilities/compute/operations/ps.yaml:6:11: error: PowerShell file /proc/self/environ resolves to /proc/",
    );
}

#[test]
fn powershell_file_climbing_out_with_dots_is_refused() {
    let p = Project::new();
    ps_op(&p, "../../../../../../../../etc/passwd");
    assert_refused(
        &p,
        "ps.yaml:6:11: error: PowerShell file ../../../../../etc/passwd resolves to /etc/passwd, outside the project root",
    );
}

#[test]
fn powershell_file_that_never_ends_is_refused_quickly() {
    let p = Project::new();
    ps_op(&p, "/dev/zero");
    assert_refused(
        &p,
        "ps.yaml:6:11: error: PowerShell file /dev/zero resolves to /dev/zero, outside the project root",
    );
    // Inside the project a device is refused too, before a byte is read.
    std::os::unix::fs::symlink(
        "/dev/zero",
        p.root().join("capabilities/compute/operations/zero.ps1"),
    )
    .expect("symlink");
    ps_op(&p, "zero.ps1");
    assert_refused(&p, "resolves to /dev/zero, outside the project root");
}

#[test]
fn a_fifo_does_not_hang_the_loader() {
    let p = Project::new();
    ps_op(&p, "script.ps1");
    mkfifo(&p.root().join("capabilities/compute/operations/script.ps1"));
    assert_refused(
        &p,
        "ps.yaml:6:11: error: PowerShell file capabilities/compute/operations/script.ps1 is a FIFO, not a regular file",
    );

    let p = Project::new();
    p.shell_op("a", "", "true");
    p.module("m", "    - a\n");
    mkfifo(&p.root().join("capabilities/test/operations/b.yaml"));
    assert_refused_by_validate(
        &p,
        "capabilities/test/operations/b.yaml:1:1: error: capabilities/test/operations/b.yaml is a FIFO, not a regular file",
        "capabilities/test/operations/b.yaml",
    );

    let p = Project::new();
    p.shell_op("a", "", "true");
    p.module("m", "    - a\n");
    mkfifo(&p.root().join("config.yaml"));
    assert_refused(
        &p,
        "config.yaml:1:1: error: config.yaml is a FIFO, not a regular file",
    );
}

#[test]
fn a_symlinked_operation_file_cannot_show_the_environment() {
    let p = Project::new();
    p.shell_op("a", "", "true");
    p.module("m", "    - a\n");
    std::os::unix::fs::symlink(
        "/proc/self/environ",
        p.root().join("capabilities/test/operations/env.yaml"),
    )
    .expect("symlink");
    assert_refused_by_validate(
        &p,
        "capabilities/test/operations/env.yaml:1:1: error: capabilities/test/operations/env.yaml resolves to /proc/",
        "capabilities/test/operations/env.yaml",
    );
    // A link that stays inside the project is fine.
    let p = Project::new();
    p.file(
        "shared/a.yaml",
        "operation:\n  id: a\n  kind: shell\n  script: \"true\"\n",
    );
    std::fs::create_dir_all(p.root().join("capabilities/test/operations")).expect("mkdir");
    std::os::unix::fs::symlink(
        p.root().join("shared/a.yaml"),
        p.root().join("capabilities/test/operations/a.yaml"),
    )
    .expect("symlink");
    p.module("m", "    - a\n");
    let r = run_within(&p, &["run", "m"], Duration::from_secs(30));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn a_config_outside_the_project_is_refused() {
    let p = Project::new();
    p.shell_op("a", "", "true");
    p.module("m", "    - a\n");
    std::os::unix::fs::symlink("/etc/passwd", p.root().join("config.yaml")).expect("symlink");
    assert_refused(
        &p,
        "config.yaml:1:1: error: config.yaml resolves to /etc/passwd, outside the project root",
    );
}

#[test]
fn junit_path_never_overwrites_the_catalog_or_the_config() {
    let p = Project::new();
    p.shell_op("a", "", "true");
    p.module("m", "    - a\n");
    p.file("config.yaml", "x: 1\n");
    std::os::unix::fs::symlink(p.root().join("modules"), p.root().join("reports"))
        .expect("symlink");
    let before = std::fs::read_to_string(p.root().join("modules/m/module.yaml")).expect("read");
    for (path, why) in [
        ("modules/m/module.yaml", "would write into `modules/`"),
        (
            "capabilities/test/operations/a.yaml",
            "would write into `capabilities/`",
        ),
        (
            "out/../modules/m/module.yaml",
            "would write into `modules/`",
        ),
        ("reports/m/module.yaml", "would write into `modules/`"),
        ("reports/new.xml", "would write into `modules/`"),
        ("config.yaml", "would overwrite the config file"),
    ] {
        let r = run_within(
            &p,
            &["run", "m", "--junit-path", path],
            Duration::from_secs(30),
        );
        assert_eq!(r.code, 2, "{path}\n{}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(&format!("--junit-path {path}: {why}")),
            "{}",
            r.stderr
        );
        assert!(p.run_dirs().is_empty(), "a run started for {path}");
    }
    let abs = p.root().join("modules/m/module.yaml");
    let r = run_within(
        &p,
        &["run", "m", "--junit-path", abs.to_str().expect("utf8")],
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(p.root().join("modules/m/module.yaml")).expect("read"),
        before
    );
    assert_eq!(
        std::fs::read_to_string(p.root().join("config.yaml")).expect("read"),
        "x: 1\n"
    );
    // An ordinary path still works.
    let r = run_within(
        &p,
        &["run", "m", "--junit-path", "out/junit.xml"],
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(p.root().join("out/junit.xml").is_file());
}

#[test]
fn a_scenario_outside_the_project_or_not_a_file_is_refused() {
    let p = Project::new();
    p.shell_op("a", "", "true");
    p.module("m", "    - a\n");
    let r = run_within(
        &p,
        &["run", "m", "--simulate", "--sim-scenario", "/etc/passwd"],
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "--sim-scenario: /etc/passwd resolves to /etc/passwd, outside the project root"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("root:x:0"));
    let fifo = p.root().join("scenario.yaml");
    mkfifo(&fifo);
    let r = run_within(
        &p,
        &[
            "run",
            "m",
            "--simulate",
            "--sim-scenario",
            fifo.to_str().expect("utf8"),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("is a FIFO, not a regular file"),
        "{}",
        r.stderr
    );
}
