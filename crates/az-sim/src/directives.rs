//! The `# goldsmith-sim:` directive language: how a script tells the simulator
//! what "running" it does (how long, what it prints, which MSIs it installs,
//! how it exits and what happens to the VM afterwards).

use super::duration::parse_seconds;
use super::power_state::{PowerChange, PowerState};

/// The marker a directive line starts with, after `#` and optional spaces.
pub const PREFIX: &str = "goldsmith-sim:";
/// How long a script runs when it says nothing: Azure's floor for a run-command.
pub const DEFAULT_SECONDS: f64 = 20.0;
/// How long one simulated MSI install takes when the directive gives no duration.
pub const DEFAULT_MSI_SECONDS: f64 = 30.0;
/// How long one install-apps download takes.
pub const DOWNLOAD_SECONDS: f64 = 20.0;
/// install-apps downloads at most this many at once unless told otherwise.
pub const DEFAULT_DOWNLOAD_PARALLELISM: u32 = 4;

/// Something the script prints or does, in script order.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Stdout(String),
    Stderr(String),
    /// `stdout-bytes=<n>`: n bytes of filler output.
    Filler(usize),
    Msi(Msi),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Msi {
    pub name: String,
    pub code: i32,
    pub seconds: f64,
}

/// An app of a generated install-apps script
/// (`app=<name>[:<code>[:<install>[:<download>]]]`; an empty duration keeps the default).
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    pub name: String,
    pub code: i32,
    /// How long its install takes.
    pub seconds: f64,
    pub download_seconds: f64,
    /// `app-ok-codes=<name>:<code>[,<code>...]`: codes besides 0/3010/1641 that
    /// count as installed (the app's `ok_codes`).
    pub ok_codes: Vec<i32>,
    /// `app-after=<name>:<earlier>[,<earlier>...]`: the earlier apps (indices)
    /// whose installs end before this one starts (the app's `after`).
    pub after: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Directives {
    pub duration: Option<f64>,
    pub steps: Vec<Step>,
    /// install-apps: downloaded together, then installed one at a time.
    pub apps: Vec<App>,
    pub download_parallelism: Option<u32>,
    /// `download=<payload>:<duration>`: payloads fetched into the VM's cache
    /// at the script's start, unless already there (see `payload_cache`).
    pub downloads: Vec<super::payload_cache::Download>,
    pub exit: i32,
    pub no_marker: bool,
    pub reboot: bool,
    /// The VM's power state after the script.
    pub power: Option<PowerChange>,
    /// A generated windows-update round: its categories and exclusions
    /// (`windows-update-categories=`, `windows-update-exclude=`).
    pub windows_update: Option<WindowsUpdateRound>,
}

/// `windows-update`: the round script's selection, placeholders as `${env:NAME}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WindowsUpdateRound {
    pub categories: String,
    pub exclude: String,
    /// `windows-update-download-only`: search and download, install nothing.
    pub download_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("script line {line}: {message}")]
pub struct DirectiveError {
    pub line: usize,
    pub message: String,
}

const KEYS: &[&str] = &[
    "duration",
    "stdout",
    "stderr",
    "exit",
    "msi",
    "stdout-bytes",
    "no-marker",
    "reboot",
    "power",
    "power-after",
    "app",
    "app-ok-codes",
    "app-after",
    "download-parallelism",
    "download",
    "windows-update",
    "windows-update-categories",
    "windows-update-exclude",
    "windows-update-download-only",
];

impl Directives {
    /// Reads every directive line of `script`; other lines are ignored.
    pub fn parse(script: &str) -> Result<Self, DirectiveError> {
        let mut d = Directives::default();
        for (index, line) in script.lines().enumerate() {
            let Some(body) = directive_body(line) else {
                continue;
            };
            let err = |message: String| DirectiveError {
                line: index + 1,
                message,
            };
            d.apply_line(body).map_err(err)?;
        }
        Ok(d)
    }

