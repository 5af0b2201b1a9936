//! Azure over HTTPS for the real Azure CLI: Entra ID (OpenID discovery and
//! the client-credentials grant) and Azure Resource Manager (subscriptions,
//! resource groups, providers, and the generic resource types of `resources`),
//! served from the same world the built-in `az` keeps, so the two front ends see one model.
//!
//! The real az reaches it through a registered cloud whose endpoints point
//! here and a CA bundle that trusts the certificate made at start-up
//! (`tools/standin/real-az.sh` does that setup). Every request is logged,
//! one JSON object per line, in `standin.jsonl` beside the world.

mod arm;
mod authorization;
mod avd;
mod compute;
mod deployments;
pub(crate) mod entra;
mod extensions;
mod faults;
mod graph;
mod managed_run_command;
mod operations;
mod resources;
mod run_command;
mod session_hosts;
mod tls;
mod tokens;
mod wire;

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::env::{DIR, SPEED, SimEnv};
use crate::error::AzError;
use crate::scenario::Scenario;
use crate::sim::Sim;

/// What to serve, and where the world is kept.
#[derive(Clone, Debug)]
pub struct Options {
    /// The simulated Azure's state directory (a run directory's `sim/`).
    pub dir: PathBuf,
    /// 0 for a free port.
    pub port: u16,
    /// The one service principal the stand-in knows, and its secret; without
    /// one, any secret is accepted.
    pub client_secret: Option<String>,
    /// The scenario whose `throttle:` rules it answers with 429 (docs/simulator.md).
    pub scenario: Option<PathBuf>,
    /// Simulated seconds per real second; the built-in az's default when absent.
    pub speed: Option<f64>,
}

/// What a client needs to reach a started stand-in.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Endpoint {
    /// `https://127.0.0.1:<port>`: both the Entra ID and the ARM endpoint.
    pub url: String,
    /// The CA certificate to trust (`REQUESTS_CA_BUNDLE`).
    pub ca_file: PathBuf,
    pub tenant: String,
    pub subscription: String,
    pub client_id: String,
    /// The request log.
    pub log_file: PathBuf,
}

/// The served model and its identity.
pub struct StandIn {
    url: String,
    /// The world's directory and the identity (tenant, subscription, client id)
    /// the built-in az assumes too.
    env: SimEnv,
    client_secret: Option<String>,
    /// The access tokens Entra ID issued, which ARM checks.
    tokens: tokens::Tokens,
    scenario: Scenario,
    log: Mutex<Option<std::fs::File>>,
}

impl StandIn {
    /// A stand-in on the world in `dir` whose requests tests pass to `route` directly.
    #[cfg(test)]
    fn for_tests(dir: &Path, client_secret: Option<&str>) -> Self {
        StandIn {
            url: "https://127.0.0.1:1".into(),
            env: world_env(dir, None).expect("a directory"),
            client_secret: client_secret.map(str::to_string),
            tokens: tokens::Tokens::new(tokens::DEFAULT_LIFETIME),
            scenario: Scenario::default(),
            log: Mutex::new(None),
        }
    }

    /// The world, as the built-in `az` opens it.
    fn sim(&self) -> Sim {
        Sim::new(self.env.clone(), self.scenario.clone())
    }
}

/// A response: status, body, and the headers ARM clients look for.
pub struct Reply {
    status: u16,
    body: Option<Value>,
    /// Seconds, for a throttled request or a long-running operation.
    retry_after: Option<u64>,
    /// Where to poll a long-running operation.
    location: Option<String>,
    /// Where to poll a long-running operation's status (`Azure-AsyncOperation`).
    async_operation: Option<String>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Reply {
            status,
            body: Some(body),
            retry_after: None,
            location: None,
            async_operation: None,
        }
    }

    fn empty(status: u16) -> Self {
        Reply {
            status,
            body: None,
            retry_after: None,
            location: None,
            async_operation: None,
        }
    }

    /// 202 Accepted: a long-running operation to poll at `location` in a second.
    fn accepted(location: String) -> Self {
        Reply {
            status: 202,
            body: None,
            retry_after: Some(1),
            location: Some(location),
            async_operation: None,
        }
    }

    /// ARM's error body.
    fn arm_error(status: u16, code: &str, message: &str) -> Self {
        Reply::json(
            status,
            json!({ "error": { "code": code, "message": message } }),
        )
    }

    /// The HTTP form of a simulator error: a 404 for a missing resource, else 409 or 500.
    fn from_az(e: &AzError) -> Self {
        match e {
            AzError::Arm {
                code,
                message,
                not_found,
            } => Reply::arm_error(if *not_found { 404 } else { 409 }, code, message),
            other => Reply::arm_error(500, "InternalServerError", other.render().trim()),
        }
    }
}

