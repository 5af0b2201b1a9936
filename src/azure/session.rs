//! A sign-in that lasts the build.
//!
//! az stores the federated token it signed in with and hands it to Entra ID
//! whenever it needs a new access token; GitHub's ID token expires minutes
//! after it was issued, so about an hour into a build (when the first access
//! token runs out) every az call fails with `AADSTS700024`. goldsmith therefore
//! signs in again with a fresh ID token from the runner: before an attempt
//! (or an idempotency check) starts once half of the access token's lifetime
//! has passed, and after an attempt Azure refused (class `auth`, or an
//! `AADSTS` error among what its script printed: `auth_failure`); the unit
//! then retries that operation once. A renewal that fails is logged, and the
//! next attempt tries again.
//!
//! **Why each sign-in gets a configuration directory of its own.** Other
//! operations' az processes keep running while goldsmith signs in again, and
//! az 2.91 does not write its files safely for concurrent readers:
//! `azure/cli/core/_session.py` rewrites `azureProfile.json` in place
//! (`open(…, 'w')` then `json.dump`), and a reader that meets the file half
//! written logs "Failed to load or parse file" and *saves its empty default
//! over it*, signing every process out; the service principal store
//! (`service_principal_entries.json`, msal-extensions' `FilePersistence`)
//! is truncated and rewritten under a lock its readers do not take. So a new
//! sign-in never touches a directory in use: it copies the settings
//! (`config`, with `az config` values and the selected cloud, and
//! `clouds.config`, the registered clouds) into a new directory, signs in
//! there, and from then on new processes get `AZURE_CONFIG_DIR` pointing at
//! it. Processes already running keep their directory and the access token
//! they hold; one that outlives it fails with `auth` and is retried in the
//! new sign-in. Extensions stay where they were (`AZURE_EXTENSION_DIR` is
//! pinned to the first directory's), so none is installed twice.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::classify;
use super::login::{self, Az, LoggedIn, LoginError};
use super::sign_in::SignIn;
use crate::record::event::{AttemptOutcome, AttemptResult};
use crate::record::failure::FailureClass;

/// How a session signs in, and where.
pub struct Setup {
    pub sign_in: SignIn,
    pub az: PathBuf,
    /// The environment az runs with (the operations'), whose
    /// `AZURE_CONFIG_DIR` (or `~/.azure`) holds the settings each sign-in starts from.
    pub env: Vec<(String, String)>,
    /// Where the sign-ins' directories go, made private (0700).
    pub root: PathBuf,
    /// Removes `root` when the session ends (a temporary directory).
    pub remove_root: bool,
    /// Sees each new secret (an ID token) before az is given it: masks it.
    pub on_secret: Box<dyn Fn(&str) + Send + Sync>,
}

/// The sign-in in use.
#[derive(Clone, Debug)]
struct Current {
    generation: u32,
    dir: PathBuf,
    signed_in_at: jiff::Timestamp,
    expires_at: Option<jiff::Timestamp>,
}

/// A new sign-in, for the log and the events.
#[derive(Clone, Debug)]
pub struct Renewed {
    pub generation: u32,
    pub reason: String,
    /// False when another operation had signed in again already.
    pub new: bool,
}

/// The signed-in Azure CLI configuration every operation's az uses; shared by
/// the units of a run, which ask it to sign in again (`renew_if_due`,
/// `renew_after_auth_failure`).
pub struct Session {
    setup: Setup,
    template: PathBuf,
    extensions: PathBuf,
    current: Mutex<Current>,
    renewing: tokio::sync::Mutex<()>,
}

