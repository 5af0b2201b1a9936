//! Entra ID's directory as Microsoft Graph (v1.0) keeps it: security groups,
//! their members, and the `$filter` clauses the Azure CLI sends to find them.
//! Both front ends answer from here: the built-in `az ad group …` and the
//! stand-in's Graph endpoint (`standin::graph`), so a group made by one is the
//! group the other finds.

use serde_json::{Value, json};

use super::ids;
use super::world::World;

/// The `@odata.context` Graph puts on one group (a GET or a POST of `/groups`).
pub const GROUP_CONTEXT: &str = "https://graph.microsoft.com/v1.0/$metadata#groups/$entity";

/// Now as Graph writes times (`createdDateTime`).
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A Graph error: its HTTP status, `error.code` and `error.message` (the
/// message is all `az ad …` prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl GraphError {
    /// What Graph answers for an id it does not know.
    pub fn not_found(id: &str) -> Self {
        GraphError {
            status: 404,
            code: "Request_ResourceNotFound",
            message: format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        GraphError {
            status: 400,
            code: "Request_BadRequest",
            message: message.into(),
        }
    }
}

/// One clause of a `$filter`: `field eq 'value'` or `startswith(field,'value')`.
/// Graph compares these directory strings without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    Eq(String, String),
    StartsWith(String, String),
}

impl Clause {
    fn matches(&self, object: &Value) -> bool {
        let field = |name: &str| object[name].as_str().unwrap_or_default().to_lowercase();
        match self {
            Clause::Eq(name, value) => field(name) == value.to_lowercase(),
            Clause::StartsWith(name, value) => field(name).starts_with(&value.to_lowercase()),
        }
    }
}

/// The clauses of a `$filter` joined by ` and ` (what `az ad group …` sends);
/// anything else is Graph's 400.
pub fn parse_filter(filter: &str) -> Result<Vec<Clause>, GraphError> {
    let invalid = || GraphError::bad_request(format!("Invalid filter clause: {filter}"));
    let quoted = |text: &str| {
        text.trim()
            .strip_prefix('\'')
            .and_then(|t| t.strip_suffix('\''))
            .map(|t| t.replace("''", "'"))
    };
    filter
        .split(" and ")
        .map(|clause| {
            let clause = clause.trim();
            if let Some(args) = clause
                .strip_prefix("startswith(")
                .and_then(|c| c.strip_suffix(')'))
            {
                let (field, value) = args.split_once(',').ok_or_else(invalid)?;
                return Ok(Clause::StartsWith(
                    field.trim().to_string(),
                    quoted(value).ok_or_else(invalid)?,
                ));
            }
            let (field, value) = clause.split_once(" eq ").ok_or_else(invalid)?;
            Ok(Clause::Eq(
                field.trim().to_string(),
                quoted(value).ok_or_else(invalid)?,
            ))
        })
        .collect()
}

/// The groups every clause matches, in the order they were made, as Graph lists them.
pub fn groups_matching(world: &World, clauses: &[Clause]) -> Vec<Value> {
    world
        .ad_groups
        .iter()
        .filter(|g| clauses.iter().all(|c| c.matches(g)))
        .cloned()
        .collect()
}

/// One group as `GET /groups/{id}` returns it.
pub fn group(world: &World, id: &str) -> Result<Value, GraphError> {
    let mut found = world
        .ad_groups
        .iter()
        .find(|g| g["id"].as_str().is_some_and(|g| g.eq_ignore_ascii_case(id)))
        .cloned()
        .ok_or_else(|| GraphError::not_found(id))?;
    found["@odata.context"] = json!(GROUP_CONTEXT);
    Ok(found)
}

/// `POST /groups`: a new security group (Graph allows several with one
/// display name). Returned as Graph returns it.
pub fn create_group(
    world: &mut World,
    display_name: &str,
    mail_nickname: &str,
    description: Option<&str>,
    created: &str,
) -> Value {
    let serial = world.next_serial();
    let id = ids::guid(&format!("adgroup:{display_name}:{serial}"));
    let group = json!({
        "classification": null,
        "createdDateTime": created,
        "creationOptions": [],
        "deletedDateTime": null,
        "description": description,
        "displayName": display_name,
        "expirationDateTime": null,
        "groupTypes": [],
        "id": id,
        "isAssignableToRole": null,
        "mail": null,
        "mailEnabled": false,
        "mailNickname": mail_nickname,
        "membershipRule": null,
        "onPremisesSyncEnabled": null,
        "preferredDataLocation": null,
        "proxyAddresses": [],
        "renewedDateTime": created,
        "securityEnabled": true,
        "securityIdentifier": format!("S-1-12-1-{serial}"),
        "visibility": null,
    });
    world.ad_groups.push(group);
    let mut shown = world.ad_groups.last().cloned().unwrap_or_default();
    shown["@odata.context"] = json!(GROUP_CONTEXT);
    shown
}

