//! Azure resource ids, and the stable GUIDs, etags and secrets the simulator
//! makes up (derived from a seed, so the same run gives the same values).

use sha2::{Digest, Sha256};

pub fn group_id(subscription: &str, resource_group: &str) -> String {
    format!("/subscriptions/{subscription}/resourceGroups/{resource_group}")
}

/// `/subscriptions/<sub>/resourceGroups/<rg>/providers/<ns>/<t1>/<n1>/<t2>/<n2>…`
/// for an `arm_type` such as `Microsoft.Network/virtualNetworks/subnets` and
/// one name per type segment.
pub fn resource_id(
    subscription: &str,
    resource_group: &str,
    arm_type: &str,
    names: &[String],
) -> String {
    let mut segments = arm_type.split('/');
    let namespace = segments.next().unwrap_or_default();
    let mut id = format!(
        "{}/providers/{namespace}",
        group_id(subscription, resource_group)
    );
    for (segment, name) in segments.zip(names) {
        id.push_str(&format!("/{segment}/{name}"));
    }
    id
}

/// ARM ids compare without regard to case.
pub fn key(id: &str) -> String {
    id.to_ascii_lowercase()
}

/// The resource group and the names along an ARM resource id, for `--ids`.
pub fn parse_id(id: &str) -> Option<(String, Vec<String>)> {
    let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
    if parts.len() < 4
        || !parts[0].eq_ignore_ascii_case("subscriptions")
        || !parts[2].eq_ignore_ascii_case("resourceGroups")
    {
        return None;
    }
    let resource_group = parts[3].to_string();
    if parts.len() == 4 {
        return Some((resource_group, Vec::new()));
    }
    if parts.len() < 8 || !parts[4].eq_ignore_ascii_case("providers") {
        return None;
    }
    let names = parts[6..]
        .chunks(2)
        .filter_map(|pair| pair.get(1).map(|n| n.to_string()))
        .collect();
    Some((resource_group, names))
}

fn digest(seed: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(seed.as_bytes()));
    out
}

/// A version-4-shaped GUID derived from `seed`.
pub fn guid(seed: &str) -> String {
    let mut b = digest(seed);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(&b[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub fn etag(seed: &str) -> String {
    format!("W/\"{}\"", guid(&format!("etag:{seed}")))
}

/// 64 base64 characters derived from `seed` (storage keys, tokens).
pub fn secret(seed: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    let mut round = 0u32;
    while out.len() < 64 {
        for byte in digest(&format!("{seed}:{round}")) {
            out.push(ALPHABET[(byte & 63) as usize] as char);
        }
        round += 1;
    }
    out.truncate(64);
    out
}

/// A MAC address like Azure shows in `vm create` output.
pub fn mac(seed: &str) -> String {
    let b = digest(seed);
    format!("00-0D-3A-{:02X}-{:02X}-{:02X}", b[0], b[1], b[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let id = resource_id(
            "s",
            "rg",
            "Microsoft.Network/virtualNetworks/subnets",
            &["v".into(), "sn".into()],
        );
        assert_eq!(
            id,
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/sn"
        );
        assert_eq!(
            parse_id(&id),
            Some(("rg".to_string(), vec!["v".to_string(), "sn".to_string()]))
        );
        assert_eq!(parse_id("/nonsense"), None);
    }

    #[test]
    fn guids_are_stable_and_shaped() {
        let g = guid("x");
        assert_eq!(g, guid("x"));
        assert_ne!(g, guid("y"));
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "4");
        assert_eq!(secret("k").len(), 64);
    }
}
