//! The Azure Virtual Desktop control plane (`Microsoft.DesktopVirtualization`
//! host pools, application groups, workspaces and the registration token) as
//! the library's `az rest` calls reach it, served by the same
//! `avd::arm_request` the built-in `az rest` answers with.

use serde_json::Value;

use super::arm::Request;
use super::{Reply, StandIn};
use crate::avd::{self, ArmRequest};

/// Whether the lower-cased segments name an AVD resource (or an action on
/// one) in a resource group.
pub fn serves(lower: &[&str]) -> bool {
    matches!(
        super::arm::under(lower),
        Some(super::arm::Under::Group {
            provider: "microsoft.desktopvirtualization",
            rest: [kind, _, tail @ ..],
        }) if tail.len() <= 1 && avd::arm_kind(kind).is_some()
    )
}

pub fn route(standin: &StandIn, req: &Request<'_>) -> Reply {
    let Some(spec) = avd::arm_kind(req.segments[6]) else {
        return Reply::arm_error(404, "NotFound", "Not an AVD resource.");
    };
    let body: Value = serde_json::from_slice(req.body).unwrap_or(Value::Null);
    let sub = standin.env.subscription.clone();
    let result = standin.sim().transact(|world, _| {
        avd::arm_request(
            world,
            &ArmRequest {
                method: req.method,
                subscription: &sub,
                resource_group: req.segments[3],
                spec,
                name: req.segments[7],
                action: req.segments.get(8).copied(),
                body: &body,
            },
        )
    });
    match result {
        Ok(Ok(reply)) => match reply.body {
            Some(body) => Reply::json(reply.status, body),
            None => Reply::empty(reply.status),
        },
        Ok(Err(e)) | Err(e) => Reply::from_az(&e),
    }
}
