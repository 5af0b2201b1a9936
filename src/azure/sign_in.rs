//! Which Azure sign-in the action's inputs ask for, in the forms users of
//! `azure/login@v2` know: OpenID Connect (`client-id`, `tenant-id` and the
//! runner's ID token), a `client-secret`, a `creds` JSON, a managed identity
//! (`auth-type: IDENTITY`), each in an `environment` (a sovereign cloud).
//!
//! Inputs that conflict or are incomplete are refused here, with one message
//! naming the inputs, before anything runs. Every secret value the inputs
//! hold (the `creds` JSON's values included) is returned for masking.

use std::collections::HashMap;

use crate::github::actions::Inputs;

/// What proves a service principal's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proof {
    /// A federated token from the runner: `ACTIONS_ID_TOKEN_REQUEST_URL` and
    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, present with `permissions: id-token: write`.
    /// A new token is requested for every sign-in: an old one cannot be reused.
    Oidc {
        url: String,
        bearer: String,
    },
    Secret(String),
}

/// Who signs in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    ServicePrincipal {
        client_id: String,
        tenant_id: String,
        proof: Proof,
    },
    /// The runner machine's managed identity: system-assigned, or the
    /// user-assigned one with this client id.
    ManagedIdentity { client_id: Option<String> },
}

/// A complete sign-in: who, in which cloud, and which subscription to select.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignIn {
    pub principal: Principal,
    /// `az cloud set --name` this (as `az cloud list` names it:
    /// `AzureUSGovernment`) before signing in; `None` keeps the configured cloud.
    pub cloud: Option<&'static str>,
    pub subscription: Option<String>,
}

impl SignIn {
    /// How it signs in, for the log: `OIDC`, `client secret`, `managed identity`.
    pub fn method(&self) -> &'static str {
        match &self.principal {
            Principal::ServicePrincipal {
                proof: Proof::Oidc { .. },
                ..
            } => "OIDC",
            Principal::ServicePrincipal {
                proof: Proof::Secret(_),
                ..
            } => "client secret",
            Principal::ManagedIdentity { client_id: None } => "system-assigned managed identity",
            Principal::ManagedIdentity { client_id: Some(_) } => "user-assigned managed identity",
        }
    }

    /// Whether a sign-in expires for good and must be made again with a new
    /// token (OIDC). Secrets and managed identities renew inside az.
    pub fn needs_renewal(&self) -> bool {
        matches!(
            self.principal,
            Principal::ServicePrincipal {
                proof: Proof::Oidc { .. },
                ..
            }
        )
    }
}

/// What the inputs ask for.
#[derive(Debug, PartialEq, Eq)]
pub enum Requested {
    /// Sign in, as this.
    SignIn(SignIn),
    /// No credentials: az uses the configuration it finds; the subscription,
    /// when given, must be the one selected there.
    Existing { subscription: Option<String> },
}

/// The clouds the Azure CLI 2.91 knows (`az cloud list --query [].name`),
/// and the lower-case names `azure/login`'s `environment` takes for them.
const CLOUDS: &[&str] = &[
    "AzureCloud",
    "AzureUSGovernment",
    "AzureChinaCloud",
    "AzureBleuCloud",
];

/// Reads the sign-in inputs; returns what they ask for and the secret
/// values among them, or one message saying what to change.
pub fn from_inputs(env: &HashMap<String, String>) -> Result<(Requested, Vec<String>), String> {
    let inputs = Inputs::new(env);
    let get = |name: &str| inputs.get(name).map(str::to_string);
    let mut secrets: Vec<String> = get("client-secret").into_iter().collect();
    let cloud = Some(cloud(get("environment").as_deref())?);
    let creds = match get("creds") {
        Some(text) => Some(parse_creds(&text, &mut secrets)?),
        None => None,
    };
    let identity = match get("auth-type").map(|a| a.to_ascii_uppercase()).as_deref() {
        None | Some("SERVICE_PRINCIPAL") => false,
        Some("IDENTITY") => true,
        Some(_) => {
            return Err(
                "input `auth-type` must be `SERVICE_PRINCIPAL` (the default) or `IDENTITY` (a managed identity)"
                    .into(),
            );
        }
    };
    let given = Given {
        client_id: get("client-id"),
        tenant_id: get("tenant-id"),
        subscription: get("subscription-id"),
        secret: get("client-secret"),
        creds,
    };
    let requested = if identity {
        managed_identity(given, cloud)?
    } else {
        service_principal(given, cloud, oidc_request(env))?
    };
    Ok((requested, secrets))
}

/// The sign-in inputs as given.
struct Given {
    client_id: Option<String>,
    tenant_id: Option<String>,
    subscription: Option<String>,
    secret: Option<String>,
    creds: Option<Creds>,
}

/// The keys of `azure/login`'s `creds` JSON goldsmith uses (others are ignored).
struct Creds {
    client_id: String,
    client_secret: String,
    tenant_id: String,
    subscription: Option<String>,
}

