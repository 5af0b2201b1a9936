//! One operation file (`operation:`), in both the goldsmith format and the
//! bash engine's older format, checked field by field.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::record::event::OpKind;
use crate::record::failure::FailureClass;
use crate::source::fields::{Fields, Reader};
use crate::source::yaml::{Node, Value};
use crate::source::{Pos, suggest};

/// A templated string from a YAML file, with where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Text {
    pub value: String,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PowerShellSource {
    Inline(Text),
    /// `powershell: {file}`: the path relative to the project root, where
    /// `file:` was written, and the script text (filled in by the catalog).
    File {
        path: PathBuf,
        pos: Pos,
        text: Text,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub vm: Text,
    pub resource_group: Text,
}

#[derive(Clone, Debug, PartialEq)]
pub struct App {
    pub name: String,
    pub kind: String,
    pub url: Text,
    pub sha256: Option<Text>,
    pub args: Option<Text>,
    pub pos: Pos,
    /// `expected: { download: 2m, install: 3m }`: how long each phase
    /// usually takes; the simulator plays them, the plan's estimate adds them up.
    pub expected: AppDurations,
    /// `ok_codes: [1638]`: exit codes besides 0/3010/1641 that mean "installed" for this app.
    pub ok_codes: Vec<i64>,
    /// `after: [vc-redist-x64]`: the earlier apps (their indices) whose installs end before this one's.
    pub after: Vec<usize>,
}

/// How long one app's download and install usually take (either may be unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AppDurations {
    pub download: Option<Duration>,
    pub install: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub attempts: u32,
    #[serde(with = "crate::record::serde_secs")]
    pub delay: Duration,
    #[serde(with = "crate::record::serde_secs")]
    pub max_delay: Duration,
    pub on: Vec<FailureClass>,
    /// No new attempt starts once this much time has passed since the first.
    #[serde(
        with = "crate::record::serde_opt_secs",
        skip_serializing_if = "Option::is_none"
    )]
    pub budget: Option<Duration>,
}