/// `DELETE /groups/{id}`.
pub fn delete_group(world: &mut World, id: &str) -> Result<(), GraphError> {
    group(world, id)?;
    world.ad_groups.retain(|g| g["id"] != id);
    world.ad_members.remove(id);
    Ok(())
}

/// `POST /groups/{id}/members/$ref`: Graph refuses a member twice.
pub fn add_member(world: &mut World, group_id: &str, member: &str) -> Result<(), GraphError> {
    group(world, group_id)?;
    let members = world.ad_members.entry(group_id.to_string()).or_default();
    if members.iter().any(|m| m.eq_ignore_ascii_case(member)) {
        return Err(GraphError::bad_request(
            "One or more added object references already exist for the following modified properties: 'members'.",
        ));
    }
    members.push(member.to_string());
    Ok(())
}

/// `GET /groups/{id}/members`: the world knows members by id only, as users.
pub fn members(world: &World, group_id: &str) -> Result<Vec<Value>, GraphError> {
    group(world, group_id)?;
    Ok(world
        .ad_members
        .get(group_id)
        .map(|m| {
            m.iter()
                .map(|id| json!({ "@odata.type": "#microsoft.graph.user", "id": id }))
                .collect()
        })
        .unwrap_or_default())
}

/// `POST /directoryObjects/{member}/checkMemberGroups`: which of `group_ids` have `member`.
pub fn member_groups(world: &World, member: &str, group_ids: &[String]) -> Vec<String> {
    group_ids
        .iter()
        .filter(|g| {
            world
                .ad_members
                .get(g.as_str())
                .is_some_and(|m| m.iter().any(|x| x.eq_ignore_ascii_case(member)))
        })
        .cloned()
        .collect()
}

/// `POST /directoryObjects/getByIds`: the directory objects among `ids`
/// (the world's directory holds groups), typed as Graph types them.
pub fn objects_by_ids(world: &World, ids: &[String]) -> Vec<Value> {
    ids.iter()
        .filter_map(|id| group(world, id).ok())
        .map(|mut g| {
            if let Some(map) = g.as_object_mut() {
                map.remove("@odata.context");
                map.insert("@odata.type".into(), json!("#microsoft.graph.group"));
            }
            g
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_as_az_sends_them() {
        assert_eq!(
            parse_filter("displayName eq 'a b' and mailNickname eq 'ab'"),
            Ok(vec![
                Clause::Eq("displayName".into(), "a b".into()),
                Clause::Eq("mailNickname".into(), "ab".into())
            ])
        );
        assert_eq!(
            parse_filter("startswith(displayName,'sg-')"),
            Ok(vec![Clause::StartsWith("displayName".into(), "sg-".into())])
        );
        assert_eq!(
            parse_filter("displayName ne 'x'").map_err(|e| e.status),
            Err(400)
        );
    }

    #[test]
    fn groups_are_found_by_prefix_without_regard_to_case() {
        let mut world = World::default();
        let made = create_group(&mut world, "sg-Users", "sgusers", None, "t");
        create_group(&mut world, "sg-users-old", "old", None, "t");
        let id = made["id"].as_str().unwrap_or_default();
        let prefix = [Clause::StartsWith("displayName".into(), "SG-USERS".into())];
        assert_eq!(groups_matching(&world, &prefix).len(), 2);
        assert!(
            world
                .ad_groups
                .iter()
                .all(|g| g.get("@odata.context").is_none())
        );
        assert_eq!(add_member(&mut world, id, "m"), Ok(()));
        assert_eq!(
            add_member(&mut world, id, "m").map_err(|e| e.status),
            Err(400)
        );
        assert_eq!(
            member_groups(&world, "m", &[id.to_string()]),
            vec![id.to_string()]
        );
        assert_eq!(
            objects_by_ids(&world, &[id.to_string()])[0]["@odata.type"],
            "#microsoft.graph.group"
        );
        assert_eq!(group(&world, "nope").map_err(|e| e.status), Err(404));
    }
}
