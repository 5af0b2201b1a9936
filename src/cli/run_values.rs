//! Choosing a run's run values when it starts (`compute.image_version: auto`):
//! each chooser operation runs once, on the runner, with the environment the
//! operations get (the simulated Azure's under `--simulate`), and its last
//! line of output becomes the value. The plan is then made again with it, so
//! scripts, fingerprints and plan.json all hold the chosen value.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::CliError;
use crate::plan::Plan;
use crate::plan::run_values::RunValue;
use crate::project::Project;
use crate::redact::Redactor;

/// The longest value accepted.
const MAX_VALUE_CHARS: usize = 256;

/// Where the choosers run and how their output is shown.
pub struct Chooser<'a> {
    pub env: &'a [(String, String)],
    pub redactor: &'a Redactor,
}

/// Takes the values `recorded` in the run being resumed for the run values
/// still to choose; returns whether any was taken (the plan must be made again).
pub fn keep_recorded(
    project: &mut Project,
    plan: &Plan,
    recorded: &std::collections::BTreeMap<String, String>,
) -> bool {
    let mut taken = false;
    for v in plan.run_values.iter().filter(|v| v.value.is_none()) {
        if let Some(value) = recorded.get(&v.name) {
            println!(
                "goldsmith: {} = {value} (`{}`, chosen when the resumed run started)",
                v.name, v.asked
            );
            taken |= project.config.choose(&v.name, value);
        }
    }
    taken
}

/// Chooses every run value `plan` still needs and plans again with them (`replan`).
pub fn choose(
    project: &mut Project,
    plan: Plan,
    chooser: &Chooser,
    replan: impl FnOnce(&Project) -> Result<Plan, CliError>,
) -> Result<Plan, CliError> {
    let pending: Vec<&RunValue> = plan
        .run_values
        .iter()
        .filter(|v| v.value.is_none())
        .collect();
    if pending.is_empty() {
        return Ok(plan);
    }
    for v in pending {
        let value = chooser.run(&project.root, v)?;
        println!(
            "goldsmith: {} = {value} (`{}`, chosen by {})",
            v.name, v.asked, v.from
        );
        project.config.choose(&v.name, &value);
    }
    replan(project)
}

impl Chooser<'_> {
    /// Runs `v`'s chooser and returns the last line it printed.
    fn run(&self, cwd: &Path, v: &RunValue) -> Result<String, CliError> {
        let fail = |why: String| {
            CliError::Invalid(format!(
                "cannot choose {} (`{}`) with operation `{}`: {}; nothing ran. Set it explicitly to run anyway (in the config file, or {}=<value> in the environment)",
                v.name,
                v.asked,
                v.from,
                self.redactor.redact(&why),
                v.name
            ))
        };
        let timeout = v.timeout;
        let (code, stdout, stderr) = self.spawn(cwd, v, timeout).map_err(&fail)?;
        if code != Some(0) {
            let status = code.map_or("killed by a signal".to_string(), |c| {
                format!("exit code {c}")
            });
            return Err(fail(format!("{status}{}", last_lines(&stderr))));
        }
        let value = stdout
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        if value.is_empty()
            || value.chars().count() > MAX_VALUE_CHARS
            || value.chars().any(char::is_control)
            || value == v.asked
        {
            return Err(fail(format!(
                "its last line of output, `{value}`, is not a value{}",
                last_lines(&stderr)
            )));
        }
        Ok(value.to_string())
    }

    /// bash on the chooser's script in its own process group, killed with
    /// its children at `timeout`; the exit code and both streams.
    fn spawn(
        &self,
        cwd: &Path,
        v: &RunValue,
        timeout: Duration,
    ) -> Result<(Option<i32>, String, String), String> {
        let mut child = Command::new("bash")
            .args(["--noprofile", "--norc", "-euo", "pipefail", "-c", &v.script])
            .env_clear()
            .envs(self.env.iter().map(|(k, val)| (k, val)))
            .env("GOLDSMITH_RUN_VALUE", &v.asked)
            .env("GOLDSMITH_OP", &v.from)
            .env("GOLDSMITH_ATTEMPT", "1")
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start bash: {e}"))?;
        let pgid = child.id() as i32;
        let read = |mut s: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = s.read_to_string(&mut text);
                text
            })
        };
        let out = read(Box::new(child.stdout.take().expect("piped")));
        let err = read(Box::new(child.stderr.take().expect("piped")));
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    crate::run::process::signal_group(Some(pgid), libc::SIGKILL);
                    let _ = child.wait();
                    return Err(format!(
                        "it did not finish within {}",
                        crate::duration::format_duration(timeout)
                    ));
                }
            }
        };
        // The group's leftovers must not hold the pipes open.
        crate::run::process::signal_group(Some(pgid), libc::SIGKILL);
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        Ok((status.code(), stdout, stderr))
    }
}

/// `: <the last lines of stderr>`, or nothing when it printed none.
fn last_lines(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    format!(": {}", lines[lines.len().saturating_sub(3)..].join(" / "))
}