fn cloud(environment: Option<&str>) -> Result<&'static str, String> {
    let Some(name) = environment else {
        return Ok("AzureCloud");
    };
    if let Some(cloud) = CLOUDS.iter().find(|c| c.eq_ignore_ascii_case(name)) {
        return Ok(cloud);
    }
    let why = match name.to_ascii_lowercase().as_str() {
        "azuregermancloud" => {
            "Microsoft Cloud Deutschland closed in 2021 and the Azure CLI no longer knows it".to_string()
        }
        "azurestack" => "Azure Stack Hub needs its cloud registered with its own endpoints: register it (`az cloud register`) in an AZURE_CONFIG_DIR and give that instead of credentials".to_string(),
        _ => format!("it takes {}", CLOUDS.join(", ")),
    };
    Err(format!(
        "input `environment`: `{name}` is not a cloud goldsmith can sign in to: {why}"
    ))
}

/// `creds`: a JSON object with `clientId`, `clientSecret`, `tenantId` and
/// optionally `subscriptionId`; every string value in it is a secret.
fn parse_creds(text: &str, secrets: &mut Vec<String>) -> Result<Creds, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "input `creds` is not JSON (line {}, column {}); it takes azure/login's object with clientId, clientSecret, tenantId and subscriptionId",
            e.line(),
            e.column()
        )
    })?;
    let serde_json::Value::Object(map) = value else {
        return Err("input `creds` must be a JSON object with clientId, clientSecret, tenantId and subscriptionId".into());
    };
    secrets.extend(
        map.values()
            .filter_map(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .map(str::to_string),
    );
    let key = |name: &str| {
        map.get(name)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let missing: Vec<&str> = ["clientId", "clientSecret", "tenantId"]
        .into_iter()
        .filter(|k| key(k).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "input `creds` has no {}: it needs clientId, clientSecret and tenantId (and subscriptionId to select a subscription)",
            missing.join(", ")
        ));
    }
    Ok(Creds {
        client_id: key("clientId").unwrap_or_default(),
        client_secret: key("clientSecret").unwrap_or_default(),
        tenant_id: key("tenantId").unwrap_or_default(),
        subscription: key("subscriptionId"),
    })
}

fn oidc_request(env: &HashMap<String, String>) -> Option<Proof> {
    let var = |name: &str| env.get(name).filter(|v| !v.is_empty()).cloned();
    Some(Proof::Oidc {
        url: var("ACTIONS_ID_TOKEN_REQUEST_URL")?,
        bearer: var("ACTIONS_ID_TOKEN_REQUEST_TOKEN")?,
    })
}

