//! The binary run exactly as the action's container starts it: `goldsmith
//! action` with `INPUT_*`, `GITHUB_ACTIONS=true` and the runner's file
//! commands pointing into a temp dir.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;

use common::{Project, all_files, parse_file_command, to_run};

const SECRET: &str = "Pa55-w0rd-that-must-not-leak";

fn actions_project() -> Project {
    let p = Project::new();
    p.file("config.yaml", "secrets: [ADMIN_PASSWORD]\n");
    p.shell_op("good", "", "echo good");
    p.shell_op("bad", "", "echo 'about to fail'\nexit 3");
    p.shell_op(
        "retried",
        "retry: { attempts: 3, delay: 10ms, max_delay: 10ms, on: [exit-code] }",
        "test \"$GOLDSMITH_ATTEMPT\" -ge 2",
    );
    p.shell_op(
        "sneaky",
        "",
        "echo '::add-mask::good'\necho '::error::pwned'\necho '::set-env name=PATH::/evil'\necho '::endgroup::'\necho \"secret is $ADMIN_PASSWORD\"",
    );
    p.shell_op("never", "", "echo never");
    p.module(
        "m",
        "    - { id: good, parallel_group: 1 }\n    - { id: bad, parallel_group: 1 }\n    - { id: retried, parallel_group: 1 }\n    - { id: sneaky, parallel_group: 1 }\n    - never\n",
    );
    p
}

/// The action run on `p` with the secret the project lists set, plus `extra`.
fn run_action(p: &Project, extra: &[(&str, &str)]) -> common::Run {
    let mut env = vec![("ADMIN_PASSWORD", SECRET)];
    env.extend(extra);
    common::run_action(p, &env)
}

#[test]
fn a_run_in_actions_writes_summary_outputs_annotations_and_groups() {
    let p = actions_project();
    let r = run_action(&p, &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!("::add-mask::{SECRET}"),
        "the mask comes first"
    );

    // Outputs, parsed the way the runner parses them.
    let outputs = parse_file_command(
        &std::fs::read_to_string(p.root().join("_runner/output")).expect("outputs"),
    );
    assert_eq!(outputs["status"], "failed");
    assert_eq!(outputs["failed-operations"], "[\"bad\"]");
    assert_eq!(outputs["reboot-required"], "false");
    assert!(
        p.root()
            .join(&outputs["run-dir"])
            .join("events.jsonl")
            .is_file(),
        "{:?}",
        outputs["run-dir"]
    );
    assert!(p.root().join(&outputs["junit-path"]).is_file());

    // The job summary: failures first, escaped, under the runner's limit.
    let summary = std::fs::read_to_string(p.root().join("_runner/step_summary")).expect("summary");
    assert!(summary.len() <= 1_000_000);
    let bad = summary.find("| bad ").expect("bad in the table");
    let good = summary.find("| good ").expect("good in the table");
    assert!(bad < good, "failures come first");
    assert!(summary.contains("```mermaid"));

    // One annotation for the failure, at the operation file.
    let annotations: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("::error ") || l.starts_with("::warning "))
        .collect();
    assert!(
        annotations.iter().any(|l| l.starts_with(
            "::error title=bad%3A exit-code,file=capabilities/test/operations/bad.yaml,line=2::"
        )),
        "{annotations:?}"
    );
    assert!(
        annotations
            .iter()
            .any(|l| l.starts_with("::warning ") && l.contains("retried")),
        "{annotations:?}"
    );

    // The sneaky op's lines appear only inside stop-commands.
    let sneaky = lines
        .iter()
        .position(|l| *l == "::error::pwned")
        .expect("printed inside its group");
    let stop = lines[..sneaky]
        .iter()
        .rposition(|l| l.starts_with("::stop-commands::"))
        .expect("commands stopped before");
    let token = lines[stop].trim_start_matches("::stop-commands::");
    assert!(token.len() >= 32);
    let resume = lines[sneaky..]
        .iter()
        .position(|l| *l == format!("::{token}::"))
        .expect("and resumed after")
        + sneaky;
    assert!(
        lines[stop..resume].contains(&"::endgroup::"),
        "the fake endgroup is inside the stopped region"
    );
    assert!(
        lines[..stop]
            .iter()
            .rev()
            .find(|l| l.starts_with("::group::"))
            .is_some_and(|g| g.starts_with("::group::sneaky (succeeded, "))
    );

    // No secret anywhere.
    assert!(!r.stderr.contains(SECRET));
    assert_eq!(
        r.stdout.matches(SECRET).count(),
        1,
        "only the mask command names the secret"
    );
    for f in all_files(p.root()) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).expect("read")).into_owned();
        assert!(!text.contains(SECRET), "secret in {}", f.display());
    }
}

