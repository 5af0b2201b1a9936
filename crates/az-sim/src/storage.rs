//! Microsoft.Storage resources: storage accounts (with their keys) and Azure
//! Files shares, shaped as `az storage account` and `az storage share-rm` print them.

use serde_json::{Value, json};

use super::call::{Call, Outcome, timestamp};
use super::error::AzError;
use super::ids;
use super::resources;
use super::types::{Base, Edit, Parent, TypeSpec, no_extras, tags_only};
use super::world::World;

pub const ACCOUNT: TypeSpec = TypeSpec {
    kind: "storage-account",
    arm_type: "Microsoft.Storage/storageAccounts",
    shown_type: None,
    name_opt: "name",
    parents: &[],
    required: &[],
    build: account,
    extras: no_extras,
    update: tags_only,
    wrap: None,
    children: &[],
    create_secs: 25.0,
    update_secs: 5.0,
    delete_secs: 10.0,
    confirm_delete: true,
};

pub const SHARE: TypeSpec = TypeSpec {
    kind: "file-share",
    arm_type: "Microsoft.Storage/storageAccounts/fileServices/shares",
    shown_type: None,
    name_opt: "name",
    parents: &[Parent::Opt("storage-account"), Parent::Fixed("default")],
    required: &[],
    build: share,
    extras: no_extras,
    update: share_update,
    wrap: None,
    children: &[],
    create_secs: 3.0,
    update_secs: 3.0,
    delete_secs: 3.0,
    confirm_delete: false,
};

/// What the storage resource provider fills in on an account: endpoints,
/// encryption, and the security settings a request may leave out.
pub fn account_defaults(b: &Base) -> Value {
    let endpoint = |service: &str| format!("https://{}.{service}.core.windows.net/", b.name);
    json!({
        "allowBlobPublicAccess": false,
        "creationTime": timestamp(),
        "enableHttpsTrafficOnly": true,
        "encryption": {
            "keySource": "Microsoft.Storage",
            "services": {
                "blob": { "enabled": true, "keyType": "Account" },
                "file": { "enabled": true, "keyType": "Account" },
            },
        },
        "location": b.location,
        "minimumTlsVersion": "TLS1_0",
        "primaryEndpoints": {
            "blob": endpoint("blob"),
            "dfs": endpoint("dfs"),
            "file": endpoint("file"),
            "queue": endpoint("queue"),
            "table": endpoint("table"),
            "web": format!("https://{}.z6.web.core.windows.net/", b.name),
        },
        "primaryLocation": b.location,
        "statusOfPrimary": "available",
        "tags": b.tags,
    })
}

/// Storage account names are global: ARM's `checkNameAvailability` answers
/// `AlreadyExists` for a name any account has.
pub fn name_taken(world: &World, name: &str) -> bool {
    world.resources.values().any(|r| {
        r.kind == ACCOUNT.kind
            && r.body["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

fn account(call: &Call, b: &Base) -> Result<Value, AzError> {
    // `az storage account create` asks whether the name is taken first, and
    // only warns when it is (the PUT then updates the account).
    if call.sim.transact(|world, _| name_taken(world, &b.name))? {
        call.warn(format!(
            "A storage account with the provided name {} is found. Will continue to update the existing account.",
            b.name
        ));
    }
    let sku = call.args.one_or("sku", "Standard_RAGRS")?;
    let tier = if sku.starts_with("Premium") {
        "Premium"
    } else {
        "Standard"
    };
    let mut body = account_defaults(b);
    for (field, value) in [
        ("accessTier", json!(call.args.one_or("access-tier", "Hot")?)),
        (
            "allowBlobPublicAccess",
            json!(call.opt_bool("allow-blob-public-access", false)?),
        ),
        (
            "allowSharedKeyAccess",
            json!(call.opt_bool("allow-shared-key-access", true)?),
        ),
        (
            "enableHttpsTrafficOnly",
            json!(call.opt_bool("https-only", true)?),
        ),
        ("kind", json!(call.args.one_or("kind", "StorageV2")?)),
        (
            "largeFileSharesState",
            json!(call.args.one("enable-large-file-share")?.map(|_| "Enabled")),
        ),
        (
            "minimumTlsVersion",
            json!(call.args.one_or("min-tls-version", "TLS1_0")?),
        ),
        (
            "publicNetworkAccess",
            json!(call.args.one("public-network-access")?),
        ),
        ("sku", json!({ "name": sku, "tier": tier })),
    ] {
        body[field] = value;
    }
    Ok(body)
}

/// A share as the storage resource provider makes it when the request sets nothing.
pub fn share_defaults(b: &Base) -> Value {
    json!({
        "accessTier": "TransactionOptimized",
        "enabledProtocols": "SMB",
        "etag": format!("\"{}\"", ids::guid(&format!("etag:{}", b.id))),
        "shareQuota": 5120,
    })
}

fn share(call: &Call, b: &Base) -> Result<Value, AzError> {
    let mut body = share_defaults(b);
    let edit = share_update(call)?;
    edit(&mut body);
    Ok(body)
}

fn share_update(call: &Call) -> Result<Edit, AzError> {
    let quota =
        match call.args.one("quota")? {
            None => None,
            Some(q) => Some(q.parse::<u64>().map_err(|_| {
                AzError::usage(format!("argument --quota: invalid int value: '{q}'"))
            })?),
        };
    let tier = call.args.one("access-tier")?;
    let protocols = call.args.one("enabled-protocols")?;
    Ok(Box::new(move |body: &mut Value| {
        if let Some(q) = quota {
            body["shareQuota"] = json!(q);
        }
        if let Some(t) = tier {
            body["accessTier"] = json!(t);
        }
        if let Some(p) = protocols {
            body["enabledProtocols"] = json!(p);
        }
    }))
}

/// `az storage account keys list`: two keys derived from the account id.
pub fn keys_list(call: &Call) -> Outcome {
    let shown = resources::show(call, &ACCOUNT)?.unwrap_or(Value::Null);
    Ok(Some(keys(&shown)))
}

/// An account's two keys (as `listKeys` returns them under `keys`), derived from its id.
pub fn keys(account: &Value) -> Value {
    let id = account["id"].as_str().unwrap_or_default();
    let key = |n: u8| {
        json!({
            "creationTime": account["creationTime"],
            "keyName": format!("key{n}"),
            "permissions": "FULL",
            "value": account_key(id, n),
        })
    };
    json!([key(1), key(2)])
}

/// 88 base64 characters, as Azure storage keys are.
fn account_key(id: &str, n: u8) -> String {
    let text = format!(
        "{}{}",
        ids::secret(&format!("key{n}a:{id}")),
        ids::secret(&format!("key{n}b:{id}"))
    );
    format!("{}==", &text[..86])
}
