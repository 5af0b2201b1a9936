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

fn get(endpoint: &az_sim::standin::Endpoint, path: &str) -> String {
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
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCommandName: group list\r\nConnection: close\r\n\r\n"
    )
    .expect("sends");
    let mut response = String::new();
    let _ = tls.read_to_string(&mut response);
    response
}

#[test]
fn a_client_trusting_only_the_stand_ins_ca_gets_arm_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let running = start(dir.path());
    let endpoint = &running.endpoint;
    let path = format!("/subscriptions/{}/resourcegroups", endpoint.subscription);
    let response = get(endpoint, &path);
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
    let listed = get(endpoint, &path);
    assert!(listed.contains("\"name\":\"made-by-az\""), "{listed}");
    let missing = get(endpoint, &format!("{path}/nope"));
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
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["status"], 404);
    assert_eq!(lines[2]["command"], "group list");
}