impl Session {
    /// Signs in for the first time.
    pub fn start(setup: Setup) -> Result<Arc<Session>, LoginError> {
        let var = |name: &str| {
            setup
                .env
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| PathBuf::from(v))
        };
        let template = var("AZURE_CONFIG_DIR")
            .or_else(|| var("HOME").map(|h| h.join(".azure")))
            .unwrap_or_else(|| PathBuf::from(".azure"));
        let extensions =
            var("AZURE_EXTENSION_DIR").unwrap_or_else(|| template.join("cliextensions"));
        private_dir(&setup.root).map_err(|source| spawn_error(&setup.root, source))?;
        let session = Session {
            template,
            extensions,
            current: Mutex::new(Current {
                generation: 0,
                dir: PathBuf::new(),
                signed_in_at: jiff::Timestamp::now(),
                expires_at: None,
            }),
            renewing: tokio::sync::Mutex::new(()),
            setup,
        };
        session.sign_in_anew(1)?;
        Ok(Arc::new(session))
    }

    pub fn method(&self) -> &'static str {
        self.setup.sign_in.method()
    }

    /// What a process starting now needs to use the current sign-in.
    pub fn env(&self) -> Vec<(String, String)> {
        let dir = self.lock().dir.display().to_string();
        vec![
            ("AZURE_CONFIG_DIR".into(), dir),
            (
                "AZURE_EXTENSION_DIR".into(),
                self.extensions.display().to_string(),
            ),
        ]
    }

    /// Which sign-in processes starting now use (1 for the first).
    pub fn generation(&self) -> u32 {
        self.lock().generation
    }

    /// When the current access token expires (OIDC sign-ins only).
    pub fn expires_at(&self) -> Option<jiff::Timestamp> {
        self.lock().expires_at
    }

    /// Signs in again when half the access token's lifetime has passed.
    pub async fn renew_if_due(self: &Arc<Self>) -> Option<Result<Renewed, String>> {
        if !self.setup.sign_in.needs_renewal() {
            return None;
        }
        let _one = self.renewing.lock().await;
        let current = self.lock().clone();
        let expires_at = current.expires_at?;
        let half = current.signed_in_at.duration_until(expires_at) / 2;
        let due = current.signed_in_at.checked_add(half).ok()?;
        if jiff::Timestamp::now() < due {
            return None;
        }
        let reason = format!(
            "the access token expires at {} (signed in at {})",
            shown(expires_at),
            shown(current.signed_in_at)
        );
        Some(self.renew(current.generation + 1, reason).await)
    }

    /// Signs in again after Azure refused an attempt that used sign-in
    /// `generation` (`auth_failure`); `None` when this sign-in is not renewed
    /// (a secret or a managed identity: az renews those itself). When another
    /// unit already signed in again since, its sign-in is the answer.
    pub async fn renew_after_auth_failure(
        self: &Arc<Self>,
        generation: u32,
        failure: &str,
    ) -> Option<Result<Renewed, String>> {
        if !self.setup.sign_in.needs_renewal() {
            return None;
        }
        let _one = self.renewing.lock().await;
        let current = self.generation();
        if current > generation {
            return Some(Ok(Renewed {
                generation: current,
                reason: format!(
                    "another operation signed in again after this attempt started; {failure}"
                ),
                new: false,
            }));
        }
        let reason = format!("Azure refused the sign-in an attempt used: {failure}");
        Some(self.renew(current + 1, reason).await)
    }

    async fn renew(self: &Arc<Self>, generation: u32, reason: String) -> Result<Renewed, String> {
        let session = self.clone();
        tokio::task::spawn_blocking(move || session.sign_in_anew(generation))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        Ok(Renewed {
            generation,
            reason,
            new: true,
        })
    }

    /// Signs in into a new directory and makes it the current one.
    fn sign_in_anew(&self, generation: u32) -> Result<(), LoginError> {
        let dir = self.setup.root.join(generation.to_string());
        private_dir(&dir).map_err(|source| spawn_error(&dir, source))?;
        for file in ["config", "clouds.config"] {
            let from = self.template.join(file);
            if from.is_file() {
                std::fs::copy(&from, dir.join(file))
                    .map_err(|source| spawn_error(&from, source))?;
            }
        }
        let mut env = self.setup.env.clone();
        env.push(("AZURE_CONFIG_DIR".into(), dir.display().to_string()));
        env.push((
            "AZURE_EXTENSION_DIR".into(),
            self.extensions.display().to_string(),
        ));
        let az = Az {
            program: &self.setup.az,
            env,
        };
        let signed_in_at = jiff::Timestamp::now();
        let LoggedIn { expires_at, .. } =
            login::login(&self.setup.sign_in, &az, &*self.setup.on_secret)?;
        *self.lock() = Current {
            generation,
            dir,
            signed_in_at,
            expires_at,
        };
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.setup.remove_root {
            let _ = std::fs::remove_dir_all(&self.setup.root);
        }
    }
}

