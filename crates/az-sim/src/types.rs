//! The registry of simulated ARM resource types: how each is named, where it
//! sits under its parents, which options it needs, how long its operations
//! take and how its JSON is built (the builders live in `network`, `storage`,
//! `gallery`, `avd` and `vm`).

use serde_json::Value;

use super::call::Call;
use super::error::AzError;
use super::world::Resource;
use super::{avd, gallery, network, storage, vm};

/// One level above the resource in its id.
pub enum Parent {
    /// Named by an option, e.g. `--vnet-name`.
    Opt(&'static str),
    /// Always the same name, e.g. a storage account's `fileServices/default`.
    Fixed(&'static str),
}

/// What a builder knows about the resource being made.
pub struct Base {
    pub id: String,
    pub name: String,
    pub resource_group: String,
    pub location: String,
    pub tags: Value,
}

/// A change to a resource's JSON, computed before the state is locked.
pub type Edit = Box<dyn FnOnce(&mut Value)>;

pub struct TypeSpec {
    /// The state's name for the type.
    pub kind: &'static str,
    /// Namespace and type segments, one per name in the id.
    pub arm_type: &'static str,
    /// The `type` field when the resource provider spells it differently.
    pub shown_type: Option<&'static str>,
    pub name_opt: &'static str,
    pub parents: &'static [Parent],
    /// Options `create` needs besides the name, group and parents.
    pub required: &'static [&'static str],
    pub build: fn(&Call, &Base) -> Result<Value, AzError>,
    /// Resources `create` makes along with this one (a network's first subnet).
    pub extras: fn(&Call, &Base) -> Result<Vec<Resource>, AzError>,
    pub update: fn(&Call) -> Result<Edit, AzError>,
    /// `create` prints `{"<wrap>": resource}` (`newVNet`, `NewNSG`).
    pub wrap: Option<&'static str>,
    /// Array fields filled with child resources of a kind when shown.
    pub children: &'static [(&'static str, &'static str)],
    pub create_secs: f64,
    pub update_secs: f64,
    pub delete_secs: f64,
    /// `delete` asks for confirmation (so needs `--yes`).
    pub confirm_delete: bool,
}

pub fn no_extras(_: &Call, _: &Base) -> Result<Vec<Resource>, AzError> {
    Ok(Vec::new())
}

/// Updates that only take `--tags`.
pub fn tags_only(call: &Call) -> Result<Edit, AzError> {
    let tags = call.args.has("tags").then(|| call.tags());
    Ok(Box::new(move |body: &mut Value| {
        if let Some(tags) = tags {
            body["tags"] = tags;
        }
    }))
}

pub const ALL: &[&TypeSpec] = &[
    &network::VNET,
    &network::SUBNET,
    &network::NSG,
    &network::NSG_RULE,
    &network::NIC,
    &network::PUBLIC_IP,
    &storage::ACCOUNT,
    &storage::SHARE,
    &gallery::GALLERY,
    &gallery::IMAGE_DEFINITION,
    &gallery::IMAGE_VERSION,
    &vm::DISK,
    &avd::HOST_POOL,
    &avd::APP_GROUP,
    &avd::WORKSPACE,
];

pub fn by_kind(kind: &str) -> Option<&'static TypeSpec> {
    ALL.iter().copied().find(|s| s.kind == kind)
}
