//! Microsoft.Storage resources: storage accounts (with their keys) and Azure
//! Files shares, shaped as `az storage account` and `az storage share-rm` print them.

use serde_json::{Value, json};

use super::call::{Call, Outcome, timestamp};
use super::error::AzError;
use super::ids;
use super::resources;
use super::types::{Base, Edit, Parent, TypeSpec, no_extras, tags_only};

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

fn account(call: &Call, b: &Base) -> Result<Value, AzError> {
    let sku = call.args.one_or("sku", "Standard_RAGRS")?;
    let tier = if sku.starts_with("Premium") {
        "Premium"
    } else {
        "Standard"
    };
    let endpoint = |service: &str| format!("https://{}.{service}.core.windows.net/", b.name);
    Ok(json!({
        "accessTier": call.args.one_or("access-tier", "Hot")?,
        "allowBlobPublicAccess": call.opt_bool("allow-blob-public-access", false)?,
        "allowSharedKeyAccess": call.opt_bool("allow-shared-key-access", true)?,
        "creationTime": timestamp(),
        "enableHttpsTrafficOnly": call.opt_bool("https-only", true)?,
        "encryption": {
            "keySource": "Microsoft.Storage",
            "services": {
                "blob": { "enabled": true, "keyType": "Account" },
                "file": { "enabled": true, "keyType": "Account" },
            },
        },
        "kind": call.args.one_or("kind", "StorageV2")?,
        "largeFileSharesState": call.args.one("enable-large-file-share")?.map(|_| "Enabled"),
        "location": b.location,
        "minimumTlsVersion": call.args.one_or("min-tls-version", "TLS1_0")?,
        "primaryEndpoints": {
            "blob": endpoint("blob"),
            "dfs": endpoint("dfs"),
            "file": endpoint("file"),
            "queue": endpoint("queue"),
            "table": endpoint("table"),
            "web": format!("https://{}.z6.web.core.windows.net/", b.name),
        },
        "primaryLocation": b.location,
        "publicNetworkAccess": call.args.one("public-network-access")?,
        "sku": { "name": sku, "tier": tier },
        "statusOfPrimary": "available",
        "tags": b.tags,
    }))
}

fn share(call: &Call, b: &Base) -> Result<Value, AzError> {
    let mut body = json!({
        "accessTier": "TransactionOptimized",
        "enabledProtocols": "SMB",
        "etag": format!("\"{}\"", ids::guid(&format!("etag:{}", b.id))),
        "shareQuota": 5120,
    });
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
    let id = shown["id"].as_str().unwrap_or_default().to_string();
    let created = shown["creationTime"].clone();
    let key = |n: u8| {
        json!({
            "creationTime": created,
            "keyName": format!("key{n}"),
            "permissions": "FULL",
            "value": account_key(&id, n),
        })
    };
    Ok(Some(json!([key(1), key(2)])))
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