/// The built-in az's environment for the world in `dir` at `speed`, with its
/// defaults for everything else (the stand-in sets no other variable).
fn world_env(dir: &Path, speed: Option<f64>) -> io::Result<SimEnv> {
    let speed = speed.map(|s| s.to_string());
    SimEnv::from_lookup(|name| match name {
        DIR => Some(dir.as_os_str().to_owned()),
        SPEED => speed.clone().map(Into::into),
        _ => None,
    })
    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
}

/// Starts the stand-in on `127.0.0.1`, calls `ready` with where it listens,
/// and serves until SIGINT or SIGTERM.
pub fn serve(options: Options, ready: impl FnOnce(&Endpoint)) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let stop = async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
        };
        serve_until(options, ready, stop).await
    })
}

/// How long a token lives in real time: the scenario's `token_lifetime`
/// (simulated) at the run's speed, else Entra ID's hour.
pub(crate) fn token_lifetime(scenario: &Scenario, speed: Option<f64>) -> std::time::Duration {
    match scenario.token_lifetime {
        Some(simulated) => {
            let speed = speed.unwrap_or(crate::env::DEFAULT_SPEED);
            std::time::Duration::from_secs_f64(simulated / speed)
        }
        None => tokens::DEFAULT_LIFETIME,
    }
}

/// A stand-in serving on a thread of its own, for as long as this value lives
/// (a simulated run through the real az keeps one for the run).
pub struct Running {
    pub endpoint: Endpoint,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the stand-in on a thread; returns once it listens. It does not
/// react to signals: the caller decides when it ends, by dropping it.
pub fn start(options: Options) -> io::Result<Running> {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Endpoint>();
    let thread = std::thread::Builder::new()
        .name("azure-standin".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(serve_until(
                options,
                move |endpoint| {
                    let _ = ready_tx.send(endpoint.clone());
                },
                async move {
                    let _ = stop_rx.await;
                },
            ))
        })?;
    match ready_rx.recv() {
        Ok(endpoint) => Ok(Running {
            endpoint,
            stop: Some(stop_tx),
            thread: Some(thread),
        }),
        // It stopped before it listened: its error says why.
        Err(_) => Err(thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the stand-in's thread panicked")))
            .err()
            .unwrap_or_else(|| io::Error::other("the stand-in stopped before it listened"))),
    }
}

async fn serve_until(
    options: Options,
    ready: impl FnOnce(&Endpoint),
    stop: impl std::future::Future<Output = ()>,
) -> io::Result<()> {
    {
        std::fs::create_dir_all(&options.dir)?;
        let scenario = match &options.scenario {
            Some(path) => {
                Scenario::load(path).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.0))?
            }
            None => Scenario::default(),
        };
        let tls = tls::generate()?;
        let ca_file = options.dir.join("standin-ca.pem");
        std::fs::write(&ca_file, &tls.ca_pem)?;
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], options.port))).await?;
        let url = format!("https://127.0.0.1:{}", listener.local_addr()?.port());
        let log_file = options.dir.join("standin.jsonl");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_file)?;
        let standin = Arc::new(StandIn {
            url: url.clone(),
            env: world_env(&options.dir, options.speed)?,
            client_secret: options.client_secret.clone(),
            tokens: tokens::Tokens::new(token_lifetime(&scenario, options.speed)),
            scenario,
            log: Mutex::new(Some(log)),
        });
        // The world a run starts from, as the built-in az makes it on its first
        // call: the scenario's `vms:`, `exists:` commands and VM faults.
        standin
            .sim()
            .start()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.render()))?;
        ready(&Endpoint {
            url,
            ca_file,
            tenant: standin.env.tenant.clone(),
            subscription: standin.env.subscription.clone(),
            client_id: standin.env.client_id.clone(),
            log_file,
        });
        let acceptor = TlsAcceptor::from(tls.server);
        tokio::pin!(stop);
        loop {
            let (tcp, _) = tokio::select! {
                accepted = listener.accept() => accepted?,
                () = &mut stop => return Ok(()),
            };
            let acceptor = acceptor.clone();
            let standin = standin.clone();
            tokio::spawn(async move {
                // A client that fails the handshake (an untrusted CA) simply gets no answer.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req| {
                    let standin = standin.clone();
                    async move { handle(&standin, req).await.ok_or(DroppedConnection) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    }
}

/// A request answered by closing the connection, as when ARM cannot be reached.
#[derive(Debug)]
struct DroppedConnection;

impl std::fmt::Display for DroppedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped (a scenario fault)")
    }
}

