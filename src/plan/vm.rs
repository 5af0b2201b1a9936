//! Planning operations that run inside a VM: the rendered, wrapped
//! PowerShell, the VM each targets, and the per-VM lock that keeps two
//! run-commands (or two MSI installs) off one VM at once.

use std::path::{Path, PathBuf};

use super::{Plan, RunCommandScript, Script};
use crate::azure::install_apps::{self, AppSpec};
use crate::azure::msi::AcceptedCodes;
use crate::azure::powershell;
use crate::azure::run_command::VmTarget;
use crate::catalog::operation::{PowerShellSource, Text};
use crate::catalog::run_mode::RunMode;
use crate::catalog::{Catalog, Operation};
use crate::config::Config;
use crate::record::event::LockName;
use crate::redact::MASK;
use crate::source::{Diagnostic, Diagnostics, Pos};
use crate::template;

/// A templated field resolved to plain text (an argument, never code), or `None` with a diagnostic.
fn resolve(
    op: &Operation,
    text: &Text,
    what: &str,
    config: &Config,
    catalog: &Catalog,
    diags: &mut Diagnostics,
) -> Option<String> {
    // An undefined placeholder is reported as such, not as an empty name.
    let (found, defined) =
        super::placeholders::check(&op.file, text, &catalog.sources, config, diags);
    if !defined {
        return None;
    }
    let mut out = String::new();
    let mut last = 0;
    for ph in &found {
        out.push_str(&text.value[last..ph.start]);
        if config.secrets.iter().any(|(n, _)| n == &ph.name) {
            let pos = template::position(&catalog.sources, &op.file, text, ph.start);
            diags.push(Diagnostic::error(&op.file, pos, format!("`{what}` may not use the secret `{}`", ph.name)).with_help("secrets may only appear inside scripts, where goldsmith can keep them out of logs"));
            return None;
        }
        out.push_str(config.vars.get(&ph.name).map_or("", |v| v.value.as_str()));
        last = ph.end;
    }
    out.push_str(&text.value[last..]);
    Some(out)
}

/// The VM an operation targets, with config values filled in.
pub fn target(
    op: &Operation,
    config: &Config,
    catalog: &Catalog,
    diags: &mut Diagnostics,
) -> Option<VmTarget> {
    let t = op.target.as_ref()?;
    let vm = resolve(op, &t.vm, "target.vm", config, catalog, diags)?;
    let resource_group = resolve(
        op,
        &t.resource_group,
        "target.resource_group",
        config,
        catalog,
        diags,
    )?;
    if vm.trim().is_empty() || resource_group.trim().is_empty() {
        diags.push(
            Diagnostic::error(
                &op.file,
                t.vm.pos,
                "`target` resolves to an empty VM or resource group name",
            )
            .with_help("set the config values it uses"),
        );
        return None;
    }
    Some(VmTarget { resource_group, vm })
}

/// The script text of `powershell:` and the file its positions refer to.
fn source(op: &Operation) -> Option<(PathBuf, &Text)> {
    match op.powershell.as_ref()? {
        PowerShellSource::Inline(t) => Some((op.file.clone(), t)),
        PowerShellSource::File { path, text, .. } => Some((path.clone(), text)),
    }
}

