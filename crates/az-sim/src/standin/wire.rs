//! ARM's wire shape of a resource. The world keeps resources as az prints
//! them (every property flattened beside `id` and `name`, `resourceGroup`
//! added to anything with an `id`); ARM sends the envelope fields at the top
//! and the rest under `properties`. Every stand-in handler answers through
//! [`to_arm`].

use serde_json::{Map, Value};

/// Fields ARM keeps outside `properties`.
const ENVELOPE: &[&str] = &[
    "etag",
    "extendedLocation",
    "id",
    "identity",
    "kind",
    "location",
    "managedBy",
    "name",
    "plan",
    "resources",
    "sku",
    "systemData",
    "tags",
    "type",
    "zones",
];

/// The stored (`az`-printed) shape → ARM's: everything but the envelope under
/// `properties`, sub-resources (objects with an `id` and a `name`) likewise,
/// without the `resourceGroup` az adds and without nulls.
pub fn to_arm(body: &Value) -> Value {
    let Value::Object(fields) = body else {
        return body.clone();
    };
    let mut envelope = Map::new();
    let mut properties = Map::new();
    for (field, value) in fields {
        if field == "resourceGroup" || value.is_null() {
            continue;
        }
        let value = rest_value(value);
        if ENVELOPE.contains(&field.as_str()) {
            envelope.insert(field.clone(), value);
        } else {
            properties.insert(field.clone(), value);
        }
    }
    if !properties.is_empty() {
        envelope.insert("properties".into(), Value::Object(properties));
    }
    Value::Object(envelope)
}

fn rest_value(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(rest_value).collect()),
        Value::Object(fields) if fields.contains_key("id") && fields.contains_key("name") => {
            to_arm(value)
        }
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .filter(|(field, value)| *field != "resourceGroup" && !value.is_null())
                .map(|(field, value)| (field.clone(), rest_value(value)))
                .collect(),
        ),
        other => other.clone(),
    }
}
