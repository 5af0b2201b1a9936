//! Running modules with real child processes: parallelism, ordering, locks,
//! timeouts, signals, resume, retries, injection safety and secrets.

mod common;

use std::time::{Duration, Instant};

use common::{Project, all_files, events_of, op_status, time_of};

fn started(events: &[serde_json::Value], op: &str) -> jiff::Timestamp {
    time_of(events_of(events, "op_started", op)[0])
}

fn finished(events: &[serde_json::Value], op: &str) -> jiff::Timestamp {
    time_of(events_of(events, "op_finished", op)[0])
}

/// Whether `pid` is a live process (not gone, not a zombie waiting for its parent).
/// A SIGKILL takes effect asynchronously, so allow it a moment to land.
fn pid_alive(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The state letter follows the parenthesised command name.
        let state = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next());
        let alive = matches!(state, Some(s) if s != 'Z' && s != 'X');
        if !alive || Instant::now() > deadline {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn one_stage_runs_in_parallel() {
    let p = Project::new();
    for id in ["a", "b", "c"] {
        p.shell_op(id, "", "sleep 1");
    }
    p.module("m", "    - { id: a, parallel_group: 1 }\n    - { id: b, parallel_group: 1 }\n    - { id: c, parallel_group: 1 }\n");
    let t = Instant::now();
    let r = p.run(&["run", "m"]);
    let took = t.elapsed();
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        took < Duration::from_millis(2500),
        "three 1 s ops took {took:?}"
    );
}

