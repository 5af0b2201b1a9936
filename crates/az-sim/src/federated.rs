//! A federated (OIDC) sign-in of the built-in az, as Entra ID and MSAL treat
//! it: `az login --federated-token` keeps the assertion; an access token
//! lives an hour (or the scenario's `token_lifetime`, the stand-in's rule);
//! MSAL asks for a new one when less than five minutes are left, and Entra
//! ID refuses the kept assertion once its `exp` has passed (`AADSTS700024`).
//! So a long run that does not sign in again fails as it would on Azure.
//!
//! Sign-ins are kept per `AZURE_CONFIG_DIR` (a new directory is a new
//! sign-in, as for the real az), in the world, under its lock.

use serde::{Deserialize, Serialize};

use super::clock::unix_now;
use super::error::AzError;
use super::sim::Sim;
use super::standin::entra;

/// How long before its expiry MSAL counts an access token as expired.
const MSAL_MARGIN_SECS: f64 = 300.0;

/// A sign-in with a federated token, in real (Unix) seconds: Entra ID and
/// MSAL go by the wall clock, not the simulated one.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FederatedLogin {
    pub assertion_nbf: Option<i64>,
    pub assertion_exp: i64,
    pub token_expires: f64,
}

/// `az login --federated-token`: refused as Entra ID refuses the assertion,
/// else kept for this `AZURE_CONFIG_DIR` with a fresh access token.
pub fn login(sim: &Sim, assertion: &str) -> Result<(), AzError> {
    let (nbf, exp) = entra::assertion_window(assertion).map_err(refused)?;
    if let Some(outside) = entra::outside_window(nbf, exp) {
        return Err(refused(outside));
    }
    let login = FederatedLogin {
        assertion_nbf: nbf.map(|t| t.as_second()),
        assertion_exp: exp.as_second(),
        token_expires: unix_now() + lifetime(sim),
    };
    let dir = sim.env.config_dir.clone();
    sim.transact(|world, _| world.federated_logins.insert(dir, login))?;
    Ok(())
}

/// A sign-in with a secret (or none) in this configuration: nothing to expire.
pub fn forget(sim: &Sim) -> Result<(), AzError> {
    let dir = sim.env.config_dir.clone();
    sim.transact(|world, _| world.federated_logins.remove(&dir))?;
    Ok(())
}

/// Before a command that needs a token: a new access token when MSAL wants
/// one, which Entra ID refuses once the kept assertion expired. Returns
/// when the access token in use expires (Unix seconds), if federated.
pub fn access_token(sim: &Sim) -> Result<Option<f64>, AzError> {
    let dir = sim.env.config_dir.clone();
    let lifetime = lifetime(sim);
    let outcome = sim.transact(|world, _| {
        let login = world.federated_logins.get_mut(&dir)?;
        let now = unix_now();
        if now + MSAL_MARGIN_SECS < login.token_expires {
            return Some(Ok(login.token_expires));
        }
        let at = |s: i64| jiff::Timestamp::from_second(s).unwrap_or(jiff::Timestamp::MIN);
        let exp = at(login.assertion_exp);
        match entra::outside_window(login.assertion_nbf.map(at), exp) {
            Some(outside) => Some(Err(outside)),
            None => {
                login.token_expires = now + lifetime;
                Some(Ok(login.token_expires))
            }
        }
    })?;
    match outcome {
        None => Ok(None),
        Some(Ok(expires)) => Ok(Some(expires)),
        Some(Err(outside)) => Err(AzError::cli(format!(
            "{}\nRun the command below to authenticate interactively; additional arguments may be added as needed:\naz logout\naz login",
            outside.description()
        ))),
    }
}

fn refused(refused: entra::Refused) -> AzError {
    AzError::cli(refused.description())
}

/// An access token's lifetime in real seconds: the stand-in's rule.
pub fn lifetime(sim: &Sim) -> f64 {
    super::standin::token_lifetime(&sim.scenario, Some(sim.env.speed)).as_secs_f64()
}
