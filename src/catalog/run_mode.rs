//! A run-command operation's `mode:` (which Azure channel carries its script)
//! and `installs:` (whether it runs installers): together they decide the
//! locks it holds on its VM (`plan::vm_locks`).

use serde::Serialize;

use crate::record::event::OpKind;
use crate::source::fields::{Fields, Reader};
use crate::source::suggest;

/// How a run-command operation reaches its VM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    /// `az vm run-command invoke`: Azure runs one per VM at a time.
    #[default]
    Action,
    /// `az vm run-command create --async-execution`: a run command resource;
    /// several run on one VM at once.
    Managed,
}

impl RunMode {
    pub fn name(self) -> &'static str {
        match self {
            RunMode::Action => "action",
            RunMode::Managed => "managed",
        }
    }
}

/// Reads `mode:` and `installs:`; both belong to `kind: run-command` only
/// (install-apps and windows-update always run installers, through `invoke`).
pub fn parse(r: &mut Reader<'_>, f: &Fields<'_>, kind: Option<OpKind>) -> (RunMode, bool) {
    let mut mode = RunMode::Action;
    if let Some(node) = r.optional(f, "mode")
        && let Some(text) = r.string(node, "mode")
    {
        match text.as_str() {
            "action" => {}
            "managed" => mode = RunMode::Managed,
            other => {
                let modes = ["action", "managed"];
                let help = suggest(other, modes).unwrap_or_else(|| {
                    "modes are: action (`az vm run-command invoke`, one per VM at a time), managed (`az vm run-command create`, several at once)".into()
                });
                r.error_help(node.pos, format!("unknown mode `{other}`"), help);
            }
        }
        only_run_command(r, kind, node.pos, "mode");
    }
    let installs = match r.optional(f, "installs") {
        Some(node) => {
            only_run_command(r, kind, node.pos, "installs");
            r.bool(node, "installs").unwrap_or(false)
        }
        None => false,
    };
    (mode, installs)
}

fn only_run_command(
    r: &mut Reader<'_>,
    kind: Option<OpKind>,
    pos: crate::source::Pos,
    field: &str,
) {
    match kind {
        Some(OpKind::RunCommand) | None => {}
        Some(OpKind::InstallApps | OpKind::WindowsUpdate) => r.error_help(
            pos,
            format!("`{field}` is for `kind: run-command` operations"),
            "install-apps and windows-update always run installers through `az vm run-command invoke`: remove the field",
        ),
        Some(OpKind::Shell) => r.error_help(
            pos,
            format!("`{field}` is for `kind: run-command` operations"),
            "a shell operation runs on the runner: remove the field",
        ),
    }
}
