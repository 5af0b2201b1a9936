//! A project in a temp dir, and the real `goldsmith` binary run on it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Project {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Project {
    pub fn new() -> Project {
        Project {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file relative to the root, creating folders.
    #[track_caller]
    pub fn file(&self, rel: &str, text: &str) -> &Self {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
        self
    }

    /// A shell operation `capabilities/test/operations/<id>.yaml` with `extra` lines and a script.
    #[track_caller]
    pub fn shell_op(&self, id: &str, extra: &str, script: &str) -> &Self {
        let script: String = script.lines().map(|l| format!("    {l}\n")).collect();
        let extra: String = extra.lines().map(|l| format!("  {l}\n")).collect();
        self.file(
            &format!("capabilities/test/operations/{id}.yaml"),
            &format!("operation:\n  id: {id}\n  kind: shell\n{extra}  script: |\n{script}"),
        )
    }

    /// `modules/<id>/module.yaml` with the given entries (YAML list items, already indented by 4).
    #[track_caller]
    pub fn module(&self, id: &str, entries: &str) -> &Self {
        self.file(
            &format!("modules/{id}/module.yaml"),
            &format!("module:\n  id: {id}\n  name: test module\n  operations:\n{entries}"),
        )
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_goldsmith"));
        cmd.arg("--root").arg(self.root()).args(args);
        cmd.env_remove("GITHUB_WORKSPACE");
        cmd.env_remove("GITHUB_ACTIONS");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        to_run(cmd.output().expect("goldsmith runs"))
    }

    /// The run directories, oldest first (hidden entries are the run lock and
    /// run directories still being made).
    pub fn run_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(self.root().join("artifacts/runs"))
            .map(|r| {
                r.flatten()
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default();
        dirs.sort();
        dirs
    }

    pub fn latest_run_dir(&self) -> PathBuf {
        self.run_dirs().pop().expect("a run directory")
    }

    pub fn events(&self) -> Vec<serde_json::Value> {
        let text =
            std::fs::read_to_string(self.latest_run_dir().join("events.jsonl")).expect("events");
        text.lines()
            .map(|l| serde_json::from_str(l).expect("event json"))
            .collect()
    }

    pub fn state(&self) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.latest_run_dir().join("state.json")).expect("state");
        serde_json::from_str(&text).expect("state json")
    }
}

/// The runner's parser for `GITHUB_OUTPUT` (actions/runner `SetOutputFileCommand`):
/// `name=value` lines, or `name<<DELIMITER` … `DELIMITER` heredocs.
pub fn parse_file_command(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let heredoc = line.find("<<");
        let equals = line.find('=');
        match (heredoc, equals) {
            (Some(h), e) if e.is_none_or(|e| h < e) => {
                let name = &line[..h];
                let delimiter = &line[h + 2..];
                let mut value = Vec::new();
                loop {
                    let l = lines.next().expect("heredoc ends with its delimiter");
                    if l == delimiter {
                        break;
                    }
                    value.push(l);
                }
                out.insert(name.to_string(), value.join("\n"));
            }
            (_, Some(e)) => {
                out.insert(line[..e].to_string(), line[e + 1..].to_string());
            }
            _ => panic!("invalid file command line {line:?}"),
        }
    }
    out
}

/// `goldsmith action` on `p` as the container starts it: `GITHUB_ACTIONS=true`,
/// the workspace at the project, `INPUT_MODULE=m`, summary and annotations on,
/// and the runner's file commands in `<root>/_runner/`; `extra` variables after.
pub fn run_action(p: &Project, extra: &[(&str, &str)]) -> Run {
    let runner = p.root().join("_runner");
    std::fs::create_dir_all(&runner).expect("mkdir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_goldsmith"));
    cmd.arg("action")
        .current_dir(p.root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", p.root())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_WORKSPACE", p.root())
        .env("GITHUB_STEP_SUMMARY", runner.join("step_summary"))
        .env("GITHUB_OUTPUT", runner.join("output"))
        .env("INPUT_MODULE", "m")
        .env("INPUT_SUMMARY", "true")
        .env("INPUT_ANNOTATIONS", "true");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    to_run(cmd.output().expect("goldsmith runs"))
}

pub fn to_run(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Events of one type for one op.
pub fn events_of<'a>(
    events: &'a [serde_json::Value],
    kind: &str,
    op: &str,
) -> Vec<&'a serde_json::Value> {
    events
        .iter()
        .filter(|e| e["type"] == kind && e["op"] == op)
        .collect()
}

pub fn time_of(e: &serde_json::Value) -> jiff::Timestamp {
    e["time"].as_str().expect("time").parse().expect("rfc3339")
}