/// Renders, checks and wraps the PowerShell of a run-command operation.
pub fn run_command(
    op: &Operation,
    config: &Config,
    catalog: &Catalog,
    diags: &mut Diagnostics,
) -> Option<RunCommandScript> {
    let (file, text) = source(op)?;
    // A `powershell.file` that could not be read is already an error at its line.
    catalog.sources.text(&file)?;
    let (found, ok) = super::placeholders::check(&file, text, &catalog.sources, config, diags);
    let rendered = match powershell::render(&text.value, &found) {
        Ok(r) => r,
        Err(problems) => {
            for p in problems {
                let pos = if text.value[p.start..].starts_with("{{") {
                    template::position(&catalog.sources, &file, text, p.start)
                } else {
                    template::offset_position(&catalog.sources, &file, text, p.start)
                };
                diags.push(Diagnostic::error(&file, pos, p.message).with_help(p.help));
            }
            return None;
        }
    };
    let target = target(op, config, catalog, diags);
    let mut parameters = Vec::new();
    for (name, value) in &op.parameters {
        parameters.push((
            name.clone(),
            resolve(
                op,
                value,
                &format!("parameters.{name}"),
                config,
                catalog,
                diags,
            )?,
        ));
    }
    if !ok {
        return None;
    }
    let target = target?;
    let names = found.iter().map(|p| p.name.as_str());
    let wrapped = match op.mode {
        RunMode::Action => wrap(op, &rendered, names, config).map(|w| (w, Vec::new())),
        RunMode::Managed => wrap_managed(op, &rendered, names, &parameters, config),
    };
    match wrapped {
        Ok(((wrapped, shown), protected)) => Some(RunCommandScript {
            target,
            wrapped,
            shown,
            parameters,
            strict_stderr: op.strict_stderr,
            rounds: 1,
            accepted: AcceptedCodes::default(),
            mode: op.mode,
            protected,
        }),
        Err(e) => {
            diags.push(
                Diagnostic::error(&file, text.pos, e).with_help("indent the line or change it"),
            );
            None
        }
    }
}

/// The script wrapped twice: with the values it uses (as sent), and with secret values masked (as kept).
fn wrap<'n>(
    op: &Operation,
    script: &str,
    names: impl Iterator<Item = &'n str>,
    config: &Config,
) -> Result<(String, String), String> {
    let mut names: Vec<&str> = names.collect();
    names.sort();
    names.dedup();
    let value = |name: &str, mask: bool| -> String {
        match config.vars.get(name) {
            Some(v) => v.value.clone(),
            None if mask => MASK.to_string(),
            None => config.secret_values.get(name).cloned().unwrap_or_default(),
        }
    };
    let values: Vec<(String, String)> = names
        .iter()
        .map(|n| (n.to_string(), value(n, false)))
        .collect();
    let masked: Vec<(String, String)> = names
        .iter()
        .map(|n| (n.to_string(), value(n, true)))
        .collect();
    Ok((
        powershell::wrap(&op.id, script, &values)?,
        powershell::wrap(&op.id, script, &masked)?,
    ))
}

/// A wrapped script as sent and as kept in the run directory.
type Wrapped = (String, String);

/// The script of a managed run-command wrapped with the values of the config
/// names it uses, and the secrets among them as script parameters (sent as
/// `--protected-parameters`, returned with their values), so that neither
/// copy of the script holds a secret.
fn wrap_managed<'n>(
    op: &Operation,
    script: &str,
    names: impl Iterator<Item = &'n str>,
    parameters: &[(String, String)],
    config: &Config,
) -> Result<(Wrapped, Vec<(String, String)>), String> {
    let mut names: Vec<&str> = names.collect();
    names.sort();
    names.dedup();
    let is_secret = |n: &str| !config.vars.contains_key(n);
    let values: Vec<(String, String)> = (names.iter().filter(|n| !is_secret(n)))
        .map(|n| (n.to_string(), config.vars[*n].value.clone()))
        .collect();
    let protected: Vec<(String, String)> = (names.iter().filter(|n| is_secret(n)))
        .map(|n| {
            let value = config.secret_values.get(*n).cloned().unwrap_or_default();
            (n.to_string(), value)
        })
        .collect();
    let declared: Vec<&str> = (protected.iter().map(|(n, _)| n.as_str()))
        .chain(parameters.iter().map(|(n, _)| n.as_str()))
        .collect();
    let wrapped = powershell::wrap_with_parameters(&op.id, script, &values, &declared)?;
    Ok(((wrapped.clone(), wrapped), protected))
}

