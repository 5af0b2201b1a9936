//! The stand-in's long-running operations (VM power changes and deletions,
//! run-commands, deployments): what each one polled at its
//! `Azure-AsyncOperation` and `Location` URLs waits for. A record is one JSON
//! file per operation under `<world>/operations/`, so every connection (and a
//! restarted stand-in) polls the same operation; whether it is done is read
//! from the world.

use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{Reply, StandIn};

/// The api-version the stand-in puts on the URLs it hands out (ignored when polled).
const API_VERSION: &str = "2024-11-01";

fn file(standin: &StandIn, id: &str) -> Option<PathBuf> {
    // The id comes back in a client's URL: only a GUID names a file.
    let guid = id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    guid.then(|| {
        standin
            .env
            .dir
            .join("operations")
            .join(format!("{}.json", id.to_ascii_lowercase()))
    })
}

/// A new operation's id, unique for `what` at simulated time `now`.
pub fn new_id(what: &str, now: f64, serial: u64) -> String {
    crate::ids::guid(&format!("operation:{what}:{now}:{serial}"))
}

/// Keeps the operation's record.
pub fn save(standin: &StandIn, id: &str, record: &impl Serialize) -> Result<(), Reply> {
    let written = file(standin, id).map(|path| {
        std::fs::create_dir_all(path.parent().unwrap_or(&path))
            .and_then(|()| std::fs::write(&path, serde_json::to_vec(record).unwrap_or_default()))
    });
    match written {
        Some(Ok(())) => Ok(()),
        _ => Err(Reply::arm_error(
            500,
            "InternalServerError",
            "The stand-in could not keep the operation.",
        )),
    }
}

/// The operation's record, or ARM's 404 for an operation it does not know.
pub fn load<T: DeserializeOwned>(standin: &StandIn, id: &str) -> Result<T, Reply> {
    file(standin, id)
        .and_then(|path| std::fs::read(path).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            Reply::arm_error(
                404,
                "OperationNotFound",
                &format!("The operation '{id}' could not be found."),
            )
        })
}

/// `https://<stand-in>/<path>?api-version=…`.
pub fn url(standin: &StandIn, path: &str) -> String {
    format!("{}{path}?api-version={API_VERSION}", standin.url)
}

/// 202 Accepted for an operation polled at `status` (Azure-AsyncOperation)
/// and `result` (Location), each after a second.
pub fn accepted(status: String, result: String) -> Reply {
    let mut reply = Reply::accepted(result);
    reply.async_operation = Some(status);
    reply
}

/// The body of an `Azure-AsyncOperation` poll.
pub fn status(id: &str, done: bool) -> Reply {
    let mut reply = Reply::json(
        200,
        json!({
            "name": id,
            "status": if done { "Succeeded" } else { "InProgress" },
            "startTime": jiff::Timestamp::now().to_string(),
        }),
    );
    if !done {
        reply.retry_after = Some(1);
    }
    reply
}

/// A `Location` poll: 202 again while the operation runs, then its result.
pub fn result(poll_again: String, done: bool, body: Option<Value>) -> Reply {
    match (done, body) {
        (false, _) => Reply::accepted(poll_again),
        (true, Some(body)) => Reply::json(200, body),
        (true, None) => Reply::empty(204),
    }
}