    fn apply_line(&mut self, body: &str) -> Result<(), String> {
        let tokens = tokenize(body);
        let all_known = tokens.as_ref().is_ok_and(|t| {
            t.iter()
                .all(|token| KEYS.contains(&token.split('=').next().unwrap_or_default()))
        });
        // `stdout=Installing 7-Zip... done` prints the rest of the line: when
        // the words after stdout=/stderr= are not directives, they are text.
        if !all_known {
            for (key, is_err) in [("stdout=", false), ("stderr=", true)] {
                if let Some(text) = body.strip_prefix(key) {
                    let text = text.trim_end().to_string();
                    self.steps.push(if is_err {
                        Step::Stderr(text)
                    } else {
                        Step::Stdout(text)
                    });
                    return Ok(());
                }
            }
        }
        for token in tokens? {
            let (key, value) = match token.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (token.clone(), None),
            };
            self.apply(&key, value)?;
        }
        Ok(())
    }

    fn apply(&mut self, key: &str, value: Option<String>) -> Result<(), String> {
        let need = |v: Option<String>| v.ok_or_else(|| format!("`{key}` needs a value: {key}=..."));
        match key {
            "duration" => {
                let v = need(value)?;
                self.duration = Some(parse_seconds(&v).map_err(|e| e.to_string())?);
            }
            "stdout" => self.steps.push(Step::Stdout(need(value)?)),
            "stderr" => self.steps.push(Step::Stderr(need(value)?)),
            "exit" => {
                let v = need(value)?;
                self.exit = v
                    .parse()
                    .map_err(|_| format!("exit={v}: the exit code must be an integer"))?;
            }
            "stdout-bytes" => {
                let v = need(value)?;
                let n = v
                    .parse()
                    .map_err(|_| format!("stdout-bytes={v}: must be a number of bytes"))?;
                self.steps.push(Step::Filler(n));
            }
            "msi" => self.steps.push(Step::Msi(parse_msi(&need(value)?)?)),
            "app" => self.apps.push(parse_app(&need(value)?)?),
            "app-ok-codes" => self.set_ok_codes(&need(value)?)?,
            "app-after" => self.set_after(&need(value)?)?,
            "download" => self
                .downloads
                .push(super::payload_cache::parse(&need(value)?)?),
            "download-parallelism" => {
                let v = need(value)?;
                self.download_parallelism = Some(
                    v.parse()
                        .ok()
                        .filter(|n: &u32| *n > 0)
                        .ok_or_else(|| format!("download-parallelism={v}: must be 1 or more"))?,
                );
            }
            "power" => {
                let v = need(value)?;
                let to = match v.as_str() {
                    "running" => PowerState::Running,
                    "stopped" => PowerState::Stopped,
                    "deallocated" => PowerState::Deallocated,
                    _ => {
                        return Err(format!(
                            "power={v}: use power=stopped, power=deallocated or power=running"
                        ));
                    }
                };
                let after = self.power.map_or(0.0, |p| p.after);
                self.power = Some(PowerChange { to, after });
            }
            "power-after" => {
                let v = need(value)?;
                let after = parse_seconds(&v).map_err(|e| e.to_string())?;
                let to = self.power.map_or(PowerState::Stopped, |p| p.to);
                self.power = Some(PowerChange { to, after });
            }
            "windows-update" => {
                if value.is_some() {
                    return Err("`windows-update` takes no value".into());
                }
                self.windows_update.get_or_insert_default();
            }
            "windows-update-categories" => {
                self.windows_update.get_or_insert_default().categories = value.unwrap_or_default();
            }
            "windows-update-exclude" => {
                self.windows_update.get_or_insert_default().exclude = value.unwrap_or_default();
            }
            "windows-update-download-only" => {
                if value.is_some() {
                    return Err("`windows-update-download-only` takes no value".into());
                }
                self.windows_update.get_or_insert_default().download_only = true;
            }
            "no-marker" | "reboot" => {
                if value.is_some() {
                    return Err(format!("`{key}` takes no value"));
                }
                if key == "reboot" {
                    self.reboot = true;
                } else {
                    self.no_marker = true;
                }
            }
            _ => {
                return Err(format!(
                    "unknown directive `{key}` (known: {})",
                    KEYS.join(", ")
                ));
            }
        }
        Ok(())
    }
}