/// Generates, checks and wraps the script of an install-apps operation.
pub fn install_apps(
    op: &Operation,
    config: &Config,
    catalog: &Catalog,
    diags: &mut Diagnostics,
) -> Option<RunCommandScript> {
    let errors_before = diags.error_count();
    let mut scanned = Vec::new();
    for app in &op.apps {
        if !app
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || app.name.is_empty()
        {
            diags.push(
                Diagnostic::error(
                    &op.file,
                    app.pos,
                    format!(
                        "app name `{}` may only use letters, digits, `-`, `_` and `.`",
                        app.name
                    ),
                )
                .with_help("it names files and result lines inside the VM"),
            );
        }
        super::downloads::check_sha256(op, app, diags);
        if !app.url.value.starts_with("https://") && !app.url.value.starts_with("{{") {
            diags.push(
                Diagnostic::warning(
                    &op.file,
                    app.url.pos,
                    format!(
                        "app `{}` downloads over `{}` without TLS",
                        app.name,
                        app.url.value.split(':').next().unwrap_or("")
                    ),
                )
                .with_help("use an https:// URL"),
            );
        }
        let url = super::placeholders::check(&op.file, &app.url, &catalog.sources, config, diags).0;
        let args = app
            .args
            .as_ref()
            .map(|t| super::placeholders::check(&op.file, t, &catalog.sources, config, diags).0);
        scanned.push((url, args));
    }
    let target = target(op, config, catalog, diags);
    if diags.error_count() > errors_before {
        return None;
    }
    let specs: Vec<AppSpec<'_>> = op
        .apps
        .iter()
        .zip(&scanned)
        .map(|(app, (url, args))| AppSpec {
            name: &app.name,
            kind: &app.kind,
            url: (&app.url.value, url),
            sha256: app.sha256.as_ref().map(|t| t.value.as_str()),
            args: app
                .args
                .as_ref()
                .zip(args.as_ref())
                .map(|(t, p)| (t.value.as_str(), p.as_slice())),
            expected: app.expected,
            ok_codes: &app.ok_codes,
            after: &app.after,
        })
        .collect();
    let script = install_apps::script(
        &specs,
        op.download_parallelism
            .unwrap_or(install_apps::DEFAULT_DOWNLOAD_PARALLELISM),
    );
    let names = scanned
        .iter()
        .flat_map(|(u, a)| u.iter().chain(a.iter().flatten()))
        .map(|p| p.name.as_str());
    let rc = generated(op, &script, names, target?, config, op.id_pos, diags)?;
    Some(RunCommandScript {
        accepted: AcceptedCodes::new(
            op.apps
                .iter()
                .map(|a| (a.name.as_str(), a.ok_codes.as_slice())),
        ),
        ..rc
    })
}

/// A script goldsmith generated (install-apps, windows-update), wrapped with
/// the values of `names`, run once with no parameters; a script that cannot
/// be wrapped is an error at `pos`.
pub(super) fn generated<'n>(
    op: &Operation,
    script: &str,
    names: impl Iterator<Item = &'n str>,
    target: VmTarget,
    config: &Config,
    pos: Pos,
    diags: &mut Diagnostics,
) -> Option<RunCommandScript> {
    match wrap(op, script, names, config) {
        Ok((wrapped, shown)) => Some(RunCommandScript {
            target,
            wrapped,
            shown,
            parameters: Vec::new(),
            strict_stderr: op.strict_stderr,
            rounds: 1,
            accepted: AcceptedCodes::default(),
            mode: RunMode::Action,
            protected: Vec::new(),
        }),
        Err(e) => {
            diags.push(Diagnostic::error(&op.file, pos, e));
            None
        }
    }
}