impl std::error::Error for DroppedConnection {}

/// The answer to one request; `None` drops the connection.
async fn handle(standin: &StandIn, req: Request<Incoming>) -> Option<Response<Full<Bytes>>> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let command = header("CommandName");
    let user_agent = header("User-Agent").unwrap_or_default();
    if path.to_lowercase().starts_with("/subscriptions")
        && let Err(reply) = standin.tokens.check(header("Authorization").as_deref())
    {
        standin.record(&method, &path, &query, command.as_deref(), reply.status);
        return Some(respond(reply, &method, &path, &query));
    }
    if let Some(injected) = standin.fault(command.as_deref(), &user_agent, &path) {
        let reply = match injected {
            faults::Injected::Reply(reply) => reply,
            faults::Injected::Drop => {
                standin.record(&method, &path, &query, command.as_deref(), 0);
                return None;
            }
        };
        standin.record(&method, &path, &query, command.as_deref(), reply.status);
        return Some(respond(reply, &method, &path, &query));
    }
    // ARM refuses request bodies over 4 MiB; so does the stand-in, before reading more.
    let reply = match http_body_util::Limited::new(req.into_body(), 4 * 1024 * 1024)
        .collect()
        .await
    {
        Ok(body) => match standin.throttled(command.as_deref(), &path) {
            Some(reply) => reply,
            None => {
                let caller = faults::caller(&user_agent);
                route_for(standin, caller, &method, &path, &query, &body.to_bytes())
            }
        },
        Err(_) => Reply::arm_error(
            413,
            "RequestEntityTooLarge",
            "The request content is larger than 4 MiB or could not be read.",
        ),
    };
    standin.record(&method, &path, &query, command.as_deref(), reply.status);
    Some(respond(reply, &method, &path, &query))
}

