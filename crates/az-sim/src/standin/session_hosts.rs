//! AVD session hosts as the session hosts API lists them to `az rest`
//! (`GET …/hostPools/{pool}/sessionHosts`): the hosts the AVD agent
//! registered in the world (`session_host`), in the same shape the built-in
//! `az rest` prints.

use serde_json::json;

use super::arm::Request;
use super::{Reply, StandIn};
use crate::session_host;

/// Whether the lower-cased segments list a host pool's session hosts.
pub fn serves(lower: &[&str]) -> bool {
    matches!(
        super::arm::under(lower),
        Some(super::arm::Under::Group {
            provider: "microsoft.desktopvirtualization",
            rest: ["hostpools", _, "sessionhosts"],
        })
    )
}

pub fn route(standin: &StandIn, req: &Request<'_>) -> Reply {
    if req.method != "GET" {
        return Reply::arm_error(
            405,
            "MethodNotAllowed",
            &format!(
                "The stand-in does not serve {} on session hosts.",
                req.method
            ),
        );
    }
    let sub = standin.env.subscription.clone();
    let listed = standin.sim().transact(|world, now| {
        session_host::hosts_arm(world, now, &sub, req.segments[3], req.segments[7])
    });
    match listed {
        Ok(Ok(hosts)) => Reply::json(200, json!({ "nextLink": null, "value": hosts })),
        Ok(Err(e)) | Err(e) => Reply::from_az(&e),
    }
}
