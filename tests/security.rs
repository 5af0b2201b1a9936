//! What the README's security model promises, tried the way an attacker or an
//! unlucky operator would: secrets of every shape, credentials in goldsmith's
//! environment, operations that tamper with the run directory, a full disk, a
//! read-only artifacts folder, few file descriptors and hostile output.

mod common;

use std::path::Path;

use common::{Project, all_files, op_status};
use rand::{RngExt, SeedableRng};

/// Every file goldsmith wrote for a run parses as what it claims to be.
#[track_caller]
fn assert_every_file_parses(run_dir: &Path, secret: &str) {
    for f in all_files(run_dir) {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let what = format!("{} (secret {secret:?})", f.display());
        if name.ends_with(".json") {
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("{what}: {e}\n{text}"));
        } else if name.ends_with(".jsonl") {
            for line in text.lines() {
                serde_json::from_str::<serde_json::Value>(line)
                    .unwrap_or_else(|e| panic!("{what}: {e}\n{line}"));
            }
        } else if name.ends_with(".xml") {
            let mut reader = quick_xml::Reader::from_str(&text);
            loop {
                match reader.read_event() {
                    Ok(quick_xml::events::Event::Eof) => break,
                    Ok(_) => {}
                    Err(e) => panic!("{what}: {e}\n{text}"),
                }
            }
        }
    }
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run_dir.join("state.json")).expect("state.json"),
    )
    .expect("state json");
    assert_eq!(state["version"], 1, "{state}");
}

/// Secrets of 1–3 characters from JSON punctuation, digits and letters, and
/// words that occur in every state file.
fn secrets(seed: u64, random: usize) -> Vec<String> {
    let mut list: Vec<String> = [
        "1",
        "id",
        "2026",
        "tru",
        "\"",
        "succeeded",
        "true",
        "version",
        "{",
        "}",
        ":",
        ",",
        "\\",
        "\n",
        "a\nb",
        "ok",
        "ops",
        "-",
        "***",
        "<",
        "&",
        "|",
    ]
    .map(String::from)
    .to_vec();
    let alphabet: Vec<char> = "{}[]\":,\\0123456789aeiostrun \n<>&'|".chars().collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for _ in 0..random {
        let len = rng.random_range(1..=3);
        list.push(
            (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect(),
        );
    }
    list
}

#[test]
fn any_secret_leaves_every_file_parseable_and_status_and_resume_working() {
    for secret in secrets(0x9015_0009, 12) {
        let p = Project::new();
        p.file("config.yaml", "secrets: [S]\n");
        p.shell_op("shows", "", "echo \"the secret is {{S}}\"; echo done");
        p.shell_op(
            "flaky",
            "",
            "echo \"try with {{S}}\"\n[ -f \"$GOLDSMITH_RUN_DIR/../../fixed\" ] || { echo \"broken: {{S}}\" >&2; exit 3; }",
        );
        p.module("m", "    - shows\n    - flaky\n");
        let env = [("S", secret.as_str())];
        let first = p.run_env(&["run", "m"], &env);
        assert_eq!(
            first.code, 1,
            "{secret:?}: {}{}",
            first.stdout, first.stderr
        );
        let first_dir = p.latest_run_dir();
        assert_every_file_parses(&first_dir, &secret);

        let status = p.run(&["status", "m"]);
        assert_eq!(
            status.code, 0,
            "{secret:?}: {}{}",
            status.stdout, status.stderr
        );
        let first_id = first_dir.file_name().and_then(|n| n.to_str()).expect("id");
        assert!(
            status.stdout.contains(first_id),
            "{secret:?}: {}",
            status.stdout
        );

        std::fs::write(p.root().join("artifacts/fixed"), "").expect("fix");
        let resumed = p.run_env(&["resume", "m"], &env);
        assert_eq!(
            resumed.code, 0,
            "{secret:?}: {}{}",
            resumed.stdout, resumed.stderr
        );
        assert_every_file_parses(&p.latest_run_dir(), &secret);
        let state = p.state();
        assert_eq!(state["resumed_from"], first_id, "{secret:?}: {state}");
        assert_eq!(op_status(&state, "shows"), "succeeded");
        assert_eq!(op_status(&state, "flaky"), "succeeded");
        let attempts = state["ops"][0]["attempts"].as_u64();
        assert_eq!(attempts, Some(0), "carried over, not run again: {state}");
    }
}

#[test]
fn a_short_secret_is_masked_with_one_warning() {
    let p = Project::new();
    p.file("config.yaml", "secrets: [PIN]\n");
    p.shell_op("pin", "", "echo \"pin={{PIN}}\"");
    p.module("m", "    - pin\n");
    let r = p.run_env(&["run", "m"], &[("PIN", "4x")]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout
            .matches("secret `PIN` is shorter than 4 characters")
            .count(),
        1,
        "{}",
        r.stdout
    );
    let log = std::fs::read_to_string(p.latest_run_dir().join("logs/pin.log")).expect("log");
    assert!(log.contains("pin=***"), "{log}");
    assert!(!log.contains("4x"), "{log}");
}

/// Credentials goldsmith may find in its own environment in GitHub Actions.
const CREDENTIALS: &[(&str, &str)] = &[
    ("INPUT_GITHUB-TOKEN", "ghs_inputTokenValue0001"),
    ("GITHUB_TOKEN", "ghs_envTokenValue0002"),
    ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "oidcRequestToken0003"),
    ("ACTIONS_RUNTIME_TOKEN", "runtimeToken0004"),
    ("INPUT_CLIENT-SECRET", "clientSecretValue0005"),
    ("AZURE_CLIENT_SECRET", "azureClientSecret0006"),
];

