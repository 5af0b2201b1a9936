//! The stand-in over a real TLS connection: a client that trusts only the CA
//! the stand-in wrote reaches it at `127.0.0.1` and gets ARM's answers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// A stand-in on its own thread; it serves until the value is dropped.
fn start(dir: &std::path::Path) -> az_sim::standin::Running {
    az_sim::standin::start(az_sim::standin::Options {
        dir: dir.to_path_buf(),
        port: 0,
        client_secret: None,
        scenario: None,
        speed: None,
    })
    .expect("the stand-in starts")
}

/// One HTTPS request (`head` holds the request line's method and path, then any headers), the raw response.
fn request(endpoint: &az_sim::standin::Endpoint, head: &str, body: &str) -> String {
    let mut roots = rustls::RootCertStore::empty();
    let ca = CertificateDer::from_pem_file(&endpoint.ca_file).expect("the CA file");
    roots.add(ca).expect("a CA certificate");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let port = endpoint.url.rsplit(':').next().expect("a port");
    let mut tcp = TcpStream::connect(format!("127.0.0.1:{port}")).expect("connects");
    let name = ServerName::try_from("127.0.0.1").expect("an IP name");
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).expect("TLS");
    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
    let (line, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    write!(
        tls,
        "{line} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("sends");
    let mut response = String::new();
    let _ = tls.read_to_string(&mut response);
    response
}

/// An access token from the stand-in's Entra ID (it takes any secret when it was given none).
fn sign_in(endpoint: &az_sim::standin::Endpoint) -> String {
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret=any&scope=https%3A%2F%2Fmanagement.core.windows.net%2F.default",
        endpoint.client_id
    );
    let response = request(
        endpoint,
        &format!(
            "POST /{}/oauth2/v2.0/token\r\nContent-Type: application/x-www-form-urlencoded\r\n",
            endpoint.tenant
        ),
        &form,
    );
    let body = response.split("\r\n\r\n").nth(1).expect("a body");
    let body: serde_json::Value = serde_json::from_str(body).expect("JSON");
    body["access_token"].as_str().expect("a token").to_string()
}

#[test]
fn a_client_trusting_only_the_stand_ins_ca_gets_arm_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let running = start(dir.path());
    let endpoint = &running.endpoint;
    let path = format!("/subscriptions/{}/resourcegroups", endpoint.subscription);
    let anonymous = request(endpoint, &format!("GET {path}"), "");
    assert!(
        anonymous.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{anonymous}"
    );
    assert!(
        anonymous.contains("\"AuthenticationFailed\""),
        "{anonymous}"
    );
    let token = sign_in(endpoint);
    let get = |path: &str| {
        request(
            endpoint,
            &format!("GET {path}\r\nAuthorization: Bearer {token}\r\nCommandName: group list\r\n"),
            "",
        )
    };
    let response = get(&path);
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("{\"value\":[]}"), "{response}");
    // The built-in az and the stand-in share one world: what one makes, the other serves.
    let made = std::process::Command::new(env!("CARGO_BIN_EXE_az"))
        .args([
            "group",
            "create",
            "-n",
            "made-by-az",
            "-l",
            "westeurope",
            "-o",
            "none",
        ])
        .env("GOLDSMITH_SIM_DIR", dir.path())
        .output()
        .expect("the built-in az runs");
    assert!(made.status.success(), "{made:?}");
    let listed = get(&path);
    assert!(listed.contains("\"name\":\"made-by-az\""), "{listed}");
    let missing = get(&format!("{path}/nope"));
    assert!(
        missing.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{missing}"
    );
    assert!(
        missing.contains("\"code\":\"ResourceGroupNotFound\""),
        "{missing}"
    );
    // Every request is in the log, with the az command that made it.
    let log = std::fs::read_to_string(&endpoint.log_file).expect("the request log");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["status"], 401);
    assert_eq!(lines[4]["status"], 404);
    assert_eq!(lines[4]["command"], "group list");
}
