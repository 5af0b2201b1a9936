//! The console's words for what happens inside a VM operation while it runs:
//! the end of each Windows Update round and each VM restart, so a person
//! following a long update phase in a job log sees it advance, and a
//! windows-update operation's totals for its PASS line.

use crate::azure::windows_update::described;
use crate::record::event::{
    RestartReason, Restarter, UpdateResult, UpdateRound, UpdateRun, VmRestart,
};
use crate::record::run_record::OpRecord;
use crate::text::count;

/// `install-windows-updates: round 1: 4 updates installed (KB1, KB2, KB3, KB4), restart needed`.
pub fn round_line(op: &str, r: &UpdateRound) -> String {
    let (failed, installed): (Vec<&UpdateResult>, Vec<&UpdateResult>) =
        r.updates.iter().partition(|u| u.failed());
    let mut parts = Vec::new();
    if let Some(error) = &r.summary.error {
        parts.push(error.clone());
    } else if r.updates.is_empty() {
        parts.push(match r.summary.found {
            0 => "no updates found".to_string(),
            n => format!("{} found, none installed", count(n as usize, "update")),
        });
    }
    if !installed.is_empty() {
        let kbs: Vec<&str> = installed.iter().map(|u| u.kb.as_str()).collect();
        parts.push(format!(
            "{} installed ({})",
            count(kbs.len(), "update"),
            kbs.join(", ")
        ));
    }
    if !failed.is_empty() {
        let each: Vec<String> = (failed.iter())
            .map(|u| format!("{} {}", u.kb, described(&u.hresult)))
            .collect();
        parts.push(format!(
            "{} failed ({})",
            count(each.len(), "update"),
            each.join(", ")
        ));
    }
    if r.summary.reboot_required {
        parts.push("restart needed".to_string());
    }
    format!("{op}: round {}: {}", r.round, parts.join(", "))
}

/// `vm-avdbuild01 restarted before install-windows-updates round 2 (round 1 needed it)`,
/// `vm1 restarted before settings (apps: adobe-acrobat-reader returned 3010)`.
pub fn restart_line(op: &str, r: &VmRestart) -> String {
    let before = match r.round {
        Some(round) => format!("{op} round {round}"),
        None => op.to_string(),
    };
    let cause = match &r.cause.reason {
        RestartReason::UpdateRound { round } if r.cause.op == op => {
            format!("round {round} needed it")
        }
        reason => format!("{}: {reason}", r.cause.op),
    };
    match r.restarted_by {
        Restarter::Goldsmith => format!("{} restarted before {before} ({cause})", r.vm),
        Restarter::Installer => format!(
            "{} restarted by an installer, back before {before} ({cause})",
            r.vm
        ),
    }
}

/// `6 updates installed in 3 rounds, 1 restart`: what a windows-update operation's last
/// attempt installed; `None` for any other operation.
pub fn totals(op: &OpRecord) -> Option<String> {
    op.update_run().map(UpdateRun::totals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::event::{InstallerCode, RestartCause, RoundSummary};

    fn update(kb: &str, result: &str, hresult: &str) -> UpdateResult {
        UpdateResult {
            round: 1,
            kb: kb.into(),
            title: format!("{kb} title"),
            result: result.into(),
            hresult: hresult.into(),
        }
    }

    fn round(updates: Vec<UpdateResult>, found: u32, reboot: bool) -> UpdateRound {
        UpdateRound {
            round: 1,
            max_rounds: 5,
            summary: RoundSummary {
                found,
                installed: updates.iter().filter(|u| !u.failed()).count() as u32,
                reboot_required: reboot,
                error: None,
            },
            updates,
        }
    }

    #[test]
    fn a_round_names_its_updates_and_whether_it_needs_a_restart() {
        let ok = |kb| update(kb, "succeeded", "0x00000000");
        let r = round(vec![ok("KB5046617"), ok("KB890830")], 2, true);
        assert_eq!(
            round_line("install-windows-updates", &r),
            "install-windows-updates: round 1: 2 updates installed (KB5046617, KB890830), restart needed"
        );
        assert_eq!(
            round_line("u", &round(vec![], 0, false)),
            "u: round 1: no updates found"
        );
        let failed = update("KB2", "failed", "0x80240022");
        assert_eq!(
            round_line("u", &round(vec![ok("KB1"), failed], 2, false)),
            "u: round 1: 1 update installed (KB1), 1 update failed (KB2 0x80240022 WU_E_ALL_UPDATES_FAILED)"
        );
        let mut broken = round(vec![], 0, false);
        broken.summary.error = Some("searching for updates failed: 0x8024402C".into());
        assert_eq!(
            round_line("u", &broken),
            "u: round 1: searching for updates failed: 0x8024402C"
        );
    }

    #[test]
    fn a_restart_says_before_what_and_who_asked() {
        let mut r = VmRestart {
            vm: "vm-avdbuild01".into(),
            round: Some(2),
            restarted_by: Restarter::Goldsmith,
            cause: RestartCause {
                op: "install-windows-updates".into(),
                reason: RestartReason::UpdateRound { round: 1 },
            },
        };
        assert_eq!(
            restart_line("install-windows-updates", &r),
            "vm-avdbuild01 restarted before install-windows-updates round 2 (round 1 needed it)"
        );
        r.round = None;
        r.cause = RestartCause {
            op: "install-teams".into(),
            reason: RestartReason::Installers {
                installs: vec![InstallerCode {
                    name: "vc-redist-x64".into(),
                    code: 3010,
                }],
            },
        };
        assert_eq!(
            restart_line("configure-avd-settings", &r),
            "vm-avdbuild01 restarted before configure-avd-settings (install-teams: vc-redist-x64 returned 3010)"
        );
        r.restarted_by = Restarter::Installer;
        assert_eq!(
            restart_line("configure-avd-settings", &r),
            "vm-avdbuild01 restarted by an installer, back before configure-avd-settings (install-teams: vc-redist-x64 returned 3010)"
        );
    }
}