#[test]
fn operations_get_a_defined_environment_without_credentials() {
    let p = Project::new();
    p.file(
        "config.yaml",
        "secrets: [USED, UNUSED]\nregion: westeurope\n",
    );
    p.shell_op(
        "dump",
        "",
        "echo \"uses {{USED}} in {{REGION}}\"\nenv | sort\ncat /proc/$$/environ | tr '\\0' '\\n' | sed 's/^/raw:/'",
    );
    p.module("m", "    - dump\n");
    let mut env: Vec<(&str, &str)> = CREDENTIALS.to_vec();
    env.extend([
        ("USED", "used-secret-value"),
        ("UNUSED", "unused-secret-value"),
        ("SOME_HOST_VARIABLE", "host-only"),
        ("GITHUB_SHA", "0123456789abcdef"),
    ]);
    let r = p.run_env(&["run", "m"], &env);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let log = std::fs::read_to_string(p.latest_run_dir().join("logs/dump.log")).expect("log");
    for name in [
        "INPUT_GITHUB-TOKEN",
        "GITHUB_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "ACTIONS_RUNTIME_TOKEN",
        "INPUT_CLIENT-SECRET",
        "AZURE_CLIENT_SECRET",
        "SOME_HOST_VARIABLE",
        "UNUSED",
    ] {
        assert!(
            !log.contains(&format!("\n{name}=")),
            "{name} reached the op:\n{log}"
        );
    }
    assert!(log.contains("\nGITHUB_SHA=0123456789abcdef"), "{log}");
    assert!(log.contains("\nREGION=westeurope"), "{log}");
    assert!(
        log.contains("\nUSED=***"),
        "the used secret arrives, masked in the log: {log}"
    );
    assert!(log.contains("\nGOLDSMITH_OP=dump"), "{log}");
    for f in all_files(&p.latest_run_dir()) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).expect("read")).into_owned();
        for (name, value) in CREDENTIALS {
            assert!(!text.contains(value), "{name} in {}", f.display());
        }
    }
    for (name, value) in CREDENTIALS {
        assert!(
            !r.stdout.contains(value) && !r.stderr.contains(value),
            "{name}"
        );
    }
}

