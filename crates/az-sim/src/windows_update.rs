//! Windows Update on a simulated VM: what goldsmith's generated round script
//! (`# goldsmith-sim: windows-update`) finds, how long it takes and what it
//! prints. Each VM has pending updates — the scenario's `windows_updates:`
//! or a default month of updates — some only offered after a restart
//! (`after_restarts`), as Windows offers the Defender platform update after
//! the cumulative update's restart. An installed update that needs a restart
//! leaves the VM "reboot pending" until `az vm restart`.
//!
//! Part of an update's time is its download (`download`): a download-only
//! pass (`windows-update-download-only`, goldsmith's download-windows-updates
//! operation) spends it and leaves the update downloaded on the VM, so a
//! round that starts after that pass ended spends only the rest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::directives::WindowsUpdateRound;
use super::duration::SimDuration;
use super::scenario::Scenario;
use super::script::{EXIT_MARKER, Run};
use super::world::Vm;

/// How long a round's search takes before anything downloads (Windows Update
/// Agent scans on Azure VMs take about a minute).
pub const SEARCH_SECONDS: f64 = 60.0;
/// The download's share of a default update's time: the month's cumulative
/// update downloads in about 5 of its 25 minutes on a D4s_v5.
const DOWNLOAD_SHARE: f64 = 0.2;
/// The HRESULT a failed update reports when the scenario gives none
/// (ERROR_INSTALL_FAILURE, the most common install failure).
const DEFAULT_FAILURE: &str = "0x80070643";

/// One pending update (`windows_updates:` entries of the scenario file).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimUpdate {
    pub kb: String,
    pub title: String,
    /// The Windows Update Agent category (`Security Updates`, `Definition Updates`, …).
    pub category: String,
    /// Download and install together.
    pub seconds: SimDuration,
    /// The download's part of `seconds` (none when absent).
    #[serde(default)]
    pub download: Option<SimDuration>,
    #[serde(default)]
    pub reboot: bool,
    /// Offered only once the VM has restarted this many times.
    #[serde(default)]
    pub after_restarts: u32,
    #[serde(default)]
    pub result: SimResult,
    /// `0x80240022`; for a failed update, 0x80070643 when absent.
    #[serde(default)]
    pub hresult: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SimResult {
    #[default]
    Succeeded,
    Failed,
}

/// What Windows Update has done on one VM, kept in the world's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VmUpdates {
    /// Restarts since the VM was made.
    pub restarts: u32,
    /// KBs installed (failed ones stay pending).
    pub installed: Vec<String>,
    /// An installed update waits for a restart.
    pub reboot_pending: bool,
    /// KBs a download-only pass downloaded, and when each download ended.
    #[serde(default)]
    pub downloaded: BTreeMap<String, f64>,
}

impl VmUpdates {
    /// The VM restarted: pending installs finish, restart-gated updates appear.
    pub fn restarted(&mut self) {
        self.restarts += 1;
        self.reboot_pending = false;
    }
}

/// The default pending updates: a Windows 11 multi-session VM from a
/// Marketplace image a few weeks old. Durations are download and install
/// together, of which the first fifth is the download (sources in
/// docs/simulator.md); the KB numbers are examples.
pub fn default_updates() -> Vec<SimUpdate> {
    let update = |kb: &str, title: &str, category: &str, seconds: f64, reboot, after| SimUpdate {
        kb: kb.into(),
        title: title.into(),
        category: category.into(),
        seconds: SimDuration(seconds),
        download: Some(SimDuration(seconds * DOWNLOAD_SHARE)),
        reboot,
        after_restarts: after,
        result: SimResult::Succeeded,
        hresult: None,
    };
    vec![
        update(
            "KB5068861",
            "2025-11 Cumulative Update for Windows 11 Enterprise multi-session, version 24H2 for x64-based Systems (KB5068861)",
            "Security Updates",
            1500.0,
            true,
            0,
        ),
        update(
            "KB5066131",
            "2025-11 Cumulative Update for .NET Framework 3.5 and 4.8.1 for Windows 11, version 24H2 for x64 (KB5066131)",
            "Security Updates",
            300.0,
            true,
            0,
        ),
        update(
            "KB2267602",
            "Security Intelligence Update for Microsoft Defender Antivirus - KB2267602 (Version 1.441.120.0) - Current Channel (Broad)",
            "Definition Updates",
            60.0,
            false,
            0,
        ),
        update(
            "KB890830",
            "Windows Malicious Software Removal Tool x64 - v5.136 (KB890830)",
            "Update Rollups",
            120.0,
            false,
            0,
        ),
        update(
            "KB4052623",
            "Update for Microsoft Defender Antivirus antimalware platform - KB4052623 (Version 4.18.25100.9) - Current Channel (Broad)",
            "Definition Updates",
            60.0,
            false,
            1,
        ),
    ]
}

/// What the generated script asks for: its categories and exclusions, as
/// comma-separated text (placeholders already filled in).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    pub categories: String,
    pub exclude: String,
}

