//! Module + catalog + config → `Plan`, reporting every problem at its line.

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{
    ExternalRequirement, ModuleRef, PLAN_VERSION, Plan, PlannedOp, Script, Stage, default_timeout,
};
use crate::catalog::operation::{RetryPolicy, Text};
use crate::catalog::{Catalog, Module, Operation};
use crate::config::Config;
use crate::record::event::{LockName, OpKind};
use crate::record::failure::FailureClass;
use crate::source::{Diagnostic, Diagnostics, suggest};
use crate::template;

#[derive(Clone, Copy, Debug)]
pub struct PlanOptions {
    pub secrets: SecretCheck,
}

/// What a secret missing from the environment means to the command at hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretCheck {
    /// `run`: an error, nothing runs.
    Required,
    /// `plan`: a note that `run` will need it.
    Noted,
    /// `validate` checks the files, not this environment: a pull request's
    /// check has no secrets, and a note on every one would be noise.
    Unchecked,
}

/// Builds the plan of `module`; returns `None` when there were errors (all of them in `diags`).
pub fn build(
    catalog: &Catalog,
    module: &Module,
    config: &Config,
    options: PlanOptions,
    diags: &mut Diagnostics,
) -> Option<Plan> {
    let errors_before = diags.error_count();
    let file = module.file.as_path();
    let resolved = resolve_entries(catalog, module, diags);
    check_secrets(config, options, &resolved, diags);
    let stages = stages(&resolved, file, diags);
    let ops = OpPlanner::new(catalog, module, config, &resolved, &stages).plan_all(diags);
    let run_values = super::run_values::plan(catalog, module, config, diags);
    if diags.error_count() > errors_before {
        return None;
    }
    let mut plan = assemble(module, stages, ops);
    plan.run_values = run_values;
    let entry_pos: Vec<_> = resolved.iter().map(|(e, _)| e.pos).collect();
    super::vm::warn_shared_vms(&plan, file, &entry_pos, diags);
    Some(plan)
}

/// The operation of each entry, in module order; reports unknown and duplicate entries.
fn resolve_entries<'a>(
    catalog: &'a Catalog,
    module: &'a Module,
    diags: &mut Diagnostics,
) -> Vec<(&'a crate::catalog::Entry, &'a Operation)> {
    let file = module.file.as_path();
    let mut first_use: HashMap<&str, u32> = HashMap::new();
    let mut resolved = Vec::new();
    for entry in &module.entries {
        if let Some(line) = first_use.get(entry.id.as_str()) {
            diags.push(
                Diagnostic::error(
                    file,
                    entry.pos,
                    format!(
                        "operation `{}` is listed twice in this module (first on line {line})",
                        entry.id
                    ),
                )
                .with_help("an operation runs once per module; remove one of the entries"),
            );
            continue;
        }
        first_use.insert(&entry.id, entry.pos.line);
        match catalog.operation(&entry.id) {
            Some(op) => resolved.push((entry, op)),
            None => {
                let help = suggest(&entry.id, catalog.operations.iter().map(|o| o.id.as_str()))
                    .unwrap_or_else(|| "operations live in capabilities/<capability>/operations/<id>.yaml; `goldsmith list` shows them".into());
                diags.push(
                    Diagnostic::error(
                        file,
                        entry.pos,
                        format!("no operation has id `{}`", entry.id),
                    )
                    .with_help(help),
                );
            }
        }
    }
    resolved
}

/// The plan of a module whose ops planned without errors, with its duration estimate.
fn assemble(module: &Module, stages: Vec<Stage>, ops: Vec<PlannedOp>) -> Plan {
    let (estimated_duration, critical_path, ops_without_estimate) = estimate(&ops, &stages);
    Plan {
        version: PLAN_VERSION,
        module: ModuleRef {
            id: module.id.clone(),
            name: module.name.clone(),
            folder: module.folder.clone(),
            file: module.file.clone(),
        },
        stages,
        ops,
        estimated_duration,
        critical_path,
        ops_without_estimate,
        dependencies: Vec::new(),
        run_values: Vec::new(),
    }
}

