//! Whether a VM's agent is ready: after an installer restarted the VM, the
//! next run-command on it waits until `az vm get-instance-view` reports the
//! agent `Ready` (a run-command sent before fails with an agent error); and
//! the restart goldsmith starts itself when a VM needs one.

use std::ffi::OsString;

use super::run_command::VmTarget;

/// The arguments of `az` that print the status of `target`'s VM agent as one
/// TSV word (`Ready` once it is).
pub fn status_args(target: &VmTarget) -> Vec<OsString> {
    [
        "vm",
        "get-instance-view",
        "--resource-group",
        &target.resource_group,
        "--name",
        &target.vm,
        "--query",
        "instanceView.vmAgent.statuses[0].displayStatus",
        "--output",
        "tsv",
    ]
    .iter()
    .map(OsString::from)
    .collect()
}

/// The arguments of `az` that restart `target`'s VM and wait until Azure
/// reports the restart done (az 2.91: `az vm restart -g RG -n VM`).
pub fn restart_args(target: &VmTarget) -> Vec<OsString> {
    [
        "vm",
        "restart",
        "--resource-group",
        &target.resource_group,
        "--name",
        &target.vm,
        "--output",
        "none",
    ]
    .iter()
    .map(OsString::from)
    .collect()
}

/// Whether the stdout of a successful [`status_args`] call says the agent is ready.
pub fn is_ready(stdout: &str) -> bool {
    stdout.trim() == "Ready"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_for_the_agent_status_of_the_vm_and_reads_ready() {
        let target = VmTarget {
            resource_group: "rg".into(),
            vm: "vm1".into(),
        };
        let args = status_args(&target);
        assert_eq!(
            args.join(std::ffi::OsStr::new(" ")),
            "vm get-instance-view --resource-group rg --name vm1 --query instanceView.vmAgent.statuses[0].displayStatus --output tsv"
        );
        assert!(is_ready("Ready\n"));
        assert!(!is_ready("Not Ready\n"));
        assert!(!is_ready(""));
        assert_eq!(
            restart_args(&target).join(std::ffi::OsStr::new(" ")),
            "vm restart --resource-group rg --name vm1 --output none"
        );
    }
}
