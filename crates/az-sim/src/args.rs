//! One `az` command line as argparse sees it: the command words, then options
//! (`--name value`, `-g rg`, `--flag`, `--key=value`) with their values.

use std::collections::BTreeMap;

use super::error::AzError;

/// Short and alternative spellings every command understands.
const GLOBAL_ALIASES: &[(&str, &str)] = &[
    ("-g", "resource-group"),
    ("-n", "name"),
    ("-l", "location"),
    ("-o", "output"),
    ("-y", "yes"),
    ("-h", "help"),
];

/// The command words before the first option, and the options as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Split {
    pub words: Vec<String>,
    pub options: Vec<(String, Vec<String>)>,
}

/// argparse treats `-x…` as an option unless it holds a space or is a negative number.
fn is_option(word: &str) -> bool {
    word.len() > 1 && word.starts_with('-') && !word.contains(' ') && word.parse::<f64>().is_err()
}

pub fn split(args: &[String]) -> Split {
    let mut out = Split::default();
    for word in args {
        if is_option(word) {
            match word.split_once('=').filter(|_| word.starts_with("--")) {
                Some((flag, value)) => out
                    .options
                    .push((flag.to_string(), vec![value.to_string()])),
                None => out.options.push((word.clone(), Vec::new())),
            }
        } else if let Some((_, values)) = out.options.last_mut() {
            values.push(word.clone());
        } else {
            out.words.push(word.clone());
        }
    }
    out
}

/// Options by canonical long name (without dashes); the last occurrence wins.
#[derive(Debug, Clone, Default)]
pub struct Args {
    values: BTreeMap<String, Vec<String>>,
    /// Canonical name → how to show it in messages (`--name/-n`).
    shown: BTreeMap<String, String>,
}

impl Args {
    pub fn resolve(options: &[(String, Vec<String>)], aliases: &[(&str, &str)]) -> Args {
        let mut args = Args::default();
        for (flag, values) in options {
            let name = canonical(flag, aliases);
            args.values.insert(name, values.clone());
        }
        for (flag, name) in aliases.iter().chain(GLOBAL_ALIASES) {
            if flag.len() == 2 && !args.shown.contains_key(*name) {
                args.shown
                    .insert(name.to_string(), format!("--{name}/{flag}"));
            }
        }
        args
    }

    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// `--name/-n` for messages.
    pub fn shown(&self, name: &str) -> String {
        self.shown
            .get(name)
            .cloned()
            .unwrap_or_else(|| format!("--{name}"))
    }

    /// A single-valued option.
    pub fn one(&self, name: &str) -> Result<Option<String>, AzError> {
        match self.values.get(name) {
            None => Ok(None),
            Some(v) if v.is_empty() => Err(AzError::expected_one(&self.shown(name))),
            Some(v) if v.len() > 1 => Err(AzError::unrecognized(&v[1..])),
            Some(v) => Ok(Some(v[0].clone())),
        }
    }

    pub fn one_or(&self, name: &str, default: &str) -> Result<String, AzError> {
        Ok(self.one(name)?.unwrap_or_else(|| default.to_string()))
    }

    /// A list option (`--scripts a b c`).
    pub fn many(&self, name: &str) -> Vec<String> {
        self.values.get(name).cloned().unwrap_or_default()
    }

    /// A switch (`--yes`); values after it are unrecognized arguments.
    pub fn flag(&self, name: &str) -> Result<bool, AzError> {
        match self.values.get(name) {
            None => Ok(false),
            Some(v) if v.is_empty() => Ok(true),
            Some(v)
                if v.len() == 1
                    && matches!(v[0].to_ascii_lowercase().as_str(), "true" | "false") =>
            {
                Ok(v[0].eq_ignore_ascii_case("true"))
            }
            Some(v) => Err(AzError::unrecognized(v)),
        }
    }

    /// Fails like argparse, naming every missing option at once.
    pub fn require(&self, names: &[&str]) -> Result<(), AzError> {
        let missing: Vec<String> = names
            .iter()
            .filter(|n| !self.has(n))
            .map(|n| self.shown(n))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(AzError::required(&missing))
        }
    }

    /// A required single-valued option.
    pub fn req(&self, name: &str) -> Result<String, AzError> {
        self.require(&[name])?;
        self.one(name)?
            .ok_or_else(|| AzError::expected_one(&self.shown(name)))
    }
}

fn canonical(flag: &str, aliases: &[(&str, &str)]) -> String {
    if let Some((_, name)) = aliases
        .iter()
        .chain(GLOBAL_ALIASES)
        .find(|(f, _)| *f == flag)
    {
        return name.to_string();
    }
    flag.trim_start_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn splits_like_argparse() {
        let s = split(&words(&[
            "vm",
            "run-command",
            "invoke",
            "-g",
            "rg",
            "--scripts",
            "a b",
            "-x y",
            "--query=value[0]",
            "--yes",
            "--count",
            "-1",
        ]));
        assert_eq!(s.words, words(&["vm", "run-command", "invoke"]));
        assert_eq!(s.options[0], ("-g".to_string(), words(&["rg"])));
        assert_eq!(
            s.options[1],
            ("--scripts".to_string(), words(&["a b", "-x y"]))
        );
        assert_eq!(s.options[2], ("--query".to_string(), words(&["value[0]"])));
        assert_eq!(s.options[3], ("--yes".to_string(), vec![]));
        assert_eq!(s.options[4], ("--count".to_string(), words(&["-1"])));
    }

    #[test]
    fn resolves_aliases_and_validates() {
        let s = split(&words(&["-g", "rg", "-n", "a", "b", "--yes", "--tags"]));
        let a = Args::resolve(&s.options, &[("--account-name", "name")]);
        assert_eq!(a.one("resource-group").unwrap(), Some("rg".into()));
        assert_eq!(
            a.one("name").unwrap_err().render().lines().next().unwrap(),
            "ERROR: unrecognized arguments: b"
        );
        assert!(a.flag("yes").unwrap());
        assert_eq!(
            a.one("tags").unwrap_err().render().lines().next().unwrap(),
            "ERROR: argument --tags: expected one argument"
        );
        assert_eq!(
            a.require(&["command-id", "resource-group", "location"])
                .unwrap_err()
                .render()
                .lines()
                .next()
                .unwrap(),
            "ERROR: the following arguments are required: --command-id, --location/-l"
        );
    }
}
