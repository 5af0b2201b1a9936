//! Signing in to Azure: the action's sign-in inputs, the runner's ID token
//! endpoint (a local stand-in here: it checks the bearer token and the
//! audience, as the runner's does), renewal when the federated token expires
//! mid-run, and the preflight checks before the first operation.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Project, all_files, events_of, op_status, real_az};

/// The bearer token the runner gives a job with `id-token: write`.
const BEARER: &str = "runner-request-token-1234";

/// The runner's ID token endpoint: answers `GET …&audience=api%3A%2F%2FAzureADTokenExchange`
/// with the right bearer token by `{"value": <JWT>}`, a JWT valid for `lifetime`.
struct TokenEndpoint {
    url: String,
    issued: Arc<Mutex<Vec<String>>>,
}

impl TokenEndpoint {
    fn start(lifetime: Duration) -> TokenEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!(
            "http://{}/_apis/distributedtask/hubs/build/plans/p/jobs/j/idtoken?api-version=2.0",
            listener.local_addr().expect("addr")
        );
        let issued = Arc::new(Mutex::new(Vec::new()));
        let tokens = issued.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut request = String::new();
                let _ = reader.read_line(&mut request);
                let mut authorized = false;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                        break;
                    }
                    // Header names are case-insensitive (ureq sends them in lower case).
                    let (name, value) = header.split_once(':').unwrap_or_default();
                    authorized |= name.eq_ignore_ascii_case("authorization")
                        && value.trim() == format!("Bearer {BEARER}");
                }
                let audience = request.contains("&audience=api%3A%2F%2FAzureADTokenExchange ");
                let (status, body) = if authorized && audience {
                    let jwt = jwt(lifetime);
                    tokens.lock().expect("lock").push(jwt.clone());
                    ("200 OK", format!("{{\"count\":1,\"value\":\"{jwt}\"}}"))
                } else {
                    (
                        "401 Unauthorized",
                        "{\"message\":\"bad request\"}".to_string(),
                    )
                };
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        TokenEndpoint { url, issued }
    }

    fn issued(&self) -> Vec<String> {
        self.issued.lock().expect("lock").clone()
    }

    /// The variables the runner sets with `permissions: id-token: write`.
    fn env(&self) -> [(&'static str, String); 2] {
        [
            ("ACTIONS_ID_TOKEN_REQUEST_URL", self.url.clone()),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", BEARER.to_string()),
        ]
    }
}