#[test]
fn an_operation_cannot_change_the_script_a_later_one_runs() {
    let p = Project::new();
    p.shell_op(
        "tamper",
        "",
        "for f in \"$GOLDSMITH_RUN_DIR\"/scripts/victim.*; do echo 'echo TAMPERED; touch \"$GOLDSMITH_RUN_DIR/../../pwned\"' > \"$f\"; done",
    );
    p.shell_op("victim", "", "echo planned-script-ran");
    p.module("m", "    - tamper\n    - victim\n");
    let r = p.run(&["run", "m"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let dir = p.latest_run_dir();
    let shown = std::fs::read_to_string(dir.join("scripts/victim.sh")).expect("script");
    assert!(
        shown.contains("TAMPERED"),
        "the tamper op did write: {shown}"
    );
    let log = std::fs::read_to_string(dir.join("logs/victim.log")).expect("log");
    assert!(log.contains("planned-script-ran"), "{log}");
    assert!(!log.contains("TAMPERED"), "{log}");
    assert!(!p.root().join("artifacts/pwned").exists());
}

#[test]
fn symlinks_planted_in_the_run_directory_are_not_written_through() {
    let p = Project::new();
    let outside = p.root().join("outside");
    std::fs::create_dir_all(&outside).expect("mkdir");
    for name in ["log-target", "state-target", "summary-target"] {
        std::fs::write(outside.join(name), "original\n").expect("write");
    }
    p.shell_op(
        "plant",
        "",
        &format!(
            "cd \"$GOLDSMITH_RUN_DIR\"\nln -sfn {o}/log-target logs/later.log\nfor t in .state.json.*tmp .state.json.tmp; do ln -sfn {o}/state-target \"$t\"; done\nln -sfn {o}/summary-target summary.md",
            o = outside.display()
        ),
    );
    p.shell_op("later", "", "echo later wrote this");
    p.module("m", "    - plant\n    - later\n");
    let r = p.run(&["run", "m"]);
    for name in ["log-target", "state-target", "summary-target"] {
        assert_eq!(
            std::fs::read_to_string(outside.join(name)).expect("read"),
            "original\n",
            "{name} was written through: {}{}",
            r.stdout,
            r.stderr
        );
    }
    let state = p.state();
    assert_eq!(op_status(&state, "plant"), "succeeded", "{state}");
    // The log of `later` could not be opened: it fails as `log-write` instead of running unseen.
    assert_eq!(op_status(&state, "later"), "failed", "{state}");
    let later = state["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .find(|o| o["id"] == "later")
        .expect("later");
    assert_eq!(later["failure_class"], "log-write", "{state}");
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
}

#[test]
fn output_that_cannot_be_logged_fails_the_operation() {
    // A file-size limit makes every write past 256 KiB fail as a full disk would
    // (SIGXFSZ ignored, so write() returns EFBIG); state.json stays far below it.
    let p = Project::new();
    p.shell_op(
        "chatty",
        "",
        "head -c 2000000 /dev/zero | tr '\\0' 'x'; echo; echo end",
    );
    p.shell_op("quiet", "", "echo fine");
    // One stage: `quiet` does not wait for `chatty`, so it runs after chatty's failure.
    p.module(
        "m",
        "    - { id: chatty, parallel_group: 1 }\n    - { id: quiet, parallel_group: 1 }\n",
    );
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg("trap '' XFSZ; ulimit -f 512; exec \"$@\"")
        .arg("bash")
        .arg(env!("CARGO_BIN_EXE_goldsmith"))
        .arg("--root")
        .arg(p.root())
        .args(["run", "m", "--fail-fast", "continue"])
        .env_remove("GITHUB_ACTIONS");
    let r = common::to_run(cmd.output().expect("runs"));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let state = p.state();
    assert_eq!(state["status"], "failed", "{state}");
    let chatty = &state["ops"][0];
    assert_eq!(chatty["status"], "failed", "{state}");
    assert_eq!(chatty["failure_class"], "log-write", "{state}");
    assert!(
        chatty["reason"]
            .as_str()
            .is_some_and(|r| r.contains("logs/chatty.log") && r.contains("script itself succeeded")),
        "{state}"
    );
    assert_eq!(op_status(&state, "quiet"), "succeeded", "{state}");
}

#[test]
fn a_read_only_artifacts_folder_exits_2_before_anything_runs() {
    if unsafe { libc::geteuid() } == 0 {
        // root ignores file modes: make the folder unusable another way.
        let p = Project::new();
        p.shell_op("a", "", &format!("touch {}/ran", p.root().display()));
        p.module("m", "    - a\n");
        std::fs::write(p.root().join("artifacts"), "a file where the folder goes").expect("write");
        let r = p.run(&["run", "m"]);
        assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("artifacts/runs"), "{}", r.stderr);
        assert!(r.stderr.contains("nothing ran"), "{}", r.stderr);
        assert!(!p.root().join("ran").exists());
        return;
    }
    let p = Project::new();
    p.shell_op("a", "", "true");
    p.module("m", "    - a\n");
    std::fs::create_dir_all(p.root().join("artifacts")).expect("mkdir");
    let mut perms = std::fs::metadata(p.root().join("artifacts"))
        .expect("meta")
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
    std::fs::set_permissions(p.root().join("artifacts"), perms).expect("chmod");
    let r = p.run(&["run", "m"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("nothing ran"), "{}", r.stderr);
}

#[test]
fn few_file_descriptors_mean_fewer_operations_at_once_not_spawn_failures() {
    let p = Project::new();
    let mut entries = String::new();
    for i in 0..40 {
        p.shell_op(&format!("op{i}"), "", "sleep 0.05; echo ok");
        entries.push_str(&format!("    - id: op{i}\n      parallel_group: 1\n"));
    }
    p.module("m", &entries);
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg("ulimit -n 64; exec \"$@\"")
        .arg("bash")
        .arg(env!("CARGO_BIN_EXE_goldsmith"))
        .arg("--root")
        .arg(p.root())
        .args(["run", "m", "--max-parallel", "40"])
        .env_remove("GITHUB_ACTIONS");
    let r = common::to_run(cmd.output().expect("runs"));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("may open only 64 files"), "{}", r.stdout);
    let state = p.state();
    for i in 0..40 {
        assert_eq!(op_status(&state, &format!("op{i}")), "succeeded", "{state}");
    }
}

#[test]
fn control_characters_from_a_script_do_not_reach_the_terminal() {
    let p = Project::new();
    p.shell_op(
        "noisy",
        "",
        "printf 'before\\033[2J\\033]0;title\\007after\\000nul\\n'; exit 1",
    );
    p.module("m", "    - noisy\n");
    let out = p.command(&["run", "m"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    for forbidden in [0x1b_u8, 0x00, 0x07] {
        assert!(
            !out.stdout.contains(&forbidden),
            "byte {forbidden:#04x} on the console: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("before\\x1b[2J"), "{stdout}");
}