fn service_principal(
    given: Given,
    cloud: Option<&'static str>,
    oidc: Option<Proof>,
) -> Result<Requested, String> {
    if let Some(creds) = given.creds {
        let mut also: Vec<&str> = Vec::new();
        for (name, set) in [
            ("client-id", given.client_id.is_some()),
            ("tenant-id", given.tenant_id.is_some()),
            ("subscription-id", given.subscription.is_some()),
            ("client-secret", given.secret.is_some()),
        ] {
            if set {
                also.push(name);
            }
        }
        if !also.is_empty() {
            return Err(format!(
                "input `creds` and {} both say how to sign in: give either `creds` alone or `client-id`, `tenant-id` and `subscription-id` (with `client-secret` or OIDC)",
                also.iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        return Ok(Requested::SignIn(SignIn {
            principal: Principal::ServicePrincipal {
                client_id: creds.client_id,
                tenant_id: creds.tenant_id,
                proof: Proof::Secret(creds.client_secret),
            },
            cloud,
            subscription: creds.subscription,
        }));
    }
    let (client_id, tenant_id) = match (given.client_id, given.tenant_id) {
        (Some(c), Some(t)) => (c, t),
        (None, None) if given.secret.is_none() => {
            return Ok(Requested::Existing {
                subscription: given.subscription,
            });
        }
        (c, t) => {
            let missing: Vec<&str> = [("client-id", c.is_none()), ("tenant-id", t.is_none())]
                .into_iter()
                .filter_map(|(n, m)| m.then_some(n))
                .collect();
            return Err(format!(
                "input `{}` is missing: a service principal signs in with `client-id` and `tenant-id` (and `client-secret`, or OIDC with `permissions: id-token: write`)",
                missing.join("` and `")
            ));
        }
    };
    let proof = match (given.secret, oidc) {
        (Some(secret), _) => Proof::Secret(secret),
        (None, Some(oidc)) => oidc,
        (None, None) => {
            return Err("inputs `client-id` and `tenant-id` without `client-secret` sign in with OIDC, but the runner gave no ID token: add `permissions: id-token: write` to the job (or give `client-secret`)".into());
        }
    };
    Ok(Requested::SignIn(SignIn {
        principal: Principal::ServicePrincipal {
            client_id,
            tenant_id,
            proof,
        },
        cloud,
        subscription: given.subscription,
    }))
}

fn managed_identity(given: Given, cloud: Option<&'static str>) -> Result<Requested, String> {
    let conflicting: Vec<&str> = [
        ("creds", given.creds.is_some()),
        ("client-secret", given.secret.is_some()),
        ("tenant-id", given.tenant_id.is_some()),
    ]
    .into_iter()
    .filter_map(|(n, set)| set.then_some(n))
    .collect();
    if !conflicting.is_empty() {
        return Err(format!(
            "`auth-type: IDENTITY` signs in with the runner's managed identity, which takes no {}: give `client-id` only for a user-assigned identity, and `subscription-id`",
            conflicting
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(Requested::SignIn(SignIn {
        principal: Principal::ManagedIdentity {
            client_id: given.client_id,
        },
        cloud,
        subscription: given.subscription,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<(Requested, Vec<String>), String> {
        let env = pairs
            .iter()
            .map(|(k, v)| {
                let key = if k.starts_with("ACTIONS_") {
                    k.to_string()
                } else {
                    crate::github::actions::input_var(k)
                };
                (key, v.to_string())
            })
            .collect();
        from_inputs(&env)
    }

    fn sign_in(pairs: &[(&str, &str)]) -> SignIn {
        match read(pairs).expect("valid inputs").0 {
            Requested::SignIn(s) => s,
            other => panic!("not a sign-in: {other:?}"),
        }
    }

    const OIDC: [(&str, &str); 2] = [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://runner/token?x=1"),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "bearer"),
    ];

    #[test]
    fn each_form_azure_login_takes_is_read() {
        let oidc = sign_in(&[&OIDC[..], &[("client-id", "c"), ("tenant-id", "t")]].concat());
        assert_eq!(oidc.method(), "OIDC");
        assert!(oidc.needs_renewal());
        assert_eq!(oidc.cloud, Some("AzureCloud"));
        let secret = sign_in(&[
            ("client-id", "c"),
            ("tenant-id", "t"),
            ("client-secret", "s3cret"),
            ("environment", "azureusgovernment"),
        ]);
        assert_eq!(secret.method(), "client secret");
        assert_eq!(secret.cloud, Some("AzureUSGovernment"));
        let creds = r#"{"clientId":"c","clientSecret":"s3cret","tenantId":"t","subscriptionId":"sub","activeDirectoryEndpointUrl":"https://login.microsoftonline.com"}"#;
        let (requested, secrets) = read(&[("creds", creds)]).expect("valid");
        let Requested::SignIn(from_creds) = requested else {
            panic!("a sign-in")
        };
        assert_eq!(from_creds.subscription.as_deref(), Some("sub"));
        assert!(secrets.contains(&"s3cret".to_string()) && secrets.contains(&"c".to_string()));
        let system = sign_in(&[("auth-type", "identity"), ("subscription-id", "sub")]);
        assert_eq!(system.method(), "system-assigned managed identity");
        let user = sign_in(&[("auth-type", "IDENTITY"), ("client-id", "mi")]);
        assert_eq!(user.method(), "user-assigned managed identity");
        assert_eq!(
            read(&[("subscription-id", "sub")]).expect("valid").0,
            Requested::Existing {
                subscription: Some("sub".into())
            }
        );
    }

    #[test]
    fn conflicting_or_incomplete_inputs_get_one_message() {
        let fails = |pairs: &[(&str, &str)], says: &str| {
            let e = read(pairs).expect_err("refused");
            assert!(e.contains(says), "{e}");
        };
        fails(&[("client-id", "c")], "input `tenant-id` is missing");
        fails(
            &[("client-secret", "s")],
            "`client-id` and `tenant-id` is missing",
        );
        fails(
            &[("client-id", "c"), ("tenant-id", "t")],
            "add `permissions: id-token: write`",
        );
        fails(
            &[
                (
                    "creds",
                    r#"{"clientId":"c","clientSecret":"s","tenantId":"t"}"#,
                ),
                ("client-id", "c"),
            ],
            "input `creds` and `client-id` both say how to sign in",
        );
        fails(
            &[("creds", r#"{"clientId":"c"}"#)],
            "has no clientSecret, tenantId",
        );
        fails(
            &[("creds", "{not json")],
            "input `creds` is not JSON (line 1, column 2)",
        );
        fails(
            &[("auth-type", "IDENTITY"), ("client-secret", "s")],
            "takes no `client-secret`",
        );
        fails(&[("auth-type", "OIDC")], "input `auth-type` must be");
        fails(&[("environment", "AzureGermanCloud")], "closed in 2021");
        fails(
            &[("environment", "mars")],
            "it takes AzureCloud, AzureUSGovernment",
        );
    }

    #[test]
    fn a_creds_error_never_shows_its_values() {
        let e =
            read(&[("creds", r#"{"clientSecret":"hunter2-very-secret"}"#)]).expect_err("refused");
        assert!(!e.contains("hunter2"), "{e}");
    }
}
