//! Loading a project (catalog + config) and the commands that only read it:
//! `list`, `validate`, `plan`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Args, CliError, exit};
use crate::catalog::{Catalog, Module};
use crate::config::Config;
use crate::plan::{self, Plan, PlanOptions};
use crate::source::{Diagnostic, Diagnostics, Pos, suggest};

pub struct Project {
    pub root: PathBuf,
    pub catalog: Catalog,
    pub config: Config,
}

/// Loads the catalog and config; every problem goes to `diags`.
pub fn load(root: &Path, args: &Args, diags: &mut Diagnostics) -> Result<Project, CliError> {
    if !root.is_dir() {
        return Err(CliError::Invalid(format!(
            "project root {} is not a directory",
            root.display()
        )));
    }
    let mut catalog = Catalog::load(root, diags);
    let env: HashMap<String, String> = std::env::vars().collect();
    let (file, required) = match &args.config {
        Some(f) => (f.clone(), true),
        None => (root.join("config.yaml"), false),
    };
    let shown = file
        .strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| file.clone());
    let config = Config::load(
        root,
        &file,
        &shown,
        required,
        &env,
        &mut catalog.sources,
        diags,
    );
    Ok(Project {
        root: root.to_path_buf(),
        catalog,
        config,
    })
}

/// Prints every diagnostic (sorted, with source lines) and a count line, to stderr.
pub fn print_diagnostics(project: &Project, diags: &Diagnostics) {
    if diags.items.is_empty() {
        return;
    }
    let mut err = std::io::stderr().lock();
    for d in diags.sorted() {
        let _ = writeln!(err, "{}", d.render(&project.catalog.sources));
    }
    let _ = writeln!(
        err,
        "{} error{}, {} warning{}",
        diags.error_count(),
        if diags.error_count() == 1 { "" } else { "s" },
        diags.warning_count(),
        if diags.warning_count() == 1 { "" } else { "s" }
    );
}

pub fn find_module<'c>(project: &'c Project, name: &str) -> Result<&'c Module, CliError> {
    project.catalog.module(name).ok_or_else(|| {
        let names = project
            .catalog
            .modules
            .iter()
            .flat_map(|m| [m.id.as_str(), m.folder.as_str()]);
        let hint = suggest(name, names)
            .map(|h| format!("; {h}"))
            .unwrap_or_default();
        let known: Vec<&str> = project
            .catalog
            .modules
            .iter()
            .map(|m| m.id.as_str())
            .collect();
        CliError::Invalid(format!(
            "unknown module `{name}`{hint} (modules: {})",
            if known.is_empty() {
                "none under modules/".to_string()
            } else {
                known.join(", ")
            }
        ))
    })
}

/// Loads the project and plans `module`; prints diagnostics; errors mean exit 2.
pub fn load_plan(
    root: &Path,
    args: &Args,
    module: &str,
    options: PlanOptions,
    simulate: bool,
) -> Result<(Project, Plan), CliError> {
    let mut diags = Diagnostics::default();
    let mut project = load(root, args, &mut diags)?;
    if simulate {
        stand_in_secrets(&mut project.config);
    }
    let module = match find_module(&project, module) {
        Ok(m) => m,
        Err(e) => {
            print_diagnostics(&project, &diags);
            return Err(e);
        }
    };
    let plan = plan::build(
        &project.catalog,
        module,
        &project.config,
        options,
        &mut diags,
    );
    print_diagnostics(&project, &diags);
    match plan {
        Some(plan) if !diags.has_errors() => Ok((project, plan)),
        _ => Err(CliError::Invalid(format!(
            "`{}` is invalid; nothing ran",
            module.id
        ))),
    }
}

/// The simulated Azure needs no real secrets: a missing one gets a random
/// stand-in (still masked everywhere), so a first run needs no setup.
fn stand_in_secrets(config: &mut crate::config::Config) {
    let missing: Vec<String> = config
        .missing_secrets()
        .into_iter()
        .map(|(n, _)| n.clone())
        .collect();
    for name in missing {
        eprintln!("goldsmith: --simulate: secret `{name}` is not set; using a random stand-in");
        let value = format!(
            "sim-{:016x}{:016x}",
            rand::random::<u64>(),
            rand::random::<u64>()
        );
        config.secret_values.insert(name, value);
    }
}