impl RetryPolicy {
    pub fn none() -> Self {
        RetryPolicy {
            attempts: 1,
            delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(300),
            on: Vec::new(),
            budget: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Requirement {
    pub id: String,
    pub optional: bool,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    pub id: String,
    pub id_pos: Pos,
    pub name: String,
    pub description: String,
    pub capability: String,
    pub kind: OpKind,
    /// Path relative to the project root.
    pub file: PathBuf,
    pub script: Option<Text>,
    pub powershell: Option<PowerShellSource>,
    pub target: Option<Target>,
    pub parameters: Vec<(String, Text)>,
    /// `mode:` of a run-command: `action` (`invoke`, the default) or `managed` (`create`).
    pub mode: super::run_mode::RunMode,
    /// `installs: true`: the script runs installers, so it holds the VM's `msi:` lock
    /// (install-apps and windows-update always do).
    pub installs: bool,
    pub apps: Vec<App>,
    pub download_parallelism: Option<u32>,
    /// `kind: windows-update`: its categories, exclusions and rounds.
    pub windows_update: Option<super::windows_update::WindowsUpdate>,
    pub strict_stderr: bool,
    pub timeout: Option<Duration>,
    pub expected: Option<Duration>,
    pub retry: Option<RetryPolicy>,
    pub requires: Vec<Requirement>,
    pub idempotency: Option<Text>,
    pub locks: Vec<(String, Pos)>,
}

const KNOWN: &[&str] = &[
    "id",
    "name",
    "description",
    "capability",
    "kind",
    "script",
    "template",
    "powershell",
    "target",
    "parameters",
    "mode",
    "installs",
    "apps",
    "download_parallelism",
    "windows_update",
    "strict_stderr",
    "timeout",
    "duration",
    "retry",
    "requires",
    "idempotency",
    "locks",
];

/// Fields of the bash engine's operation files that goldsmith accepts but does not act on yet.
pub const TOLERATED: &[&str] = &[
    "validation",
    "rollback",
    "outputs",
    "fixes",
    "ai_context",
    "prerequisites",
    "dependencies",
    "resource_type",
    "operation_mode",
    "version",
    "tags",
    "metadata",
    "notes",
    "examples",
    "troubleshooting",
    "documentation",
    "references",
    "permissions",
    "estimated_cost",
    "learnings",
    "changelog",
];

/// A valid id: letters, digits, `-`, `_`, `.`; no path separators, no `..`.
pub fn check_id(r: &mut Reader<'_>, id: &str, pos: Pos, what: &str) -> bool {
    let ok_chars = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let valid =
        !id.is_empty() && ok_chars && !id.contains("..") && !id.starts_with('.') && id.len() <= 128;
    if !valid {
        r.error_help(
            pos,
            format!("invalid {what} id `{id}`"),
            "ids use letters, digits, `-`, `_` and `.`, without `/` or `..` (they name files in the run directory)",
        );
    }
    valid
}

pub fn parse_text(r: &mut Reader<'_>, node: &Node, what: &str) -> Option<Text> {
    r.scalar_text(node, what).map(|value| Text {
        value,
        pos: node.pos,
    })
}

pub fn parse_retry(r: &mut Reader<'_>, node: &Node, what: &str) -> Option<RetryPolicy> {
    let f = r.fields(
        node,
        what,
        &["attempts", "delay", "max_delay", "on", "budget"],
        &[],
    )?;
    let mut policy = RetryPolicy::none();
    policy.on = vec![FailureClass::ExitCode, FailureClass::Timeout];
    if let Some(n) = r.optional(&f, "attempts") {
        policy.attempts = r.positive_int(n, "retry.attempts")?;
    }
    if let Some(n) = r.optional(&f, "delay") {
        policy.delay = r.duration(n, "retry.delay")?;
    }
    if let Some(n) = r.optional(&f, "max_delay") {
        policy.max_delay = r.duration(n, "retry.max_delay")?;
    }
    if let Some(n) = r.optional(&f, "budget") {
        policy.budget = Some(r.duration(n, "retry.budget")?);
    }
    if policy.max_delay < policy.delay {
        r.error(f.pos, "`retry.max_delay` is shorter than `retry.delay`");
    }
    if let Some(n) = r.optional(&f, "on") {
        policy.on.clear();
        for (name, pos) in r.string_list(n, "retry.on") {
            match name.parse::<FailureClass>() {
                Ok(class) => policy.on.push(class),
                Err(()) => {
                    let names = FailureClass::ALL.map(FailureClass::name);
                    let help = suggest(&name, names)
                        .unwrap_or_else(|| format!("failure classes are: {}", names.join(", ")));
                    r.error_help(
                        pos,
                        format!("unknown failure class `{name}` in `retry.on`"),
                        help,
                    );
                }
            }
        }
    }
    Some(policy)
}

/// Reads `locks: [name…]`, lower-casing nothing: lock names are compared as written.
pub fn parse_locks(r: &mut Reader<'_>, node: &Node) -> Vec<(String, Pos)> {
    let locks = r.string_list(node, "locks");
    for (name, pos) in &locks {
        if name.trim().is_empty() {
            r.error(*pos, "lock names must not be empty");
        }
    }
    locks
}

/// Parses the `operation:` document of `file` (shown relative to the root).
pub fn parse(r: &mut Reader<'_>, root: &Node, file: &Path) -> Option<Operation> {
    let top = r.fields(root, "file", &["operation"], &[])?;
    let node = r.required(&top, "operation", "file")?;
    let f = r.fields(node, "operation", KNOWN, TOLERATED)?;

    let id_node = r.required(&f, "id", "operation");
    let id = id_node.and_then(|n| r.string(n, "id"));
    if let (Some(id), Some(n)) = (&id, id_node) {
        check_id(r, id, n.pos, "operation");
    }
    let text_field = |r: &mut Reader<'_>, name: &str| -> String {
        r.optional(&f, name)
            .and_then(|n| r.scalar_text(n, name))
            .unwrap_or_default()
    };
    let name = text_field(r, "name");
    let description = text_field(r, "description");
    let capability = match r.optional(&f, "capability") {
        Some(n) => r.string(n, "capability").unwrap_or_default(),
        None => capability_from_path(file),
    };

    let (script, template_kind) = parse_script(r, &f);
    let kind = parse_kind(r, &f, template_kind.as_deref());

    let powershell = r
        .optional(&f, "powershell")
        .and_then(|n| parse_powershell(r, n));
    let target = r.optional(&f, "target").and_then(|n| parse_target(r, n));
    let parameters = r
        .optional(&f, "parameters")
        .map(|n| parse_parameters(r, n))
        .unwrap_or_default();
    let apps = r
        .optional(&f, "apps")
        .map(|n| parse_apps(r, n))
        .unwrap_or_default();
    let download_parallelism = r
        .optional(&f, "download_parallelism")
        .and_then(|n| r.positive_int(n, "download_parallelism"));
    let windows_update = r
        .optional(&f, "windows_update")
        .and_then(|n| super::windows_update::parse(r, n));
    let strict_stderr = r
        .optional(&f, "strict_stderr")
        .and_then(|n| r.bool(n, "strict_stderr"))
        .unwrap_or(false);

    let (timeout, expected) = parse_timing(r, &f);
    let retry = r
        .optional(&f, "retry")
        .and_then(|n| parse_retry(r, n, "retry"));
    let requires = r
        .optional(&f, "requires")
        .map(|n| parse_requires(r, n))
        .unwrap_or_default();
    let idempotency = r
        .optional(&f, "idempotency")
        .and_then(|n| parse_idempotency(r, n));
    let locks = r
        .optional(&f, "locks")
        .map(|n| parse_locks(r, n))
        .unwrap_or_default();

    let (mode, installs) = super::run_mode::parse(r, &f, kind);
    let kind = kind?;
    check_kind_fields(r, &f, kind, &script, &powershell, &target, &apps);
    if kind == OpKind::WindowsUpdate && windows_update.is_none() && !f.has("windows_update") {
        r.error_help(
            f.pos,
            "windows-update operation needs `windows_update: {categories, exclude, max_rounds}`",
            "categories: \"Security Updates, Critical Updates, Definition Updates\"",
        );
    }

    Some(Operation {
        id: id?,
        id_pos: id_node?.pos,
        name,
        description,
        capability,
        kind,
        file: file.to_path_buf(),
        script,
        powershell,
        target,
        parameters,
        mode,
        installs,
        apps,
        download_parallelism,
        windows_update,
        strict_stderr,
        timeout,
        expected,
        retry,
        requires,
        idempotency,
        locks,
    })
}

/// `capabilities/<cap>/operations/x.yaml` → `<cap>`; `modules/<m>/operations/x.yaml` → `<m>`.
fn capability_from_path(file: &Path) -> String {
    let parts: Vec<_> = file.iter().map(|p| p.to_string_lossy()).collect();
    parts
        .iter()
        .position(|p| p == "operations")
        .and_then(|i| i.checked_sub(1))
        .map(|i| parts[i].to_string())
        .unwrap_or_default()
}

/// `script:` or the bash engine's `template: {type, command}`; returns the script and the template type.
fn parse_script(r: &mut Reader<'_>, f: &Fields<'_>) -> (Option<Text>, Option<String>) {
    let script = r
        .optional(f, "script")
        .and_then(|n| parse_text(r, n, "script"));
    let Some(template) = r.optional(f, "template") else {
        return (script, None);
    };
    let Some(t) = r.fields(template, "template", &["type", "command"], &[]) else {
        return (script, None);
    };
    let template_type = r
        .optional(&t, "type")
        .and_then(|n| r.string(n, "template.type"));
    let command = r
        .optional(&t, "command")
        .and_then(|n| parse_text(r, n, "template.command"));
    if script.is_some() && command.is_some() {
        r.error(
            template.pos,
            "operation has both `script` and `template.command`; keep one",
        );
    }
    (script.or(command), template_type)
}

fn parse_kind(r: &mut Reader<'_>, f: &Fields<'_>, template_type: Option<&str>) -> Option<OpKind> {
    let Some(node) = r.optional(f, "kind") else {
        // Bash-engine files name the kind through `template.type`.
        return Some(match template_type {
            Some(t) if t.contains("powershell") => OpKind::RunCommand,
            _ => OpKind::Shell,
        });
    };
    let text = r.string(node, "kind")?;
    match text.as_str() {
        "shell" => Some(OpKind::Shell),
        "run-command" => Some(OpKind::RunCommand),
        "install-apps" => Some(OpKind::InstallApps),
        "windows-update" => Some(OpKind::WindowsUpdate),
        other => {
            let kinds = ["shell", "run-command", "install-apps", "windows-update"];
            let help =
                suggest(other, kinds).unwrap_or_else(|| format!("kinds are: {}", kinds.join(", ")));
            r.error_help(node.pos, format!("unknown kind `{other}`"), help);
            None
        }
    }
}

fn parse_powershell(r: &mut Reader<'_>, node: &Node) -> Option<PowerShellSource> {
    let f = r.fields(node, "powershell", &["content", "file"], &[])?;
    let content = r
        .optional(&f, "content")
        .and_then(|n| parse_text(r, n, "powershell.content"));
    let file = r
        .optional(&f, "file")
        .and_then(|n| r.string(n, "powershell.file").map(|s| (s, n.pos)));
    match (content, file) {
        (Some(_), Some((_, pos))) => {
            r.error(pos, "`powershell` has both `content` and `file`; keep one");
            None
        }
        (Some(text), None) => Some(PowerShellSource::Inline(text)),
        (None, Some((path, pos))) => Some(PowerShellSource::File {
            text: Text {
                value: String::new(),
                pos: Pos {
                    line: 1,
                    col: 1,
                    len: 0,
                },
            },
            path: PathBuf::from(path),
            pos,
        }),
        (None, None) => {
            r.error(node.pos, "`powershell` needs `content` or `file`");
            None
        }
    }
}

fn parse_target(r: &mut Reader<'_>, node: &Node) -> Option<Target> {
    let f = r.fields(node, "target", &["vm", "resource_group"], &[])?;
    let vm = r
        .required(&f, "vm", "target")
        .and_then(|n| parse_text(r, n, "target.vm"));
    let rg = r
        .required(&f, "resource_group", "target")
        .and_then(|n| parse_text(r, n, "target.resource_group"));
    Some(Target {
        vm: vm?,
        resource_group: rg?,
    })
}

fn parse_parameters(r: &mut Reader<'_>, node: &Node) -> Vec<(String, Text)> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .filter_map(|(k, v)| parse_text(r, v, &k.name).map(|t| (k.name.clone(), t)))
            .collect(),
        // The bash engine's `parameters` is a list of descriptions; nothing to act on.
        Value::Seq(_) => Vec::new(),
        _ => {
            r.error(node.pos, "`parameters` must be a mapping of name: value");
            Vec::new()
        }
    }
}

fn parse_apps(r: &mut Reader<'_>, node: &Node) -> Vec<App> {
    let Some(items) = r.list(node, "apps") else {
        return Vec::new();
    };
    let mut apps: Vec<App> = Vec::new();
    for item in items {
        let Some(f) = r.fields(
            item,
            "apps[]",
            &[
                "name", "type", "url", "sha256", "args", "expected", "ok_codes", "after",
            ],
            &[],
        ) else {
            continue;
        };
        let name = r
            .required(&f, "name", "app")
            .and_then(|n| r.string(n, "name"));
        let kind = r
            .required(&f, "type", "app")
            .and_then(|n| r.string(n, "type"));
        let url = r
            .required(&f, "url", "app")
            .and_then(|n| parse_text(r, n, "url"));
        let sha256 = r
            .optional(&f, "sha256")
            .and_then(|n| parse_text(r, n, "sha256"));
        let args = r
            .optional(&f, "args")
            .and_then(|n| parse_text(r, n, "args"));
        let expected = r
            .optional(&f, "expected")
            .map(|n| parse_app_durations(r, n))
            .unwrap_or_default();
        let ok_codes = r
            .optional(&f, "ok_codes")
            .map(|n| super::ok_codes::parse(r, n))
            .unwrap_or_default();
        let earlier: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
        let after = match (r.optional(&f, "after"), &name) {
            (Some(n), Some(name)) => super::app_after::parse(r, n, name, &earlier),
            _ => Vec::new(),
        };
        if let Some(k) = r.optional(&f, "type")
            && let Some(kind) = &kind
            && !matches!(kind.as_str(), "msi" | "exe" | "msix" | "ps1")
        {
            r.error_help(
                k.pos,
                format!("unknown app type `{kind}`"),
                "app types are: msi, exe, msix, ps1",
            );
        }
        if let (Some(name), Some(kind), Some(url)) = (name, kind, url) {
            if let Some(first) = apps.iter().find(|a| a.name == name) {
                r.error(
                    item.pos,
                    format!(
                        "app `{name}` is listed twice (first on line {})",
                        first.pos.line
                    ),
                );
            }
            apps.push(App {
                name,
                kind,
                url,
                sha256,
                args,
                pos: item.pos,
                expected,
                ok_codes,
                after,
            });
        }
    }
    apps
}

/// An app's `expected: { download: 2m, install: 3m }`.
fn parse_app_durations(r: &mut Reader<'_>, node: &Node) -> AppDurations {
    let Some(f) = r.fields(node, "expected", &["download", "install"], &[]) else {
        return AppDurations::default();
    };
    let mut phase = |name: &str| {
        r.optional(&f, name)
            .and_then(|n| r.duration(n, &format!("expected.{name}")))
    };
    AppDurations {
        download: phase("download"),
        install: phase("install"),
    }
}

/// `timeout: 15m`, or the bash engine's `duration: {expected, timeout}` in seconds.
fn parse_timing(r: &mut Reader<'_>, f: &Fields<'_>) -> (Option<Duration>, Option<Duration>) {
    let mut timeout = r
        .optional(f, "timeout")
        .and_then(|n| r.duration(n, "timeout"));
    let mut expected = None;
    if let Some(node) = r.optional(f, "duration")
        && let Some(d) = r.fields(node, "duration", &["expected", "timeout"], &[])
    {
        expected = r
            .optional(&d, "expected")
            .and_then(|n| r.duration(n, "duration.expected"));
        let legacy = r
            .optional(&d, "timeout")
            .and_then(|n| r.duration(n, "duration.timeout"));
        if timeout.is_some() && legacy.is_some() {
            r.error(
                node.pos,
                "operation has both `timeout` and `duration.timeout`; keep one",
            );
        }
        timeout = timeout.or(legacy);
    }
    (timeout, expected)
}

fn parse_requires(r: &mut Reader<'_>, node: &Node) -> Vec<Requirement> {
    let Some(items) = r.list(node, "requires") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        match &item.value {
            Value::Str(id) => out.push(Requirement {
                id: id.clone(),
                optional: false,
                pos: item.pos,
            }),
            Value::Map(_) => {
                let Some(f) = r.fields(
                    item,
                    "requires[]",
                    &["operation", "status", "optional"],
                    &[],
                ) else {
                    continue;
                };
                let id = r
                    .required(&f, "operation", "requires[]")
                    .and_then(|n| r.string(n, "operation"));
                let optional = r
                    .optional(&f, "optional")
                    .and_then(|n| r.bool(n, "optional"))
                    .unwrap_or(false);
                if let Some(n) = r.optional(&f, "status")
                    && let Some(status) = r.string(n, "status")
                    && !matches!(
                        status.as_str(),
                        "succeeded" | "success" | "completed" | "complete"
                    )
                {
                    r.error_help(
                        n.pos,
                        format!("unsupported required status `{status}`"),
                        "a requirement means the operation succeeded; use `completed` or leave `status` out",
                    );
                }
                if let Some(id) = id {
                    out.push(Requirement {
                        id,
                        optional,
                        pos: item.pos,
                    });
                }
            }
            _ => r.error(
                item.pos,
                "each `requires` entry must be an operation id or {operation, status, optional}",
            ),
        }
    }
    out
}

