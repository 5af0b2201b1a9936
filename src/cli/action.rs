//! `goldsmith action`: the container action's entry point. Reads the
//! action's inputs (`INPUT_<NAME>`) and turns them into the same command line
//! a person would type, so flags and inputs share one parser and one
//! options type.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;

use super::CliError;
use crate::github::actions::Inputs;

/// The command line the inputs stand for: `goldsmith [globals] <command> <module> [flags]`.
pub fn argv_from_inputs(env: &HashMap<String, String>) -> Result<Vec<OsString>, CliError> {
    let inputs = Inputs::new(env);
    let workspace = env
        .get("GITHUB_WORKSPACE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let root = match inputs.get("working-directory") {
        Some(dir) => workspace.join(dir),
        None => workspace,
    };
    let command = inputs.get("command").unwrap_or("run");
    let mut argv: Vec<OsString> = vec!["goldsmith".into(), "--root".into(), root.into_os_string()];
    if let Some(config) = inputs.get("config") {
        argv.extend(["--config".into(), config.into()]);
    }
    argv.push(command.into());
    let module = inputs.get("module");
    match command {
        "run" | "plan" => {
            let module = module.ok_or_else(|| {
                CliError::Invalid(
                    "input `module` is required (the module to run, by id or folder name)".into(),
                )
            })?;
            argv.push(module.into());
        }
        "validate" | "resume" | "status" => argv.extend(module.map(OsString::from)),
        other => {
            return Err(CliError::Invalid(format!(
                "input `command` must be one of run, validate, plan, resume, status; found `{other}`"
            )));
        }
    }
    let flag = |argv: &mut Vec<OsString>, input: &str, flag: &str| {
        if let Some(v) = inputs.get(input) {
            argv.extend([flag.into(), v.into()]);
        }
    };
    match command {
        "run" | "resume" => {
            flag(&mut argv, "operations", "--only");
            flag(&mut argv, "from", "--from");
            flag(&mut argv, "max-parallel", "--max-parallel");
            flag(&mut argv, "fail-fast", "--fail-fast");
            flag(&mut argv, "junit-path", "--junit-path");
            if inputs.boolean("with-dependencies", false)? {
                argv.push("--with-dependencies".into());
            }
            if inputs.boolean("simulate", false)? {
                argv.push("--simulate".into());
                flag(&mut argv, "sim-speed", "--sim-speed");
                flag(&mut argv, "sim-scenario", "--sim-scenario");
            }
        }
        "plan" => {
            flag(&mut argv, "max-parallel", "--max-parallel");
            if inputs.boolean("with-dependencies", false)? {
                argv.push("--with-dependencies".into());
            }
        }
        "validate" if inputs.boolean("strict", false)? => argv.push("--strict".into()),
        _ => {}
    }
    Ok(argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn input_names_keep_dashes() {
        use crate::github::actions::input_var;
        assert_eq!(input_var("max-parallel"), "INPUT_MAX-PARALLEL");
        assert_eq!(input_var("my input"), "INPUT_MY_INPUT");
    }

    #[test]
    fn inputs_become_the_command_line() {
        let e = env(&[
            ("GITHUB_WORKSPACE", "/github/workspace"),
            ("INPUT_MODULE", " 05-golden-image "),
            ("INPUT_MAX-PARALLEL", "4"),
            ("INPUT_FAIL-FAST", "cancel"),
            ("INPUT_OPERATIONS", "a,b"),
            ("INPUT_SIMULATE", "true"),
            ("INPUT_WORKING-DIRECTORY", "infra"),
            ("INPUT_SUMMARY", "true"),
        ]);
        let argv: Vec<String> = argv_from_inputs(&e)
            .expect("valid")
            .into_iter()
            .map(|a| a.into_string().expect("utf8"))
            .collect();
        assert_eq!(
            argv,
            [
                "goldsmith",
                "--root",
                "/github/workspace/infra",
                "run",
                "05-golden-image",
                "--only",
                "a,b",
                "--max-parallel",
                "4",
                "--fail-fast",
                "cancel",
                "--simulate"
            ]
        );
    }

    #[test]
    fn bad_inputs_are_explained() {
        let e = env(&[("INPUT_MODULE", "m"), ("INPUT_SIMULATE", "yes")]);
        assert!(argv_from_inputs(&e).is_err());
        assert!(argv_from_inputs(&env(&[])).is_err());
        assert!(
            argv_from_inputs(&env(&[("INPUT_COMMAND", "deploy"), ("INPUT_MODULE", "m")])).is_err()
        );
    }
}
