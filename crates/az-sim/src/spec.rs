//! The argument spec of every `az` command the simulator answers, as the real
//! Azure CLI 2.91.0 defines it: `az_spec.json`, written by
//! `tools/az-spec/gen.py` from azure-cli's own command table (and, for the
//! desktopvirtualization extension, from the extension's source). This module
//! only loads it; `argparse` checks a call against it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::value::RawValue;

/// The checked-in spec; `.ci/run` regenerates it and fails when it differs.
const SPEC_JSON: &str = include_str!("az_spec.json");

/// How many values an option or positional takes, as argparse's `nargs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nargs {
    /// Exactly this many (0: a switch; 1: argparse's default).
    Exactly(usize),
    /// `?`: zero or one.
    Optional,
    /// `*`: any number.
    Any,
    /// `+`: at least one.
    AtLeastOne,
}

impl<'de> Deserialize<'de> for Nargs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Count(usize),
            Symbol(String),
        }
        match Raw::deserialize(d)? {
            Raw::Count(n) => Ok(Nargs::Exactly(n)),
            Raw::Symbol(s) => match s.as_str() {
                "?" => Ok(Nargs::Optional),
                "*" => Ok(Nargs::Any),
                "+" => Ok(Nargs::AtLeastOne),
                other => Err(serde::de::Error::custom(format!("unknown nargs {other:?}"))),
            },
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct OptionSpec {
    pub dest: String,
    /// argparse's option strings, in the order az registers them.
    pub names: Vec<String>,
    pub nargs: Nargs,
    pub required: bool,
    pub choices: Option<Vec<String>>,
    #[serde(default)]
    pub choices_ignore_case: bool,
}

impl OptionSpec {
    /// How argparse names the option in messages: `--name/-n`.
    pub fn shown(&self) -> String {
        self.names.join("/")
    }
}

#[derive(Debug, Deserialize)]
pub struct PositionalSpec {
    /// argparse's name for it in messages (`<KEY_VALUE>`).
    pub name: String,
    pub nargs: Nargs,
}

/// One field an aaz command checks after parsing, in schema order.
#[derive(Debug, Deserialize)]
pub struct AazField {
    pub dest: String,
    pub shown: String,
    pub required: bool,
    /// Missing, it is looked up over the network (a location from the
    /// resource group): az stops checking there when it is not logged in.
    pub network_default: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SpecExample {
    pub command: String,
    pub description: String,
}

#[derive(Debug, Deserialize)]
pub struct CommandSpec {
    pub options: Vec<OptionSpec>,
    #[serde(default)]
    pub positionals: Vec<PositionalSpec>,
    /// Without `--ids`, these (`options_list[0]` of each) are required:
    /// `(--name | --ids) are required`.
    pub ids_required: Option<Vec<String>>,
    /// aaz commands: `Missing required field: <first missing>`.
    pub aaz_fields: Option<Vec<AazField>>,
    /// The recommender's option → standard option table (`-g` → `--resource-group`).
    #[serde(default)]
    pub recommender_names: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub examples: Vec<SpecExample>,
}

impl CommandSpec {
    /// The index of the option that stores into `dest`.
    pub fn option_by_dest(&self, dest: &str) -> Option<usize> {
        self.options.iter().position(|o| o.dest == dest)
    }
}

/// The commands of the spec, each still unparsed: one `az` process needs one
/// of them, and parsing all of them would cost every call ~20 ms.
#[derive(Deserialize)]
struct Index<'a> {
    #[serde(borrow)]
    commands: BTreeMap<&'a str, &'a RawValue>,
}

/// The spec of `az <path>`, parsed on first use. The file is part of the
/// binary, so a spec that does not parse is a build defect, caught by the
/// unit tests (which parse every command).
pub fn command(path: &str) -> Option<&'static CommandSpec> {
    static INDEX: OnceLock<BTreeMap<&'static str, &'static RawValue>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        serde_json::from_str::<Index<'static>>(SPEC_JSON)
            .expect("az_spec.json is checked by the unit tests")
            .commands
    });
    let spec: CommandSpec = serde_json::from_str(index.get(path)?.get())
        .expect("az_spec.json is checked by the unit tests");
    // An `az` process answers one command: keeping its spec for the rest of
    // the process lets the parser hand out `&'static str`s.
    Some(Box::leak(Box::new(spec)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_parses_and_is_for_2_91_0() {
        let raw: serde_json::Value = serde_json::from_str(SPEC_JSON).unwrap();
        assert_eq!(raw["azure_cli"], "2.91.0");
        let create = command("group create").unwrap();
        let name = &create.options[create.option_by_dest("rg_name").unwrap()];
        assert_eq!(name.shown(), "--name/--resource-group/-n/-g");
        assert!(name.required);
    }

    #[test]
    fn every_simulated_command_has_a_spec() {
        let missing: Vec<&str> = super::super::commands::COMMANDS
            .iter()
            .map(|c| c.path)
            .filter(|p| command(p).is_none())
            .collect();
        assert!(missing.is_empty(), "no spec for {missing:?}");
    }

    #[test]
    fn every_command_parses_and_its_aaz_fields_are_options() {
        #[derive(Deserialize)]
        struct Spec {
            commands: BTreeMap<String, CommandSpec>,
        }
        let spec: Spec = serde_json::from_str(SPEC_JSON).unwrap();
        for (path, c) in &spec.commands {
            for f in c.aaz_fields.iter().flatten() {
                assert!(
                    c.option_by_dest(&f.dest).is_some(),
                    "{path}: aaz field {} is no option",
                    f.dest
                );
            }
        }
    }
}
