//! A run has an owner: no operation outlives its coordinator (SIGKILL
//! included), one coordinator per module and root, `status` tells an
//! interrupted run from a running one, early signals exit 130, and a run
//! directory is complete or absent. Real binary, real processes, /proc.

mod common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::Project;

/// Generous bound for "eventually" on a loaded machine; never a synchronising sleep.
const PATIENCE: Duration = Duration::from_secs(20);

/// Polls `f` until it returns true; panics with `what` after PATIENCE.
#[track_caller]
fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Live processes (not zombies) whose environment names this project's root:
/// every operation process, its children and its supervisor carry
/// GOLDSMITH_RUN_DIR=<root>/artifacts/runs/….
fn op_processes(root: &Path) -> Vec<i32> {
    let marker = format!("GOLDSMITH_RUN_DIR={}", root.display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit_once(") ").and_then(|(_, r)| r.chars().next());
        if !matches!(state, Some(s) if s != 'Z' && s != 'X') {
            continue;
        }
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if environ
            .split(|&b| b == 0)
            .any(|v| v.starts_with(marker.as_bytes()))
        {
            found.push(pid);
        }
    }
    found
}

/// Whether `pid` has handlers for SIGINT and SIGTERM installed (SigCgt in /proc).
fn catches_int_and_term(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let caught = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .unwrap_or(0);
    let bit = |sig: i32| 1u64 << (sig - 1);
    caught & bit(libc::SIGINT) != 0 && caught & bit(libc::SIGTERM) != 0
}

/// A goldsmith started in the background, cancelled (SIGTERM) if a test fails
/// before it ends, so no coordinator outlives its test.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            signal(&self.0, libc::SIGTERM);
            let _ = self.0.wait();
        }
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, sig) };
}

/// Every visible run directory has a state.json that parses.
#[track_caller]
fn assert_runs_complete(p: &Project) {
    for dir in p.run_dirs() {
        let text = std::fs::read_to_string(dir.join("state.json"))
            .unwrap_or_else(|e| panic!("{} has no state.json: {e}", dir.display()));
        serde_json::from_str::<serde_json::Value>(&text)
            .unwrap_or_else(|e| panic!("{}/state.json does not parse: {e}", dir.display()));
    }
}

