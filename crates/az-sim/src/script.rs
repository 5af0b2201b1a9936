//! "Running" a script on a simulated VM: turns its directives into what it
//! prints, how long it takes and what it leaves behind, honouring the VM's
//! Windows Installer mutex (a held mutex makes an MSI install return 1618).

use super::directives::{App, DEFAULT_DOWNLOAD_PARALLELISM, DEFAULT_SECONDS, Directives, Step};
use super::power_state::PowerChange;

/// What goldsmith's run-command wrapper prints as its last stdout line.
pub const EXIT_MARKER: &str = "##goldsmith-exit:";
/// ERROR_INSTALL_ALREADY_RUNNING.
pub const MSI_BUSY: i32 = 1618;
/// Azure returns only the end of each stream.
pub const TAIL_BYTES: usize = 4096;
/// The install-apps script waits this long for a busy installer before trying.
const INSTALLER_PATIENCE: f64 = 1800.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub seconds: f64,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
    /// How the script exits (what the exit marker reports; a managed
    /// run-command's instance view reports it as `exitCode`).
    pub exit: i32,
    /// When the last MSI install of this script releases the mutex.
    pub installer_busy_until: f64,
    pub reboot: bool,
    pub power: Option<PowerChange>,
    /// When each app of an install-apps script downloaded and installed, in simulated seconds.
    pub phases: Vec<Phase>,
}

/// One download or install of an install-apps script, for the timeline.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Phase {
    pub app: String,
    pub phase: &'static str,
    pub start: f64,
    pub end: f64,
}

/// Plays the script from simulated time `start`; `installer_busy_until` is
/// when the VM's installer mutex becomes free.
pub fn run(d: &Directives, script: &str, start: f64, installer_busy_until: f64) -> Run {
    let mut clock = start;
    let mut installer = installer_busy_until;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    for step in &d.steps {
        match step {
            Step::Stdout(s) => stdout.push(s.clone()),
            Step::Stderr(s) => stderr.push(s.clone()),
            Step::Filler(n) => stdout.push(filler(*n)),
            Step::Msi(m) => {
                let code = if installer > clock {
                    MSI_BUSY
                } else {
                    clock += m.seconds;
                    installer = clock;
                    m.code
                };
                stdout.push(format!("##goldsmith-msi:{}:{code}", m.name));
            }
        }
    }
    let mut exit = d.exit;
    let mut phases = Vec::new();
    if !d.apps.is_empty() {
        let failed = install_apps(d, &mut clock, &mut installer, &mut stdout, &mut phases);
        if !failed.is_empty() {
            stderr.push(format!("apps that failed: {}", failed.join(", ")));
            exit = 1;
        }
    }
    if script.contains(EXIT_MARKER) && !d.no_marker {
        stdout.push(format!("{EXIT_MARKER}{exit}"));
    }
    Run {
        seconds: d.duration.unwrap_or(DEFAULT_SECONDS).max(clock - start),
        stdout,
        stderr,
        exit,
        installer_busy_until: installer,
        reboot: d.reboot,
        power: d.power,
        phases,
    }
}

/// What goldsmith's generated install-apps script does: downloads start in
/// list order, at most `download-parallelism` at a time; each app installs
/// as soon as its download is done, the installer is free and its
/// `app-after` apps have installed (one install at a time, the first-listed
/// ready app first), waiting out a busy installer for up to 30 minutes.
/// Lines are printed when their step ends. Returns the apps that failed.
fn install_apps(
    d: &Directives,
    clock: &mut f64,
    installer: &mut f64,
    stdout: &mut Vec<String>,
    phases: &mut Vec<Phase>,
) -> Vec<String> {
    // What the script prints, with the moment each step ends.
    let mut printed: Vec<(f64, Vec<String>)> = Vec::new();
    let downloaded = downloads(d, *clock, &mut printed, phases);
    let mut failed = Vec::new();
    let mut free = *clock;
    let mut left: Vec<usize> = (0..d.apps.len()).collect();
    while let Some((index, turn)) = next_install(&d.apps, &left, &downloaded, free) {
        left.retain(|&i| i != index);
        let app = &d.apps[index];
        let (code, start, end) = if *installer - turn > INSTALLER_PATIENCE {
            let gave_up = turn + INSTALLER_PATIENCE;
            (MSI_BUSY, gave_up, gave_up)
        } else {
            let start = turn.max(*installer);
            *installer = start + app.seconds;
            (app.code, start, *installer)
        };
        free = end;
        let ok = matches!(code, 0 | 3010 | 1641) || app.ok_codes.contains(&code);
        if !ok {
            failed.push(app.name.clone());
        }
        phases.push(Phase {
            app: app.name.clone(),
            phase: "install",
            start,
            end,
        });
        let status = if ok { "ok" } else { "failed" };
        printed.push((
            end,
            vec![
                format!("##goldsmith-msi:{}:{code}", app.name),
                // Its seconds count from when its install job started.
                format!(
                    "##goldsmith-app:{}:install:{status}:{}",
                    app.name,
                    (end - turn).round() as u64
                ),
            ],
        ));
    }
    // A stable sort: at the same moment, downloads (pushed first) print first.
    printed.sort_by(|a, b| a.0.total_cmp(&b.0));
    *clock = printed.iter().map(|p| p.0).fold(*clock, f64::max);
    stdout.extend(printed.into_iter().flat_map(|p| p.1));
    failed
}