/// Status of an op in state.json.
pub fn op_status(state: &serde_json::Value, op: &str) -> String {
    state["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .find(|o| o["id"] == op)
        .map(|o| o["status"].as_str().expect("status").to_string())
        .expect("op in state")
}

/// Every file under `dir`, recursively.
/// The repository this test binary was built from.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Copies the tree `from` into `to` (created), files and folders.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The AVD library's capabilities (the `demo` one is not part of it).
pub const LIBRARY_CAPABILITIES: [&str; 6] = [
    "management",
    "networking",
    "storage",
    "identity",
    "compute",
    "avd",
];

/// A project holding a copy of the AVD library's capabilities, the given
/// `modules` and config.example.yaml as its config.yaml.
pub fn library_copy(modules: &[&str]) -> Project {
    let p = Project::new();
    for cap in LIBRARY_CAPABILITIES {
        copy_dir(
            &repo().join("capabilities").join(cap),
            &p.root().join("capabilities").join(cap),
        );
    }
    for module in modules {
        copy_dir(
            &repo().join("modules").join(module),
            &p.root().join("modules").join(module),
        );
    }
    std::fs::copy(
        repo().join("config.example.yaml"),
        p.root().join("config.yaml"),
    )
    .expect("config");
    p
}

/// The shipped golden image with its dependencies, simulated fast, with the
/// scenario `tests/fixtures/scenarios/<scenario>.yaml` (copied into the project,
/// where goldsmith reads scenarios from).
pub fn golden_image_with(scenario: &str, admin_password: &str) -> (Project, Run) {
    let p = library_copy(&["00-resource-group", "01-networking", "05-golden-image"]);
    let file = p.root().join(format!("{scenario}.yaml"));
    std::fs::copy(
        repo()
            .join("tests/fixtures/scenarios")
            .join(format!("{scenario}.yaml")),
        &file,
    )
    .expect("copy the scenario");
    let file = file.to_str().expect("a UTF-8 path");
    let args = [
        "run",
        "05-golden-image",
        "--simulate",
        "--sim-speed",
        "5000",
        "--with-dependencies",
        "--sim-scenario",
        file,
    ];
    let r = p.run_env(&args, &[("ADMIN_PASSWORD", admin_password)]);
    (p, r)
}

/// The JUnit `<testcase>` element named `name`, up to its end.
pub fn junit_case<'x>(junit: &'x str, name: &str) -> &'x str {
    let start = junit
        .find(&format!("<testcase name=\"{name}\""))
        .unwrap_or_else(|| panic!("no case {name} in {junit}"));
    let end = junit[start..]
        .find("</testcase>")
        .map_or(junit.len(), |e| start + e);
    &junit[start..end]
}

/// The latest run's `junit.xml` and `summary.md`.
pub fn junit_and_summary(p: &Project) -> (String, String) {
    let dir = p.latest_run_dir();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect(f);
    (read("junit.xml"), read("summary.md"))
}

pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            // Not followed: a run's `sim/bin/az` links to the goldsmith binary
            // (a 162 MB read per run for the secret scan), and nothing a run
            // writes is a link.
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_symlink() {
                continue;
            }
            if kind.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The pinned Azure CLI `tools/az-spec/install-az.sh` installs, when it is
/// there. CI installs it first and names it in `GOLDSMITH_REAL_AZ`: there the
/// tests that need it must run, never skip.
pub fn real_az() -> Option<PathBuf> {
    if let Some(required) = std::env::var_os("GOLDSMITH_REAL_AZ") {
        let az = PathBuf::from(required);
        assert!(
            az.is_file(),
            "GOLDSMITH_REAL_AZ names no file: {}",
            az.display()
        );
        return Some(az);
    }
    let az = PathBuf::from(std::env::var_os("HOME")?).join(".cache/goldsmith/az-venv/bin/az");
    if az.is_file() {
        return Some(az);
    }
    eprintln!(
        "skipped: the real Azure CLI is not installed at {} (run tools/az-spec/install-az.sh)",
        az.display()
    );
    None
}

/// Runs tests/junit_check.py (junitparser + xmlschema); `None` when they are
/// not installed, unless `GOLDSMITH_REQUIRE_JUNIT_CHECK` says CI installed them.
pub fn junit_check(paths: &[&Path]) -> Option<serde_json::Value> {
    let required = std::env::var_os("GOLDSMITH_REQUIRE_JUNIT_CHECK").is_some();
    let probe = Command::new("python3")
        .args(["-c", "import junitparser, xmlschema"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        assert!(
            !required,
            "GOLDSMITH_REQUIRE_JUNIT_CHECK is set but python3 with junitparser and xmlschema is missing"
        );
        println!(
            "SKIP junit_check.py: python3 with junitparser and xmlschema not found \
             (pip install junitparser xmlschema)"
        );
        return None;
    }
    let script = repo().join("tests/junit_check.py");
    let out = Command::new("python3")
        .arg(script)
        .args(paths)
        .output()
        .expect("run junit_check.py");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "junit_check.py failed:\n{stderr}");
    Some(serde_json::from_slice(&out.stdout).expect("junit_check.py prints JSON"))
}
