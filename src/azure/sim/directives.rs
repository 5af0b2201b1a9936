//! The `# goldsmith-sim:` directive language: how a script tells the simulator
//! what "running" it does (how long, what it prints, which MSIs it installs,
//! how it exits and what happens to the VM afterwards).

use super::duration::parse_seconds;
use super::power::PowerState;

/// The marker a directive line starts with, after `#` and optional spaces.
pub const PREFIX: &str = "goldsmith-sim:";
/// How long a script runs when it says nothing: Azure's floor for a run-command.
pub const DEFAULT_SECONDS: f64 = 20.0;
/// How long one simulated MSI install takes when the directive gives no duration.
pub const DEFAULT_MSI_SECONDS: f64 = 30.0;

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

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Directives {
    pub duration: Option<f64>,
    pub steps: Vec<Step>,
    pub exit: i32,
    pub no_marker: bool,
    pub reboot: bool,
    /// The VM's power state after the script.
    pub power: Option<PowerState>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("script line {line}: {message}")]
pub struct DirectiveError {
    pub line: usize,
    pub message: String,
}

const KEYS: &str = "duration, stdout, stderr, exit, msi, stdout-bytes, no-marker, reboot, power";

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

    /// The simulated run time: the `duration` directive or the default, but
    /// never shorter than the MSI installs it performs.
    pub fn msi_seconds(&self) -> f64 {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Msi(m) => m.seconds,
                _ => 0.0,
            })
            .sum()
    }

    fn apply_line(&mut self, body: &str) -> Result<(), String> {
        // A line that starts with stdout=/stderr= prints the rest of the line as is,
        // so text with spaces and `=` needs no quoting.
        for (key, is_err) in [("stdout=", false), ("stderr=", true)] {
            if let Some(text) = body.strip_prefix(key) {
                let text = unquote_whole(text);
                self.steps.push(if is_err {
                    Step::Stderr(text)
                } else {
                    Step::Stdout(text)
                });
                return Ok(());
            }
        }
        for token in tokenize(body)? {
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
            "power" => {
                let v = need(value)?;
                self.power = Some(match v.as_str() {
                    "running" => PowerState::Running,
                    "stopped" => PowerState::Stopped,
                    "deallocated" => PowerState::Deallocated,
                    _ => {
                        return Err(format!(
                            "power={v}: use power=stopped, power=deallocated or power=running"
                        ));
                    }
                });
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
            _ => return Err(format!("unknown directive `{key}` (known: {KEYS})")),
        }
        Ok(())
    }
}

/// The text after `# goldsmith-sim:` when `line` is a directive line.
fn directive_body(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix('#')?;
    let rest = rest.trim_start().strip_prefix(PREFIX)?;
    Some(rest.trim_start().trim_end_matches('\r'))
}

/// `"a b"` becomes `a b`; anything else stays as written.
fn unquote_whole(text: &str) -> String {
    let t = text.trim_end();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        if let Ok(mut tokens) = tokenize(t) {
            if tokens.len() == 1 {
                return tokens.remove(0);
            }
        }
    }
    text.to_string()
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
                        Some('\\') => match chars.next() {
                            Some(e) => current.push(e),
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
    let usage = || format!("msi={value}: write msi=<name>:<exit code>[:<duration>], e.g. msi=7zip:0:45s");
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

#[cfg(test)]
mod tests {
    use super::*;

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
                      # goldsmith-sim: exit=4 stdout=\"two words\"\n";
        let d = Directives::parse(script).unwrap();
        assert_eq!(d.duration, Some(300.0));
        assert_eq!(d.exit, 4);
        assert!(d.reboot && d.no_marker);
        assert_eq!(d.power, Some(PowerState::Stopped));
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
                Step::Stdout("\"two words\" exit=4".into()),
                Step::Stdout("two words".into()),
            ]
        );
        assert_eq!(d.msi_seconds(), 45.0 + DEFAULT_MSI_SECONDS);
    }

    #[test]
    fn errors_name_the_line() {
        let e = Directives::parse("x\n# goldsmith-sim: durration=5s\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unknown directive `durration`"));
        assert!(Directives::parse("# goldsmith-sim: msi=7zip").is_err());
        assert!(Directives::parse("# goldsmith-sim: exit=x").is_err());
        assert!(Directives::parse("# goldsmith-sim: power=off").is_err());
    }
}