fn respond(reply: Reply, method: &str, path: &str, query: &str) -> Response<Full<Bytes>> {
    let mut response = Response::builder().status(reply.status);
    let body = match &reply.body {
        Some(value) => {
            response = response.header("Content-Type", "application/json; charset=utf-8");
            Bytes::from(serde_json::to_vec(value).unwrap_or_default())
        }
        None => Bytes::new(),
    };
    if let Some(seconds) = reply.retry_after {
        response = response.header("Retry-After", seconds.to_string());
    }
    if let Some(location) = &reply.location {
        response = response.header("Location", location);
    }
    if let Some(status) = &reply.async_operation {
        response = response.header("Azure-AsyncOperation", status);
    }
    response
        .header(
            "x-ms-request-id",
            crate::ids::guid(&format!("{method} {path} {query}")),
        )
        .body(Full::new(body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// A request as az makes it outside any goldsmith operation (the tests' requests).
#[cfg(test)]
fn route(standin: &StandIn, method: &str, path: &str, query: &str, body: &[u8]) -> Reply {
    route_for(standin, (None, 1), method, path, query, body)
}

/// The answer to a request of `caller` (the goldsmith operation and attempt
/// that ran az, from its User-Agent).
fn route_for(
    standin: &StandIn,
    caller: (Option<&str>, u32),
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> Reply {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let filter = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "$filter")
        .map(|(_, v)| v.into_owned());
    // Lower-cased once, for every handler's matching.
    let owned: Vec<String> = segments.iter().map(|s| s.to_lowercase()).collect();
    let lower: Vec<&str> = owned.iter().map(String::as_str).collect();
    match (method, lower.as_slice()) {
        ("GET", [tenant, "v2.0", ".well-known", "openid-configuration"]) => {
            entra::discovery(standin, tenant)
        }
        ("POST", [tenant, "oauth2", "v2.0", "token"]) => {
            entra::token(standin, tenant, &String::from_utf8_lossy(body))
        }
        (_, ["subscriptions", ..]) => arm::route(
            standin,
            &arm::Request {
                method,
                segments,
                lower,
                query,
                filter,
                body,
                caller,
            },
        ),
        (_, ["v1.0", ..]) => graph::route(
            standin,
            &graph::Request {
                method,
                segments: segments[1..].to_vec(),
                lower: lower[1..].to_vec(),
                filter,
                body,
            },
        ),
        _ => Reply::arm_error(
            404,
            "NotFound",
            &format!("The stand-in does not serve {method} {path}."),
        ),
    }
}

impl StandIn {
    /// The scenario's `faults:` rule for this request, if one matches: only
    /// az's own requests (those with a `CommandName`) are faulted, never the
    /// sign-in's token requests.
    fn fault(
        &self,
        command: Option<&str>,
        user_agent: &str,
        path: &str,
    ) -> Option<faults::Injected> {
        let command = command?;
        let (op, attempt) = faults::caller(user_agent);
        let fault = self
            .scenario
            .faults
            .iter()
            .find(|f| f.matches(op, attempt, command))?;
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        Some(faults::answer(fault.class, &segments))
    }

    /// The scenario's `throttle:` rules: the first `times` ARM requests of a
    /// matching az command get 429 (with `Retry-After` when the rule has one).
    /// The count lives in the world, shared with the built-in `az`.
    fn throttled(&self, command: Option<&str>, path: &str) -> Option<Reply> {
        if self.scenario.throttles.is_empty() || !path.to_lowercase().starts_with("/subscriptions")
        {
            return None;
        }
        let command = command.unwrap_or_default();
        let throttles = &self.scenario.throttles;
        let hit = self.sim().transact(|world, _| {
            world.throttle_used.resize(throttles.len(), 0);
            let (index, rule) = throttles
                .iter()
                .enumerate()
                .find(|(i, rule)| rule.matches(command) && world.throttle_used[*i] < rule.times)?;
            world.throttle_used[index] += 1;
            Some(rule.retry_after)
        });
        let retry_after = hit.ok()??;
        let AzError::Arm { code, message, .. } = AzError::throttled() else {
            return None;
        };
        let mut reply = Reply::arm_error(429, &code, &message);
        reply.retry_after = retry_after.map(|s| s.ceil() as u64);
        Some(reply)
    }

    /// One line of `standin.jsonl`. A log that cannot be written is closed, not fatal.
    fn record(&self, method: &str, path: &str, query: &str, command: Option<&str>, status: u16) {
        let line = json!({
            "time": jiff::Timestamp::now().to_string(),
            "method": method,
            "path": path,
            "query": query,
            "command": command,
            "status": status,
        });
        if let Ok(mut log) = self.log.lock()
            && let Some(file) = log.as_mut()
            && writeln!(file, "{line}").is_err()
        {
            *log = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{DEFAULT_CLIENT_ID, DEFAULT_SUBSCRIPTION};

    fn standin(dir: &std::path::Path) -> StandIn {
        StandIn::for_tests(dir, Some("right"))
    }

    fn body(reply: &Reply) -> &Value {
        reply.body.as_ref().expect("a JSON body")
    }

    #[test]
    fn entra_discovers_and_grants_only_the_known_principal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = standin(dir.path());
        let found = route(
            &s,
            "GET",
            "/tid/v2.0/.well-known/openid-configuration",
            "",
            b"",
        );
        assert_eq!(found.status, 200);
        assert_eq!(
            body(&found)["token_endpoint"],
            "https://127.0.0.1:1/tid/oauth2/v2.0/token"
        );
        let grant = |form: &str| route(&s, "POST", "/tid/oauth2/v2.0/token", "", form.as_bytes());
        let id = DEFAULT_CLIENT_ID;
        let ok = grant(&format!(
            "grant_type=client_credentials&client_id={id}&client_secret=right&scope=x"
        ));
        assert_eq!(ok.status, 200);
        let token = body(&ok)["access_token"].as_str().expect("a token");
        assert_eq!(
            s.tokens.check(Some(&format!("Bearer {token}"))).ok(),
            Some(())
        );
        let wrong = grant(&format!(
            "grant_type=client_credentials&client_id={id}&client_secret=wrong"
        ));
        assert_eq!(wrong.status, 401);
        assert_eq!(body(&wrong)["error_codes"][0], 7000215);
        let stranger = grant("grant_type=client_credentials&client_id=other&client_secret=right");
        assert_eq!(body(&stranger)["error_codes"][0], 700016);
        let nothing = grant(&format!("grant_type=client_credentials&client_id={id}"));
        assert_eq!(body(&nothing)["error_codes"][0], 7000216);
        let federated = grant(&format!(
            "grant_type=client_credentials&client_id={id}&client_assertion=eyJ&client_assertion_type=x"
        ));
        // Not a JWT (entra.rs tests the time window of a well-formed one).
        assert_eq!(body(&federated)["error_codes"][0], 50027);
    }

    #[test]
    fn resource_groups_live_in_the_shared_world() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = standin(dir.path());
        let rg = format!("/subscriptions/{DEFAULT_SUBSCRIPTION}/resourcegroups/RG-One");
        let put = |location: &str| {
            let body = json!({ "location": location, "tags": { "a": "b" } }).to_string();
            route(&s, "PUT", &rg, "", body.as_bytes())
        };
        assert_eq!(put("westeurope").status, 201);
        assert_eq!(put("westeurope").status, 200);
        let moved = put("northeurope");
        assert_eq!(moved.status, 409);
        assert_eq!(
            body(&moved)["error"]["code"],
            "InvalidResourceGroupLocation"
        );
        let lower = rg.to_lowercase();
        let shown = route(&s, "GET", &lower, "", b"");
        assert_eq!(body(&shown)["name"], "RG-One");
        assert_eq!(body(&shown)["properties"]["provisioningState"], "Succeeded");
        assert_eq!(route(&s, "HEAD", &rg, "", b"").status, 204);
        let listed = route(
            &s,
            "GET",
            &format!("/subscriptions/{DEFAULT_SUBSCRIPTION}/resourceGroups"),
            "",
            b"",
        );
        assert_eq!(body(&listed)["value"].as_array().map(Vec::len), Some(1));
        // Deleting is a long-running operation, polled at `Location`.
        let deleting = route(&s, "DELETE", &rg, "", b"");
        assert_eq!((deleting.status, deleting.retry_after), (202, Some(1)));
        let poll = deleting.location.expect("a Location");
        let poll = poll
            .strip_prefix("https://127.0.0.1:1")
            .and_then(|p| p.split('?').next())
            .expect("the operation's path");
        let shown = route(&s, "GET", &rg, "", b"");
        assert_eq!(body(&shown)["properties"]["provisioningState"], "Deleting");
        assert_eq!(route(&s, "GET", poll, "", b"").status, 202);
        // 60 simulated seconds at 200x.
        std::thread::sleep(std::time::Duration::from_millis(400));
        assert_eq!(route(&s, "GET", poll, "", b"").status, 200);
        let gone = route(&s, "GET", &rg, "", b"");
        assert_eq!(gone.status, 404);
        assert_eq!(body(&gone)["error"]["code"], "ResourceGroupNotFound");
        assert_eq!(route(&s, "HEAD", &rg, "", b"").status, 404);
        let elsewhere = route(
            &s,
            "GET",
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/x",
            "",
            b"",
        );
        assert_eq!(body(&elsewhere)["error"]["code"], "SubscriptionNotFound");
    }
}
