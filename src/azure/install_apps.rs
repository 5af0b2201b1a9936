//! `kind: install-apps`: a declared list of apps turned into one PowerShell
//! script for Windows PowerShell 5.1, run through run-command.
//!
//! Downloads run at once (`Start-Job`, at most `download_parallelism`
//! running, started in list order), each retried and checked against its
//! SHA-256. Each app installs as soon as its own download is done, in a job
//! of its own so that downloads keep starting meanwhile; installs run one at
//! a time, because Windows Installer allows one install per machine, the
//! first-listed ready app first, and a busy installer (1618) is waited out
//! inside the VM. The script reports
//! `##goldsmith-app:<name>:<phase>:<status>:<seconds>` per download and
//! install and `##goldsmith-msi:<name>:<code>` per install (an install is
//! ok on 0, 3010, 1641 or a code the app's `ok_codes` lists; the line keeps
//! the real code); goldsmith's wrapper adds the exit marker last.

use std::time::Duration;

use crate::azure::powershell::literal;
use crate::catalog::operation::AppDurations;
use crate::record::event::{AppPhase, AppResult};
use crate::template::Placeholder;

/// How many downloads run at once when the operation does not say (`download_parallelism`).
pub const DEFAULT_DOWNLOAD_PARALLELISM: u32 = 4;

/// One app, its templated fields already split into literal text and placeholders.
pub struct AppSpec<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub url: (&'a str, &'a [Placeholder]),
    pub sha256: Option<&'a str>,
    pub args: Option<(&'a str, &'a [Placeholder])>,
    pub expected: AppDurations,
    /// Exit codes besides 0/3010/1641 that mean "installed" for this app.
    pub ok_codes: &'a [i64],
    /// The earlier apps (indices) whose installs must end before this one starts.
    pub after: &'a [usize],
}

/// What the estimate needs of one app: its durations and the earlier apps it installs after.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timed<'a> {
    pub expected: AppDurations,
    pub after: &'a [usize],
}

/// A templated value as a PowerShell expression: single-quoted literal parts
/// joined with `${env:NAME}` references, so no value is ever parsed as code.
pub fn expression(text: &str, placeholders: &[Placeholder]) -> String {
    let mut parts = Vec::new();
    let mut last = 0;
    for ph in placeholders {
        if ph.start > last {
            parts.push(literal(&text[last..ph.start]));
        }
        parts.push(format!("${{env:{}}}", ph.name));
        last = ph.end;
    }
    if last < text.len() || parts.is_empty() {
        parts.push(literal(&text[last..]));
    }
    format!("({})", parts.join(" + "))
}

/// The simulator's `app=` value: `<name>`, or `<name>:0:<install>:<download>`
/// when the app declares durations (an empty field keeps the simulator's default).
fn sim_app(app: &AppSpec<'_>) -> String {
    let AppDurations { download, install } = app.expected;
    if download.is_none() && install.is_none() {
        return app.name.to_string();
    }
    let secs = |d: Option<Duration>| d.map_or(String::new(), |d| format!("{}s", d.as_secs_f64()));
    format!("{}:0:{}:{}", app.name, secs(install), secs(download))
}

/// Exit codes joined by `separator`.
fn codes(codes: &[i64], separator: &str) -> String {
    codes
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(separator)
}