impl Directives {
    /// `app-ok-codes=<name>:<code>[,<code>...]`, for an app an earlier `app=` named.
    fn set_ok_codes(&mut self, value: &str) -> Result<(), String> {
        let usage = "write app-ok-codes=<name>:<code>[,<code>...] after the app's app=, e.g. app-ok-codes=vc-redist-x64:1638";
        let Some((name, list)) = value.rsplit_once(':') else {
            return Err(format!("app-ok-codes={value}: no codes; {usage}"));
        };
        let codes = list
            .split(',')
            .map(|c| {
                c.trim().parse::<i32>().map_err(|_| {
                    format!("app-ok-codes={value}: `{c}` is not an exit code; {usage}")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let Some(app) = self.apps.iter_mut().rfind(|a| a.name == name) else {
            return Err(format!(
                "app-ok-codes={value}: no app={name} before it; {usage}"
            ));
        };
        app.ok_codes = codes;
        Ok(())
    }
}

impl Directives {
    /// `app-after=<name>:<earlier>[,<earlier>...]`, naming apps an earlier `app=` gave.
    fn set_after(&mut self, value: &str) -> Result<(), String> {
        let usage = "write app-after=<name>:<earlier app>[,<earlier app>...] after the app's app=, e.g. app-after=webrtc-redirector:vc-redist-x64";
        let Some((name, list)) = value.rsplit_once(':') else {
            return Err(format!("app-after={value}: no earlier app; {usage}"));
        };
        let Some(at) = self.apps.iter().rposition(|a| a.name == name) else {
            return Err(format!(
                "app-after={value}: no app={name} before it; {usage}"
            ));
        };
        let after = list
            .split(',')
            .map(|earlier| {
                self.apps[..at]
                    .iter()
                    .position(|a| a.name == earlier.trim())
                    .ok_or_else(|| {
                        format!(
                            "app-after={value}: `{earlier}` is not an app before {name}; {usage}"
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.apps[at].after = after;
        Ok(())
    }
}

/// The text after `# goldsmith-sim:` when `line` is a directive line.
fn directive_body(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix('#')?;
    let rest = rest.trim_start().strip_prefix(PREFIX)?;
    Some(rest.trim_start().trim_end_matches('\r'))
}

/// Splits on whitespace; `"..."` groups words and allows `\"` and `\\`.
fn tokenize(body: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut in_token = false;
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                in_token = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        // As in a shell's double quotes, `\` escapes only `"` and
                        // itself: a Windows path keeps its backslashes.
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\')) => current.push(e),
                            Some(other) => {
                                current.push('\\');
                                current.push(other);
                            }
                            None => return Err("unfinished escape at the end of the line".into()),
                        },
                        Some(other) => current.push(other),
                        None => return Err("unclosed `\"` in directive".into()),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_token {
                    tokens.push(std::mem::take(&mut current));
                    in_token = false;
                }
            }
            c => {
                in_token = true;
                current.push(c);
            }
        }
    }
    if in_token {
        tokens.push(current);
    }
    Ok(tokens)
}

fn parse_msi(value: &str) -> Result<Msi, String> {
    let usage =
        || format!("msi={value}: write msi=<name>:<exit code>[:<duration>], e.g. msi=7zip:0:45s");
    let mut parts = value.split(':');
    let name = parts.next().filter(|n| !n.is_empty()).ok_or_else(usage)?;
    let code = parts
        .next()
        .and_then(|c| c.parse::<i32>().ok())
        .ok_or_else(usage)?;
    let seconds = match parts.next() {
        Some(d) => parse_seconds(d).map_err(|e| format!("msi={value}: {e}"))?,
        None => DEFAULT_MSI_SECONDS,
    };
    if parts.next().is_some() {
        return Err(usage());
    }
    Ok(Msi {
        name: name.to_string(),
        code,
        seconds,
    })
}

/// Read from the right, so app names may hold `:` themselves: the last
/// fields are the durations and code when they read as such.
fn parse_app(value: &str) -> Result<App, String> {
    let mut app = App {
        name: value.to_string(),
        code: 0,
        seconds: DEFAULT_MSI_SECONDS,
        download_seconds: DOWNLOAD_SECONDS,
        ok_codes: Vec::new(),
        after: Vec::new(),
    };
    let duration = |text: &str, default: f64, what: &str| -> Result<f64, String> {
        if text.is_empty() {
            return Ok(default);
        }
        parse_seconds(text).map_err(|e| {
            format!("app={value}: the {what} duration: {e}; write app=<name>[:<code>[:<install>[:<download>]]], e.g. app=chrome:0:3m:2m")
        })
    };
    let is_code = |c: &str| c.parse::<i32>().is_ok();
    let parts: Vec<&str> = value.rsplitn(4, ':').collect();
    // How many fields after the name: download, install and code; install and code; code.
    let fields = match parts.as_slice() {
        [_, _, code, name] if is_code(code) && !name.is_empty() => 3,
        [_, code, _, ..] if is_code(code) => 2,
        [code, _, ..] if is_code(code) => 1,
        _ => 0,
    };
    if fields == 3 {
        app.download_seconds = duration(parts[0], DOWNLOAD_SECONDS, "download")?;
    }
    if fields >= 2 {
        app.seconds = duration(parts[fields - 2], DEFAULT_MSI_SECONDS, "install")?;
    }
    if fields >= 1 {
        app.code = parts[fields - 1].parse().unwrap_or_default();
        let tail: usize = parts[..fields].iter().map(|p| p.len() + 1).sum();
        app.name = value[..value.len() - tail].to_string();
    }
    if app.name.is_empty() {
        return Err(format!("app={value}: the app needs a name"));
    }
    Ok(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_windows_paths_keep_their_backslashes() {
        let d = Directives::parse(
            r#"# goldsmith-sim: stdout="C:\nope\x.log" stderr="say \"hi\" \\ done" exit=1"#,
        )
        .unwrap();
        assert_eq!(
            d.steps,
            [
                Step::Stdout(r"C:\nope\x.log".into()),
                Step::Stderr(r#"say "hi" \ done"#.into())
            ]
        );
    }

    #[test]
    fn no_directives_means_defaults() {
        let d = Directives::parse("Write-Output hi\n# a comment\n").unwrap();
        assert_eq!(d, Directives::default());
    }

    #[test]
    fn reads_every_key() {
        let script = "  # goldsmith-sim: duration=5m exit=3 reboot\n\
                      #goldsmith-sim: stdout=hello world = yes\n\
                      # goldsmith-sim: stderr=\"quoted text\"\n\
                      # goldsmith-sim: msi=7zip:0:45s msi=vlc:1603 stdout-bytes=10 no-marker power=stopped\n\
                      # goldsmith-sim: stdout=\"two words\" exit=4\n\
                      # goldsmith-sim: stdout=Installing 7-Zip... done\n";
        let d = Directives::parse(script).unwrap();
        assert_eq!(d.duration, Some(300.0));
        assert_eq!(d.exit, 4);
        assert!(d.reboot && d.no_marker);
        assert_eq!(
            d.power,
            Some(PowerChange {
                to: PowerState::Stopped,
                after: 0.0
            })
        );
        assert_eq!(
            d.steps,
            vec![
                Step::Stdout("hello world = yes".into()),
                Step::Stderr("quoted text".into()),
                Step::Msi(Msi {
                    name: "7zip".into(),
                    code: 0,
                    seconds: 45.0
                }),
                Step::Msi(Msi {
                    name: "vlc".into(),
                    code: 1603,
                    seconds: DEFAULT_MSI_SECONDS
                }),
                Step::Filler(10),
                Step::Stdout("two words".into()),
                Step::Stdout("Installing 7-Zip... done".into()),
            ]
        );
    }

    #[test]
    fn install_apps_directives() {
        let d = Directives::parse(
            "# goldsmith-sim: download-parallelism=2\n# goldsmith-sim: app=chrome\n# goldsmith-sim: app=my:app:1603:90s\n# goldsmith-sim: app=vlc:3010\n",
        )
        .unwrap();
        assert_eq!(d.download_parallelism, Some(2));
        let names: Vec<(&str, i32, f64, f64)> = d
            .apps
            .iter()
            .map(|a| (a.name.as_str(), a.code, a.seconds, a.download_seconds))
            .collect();
        let (install, download) = (DEFAULT_MSI_SECONDS, DOWNLOAD_SECONDS);
        assert_eq!(
            names,
            vec![
                ("chrome", 0, install, download),
                ("my:app", 1603, 90.0, download),
                ("vlc", 3010, install, download)
            ]
        );
        assert!(Directives::parse("# goldsmith-sim: download-parallelism=0").is_err());
        let timed = Directives::parse(
            "# goldsmith-sim: app=chrome:0:3m:2m app=adobe:3010::90s app=m365:0:20m: app=a:b:0:1s:2s\n",
        )
        .unwrap();
        let timed: Vec<(&str, i32, f64, f64)> = timed
            .apps
            .iter()
            .map(|a| (a.name.as_str(), a.code, a.seconds, a.download_seconds))
            .collect();
        assert_eq!(
            timed,
            vec![
                ("chrome", 0, 180.0, 120.0),
                ("adobe", 3010, install, 90.0),
                ("m365", 0, 1200.0, download),
                ("a:b", 0, 1.0, 2.0),
            ]
        );
        let e = Directives::parse("# goldsmith-sim: app=chrome:0:3m:soon").unwrap_err();
        assert!(
            e.message
                .contains("app=chrome:0:3m:soon: the download duration")
                && e.message.contains("e.g. app=chrome:0:3m:2m"),
            "{}",
            e.message
        );
    }

    #[test]
    fn app_ok_codes_name_an_earlier_app() {
        let d = Directives::parse(
            "# goldsmith-sim: app=vc-redist:0::1m\n# goldsmith-sim: app-ok-codes=vc-redist:1638,-2147024891\n# goldsmith-sim: app=a:b app-ok-codes=a:b:5\n",
        )
        .unwrap();
        let codes: Vec<(&str, &[i32])> = d
            .apps
            .iter()
            .map(|a| (a.name.as_str(), a.ok_codes.as_slice()))
            .collect();
        assert_eq!(
            codes,
            vec![("vc-redist", &[1638, -2147024891][..]), ("a:b", &[5][..])]
        );
        for (line, says) in [
            ("app-ok-codes=teams:1638", "no app=teams before it"),
            ("app-ok-codes=1638", "no codes"),
            ("app=x app-ok-codes=x:16x8", "`16x8` is not an exit code"),
            ("app=x app-ok-codes=x:", "`` is not an exit code"),
        ] {
            let e = Directives::parse(&format!("# goldsmith-sim: {line}\n")).unwrap_err();
            assert!(
                e.message.contains(says)
                    && e.message.contains("e.g. app-ok-codes=vc-redist-x64:1638"),
                "{line}: {}",
                e.message
            );
        }
    }

    #[test]
    fn app_after_names_earlier_apps() {
        let d = Directives::parse(
            "# goldsmith-sim: app=vc app=webrtc app=teams\n# goldsmith-sim: app-after=teams:vc,webrtc\n",
        )
        .unwrap();
        let after: Vec<&[usize]> = d.apps.iter().map(|a| a.after.as_slice()).collect();
        assert_eq!(after, vec![&[][..], &[][..], &[0, 1][..]]);
        for (line, says) in [
            (
                "app=vc app-after=vc:teams",
                "`teams` is not an app before vc",
            ),
            (
                "app=vc app=teams app-after=vc:teams",
                "`teams` is not an app before vc",
            ),
            ("app-after=teams:vc", "no app=teams before it"),
            ("app=vc app-after=vc", "no earlier app"),
        ] {
            let e = Directives::parse(&format!("# goldsmith-sim: {line}\n")).unwrap_err();
            assert!(
                e.message.contains(says) && e.message.contains("e.g. app-after="),
                "{line}: {}",
                e.message
            );
        }
    }

    #[test]
    fn errors_name_the_line() {
        let e = Directives::parse("x\n# goldsmith-sim: durration=5s\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unknown directive `durration`"));
        assert!(Directives::parse("# goldsmith-sim: msi=7zip").is_err());
        assert!(Directives::parse("# goldsmith-sim: exit=x").is_err());
        assert!(Directives::parse("# goldsmith-sim: app=:0").is_err());
        let d = Directives::parse("# goldsmith-sim: app=5:6").unwrap();
        assert_eq!((d.apps[0].name.as_str(), d.apps[0].code), ("5", 6));
        assert!(Directives::parse("# goldsmith-sim: power=off").is_err());
        assert!(Directives::parse("# goldsmith-sim: power-after=soon").is_err());
    }

    #[test]
    fn a_power_change_may_come_after_the_script_in_either_order() {
        let shutdown = Some(PowerChange {
            to: PowerState::Stopped,
            after: 480.0,
        });
        for text in [
            "# goldsmith-sim: power=stopped power-after=8m",
            "# goldsmith-sim: power-after=8m power=stopped",
        ] {
            assert_eq!(Directives::parse(text).unwrap().power, shutdown, "{text}");
        }
    }
}