/// One round as the simulated VM plays it.
#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    pub lines: Vec<String>,
    pub seconds: f64,
    pub failed: bool,
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn wanted(u: &SimUpdate, categories: &[String], exclude: &[String]) -> bool {
    let in_category = categories.is_empty()
        || categories
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&u.category));
    let excluded = exclude.iter().any(|x| {
        let is_kb = x.len() > 2
            && x[..2].eq_ignore_ascii_case("KB")
            && x[2..].chars().all(|c| c.is_ascii_digit());
        if is_kb {
            x.eq_ignore_ascii_case(&u.kb)
        } else {
            u.title.to_lowercase().contains(&x.to_lowercase())
        }
    });
    in_category && !excluded
}

/// The pending updates the selection wants.
fn pending<'u>(
    vm: &VmUpdates,
    updates: &'u [SimUpdate],
    selection: &Selection,
) -> Vec<&'u SimUpdate> {
    let (categories, exclude) = (list(&selection.categories), list(&selection.exclude));
    updates
        .iter()
        .filter(|u| u.after_restarts <= vm.restarts && !vm.installed.contains(&u.kb))
        .filter(|u| wanted(u, &categories, &exclude))
        .collect()
}

impl SimUpdate {
    fn download_seconds(&self) -> f64 {
        self.download.map_or(0.0, |d| d.0.min(self.seconds.0))
    }
}

/// Searches, downloads and installs what is pending on `vm`, as the round
/// script does, starting at simulated time `start`: an update a download-only
/// pass finished downloading before the search ended skips its download.
pub fn round(
    vm: &mut VmUpdates,
    updates: &[SimUpdate],
    selection: &Selection,
    start: f64,
) -> Round {
    let found = pending(vm, updates, selection);
    let mut lines = Vec::new();
    let (mut seconds, mut installed, mut failed) = (SEARCH_SECONDS, 0, false);
    let searched = start + SEARCH_SECONDS;
    for u in &found {
        let downloaded = vm.downloaded.get(&u.kb).is_some_and(|&at| at <= searched);
        seconds += u.seconds.0
            - if downloaded {
                u.download_seconds()
            } else {
                0.0
            };
        let (result, hresult) = match u.result {
            SimResult::Succeeded => {
                vm.installed.push(u.kb.clone());
                vm.reboot_pending |= u.reboot;
                installed += 1;
                ("succeeded", u.hresult.as_deref().unwrap_or("0x00000000"))
            }
            SimResult::Failed => {
                failed = true;
                ("failed", u.hresult.as_deref().unwrap_or(DEFAULT_FAILURE))
            }
        };
        lines.push(format!(
            "##goldsmith-update:{}:{result}:{hresult}:{}",
            u.kb, u.title
        ));
    }
    lines.push(format!(
        "##goldsmith-update-round:found={}:installed={installed}:reboot={}",
        found.len(),
        if vm.reboot_pending { "yes" } else { "no" }
    ));
    Round {
        lines,
        seconds,
        failed,
    }
}

/// A download-only pass from `start`: searches, then downloads each wanted
/// update not yet downloaded, one after the other, and records when each
/// download ended. Prints `##goldsmith-update-download:<kb>:succeeded:0x00000000:<title>`
/// per update and `##goldsmith-update-download-round:found=<n>:downloaded=<n>`.
pub fn download_round(
    vm: &mut VmUpdates,
    updates: &[SimUpdate],
    selection: &Selection,
    start: f64,
) -> Round {
    let found = pending(vm, updates, selection);
    let mut clock = start + SEARCH_SECONDS;
    let mut lines = Vec::new();
    for u in &found {
        if !vm.downloaded.contains_key(&u.kb) {
            clock += u.download_seconds();
            vm.downloaded.insert(u.kb.clone(), clock);
        }
        lines.push(format!(
            "##goldsmith-update-download:{}:succeeded:0x00000000:{}",
            u.kb, u.title
        ));
    }
    lines.push(format!(
        "##goldsmith-update-download-round:found={}:downloaded={}",
        found.len(),
        found.len()
    ));
    Round {
        lines,
        seconds: clock - start,
        failed: false,
    }
}

/// Plays a windows-update round on `vm` into `run`: its lines go before the
/// wrapper's exit marker, which says 1 when an update failed, and the run
/// takes the round's time.
pub fn play(
    vm: &mut Vm,
    scenario: &Scenario,
    round_of: &WindowsUpdateRound,
    script: &str,
    start: f64,
    run: &mut Run,
) {
    let selection = Selection {
        categories: expand(&round_of.categories, script),
        exclude: expand(&round_of.exclude, script),
    };
    let defaults;
    let updates = match &scenario.windows_updates {
        Some(list) => list.as_slice(),
        None => {
            defaults = default_updates();
            defaults.as_slice()
        }
    };
    let played = if round_of.download_only {
        download_round(&mut vm.windows_update, updates, &selection, start)
    } else {
        round(&mut vm.windows_update, updates, &selection, start)
    };
    let marker = run.stdout.iter().position(|l| l.starts_with(EXIT_MARKER));
    let at = marker.unwrap_or(run.stdout.len());
    run.stdout.splice(at..at, played.lines);
    if played.failed {
        run.stderr.push("some updates failed to install".into());
        if let Some(last) = run
            .stdout
            .iter_mut()
            .rev()
            .find(|l| l.starts_with(EXIT_MARKER))
        {
            *last = format!("{EXIT_MARKER}1");
        }
    }
    run.seconds = run.seconds.max(played.seconds);
}

