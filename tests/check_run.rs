//! The check run against a local HTTP server standing in for the GitHub
//! API: it records every request (method, path, headers, body) and answers
//! from a script. Every create and update body is also saved as
//! `$CARGO_TARGET_TMPDIR/check-run-requests/<n>-<create|update>.json`, which
//! CI validates against GitHub's OpenAPI description
//! (tests/check_run_schema/validate.mjs).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use goldsmith::github::check_run::{
    AnnotationLevel, CheckAnnotation, CheckRun, CheckRunError, CheckRunTarget, Conclusion,
    RetryPolicy, SUMMARY_MAX_BYTES, TRUNCATION_NOTE, annotation_from, check_name, target_from_env,
};
use goldsmith::github::commands::{Annotation, Level};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TOKEN: &str = "ghs_fake-token-0123456789";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const HEAD_SHA: &str = "fedcba9876543210fedcba9876543210fedcba98";

// ---- the stand-in API -------------------------------------------------------

#[derive(Clone, Debug)]
struct Captured {
    method: String,
    path: String,
    /// Lower-case names; repeated headers keep every value.
    headers: HashMap<String, Vec<String>>,
    body: String,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

enum Reply {
    Answer {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// Accept, read, and never answer.
    Hang,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply::Answer {
        status,
        headers: Vec::new(),
        body: body.to_string(),
    }
}

fn reply_with(status: u16, headers: &[(&'static str, &str)], body: Value) -> Reply {
    Reply::Answer {
        status,
        headers: headers.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        body: body.to_string(),
    }
}

/// Answers the n-th request, seeing every request so far (the current last).
type Step = Box<dyn Fn(&[Captured]) -> Reply + Send + Sync>;

fn answer(status: u16, body: Value) -> Step {
    Box::new(move |_| reply(status, body.clone()))
}

struct FakeGitHub {
    base: String,
    log: Arc<Mutex<Vec<Captured>>>,
}

impl FakeGitHub {
    /// A server on 127.0.0.1 answering with `script`, one step per request;
    /// `prefix` is the API's path (`/api/v3` on GitHub Enterprise Server).
    async fn start(prefix: &str, script: Vec<Step>) -> FakeGitHub {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let log: Arc<Mutex<Vec<Captured>>> = Arc::default();
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let server_log = log.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, server_log.clone(), script.clone()));
            }
        });
        FakeGitHub {
            base: format!("http://127.0.0.1:{port}{prefix}"),
            log,
        }
    }

    fn requests(&self) -> Vec<Captured> {
        self.log.lock().expect("log").clone()
    }

    fn target(&self, existing_id: Option<u64>) -> CheckRunTarget {
        CheckRunTarget {
            api_url: self.base.clone(),
            token: TOKEN.to_string(),
            owner: "o".to_string(),
            repo: "r".to_string(),
            head_sha: SHA.to_string(),
            existing_id,
        }
    }
}

