//! Microsoft Graph (v1.0) as the Azure CLI's `az ad group …` and
//! `az role assignment …` reach it: groups, their members, and the
//! directory-object lookups, answered from the world's directory
//! (`crate::directory`), with Graph's `{"error":{code,message,innerError}}` bodies.
//!
//! The real az finds Graph at its cloud's `endpoint-microsoft-graph-resource-id`,
//! which `tools/standin/differential.py` registers as the stand-in's own URL.

use serde_json::{Value, json};

use super::{Reply, StandIn};
use crate::directory::{self, GraphError};

/// One request to Graph: the method, the path after `/v1.0`, the decoded `$filter`, the body.
pub struct Request<'a> {
    pub method: &'a str,
    pub segments: Vec<&'a str>,
    /// The segments in lower case, for matching.
    pub lower: Vec<&'a str>,
    pub filter: Option<String>,
    pub body: &'a [u8],
}

pub fn route(standin: &StandIn, req: &Request<'_>) -> Reply {
    let lower = &req.lower;
    let body: Value = serde_json::from_slice(req.body).unwrap_or(Value::Null);
    let strings = |key: &str| -> Vec<String> {
        body[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let result = match (req.method, lower.as_slice()) {
        ("GET", ["groups"]) => list_groups(standin, req.filter.as_deref()),
        ("POST", ["groups"]) => create_group(standin, &body),
        ("GET", ["groups", _]) => with_world(standin, |world| {
            directory::group(world, req.segments[1]).map(ok)
        }),
        ("DELETE", ["groups", _]) => with_world(standin, |world| {
            directory::delete_group(world, req.segments[1]).map(|()| Reply::empty(204))
        }),
        ("GET", ["groups", _, "members"]) => with_world(standin, |world| {
            directory::members(world, req.segments[1]).map(|m| ok(json!({ "value": m })))
        }),
        ("POST", ["groups", _, "members", "$ref"]) => {
            // `{"@odata.id": "https://…/v1.0/directoryObjects/<id>"}`
            let member = body["@odata.id"]
                .as_str()
                .and_then(|url| url.rsplit('/').next())
                .unwrap_or_default()
                .to_string();
            with_world(standin, |world| {
                directory::add_member(world, req.segments[1], &member).map(|()| Reply::empty(204))
            })
        }
        ("POST", ["directoryobjects", _, "checkmembergroups"]) => with_world(standin, |world| {
            let found = directory::member_groups(world, req.segments[1], &strings("groupIds"));
            Ok(ok(json!({ "value": found })))
        }),
        ("POST", ["directoryobjects", "getbyids"]) => with_world(standin, |world| {
            Ok(ok(
                json!({ "value": directory::objects_by_ids(world, &strings("ids")) }),
            ))
        }),
        // The directory holds no users or service principals: az looks for one
        // by name before it takes an assignee for an object id.
        ("GET", ["users" | "serviceprincipals"]) => Ok(ok(json!({ "value": [] }))),
        _ => Err(GraphError {
            status: 400,
            code: "BadRequest",
            message: format!(
                "Resource not found for the segment '{}'.",
                req.segments.first().copied().unwrap_or_default()
            ),
        }),
    };
    result.unwrap_or_else(|e| error(&e))
}

fn ok(body: Value) -> Reply {
    Reply::json(200, body)
}

/// Runs `f` on the world; a world that cannot be opened is Graph's 500.
fn with_world(
    standin: &StandIn,
    f: impl FnOnce(&mut crate::world::World) -> Result<Reply, GraphError>,
) -> Result<Reply, GraphError> {
    standin
        .sim()
        .transact(|world, _| f(world))
        .unwrap_or_else(|e| {
            Err(GraphError {
                status: 500,
                code: "InternalServerError",
                message: e.render().trim().to_string(),
            })
        })
}

fn list_groups(standin: &StandIn, filter: Option<&str>) -> Result<Reply, GraphError> {
    let clauses = match filter {
        Some(f) => directory::parse_filter(f)?,
        None => Vec::new(),
    };
    with_world(standin, |world| {
        Ok(ok(json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#groups",
            "value": directory::groups_matching(world, &clauses),
        })))
    })
}

fn create_group(standin: &StandIn, body: &Value) -> Result<Reply, GraphError> {
    let field = |key: &str| body[key].as_str().map(str::to_string);
    let (Some(name), Some(nickname)) = (field("displayName"), field("mailNickname")) else {
        return Err(GraphError {
            status: 400,
            code: "Request_BadRequest",
            message: "A value is required for property 'displayName' of resource 'Group'.".into(),
        });
    };
    let description = field("description");
    let created = directory::now();
    with_world(standin, |world| {
        let made =
            directory::create_group(world, &name, &nickname, description.as_deref(), &created);
        Ok(Reply::json(201, made))
    })
}

/// Graph's error body; az prints its `message`.
fn error(e: &GraphError) -> Reply {
    let now = directory::now();
    Reply::json(
        e.status,
        json!({
            "error": {
                "code": e.code,
                "message": e.message,
                "innerError": {
                    "date": now,
                    "request-id": "00000000-0000-0000-0000-000000000000",
                    "client-request-id": "00000000-0000-0000-0000-000000000000"
                }
            }
        }),
    )
}