/// Why a failed attempt shows that az's sign-in no longer works, if it does:
/// class `auth` (a run-command's az), or, for a script, an az error among the
/// lines it printed since attempt `attempt` started (`log_tail`, the op
/// log's last lines) that the classifier calls `auth` (`AADSTS700024`).
pub fn auth_failure(outcome: &AttemptOutcome, attempt: u32, log_tail: &[String]) -> Option<String> {
    if outcome.passed() || outcome.result == AttemptResult::Cancelled {
        return None;
    }
    if outcome.failure_class() == Some(FailureClass::Auth) {
        return Some(outcome.message.clone());
    }
    let started = format!("[goldsmith] attempt {attempt} started");
    let since = log_tail
        .iter()
        .rposition(|l| l.starts_with(&started))
        .map_or(0, |i| i + 1);
    log_tail[since..]
        .iter()
        .find(|line| classify::classify(1, line) == FailureClass::Auth)
        .map(|line| classify::headline(line))
}

fn shown(t: jiff::Timestamp) -> String {
    t.strftime("%H:%M:%S UTC").to_string()
}

/// A new directory under the system's temporary directory for a session's
/// sign-ins (`Setup::root`): never in the run directory, which is uploaded.
pub fn private_temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!("goldsmith-az-{}", uuid::Uuid::new_v4().simple()))
}

/// A directory only this user can read: it will hold tokens.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

fn spawn_error(path: &Path, source: std::io::Error) -> LoginError {
    LoginError::Spawn {
        az: format!("az (its configuration {})", path.display()),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(class: FailureClass) -> AttemptOutcome {
        let result = AttemptResult::Fail {
            class,
            exit_code: Some(1),
            signal: None,
        };
        AttemptOutcome::new(result, "exit code 1")
    }

    #[test]
    fn an_attempt_azure_refused_is_recognised_by_its_class_or_by_what_az_printed() {
        let lines = |text: &str| text.lines().map(String::from).collect::<Vec<_>>();
        let expired = "ERROR: AADSTS700024: Client assertion is not within its valid time range.";
        let tail = lines(&format!(
            "[goldsmith] attempt 1 started at t\n{expired}\n[goldsmith] attempt 1 failed: exit code 1"
        ));
        assert_eq!(
            auth_failure(&failed(FailureClass::ExitCode), 1, &tail).as_deref(),
            Some("AADSTS700024: Client assertion is not within its valid time range.")
        );
        // What an earlier attempt printed does not count for this one.
        let later = [
            tail.clone(),
            lines("[goldsmith] attempt 2 started at t\nboom"),
        ]
        .concat();
        assert_eq!(
            auth_failure(&failed(FailureClass::ExitCode), 2, &later),
            None
        );
        assert_eq!(
            auth_failure(&failed(FailureClass::Auth), 2, &[]).as_deref(),
            Some("exit code 1")
        );
        let cancelled = AttemptOutcome::new(AttemptResult::Cancelled, "cancelled");
        assert_eq!(auth_failure(&cancelled, 1, &tail), None);
        let passed = AttemptOutcome::new(AttemptResult::Pass { exit_code: Some(0) }, String::new());
        assert_eq!(auth_failure(&passed, 1, &tail), None);
    }
}
