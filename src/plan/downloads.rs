//! Download integrity of install-apps apps: a `sha256` must be 64 hex
//! digits, and an app without one is a warning (`validate --strict` makes it
//! an error), since nothing then checks what the VM installs.

use crate::catalog::Operation;
use crate::catalog::operation::App;
use crate::source::{Diagnostic, Diagnostics};

/// Reports a malformed `sha256` of `app` at the hash, a missing one at the app.
pub fn check_sha256(op: &Operation, app: &App, diags: &mut Diagnostics) {
    match &app.sha256 {
        Some(sha) if !is_sha256(&sha.value) => diags.push(
            Diagnostic::error(
                &op.file,
                sha.pos,
                format!(
                    "`sha256` of app `{}` is not 64 hexadecimal digits ({} characters)",
                    app.name,
                    sha.value.chars().count()
                ),
            )
            .with_help("copy the whole SHA-256 of the file: `sha256sum <file>`, or `Get-FileHash -Algorithm SHA256 <file>` in PowerShell"),
        ),
        Some(_) => {}
        None => diags.push(
            Diagnostic::warning(
                &op.file,
                app.pos,
                format!(
                    "app `{}` is downloaded without `sha256`: nothing checks what the VM installs",
                    app.name
                ),
            )
            .with_help("pin a versioned URL and add `sha256: <64 hex digits>` of its file (`sha256sum <file>`)"),
        ),
    }
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit())
}