/// Plans the resolved entries one by one; each may look at the whole module
/// (which entries come earlier, which stage each is in).
struct OpPlanner<'a> {
    catalog: &'a Catalog,
    module: &'a Module,
    config: &'a Config,
    resolved: &'a [(&'a crate::catalog::Entry, &'a Operation)],
    /// Position in `resolved` of each entry, by operation id.
    index: HashMap<&'a str, usize>,
    /// Stage number of each entry of `resolved`.
    stage_of: Vec<usize>,
}

impl<'a> OpPlanner<'a> {
    fn new(
        catalog: &'a Catalog,
        module: &'a Module,
        config: &'a Config,
        resolved: &'a [(&'a crate::catalog::Entry, &'a Operation)],
        stages: &[Stage],
    ) -> Self {
        let index = resolved
            .iter()
            .enumerate()
            .map(|(i, (e, _))| (e.id.as_str(), i))
            .collect();
        let mut stage_of = vec![0; resolved.len()];
        for stage in stages {
            for &i in &stage.ops {
                stage_of[i] = stage.number;
            }
        }
        OpPlanner {
            catalog,
            module,
            config,
            resolved,
            index,
            stage_of,
        }
    }

    /// Every entry's `PlannedOp`, in module order.
    fn plan_all(&self, diags: &mut Diagnostics) -> Vec<PlannedOp> {
        (0..self.resolved.len())
            .map(|i| self.plan(i, diags))
            .collect()
    }

    /// The `PlannedOp` of entry `i`: its waits, its rendered scripts, its locks and its settings.
    fn plan(&self, i: usize, diags: &mut Diagnostics) -> PlannedOp {
        let (entry, op) = self.resolved[i];
        let mut depends_on = self.declared_dependencies(i, diags);
        let requires_outside = self.requirements(i, &mut depends_on, diags);
        depends_on.sort_unstable();
        let (script, check) = check_operation(self.catalog, op, self.config, diags);
        let locks = self.locks(entry, op, &script, diags);
        let fingerprint = fingerprint(op, &script, check.as_deref(), self.config);
        let file = self.module.file.as_path();
        let off = super::when::off_reason(file, entry, &self.catalog.sources, self.config, diags);
        PlannedOp {
            id: op.id.clone(),
            module: self.module.id.clone(),
            name: op.name.clone(),
            capability: op.capability.clone(),
            kind: op.kind,
            file: op.file.clone(),
            line: op.id_pos.line,
            entry_line: entry.pos.line,
            stage: self.stage_of[i],
            timeout: entry
                .timeout
                .or(op.timeout)
                .unwrap_or_else(|| default_timeout(op.kind)),
            expected: entry.expected.or(op.expected).or_else(|| apps_expected(op)),
            retry: entry
                .retry
                .clone()
                .or_else(|| op.retry.clone())
                .unwrap_or_else(|| default_retry(op.kind)),
            continue_on_error: entry.continue_on_error,
            always: entry.always,
            off,
            depends_on,
            waits_for_stage: entry.depends_on.is_empty(),
            locks,
            requires_outside,
            has_idempotency_check: check.is_some(),
            secrets: config_secrets_used(op, self.config),
            script,
            check,
            fingerprint,
        }
    }