#[test]
fn no_op_of_a_stage_starts_before_the_previous_stage_ends() {
    let p = Project::new();
    for (id, secs) in [
        ("a1", "0.3"),
        ("a2", "0.6"),
        ("b1", "0.1"),
        ("b2", "0.1"),
        ("c", "0"),
    ] {
        p.shell_op(id, "", &format!("sleep {secs}"));
    }
    p.module(
        "m",
        "    - { id: a1, parallel_group: 1 }\n    - { id: a2, parallel_group: 1 }\n    - { id: b1, parallel_group: 2 }\n    - { id: b2, parallel_group: 2 }\n    - c\n",
    );
    let r = p.run(&["run", "m"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let ev = p.events();
    let stage1_end = finished(&ev, "a1").max(finished(&ev, "a2"));
    for op in ["b1", "b2"] {
        assert!(
            started(&ev, op) >= stage1_end,
            "{op} started before stage 1 ended"
        );
    }
    assert!(started(&ev, "c") >= finished(&ev, "b1").max(finished(&ev, "b2")));
    let types: Vec<&str> = ev.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types.iter().filter(|t| **t == "stage_started").count(), 3);
    assert_eq!(types.last(), Some(&"run_finished"));
}

#[test]
fn depends_on_starts_an_op_before_unrelated_siblings_finish() {
    let p = Project::new();
    p.shell_op("fast", "", "true")
        .shell_op("slow", "", "sleep 1.5")
        .shell_op("after-fast", "", "true")
        .shell_op("after-stage", "", "true");
    p.module(
        "m",
        "    - { id: fast, parallel_group: 1 }\n    - { id: slow, parallel_group: 1 }\n    - { id: after-fast, parallel_group: 2, depends_on: [fast] }\n    - { id: after-stage, parallel_group: 2 }\n",
    );
    let r = p.run(&["run", "m"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let ev = p.events();
    assert!(
        finished(&ev, "after-fast") < finished(&ev, "slow"),
        "after-fast waited for slow"
    );
    assert!(started(&ev, "after-stage") >= finished(&ev, "slow"));
}

#[test]
fn a_lock_keeps_two_ops_of_one_stage_apart_in_list_order() {
    let p = Project::new();
    p.shell_op("first", "locks: [vm-1]", "sleep 0.5")
        .shell_op("second", "", "sleep 0.5")
        .shell_op("free", "", "sleep 0.5");
    p.module(
        "m",
        "    - { id: first, parallel_group: 1 }\n    - { id: second, parallel_group: 1, locks: [vm-1] }\n    - { id: free, parallel_group: 1 }\n",
    );
    let r = p.run(&["run", "m"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let ev = p.events();
    assert!(
        started(&ev, "second") >= finished(&ev, "first"),
        "lock holders overlapped"
    );
    assert!(
        started(&ev, "free") < finished(&ev, "first"),
        "the op without the lock waited"
    );
    let wait = events_of(&ev, "op_started", "second")[0]["lock_wait"]
        .as_f64()
        .expect("lock_wait");
    assert!(wait >= 0.3, "lock wait recorded as {wait}");
}

#[test]
fn a_timeout_kills_the_whole_process_tree() {
    let p = Project::new();
    let pidfile = p.root().join("bg.pid");
    p.shell_op(
        "hang",
        "timeout: 1s",
        &format!("sleep 300 &\necho $! > {}\nsleep 300", pidfile.display()),
    );
    p.module("m", "    - hang\n");
    let t = Instant::now();
    let r = p.run(&["run", "m", "--kill-grace", "1s"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(t.elapsed() < Duration::from_secs(10));
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .expect("pid")
        .trim()
        .parse()
        .expect("pid number");
    assert!(
        !pid_alive(pid),
        "background sleep {pid} survived the timeout"
    );
    let state = p.state();
    assert_eq!(op_status(&state, "hang"), "failed");
    assert_eq!(state["ops"][0]["failure_class"], "timeout");
}

#[test]
fn a_child_that_ignores_sigterm_is_killed_after_the_grace() {
    let p = Project::new();
    p.shell_op(
        "stubborn",
        "timeout: 1s",
        "trap '' TERM\nsleep 300 & wait $!\nsleep 300",
    );
    p.module("m", "    - stubborn\n");
    let t = Instant::now();
    let r = p.run(&["run", "m", "--kill-grace", "1s"]);
    assert_eq!(r.code, 1);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "took {took:?}"
    );
    let log = std::fs::read_to_string(p.latest_run_dir().join("logs/stubborn.log")).expect("log");
    assert!(log.contains("grace period over: sending SIGKILL"), "{log}");
}

#[test]
fn a_background_child_holding_output_is_reported_and_killed() {
    let p = Project::new();
    let pidfile = p.root().join("leak.pid");
    p.shell_op(
        "leaky",
        "",
        &format!("sleep 300 &\necho $! > {}\necho done", pidfile.display()),
    );
    p.module("m", "    - leaky\n");
    let r = p.run(&["run", "m"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .expect("pid")
        .trim()
        .parse()
        .expect("pid number");
    assert!(!pid_alive(pid), "leaked sleep survived");
    let ev = p.events();
    assert_eq!(
        events_of(&ev, "op_attempt_finished", "leaky")[0]["outcome"]["leaked"],
        true
    );
    assert!(
        r.stdout
            .contains("WARN   leaky: a background process outlived the script"),
        "{}",
        r.stdout
    );
}

#[test]
fn sigterm_cancels_the_run_and_leaves_no_child_alive() {
    let p = Project::new();
    let dir = p.root().join("pids");
    std::fs::create_dir(&dir).expect("mkdir");
    for id in ["x", "y"] {
        p.shell_op(
            id,
            "",
            &format!(
                "sleep 300 &\necho $! > {}/{id}.bg\necho $$ > {}/{id}.main\nwait",
                dir.display(),
                dir.display()
            ),
        );
    }
    p.shell_op("later", "", "true");
    p.module(
        "m",
        "    - { id: x, parallel_group: 1 }\n    - { id: y, parallel_group: 1 }\n    - later\n",
    );
    let mut child = p
        .command(&["run", "m", "--kill-grace", "2s"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait until both scripts have written their pids: proof that they run.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(dir.join("x.bg").exists()
        && dir.join("y.bg").exists()
        && dir.join("x.main").exists()
        && dir.join("y.main").exists())
    {
        assert!(Instant::now() < deadline, "ops never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: sending SIGTERM to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    for f in ["x.bg", "y.bg", "x.main", "y.main"] {
        let pid: i32 = std::fs::read_to_string(dir.join(f))
            .expect("pid")
            .trim()
            .parse()
            .expect("pid");
        assert!(!pid_alive(pid), "{f} ({pid}) survived SIGTERM to goldsmith");
    }
    let state = p.state();
    assert_eq!(state["status"], "cancelled");
    for op in ["x", "y", "later"] {
        assert_eq!(op_status(&state, op), "cancelled", "{op}");
    }
    let ev = p.events();
    assert_eq!(ev.last().expect("events")["type"], "run_finished");
}

#[test]
fn resume_skips_succeeded_ops_and_reruns_changed_and_failed_ones() {
    let p = Project::new();
    let counter = p.root().join("count");
    let count = |name: &str| format!("echo {name} >> {}", counter.display());
    p.shell_op("one", "", &count("one"))
        .shell_op("two", "", &count("two"))
        .shell_op(
            "three",
            "",
            &format!("{}\ntest -f {}/fixed", count("three"), p.root().display()),
        );
    p.module("m", "    - one\n    - two\n    - three\n");
    assert_eq!(p.run(&["run", "m"]).code, 1);
    // Change `two`; fix what made `three` fail.
    p.shell_op("two", "", &format!("{}\necho changed", count("two")));
    std::fs::write(p.root().join("fixed"), "").expect("write");
    let r = p.run(&["resume", "m"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let ran = std::fs::read_to_string(&counter).expect("counter");
    assert_eq!(ran, "one\ntwo\nthree\ntwo\nthree\n");
    let state = p.state();
    assert!(state["resumed_from"].as_str().is_some());
    assert!(
        r.stdout.contains("KEEP   one (succeeded in run "),
        "{}",
        r.stdout
    );
    // Resuming a finished run runs nothing again.
    let r = p.run(&["resume"]);
    assert_eq!(r.code, 0);
    assert_eq!(std::fs::read_to_string(&counter).expect("counter"), ran);
    let status = p.run(&["status", "m"]);
    assert_eq!(status.code, 0);
    assert!(status.stdout.contains("OPERATION"), "{}", status.stdout);
}

#[test]
fn retries_happen_only_for_listed_classes() {
    let p = Project::new();
    p.shell_op(
        "flaky",
        "retry: { attempts: 4, delay: 10ms, max_delay: 20ms, on: [exit-code] }",
        "test \"$GOLDSMITH_ATTEMPT\" -ge 3",
    )
    .shell_op(
        "not-listed",
        "retry: { attempts: 4, delay: 10ms, max_delay: 20ms, on: [timeout] }",
        "exit 3",
    );
    p.module(
        "m",
        "    - { id: flaky, parallel_group: 1 }\n    - { id: not-listed, parallel_group: 1 }\n",
    );
    let r = p.run(&["run", "m"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let ev = p.events();
    assert_eq!(events_of(&ev, "op_attempt_finished", "flaky").len(), 3);
    assert_eq!(events_of(&ev, "op_attempt_finished", "not-listed").len(), 1);
    let state = p.state();
    assert_eq!(op_status(&state, "flaky"), "succeeded");
    assert_eq!(op_status(&state, "not-listed"), "failed");
    assert!(r.stdout.contains("PASS   flaky"), "{}", r.stdout);
    assert!(
        r.stdout.contains("(flaky: passed on attempt 3)"),
        "{}",
        r.stdout
    );
}

#[test]
fn hostile_config_values_cannot_inject_into_scripts() {
    let p = Project::new();
    let pwned = p.root().join("pwned");
    let hostile = [
        format!("'; touch {} #", pwned.display()),
        format!("\"; touch {}; echo \"", pwned.display()),
        format!("$(touch {})", pwned.display()),
        format!("`touch {}`", pwned.display()),
        format!("x\ntouch {}", pwned.display()),
        "{{OTHER}} * ?".to_string(),
    ];
    let mut config = String::from("values:\n");
    for (i, v) in hostile.iter().enumerate() {
        config.push_str(&format!(
            "  v{i}: {}\n",
            serde_json::to_string(v).expect("json")
        ));
    }
    config.push_str("other: nope\n");
    p.file("config.yaml", &config);
    let out = p.root().join("out");
    let mut script = String::new();
    for i in 0..hostile.len() {
        script.push_str(&format!(
            "printf '%s\\0' {{{{VALUES_V{i}}}}} >> {}\n",
            out.display()
        ));
        script.push_str(&format!(
            "printf '%s\\0' \"in quotes {{{{VALUES_V{i}}}}}\" >> {}\n",
            out.display()
        ));
        script.push_str(&format!(
            "printf '%s\\0' 'single {{{{VALUES_V{i}}}}}' >> {}\n",
            out.display()
        ));
        script.push_str(&format!(
            "cat >> {} <<EOF\nheredoc {{{{VALUES_V{i}}}}}\nEOF\n",
            out.display()
        ));
        script.push_str(&format!("printf '\\0' >> {}\n", out.display()));
    }
    p.shell_op("echo", "", &script);
    p.module("m", "    - echo\n");
    let r = p.run(&["run", "m"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!pwned.exists(), "a config value ran a command");
    let text = std::fs::read_to_string(&out).expect("out");
    let got: Vec<&str> = text.split('\0').collect();
    for (i, v) in hostile.iter().enumerate() {
        assert_eq!(got[i * 4], v, "unquoted");
        assert_eq!(got[i * 4 + 1], format!("in quotes {v}"), "double-quoted");
        assert_eq!(got[i * 4 + 2], format!("single {v}"), "single-quoted");
        assert_eq!(got[i * 4 + 3], format!("heredoc {v}\n"), "heredoc");
    }
}

#[test]
fn no_secret_value_appears_in_any_file_of_the_run() {
    let p = Project::new();
    let secret = "Sup3r-S3cret-p@ss'\"$x";
    p.file("config.yaml", "secrets: [ADMIN_PASSWORD]\n");
    p.shell_op(
        "leaky",
        "idempotency:\n  check: echo \"check sees {{ADMIN_PASSWORD}}\"; exit 1",
        "echo \"password is {{ADMIN_PASSWORD}}\"\necho \"$ADMIN_PASSWORD\" >&2\nprintf '%s' \"$ADMIN_PASSWORD\" | head -c 5; echo\nexit 4",
    );
    p.module("m", "    - leaky\n");
    let r = p.run_env(&["run", "m"], &[("ADMIN_PASSWORD", secret)]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret));
    let files = all_files(&p.latest_run_dir());
    assert!(files.len() >= 5, "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(secret), "secret in {}", f.display());
        assert!(
            !text.contains("Sup3r-S3cret"),
            "part of the secret in {}",
            f.display()
        );
    }
    let log = std::fs::read_to_string(p.latest_run_dir().join("logs/leaky.log")).expect("log");
    assert!(log.contains("password is ***"), "{log}");
}

#[test]
fn fail_fast_modes() {
    let p = Project::new();
    p.shell_op("bad", "", "exit 2")
        .shell_op("sibling", "", "sleep 0.5")
        .shell_op("later", "", "true")
        .shell_op("independent", "", "true")
        .shell_op("dependent", "", "true");
    p.module(
        "m",
        "    - { id: bad, parallel_group: 1 }\n    - { id: sibling, parallel_group: 1 }\n    - later\n    - { id: independent, parallel_group: 3, depends_on: [sibling] }\n    - { id: dependent, parallel_group: 3, depends_on: [bad] }\n",
    );

    assert_eq!(p.run(&["run", "m"]).code, 1);
    let s = p.state();
    assert_eq!(op_status(&s, "sibling"), "succeeded");
    for op in ["later", "independent", "dependent"] {
        assert_eq!(op_status(&s, op), "skipped", "finish-stage: {op}");
    }

    assert_eq!(
        p.run(&["run", "m", "--fail-fast", "cancel", "--kill-grace", "1s"])
            .code,
        1
    );
    let s = p.state();
    assert_eq!(op_status(&s, "sibling"), "cancelled");
    assert_eq!(op_status(&s, "later"), "skipped");

    // `later` waits for every earlier stage, `bad`'s included; `independent` only for `sibling`.
    assert_eq!(p.run(&["run", "m", "--fail-fast", "continue"]).code, 1);
    let s = p.state();
    for op in ["sibling", "independent"] {
        assert_eq!(op_status(&s, op), "succeeded", "continue: {op}");
    }
    for op in ["later", "dependent"] {
        assert_eq!(op_status(&s, op), "skipped", "continue: {op}");
    }
}

#[test]
fn continue_on_error_does_not_fail_the_run() {
    let p = Project::new();
    p.shell_op("optional", "", "exit 1")
        .shell_op("next", "", "true");
    p.module(
        "m",
        "    - { id: optional, continue_on_error: true }\n    - next\n",
    );
    let r = p.run(&["run", "m"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let s = p.state();
    assert_eq!(op_status(&s, "optional"), "failed");
    assert_eq!(op_status(&s, "next"), "succeeded");
}

#[test]
fn an_idempotency_check_that_passes_records_already_done() {
    let p = Project::new();
    let marker = p.root().join("ran");
    p.shell_op(
        "once",
        "idempotency: { check: \"true\" }",
        &format!("touch {}", marker.display()),
    );
    p.module("m", "    - once\n");
    assert_eq!(p.run(&["run", "m"]).code, 0);
    assert!(!marker.exists());
    assert_eq!(op_status(&p.state(), "once"), "already-done");
}

#[test]
fn unmet_requirements_block_an_op_by_name() {
    let p = Project::new();
    p.shell_op("elsewhere", "", "true")
        .shell_op("needs", "requires: [elsewhere]", "true");
    p.module("m", "    - needs\n");
    p.module("other", "    - elsewhere\n");
    let r = p.run(&["run", "m"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("requires `elsewhere`, which has not succeeded"),
        "{}",
        r.stdout
    );
    assert_eq!(p.run(&["run", "other"]).code, 0);
    assert_eq!(p.run(&["run", "m"]).code, 0);
}

#[test]
fn only_and_from_select_operations() {
    let p = Project::new();
    for id in ["a", "b", "c"] {
        p.shell_op(id, "", "true");
    }
    p.module("m", "    - a\n    - b\n    - c\n");
    assert_eq!(p.run(&["run", "m", "--only", "b"]).code, 0);
    let s = p.state();
    assert_eq!(
        (op_status(&s, "a").as_str(), op_status(&s, "b").as_str()),
        ("skipped", "succeeded")
    );
    assert_eq!(p.run(&["run", "m", "--from", "b"]).code, 0);
    let s = p.state();
    assert_eq!(op_status(&s, "a"), "skipped");
    assert_eq!(op_status(&s, "c"), "succeeded");
    let r = p.run(&["run", "m", "--only", "zz"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("--only: `zz` is not an operation of module `m`"),
        "{}",
        r.stderr
    );
}

#[test]
fn output_reaches_the_log_while_the_operation_runs() {
    let p = Project::new();
    let gate = p.root().join("gate");
    p.shell_op(
        "talker",
        "",
        &format!(
            "echo first line\nwhile [ ! -e {} ]; do sleep 0.05; done\necho done",
            gate.display()
        ),
    );
    p.module("m", "    - talker\n");
    let mut child = p
        .command(&["run", "m"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    let seen = loop {
        let log = p
            .run_dirs()
            .last()
            .and_then(|d| std::fs::read_to_string(d.join("logs/talker.log")).ok())
            .unwrap_or_default();
        if log.contains("first line") || Instant::now() > deadline {
            break log.contains("first line");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::fs::write(&gate, "").expect("open the gate");
    assert!(child.wait().expect("wait").success());
    assert!(
        seen,
        "the first line was not in the log while the operation ran"
    );
}
