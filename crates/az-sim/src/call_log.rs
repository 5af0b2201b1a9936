//! `<sim dir>/calls.jsonl`: one JSON line per `az` call the simulator
//! answered (its argv with secret values masked, the calling operation and
//! attempt, the exit code), so a user sees what a run would ask of Azure and
//! CI can replay every call against the real Azure CLI
//! (`tools/az-spec/replay.py`).

use std::fs::OpenOptions;
use std::io::Write;

use serde::Serialize;

use super::env::SimEnv;

/// The file's name inside the sim directory.
pub const FILE: &str = "calls.jsonl";

/// Options whose value is a secret, and what replaces it.
const SECRET_OPTIONS: &[&str] = &[
    "--admin-password",
    "--password",
    "--protected-settings",
    "--client-secret",
    "--secret",
    // `login --federated-token`: the runner's ID token.
    "--federated-token",
];
const MASK: &str = "***";

/// One line of `calls.jsonl`.
#[derive(Serialize)]
struct Entry<'a> {
    version: u32,
    op: Option<&'a str>,
    attempt: u32,
    argv: Vec<String>,
    exit_code: i32,
}

/// Whether `word` names a secret option of `argv`'s command, abbreviations
/// included (az accepts `--admin-pass`); `login -p` is its password.
fn is_secret_option(word: &str, login: bool) -> bool {
    let name = word.split('=').next().unwrap_or(word);
    if login && name == "-p" {
        return true;
    }
    name.len() > 3 && SECRET_OPTIONS.iter().any(|s| s.starts_with(name))
}

/// `argv` with the values of secret options replaced by `***`.
pub fn mask(argv: &[String]) -> Vec<String> {
    let login = argv.first().is_some_and(|w| w == "login");
    let mut out = Vec::with_capacity(argv.len());
    let mut masking = false;
    for word in argv {
        if word.starts_with('-') && word.len() > 1 {
            masking = is_secret_option(word, login);
            match word.split_once('=') {
                Some((name, _)) if masking && word.starts_with("--") => {
                    out.push(format!("{name}={MASK}"));
                }
                _ => out.push(word.clone()),
            }
        } else if masking {
            out.push(MASK.to_string());
        } else {
            out.push(word.clone());
        }
    }
    out
}

/// Appends the call. A record that cannot be written is reported on stderr
/// and does not change what the call answers.
pub fn record(env: &SimEnv, argv: &[String], exit_code: i32) {
    let entry = Entry {
        version: 1,
        op: env.op.as_deref(),
        attempt: env.attempt,
        argv: mask(argv),
        exit_code,
    };
    let line = match serde_json::to_string(&entry) {
        Ok(json) => json + "\n",
        Err(e) => {
            eprintln!("WARNING: goldsmith-sim: cannot record the call: {e}");
            return;
        }
    };
    // One write of the whole line to an O_APPEND file: parallel `az`
    // processes never interleave inside a line.
    let written = OpenOptions::new()
        .create(true)
        .append(true)
        .open(env.dir.join(FILE))
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!(
            "WARNING: goldsmith-sim: cannot record the call in {}: {e}",
            env.dir.join(FILE).display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn masks_secret_values_in_every_spelling() {
        let argv = words(&[
            "vm",
            "create",
            "--admin-password",
            "p@ss w0rd",
            "--admin-pass=x",
            "-n",
            "vm",
            "--protected-settings",
            "{\"token\":1}",
        ]);
        assert_eq!(
            mask(&argv),
            words(&[
                "vm",
                "create",
                "--admin-password",
                "***",
                "--admin-pass=***",
                "-n",
                "vm",
                "--protected-settings",
                "***",
            ])
        );
        let login = words(&["login", "--service-principal", "-u", "id", "-p", "s3cret"]);
        assert_eq!(mask(&login)[5], "***");
        let oidc = words(&["login", "--federated-token", "eyJ.a.b", "--output", "none"]);
        assert_eq!(
            mask(&oidc),
            words(&["login", "--federated-token", "***", "--output", "none"])
        );
        let sig = words(&["sig", "image-definition", "create", "-p", "publisher"]);
        assert_eq!(mask(&sig)[4], "publisher");
    }
}