fn parse_idempotency(r: &mut Reader<'_>, node: &Node) -> Option<Text> {
    // `enabled`, `skip_on_exists` and friends are bash-engine fields without a meaning here.
    let f = r.fields(
        node,
        "idempotency",
        &["check", "check_command"],
        &["enabled", "skip_on_exists", "description"],
    )?;
    let check = r
        .optional(&f, "check")
        .and_then(|n| parse_text(r, n, "idempotency.check"));
    let legacy = r
        .optional(&f, "check_command")
        .and_then(|n| parse_text(r, n, "idempotency.check_command"));
    check.or(legacy)
}

fn check_kind_fields(
    r: &mut Reader<'_>,
    f: &Fields<'_>,
    kind: OpKind,
    script: &Option<Text>,
    powershell: &Option<PowerShellSource>,
    target: &Option<Target>,
    apps: &[App],
) {
    match kind {
        OpKind::Shell => {
            if script.is_none() && !f.misspells("script") {
                r.error_help(
                    f.pos,
                    "shell operation has no script",
                    "add `script: |` with the bash to run",
                );
            }
        }
        OpKind::RunCommand => {
            if target.is_none() && !f.has("target") {
                r.error(
                    f.pos,
                    "run-command operation needs `target: {vm, resource_group}`",
                );
            }
            if powershell.is_none() && !f.has("powershell") {
                r.error(
                    f.pos,
                    "run-command operation needs `powershell: {content | file}`",
                );
            }
        }
        OpKind::WindowsUpdate => {
            if target.is_none() && !f.has("target") {
                r.error(
                    f.pos,
                    "windows-update operation needs `target: {vm, resource_group}`",
                );
            }
        }
        OpKind::InstallApps => {
            if target.is_none() && !f.has("target") {
                r.error(
                    f.pos,
                    "install-apps operation needs `target: {vm, resource_group}`",
                );
            }
            if apps.is_empty() && !f.has("apps") {
                r.error(
                    f.pos,
                    "install-apps operation needs a non-empty `apps` list",
                );
            }
        }
    }
}