/// The value of a `windows-update-*` directive with each `${env:NAME}`
/// replaced by what goldsmith's wrapper assigns to it in `script`
/// (`${env:NAME} = '…'`, quotes doubled), or nothing.
pub fn expand(value: &str, script: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${env:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 6..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        out.push_str(&assigned(script, &after[..end]).unwrap_or_default());
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The single-quoted literal the wrapper assigns to `${env:name}`.
fn assigned(script: &str, name: &str) -> Option<String> {
    let prefix = format!("${{env:{name}}} = '");
    let line = script.lines().find(|l| l.starts_with(&prefix))?;
    let literal = line[prefix.len()..].strip_suffix('\'')?;
    Some(literal.replace("''", "'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Selection {
        Selection::default()
    }

    #[test]
    fn the_default_month_takes_two_rounds_and_a_restart() {
        let updates = default_updates();
        let mut vm = VmUpdates::default();
        let first = round(&mut vm, &updates, &all(), 0.0);
        assert_eq!(first.lines.len(), 5);
        assert_eq!(
            first.lines[4],
            "##goldsmith-update-round:found=4:installed=4:reboot=yes"
        );
        assert_eq!(
            first.seconds,
            SEARCH_SECONDS + 1500.0 + 300.0 + 60.0 + 120.0
        );
        assert!(!first.failed);
        // Nothing new until the restart.
        let again = round(&mut vm, &updates, &all(), 0.0);
        assert_eq!(
            again.lines,
            vec!["##goldsmith-update-round:found=0:installed=0:reboot=yes"]
        );
        vm.restarted();
        let second = round(&mut vm, &updates, &all(), 0.0);
        assert!(second.lines[0].starts_with("##goldsmith-update:KB4052623:succeeded:0x00000000:"));
        assert_eq!(
            second.lines[1],
            "##goldsmith-update-round:found=1:installed=1:reboot=no"
        );
        let third = round(&mut vm, &updates, &all(), 0.0);
        assert_eq!(
            third.lines,
            vec!["##goldsmith-update-round:found=0:installed=0:reboot=no"]
        );
    }

    #[test]
    fn categories_and_exclusions_choose_and_failures_report_their_hresult() {
        let mut updates = default_updates();
        updates[3].result = SimResult::Failed;
        updates[3].hresult = Some("0x80240022".into());
        let selection = Selection {
            categories: "Security Updates, update rollups".into(),
            exclude: "kb5066131, Cumulative Update for Windows".into(),
        };
        let r = round(&mut VmUpdates::default(), &updates, &selection, 0.0);
        assert_eq!(
            r.lines,
            vec![
                "##goldsmith-update:KB890830:failed:0x80240022:Windows Malicious Software Removal Tool x64 - v5.136 (KB890830)",
                "##goldsmith-update-round:found=1:installed=0:reboot=no",
            ]
        );
        assert!(r.failed);
    }

    #[test]
    fn a_download_only_pass_leaves_the_round_only_its_installs() {
        let updates = default_updates();
        let mut vm = VmUpdates::default();
        let pass = download_round(&mut vm, &updates, &all(), 0.0);
        // The four offered now download: a fifth of 1500 + 300 + 60 + 120 s.
        assert_eq!(pass.seconds, SEARCH_SECONDS + 0.2 * 1980.0);
        assert_eq!(
            pass.lines.last().map(String::as_str),
            Some("##goldsmith-update-download-round:found=4:downloaded=4")
        );
        assert!(vm.installed.is_empty());
        // A round searching before the pass ended downloads again: full time.
        let mut early = vm.clone();
        let r = round(&mut early, &updates, &all(), 0.0);
        assert_eq!(r.seconds, SEARCH_SECONDS + 1980.0);
        // A round after it spends only the installs.
        let r = round(&mut vm, &updates, &all(), pass.seconds);
        assert!(
            (r.seconds - (SEARCH_SECONDS + 0.8 * 1980.0)).abs() < 1e-6,
            "{}",
            r.seconds
        );
        // A second pass downloads nothing new (the platform update comes after a restart).
        let again = download_round(
            &mut VmUpdates {
                installed: Vec::new(),
                ..vm.clone()
            },
            &updates,
            &all(),
            0.0,
        );
        assert_eq!(again.seconds, SEARCH_SECONDS);
    }

    #[test]
    fn directive_values_take_the_wrappers_assignments() {
        let script = "${env:WU_EXCLUDE} = 'KB1,it''s'\n# goldsmith-sim: x\n";
        assert_eq!(expand("KB0,${env:WU_EXCLUDE}", script), "KB0,KB1,it's");
        assert_eq!(expand("${env:MISSING}", script), "");
        assert_eq!(expand("plain", script), "plain");
    }
}
