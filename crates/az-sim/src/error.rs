//! What a failed `az` prints on stderr and the exit code it returns, in the
//! shapes the real Azure CLI 2.91.0 uses (see the repository's `tests/fixtures/az`).

pub const CLI_REF: &str = "https://aka.ms/cli_ref";
pub const READ_MORE: &str = "Read more about the command in reference docs";

/// One "Examples from command's help" entry of a usage error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub command: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzError {
    /// An ARM error body, printed as `ERROR: (<code>) <message>` / `Code:` /
    /// `Message:`. Exit code 3 for HTTP 404, else 1.
    Arm {
        code: String,
        message: String,
        not_found: bool,
    },
    /// A client-side error: `ERROR: <message>`, exit code 1.
    Cli { message: String },
    /// What a `show` command prints for a 404 it got as a non-ARM error (a
    /// Graph error): `ERROR: <message>`, exit code 3.
    ShowNotFound { message: String },
    /// An argument error (argparse): exit code 2, then recommendations, help
    /// examples and the reference link.
    Usage {
        message: String,
        recommendations: Vec<String>,
        examples: Vec<Example>,
    },
    /// An argument error az prints with its own recommendation and no
    /// reference link (an invalid `--query`): exit code 2.
    UsagePlain {
        message: String,
        recommendation: String,
    },
    /// The simulator cannot go on (bad directive or scenario, state trouble).
    Sim { message: String, exit: i32 },
}

impl AzError {
    pub fn exit_code(&self) -> i32 {
        match self {
            AzError::Arm { not_found, .. } => {
                if *not_found {
                    3
                } else {
                    1
                }
            }
            AzError::Cli { .. } => 1,
            AzError::ShowNotFound { .. } => 3,
            AzError::Usage { .. } | AzError::UsagePlain { .. } => 2,
            AzError::Sim { exit, .. } => *exit,
        }
    }

    /// The exact bytes written to stderr.
    pub fn render(&self) -> String {
        match self {
            AzError::Arm { code, message, .. } => {
                format!("ERROR: ({code}) {message}\nCode: {code}\nMessage: {message}\n")
            }
            AzError::Cli { message } | AzError::ShowNotFound { message } => {
                format!("ERROR: {message}\n")
            }
            AzError::Usage {
                message,
                recommendations,
                examples,
            } => {
                let mut out = format!("ERROR: {message}\n");
                for r in recommendations {
                    out.push_str(r);
                    out.push('\n');
                }
                if examples.is_empty() {
                    out.push('\n');
                } else {
                    out.push_str("\nExamples from command's help:\n");
                    for e in examples {
                        out.push_str(&format!("{}\n{}\n\n", e.command, e.description));
                    }
                }
                out.push_str(&format!("{CLI_REF}\n{READ_MORE}\n"));
                out
            }
            AzError::UsagePlain {
                message,
                recommendation,
            } => format!("ERROR: {message}\n{recommendation}\n"),
            AzError::Sim { message, .. } => format!("ERROR: goldsmith-sim: {message}\n"),
        }
    }

    pub fn arm(code: &str, message: impl Into<String>) -> Self {
        AzError::Arm {
            code: code.to_string(),
            message: message.into(),
            not_found: false,
        }
    }

    pub fn arm_404(code: &str, message: impl Into<String>) -> Self {
        AzError::Arm {
            code: code.to_string(),
            message: message.into(),
            not_found: true,
        }
    }

