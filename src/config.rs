//! `config.yaml` → variables, with environment overrides and secrets.
//!
//! Every scalar leaf of the nested mapping becomes a variable named by its path
//! in UPPER_SNAKE (`azure.resource_group` → `AZURE_RESOURCE_GROUP`). Secrets
//! are listed by name and only ever come from the environment.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::source::fields::{Reader, type_name};
use crate::source::yaml::{Node, Value};
use crate::source::{self, Diagnostic, Diagnostics, Pos, Sources};

/// Where a variable's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    File(Pos),
    Environment,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Var {
    pub value: String,
    pub origin: Origin,
    /// The key as written in the config file (`golden_image.remove_appx_packages`),
    /// for messages that name it.
    pub key: String,
}

#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Path shown to users, when a config file was read.
    pub file: Option<PathBuf>,
    pub vars: BTreeMap<String, Var>,
    /// Secret names in the order listed, with where they were listed.
    pub secrets: Vec<(String, Pos)>,
    /// Values of the secrets present in the environment.
    pub secret_values: BTreeMap<String, String>,
    /// Run values chosen for this run (a module's `run_values:`): the name and
    /// the word the config had (`auto`); `vars` holds the chosen value.
    pub chosen: BTreeMap<String, String>,
}

/// Names the engine or bash need for themselves; a config value may not replace them.
const RESERVED: &[&str] = &[
    "PATH",
    "HOME",
    "SHELL",
    "IFS",
    "PWD",
    "OLDPWD",
    "USER",
    "TERM",
    "LANG",
    "TMPDIR",
    "PS4",
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "CDPATH",
    "GLOBIGNORE",
    "HOSTNAME",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "AZURE_CONFIG_DIR",
];

impl Config {
    /// Reads `file` (absent is fine when `required` is false; it must resolve
    /// under `root`) and applies `env` overrides.
    pub fn load(
        root: &Path,
        file: &Path,
        shown: &Path,
        required: bool,
        env: &HashMap<String, String>,
        sources: &mut Sources,
        diags: &mut Diagnostics,
    ) -> Config {
        let mut config = Config::default();
        // `symlink_metadata`, not `exists`: a link out of the project is an error, not "absent".
        if file.symlink_metadata().is_err() {
            if required {
                diags.push(Diagnostic::error(
                    shown,
                    Pos::default(),
                    "config file does not exist",
                ));
            }
            return config;
        }
        config.file = Some(shown.to_path_buf());
        let loaded = source::file::read(root, file, shown)
            .and_then(|bytes| source::file::decode(&bytes, shown))
            .and_then(|text| {
                let node = source::file::parse(&text, shown);
                sources.insert(shown.to_path_buf(), text);
                node
            });
        let root = match loaded {
            Ok(root) => root,
            Err(d) => {
                diags.push(d);
                return config;
            }
        };
        let mut r = Reader::new(shown, diags);
        match &root.value {
            Value::Null => {}
            Value::Map(entries) => {
                for (key, node) in entries {
                    if key.name == "secrets" {
                        config.read_secrets(&mut r, node);
                    } else {
                        config.flatten(&mut r, &key.name, key.pos, node);
                    }
                }
            }
            other => r.error(
                root.pos,
                format!("config must be a mapping, found {}", type_name(other)),
            ),
        }
        config.apply_env(&mut r, env);
        config
    }

    fn flatten(&mut self, r: &mut Reader<'_>, path: &str, key_pos: Pos, node: &Node) {
        let value = match &node.value {
            Value::Map(entries) => {
                for (key, child) in entries {
                    self.flatten(r, &format!("{path}.{}", key.name), key.pos, child);
                }
                return;
            }
            Value::Seq(items) => {
                let mut parts = Vec::new();
                for item in items {
                    match scalar(&item.value) {
                        Some(s) => parts.push(s),
                        None => r.error(
                            item.pos,
                            format!(
                                "list `{path}` may only hold scalars, found {}",
                                type_name(&item.value)
                            ),
                        ),
                    }
                }
                parts.join(",")
            }
            v => scalar(v).unwrap_or_default(),
        };
        let name = path.replace(['-', '.'], "_").to_ascii_uppercase();
        if !is_var_name(&name) {
            r.error(
                key_pos,
                format!("`{path}` does not make a valid variable name (`{name}`)"),
            );
            return;
        }
        if RESERVED.contains(&name.as_str())
            || name.starts_with("GOLDSMITH_")
            || name.starts_with("BASH")
        {
            r.error_help(
                key_pos,
                format!("config value `{path}` would replace the environment variable `{name}`"),
                "rename the key; goldsmith and bash need that variable for themselves",
            );
            return;
        }
        if let Some(first) = self.vars.get(&name)
            && let Origin::File(p) = first.origin
        {
            r.error(
                key_pos,
                format!("`{name}` is already defined on line {}", p.line),
            );
            return;
        }
        self.vars.insert(
            name,
            Var {
                value,
                origin: Origin::File(node.pos),
                key: path.to_string(),
            },
        );
    }