    /// The earlier entries entry `i` names in `depends_on`; reports the names it may not use.
    fn declared_dependencies(&self, i: usize, diags: &mut Diagnostics) -> Vec<usize> {
        let (entry, _) = self.resolved[i];
        let file = self.module.file.as_path();
        let mut depends_on = Vec::new();
        for (dep, pos) in &entry.depends_on {
            match self.index.get(dep.as_str()) {
                Some(&d) if d < i => depends_on.push(d),
                Some(_) if dep == &entry.id => diags.push(Diagnostic::error(file, *pos, format!("`{}` depends on itself", entry.id))),
                Some(_) => diags.push(
                    Diagnostic::error(file, *pos, format!("`{}` depends on `{dep}`, which comes later in the module", entry.id))
                        .with_help("`depends_on` may only name earlier entries; move the entry below the one it depends on"),
                ),
                None => {
                    let help = suggest(dep, self.resolved[..i].iter().map(|(e, _)| e.id.as_str()))
                        .unwrap_or_else(|| earlier_entries_help(&self.resolved[..i]));
                    diags.push(Diagnostic::error(file, *pos, format!("`{}` depends on `{dep}`, which is not an entry of this module", entry.id)).with_help(help));
                }
            }
        }
        depends_on
    }

    /// Adds the earlier entries the operation of entry `i` `requires` to `depends_on`;
    /// returns the requirements outside this module. Reports requirements that run
    /// later and unknown ones.
    fn requirements(
        &self,
        i: usize,
        depends_on: &mut Vec<usize>,
        diags: &mut Diagnostics,
    ) -> Vec<ExternalRequirement> {
        let (_, op) = self.resolved[i];
        let mut requires_outside = Vec::new();
        for req in &op.requires {
            match self.index.get(req.id.as_str()) {
                Some(&d) if d < i => {
                    if !depends_on.contains(&d) {
                        depends_on.push(d);
                    }
                }
                Some(_) => diags.push(
                    Diagnostic::error(
                        &op.file,
                        req.pos,
                        format!(
                            "`{}` requires `{}`, which runs later in module `{}`",
                            op.id, req.id, self.module.id
                        ),
                    )
                    .with_help(format!(
                        "move `{}` above `{}` in {}",
                        req.id,
                        op.id,
                        self.module.file.display()
                    )),
                ),
                None if self.catalog.operation(&req.id).is_none() && !req.optional => {
                    let help = suggest(
                        &req.id,
                        self.catalog.operations.iter().map(|o| o.id.as_str()),
                    )
                    .unwrap_or_else(|| "`requires` names operation ids".into());
                    diags.push(
                        Diagnostic::error(
                            &op.file,
                            req.pos,
                            format!("`{}` requires unknown operation `{}`", op.id, req.id),
                        )
                        .with_help(help),
                    );
                }
                None => requires_outside.push(ExternalRequirement {
                    id: req.id.clone(),
                    optional: req.optional,
                }),
            }
        }
        requires_outside
    }

    /// The locks an op holds: those it and its entry name, and the locks of the VM it runs on.
    fn locks(
        &self,
        entry: &crate::catalog::Entry,
        op: &Operation,
        script: &Script,
        diags: &mut Diagnostics,
    ) -> Vec<LockName> {
        let (catalog, config) = (self.catalog, self.config);
        let mut locks: Vec<LockName> = op
            .locks
            .iter()
            .chain(&entry.locks)
            .map(|(l, _)| l.parse().unwrap_or_else(|never| match never {}))
            .collect();
        match (script, op.kind) {
            (Script::RunCommand(rc), _) => {
                locks.extend(super::vm_locks::locks(op, &rc.target, diags))
            }
            (_, OpKind::InstallApps | OpKind::WindowsUpdate) => {
                let target = super::vm::target(op, config, catalog, diags);
                locks.extend(
                    target
                        .iter()
                        .flat_map(|t| super::vm_locks::locks(op, t, diags)),
                )
            }
            (_, OpKind::Shell) => {
                locks.extend(super::vm::inferred_lock(op, config, catalog, diags))
            }
            _ => {}
        }
        locks.sort();
        locks.dedup();
        locks
    }
}