/// The downloads from `start`, each in list order in the slot that frees
/// first; returns when each app's download ends.
fn downloads(
    d: &Directives,
    start: f64,
    printed: &mut Vec<(f64, Vec<String>)>,
    phases: &mut Vec<Phase>,
) -> Vec<f64> {
    let parallel = d
        .download_parallelism
        .unwrap_or(DEFAULT_DOWNLOAD_PARALLELISM)
        .max(1) as usize;
    let mut slots = vec![start; parallel];
    let mut ends = Vec::new();
    for app in &d.apps {
        let slot = slots
            .iter_mut()
            .min_by(|a, b| a.total_cmp(b))
            .expect("at least one slot");
        let began = *slot;
        *slot += app.download_seconds;
        ends.push(*slot);
        printed.push((
            *slot,
            vec![format!(
                "##goldsmith-app:{}:download:ok:{}",
                app.name,
                app.download_seconds.round() as u64
            )],
        ));
        phases.push(Phase {
            app: app.name.clone(),
            phase: "download",
            start: began,
            end: *slot,
        });
    }
    ends
}

/// The app (index) whose install job starts next and when: the installer is
/// free at `free`; the first-listed app left that is downloaded by then and
/// whose `after` apps have installed, or, when none is, the first to become
/// so. `None` when no app is left.
fn next_install(
    apps: &[App],
    left: &[usize],
    downloaded: &[f64],
    free: f64,
) -> Option<(usize, f64)> {
    // The first app left always qualifies: its `after` apps come before it.
    let waiting: Vec<usize> = left
        .iter()
        .copied()
        .filter(|&i| apps[i].after.iter().all(|a| !left.contains(a)))
        .collect();
    let first_done = waiting.iter().map(|&i| downloaded[i]).reduce(f64::min)?;
    let turn = free.max(first_done);
    let index = *waiting.iter().find(|&&i| downloaded[i] <= turn)?;
    Some((index, turn))
}

/// `n` bytes of output in lines of 100 (never ending in a newline).
fn filler(n: usize) -> String {
    (0..n)
        .map(|i| {
            if i % 100 == 99 && i + 1 < n {
                '\n'
            } else {
                '.'
            }
        })
        .collect()
}