/// For bash-engine shell operations that call `az vm run-command invoke`
/// themselves: the VM named by `--name`/`-n` and `--resource-group`/`-g`.
/// Returns the lock and a note saying where it was inferred, or a warning
/// when the VM could not be worked out.
pub fn inferred_lock(
    op: &Operation,
    config: &Config,
    catalog: &Catalog,
    diags: &mut Diagnostics,
) -> Option<LockName> {
    let text = op.script.as_ref()?;
    let call_at = text.value.find("az vm run-command invoke")?;
    let pos = template::offset_position(&catalog.sources, &op.file, text, call_at);
    // Continuation lines belong to the call.
    let joined = text.value[call_at..].replace("\\\n", " ");
    let call = joined.lines().next().unwrap_or("");
    let words = shell_words(call);
    let arg = |long: &str, short: &str| {
        words
            .windows(2)
            .find(|w| w[0] == long || w[0] == short)
            .map(|w| w[1].clone())
            .or_else(|| {
                words
                    .iter()
                    .find_map(|w| w.strip_prefix(&format!("{long}=")).map(str::to_string))
            })
    };
    let resolved = (
        arg("--resource-group", "-g").and_then(|v| expand(&v, config)),
        arg("--name", "-n").and_then(|v| expand(&v, config)),
    );
    match resolved {
        (Some(resource_group), Some(vm)) => {
            let lock = VmTarget { resource_group, vm }.lock_name();
            diags.push(Diagnostic::note(
                &op.file,
                pos,
                format!(
                    "`{}` calls `az vm run-command invoke`: holding lock `{}`",
                    op.id, lock
                ),
            ));
            Some(lock)
        }
        _ => {
            diags.push(
                Diagnostic::warning(&op.file, pos, format!("`{}` calls `az vm run-command invoke` on a VM goldsmith cannot work out, so it holds no VM lock", op.id))
                    .with_help("use config placeholders for `--name` and `--resource-group`, or add `locks: [vm:<resource-group>/<vm>]`"),
            );
            None
        }
    }
}

/// A value as written in a script: `{{NAME}}`, `$NAME`, `${NAME}` (config names) or a literal.
fn expand(word: &str, config: &Config) -> Option<String> {
    let (found, _) = template::scan(word);
    if let [ph] = found.as_slice() {
        return config.vars.get(&ph.name).map(|v| v.value.clone());
    }
    if let Some(name) = word
        .strip_prefix("${")
        .and_then(|w| w.strip_suffix('}'))
        .or_else(|| word.strip_prefix('$'))
    {
        return config.vars.get(name).map(|v| v.value.clone());
    }
    (!word.contains(['$', '`', '(', '{'])).then(|| word.to_string())
}

/// Splits a command line into words, removing quotes.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, ';' | '|' | '&') => break,
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Warns at both entries when two operations of one parallel group take turns
/// on one VM's lock, unless a managed run-command of the group runs on that VM
/// beside them: such a group serialises its action run-commands on purpose.
pub fn warn_shared_vms(
    plan: &Plan,
    module_file: &Path,
    entry_pos: &[Pos],
    diags: &mut Diagnostics,
) {
    for stage in &plan.stages {
        let Some(group) = stage.parallel_group else {
            continue;
        };
        // A managed run-command on the VM that runs beside the ones taking turns.
        let beside = |lock: &LockName| {
            stage.ops.iter().any(|&i| {
                matches!(&plan.ops[i].script, Script::RunCommand(rc)
                    if rc.target.lock_name() == *lock && !plan.ops[i].locks.contains(lock))
            })
        };
        for (n, &a) in stage.ops.iter().enumerate() {
            for &b in &stage.ops[n + 1..] {
                let (oa, ob) = (&plan.ops[a], &plan.ops[b]);
                let Some(vm) = oa.locks.iter().find_map(|l| match l {
                    LockName::Vm { vm, .. } if ob.locks.contains(l) && !beside(l) => Some(vm),
                    _ => None,
                }) else {
                    continue;
                };
                let message = format!(
                    "{} and {} both run on VM {vm} in parallel group {group}; goldsmith will run them one at a time. One install-apps operation downloads in parallel instead.",
                    oa.id, ob.id
                );
                for i in [a, b] {
                    diags.push(Diagnostic::warning(
                        module_file,
                        entry_pos[i],
                        message.clone(),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_of_an_az_call() {
        assert_eq!(
            shell_words(
                r#"az vm run-command invoke -g "$RG" --name '{{VM}}' --scripts "a b"; echo x"#
            ),
            [
                "az",
                "vm",
                "run-command",
                "invoke",
                "-g",
                "$RG",
                "--name",
                "{{VM}}",
                "--scripts",
                "a b"
            ]
        );
    }
}