pub fn list(root: &Path, args: &Args) -> Result<i32, CliError> {
    let mut diags = Diagnostics::default();
    let project = load(root, args, &mut diags)?;
    print_diagnostics(&project, &diags);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "modules:");
    for m in &project.catalog.modules {
        let _ = writeln!(
            out,
            "  {:<24} {:<28} {} operations  {}",
            m.id,
            m.folder,
            m.entries.len(),
            m.name
        );
    }
    let _ = writeln!(out, "operations:");
    let width = project
        .catalog
        .operations
        .iter()
        .map(|o| o.id.len())
        .max()
        .unwrap_or(0);
    for op in &project.catalog.operations {
        let _ = writeln!(
            out,
            "  {:<width$}  {:<12}  {}",
            op.id,
            op.kind.name(),
            op.file.display()
        );
    }
    Ok(if diags.has_errors() {
        exit::INVALID
    } else {
        exit::OK
    })
}

pub fn validate(
    root: &Path,
    args: &Args,
    modules: &[String],
    strict: bool,
) -> Result<i32, CliError> {
    let mut diags = Diagnostics::default();
    let project = load(root, args, &mut diags)?;
    let selected: Vec<&Module> = if modules.is_empty() {
        project.catalog.modules.iter().collect()
    } else {
        let mut v = Vec::new();
        for name in modules {
            match find_module(&project, name) {
                Ok(m) => v.push(m),
                Err(CliError::Invalid(msg)) => {
                    diags.push(Diagnostic::error(Path::new("modules"), Pos::default(), msg))
                }
                Err(e) => return Err(e),
            }
        }
        v
    };
    let options = PlanOptions {
        secrets_required: false,
    };
    for module in &selected {
        plan::build(
            &project.catalog,
            module,
            &project.config,
            options,
            &mut diags,
        );
    }
    if modules.is_empty() {
        // Operations no module uses still get their placeholders checked.
        check_unused_operations(&project, &mut diags);
    }
    // Missing secrets are reported once per module; keep one.
    dedup(&mut diags);
    if strict {
        diags.make_warnings_errors();
    }
    print_diagnostics(&project, &diags);
    if let Some(gha) = super::gha::Actions::detect() {
        // In a pull request, every finding lands on the line that caused it.
        let found = crate::report::annotations::for_diagnostics(&diags.sorted());
        if gha.annotations_on()? {
            let mut out = std::io::stdout().lock();
            for a in crate::report::annotations::limit(
                found.clone(),
                "the check run lists every finding",
            ) {
                let _ = writeln!(out, "{}", crate::github::commands::annotation_line(&a));
            }
        }
        publish_validate_check(&gha, &diags, &found);
    }
    let mut out = std::io::stdout().lock();
    if diags.has_errors() {
        Ok(exit::INVALID)
    } else {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let _ = writeln!(
            out,
            "ok: {}, {}, {}",
            plural(selected.len(), "module"),
            plural(project.catalog.operations.len(), "operation"),
            plural(diags.warning_count(), "warning")
        );
        Ok(exit::OK)
    }
}

/// `goldsmith / validate` with every finding, when a token allows it.
fn publish_validate_check(
    gha: &super::gha::Actions,
    diags: &Diagnostics,
    found: &[crate::github::commands::Annotation],
) {
    use crate::github::check_run::Conclusion;
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let Some(check) = super::check::start(
        gha,
        &runtime,
        "validate",
        &crate::redact::Redactor::default(),
    ) else {
        return;
    };
    let (errors, warnings) = (diags.error_count(), diags.warning_count());
    let conclusion = if errors > 0 {
        Conclusion::Failure
    } else {
        Conclusion::Success
    };
    let title = format!("{errors} errors, {warnings} warnings");
    let mut summary = format!("## goldsmith validate\n\n{title}\n\n");
    for d in diags.sorted() {
        summary.push_str(&format!("- `{}`\n", d.headline().replace('`', "'")));
    }
    check.finish(&runtime, conclusion, &title, &summary, found);
}

fn dedup(diags: &mut Diagnostics) {
    let mut seen = std::collections::HashSet::new();
    diags.items.retain(|d| seen.insert(d.headline()));
}

fn check_unused_operations(project: &Project, diags: &mut Diagnostics) {
    let used: std::collections::HashSet<&str> = project
        .catalog
        .modules
        .iter()
        .flat_map(|m| m.entries.iter().map(|e| e.id.as_str()))
        .collect();
    for op in project
        .catalog
        .operations
        .iter()
        .filter(|o| !used.contains(o.id.as_str()))
    {
        plan::check_operation(&project.catalog, op, &project.config, diags);
    }
}

pub fn plan(
    root: &Path,
    args: &Args,
    module: &str,
    json: bool,
    max_parallel: u16,
) -> Result<i32, CliError> {
    let (_, plan) = load_plan(
        root,
        args,
        module,
        PlanOptions {
            secrets_required: false,
        },
        false,
    )?;
    let mut out = std::io::stdout().lock();
    let text = if json {
        plan::render::json(&plan)
    } else {
        plan::render::text(&plan, max_parallel as usize)
    };
    let _ = writeln!(out, "{}", text.trim_end());
    Ok(exit::OK)
}
