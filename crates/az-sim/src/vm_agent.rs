//! What the simulated VM agent does with an extension `az vm extension set`
//! puts on a VM: the handlers it knows (their latest version, which az looks
//! up when `--version` is missing, and how long they take), and the effect of
//! running one. The DSC extension running the AVD agent's `AddSessionHost`
//! configuration registers the VM with a host pool (`avd_agent`); every other
//! extension simply provisions.

use serde_json::Value;

use super::avd_agent::{self, Registration};
use super::world::World;

/// An extension handler the simulated VM agent knows.
struct Handler {
    publisher: &'static str,
    kind: &'static str,
    /// The latest `major.minor` in the publisher's extension image list.
    latest: &'static str,
    /// Simulated seconds from the agent picking it up to `Succeeded`.
    seconds: f64,
}

const HANDLERS: &[Handler] = &[
    Handler {
        publisher: "Microsoft.Powershell",
        kind: "DSC",
        latest: "2.83",
        seconds: 240.0,
    },
    Handler {
        publisher: "Microsoft.Azure.ActiveDirectory",
        kind: "AADLoginForWindows",
        latest: "2.2",
        seconds: 90.0,
    },
    Handler {
        publisher: "Microsoft.Azure.ActiveDirectory",
        kind: "AADSSHLoginForLinux",
        latest: "1.0",
        seconds: 60.0,
    },
    Handler {
        publisher: "Microsoft.Compute",
        kind: "CustomScriptExtension",
        latest: "1.10",
        seconds: 60.0,
    },
    Handler {
        publisher: "Microsoft.Azure.Extensions",
        kind: "CustomScript",
        latest: "2.1",
        seconds: 60.0,
    },
    Handler {
        publisher: "Microsoft.Compute",
        kind: "JsonADDomainExtension",
        latest: "1.3",
        seconds: 90.0,
    },
    Handler {
        publisher: "Microsoft.Azure.Security.WindowsAttestation",
        kind: "GuestAttestation",
        latest: "1.0",
        seconds: 30.0,
    },
];

/// What the simulator assumes for a handler it does not know.
const UNKNOWN_LATEST: &str = "1.0";
const UNKNOWN_SECONDS: f64 = 60.0;

fn handler(publisher: &str, kind: &str) -> Option<&'static Handler> {
    HANDLERS
        .iter()
        .find(|h| h.publisher.eq_ignore_ascii_case(publisher) && h.kind.eq_ignore_ascii_case(kind))
}

/// `--version` as az sends it: only `major.minor`; without it, the latest.
pub fn version(publisher: &str, kind: &str, given: Option<&str>) -> String {
    let version =
        given.unwrap_or_else(|| handler(publisher, kind).map_or(UNKNOWN_LATEST, |h| h.latest));
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// The publishers of the handlers the agent knows, as the extension image
/// catalog lists them (the stand-in serves that catalog to the real az).
pub fn publishers() -> Vec<&'static str> {
    let mut names: Vec<&str> = HANDLERS.iter().map(|h| h.publisher).collect();
    names.sort_unstable_by_key(|n| n.to_ascii_lowercase());
    names.dedup_by_key(|n| n.to_ascii_lowercase());
    names
}

/// The handlers of `publisher` and their latest `major.minor`.
pub fn handlers_of(publisher: &str) -> Vec<(&'static str, &'static str)> {
    HANDLERS
        .iter()
        .filter(|h| h.publisher.eq_ignore_ascii_case(publisher))
        .map(|h| (h.kind, h.latest))
        .collect()
}

pub fn seconds(publisher: &str, kind: &str) -> f64 {
    handler(publisher, kind).map_or(UNKNOWN_SECONDS, |h| h.seconds)
}

/// What running an extension leaves behind besides its own `Succeeded`.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    None,
    /// The AVD agent registered the VM with a host pool.
    SessionHost(Registration),
}

/// Runs the extension against the state at the time the agent picks it up.
/// `Err` is the handler's error message: the extension ends `Failed`.
pub fn run(
    state: &World,
    subscription: &str,
    publisher: &str,
    kind: &str,
    settings: Option<&Value>,
    protected: Option<&Value>,
) -> Result<Effect, String> {
    let dsc =
        publisher.eq_ignore_ascii_case("Microsoft.Powershell") && kind.eq_ignore_ascii_case("DSC");
    if dsc && avd_agent::adds_session_host(settings) {
        return avd_agent::register(state, subscription, settings, protected)
            .map(Effect::SessionHost);
    }
    Ok(Effect::None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_major_minor_and_default_to_the_latest() {
        assert_eq!(version("Microsoft.Powershell", "DSC", Some("2.83")), "2.83");
        assert_eq!(
            version("Microsoft.Powershell", "DSC", Some("2.83.5.0")),
            "2.83"
        );
        assert_eq!(version("microsoft.powershell", "dsc", None), "2.83");
        assert_eq!(
            version(
                "Microsoft.Azure.ActiveDirectory",
                "AADLoginForWindows",
                None
            ),
            "2.2"
        );
        assert_eq!(version("Contoso", "Thing", None), "1.0");
        assert_eq!(seconds("Microsoft.Powershell", "DSC"), 240.0);
    }
}