    fn read_secrets(&mut self, r: &mut Reader<'_>, node: &Node) {
        for (name, pos) in r.string_list(node, "secrets") {
            if !is_var_name(&name) {
                r.error(
                    pos,
                    format!("secret name `{name}` is not a valid variable name"),
                );
                continue;
            }
            self.secrets.push((name, pos));
        }
    }

    fn apply_env(&mut self, r: &mut Reader<'_>, env: &HashMap<String, String>) {
        for (name, var) in &mut self.vars {
            if let Some(value) = env.get(name) {
                var.value = value.clone();
                var.origin = Origin::Environment;
            }
        }
        for (name, pos) in &self.secrets {
            if let Some(var) = self.vars.get(name)
                && let Origin::File(p) = var.origin
            {
                r.error_help(
                    p,
                    format!("`{name}` is listed in `secrets` (line {}) but has a value in the config file", pos.line),
                    "remove the value from the file and set it in the environment",
                );
            }
            if let Some(value) = env.get(name) {
                self.secret_values.insert(name.clone(), value.clone());
            }
        }
    }

    /// Replaces `name`'s value (`auto`) with the one chosen for this run,
    /// remembering the word it replaced. `false` when no such variable exists.
    pub fn choose(&mut self, name: &str, value: &str) -> bool {
        let Some(var) = self.vars.get_mut(name) else {
            return false;
        };
        let asked = std::mem::replace(&mut var.value, value.to_string());
        self.chosen.entry(name.to_string()).or_insert(asked);
        true
    }

    /// Secrets listed but not set in the environment.
    pub fn missing_secrets(&self) -> Vec<&(String, Pos)> {
        self.secrets
            .iter()
            .filter(|(name, _)| !self.secret_values.contains_key(name))
            .collect()
    }

    pub fn is_defined(&self, name: &str) -> bool {
        self.vars.contains_key(name) || self.secrets.iter().any(|(n, _)| n == name)
    }

    /// Every name a template may use, for "did you mean".
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars
            .keys()
            .map(String::as_str)
            .chain(self.secrets.iter().map(|(n, _)| n.as_str()))
    }

    /// The config values every script gets; secrets reach only the operations that use them.
    pub fn environment(&self) -> Vec<(String, String)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect()
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some(String::new()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Str(s) => Some(s.clone()),
        Value::Seq(_) | Value::Map(_) => None,
    }
}

pub fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str, env: &[(&str, &str)]) -> (Config, Diagnostics) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, yaml).expect("write");
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut diags = Diagnostics::default();
        let mut sources = Sources::default();
        let config = Config::load(
            dir.path(),
            &path,
            Path::new("config.yaml"),
            true,
            &env,
            &mut sources,
            &mut diags,
        );
        (config, diags)
    }

    #[test]
    fn nested_keys_become_upper_snake_and_env_overrides() {
        let (c, d) = load(
            "azure:\n  resource_group: rg-1\n  location: westeurope\ngolden_image:\n  temp_vm_name: vm\n  apps: [a, b, 3]\nsecrets: [ADMIN_PASSWORD]\n",
            &[
                ("AZURE_LOCATION", "northeurope"),
                ("ADMIN_PASSWORD", "s3cret"),
            ],
        );
        assert!(d.items.is_empty(), "{:?}", d.items);
        assert_eq!(c.vars["AZURE_RESOURCE_GROUP"].value, "rg-1");
        assert_eq!(c.vars["AZURE_LOCATION"].value, "northeurope");
        assert_eq!(c.vars["AZURE_LOCATION"].origin, Origin::Environment);
        assert_eq!(c.vars["GOLDEN_IMAGE_TEMP_VM_NAME"].value, "vm");
        assert_eq!(c.vars["GOLDEN_IMAGE_APPS"].value, "a,b,3");
        assert_eq!(c.secret_values["ADMIN_PASSWORD"], "s3cret");
        assert!(c.missing_secrets().is_empty());
    }

    #[test]
    fn missing_secret_and_reserved_names_are_reported() {
        let (c, d) = load("path: /x\nsecrets: [TOKEN]\n", &[]);
        assert_eq!(c.missing_secrets().len(), 1);
        assert_eq!(d.error_count(), 1);
        assert!(d.items[0].message.contains("`PATH`"));
    }
}
