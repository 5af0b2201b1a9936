//! The commands that only read a project: `list`, `validate`, `plan`; and
//! loading one for any command, with its diagnostics printed.

use std::io::Write;
use std::path::Path;

use super::args::Settings;
use super::{CliError, exit};
use crate::catalog::{Module, dependencies};
use crate::plan::{self, Plan, PlanOptions};
use crate::project::Project;
use crate::source::{Diagnostic, Diagnostics, Pos};

/// Loads the project; problems in its files go to `diags`.
pub fn load(settings: &Settings, diags: &mut Diagnostics) -> Result<Project, CliError> {
    Ok(Project::load(
        &settings.root,
        settings.config.as_deref(),
        diags,
    )?)
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

/// Loads the project and plans `module` and, `with_dependencies`, every module
/// it depends on: their plans first, in the order to run them. Prints
/// diagnostics; errors mean exit 2.
pub fn load_plans(
    settings: &Settings,
    module: &str,
    options: PlanOptions,
    simulate: bool,
    with_dependencies: bool,
) -> Result<(Project, Vec<Plan>), CliError> {
    let mut diags = Diagnostics::default();
    let mut project = load(settings, &mut diags)?;
    if simulate {
        for name in project.use_stand_in_secrets() {
            eprintln!("goldsmith: --simulate: secret `{name}` is not set; using a random stand-in");
        }
    }
    let module = match project.module(module) {
        Ok(m) => m,
        Err(e) => {
            print_diagnostics(&project, &diags);
            return Err(e.into());
        }
    };
    let mut modules = dependencies::resolve(&project.catalog, module, &mut diags);
    if !with_dependencies {
        modules.clear();
    }
    modules.push(module);
    let plans: Vec<Option<Plan>> = modules
        .iter()
        .map(|m| project.plan(m, options, &mut diags))
        .collect();
    project.summarise(&mut diags);
    if plans.iter().all(Option::is_some) {
        let aside = project.set_aside_unrelated(&modules, &mut diags);
        note_set_aside(&module.id, &aside);
    }
    print_diagnostics(&project, &diags);
    match plans.into_iter().collect::<Option<Vec<Plan>>>() {
        Some(plans) if !diags.has_errors() => Ok((project, plans)),
        _ => Err(CliError::Invalid(format!(
            "`{}` is invalid; nothing ran",
            module.id
        ))),
    }
}

/// One line for the errors in files the run does not read: they do not stop it.
fn note_set_aside(module: &str, aside: &[Diagnostic]) {
    let errors: Vec<&Diagnostic> = aside
        .iter()
        .filter(|d| d.severity == crate::source::Severity::Error)
        .collect();
    if errors.is_empty() {
        return;
    }
    let mut files: Vec<String> = errors
        .iter()
        .map(|d| d.file.display().to_string())
        .collect();
    files.sort();
    files.dedup();
    eprintln!(
        "goldsmith: note: {} error{} in {} that `{module}` does not use ({}); `goldsmith validate` shows {}",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" },
        if files.len() == 1 { "a file" } else { "files" },
        files.join(", "),
        if errors.len() == 1 { "it" } else { "them" },
    );
}

pub fn list(settings: &Settings) -> Result<i32, CliError> {
    let mut diags = Diagnostics::default();
    let project = load(settings, &mut diags)?;
    print_diagnostics(&project, &diags);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "modules:");
    for m in &project.catalog.modules {
        let _ = writeln!(
            out,
            "  {:<24} {:<28} {}  {}",
            m.id,
            m.folder,
            crate::text::count(m.entries.len(), "operation"),
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

pub fn validate(settings: &Settings, modules: &[String], strict: bool) -> Result<i32, CliError> {
    let mut diags = Diagnostics::default();
    let project = load(settings, &mut diags)?;
    let selected: Vec<&Module> = if modules.is_empty() {
        project.catalog.modules.iter().collect()
    } else {
        let mut v = Vec::new();
        for name in modules {
            match project.module(name) {
                Ok(m) => v.push(m),
                Err(e) => diags.push(Diagnostic::error(
                    Path::new("modules"),
                    Pos::default(),
                    e.to_string(),
                )),
            }
        }
        v
    };
    project.validate(&selected, modules.is_empty(), &mut diags);
    if strict {
        diags.make_warnings_errors();
    }
    print_diagnostics(&project, &diags);
    if let Some(gha) = crate::github::actions::Actions::detect() {
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
        let plural = crate::text::count;
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
    gha: &crate::github::actions::Actions,
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
    let Some(check) = crate::report::check_run::start(
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

pub fn plan(
    settings: &Settings,
    module: &str,
    json: bool,
    with_dependencies: bool,
    max_parallel: u16,
) -> Result<i32, CliError> {
    let (_, plans) = load_plans(
        settings,
        module,
        PlanOptions {
            secrets: crate::plan::SecretCheck::Noted,
        },
        false,
        with_dependencies,
    )?;
    let plan =
        plan::merge(plans).map_err(|e| CliError::Invalid(format!("--with-dependencies: {e}")))?;
    let mut out = std::io::stdout().lock();
    let text = if json {
        plan::render::json(&plan)
    } else {
        plan::render::text(&plan, max_parallel as usize)
    };
    let _ = writeln!(out, "{}", text.trim_end());
    Ok(exit::OK)
}
