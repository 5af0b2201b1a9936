//! The shipped library's downloads are pinned: every install-apps app has a versioned
//! URL and a SHA-256, every download URL in config.example.yaml is versioned, and every
//! script that downloads a configured URL checks it against the configured SHA-256.
//! These read the repository's files; they fail when a pin is lost.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{LIBRARY_CAPABILITIES, all_files, repo};
use serde_json::Value;

/// Parts of a URL that serve whatever build is current, so a SHA-256 cannot stay valid.
const ROLLING: [&str; 11] = [
    "latest",
    "/main.zip",
    "/master.zip",
    "/refs/heads/",
    "aka.ms/",
    "go.microsoft.com/fwlink",
    "linkid=",
    "/stable/",
    // Google's enterprise MSI path: always the newest Chrome.
    "/dl/chrome/install/",
    // The Office CDN's setup.exe: always the newest Office Deployment Tool.
    "/pr/wsus/setup.exe",
    "/current/",
];

/// Configured URLs another program downloads (not a script of the library), so no
/// `_sha256` sits next to them: the AVD DSC package goes to Azure's DSC extension.
const NOT_DOWNLOADED_BY_A_SCRIPT: [&str; 1] = ["SESSION_HOSTS_DSC_CONFIGURATION_URL"];

/// Pinned by version but shipped without a SHA-256, each for a reason in config.example.yaml:
/// GitHub generates commit archives on request and does not promise identical bytes.
const NO_TRUSTWORTHY_HASH: [&str; 1] = ["GOLDEN_IMAGE_VDOT_SHA256"];

fn rolling_part(url: &str) -> Option<&'static str> {
    let lower = url.to_ascii_lowercase();
    ROLLING.into_iter().find(|part| lower.contains(part))
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit())
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read");
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn library_operations() -> Vec<(String, Value, String)> {
    let mut ops = Vec::new();
    for cap in LIBRARY_CAPABILITIES {
        for file in all_files(&repo().join("capabilities").join(cap)) {
            let text = std::fs::read_to_string(&file).expect("read");
            ops.push((file.display().to_string(), yaml(&file), text));
        }
    }
    ops
}

/// config.example.yaml's scalar leaves, named as goldsmith names them (`a.b_c` → `A_B_C`).
fn config_leaves() -> BTreeMap<String, String> {
    fn walk(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let name = if prefix.is_empty() {
                        k.to_ascii_uppercase()
                    } else {
                        format!("{prefix}_{}", k.to_ascii_uppercase())
                    };
                    walk(&name, v, out);
                }
            }
            Value::String(s) => {
                out.insert(prefix.to_string(), s.clone());
            }
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", &yaml(&repo().join("config.example.yaml")), &mut out);
    out
}

#[test]
fn every_shipped_app_has_a_versioned_https_url_and_a_sha256() {
    let mut apps = 0;
    for (file, op, _) in library_operations() {
        let Some(list) = op["operation"]["apps"].as_array() else {
            continue;
        };
        for app in list {
            apps += 1;
            let name = app["name"].as_str().expect("name");
            let url = app["url"].as_str().expect("url");
            assert!(
                url.starts_with("https://") && !url.contains("{{"),
                "{file}: app `{name}` has no literal https URL next to its sha256: {url}"
            );
            if let Some(part) = rolling_part(url) {
                panic!("{file}: app `{name}` downloads a rolling URL (`{part}`): {url}");
            }
            let sha = app["sha256"].as_str().unwrap_or("");
            assert!(
                is_sha256(sha),
                "{file}: app `{name}` has no 64-digit sha256 (found `{sha}`)"
            );
        }
    }
    assert!(
        apps >= 8,
        "the library installs its apps with install-apps: {apps}"
    );
}

#[test]
fn every_configured_download_is_versioned_and_has_its_sha256() {
    let config = config_leaves();
    let urls: Vec<(&String, &String)> = config
        .iter()
        .filter(|(k, v)| k.ends_with("_URL") && !v.is_empty())
        .collect();
    assert!(urls.len() >= 4, "{urls:?}");
    for (key, url) in urls {
        assert!(url.starts_with("https://"), "{key} is not https: {url}");
        if let Some(part) = rolling_part(url) {
            panic!("config.example.yaml: {key} is a rolling URL (`{part}`): {url}");
        }
        if NOT_DOWNLOADED_BY_A_SCRIPT.contains(&key.as_str()) {
            continue;
        }
        let sha_key = format!("{}_SHA256", key.trim_end_matches("_URL"));
        let sha = config
            .get(&sha_key)
            .unwrap_or_else(|| panic!("config.example.yaml: {key} has no {sha_key} beside it"));
        assert!(
            is_sha256(sha) || (sha.is_empty() && NO_TRUSTWORTHY_HASH.contains(&sha_key.as_str())),
            "config.example.yaml: {sha_key} is not a SHA-256: `{sha}`"
        );
    }
}

#[test]
fn every_script_that_downloads_a_configured_url_checks_its_sha256() {
    let mut downloads = 0;
    for (file, _, text) in library_operations() {
        for line in text.lines().filter(|l| l.contains("Invoke-WebRequest")) {
            let Some(start) = line.find("{{") else {
                continue;
            };
            let end = line[start..].find("}}").expect("closed placeholder") + start;
            let url = line[start + 2..end].trim();
            let Some(base) = url.strip_suffix("_URL") else {
                continue;
            };
            downloads += 1;
            let sha = format!("{{{{{base}_SHA256}}}}");
            assert!(
                text.contains(&sha) && text.contains("Get-FileHash -Algorithm SHA256"),
                "{file}: downloads {{{{{url}}}}} without checking it against {sha}"
            );
        }
    }
    assert!(downloads >= 4, "scripted downloads found: {downloads}");
}

#[test]
fn the_rolling_url_check_catches_what_it_is_for() {
    for url in [
        "https://github.com/o/r/archive/refs/heads/main.zip",
        "https://aka.ms/fslogix_download",
        "https://dl.google.com/dl/chrome/install/googlechromestandaloneenterprise64.msi",
        "https://officecdn.microsoft.com/pr/wsus/setup.exe",
        "https://go.microsoft.com/fwlink/?linkid=2243204",
        "https://example.com/releases/latest/download/tool.exe",
    ] {
        assert!(rolling_part(url).is_some(), "{url}");
    }
    assert_eq!(
        rolling_part("https://7-zip.org/a/7z2602-x64.msi"),
        None,
        "a versioned URL passes"
    );
}