/// The last `max` bytes of `text`, starting on a character boundary.
pub fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directives(script: &str) -> Directives {
        Directives::parse(script).unwrap()
    }

    #[test]
    fn marker_only_for_the_wrapper() {
        let d = directives("# goldsmith-sim: exit=0 stdout=hello\n");
        assert_eq!(run(&d, "x", 0.0, 0.0).stdout, vec!["hello"]);
        let d = directives("# goldsmith-sim: exit=2\n");
        let r = run(&d, "echo ##goldsmith-exit:$?", 0.0, 0.0);
        assert_eq!(r.stdout, vec!["##goldsmith-exit:2"]);
        assert_eq!(r.seconds, DEFAULT_SECONDS);
        let d = directives("# goldsmith-sim: no-marker\n");
        assert!(run(&d, "##goldsmith-exit:", 0.0, 0.0).stdout.is_empty());
    }

    #[test]
    fn msi_waits_for_nobody_and_reports_1618() {
        let d = directives("# goldsmith-sim: msi=a:0:40s msi=b:3010:40s\n");
        let r = run(&d, "", 10.0, 0.0);
        assert_eq!(
            r.stdout,
            vec!["##goldsmith-msi:a:0", "##goldsmith-msi:b:3010"]
        );
        assert_eq!(r.seconds, 80.0);
        assert_eq!(r.installer_busy_until, 90.0);
        let r = run(&d, "", 10.0, 60.0);
        assert_eq!(
            r.stdout,
            vec!["##goldsmith-msi:a:1618", "##goldsmith-msi:b:1618"]
        );
        assert_eq!(r.seconds, DEFAULT_SECONDS);
    }

    #[test]
    fn install_apps_installs_in_turn_as_downloads_finish() {
        let d = directives(
            "# goldsmith-sim: download-parallelism=2\n# goldsmith-sim: app=a\n# goldsmith-sim: app=b:1603:10s\n# goldsmith-sim: app=c:0:10s\n",
        );
        let r = run(&d, "##goldsmith-exit:", 0.0, 50.0);
        assert_eq!(
            r.stdout,
            vec![
                "##goldsmith-app:a:download:ok:20",
                "##goldsmith-app:b:download:ok:20",
                "##goldsmith-app:c:download:ok:20",
                "##goldsmith-msi:a:0",
                "##goldsmith-app:a:install:ok:60",
                "##goldsmith-msi:b:1603",
                "##goldsmith-app:b:install:failed:10",
                "##goldsmith-msi:c:0",
                "##goldsmith-app:c:install:ok:10",
                "##goldsmith-exit:1",
            ]
        );
        assert_eq!(r.stderr, vec!["apps that failed: b"]);
        // a is ready at 20 s and waits for the installer until 50 s.
        assert_eq!(r.seconds, 50.0 + 30.0 + 10.0 + 10.0);
        assert_eq!(r.installer_busy_until, 100.0);
    }

    #[test]
    fn the_seeds_two_apps_take_seven_minutes() {
        let d = directives(
            "# goldsmith-sim: download-parallelism=2\n# goldsmith-sim: app=chrome:0:3m:2m\n# goldsmith-sim: app=adobe:0:2m:3m\n",
        );
        let r = run(&d, "##goldsmith-exit:", 0.0, 0.0);
        assert_eq!(
            spans(&r),
            vec![
                ("chrome", "download", 0.0, 120.0),
                ("adobe", "download", 0.0, 180.0),
                ("chrome", "install", 120.0, 300.0),
                ("adobe", "install", 300.0, 420.0),
            ]
        );
        assert_eq!(r.seconds, 420.0);
    }

    fn spans(r: &Run) -> Vec<(&str, &str, f64, f64)> {
        r.phases
            .iter()
            .map(|p| (p.app.as_str(), p.phase, p.start, p.end))
            .collect()
    }

    #[test]
    fn an_apps_ok_codes_count_as_installed_and_keep_the_real_code() {
        let d = directives(
            "# goldsmith-sim: app=vc:1638\n# goldsmith-sim: app-ok-codes=vc:1638\n# goldsmith-sim: app=webrtc:1638\n",
        );
        let r = run(&d, "##goldsmith-exit:", 0.0, 0.0);
        assert!(r.stdout.contains(&"##goldsmith-msi:vc:1638".to_string()));
        assert!(
            r.stdout
                .contains(&"##goldsmith-app:vc:install:ok:30".to_string())
        );
        assert!(
            r.stdout
                .contains(&"##goldsmith-msi:webrtc:1638".to_string())
        );
        assert!(
            r.stdout
                .contains(&"##goldsmith-app:webrtc:install:failed:30".to_string())
        );
        assert_eq!(r.stderr, vec!["apps that failed: webrtc"]);
    }

    #[test]
    fn each_download_takes_its_own_time_and_ready_apps_install_in_list_order() {
        let d = directives(
            "# goldsmith-sim: download-parallelism=2\n# goldsmith-sim: app=chrome:0:3m:2m\n# goldsmith-sim: app=adobe:0:2m:1m\n# goldsmith-sim: app=small:0:10s:30s\n",
        );
        let r = run(&d, "##goldsmith-exit:", 0.0, 0.0);
        // small starts when adobe's slot frees at 60 s, and ends before chrome.
        // adobe installs first (ready at 60 s, chrome still downloading); when it
        // ends both are ready and chrome, listed first, goes before small.
        assert_eq!(
            spans(&r),
            vec![
                ("chrome", "download", 0.0, 120.0),
                ("adobe", "download", 0.0, 60.0),
                ("small", "download", 60.0, 90.0),
                ("adobe", "install", 60.0, 180.0),
                ("chrome", "install", 180.0, 360.0),
                ("small", "install", 360.0, 370.0),
            ]
        );
        // Each line is printed when its step ends.
        assert_eq!(
            r.stdout,
            vec![
                "##goldsmith-app:adobe:download:ok:60",
                "##goldsmith-app:small:download:ok:30",
                "##goldsmith-app:chrome:download:ok:120",
                "##goldsmith-msi:adobe:0",
                "##goldsmith-app:adobe:install:ok:120",
                "##goldsmith-msi:chrome:0",
                "##goldsmith-app:chrome:install:ok:180",
                "##goldsmith-msi:small:0",
                "##goldsmith-app:small:install:ok:10",
                "##goldsmith-exit:0",
            ]
        );
        assert_eq!(r.seconds, 370.0);
    }

    #[test]
    fn an_app_after_another_waits_for_its_install() {
        let d = directives(
            "# goldsmith-sim: download-parallelism=3\n# goldsmith-sim: app=vc:0:1m:20s app=webrtc:0:30s:10s app=teams:0:2m:90s\n# goldsmith-sim: app-after=webrtc:vc\n",
        );
        let r = run(&d, "##goldsmith-exit:", 0.0, 0.0);
        let installs: Vec<_> = spans(&r).into_iter().filter(|s| s.1 == "install").collect();
        assert_eq!(
            installs,
            vec![
                ("vc", "install", 20.0, 80.0),
                ("webrtc", "install", 80.0, 110.0),
                ("teams", "install", 110.0, 230.0),
            ]
        );
    }

    #[test]
    fn filler_and_tail() {
        let f = filler(250);
        assert_eq!(f.len(), 250);
        assert!(!f.ends_with('\n'));
        assert_eq!(f.matches('\n').count(), 2);
        assert_eq!(tail("abcdef", 4), "cdef");
        assert_eq!(tail("aé", 1), "");
        assert_eq!(tail("short", 4096), "short");
    }
}
