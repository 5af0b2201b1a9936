//! The environment an operation's processes get: defined by goldsmith, never
//! inherited whole.
//!
//! goldsmith's own environment holds credentials (the action's `INPUT_*`
//! values, `GITHUB_TOKEN`, the runner's OIDC request token); an operation
//! that printed `env` would put them into its log, and logs are uploaded as
//! artifacts. So an operation sees only what this module lets through from
//! the host, plus what the run adds: config values, the secrets it uses, the
//! simulator's settings and `GOLDSMITH_*`.

/// Host variables every operation gets, by exact name.
const NAMES: &[&str] = &[
    // The process basics bash and az need.
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "HOSTNAME",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "CI",
    // The Azure CLI's configuration (not its credentials).
    "AZURE_CONFIG_DIR",
    "AZURE_EXTENSION_DIR",
    "AZURE_HTTP_USER_AGENT",
    // Certificates and proxies, which corporate networks need for az to reach Azure.
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CURL_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    // GitHub Actions context that is neither a credential nor a file command.
    "GITHUB_ACTIONS",
    "GITHUB_ACTOR",
    "GITHUB_ACTOR_ID",
    "GITHUB_API_URL",
    "GITHUB_BASE_REF",
    "GITHUB_EVENT_NAME",
    "GITHUB_GRAPHQL_URL",
    "GITHUB_HEAD_REF",
    "GITHUB_JOB",
    "GITHUB_REF",
    "GITHUB_REF_NAME",
    "GITHUB_REF_TYPE",
    "GITHUB_REPOSITORY",
    "GITHUB_REPOSITORY_ID",
    "GITHUB_REPOSITORY_OWNER",
    "GITHUB_RETENTION_DAYS",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_RUN_ID",
    "GITHUB_RUN_NUMBER",
    "GITHUB_SERVER_URL",
    "GITHUB_SHA",
    "GITHUB_TRIGGERING_ACTOR",
    "GITHUB_WORKFLOW",
    "GITHUB_WORKFLOW_REF",
    "GITHUB_WORKFLOW_SHA",
    "GITHUB_WORKSPACE",
    "RUNNER_ARCH",
    "RUNNER_DEBUG",
    "RUNNER_ENVIRONMENT",
    "RUNNER_NAME",
    "RUNNER_OS",
    "RUNNER_TEMP",
    "RUNNER_TOOL_CACHE",
];

/// Host variables every operation gets, by prefix: locale categories and the
/// Azure CLI's `az config` settings (`AZURE_CORE_OUTPUT`, `AZURE_DEFAULTS_GROUP`).
const PREFIXES: &[&str] = &["LC_", "AZURE_CORE_", "AZURE_DEFAULTS_"];

/// What an operation inherits from `host` (goldsmith's own environment).
pub fn inherited(host: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    host.into_iter().filter(|(name, _)| passes(name)).collect()
}

fn passes(name: &str) -> bool {
    NAMES.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Credentials goldsmith itself may find in its environment. Operations never
/// see them (`inherited` lets none through), and their values are masked in
/// every output in case an operation obtains one some other way.
pub fn credentials(host: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    host.into_iter()
        .filter(|(name, value)| !value.is_empty() && is_credential(name))
        .map(|(_, value)| value)
        .collect()
}

fn is_credential(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    matches!(
        upper.as_str(),
        "GITHUB_TOKEN"
            | "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
            | "ACTIONS_RUNTIME_TOKEN"
            | "ACTIONS_RESULTS_URL"
            | "INPUT_GITHUB-TOKEN"
            | "INPUT_GITHUB_TOKEN"
            | "INPUT_CLIENT-SECRET"
            | "INPUT_CLIENT_SECRET"
            | "INPUT_CREDS"
            | "AZURE_CLIENT_SECRET"
            | "AZURE_CLIENT_CERTIFICATE_PASSWORD"
            | "AZURE_FEDERATED_TOKEN"
            | "ARM_CLIENT_SECRET"
            | "ARM_OIDC_TOKEN"
    )
}

/// Where `name` is on the `PATH` of `env` (the last `PATH` in it, as a child
/// would see it), relative entries taken from `cwd`: the file a child's own
/// lookup would execute. Found once per run, so that each spawn execs it
/// directly instead of trying every `PATH` entry in turn.
pub fn find_program(
    name: &str,
    env: &[(String, String)],
    cwd: &std::path::Path,
) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = env.iter().rev().find(|(k, _)| k == "PATH")?;
    path.1
        .split(':')
        .map(|dir| cwd.join(if dir.is_empty() { "." } else { dir }).join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_is_found_on_the_last_path_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        for sub in ["a", "b"] {
            std::fs::create_dir(dir.path().join(sub)).expect("dir");
        }
        let tool = |sub: &str, mode: u32| {
            use std::os::unix::fs::PermissionsExt;
            let path = dir.path().join(sub).join("tool");
            std::fs::write(&path, "").expect("write");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("mode");
            path
        };
        tool("a", 0o644);
        let runnable = tool("b", 0o755);
        let env = |path: &str| {
            vec![
                ("PATH".to_string(), "/nowhere".to_string()),
                ("PATH".to_string(), path.to_string()),
            ]
        };
        // Not executable in `a`; relative entries are taken from `cwd`.
        assert_eq!(
            find_program("tool", &env("/nowhere:a:b"), dir.path()),
            Some(runnable)
        );
        assert_eq!(find_program("tool", &env("a"), dir.path()), None);
        assert_eq!(find_program("tool", &[], dir.path()), None);
    }

    fn host(names: &[&str]) -> Vec<(String, String)> {
        names
            .iter()
            .map(|n| (n.to_string(), format!("value-of-{n}")))
            .collect()
    }

    #[test]
    fn credentials_and_file_commands_never_pass() {
        let env = host(&[
            "PATH",
            "INPUT_GITHUB-TOKEN",
            "INPUT_CLIENT-SECRET",
            "INPUT_COMMAND",
            "GITHUB_TOKEN",
            "GITHUB_OUTPUT",
            "GITHUB_ENV",
            "GITHUB_PATH",
            "GITHUB_STEP_SUMMARY",
            "GITHUB_STATE",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_RUNTIME_TOKEN",
            "AZURE_CLIENT_SECRET",
            "AZURE_CORE_OUTPUT",
            "GITHUB_SHA",
            "LC_ALL",
            "SOME_OTHER_VARIABLE",
        ]);
        let names: Vec<String> = inherited(env).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["PATH", "AZURE_CORE_OUTPUT", "GITHUB_SHA", "LC_ALL"].map(String::from)
        );
    }

    #[test]
    fn credentials_are_found_by_name() {
        let env = host(&[
            "GITHUB_TOKEN",
            "input_github-token",
            "PATH",
            "INPUT_COMMAND",
        ]);
        assert_eq!(
            credentials(env),
            ["value-of-GITHUB_TOKEN", "value-of-input_github-token"].map(String::from)
        );
    }
}
