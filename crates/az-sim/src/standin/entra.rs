//! Entra ID as MSAL (inside the Azure CLI) reaches it: OpenID discovery for a
//! tenant, and the token endpoint's client-credentials grant, with a client
//! secret or a federated assertion.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::{Reply, StandIn};

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub fn discovery(standin: &StandIn, tenant: &str) -> Reply {
    let base = format!("{}/{tenant}", standin.url);
    Reply::json(
        200,
        json!({
            "token_endpoint": format!("{base}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{base}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": format!("{base}/v2.0"),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": format!("{}/oidc/userinfo", standin.url),
            "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid"],
            "kerberos_endpoint": format!("{base}/kerberos"),
            "tenant_region_scope": "EU",
            "cloud_instance_name": "goldsmith.local",
            "cloud_graph_host_name": "graph.goldsmith.local",
            "msgraph_host": "graph.goldsmith.local",
            "rbac_url": "https://pas.goldsmith.local"
        }),
    )
}

/// `POST /{tenant}/oauth2/v2.0/token`: the client-credentials grant.
pub fn token(standin: &StandIn, tenant: &str, form: &str) -> Reply {
    let field = |name: &str| {
        form_urlencoded::parse(form.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if field("grant_type").as_deref() != Some("client_credentials") {
        return aadsts(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    let client_id = field("client_id").unwrap_or_default();
    if client_id != standin.env.client_id {
        return aadsts(
            400,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        );
    }
    match (field("client_secret"), field("client_assertion")) {
        (Some(secret), _) if standin.client_secret.as_ref().is_some_and(|s| *s != secret) => {
            return aadsts(
                401,
                "invalid_client",
                7000215,
                &format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
            );
        }
        (None, Some(assertion)) => {
            if let Err(reply) = check_assertion(&assertion) {
                return reply;
            }
        }
        (None, None) => {
            return aadsts(
                401,
                "invalid_client",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
            );
        }
        _ => {}
    }
    let (token, expires_in) = standin.tokens.issue();
    Reply::json(
        200,
        json!({
            "token_type": "Bearer",
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "access_token": token,
        }),
    )
}

/// A federated client assertion is a JWT; Entra ID refuses one that is not
/// well formed, and one outside its `nbf`..`exp` window (a token a long run
/// fetched at its start and used after it expired).
fn check_assertion(assertion: &str) -> Result<(), Reply> {
    let (nbf, exp) = assertion_window(assertion)
        .map_err(|refused| aadsts(400, "invalid_client", refused.code, &refused.text))?;
    outside_window(nbf, exp).map_or(Ok(()), |refused| {
        Err(aadsts(400, "invalid_client", refused.code, &refused.text))
    })
}

/// Why Entra ID refuses a client assertion: its `AADSTS` code and text.
pub struct Refused {
    pub code: u32,
    pub text: String,
}

impl Refused {
    /// Entra ID's `error_description`, as az prints it.
    pub fn description(&self) -> String {
        let now = jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M:%SZ")
            .to_string();
        let trace = "00000000-0000-0000-0000-000000000000";
        format!(
            "AADSTS{}: {} Trace ID: {trace} Correlation ID: {trace} Timestamp: {now}",
            self.code, self.text
        )
    }
}

/// An assertion's `nbf` (when present) and `exp` claims, or 50027 when it is no JWT.
pub fn assertion_window(
    assertion: &str,
) -> Result<(Option<jiff::Timestamp>, jiff::Timestamp), Refused> {
    let malformed = || Refused {
        code: 50027,
        text: "JWT token is invalid or malformed.".into(),
    };
    let payload = assertion.split('.').nth(1).ok_or_else(malformed)?;
    let claims: Value = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(malformed)?;
    let at = |claim: &str| {
        claims[claim]
            .as_i64()
            .and_then(|s| jiff::Timestamp::from_second(s).ok())
    };
    Ok((at("nbf"), at("exp").ok_or_else(malformed)?))
}

/// 700024 when now is outside `nbf`..`exp`.
pub fn outside_window(nbf: Option<jiff::Timestamp>, exp: jiff::Timestamp) -> Option<Refused> {
    let now = jiff::Timestamp::now();
    if now <= exp && nbf.is_none_or(|nbf| now >= nbf) {
        return None;
    }
    let shown = |t: jiff::Timestamp| t.strftime("%Y-%m-%dT%H:%M:%S%.7fZ").to_string();
    Some(Refused {
        code: 700024,
        text: format!(
            "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
            shown(now),
            nbf.map_or_else(|| "(none)".to_string(), shown),
            shown(exp)
        ),
    })
}

/// An Entra ID error body: `AADSTS<code>: <text>` with the fields MSAL reads.
fn aadsts(status: u16, error: &str, code: u32, text: &str) -> Reply {
    let refused = Refused {
        code,
        text: text.to_string(),
    };
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%d %H:%M:%SZ")
        .to_string();
    let trace = "00000000-0000-0000-0000-000000000000";
    Reply::json(
        status,
        json!({
            "error": error,
            "error_description": refused.description(),
            "error_codes": [code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": trace,
            "error_uri": Value::Null,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertions_outside_their_window_or_malformed_are_refused() {
        let jwt = |claims: &str| {
            let part = |text: &str| URL_SAFE_NO_PAD.encode(text);
            format!("{}.{}.sig", part(r#"{"alg":"RS256"}"#), part(claims))
        };
        let now = jiff::Timestamp::now().as_second();
        assert!(
            check_assertion(&jwt(&format!(
                r#"{{"nbf":{},"exp":{}}}"#,
                now - 60,
                now + 600
            )))
            .is_ok()
        );
        let expired = check_assertion(&jwt(&format!(
            r#"{{"nbf":{},"exp":{}}}"#,
            now - 900,
            now - 300
        )));
        let body = expired.err().and_then(|r| r.body).expect("an error body");
        assert_eq!(body["error_codes"][0], 700024);
        assert!(body["error_description"].as_str().is_some_and(|d| {
            d.starts_with("AADSTS700024: Client assertion is not within its valid time range.")
        }));
        let malformed = check_assertion("not-a-jwt")
            .err()
            .and_then(|r| r.body)
            .expect("an error body");
        assert_eq!(malformed["error_codes"][0], 50027);
    }
}