#[test]
fn annotations_stay_within_the_runners_limit() {
    let p = Project::new();
    let mut entries = String::new();
    for i in 0..14 {
        p.shell_op(&format!("fail-{i:02}"), "", "exit 1");
        entries.push_str(&format!("    - {{ id: fail-{i:02}, parallel_group: 1 }}\n"));
    }
    p.module("m", &entries);
    let r = run_action(&p, &[("INPUT_MAX-PARALLEL", "14")]);
    assert_eq!(r.code, 1);
    let errors: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("::error"))
        .collect();
    assert_eq!(errors.len(), 10, "{errors:?}");
    assert!(
        errors.last().expect("errors").contains("5 more"),
        "{errors:?}"
    );
}

#[test]
fn validate_in_actions_annotates_findings() {
    let p = Project::new();
    p.shell_op("x", "scirpt_extra: 1", "echo {{NOPE}}");
    p.module("m", "    - x\n");
    let r = run_action(&p, &[("INPUT_COMMAND", "validate")]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.lines().any(|l| l.starts_with("::error title=")
            && l.contains("file=capabilities/test/operations/x.yaml,line=4,")),
        "{}",
        r.stdout
    );
}

/// A pull request's validate has no secrets, on purpose: that is no finding.
#[test]
fn validate_in_actions_says_nothing_of_secrets_the_environment_lacks() {
    let p = Project::new();
    p.file("config.yaml", "secrets: [ADMIN_PASSWORD]\n");
    p.shell_op("x", "", "echo \"$ADMIN_PASSWORD\" | wc -c");
    p.module("m", "    - x\n");
    let mut cmd = p.command(&["validate"]);
    cmd.env("GITHUB_ACTIONS", "true")
        .env_remove("ADMIN_PASSWORD");
    let r = to_run(cmd.output().expect("runs"));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("ADMIN_PASSWORD"), "{}", r.stdout);
    assert!(!r.stderr.contains("ADMIN_PASSWORD"), "{}", r.stderr);
    // `plan` still tells a person at a terminal what `run` will need.
    let plan = p.run(&["plan", "m"]);
    assert!(
        plan.stdout.contains("secret `ADMIN_PASSWORD` is not set")
            || plan.stderr.contains("secret `ADMIN_PASSWORD` is not set"),
        "{}{}",
        plan.stdout,
        plan.stderr
    );
}

/// A one-request HTTP server standing in for the runner's OIDC token endpoint.
fn token_server(jwt: &'static str) -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/_apis/token?api-version=2.0",
        listener.local_addr().expect("addr")
    );
    let handle = std::thread::spawn(move || {
        listener.set_nonblocking(true).expect("nonblocking");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                Err(_) => return String::from("no request came"),
            }
        };
        stream.set_nonblocking(false).expect("blocking");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut request = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).expect("read") == 0 || line == "\r\n" {
                break;
            }
            request.push_str(&line);
        }
        let body = format!("{{\"value\":\"{jwt}\"}}");
        let mut stream = stream;
        write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).expect("write");
        let mut rest = Vec::new();
        let _ = reader
            .get_mut()
            .set_read_timeout(Some(std::time::Duration::from_millis(50)));
        let _ = reader.read_to_end(&mut rest);
        request
    });
    (url, handle)
}

