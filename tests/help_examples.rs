//! Every example `goldsmith --help` shows runs, as shown, on a copy of this
//! repository's modules and config: a new user's first commands.

mod common;

use std::path::Path;

use common::{Project, copy_dir};

/// The example command lines of `--help`: lines starting `goldsmith `, up to
/// the two spaces before their comment, joined with the lines a trailing `\`
/// continues them on.
fn examples(help: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut lines = help.lines().map(str::trim_start);
    while let Some(line) = lines.next() {
        let Some(mut command) = line.strip_prefix("goldsmith ").map(str::to_string) else {
            continue;
        };
        while let Some(head) = command.trim_end().strip_suffix('\\') {
            command = format!("{head} {}", lines.next().unwrap_or_default());
        }
        let command = command.split("  ").next().unwrap_or_default().to_string();
        commands.push(command.split_whitespace().map(str::to_string).collect());
    }
    commands
}

#[test]
fn every_help_example_runs() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = Project::new();
    for dir in ["capabilities", "modules"] {
        copy_dir(&repo.join(dir), &p.root().join(dir));
    }
    std::fs::copy(repo.join("config.yaml"), p.root().join("config.yaml")).expect("config");

    let help = p.run(&["--help"]);
    assert_eq!(help.code, 0);
    let examples = examples(&help.stdout);
    assert!(examples.len() >= 8, "{examples:?}");
    let mut ran = 0;
    for mut args in examples {
        // The real Azure CLI needs its own install: CI runs that example through
        // tools/standin/differential.py (phase `library`).
        if args.iter().any(|a| a.contains("$(")) {
            continue;
        }
        // The simulated clock, faster than the default, keeps the test short.
        if args.iter().any(|a| a == "--simulate") {
            args.extend(["--sim-speed".into(), "2000".into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = p.run(&args);
        assert_eq!(
            r.code,
            0,
            "goldsmith {}:\n{}{}",
            args.join(" "),
            r.stdout,
            r.stderr
        );
        ran += 1;
    }
    assert!(ran >= 8, "ran {ran} examples");
}