/// An install-apps operation without `duration.expected` of its own takes as
/// long as its apps' declared downloads (side by side) and installs (in turn).
fn apps_expected(op: &Operation) -> Option<std::time::Duration> {
    let apps: Vec<_> = op
        .apps
        .iter()
        .map(|a| crate::azure::install_apps::Timed {
            expected: a.expected,
            after: &a.after,
        })
        .collect();
    let parallel = op
        .download_parallelism
        .unwrap_or(crate::azure::install_apps::DEFAULT_DOWNLOAD_PARALLELISM);
    crate::azure::install_apps::expected(&apps, parallel)
}

/// The names of the configured secrets `op` uses, in the config's order.
fn config_secrets_used(op: &Operation, config: &Config) -> Vec<String> {
    config
        .secrets
        .iter()
        .map(|(name, _)| name)
        .filter(|name| uses_name(op, name))
        .cloned()
        .collect()
}

/// Without a `retry` of their own, VM operations retry what is worth retrying:
/// a busy run-command slot, an agent that is not ready, a busy installer,
/// throttling (az itself already retried responses carrying Retry-After).
fn default_retry(kind: OpKind) -> RetryPolicy {
    match kind {
        OpKind::Shell => RetryPolicy::none(),
        OpKind::RunCommand | OpKind::InstallApps | OpKind::WindowsUpdate => RetryPolicy {
            attempts: 1000,
            delay: std::time::Duration::from_secs(15),
            max_delay: std::time::Duration::from_secs(300),
            on: vec![
                FailureClass::RunCommandConflict,
                FailureClass::AgentNotReady,
                FailureClass::MsiBusy,
                FailureClass::Throttled,
            ],
            // As long as the operation may take: a windows-update round hours in still retries.
            budget: Some(super::default_timeout(kind)),
        },
    }
}

/// A run needs the secrets its operations use; `plan` notes missing ones.
fn check_secrets(
    config: &Config,
    options: PlanOptions,
    resolved: &[(&crate::catalog::Entry, &Operation)],
    diags: &mut Diagnostics,
) {
    let file = config.file.clone().unwrap_or_else(|| "config.yaml".into());
    for (name, pos) in config.missing_secrets() {
        let used_by = resolved
            .iter()
            .find(|(_, op)| uses_name(op, name))
            .map(|(_, op)| op.id.as_str());
        let help = format!("export {name}=… before running (secrets are never read from files)");
        let d = match used_by {
            _ if options.secrets == SecretCheck::Unchecked => continue,
            Some(op) if options.secrets == SecretCheck::Required => Diagnostic::error(
                &file,
                *pos,
                format!("secret `{name}` is not set in the environment (`{op}` uses it)"),
            ),
            Some(op) => Diagnostic::note(
                &file,
                *pos,
                format!(
                    "secret `{name}` is not set in the environment; `run` will need it (`{op}` uses it)"
                ),
            ),
            None => continue,
        };
        diags.push(d.with_help(help));
    }
}

/// Whether any text of `op` names `name`: as `{{NAME}}`, `$NAME`, `${NAME}` or `$env:NAME`.
pub(super) fn uses_name(op: &Operation, name: &str) -> bool {
    let mut texts: Vec<&str> = op
        .script
        .iter()
        .chain(op.idempotency.iter())
        .map(|t| t.value.as_str())
        .collect();
    match &op.powershell {
        Some(crate::catalog::operation::PowerShellSource::Inline(t)) => texts.push(&t.value),
        Some(crate::catalog::operation::PowerShellSource::File { text, .. }) => {
            texts.push(&text.value)
        }
        None => {}
    }
    texts.extend(op.parameters.iter().map(|(_, t)| t.value.as_str()));
    for app in &op.apps {
        texts.push(&app.url.value);
        texts.extend(app.args.iter().map(|t| t.value.as_str()));
    }
    texts.iter().any(|t| {
        t.match_indices(name).any(|(i, _)| {
            let before = t[..i].chars().next_back();
            let after = t[i + name.len()..].chars().next();
            let word_end = !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            let word_start = !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                || before == Some(':');
            word_start && word_end
        })
    })
}