    pub fn cli(message: impl Into<String>) -> Self {
        AzError::Cli {
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        AzError::Usage {
            message: message.into(),
            recommendations: Vec::new(),
            examples: Vec::new(),
        }
    }

    /// A problem with the simulation's own input (directive, scenario).
    pub fn sim(message: impl Into<String>) -> Self {
        AzError::Sim {
            message: message.into(),
            exit: 2,
        }
    }

    /// The simulator's state could not be read or written.
    pub fn sim_io(message: impl Into<String>) -> Self {
        AzError::Sim {
            message: message.into(),
            exit: 1,
        }
    }

    pub fn with_examples(mut self, more: Vec<Example>) -> Self {
        if let AzError::Usage { examples, .. } = &mut self {
            examples.extend(more);
        }
        self
    }

    pub fn with_recommendation(mut self, line: impl Into<String>) -> Self {
        if let AzError::Usage {
            recommendations, ..
        } = &mut self
        {
            recommendations.push(line.into());
        }
        self
    }

    /// Fixture b: a second run-command on a VM while one is in progress.
    pub fn conflict() -> Self {
        Self::arm(
            "Conflict",
            "Run command extension execution is in progress. Please wait for completion before invoking a run command.",
        )
    }

    /// Fixture c: the VM is stopped or deallocated.
    pub fn vm_not_running() -> Self {
        Self::arm(
            "OperationNotAllowed",
            "The operation requires the VM to be running (or set to run).",
        )
    }

    /// Fixture d: the VM agent has not reported status.
    pub fn agent_not_ready(vm: &str) -> Self {
        Self::arm(
            "VMAgentStatusCommunicationError",
            format!(
                "VM '{vm}' has not reported status for VM agent or extensions. Please verify the VM has a running VM agent, and can establish outbound connections to Azure storage."
            ),
        )
    }

    /// Fixtures e2/e3: HTTP 429 after az's own retries.
    pub fn throttled() -> Self {
        Self::arm(
            "TooManyRequests",
            "The request is being throttled as the limit has been reached for operation type - Write. For more information, see - https://aka.ms/srpthrottlinglimits",
        )
    }

    /// Fixture f, for any top-level resource type (`Microsoft.Compute/virtualMachines/<vm>`).
    pub fn resource_not_found(type_and_name: &str, resource_group: &str) -> Self {
        Self::arm_404(
            "ResourceNotFound",
            format!(
                "The Resource '{type_and_name}' under resource group '{resource_group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
            ),
        )
    }

    pub fn vm_not_found(resource_group: &str, vm: &str) -> Self {
        Self::resource_not_found(
            &format!("Microsoft.Compute/virtualMachines/{vm}"),
            resource_group,
        )
    }

    /// A child resource (subnet, rule, share, ...) the resource provider does not know.
    pub fn child_not_found(id: &str) -> Self {
        Self::arm_404("NotFound", format!("Resource {id} not found."))
    }

    /// ARM's answer to a PUT of a nested resource whose parent does not
    /// exist, in the wording Azure documents (ARM troubleshooting,
    /// "Resolve errors for parent resources").
    pub fn parent_not_found(parent: &str) -> Self {
        Self::arm_404(
            "ParentResourceNotFound",
            format!(
                "Can not perform requested operation on nested resource. Parent resource '{parent}' not found."
            ),
        )
    }

    pub fn group_not_found(resource_group: &str) -> Self {
        Self::arm_404(
            "ResourceGroupNotFound",
            format!("Resource group '{resource_group}' could not be found."),
        )
    }

    /// Fixture g: no `az login`.
    pub fn not_logged_in() -> Self {
        Self::cli("Please run 'az login' to setup account.")
    }

    /// A command word az does not know (exit 2, with the reference link).
    pub fn unknown_word(word: &str) -> Self {
        Self::usage(format!(
            "'{word}' is misspelled or not recognized by the system."
        ))
    }

    /// ARM's answer when it fails inside (HTTP 500).
    pub fn server_error() -> Self {
        Self::arm(
            "InternalServerError",
            "Encountered internal server error. Please try again later.",
        )
    }

    /// Fixture i: ARM cannot be reached.
    pub fn arm_unreachable() -> Self {
        Self::cli(
            "HTTPSConnection(host='management.azure.com', port=443): Failed to establish a new connection: [Errno 111] Connection refused",
        )
    }

    /// ARM's VMExtensionProvisioningError for the run-command handler.
    pub fn extension_error(linux: bool) -> Self {
        let ext = if linux {
            "RunCommandLinux"
        } else {
            "RunCommandWindows"
        };
        Self::extension_failed(
            ext,
            "Microsoft.CPlat.Core",
            ext,
            "The run command extension failed to execute the script.",
        )
    }

    /// ARM's VMExtensionProvisioningError: the VM agent reported the
    /// extension `name` (its handler `publisher`/`kind`) failed.
    pub fn extension_failed(name: &str, publisher: &str, kind: &str, message: &str) -> Self {
        Self::arm(
            "VMExtensionProvisioningError",
            format!(
                "VM has reported a failure when processing extension '{name}' (publisher '{publisher}' and type '{kind}'). Error message: '{message}'."
            ),
        )
    }

    /// CRP refuses extension changes on a VM that is not running.
    pub fn extension_vm_not_running() -> Self {
        Self::arm(
            "OperationNotAllowed",
            "Cannot modify extensions in the VM when the VM is not running.",
        )
    }

    /// What az says when `--yes` is missing and there is no terminal to ask on.
    pub fn no_tty_confirmation() -> Self {
        Self::cli("Unable to prompt for confirmation as no tty available. Use --yes.")
    }

    pub fn required(options: &[String]) -> Self {
        Self::usage(format!(
            "the following arguments are required: {}",
            options.join(", ")
        ))
    }

    pub fn expected_one(option: &str) -> Self {
        Self::usage(format!("argument {option}: expected one argument"))
    }

    pub fn unrecognized(words: &[String]) -> Self {
        Self::usage(format!("unrecognized arguments: {}", words.join(" ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_shape_and_exit_codes() {
        let e = AzError::vm_not_found("rg", "vm");
        assert_eq!(e.exit_code(), 3);
        assert!(e.render().starts_with(
            "ERROR: (ResourceNotFound) The Resource 'Microsoft.Compute/virtualMachines/vm' under resource group 'rg'"
        ));
        assert_eq!(AzError::conflict().exit_code(), 1);
        assert_eq!(AzError::usage("x").exit_code(), 2);
        assert_eq!(
            AzError::usage("unrecognized arguments: --x").render(),
            "ERROR: unrecognized arguments: --x\n\nhttps://aka.ms/cli_ref\nRead more about the command in reference docs\n"
        );
    }
}