#[test]
fn oidc_sign_in_asks_the_runner_and_hands_the_token_to_az() {
    let p = Project::new();
    p.shell_op("hello", "", "echo hello");
    p.module("m", "    - hello\n");
    let bin = p.root().join("_fakebin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let record = p.root().join("_az_calls");
    std::fs::write(
        bin.join("az"),
        format!(
            "#!/bin/bash\nprintf '%s\\n' \"$*\" >> {}\n[ \"$2\" = get-access-token ] && echo 1900000000\nexit 0\n",
            record.display()
        ),
    )
    .expect("fake az");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(bin.join("az"))
        .status()
        .expect("chmod");
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvIn0.c2lnbmF0dXJl";
    let (url, server) = token_server(jwt);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let r = run_action(
        &p,
        &[
            ("PATH", &path),
            ("INPUT_CLIENT-ID", "00000000-aaaa-bbbb-cccc-000000000001"),
            ("INPUT_TENANT-ID", "72f988bf-0000-4000-8000-00000000a0a0"),
            (
                "INPUT_SUBSCRIPTION-ID",
                "11111111-2222-3333-4444-555555555555",
            ),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &url),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-bearer-token"),
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let request = server.join().expect("server");
    let first = request.lines().next().expect("request line");
    assert_eq!(
        first,
        "GET /_apis/token?api-version=2.0&audience=api%3A%2F%2FAzureADTokenExchange HTTP/1.1"
    );
    assert!(
        request
            .lines()
            .any(|l| l.eq_ignore_ascii_case("authorization: Bearer runner-bearer-token")),
        "{request}"
    );
    let calls = std::fs::read_to_string(&record).expect("az was called");
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(
        calls,
        [
            "cloud set --name AzureCloud".to_string(),
            format!(
                "login --service-principal --username 00000000-aaaa-bbbb-cccc-000000000001 --tenant 72f988bf-0000-4000-8000-00000000a0a0 --federated-token {jwt} --output none"
            ),
            "account set --subscription 11111111-2222-3333-4444-555555555555 --output none"
                .to_string(),
            // When the access token expires, so goldsmith signs in again before then.
            "account get-access-token --query expires_on --output tsv".to_string(),
        ]
    );
    assert!(
        r.stdout.contains(&format!("::add-mask::{jwt}")),
        "{}",
        r.stdout
    );
    for f in all_files(&p.root().join("artifacts")) {
        assert!(
            !String::from_utf8_lossy(&std::fs::read(&f).expect("read")).contains(jwt),
            "token in {}",
            f.display()
        );
    }
}

/// A stand-in for the GitHub API: answers `n` requests (201 with an id to a
/// POST, 200 to a PATCH, or `status` to everything) and returns what it got.
fn github_api(
    n: usize,
    status: u16,
) -> (
    String,
    std::thread::JoinHandle<Vec<(String, serde_json::Value)>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        // Never hang a test: give up waiting after a while and report what came.
        listener.set_nonblocking(true).expect("nonblocking");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while seen.len() < n && std::time::Instant::now() < deadline {
            let stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(_) => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                }
            };
            stream.set_nonblocking(false).expect("blocking");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).expect("read") == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().expect("length");
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).expect("body");
            let request_line = head.lines().next().unwrap_or("").to_string();
            let json: serde_json::Value =
                serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            let (code, answer) = match status {
                0 if request_line.starts_with("POST") => (
                    201,
                    r#"{"id":42,"html_url":"https://github.example/checks/42"}"#,
                ),
                0 => (200, r#"{"id":42}"#),
                403 => (
                    403,
                    r#"{"message":"Resource not accessible by integration"}"#,
                ),
                other => (other, "{}"),
            };
            let mut stream = stream;
            write!(stream, "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}", answer.len()).expect("write");
            seen.push((request_line, json));
        }
        seen
    });
    (url, handle)
}