/// A shell op that appends `start <op> <pid>` and `end <op> <pid>` to `ledger`,
/// records `overlap` when an earlier attempt of the same op is still alive,
/// and is already done (idempotency check) once its `end` line is there.
fn ledger_op(p: &Project, id: &str, ledger: &Path, body: &str) {
    let l = ledger.display();
    let script = format!(
        r#"for old in $(sed -n "s/^start $GOLDSMITH_OP //p" "{l}" 2>/dev/null); do
  state=$(cat /proc/$old/stat 2>/dev/null || true)
  state=${{state##*) }}
  state=${{state%% *}}
  if [ -n "$state" ] && [ "$state" != Z ]; then echo "overlap $GOLDSMITH_OP $old" >> "{l}"; fi
done
echo "start $GOLDSMITH_OP $$" >> "{l}"
{body}
echo "end $GOLDSMITH_OP $$" >> "{l}""#
    );
    let check = format!("idempotency: {{ check: 'grep -q \"^end $GOLDSMITH_OP \" \"{l}\"' }}");
    p.shell_op(id, &check, &script);
}

fn ledger_lines(ledger: &Path) -> Vec<String> {
    std::fs::read_to_string(ledger)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// An op that writes `<dir>/<id>.started` and then waits for `<dir>/release`.
fn gated_op(p: &Project, id: &str, dir: &Path, ledger: &Path) {
    ledger_op(
        p,
        id,
        ledger,
        &format!(
            "touch {d}/{id}.started\nwhile [ ! -e {d}/release ]; do sleep 0.02; done",
            d = dir.display()
        ),
    );
}

#[test]
fn a_second_run_or_resume_of_a_running_module_exits_2_naming_the_owner_and_wait_waits() {
    let p = Project::new();
    let ledger = p.root().join("ledger");
    gated_op(&p, "gate", p.root(), &ledger);
    p.module("m", "    - gate\n");
    let mut first = Background(
        p.command(&["run", "m"])
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn"),
    );
    wait_until("the first run's op started", || {
        p.root().join("gate.started").exists()
    });
    let run_id = p.run_dirs()[0]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();

    for args in [&["run", "m"][..], &["resume", "m"], &["resume"]] {
        let t = Instant::now();
        let r = p.run(args);
        assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{args:?} did not exit at once"
        );
        for needed in [
            format!("pid {}", first.0.id()),
            run_id.clone(),
            "started 20".to_string(),
            "--wait".to_string(),
        ] {
            assert!(
                r.stderr.contains(&needed),
                "{args:?}: `{needed}` missing from: {}",
                r.stderr
            );
        }
    }
    assert_eq!(p.run_dirs().len(), 1, "a refused run made a run directory");
    let status = p.run(&["status", "m"]);
    assert!(
        status.stdout.contains("status running"),
        "{}",
        status.stdout
    );

    // With --wait the second run starts only after the first has ended.
    let mut second = Background(
        p.command(&["run", "m", "--wait"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    let mut stderr = second.0.stderr.take().expect("stderr");
    let mut said = Vec::new();
    wait_until("the waiting run said whom it waits for", || {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        if let Ok(n) = stderr.read(&mut buf) {
            said.extend_from_slice(&buf[..n]);
        }
        let said = String::from_utf8_lossy(&said);
        said.contains("waiting (--wait)") && said.contains(&run_id)
    });
    std::fs::write(p.root().join("release"), "").expect("release");
    assert_eq!(first.0.wait().expect("wait").code(), Some(0));
    assert_eq!(second.0.wait().expect("wait").code(), Some(0));
    assert_eq!(p.run_dirs().len(), 2);
    let lines = ledger_lines(&ledger);
    // The first run's op ran once; the second found it done (no overlap, no second start).
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("start ")).count(),
        1,
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.starts_with("overlap")), "{lines:?}");
}

#[test]
fn locks_hold_across_two_simultaneous_runs_of_one_module() {
    // Two `run`s started together: exactly one runs, the other is refused.
    let p = Project::new();
    let ledger = p.root().join("ledger");
    ledger_op(&p, "a", &ledger, "sleep 0.3");
    p.module("m", "    - a\n");
    let spawn = || {
        p.command(&["run", "m"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (one, two) = (spawn(), spawn());
    let codes: Vec<i32> = [one, two]
        .into_iter()
        .map(|c| {
            c.wait_with_output()
                .expect("wait")
                .status
                .code()
                .unwrap_or(-1)
        })
        .collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(sorted, vec![0, 2], "exit codes {codes:?}");
    let starts = ledger_lines(&ledger)
        .iter()
        .filter(|l| l.starts_with("start "))
        .count();
    assert_eq!(starts, 1);
}

#[test]
fn after_sigkill_no_op_survives_the_grace_status_says_interrupted_and_resume_waits_for_the_guardians()
 {
    let p = Project::new();
    let ledger = p.root().join("ledger");
    // Ignores SIGTERM, it and its child: only the SIGKILL after the grace ends them.
    ledger_op(
        &p,
        "stubborn",
        &ledger,
        &format!(
            "trap '' TERM\nsleep 300 &\ntouch {}/stubborn.started\nwait",
            p.root().display()
        ),
    );
    ledger_op(&p, "after", &ledger, "true");
    p.module("m", "    - stubborn\n    - after\n");
    let grace = Duration::from_secs(3);
    let mut coordinator = Background(
        p.command(&["run", "m", "--kill-grace", "3s"])
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn"),
    );
    wait_until("the op started", || {
        p.root().join("stubborn.started").exists()
    });
    assert!(op_processes(p.root()).len() >= 3, "supervisor, bash, sleep");
    signal(&coordinator.0, libc::SIGKILL);
    coordinator.0.wait().expect("reap");
    let killed = Instant::now();

    // The guardians hold the module until the grace is over: resume must not start the op again.
    let r = p.run(&["resume", "m"]);
    if killed.elapsed() < grace {
        assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("still being stopped"), "{}", r.stderr);
    }
    let status = p.run(&["status", "m"]);
    assert!(
        status.stdout.contains("status interrupted"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("goldsmith resume m"),
        "{}",
        status.stdout
    );

    wait_until("every op process is gone", || {
        op_processes(p.root()).is_empty()
    });
    let gone_after = killed.elapsed();
    assert!(
        gone_after >= grace - Duration::from_millis(100),
        "the grace was not given: gone after {gone_after:?}"
    );
    assert!(
        gone_after < grace + Duration::from_secs(2),
        "op processes outlived the coordinator by {gone_after:?} (grace {grace:?})"
    );
    let status = p.run(&["status", "m"]);
    assert!(
        status.stdout.contains("status interrupted"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.starts_with("stubborn") && l.contains("interrupted")),
        "{}",
        status.stdout
    );

    // Make the op finish this time, then resume.
    ledger_op(&p, "stubborn", &ledger, "true");
    let r = p.run(&["resume", "m", "--wait"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let lines = ledger_lines(&ledger);
    assert!(!lines.iter().any(|l| l.starts_with("overlap")), "{lines:?}");
    for op in ["stubborn", "after"] {
        let ends = lines
            .iter()
            .filter(|l| l.starts_with(&format!("end {op} ")))
            .count();
        assert_eq!(ends, 1, "{op}: {lines:?}");
    }
}

#[test]
fn an_operation_holds_neither_the_run_lock_nor_the_supervisor_pipes() {
    let p = Project::new();
    let out = p.root().join("fds");
    p.shell_op("fds", "", &format!("ls -l /proc/$$/fd > {}", out.display()));
    p.module("m", "    - fds\n");
    let r = p.run(&["run", "m"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let fds = std::fs::read_to_string(&out).expect("fd list");
    assert!(!fds.contains(".lock-m"), "{fds}");
    // The supervisor is handed the lifeline, the lock and its status pipe as fds 3, 4, 5.
    for fd in [3, 4, 5] {
        assert!(
            !fds.lines().any(|l| l.contains(&format!(" {fd} -> "))),
            "fd {fd} reached the operation: {fds}"
        );
    }
}

/// A seeded xorshift: the moments of the crash trials are random but repeatable.
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let seed = std::env::var("GOLDSMITH_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        eprintln!("seed {seed} (set GOLDSMITH_CRASH_SEED to repeat another)");
        Rng(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn early_signals_exit_130_and_leave_no_half_made_run_directory() {
    // 150 operations: loading and planning them takes long enough that the
    // random moments below fall before, during and after making the run directory.
    let p = Project::new();
    let mut entries = String::new();
    for i in 0..150 {
        p.shell_op(&format!("op{i}"), "", "sleep 30");
        entries.push_str(&format!("    - {{ id: op{i}, parallel_group: 1 }}\n"));
    }
    p.module("m", &entries);
    let mut rng = Rng::seeded();
    let (mut before_run_dir, mut after) = (0, 0);
    for trial in 0..20 {
        let sig = if trial % 2 == 0 {
            libc::SIGINT
        } else {
            libc::SIGTERM
        };
        let mut child = Background(
            p.command(&["run", "m", "--kill-grace", "1s", "--max-parallel", "1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn"),
        );
        let runs_before = p.run_dirs().len();
        // Handlers come first: before the catalog is read, long before a run directory.
        let deadline = Instant::now() + PATIENCE;
        while !catches_int_and_term(child.0.id()) {
            assert!(Instant::now() < deadline, "goldsmith never handled signals");
            std::hint::spin_loop();
        }
        let runs_then = std::fs::read_dir(p.root().join("artifacts/runs"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .count();
        assert_eq!(
            runs_then, runs_before,
            "trial {trial}: signal handlers came after the run directory"
        );
        std::thread::sleep(Duration::from_millis(rng.below(200)));
        signal(&child.0, sig);
        let code = child.0.wait().expect("wait").code();
        assert_eq!(code, Some(130), "trial {trial}: signal {sig}");
        assert_runs_complete(&p);
        if p.run_dirs().len() == runs_before {
            before_run_dir += 1;
        } else {
            after += 1;
            let status = p.run(&["status", "m"]);
            assert!(
                status.stdout.contains("status cancelled"),
                "trial {trial}: {}",
                status.stdout
            );
        }
        wait_until("no op process is left", || {
            op_processes(p.root()).is_empty()
        });
    }
    eprintln!("20 early signals: {before_run_dir} before the run directory, {after} after");
    assert!(
        before_run_dir > 0 && after > 0,
        "the moments were not spread"
    );
}

#[test]
fn sigkill_at_random_moments_leaves_no_op_alive_and_resume_finishes_every_op_once() {
    let grace = Duration::from_millis(300);
    let mut rng = Rng::seeded();
    let mut slowest = Duration::ZERO;
    let (mut before_run_dir, mut interrupted) = (0, 0);
    let trials = 24;
    for trial in 0..trials {
        let p = Project::new();
        let ledger = p.root().join("ledger");
        // One op per trial runs for 30 s in the killed run (a marker file says
        // which): an orphan of it could not go unnoticed. The others are quick,
        // so kills land before, during and after their completions.
        let slow = ["b", "c", "d"][trial % 3];
        std::fs::write(p.root().join(format!("slow-{slow}")), "").expect("marker");
        let lingers = format!(
            "if [ -e {}/slow-$GOLDSMITH_OP ]; then sleep 30; fi",
            p.root().display()
        );
        ledger_op(&p, "a", &ledger, "sleep 0.1");
        // Ignores SIGTERM (so does its sleep): the grace, then SIGKILL.
        ledger_op(
            &p,
            "b",
            &ledger,
            &format!("trap '' TERM\nsleep 0.2\n{lingers}"),
        );
        // Takes its time to stop on SIGTERM, with a child of its own.
        ledger_op(
            &p,
            "c",
            &ledger,
            &format!("trap 'sleep 0.1; exit 143' TERM\n({lingers}; sleep 0.15) &\nwait"),
        );
        ledger_op(&p, "d", &ledger, &format!("sleep 0.05\n{lingers}"));
        p.module(
            "m",
            "    - { id: a, parallel_group: 1 }\n    - { id: b, parallel_group: 1 }\n    - { id: c, parallel_group: 2 }\n    - d\n",
        );
        let mut coordinator = p
            .command(&["run", "m", "--kill-grace", "300ms"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let at = Duration::from_millis(rng.below(900));
        std::thread::sleep(at);
        signal(&coordinator, libc::SIGKILL);
        coordinator.wait().expect("reap");
        let killed = Instant::now();

        wait_until("every op process is gone", || {
            op_processes(p.root()).is_empty()
        });
        let gone_after = killed.elapsed();
        slowest = slowest.max(gone_after);
        assert!(
            gone_after < grace + Duration::from_millis(1000),
            "trial {trial} (kill at {at:?}): op processes outlived the coordinator by {gone_after:?}"
        );
        assert_runs_complete(&p);

        let status = p.run(&["status", "m"]);
        let runs = p.run_dirs();
        if runs.is_empty() {
            before_run_dir += 1;
            assert_eq!(status.code, 2, "trial {trial}: {}", status.stdout);
        } else {
            // The slow op keeps every run from finishing before the kill.
            interrupted += 1;
            assert!(
                status.stdout.contains("status interrupted"),
                "trial {trial} (kill at {at:?}): {}",
                status.stdout
            );
        }
        assert!(
            !status.stdout.contains("status running"),
            "trial {trial}: {}",
            status.stdout
        );

        std::fs::remove_file(p.root().join(format!("slow-{slow}"))).expect("marker");
        let again = if runs.is_empty() {
            p.run(&["run", "m", "--wait"])
        } else {
            p.run(&["resume", "m", "--wait"])
        };
        assert_eq!(
            again.code, 0,
            "trial {trial} (kill at {at:?}): {}{}",
            again.stdout, again.stderr
        );
        let state: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(p.run_dirs().pop().expect("run").join("state.json"))
                .expect("state"),
        )
        .expect("json");
        let lines = ledger_lines(&ledger);
        assert!(
            !lines.iter().any(|l| l.starts_with("overlap")),
            "trial {trial} (kill at {at:?}): {lines:?}"
        );
        for op in ["a", "b", "c", "d"] {
            let st = common::op_status(&state, op);
            assert!(
                st == "succeeded" || st == "already-done",
                "trial {trial}: {op} is {st}"
            );
            let ends = lines
                .iter()
                .filter(|l| l.starts_with(&format!("end {op} ")))
                .count();
            assert_eq!(
                ends, 1,
                "trial {trial} (kill at {at:?}): {op} completed {ends} times: {lines:?}"
            );
        }
    }
    eprintln!(
        "{trials} trials: {before_run_dir} killed before the run directory, {interrupted} interrupted; op processes gone at most {slowest:?} after the kill (grace {grace:?})"
    );
    assert!(
        interrupted >= trials / 3,
        "too few trials hit a running run: {interrupted}"
    );
}

/// state.json is a paced snapshot (at most one every 100 ms): a kill right
/// after an operation succeeded and the next one started finds the success
/// in events.jsonl (flushed before the next operation started), not yet in
/// the snapshot. `status` and `resume` must read it there: `a` has no
/// idempotency check, so running it again would show in the ledger.
#[test]
fn sigkill_right_after_a_success_resume_does_not_run_it_again() {
    let p = Project::new();
    let ledger = p.root().join("ledger");
    let (l, root) = (ledger.display(), p.root().display());
    p.shell_op("a", "", &format!("echo a >> {l}"));
    p.shell_op(
        "b",
        "",
        &format!("echo b >> {l}\nif [ ! -e {root}/b-may-end ]; then sleep 30; fi"),
    );
    p.module("m", "    - a\n    - b\n");
    let mut coordinator = Background(
        p.command(&["run", "m", "--kill-grace", "300ms"])
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn"),
    );
    wait_until("b started", || {
        ledger_lines(&ledger).contains(&"b".to_string())
    });
    signal(&coordinator.0, libc::SIGKILL);
    coordinator.0.wait().expect("reap");
    let snapshot = p.state();
    eprintln!(
        "state.json at the kill: a {}, b {}",
        common::op_status(&snapshot, "a"),
        common::op_status(&snapshot, "b")
    );
    wait_until("every op process is gone", || {
        op_processes(p.root()).is_empty()
    });

    let status = p.run(&["status", "m"]);
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.starts_with("a ") && l.contains("succeeded")),
        "{}",
        status.stdout
    );
    std::fs::write(p.root().join("b-may-end"), "").expect("marker");
    let r = p.run(&["resume", "m", "--wait"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        ledger_lines(&ledger),
        ["a", "b", "b"],
        "a ran once, b twice"
    );
    let state = p.state();
    assert_eq!(common::op_status(&state, "a"), "succeeded");
    assert_eq!(common::op_status(&state, "b"), "succeeded");
}