/// A GitHub Actions ID token's shape: header, claims (`nbf`..`exp`), signature.
fn jwt(lifetime: Duration) -> String {
    let now = jiff::Timestamp::now().as_second();
    let claims = format!(
        r#"{{"iss":"https://token.actions.githubusercontent.com","sub":"repo:octo/images:ref:refs/heads/main","aud":"api://AzureADTokenExchange","jti":"{}","nbf":{},"iat":{now},"exp":{}}}"#,
        uuid_like(),
        now - 1,
        now + lifetime.as_secs() as i64
    );
    format!(
        "{}.{}.c2lnbmF0dXJl",
        base64url(br#"{"alg":"RS256","typ":"JWT"}"#),
        base64url(claims.as_bytes())
    )
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        Instant::now().elapsed().as_nanos() ^ u128::from(std::process::id())
    )
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[test]
fn the_token_endpoint_stand_in_checks_the_bearer_and_the_audience() {
    let endpoint = TokenEndpoint::start(Duration::from_secs(60));
    // The status the endpoint answers `url` with, given `bearer`.
    let get = |url: &str, bearer: &str| {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        agent
            .get(url)
            .header("Authorization", &format!("Bearer {bearer}"))
            .call()
            .expect("the endpoint answers")
            .status()
            .as_u16()
    };
    let audience = format!("{}&audience=api%3A%2F%2FAzureADTokenExchange", endpoint.url);
    assert_eq!(get(&audience, BEARER), 200);
    assert_eq!(get(&audience, "wrong"), 401);
    assert_eq!(get(&endpoint.url, BEARER), 401);
    assert_eq!(endpoint.issued().len(), 1);
}

/// A module whose first operation calls az after its federated token expired
/// (on its first attempt only), and whose later ones start after half the
/// access token's lifetime: goldsmith must sign in again for both.
fn expiring_project() -> Project {
    let p = Project::new();
    p.shell_op(
        "slow-group",
        "",
        "az group create --name rg-sign-in --location westeurope --output none\nif [ \"$GOLDSMITH_ATTEMPT\" = 1 ]; then sleep 10; fi\naz group show --name rg-sign-in --output none",
    );
    p.shell_op("wait", "", "sleep 6");
    p.shell_op(
        "later",
        "",
        "az group show --name rg-sign-in --query name --output tsv",
    );
    p.module("m", "    - slow-group\n    - wait\n    - later\n");
    // Access tokens last 10 real seconds (at 100 simulated seconds per second).
    p.file("scenario.yaml", "token_lifetime: 1000s\n");
    p
}

#[test]
fn an_expired_federated_token_is_renewed_through_the_real_az_and_the_run_succeeds() {
    let Some(az) = real_az() else { return };
    let az = az.display().to_string();
    let (_, r) = run_expiring(&["--az-cli", &az]);
    assert!(
        r.stdout
            .contains("signed in to the Azure stand-in at https://127.0.0.1:")
            && r.stdout.contains("(OIDC)"),
        "{}",
        r.stdout
    );
}

#[test]
fn an_expired_federated_token_is_renewed_with_the_built_in_az_and_the_run_succeeds() {
    let (_, r) = run_expiring(&[]);
    assert!(
        r.stdout
            .contains("goldsmith: simulated Azure: signed in with OIDC (the runner's ID token)"),
        "{}",
        r.stdout
    );
}

/// Runs `expiring_project` in an action run with the runner's token endpoint
/// (ID tokens that last 8 seconds: the first is dead when `slow-group` calls
/// az again) and checks that goldsmith signed in again where it had to.
fn run_expiring(extra: &[&str]) -> (Project, common::Run) {
    let p = expiring_project();
    let endpoint = TokenEndpoint::start(Duration::from_secs(8));
    let scenario = p.root().join("scenario.yaml").display().to_string();
    let mut env: Vec<(&str, String)> = endpoint.env().to_vec();
    env.push(("GITHUB_ACTIONS", "true".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut args = vec![
        "run",
        "m",
        "--simulate",
        "--sim-speed",
        "100",
        "--sim-scenario",
        &scenario,
    ];
    args.extend(extra);
    let r = p.run_env(&args, &env);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    let events = p.events();
    let renewed = events_of(&events, "azure_signed_in", "slow-group");
    assert_eq!(renewed.len(), 1, "{events:#?}");
    let reason = renewed[0]["reason"].as_str().expect("reason");
    assert!(
        reason.contains("AADSTS700024: Client assertion is not within its valid time range."),
        "{reason}"
    );
    let state = p.state();
    assert_eq!(op_status(&state, "slow-group"), "succeeded");
    let slow = state["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .find(|o| o["id"] == "slow-group")
        .expect("slow-group");
    assert_eq!(slow["attempts"], 2, "{slow:#}");
    // Half the access token's life gone: `wait` or `later` signs in before its attempt.
    let due: Vec<_> = ["wait", "later"]
        .iter()
        .flat_map(|op| events_of(&events, "azure_signed_in", op))
        .collect();
    assert!(
        due.iter().any(|e| e["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("the access token expires at"))),
        "{events:#?}"
    );
    let log = std::fs::read_to_string(p.latest_run_dir().join("logs/slow-group.log")).expect("log");
    assert!(
        log.contains("[goldsmith] signed in to Azure again (sign-in 2)"),
        "{log}"
    );
    assert!(
        r.stdout
            .contains("AUTH   slow-group: signed in to Azure again (sign-in 2)"),
        "{}",
        r.stdout
    );

    // Every ID token was masked in the runner's log, and none is in the run directory.
    let issued = endpoint.issued();
    assert!(issued.len() >= 3, "{issued:?}");
    for token in &issued {
        assert!(
            r.stdout.contains(&format!("::add-mask::{token}")),
            "{token} not masked"
        );
    }
    for file in all_files(&p.latest_run_dir()) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned();
        let leaked = issued.iter().any(|t| text.contains(t.as_str()));
        assert!(!leaked, "an ID token in {}", file.display());
    }
    (p, r)
}

/// A module whose one operation calls az and leaves a marker if it ran.
fn az_project() -> Project {
    let p = Project::new();
    p.shell_op(
        "show",
        "",
        "touch ran\naz group show --name rg --output none",
    );
    p.module("m", "    - show\n");
    p
}

#[track_caller]
fn assert_nothing_ran(p: &Project) {
    assert!(!p.root().join("ran").exists(), "the operation ran");
    assert!(
        p.run_dirs().is_empty(),
        "a run directory: {:?}",
        p.run_dirs()
    );
}

#[test]
fn preflight_stops_a_run_without_az_at_once() {
    let p = az_project();
    let empty = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let path = empty.path().display().to_string();
    let r = p.run_env(&["run", "m"], &[("PATH", &path)]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "preflight: the Azure CLI (`az`) is not on the operations' PATH ({path}): install it"
        )),
        "{}",
        r.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_nothing_ran(&p);
    // A module of plain bash needs no az.
    p.shell_op("plain", "", "echo plain");
    p.module("bash-only", "    - plain\n");
    let bash = std::env::var("PATH").unwrap_or_default();
    let r = p.run_env(&["run", "bash-only"], &[("PATH", &bash)]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn preflight_stops_a_run_whose_real_az_is_not_signed_in() {
    let Some(az) = real_az() else { return };
    let p = az_project();
    let bin = p.root().join("_bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    std::os::unix::fs::symlink(&az, bin.join("az")).expect("link");
    let config = p.root().join("_az-config");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let config_dir = config.display().to_string();
    let r = p.run_env(
        &["run", "m"],
        &[("PATH", &path), ("AZURE_CONFIG_DIR", &config_dir)],
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "preflight: az is not signed in (Please run 'az login' to setup account.): give the action's sign-in inputs (README, \"Signing in to Azure\") or run `az login`; nothing ran"
        ),
        "{}",
        r.stderr
    );
    assert_nothing_ran(&p);
}

/// An `az` that records its arguments and answers what a sign-in asks.
fn recording_az(p: &Project) -> (String, PathBuf) {
    let bin = p.root().join("_fakebin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let record = p.root().join("_az_calls");
    let script = format!(
        "#!/bin/bash\nprintf '%s\\n' \"$*\" >> '{}'\ncase \"$1 $2\" in\n  'version --output') echo '{{\"azure-cli\": \"2.91.0\"}}' ;;\n  'account show') echo '{{\"id\": \"sub-1\", \"name\": \"Gov\", \"user\": {{\"type\": \"servicePrincipal\", \"name\": \"mi\"}}}}' ;;\nesac\n",
        record.display()
    );
    std::fs::write(bin.join("az"), script).expect("fake az");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("az"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (path, record)
}

#[test]
fn a_user_assigned_managed_identity_signs_in_to_a_sovereign_cloud() {
    let p = az_project();
    let (path, record) = recording_az(&p);
    let r = p.run_env(
        &["run", "m"],
        &[
            ("PATH", &path),
            ("GITHUB_ACTIONS", "true"),
            ("INPUT_AUTH-TYPE", "IDENTITY"),
            ("INPUT_CLIENT-ID", "mi-client-id"),
            ("INPUT_SUBSCRIPTION-ID", "sub-1"),
            ("INPUT_ENVIRONMENT", "azureusgovernment"),
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let calls = std::fs::read_to_string(&record).expect("az calls");
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(
        calls[..3],
        [
            "cloud set --name AzureUSGovernment",
            "login --identity --client-id mi-client-id --output none",
            "account set --subscription sub-1 --output none",
        ],
        "{calls:#?}"
    );
    assert!(
        r.stdout
            .contains("signed in to Azure (user-assigned managed identity, AzureUSGovernment)")
            && r.stdout.contains("preflight: azure-cli 2.91.0 at ")
            && r.stdout.contains("subscription Gov (sub-1)"),
        "{}",
        r.stdout
    );
    assert!(p.root().join("ran").exists());
}

#[test]
fn conflicting_sign_in_inputs_stop_the_run_with_one_message_and_no_secret_shown() {
    let p = az_project();
    let (path, record) = recording_az(&p);
    let creds = r#"{"clientId":"c-id","clientSecret":"creds-secret-value-1","tenantId":"t-id","subscriptionId":"s-id"}"#;
    let conflict = p.run_env(
        &["run", "m"],
        &[
            ("PATH", &path),
            ("GITHUB_ACTIONS", "true"),
            ("INPUT_CREDS", creds),
            ("INPUT_CLIENT-ID", "other"),
        ],
    );
    assert_eq!(conflict.code, 2, "{}{}", conflict.stdout, conflict.stderr);
    assert!(
        conflict.stderr.contains(
            "input `creds` and `client-id` both say how to sign in: give either `creds` alone or"
        ),
        "{}",
        conflict.stderr
    );
    assert!(!conflict.stderr.contains("creds-secret-value-1"));
    assert!(!record.exists(), "az ran");
    assert_nothing_ran(&p);

    // Alone, creds sign in with its secret, and every value of it is masked first.
    let r = p.run_env(
        &["run", "m"],
        &[
            ("PATH", &path),
            ("GITHUB_ACTIONS", "true"),
            ("INPUT_CREDS", creds),
        ],
    );
    // The fake az selects sub-1 whatever it is told: preflight stops the run.
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    for value in ["c-id", "creds-secret-value-1", "t-id", "s-id"] {
        assert!(
            r.stdout.contains(&format!("::add-mask::{value}")),
            "{value}: {}",
            r.stdout
        );
    }
    let calls = std::fs::read_to_string(&record).expect("az calls");
    assert!(
        calls.contains("login --service-principal --username c-id --tenant t-id --password=creds-secret-value-1 --output none"),
        "{calls}"
    );
    assert!(
        r.stderr
            .contains("preflight: az has subscription Gov (sub-1) selected, not s-id"),
        "{}",
        r.stderr
    );
}