/// One request per connection (`Connection: close`), so the order of the
/// log is the order of the client's calls.
async fn serve(
    mut socket: TcpStream,
    log: Arc<Mutex<Vec<Captured>>>,
    script: Arc<Mutex<VecDeque<Step>>>,
) {
    let Some(request) = read_request(&mut socket).await else {
        return;
    };
    save_body(&request);
    let reply = {
        let mut log = log.lock().expect("log");
        log.push(request);
        match script.lock().expect("script").pop_front() {
            Some(step) => step(&log),
            None => reply(
                500,
                json!({"message": "the test's script has no more answers"}),
            ),
        }
    };
    match reply {
        Reply::Hang => tokio::time::sleep(Duration::from_secs(30)).await,
        Reply::Answer {
            status,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} Scripted\r\ncontent-type: application/json; charset=utf-8\r\n\
                 content-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(body.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    }
}

async fn read_request(socket: &mut TcpStream) -> Option<Captured> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let path = request_line.next()?.to_string();
    let mut headers: HashMap<String, Vec<String>> = HashMap::new();
    for line in lines {
        let (k, v) = line.split_once(':')?;
        headers
            .entry(k.trim().to_ascii_lowercase())
            .or_default()
            .push(v.trim().to_string());
    }
    let mut body = buf[head_end + 4..].to_vec();
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|v| v.iter().any(|v| v.contains("chunked")));
    if chunked {
        while find(&body, b"0\r\n\r\n").is_none() {
            let n = socket.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        body = dechunk(&body);
    } else {
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.first())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while body.len() < length {
            let n = socket.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    Some(Captured {
        method,
        path,
        headers,
        body: String::from_utf8(body).expect("a UTF-8 body"),
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = find(data, b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}

/// `<n>-create.json` / `<n>-update.json` for the schema check in CI.
fn save_body(request: &Captured) {
    static CLEAN: Once = Once::new();
    static NUMBER: AtomicUsize = AtomicUsize::new(1);
    let kind = match request.method.as_str() {
        "POST" => "create",
        "PATCH" => "update",
        _ => return,
    };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("check-run-requests");
    CLEAN.call_once(|| {
        let _ = std::fs::remove_dir_all(&dir);
    });
    std::fs::create_dir_all(&dir).expect("create the request folder");
    let n = NUMBER.fetch_add(1, Ordering::SeqCst);
    std::fs::write(dir.join(format!("{n:03}-{kind}.json")), &request.body)
        .expect("save the request body");
}

// ---- helpers ----------------------------------------------------------------

fn quick() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        request_timeout: Duration::from_secs(2),
        deadline: Duration::from_secs(10),
    }
}

fn annotation(n: u32, level: AnnotationLevel) -> CheckAnnotation {
    CheckAnnotation {
        path: "modules/05-golden-image/module.yaml".to_string(),
        start_line: n,
        end_line: n,
        level,
        title: Some(format!("op-{n}: failed")),
        message: format!("operation {n} failed"),
    }
}

fn created(id: u64) -> Step {
    answer(
        201,
        json!({"id": id, "html_url": format!("https://github.com/o/r/runs/{id}"), "status": "in_progress"}),
    )
}

fn no_astral(text: &str) -> bool {
    text.chars().all(|c| (c as u32) <= 0xFFFF)
}

fn annotations_of(body: &Value) -> Vec<Value> {
    body["output"]["annotations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

// ---- tests ------------------------------------------------------------------

#[tokio::test]
async fn creates_in_progress_then_completes_on_ghes_with_github_headers() {
    let api = FakeGitHub::start("/api/v3", vec![created(42), answer(200, json!({"id": 42}))]).await;
    let run = CheckRun::start_with(api.target(None), &check_name("05-golden-image"), quick())
        .await
        .expect("started");
    assert_eq!(run.id(), 42);
    assert!(run.is_created());
    assert_eq!(run.html_url(), Some("https://github.com/o/r/runs/42"));

    let mut error = Annotation::new(Level::Error, "exit code 1618");
    error.file = Some("./modules/05-golden-image/module.yaml".into());
    error.line = Some(7);
    error.title = Some("install-apps: msi_busy".into());
    let list: Vec<CheckAnnotation> = [error, Annotation::new(Level::Notice, "no file")]
        .iter()
        .filter_map(annotation_from)
        .collect();
    run.finish(
        Conclusion::Failure,
        "1 of 12 operations failed",
        "# 05-golden-image\n\n| op | status |\n",
        &list,
    )
    .await
    .expect("finished");

    let requests = api.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    let (create, update) = (&requests[0], &requests[1]);
    assert_eq!(create.method, "POST");
    assert_eq!(create.path, "/api/v3/repos/o/r/check-runs");
    assert_eq!(update.method, "PATCH");
    assert_eq!(update.path, "/api/v3/repos/o/r/check-runs/42");
    for r in &requests {
        assert_eq!(r.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(r.header("x-github-api-version"), Some("2022-11-28"));
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(r.headers["authorization"].len(), 1);
        assert!(r.header("user-agent").is_some_and(|ua| !ua.is_empty()));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(!r.body.contains(TOKEN), "the token stays in the header");
    }

    let body = create.json();
    assert_eq!(body["name"], "goldsmith / 05-golden-image");
    assert_eq!(body["head_sha"], SHA);
    assert_eq!(body["status"], "in_progress");
    assert!(
        body["external_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("goldsmith-"))
    );
    assert!(body.get("conclusion").is_none());

    let body = update.json();
    assert_eq!(body["status"], "completed");
    assert_eq!(body["conclusion"], "failure");
    assert_eq!(body["output"]["title"], "1 of 12 operations failed");
    assert_eq!(
        body["output"]["summary"],
        "# 05-golden-image\n\n| op | status |\n"
    );
    assert_eq!(
        annotations_of(&body),
        vec![json!({
            "path": "modules/05-golden-image/module.yaml",
            "start_line": 7,
            "end_line": 7,
            "annotation_level": "failure",
            "title": "install-apps: msi_busy",
            "message": "exit code 1618",
        })]
    );
}

#[tokio::test]
async fn annotations_go_fifty_per_request_the_first_with_the_conclusion() {
    let ok = || answer(200, json!({"id": 7}));
    let api = FakeGitHub::start("", vec![created(7), ok(), ok(), ok()]).await;
    let run = CheckRun::start_with(api.target(None), "goldsmith / validate", quick())
        .await
        .expect("started");
    let levels = [
        AnnotationLevel::Failure,
        AnnotationLevel::Warning,
        AnnotationLevel::Notice,
    ];
    let list: Vec<CheckAnnotation> = (1..=120)
        .map(|n| annotation(n, levels[n as usize % 3]))
        .collect();
    run.finish(Conclusion::Failure, "120 findings", "summary", &list)
        .await
        .expect("finished");

    let requests = api.requests();
    let updates: Vec<Value> = requests[1..].iter().map(Captured::json).collect();
    assert_eq!(requests.len(), 4);
    assert!(
        requests[1..]
            .iter()
            .all(|r| r.path == "/repos/o/r/check-runs/7")
    );
    let sizes: Vec<usize> = updates.iter().map(|b| annotations_of(b).len()).collect();
    assert_eq!(sizes, [50, 50, 20]);
    assert_eq!(updates[0]["status"], "completed");
    assert_eq!(updates[0]["conclusion"], "failure");
    for later in &updates[1..] {
        assert!(later.get("status").is_none() && later.get("conclusion").is_none());
        assert_eq!(later["output"]["title"], "120 findings");
        assert_eq!(later["output"]["summary"], "summary");
    }
    let lines: Vec<u64> = updates
        .iter()
        .flat_map(annotations_of)
        .filter_map(|a| a["start_line"].as_u64())
        .collect();
    assert_eq!(
        lines,
        (1..=120).collect::<Vec<u64>>(),
        "every one, in order"
    );
    let levels: Vec<&str> = updates[0]["output"]["annotations"]
        .as_array()
        .expect("annotations")
        .iter()
        .take(3)
        .filter_map(|a| a["annotation_level"].as_str())
        .collect();
    assert_eq!(levels, ["warning", "notice", "failure"]);
}

#[tokio::test]
async fn long_texts_are_cut_to_the_limits_and_astral_characters_replaced() {
    let api = FakeGitHub::start("", vec![created(9), answer(200, json!({}))]).await;
    let run = CheckRun::start_with(api.target(None), "goldsmith / 🚀 launch", quick())
        .await
        .expect("started");
    let row = "| install-fslogix | ✅ succeeded | 3m 12s | Grüße, 東京 🚀 |\n";
    let summary = format!("# Résumé\n\n{}", row.repeat(200_000 / row.len() + 1));
    assert!(summary.len() > 200_000);
    let mut long = annotation(3, AnnotationLevel::Warning);
    long.title = Some(format!("{}🚀", "t".repeat(300)));
    long.message = "disk 💾 full".to_string();
    run.finish(Conclusion::Success, "Done 🎉", &summary, &[long])
        .await
        .expect("finished");

    let requests = api.requests();
    let create = requests[0].json();
    assert_eq!(create["name"], "goldsmith / \u{FFFD} launch");
    let update = requests[1].json();
    let sent = update["output"]["summary"].as_str().expect("summary");
    assert!(sent.len() <= SUMMARY_MAX_BYTES, "{} bytes", sent.len());
    assert!(
        sent.len() > SUMMARY_MAX_BYTES - 2_000,
        "cut no more than needed"
    );
    assert!(sent.ends_with(TRUNCATION_NOTE));
    assert!(sent.starts_with("# Résumé\n\n| install-fslogix"));
    assert!(
        no_astral(&requests[1].body),
        "no character above U+FFFF anywhere"
    );
    assert_eq!(update["output"]["title"], "Done \u{FFFD}");
    let a = &annotations_of(&update)[0];
    let title = a["title"].as_str().expect("title");
    assert_eq!(title.chars().count(), 255);
    assert!(title.ends_with('…'));
    assert_eq!(a["message"], "disk \u{FFFD} full");
}

#[tokio::test]
async fn a_pull_request_check_goes_on_the_head_commit_not_the_merge_commit() {
    let api = FakeGitHub::start("/api/v3", vec![created(5)]).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        json!({"action": "synchronize", "number": 3, "pull_request": {
            "head": {"sha": HEAD_SHA, "ref": "feature"},
            "base": {"sha": SHA, "ref": "main"},
        }})
        .to_string(),
    )
    .expect("write the event");
    for event_name in ["pull_request", "pull_request_target"] {
        let env: HashMap<String, String> = [
            ("GITHUB_API_URL", api.base.as_str()),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_SHA", SHA),
            ("GITHUB_EVENT_NAME", event_name),
            ("GITHUB_EVENT_PATH", event.to_str().expect("a UTF-8 path")),
            ("INPUT_GITHUB-TOKEN", TOKEN),
            ("INPUT_CHECK-RUN-ID", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let target = target_from_env(&env).expect("a target");
        assert_eq!(target.head_sha, HEAD_SHA, "{event_name}");
        assert_eq!(target.existing_id, None);
        assert_eq!(target.api_url, api.base);
    }

    let env: HashMap<String, String> = [
        ("GITHUB_API_URL", api.base.as_str()),
        ("GITHUB_REPOSITORY", "o/r"),
        ("GITHUB_SHA", SHA),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_EVENT_PATH", event.to_str().expect("a UTF-8 path")),
        ("INPUT_GITHUB-TOKEN", TOKEN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let target = target_from_env(&env).expect("a target");
    CheckRun::start_with(target, "goldsmith / demo", quick())
        .await
        .expect("started");
    assert_eq!(api.requests()[0].json()["head_sha"], HEAD_SHA);

    let mut broken = env.clone();
    broken.insert(
        "GITHUB_EVENT_PATH".into(),
        dir.path().join("missing.json").display().to_string(),
    );
    let reason = target_from_env(&broken).expect_err("no head commit");
    assert!(reason.contains("missing.json"), "{reason}");
}

#[tokio::test]
async fn the_jobs_own_check_run_is_only_patched_and_not_concluded() {
    let api = FakeGitHub::start(
        "",
        vec![
            answer(200, json!({"id": 9001})),
            answer(200, json!({"id": 9001})),
        ],
    )
    .await;
    let run = CheckRun::start_with(api.target(Some(9001)), "goldsmith / demo", quick())
        .await
        .expect("started");
    assert!(!run.is_created());
    run.finish(
        Conclusion::Success,
        "All 3 operations succeeded",
        "ok",
        &[annotation(1, AnnotationLevel::Notice)],
    )
    .await
    .expect("finished");

    let requests = api.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.method == "PATCH"));
    assert!(
        requests
            .iter()
            .all(|r| r.path == "/repos/o/r/check-runs/9001")
    );
    assert_eq!(requests[0].json(), json!({"status": "in_progress"}));
    let update = requests[1].json();
    assert!(update.get("conclusion").is_none() && update.get("status").is_none());
    assert_eq!(update["output"]["title"], "All 3 operations succeeded");
    assert_eq!(annotations_of(&update).len(), 1);
}

#[tokio::test]
async fn a_read_only_token_is_forbidden_once_and_says_why() {
    let denied = || {
        answer(
            403,
            json!({"message": "Resource not accessible by integration",
                   "documentation_url": "https://docs.github.com/rest/checks/runs#create-a-check-run"}),
        )
    };
    let api = FakeGitHub::start("", vec![denied()]).await;
    let error = CheckRun::start_with(api.target(None), "goldsmith / demo", quick())
        .await
        .err()
        .expect("forbidden");
    assert_eq!(
        error,
        CheckRunError::Forbidden {
            message: "Resource not accessible by integration".into()
        }
    );
    assert_eq!(api.requests().len(), 1, "a plain 403 is not retried");
    let warning = error.warning();
    assert!(
        warning.contains("fork") && warning.contains("checks: write"),
        "{warning}"
    );
    assert!(!warning.contains(TOKEN));

    // The same when only the update is refused (the job's own run, say).
    let api = FakeGitHub::start("", vec![answer(200, json!({})), denied()]).await;
    let run = CheckRun::start_with(api.target(Some(1)), "goldsmith / demo", quick())
        .await
        .expect("started");
    let error = run
        .finish(Conclusion::Success, "t", "s", &[])
        .await
        .expect_err("forbidden");
    assert!(matches!(error, CheckRunError::Forbidden { .. }));
}

#[tokio::test]
async fn a_bad_gateway_is_retried_after_looking_for_a_run_it_may_have_made() {
    let api = FakeGitHub::start(
        "/api/v3",
        vec![
            answer(502, json!({"message": "Server Error"})),
            answer(200, json!({"total_count": 0, "check_runs": []})),
            created(11),
            answer(200, json!({})),
        ],
    )
    .await;
    let run = CheckRun::start_with(api.target(None), "goldsmith / 05-golden-image", quick())
        .await
        .expect("started after a retry");
    assert_eq!(run.id(), 11);
    run.finish(Conclusion::Success, "ok", "ok", &[])
        .await
        .expect("finished");
    let requests = api.requests();
    let calls: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("POST", "/api/v3/repos/o/r/check-runs"),
            (
                "GET",
                "/api/v3/repos/o/r/commits/0123456789abcdef0123456789abcdef01234567/check-runs?check_name=goldsmith%20%2F%2005-golden-image&filter=all&per_page=100"
            ),
            ("POST", "/api/v3/repos/o/r/check-runs"),
            ("PATCH", "/api/v3/repos/o/r/check-runs/11"),
        ]
    );
    assert_eq!(
        requests[0].body, requests[2].body,
        "the same create, retried"
    );
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_found_not_made_twice() {
    let found: Step = Box::new(|log: &[Captured]| {
        let external_id = log[0].json()["external_id"].clone();
        reply(
            200,
            json!({"total_count": 2, "check_runs": [
                {"id": 1, "external_id": "someone-else", "html_url": "https://github.com/o/r/runs/1"},
                {"id": 12, "external_id": external_id, "html_url": "https://github.com/o/r/runs/12"},
            ]}),
        )
    });
    let api = FakeGitHub::start("", vec![Box::new(|_: &[Captured]| Reply::Hang), found]).await;
    let policy = RetryPolicy {
        request_timeout: Duration::from_millis(300),
        ..quick()
    };
    let run = CheckRun::start_with(api.target(None), "goldsmith / demo", policy)
        .await
        .expect("found");
    assert_eq!(run.id(), 12);
    let methods: Vec<String> = api.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["POST", "GET"]);
}

#[tokio::test]
async fn secondary_rate_limits_wait_for_retry_after_or_give_up() {
    let api = FakeGitHub::start(
        "",
        vec![
            Box::new(|_: &[Captured]| {
                reply_with(
                    403,
                    &[("retry-after", "0")],
                    json!({"message": "You have exceeded a secondary rate limit."}),
                )
            }),
            created(3),
            Box::new(|_: &[Captured]| {
                reply_with(
                    429,
                    &[("retry-after", "120")],
                    json!({"message": "You have exceeded a secondary rate limit."}),
                )
            }),
        ],
    )
    .await;
    let run = CheckRun::start_with(api.target(None), "goldsmith / demo", quick())
        .await
        .expect("started after waiting");
    assert_eq!(run.id(), 3);
    let methods: Vec<String> = api.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(
        methods,
        ["POST", "POST"],
        "a rate limit took no effect: no lookup"
    );

    let started = Instant::now();
    let error = run
        .finish(Conclusion::Success, "t", "s", &[])
        .await
        .expect_err("two minutes is past the budget");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(&error, CheckRunError::RateLimited { status: 429, message } if message.contains("120s")),
        "{error}"
    );
    assert_eq!(api.requests().len(), 3);
}

#[tokio::test]
async fn an_api_that_is_down_costs_a_bounded_wait_and_an_error() {
    // A port that was free a moment ago: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let target = CheckRunTarget {
        api_url: format!("http://127.0.0.1:{port}"),
        token: TOKEN.to_string(),
        owner: "o".to_string(),
        repo: "r".to_string(),
        head_sha: SHA.to_string(),
        existing_id: None,
    };
    let started = Instant::now();
    let error = CheckRun::start_with(target, "goldsmith / demo", quick())
        .await
        .err()
        .expect("unreachable");
    assert!(matches!(error, CheckRunError::Transport(_)), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));

    let api = FakeGitHub::start(
        "",
        vec![
            Box::new(|_: &[Captured]| Reply::Hang),
            Box::new(|_: &[Captured]| Reply::Hang),
            Box::new(|_: &[Captured]| Reply::Hang),
            Box::new(|_: &[Captured]| Reply::Hang),
        ],
    )
    .await;
    let policy = RetryPolicy {
        attempts: 2,
        request_timeout: Duration::from_millis(200),
        ..quick()
    };
    let started = Instant::now();
    let error = CheckRun::start_with(api.target(Some(4)), "goldsmith / demo", policy)
        .await
        .err()
        .expect("no answer");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(error.to_string().contains("no answer within"), "{error}");
    assert_eq!(api.requests().len(), 2, "tried as often as the policy says");
}

/// The CLI may hold a run across awaits and spawn its calls on a
/// multi-threaded runtime.
#[test]
fn runs_and_their_calls_can_cross_threads() {
    fn sendable<T: Send>(_: &T) {}
    fn shared<T: Send + Sync>() {}
    shared::<CheckRun>();
    let target = CheckRunTarget {
        api_url: "http://127.0.0.1:9".to_string(),
        token: TOKEN.to_string(),
        owner: "o".to_string(),
        repo: "r".to_string(),
        head_sha: SHA.to_string(),
        existing_id: None,
    };
    sendable(&CheckRun::start(target, "goldsmith / demo"));
    let finish = |run: &'static CheckRun| run.finish(Conclusion::Success, "t", "s", &[]);
    let _ = |run: &'static CheckRun| sendable(&finish(run));
}