/// Consecutive entries with one `parallel_group` form a stage; an entry without one is a stage alone.
fn stages(
    resolved: &[(&crate::catalog::Entry, &Operation)],
    file: &Path,
    diags: &mut Diagnostics,
) -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    let mut group_first_line: HashMap<u32, (usize, u32)> = HashMap::new();
    for (i, (entry, _)) in resolved.iter().enumerate() {
        let group = entry.parallel_group.map(|(g, _)| g);
        let continues =
            matches!((stages.last(), group), (Some(s), Some(g)) if s.parallel_group == Some(g));
        if continues {
            stages.last_mut().expect("checked above").ops.push(i);
            continue;
        }
        if let Some((g, pos)) = entry.parallel_group
            && let Some((stage, line)) = group_first_line.get(&g)
        {
            diags.push(
                Diagnostic::error(
                    file,
                    pos,
                    format!("`parallel_group: {g}` appears again after a different stage (first used on line {line}, stage {stage})"),
                )
                .with_help("entries of one parallel group must be listed together; goldsmith never reorders entries"),
            );
        }
        let number = stages.len() + 1;
        if let Some((g, pos)) = entry.parallel_group {
            group_first_line.entry(g).or_insert((number, pos.line));
        }
        stages.push(Stage {
            number,
            parallel_group: group,
            ops: vec![i],
        });
    }
    stages
}

/// What `depends_on` may name at this point of the module.
fn earlier_entries_help(earlier: &[(&crate::catalog::Entry, &Operation)]) -> String {
    if earlier.is_empty() {
        return "`depends_on` names earlier entries of this module, and this is the first one; remove `depends_on`".into();
    }
    const SHOWN: usize = 8;
    let mut names: Vec<String> = earlier
        .iter()
        .take(SHOWN)
        .map(|(e, _)| format!("`{}`", e.id))
        .collect();
    if earlier.len() > SHOWN {
        names.push(format!("and {} more", earlier.len() - SHOWN));
    }
    format!(
        "`depends_on` names earlier entries of this module: {}",
        names.join(", ")
    )
}

fn render_bash(
    op: &Operation,
    text: &Text,
    catalog: &Catalog,
    config: &Config,
    diags: &mut Diagnostics,
) -> Option<String> {
    let (found, _) = super::placeholders::check(&op.file, text, &catalog.sources, config, diags);
    match template::shell::render(&text.value, &found) {
        Ok(rendered) => {
            super::placeholders::check_uses(
                &op.file,
                text,
                &rendered.uses,
                &catalog.sources,
                config,
                diags,
            );
            Some(rendered.text)
        }
        Err(problems) => {
            for p in problems {
                let pos = template::position(&catalog.sources, &op.file, text, p.start);
                diags.push(Diagnostic::error(&op.file, pos, p.message).with_help(p.help));
            }
            None
        }
    }
}

/// Renders what the executor runs; checks placeholders of the fields later kinds render.
pub fn check_operation(
    catalog: &Catalog,
    op: &Operation,
    config: &Config,
    diags: &mut Diagnostics,
) -> (Script, Option<String>) {
    let check = op
        .idempotency
        .as_ref()
        .and_then(|t| render_bash(op, t, catalog, config, diags));
    let script = match op.kind {
        OpKind::Shell => op
            .script
            .as_ref()
            .and_then(|t| render_bash(op, t, catalog, config, diags))
            .map_or(Script::Invalid, Script::Bash),
        OpKind::RunCommand => super::vm::run_command(op, config, catalog, diags)
            .map_or(Script::Invalid, Script::RunCommand),
        OpKind::InstallApps => super::vm::install_apps(op, config, catalog, diags)
            .map_or(Script::Invalid, Script::RunCommand),
        OpKind::WindowsUpdate => super::windows_update::plan(op, config, catalog, diags)
            .map_or(Script::Invalid, Script::RunCommand),
    };
    (script, check)
}