/// How long the script takes by its apps' declared durations, on the
/// script's own schedule: downloads start in list order, at most
/// `download_parallelism` at once; each app installs as soon as its download
/// is done, the installer is free and the apps it is `after` have installed,
/// the first-listed ready app first. An app without a duration for a phase
/// counts as zero there; `None` when no app declares any.
pub fn expected(apps: &[Timed<'_>], download_parallelism: u32) -> Option<Duration> {
    if apps
        .iter()
        .all(|a| a.expected.download.is_none() && a.expected.install.is_none())
    {
        return None;
    }
    let downloaded = download_ends(apps, download_parallelism);
    let mut installer = Duration::ZERO;
    let mut left: Vec<usize> = (0..apps.len()).collect();
    loop {
        // Apps whose prerequisites have installed (the first one left always has).
        let waiting: Vec<usize> = left
            .iter()
            .copied()
            .filter(|&i| apps[i].after.iter().all(|a| !left.contains(a)))
            .collect();
        let Some(first_done) = waiting.iter().map(|&i| downloaded[i]).min() else {
            return Some(installer);
        };
        // The installer is free at `installer`; if nothing is ready then, it waits for the next download.
        let free = installer.max(first_done);
        let app = *waiting
            .iter()
            .find(|&&i| downloaded[i] <= free)
            .expect("the earliest download is ready");
        left.retain(|&i| i != app);
        installer = free + apps[app].expected.install.unwrap_or_default();
    }
}

/// When each app's download ends: in list order, each in the slot that frees first.
fn download_ends(apps: &[Timed<'_>], download_parallelism: u32) -> Vec<Duration> {
    let mut slots = vec![Duration::ZERO; download_parallelism.max(1) as usize];
    apps.iter()
        .map(|app| {
            let earliest = slots.iter_mut().min().expect("at least one slot");
            *earliest += app.expected.download.unwrap_or_default();
            *earliest
        })
        .collect()
}

/// The script body (goldsmith's wrapper is added around it like any run-command script).
pub fn script(apps: &[AppSpec<'_>], download_parallelism: u32) -> String {
    let mut s = String::new();
    s.push_str("# Generated by goldsmith from an install-apps operation.\n");
    // The simulated Azure reads these; on a real VM they are comments.
    s.push_str(&format!(
        "# goldsmith-sim: download-parallelism={download_parallelism}\n"
    ));
    for app in apps {
        s.push_str(&format!("# goldsmith-sim: app={}\n", sim_app(app)));
        if !app.ok_codes.is_empty() {
            s.push_str(&format!(
                "# goldsmith-sim: app-ok-codes={}:{}\n",
                app.name,
                codes(app.ok_codes, ",")
            ));
        }
        if !app.after.is_empty() {
            let names: Vec<&str> = app.after.iter().map(|&i| apps[i].name).collect();
            s.push_str(&format!(
                "# goldsmith-sim: app-after={}:{}\n",
                app.name,
                names.join(",")
            ));
        }
    }
    s.push_str("$ErrorActionPreference = 'Stop'\n$ProgressPreference = 'SilentlyContinue'\n");
    s.push_str("[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12\n");
    s.push_str(&format!(
        "$goldsmithDownloadParallelism = {download_parallelism}\n"
    ));
    s.push_str("$goldsmithApps = @(\n");
    for app in apps {
        let args = app
            .args
            .map_or_else(|| "''".to_string(), |(t, p)| expression(t, p));
        s.push_str(&format!(
            "    [pscustomobject]@{{ Name = {}; Type = {}; Url = {}; Sha256 = {}; Args = {}; OkCodes = @({}); After = @({}) }}\n",
            literal(app.name),
            literal(app.kind),
            expression(app.url.0, app.url.1),
            literal(app.sha256.unwrap_or("")),
            args,
            codes(app.ok_codes, ", "),
            app.after.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
        ));
    }
    s.push_str(")\n");
    s.push_str(BODY);
    s
}

const BODY: &str = r###"$goldsmithWork = Join-Path $env:TEMP 'goldsmith-apps'
New-Item -ItemType Directory -Force -Path $goldsmithWork | Out-Null
$goldsmithFailed = New-Object System.Collections.ArrayList

# One download, in a job of its own: retried, checked against its SHA-256.
$goldsmithDownload = {
    param($Url, $Path, $Sha256)
    $ErrorActionPreference = 'Stop'
    $ProgressPreference = 'SilentlyContinue'
    [Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $lastError = ''
    for ($try = 1; $try -le 3; $try++) {
        try {
            Invoke-WebRequest -Uri $Url -OutFile $Path -UseBasicParsing
            if ($Sha256) {
                $actual = (Get-FileHash -Algorithm SHA256 -LiteralPath $Path).Hash
                if ($actual -ne $Sha256.ToUpperInvariant()) {
                    throw "SHA-256 mismatch: expected $Sha256, got $actual"
                }
            }
            return [pscustomobject]@{ Ok = $true; Seconds = [int]$watch.Elapsed.TotalSeconds; Error = '' }
        } catch {
            $lastError = $_.Exception.Message
            Remove-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
            Start-Sleep -Seconds (5 * $try)
        }
    }
    return [pscustomobject]@{ Ok = $false; Seconds = [int]$watch.Elapsed.TotalSeconds; Error = $lastError }
}

# One install, in a job of its own so that downloads keep starting while it
# runs; only one install job runs at a time (Windows Installer allows one
# install per machine) and a busy installer (1618) is waited out. Its last
# output is the result; what the installer printed comes before it.
$goldsmithInstall = {
    param($Name, $Type, $Path, $Arguments, $Log)
    $ErrorActionPreference = 'Stop'
    $ProgressPreference = 'SilentlyContinue'
    function Wait-GoldsmithInstaller {
        # The machine-wide _MSIExecute mutex exists while any install runs,
        # including the msiexec children of wrapper installers.
        $deadline = (Get-Date).AddMinutes(30)
        while ((Get-Date) -lt $deadline) {
            $mutex = $null
            if (-not [System.Threading.Mutex]::TryOpenExisting('Global\_MSIExecute', [ref]$mutex)) { return }
            $mutex.Dispose()
            Start-Sleep -Seconds 2
        }
    }
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $notes = @()
    $code = -1
    for ($try = 1; $try -le 6; $try++) {
        Wait-GoldsmithInstaller
        switch ($Type) {
            'msi' {
                $msiArguments = '/i "' + $Path + '" ' + $Arguments + ' /l*v "' + $Log + '"'
                $code = (Start-Process -FilePath 'msiexec.exe' -ArgumentList $msiArguments -Wait -PassThru).ExitCode
            }
            'exe' {
                if ($Arguments) {
                    $code = (Start-Process -FilePath $Path -ArgumentList $Arguments -Wait -PassThru).ExitCode
                } else {
                    $code = (Start-Process -FilePath $Path -Wait -PassThru).ExitCode
                }
            }
            'msix' {
                try {
                    Add-AppxProvisionedPackage -Online -PackagePath $Path -SkipLicense | Out-Null
                    $code = 0
                } catch {
                    $notes += "install of ${Name} failed: $($_.Exception.Message)"
                    $code = 1603
                }
            }
            'ps1' {
                # The job is a process of its own: as the run-command itself, it runs scripts.
                Set-ExecutionPolicy -Scope Process -ExecutionPolicy Bypass -Force
                $global:LASTEXITCODE = 0
                & $Path
                $code = $LASTEXITCODE
            }
        }
        Wait-GoldsmithInstaller
        if ($code -ne 1618 -and $code -ne -2147023278) { break }
        $delay = [Math]::Min(300, 15 * [Math]::Pow(2, $try - 1))
        $notes += "install of ${Name}: Windows Installer is busy (1618); waiting $delay s"
        Start-Sleep -Seconds $delay
    }
    [pscustomobject]@{ GoldsmithCode = $code; Seconds = [int]$watch.Elapsed.TotalSeconds; Notes = $notes }
}

# Each app: waiting -> downloading -> ready (or failed) -> installing -> done.
$goldsmithEntries = @(foreach ($app in $goldsmithApps) {
    [pscustomobject]@{ App = $app; Path = (Join-Path $goldsmithWork ($app.Name + '.' + $app.Type)); State = 'waiting'; Job = $null }
})

function Test-GoldsmithJobDone($Entry) {
    @('Completed', 'Failed', 'Stopped') -contains [string]$Entry.Job.State
}

# An app listed with `after` installs once those earlier apps are done with.
function Test-GoldsmithAfterDone($Entry) {
    foreach ($index in $Entry.App.After) {
        if (@('done', 'failed') -notcontains $goldsmithEntries[$index].State) { return $false }
    }
    return $true
}

function Complete-GoldsmithDownload($Entry) {
    $result = Receive-Job -Job $Entry.Job -ErrorAction SilentlyContinue | Select-Object -Last 1
    $name = $Entry.App.Name
    if ($Entry.Job.State -eq 'Completed' -and $result -and $result.Ok) {
        Write-Output "##goldsmith-app:${name}:download:ok:$($result.Seconds)"
        $Entry.State = 'ready'
    } else {
        $reason = if ($result) { $result.Error } else { "the download job ended $($Entry.Job.State)" }
        [Console]::Error.WriteLine("download of ${name} failed: $reason")
        $seconds = if ($result) { $result.Seconds } else { 0 }
        Write-Output "##goldsmith-app:${name}:download:failed:$seconds"
        [void]$goldsmithFailed.Add($name)
        $Entry.State = 'failed'
    }
    Remove-Job -Job $Entry.Job -Force -ErrorAction SilentlyContinue
    $Entry.Job = $null
}

function Complete-GoldsmithInstall($Entry) {
    $name = $Entry.App.Name
    $jobErrors = $null
    $output = @(Receive-Job -Job $Entry.Job -ErrorAction SilentlyContinue -ErrorVariable jobErrors)
    foreach ($jobError in $jobErrors) { [Console]::Error.WriteLine("install of ${name}: $jobError") }
    $app = $Entry.App
    $result = $null
    if ($output.Count -gt 0 -and $null -ne $output[-1].GoldsmithCode) {
        $result = $output[-1]
        $output = @($output | Select-Object -First ($output.Count - 1))
    }
    foreach ($line in $output) { Write-Output $line }
    if ($result) {
        foreach ($note in $result.Notes) { [Console]::Error.WriteLine($note) }
        $code = [int]$result.GoldsmithCode
        $seconds = $result.Seconds
    } else {
        $reason = $Entry.Job.ChildJobs[0].JobStateInfo.Reason
        [Console]::Error.WriteLine("install of ${name} failed: the install job ended $($Entry.Job.State) $reason")
        $code = -1
        $seconds = 0
    }
    Write-Output "##goldsmith-msi:${name}:$code"
    # An app's OkCodes (its ok_codes) count as installed too; the real code is reported above.
    $status = if ((@(0, 3010, 1641) + $app.OkCodes) -contains $code) { 'ok' } else { 'failed' }
    Write-Output "##goldsmith-app:${name}:install:${status}:$seconds"
    if ($status -eq 'failed') { [void]$goldsmithFailed.Add($name) }
    Remove-Job -Job $Entry.Job -Force -ErrorAction SilentlyContinue
    $Entry.Job = $null
    $Entry.State = 'done'
}

# Downloads fill the free slots in list order; each app installs as soon as
# its download is done and the installer is free, the first-listed ready app
# first: an app still downloading holds back no later app (unless it is `after` it).
$goldsmithInstalling = $null
try {
    while ($true) {
        foreach ($entry in $goldsmithEntries) {
            if ($entry.State -eq 'downloading' -and (Test-GoldsmithJobDone $entry)) { Complete-GoldsmithDownload $entry }
        }
        if ($goldsmithInstalling -and (Test-GoldsmithJobDone $goldsmithInstalling)) {
            Complete-GoldsmithInstall $goldsmithInstalling
            $goldsmithInstalling = $null
        }
        $downloading = @($goldsmithEntries | Where-Object { $_.State -eq 'downloading' }).Count
        foreach ($entry in $goldsmithEntries) {
            if ($downloading -ge $goldsmithDownloadParallelism) { break }
            if ($entry.State -eq 'waiting') {
                $entry.Job = Start-Job -ScriptBlock $goldsmithDownload -ArgumentList $entry.App.Url, $entry.Path, $entry.App.Sha256
                $entry.State = 'downloading'
                $downloading++
            }
        }
        if (-not $goldsmithInstalling) {
            $next = $goldsmithEntries | Where-Object { $_.State -eq 'ready' -and (Test-GoldsmithAfterDone $_) } | Select-Object -First 1
            if ($next) {
                $log = Join-Path $goldsmithWork ($next.App.Name + '.msiexec.log')
                $next.Job = Start-Job -ScriptBlock $goldsmithInstall -ArgumentList $next.App.Name, $next.App.Type, $next.Path, $next.App.Args, $log
                $next.State = 'installing'
                $goldsmithInstalling = $next
            }
        }
        $running = @($goldsmithEntries | Where-Object { $_.Job } | ForEach-Object { $_.Job })
        if ($running.Count -eq 0) { break }
        $null = Wait-Job -Job $running -Any -Timeout 5
    }
} finally {
    foreach ($entry in $goldsmithEntries) {
        if ($entry.Job) { Remove-Job -Job $entry.Job -Force -ErrorAction SilentlyContinue }
    }
}
Remove-Item -LiteralPath $goldsmithWork -Recurse -Force -ErrorAction SilentlyContinue
if ($goldsmithFailed.Count -gt 0) {
    [Console]::Error.WriteLine("apps that failed: " + ($goldsmithFailed -join ', '))
    exit 1
}
"###;

/// Every `##goldsmith-app:<name>:<phase>:<status>:<seconds>` in the output, in order.
pub fn results(stdout: &str) -> Vec<AppResult> {
    stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("##goldsmith-app:"))
        .filter_map(|rest| {
            let mut parts = rest.rsplitn(4, ':');
            let seconds = parts.next()?.trim().parse::<f64>().ok()?;
            let status = parts.next()?.to_string();
            let phase = match parts.next()? {
                "download" => AppPhase::Download,
                "install" => AppPhase::Install,
                _ => return None,
            };
            let name = parts.next()?.to_string();
            Some(AppResult {
                name,
                phase,
                ok: status == "ok",
                seconds,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::scan;

    #[test]
    fn the_generated_script_is_valid_powershell_with_values_by_reference() {
        let url = "https://example.com/{{APP_VERSION}}/chrome.msi";
        let (phs, _) = scan(url);
        let apps = [
            AppSpec {
                name: "chrome",
                kind: "msi",
                url: (url, &phs),
                sha256: Some("ab"),
                args: Some(("/qn /norestart", &[])),
                expected: AppDurations {
                    download: Some(Duration::from_secs(120)),
                    install: None,
                },
                ok_codes: &[],
                after: &[],
            },
            AppSpec {
                name: "adobe-reader",
                kind: "exe",
                url: ("https://x/y.exe", &[]),
                sha256: None,
                args: None,
                expected: AppDurations::default(),
                ok_codes: &[1638, -2147024891],
                after: &[0],
            },
        ];
        let text = script(&apps, 4);
        assert!(
            text.contains("Url = ('https://example.com/' + ${env:APP_VERSION} + '/chrome.msi')"),
            "{text}"
        );
        assert!(text.contains(
            "# goldsmith-sim: app=adobe-reader\n# goldsmith-sim: app-ok-codes=adobe-reader:1638,-2147024891\n# goldsmith-sim: app-after=adobe-reader:chrome\n"
        ));
        assert!(
            text.contains("Args = ''; OkCodes = @(1638, -2147024891); After = @(0) }"),
            "{text}"
        );
        assert!(
            text.contains("Args = ('/qn /norestart'); OkCodes = @(); After = @() }"),
            "{text}"
        );
        assert!(
            text.contains("# goldsmith-sim: app=chrome:0::120s\n"),
            "{text}"
        );
        // Installs run as jobs too, so the scheduler keeps starting downloads.
        assert!(text.contains("Start-Job -ScriptBlock $goldsmithInstall"));
        crate::azure::powershell::render(&text, &[]).expect("parses without errors");
        let wrapped = crate::azure::powershell::wrap("install", &text, &[]).expect("wraps");
        crate::azure::powershell::render(&wrapped, &[]).expect("the wrapped script parses too");
    }

    #[test]
    fn app_lines_become_results() {
        let r = results(
            "x\n##goldsmith-app:chrome:download:ok:12\n##goldsmith-app:my:app:install:failed:3\n",
        );
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[1].name.as_str(), r[1].phase.name(), r[1].ok, r[1].seconds),
            ("my:app", "install", false, 3.0)
        );
    }

    fn app(download: u64, install: u64) -> Timed<'static> {
        Timed {
            expected: AppDurations {
                download: Some(Duration::from_secs(download)),
                install: Some(Duration::from_secs(install)),
            },
            after: &[],
        }
    }

    #[test]
    fn the_estimate_installs_each_app_as_soon_as_its_download_is_done() {
        assert_eq!(expected(&[Timed::default()], 4), None);
        // The seed's example: Chrome (2 min, 3 min) and Adobe (3 min, 2 min).
        // Chrome installs 2-5 min while Adobe downloads; Adobe installs 5-7 min:
        // 7 min, the first download and every install (all downloads first: 8 min).
        let seed = [app(120, 180), app(180, 120)];
        assert_eq!(expected(&seed, 2), Some(Duration::from_secs(420)));
        // One slot: Adobe downloads 2-5 min during Chrome's install.
        assert_eq!(expected(&seed, 1), Some(Duration::from_secs(420)));
        // Two slots: 120 and 60 start together; 30 starts when 60 ends (90).
        // The second app installs 60-120, the third 120-130, the first 130-310.
        let apps = [app(120, 180), app(60, 60), app(30, 10)];
        assert_eq!(expected(&apps, 2), Some(Duration::from_secs(310)));
        // One slot: downloads end at 120, 180 and 210; installs follow each.
        assert_eq!(
            expected(&apps, 1),
            Some(Duration::from_secs(120 + 180 + 60 + 10))
        );
        let partial = [app(100, 50), Timed::default()];
        assert_eq!(expected(&partial, 4), Some(Duration::from_secs(150)));
    }

    #[test]
    fn a_ready_app_waits_only_for_the_installer_and_a_late_download_leaves_it_idle() {
        // b and c finish downloading during a's install (10-100) and follow it
        // (100-110); d is still downloading then, and installs once ready (200-201).
        let apps = [app(10, 90), app(20, 5), app(50, 5), app(200, 1)];
        assert_eq!(expected(&apps, 4), Some(Duration::from_secs(201)));
        let ends = download_ends(&apps, 4);
        assert_eq!(ends, [10, 20, 50, 200].map(Duration::from_secs));
    }

    #[test]
    fn an_app_after_another_waits_for_its_install() {
        // webrtc (listed second) is downloaded first but waits for vc-redist,
        // which it is `after`: vc-redist 20-80, webrtc 80-110, teams 110-230.
        let teams = [
            app(20, 60),
            Timed {
                after: &[0],
                ..app(10, 30)
            },
            app(90, 120),
        ];
        assert_eq!(expected(&teams, 3), Some(Duration::from_secs(230)));
        // Without `after`, webrtc goes first (10-40) and everything ends at 220.
        let free = [app(20, 60), app(10, 30), app(90, 120)];
        assert_eq!(expected(&free, 3), Some(Duration::from_secs(220)));
    }
}