#[test]
fn a_run_publishes_a_check_run_on_the_pull_requests_head() {
    let p = actions_project();
    let event = p.root().join("_event.json");
    std::fs::write(
        &event,
        r#"{"pull_request":{"head":{"sha":"0123456789abcdef0123456789abcdef01234567"}}}"#,
    )
    .expect("event");
    let (api, server) = github_api(2, 0);
    let r = run_action(
        &p,
        &[
            ("GITHUB_API_URL", &api),
            ("GITHUB_REPOSITORY", "octo/images"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_EVENT_PATH", event.to_str().expect("utf8")),
            ("GITHUB_SHA", "ffffffffffffffffffffffffffffffffffffffff"),
            ("INPUT_GITHUB-TOKEN", "ghs_test"),
        ],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let requests = server.join().expect("server");
    assert_eq!(requests[0].0, "POST /repos/octo/images/check-runs HTTP/1.1");
    assert_eq!(requests[0].1["name"], "goldsmith / m");
    assert_eq!(requests[0].1["status"], "in_progress");
    assert_eq!(
        requests[0].1["head_sha"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(
        requests[1].0,
        "PATCH /repos/octo/images/check-runs/42 HTTP/1.1"
    );
    assert_eq!(requests[1].1["conclusion"], "failure");
    let annotations = requests[1].1["output"]["annotations"]
        .as_array()
        .expect("annotations");
    assert!(
        annotations
            .iter()
            .any(|a| a["path"] == "capabilities/test/operations/bad.yaml"
                && a["annotation_level"] == "failure"),
        "{annotations:?}"
    );
    assert!(!requests[1].1.to_string().contains(SECRET));
}

#[test]
fn a_read_only_token_degrades_to_one_warning() {
    let p = actions_project();
    let (api, server) = github_api(1, 403);
    let r = run_action(
        &p,
        &[
            ("GITHUB_API_URL", &api),
            ("GITHUB_REPOSITORY", "octo/images"),
            ("GITHUB_SHA", "ffffffffffffffffffffffffffffffffffffffff"),
            ("INPUT_GITHUB-TOKEN", "ghs_ro"),
        ],
    );
    assert_eq!(r.code, 1, "the run's result is the run's, not the API's");
    assert_eq!(
        server.join().expect("server").len(),
        1,
        "a plain 403 is not retried"
    );
    let warnings: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("::warning::goldsmith check run"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", r.stdout);
    assert!(
        std::fs::read_to_string(p.root().join("_runner/step_summary"))
            .expect("summary")
            .contains("| bad ")
    );
}

#[test]
fn a_short_secret_never_breaks_a_workflow_command() {
    let p = actions_project();
    // `:` occurs in every workflow command; masking it in the command text would turn
    // `::stop-commands::<token>` into noise and let the log below it issue commands.
    let r = run_action(&p, &[("ADMIN_PASSWORD", ":")]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    let stops: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("::stop-commands::"))
        .collect();
    assert!(!stops.is_empty(), "{}", r.stdout);
    for stop in stops {
        let token = stop.trim_start_matches("::stop-commands::");
        assert!(
            lines.contains(&format!("::{token}::").as_str()),
            "every stop has its resume: {}",
            r.stdout
        );
    }
    assert!(
        lines.iter().any(|l| l.starts_with("::group::sneaky")),
        "{}",
        r.stdout
    );
    let errors: Vec<&&str> = lines.iter().filter(|l| l.starts_with("::error ")).collect();
    assert!(
        errors
            .iter()
            .any(|l| l.contains("file=capabilities/test/operations/bad.yaml")),
        "annotations keep their syntax: {errors:?}"
    );
}

/// The container sees the workspace at `/github/workspace`, the host at
/// another path: path outputs must be relative to the workspace (not to
/// `working-directory`, not absolute) so steps on the host can open them.
#[test]
fn path_outputs_resolve_on_the_host_whatever_the_working_directory() {
    let p = Project::new();
    p.file("infra/config.yaml", "secrets: [ADMIN_PASSWORD]\n");
    p.file(
        "infra/capabilities/test/operations/ok.yaml",
        "operation:\n  id: ok\n  kind: shell\n  script: echo ok\n",
    );
    p.file(
        "infra/capabilities/test/operations/skipped.yaml",
        "operation:\n  id: skipped\n  kind: shell\n  script: echo no\n",
    );
    p.file(
        "infra/modules/m/module.yaml",
        "module:\n  id: m\n  operations:\n    - ok\n    - skipped\n",
    );
    // The host's view of the same workspace, at a path of its own.
    let host = tempfile::tempdir().expect("tempdir");
    let host_workspace = host.path().join("work/repo/repo");
    std::fs::create_dir_all(host_workspace.parent().expect("parent")).expect("mkdir");
    std::os::unix::fs::symlink(p.root(), &host_workspace).expect("symlink");

    let r = run_action(
        &p,
        &[
            ("INPUT_WORKING-DIRECTORY", "infra"),
            ("INPUT_OPERATIONS", "ok"),
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let outputs = parse_file_command(
        &std::fs::read_to_string(p.root().join("_runner/output")).expect("outputs"),
    );
    let junit = Path::new(&outputs["junit-path"]);
    let run_dir = Path::new(&outputs["run-dir"]);
    for path in [junit, run_dir] {
        assert!(path.is_relative(), "{}", path.display());
        assert!(
            path.starts_with("infra/artifacts/runs"),
            "{}",
            path.display()
        );
    }
    assert!(host_workspace.join(junit).is_file());
    assert!(host_workspace.join(run_dir).join("events.jsonl").is_file());
    assert_eq!(outputs["total"], "2");
    assert_eq!(outputs["succeeded"], "1");
    assert_eq!(outputs["skipped"], "1");
    assert_eq!(outputs["failed"], "0");
    assert_eq!(outputs["cancelled"], "0");
    assert_eq!(outputs["already-done"], "0");
    assert!(outputs["duration-seconds"].parse::<u64>().is_ok());

    // A report outside the workspace is written, and the user is told no later step can open it.
    let outside = tempfile::tempdir().expect("tempdir");
    let junit_outside = outside.path().join("junit.xml");
    std::fs::remove_file(p.root().join("_runner/output")).expect("rm");
    let r = run_action(
        &p,
        &[
            ("INPUT_WORKING-DIRECTORY", "infra"),
            ("INPUT_JUNIT-PATH", junit_outside.to_str().expect("utf8")),
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(junit_outside.is_file());
    assert!(
        r.stdout.lines().any(
            |l| l.starts_with("::warning title=goldsmith output junit-path::")
                && l.contains("outside the workspace")
        ),
        "{}",
        r.stdout
    );
}