/// Hash of what the op will do: kind, rendered scripts and the values of the variables they use.
/// Secret values are left out, so that no hash of a secret is ever written to disk.
fn fingerprint(op: &Operation, script: &Script, check: Option<&str>, config: &Config) -> String {
    let mut h = Sha256::new();
    h.update(op.kind.name());
    h.update([0]);
    match script {
        Script::Bash(s) => h.update(s),
        Script::RunCommand(rc) => {
            h.update(&rc.shown);
            h.update(rc.target.lock_name().to_string());
            for (k, v) in &rc.parameters {
                h.update(format!("{k}={v}\0"));
            }
        }
        Script::Invalid => {}
    }
    h.update([0]);
    h.update(check.unwrap_or(""));
    h.update([0]);
    let mut texts: Vec<&str> = op
        .script
        .iter()
        .chain(op.idempotency.iter())
        .map(|t| t.value.as_str())
        .collect();
    if let Some(crate::catalog::operation::PowerShellSource::Inline(t)) = &op.powershell {
        texts.push(&t.value);
        h.update(&t.value);
    }
    if let Some(t) = &op.target {
        texts.extend([t.vm.value.as_str(), t.resource_group.value.as_str()]);
    }
    let mut names: Vec<String> = texts
        .iter()
        .flat_map(|t| template::scan(t).0)
        .map(|p| p.name)
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        if let Some(var) = config.vars.get(&name) {
            h.update(&name);
            h.update([b'=']);
            h.update(&var.value);
            h.update([0]);
        }
    }
    hex::encode(h.finalize())[..16].to_string()
}

/// Longest chain of expected durations, following the same waits the executor uses.
pub(super) fn estimate(
    ops: &[PlannedOp],
    stages: &[Stage],
) -> (std::time::Duration, Vec<String>, usize) {
    use std::time::Duration;
    let mut finish = vec![Duration::ZERO; ops.len()];
    let mut prev: Vec<Option<usize>> = vec![None; ops.len()];
    // The op that finishes last among all stages before stage n, for stage-waiting ops.
    let mut last_before_stage: Vec<Option<usize>> = vec![None; stages.len() + 2];
    let mut running_max: Option<usize> = None;
    // The previous holder of each lock: lock holders run one after the other in list order.
    let mut last_holder: std::collections::HashMap<&LockName, usize> =
        std::collections::HashMap::new();
    for stage in stages {
        last_before_stage[stage.number] = running_max;
        for &i in &stage.ops {
            let op = &ops[i];
            let mut start = Duration::ZERO;
            let mut from = None;
            let waits: Vec<usize> = if op.waits_for_stage {
                last_before_stage[stage.number]
                    .into_iter()
                    .chain(op.depends_on.iter().copied())
                    .collect()
            } else {
                op.depends_on.clone()
            };
            let lock_waits: Vec<usize> = op
                .locks
                .iter()
                .filter_map(|l| last_holder.get(l).copied())
                .collect();
            for l in &op.locks {
                last_holder.insert(l, i);
            }
            for d in waits.into_iter().chain(lock_waits) {
                if finish[d] >= start {
                    start = finish[d];
                    from = Some(d);
                }
            }
            let takes = if op.off.is_some() {
                Duration::ZERO
            } else {
                op.expected.unwrap_or_default()
            };
            finish[i] = start + takes;
            prev[i] = from;
        }
        for &i in &stage.ops {
            if running_max.is_none_or(|m| finish[i] > finish[m]) {
                running_max = Some(i);
            }
        }
    }
    // Operations `when:` switched off take no time: they are links, not steps, of the chain.
    let mut path = Vec::new();
    let mut cur = running_max;
    while let Some(i) = cur {
        if ops[i].off.is_none() {
            path.push(ops[i].id.clone());
        }
        cur = prev[i];
    }
    path.reverse();
    let total = running_max.map_or(Duration::ZERO, |i| finish[i]);
    (
        total,
        path,
        ops.iter()
            .filter(|o| o.expected.is_none() && o.off.is_none())
            .count(),
    )
}
