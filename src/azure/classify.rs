//! What went wrong when `az` itself failed: a table from the texts the real
//! Azure CLI prints to failure classes. Tested against byte-exact captures.

use crate::record::failure::FailureClass;

/// Ordered: the first row whose needle occurs in stderr wins.
const TABLE: &[(&str, FailureClass)] = &[
    (
        "Run command extension execution is in progress",
        FailureClass::RunCommandConflict,
    ),
    ("(OperationNotAllowed)", FailureClass::VmNotRunning),
    ("requires the VM to be running", FailureClass::VmNotRunning),
    (
        "VMAgentStatusCommunicationError",
        FailureClass::AgentNotReady,
    ),
    ("VMExtensionProvisioningError", FailureClass::ExtensionError),
    (
        "VMExtensionProvisioningTimeout",
        FailureClass::ExtensionError,
    ),
    (
        "VMExtensionHandlerNonTransientError",
        FailureClass::ExtensionError,
    ),
    ("(TooManyRequests)", FailureClass::Throttled),
    ("(429)", FailureClass::Throttled),
    ("(ResourceNotFound)", FailureClass::NotFound),
    ("(ResourceGroupNotFound)", FailureClass::NotFound),
    ("AADSTS", FailureClass::Auth),
    ("Please run 'az login'", FailureClass::Auth),
    ("(AuthorizationFailed)", FailureClass::Auth),
    ("(InvalidAuthenticationToken", FailureClass::Auth),
    ("(ExpiredAuthenticationToken)", FailureClass::Auth),
];

/// Classifies a failed az invocation by its stderr (and exit code: 3 is az's "not found").
pub fn classify(exit_code: i32, stderr: &str) -> FailureClass {
    TABLE
        .iter()
        .find(|(needle, _)| stderr.contains(needle))
        .map(|(_, class)| *class)
        .unwrap_or(if exit_code == 3 {
            FailureClass::NotFound
        } else {
            FailureClass::AzError
        })
}

/// The first error line, without az's `ERROR: ` prefix: what a person needs to read.
pub fn headline(stderr: &str) -> String {
    let line = stderr
        .lines()
        .map(strip_ansi)
        .map(|l| l.trim().to_string())
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    line.strip_prefix("ERROR: ").unwrap_or(&line).to_string()
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        if c != '\r' {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(case: &str) -> (i32, String) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/az");
        let code = std::fs::read_to_string(dir.join(format!("{case}.exitcode"))).expect("exitcode");
        let stderr = std::fs::read_to_string(dir.join(format!("{case}.stderr"))).expect("stderr");
        (code.trim().parse().expect("number"), stderr)
    }

    #[test]
    fn real_az_failures_are_classified() {
        let cases = [
            ("b_conflict_in_progress", FailureClass::RunCommandConflict),
            (
                "b2_conflict_with_retry_after",
                FailureClass::RunCommandConflict,
            ),
            ("c_vm_not_running", FailureClass::VmNotRunning),
            ("d_agent_status_failed", FailureClass::AgentNotReady),
            ("e2_throttled_always", FailureClass::Throttled),
            ("e3_throttled_no_retry_after", FailureClass::Throttled),
            ("f_vm_not_found", FailureClass::NotFound),
            ("g_not_logged_in", FailureClass::Auth),
            ("g2_after_logout", FailureClass::Auth),
            ("h_sp_secret_expired", FailureClass::Auth),
            ("i_arm_unreachable", FailureClass::AzError),
            ("j_missing_command_id", FailureClass::AzError),
            ("x_error_with_target_and_details", FailureClass::AzError),
        ];
        for (case, class) in cases {
            let (code, stderr) = fixture(case);
            assert_ne!(code, 0, "{case}");
            assert_eq!(classify(code, &stderr), class, "{case}");
        }
        assert_eq!(fixture("f_vm_not_found").0, 3);
        assert_eq!(fixture("j_missing_command_id").0, 2);
    }

    #[test]
    fn headlines_drop_the_prefix_and_terminal_codes() {
        let (_, stderr) = fixture("c_vm_not_running");
        assert_eq!(
            headline(&stderr),
            "(OperationNotAllowed) The operation requires the VM to be running (or set to run)."
        );
        let tty = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/az/tty_b_conflict_in_progress.tty"),
        )
        .expect("tty fixture");
        assert_eq!(classify(1, &tty), FailureClass::RunCommandConflict);
    }
}
