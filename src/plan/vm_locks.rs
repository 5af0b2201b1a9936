//! The locks an operation that runs inside a VM holds, and why: `vm:<rg>/<vm>`
//! for the action run-command channel (Azure runs one `invoke` per VM at a
//! time), `msi:<rg>/<vm>` for Windows Installer (one installer per machine,
//! whichever channel started it). A managed run-command holds no `vm:` lock:
//! several run on one VM at once. Each operation gets a note saying which
//! locks it holds and why, for `validate` and `plan`.

use crate::azure::run_command::VmTarget;
use crate::catalog::Operation;
use crate::catalog::run_mode::RunMode;
use crate::record::event::{LockName, OpKind};
use crate::source::{Diagnostic, Diagnostics};

/// The VM locks `op` holds on `target`, with a note at its id explaining them.
pub fn locks(op: &Operation, target: &VmTarget, diags: &mut Diagnostics) -> Vec<LockName> {
    let managed = op.kind == OpKind::RunCommand && op.mode == RunMode::Managed;
    let installs = op.installs || matches!(op.kind, OpKind::InstallApps | OpKind::WindowsUpdate);
    let mut locks = Vec::new();
    let mut reasons = Vec::new();
    if managed {
        reasons.push(
            "no `vm:` lock, as a managed run-command (`az vm run-command create`): several run on one VM at once"
                .to_string(),
        );
    } else {
        let lock = target.lock_name();
        reasons.push(format!(
            "`{lock}`, as it sends its script with `az vm run-command invoke`: Azure runs one per VM at a time"
        ));
        locks.push(lock);
    }
    let msi = target.msi_lock_name();
    if installs {
        let why = match op.kind {
            OpKind::InstallApps => "it installs apps",
            OpKind::WindowsUpdate => "it installs updates",
            _ => "it declares `installs: true`",
        };
        reasons.push(format!(
            "`{msi}`, as {why}: Windows Installer runs one installer per machine"
        ));
        locks.push(msi);
    } else {
        reasons.push(format!(
            "no `{msi}` lock: it declares no installers (`installs: true` would take it)"
        ));
    }
    diags.push(Diagnostic::note(
        &op.file,
        op.id_pos,
        format!("`{}` holds {}", op.id, reasons.join("; ")),
    ));
    locks
}
