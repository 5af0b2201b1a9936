//! Microsoft.Network resources: virtual networks and subnets, network security
//! groups and their rules, NICs and public IPs, shaped as `az network` prints them.

use serde_json::{Value, json};

use super::call::Call;
use super::error::AzError;
use super::ids;
use super::types::{Base, Edit, Parent, TypeSpec, no_extras, tags_only};
use super::world::Resource;

pub const VNET: TypeSpec = TypeSpec {
    kind: "vnet",
    arm_type: "Microsoft.Network/virtualNetworks",
    shown_type: None,
    name_opt: "name",
    parents: &[],
    required: &[],
    build: vnet,
    extras: vnet_first_subnet,
    update: tags_only,
    wrap: Some("newVNet"),
    children: &[("subnets", "subnet")],
    create_secs: 10.0,
    update_secs: 5.0,
    delete_secs: 10.0,
    confirm_delete: false,
};

pub const SUBNET: TypeSpec = TypeSpec {
    kind: "subnet",
    arm_type: "Microsoft.Network/virtualNetworks/subnets",
    shown_type: None,
    name_opt: "name",
    parents: &[Parent::Opt("vnet-name")],
    required: &[],
    build: subnet,
    extras: no_extras,
    update: subnet_update,
    wrap: None,
    children: &[],
    create_secs: 5.0,
    update_secs: 5.0,
    delete_secs: 5.0,
    confirm_delete: false,
};

pub const NSG: TypeSpec = TypeSpec {
    kind: "nsg",
    arm_type: "Microsoft.Network/networkSecurityGroups",
    shown_type: None,
    name_opt: "name",
    parents: &[],
    required: &[],
    build: nsg,
    extras: no_extras,
    update: tags_only,
    wrap: Some("NewNSG"),
    children: &[("securityRules", "nsg-rule")],
    create_secs: 5.0,
    update_secs: 5.0,
    delete_secs: 5.0,
    confirm_delete: false,
};

pub const NSG_RULE: TypeSpec = TypeSpec {
    kind: "nsg-rule",
    arm_type: "Microsoft.Network/networkSecurityGroups/securityRules",
    shown_type: None,
    name_opt: "name",
    parents: &[Parent::Opt("nsg-name")],
    required: &["priority"],
    build: nsg_rule,
    extras: no_extras,
    update: nsg_rule_update,
    wrap: None,
    children: &[],
    create_secs: 3.0,
    update_secs: 3.0,
    delete_secs: 3.0,
    confirm_delete: false,
};

pub const NIC: TypeSpec = TypeSpec {
    kind: "nic",
    arm_type: "Microsoft.Network/networkInterfaces",
    shown_type: None,
    name_opt: "name",
    parents: &[],
    required: &["subnet"],
    build: nic_from_args,
    extras: no_extras,
    update: tags_only,
    wrap: Some("NewNIC"),
    children: &[],
    create_secs: 5.0,
    update_secs: 5.0,
    delete_secs: 5.0,
    confirm_delete: false,
};

pub const PUBLIC_IP: TypeSpec = TypeSpec {
    kind: "public-ip",
    arm_type: "Microsoft.Network/publicIPAddresses",
    shown_type: None,
    name_opt: "name",
    parents: &[],
    required: &[],
    build: public_ip_from_args,
    extras: no_extras,
    update: tags_only,
    wrap: Some("publicIp"),
    children: &[],
    create_secs: 5.0,
    update_secs: 5.0,
    delete_secs: 5.0,
    confirm_delete: false,
};

fn prefixes(call: &Call, default: &str) -> Vec<String> {
    let mut p = call.args.many("address-prefixes");
    p.extend(call.args.many("address-prefix"));
    if p.is_empty() {
        p.push(default.to_string());
    }
    p
}

/// What the network resource provider fills in on a virtual network, before
/// the request's address space (the stand-in's PUT starts from it too).
pub fn vnet_defaults(b: &Base) -> Value {
    json!({
        "enableDdosProtection": false,
        "etag": ids::etag(&b.id),
        "location": b.location,
        "privateEndpointVNetPolicies": "Disabled",
        "resourceGuid": ids::guid(&format!("guid:{}", b.id)),
        "subnets": [],
        "tags": b.tags,
        "virtualNetworkPeerings": [],
    })
}

fn vnet(call: &Call, b: &Base) -> Result<Value, AzError> {
    let mut body = vnet_defaults(b);
    body["addressSpace"] = json!({ "addressPrefixes": prefixes(call, "10.0.0.0/16") });
    Ok(body)
}

/// `vnet create --subnet-name` makes the first subnet too.
fn vnet_first_subnet(call: &Call, b: &Base) -> Result<Vec<Resource>, AzError> {
    let Some(name) = call.args.one("subnet-name")? else {
        return Ok(Vec::new());
    };
    let mut prefixes = call.args.many("subnet-prefixes");
    prefixes.extend(call.args.many("subnet-prefix"));
    if prefixes.is_empty() {
        prefixes.push("10.0.0.0/24".into());
    }
    let id = format!("{}/subnets/{name}", b.id);
    let subnet = Base {
        id: id.clone(),
        name: name.clone(),
        resource_group: b.resource_group.clone(),
        location: b.location.clone(),
        tags: Value::Null,
    };
    let mut body = subnet_body(&subnet, &prefixes);
    body["name"] = Value::String(name);
    body["resourceGroup"] = Value::String(b.resource_group.clone());
    body["type"] = Value::String(SUBNET.arm_type.into());
    body["provisioningState"] = Value::String("Succeeded".into());
    body["id"] = Value::String(id.clone());
    Ok(vec![Resource {
        id,
        kind: SUBNET.kind.into(),
        body,
        busy: None,
    }])
}

/// What the network resource provider fills in on a subnet.
pub fn subnet_defaults(b: &Base) -> Value {
    json!({
        "delegations": [],
        "etag": ids::etag(&b.id),
        "privateEndpointNetworkPolicies": "Disabled",
        "privateLinkServiceNetworkPolicies": "Enabled",
    })
}

fn subnet_body(b: &Base, prefixes: &[String]) -> Value {
    let mut body = subnet_defaults(b);
    if prefixes.len() == 1 {
        body["addressPrefix"] = Value::String(prefixes[0].clone());
    } else {
        body["addressPrefixes"] = json!(prefixes);
    }
    body
}

fn subnet(call: &Call, b: &Base) -> Result<Value, AzError> {
    let mut body = subnet_body(b, &prefixes(call, "10.0.0.0/24"));
    let edit = subnet_update(call)?;
    edit(&mut body);
    Ok(body)
}

/// `--network-security-group`, `--route-table`, `--nat-gateway` take a name
/// (in the same group) or an id; `""` removes the link.
fn link(call: &Call, option: &str, arm_type: &str) -> Result<Option<Value>, AzError> {
    let Some(value) = call.args.one(option)? else {
        return Ok(None);
    };
    if value.is_empty() {
        return Ok(Some(Value::Null));
    }
    let id = if value.starts_with('/') {
        value
    } else {
        let rg = call.args.one("resource-group")?.unwrap_or_default();
        ids::resource_id(call.sub(), &rg, arm_type, &[value])
    };
    Ok(Some(json!({ "id": id })))
}

fn subnet_update(call: &Call) -> Result<Edit, AzError> {
    let nsg = link(call, "network-security-group", NSG.arm_type)?;
    let route_table = link(call, "route-table", "Microsoft.Network/routeTables")?;
    let nat = link(call, "nat-gateway", "Microsoft.Network/natGateways")?;
    let endpoints = call.args.has("service-endpoints").then(|| {
        call.args
            .many("service-endpoints")
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(|s| json!({ "locations": ["*"], "provisioningState": "Succeeded", "service": s }))
            .collect::<Vec<_>>()
    });
    let prefixes = (call.args.has("address-prefixes") || call.args.has("address-prefix"))
        .then(|| prefixes(call, "10.0.0.0/24"));
    let outbound = match call.args.one("default-outbound-access")? {
        None => None,
        Some(v) => Some(super::call::parse_bool("default-outbound-access", &v)?),
    };
    let pe_policies = call.args.one("private-endpoint-network-policies")?;
    Ok(Box::new(move |body: &mut Value| {
        let Some(map) = body.as_object_mut() else {
            return;
        };
        for (field, value) in [
            ("networkSecurityGroup", nsg),
            ("routeTable", route_table),
            ("natGateway", nat),
        ] {
            match value {
                Some(Value::Null) => {
                    map.remove(field);
                }
                Some(v) => {
                    map.insert(field.into(), v);
                }
                None => {}
            }
        }
        if let Some(e) = endpoints {
            map.insert("serviceEndpoints".into(), json!(e));
        }
        if let Some(p) = prefixes {
            map.remove("addressPrefix");
            map.remove("addressPrefixes");
            if p.len() == 1 {
                map.insert("addressPrefix".into(), json!(p[0]));
            } else {
                map.insert("addressPrefixes".into(), json!(p));
            }
        }
        if let Some(o) = outbound {
            map.insert("defaultOutboundAccess".into(), json!(o));
        }
        if let Some(p) = pe_policies {
            map.insert("privateEndpointNetworkPolicies".into(), json!(p));
        }
    }))
}

/// The six rules every NSG starts with: name, priority, inbound, access,
/// source, destination, description.
const DEFAULT_RULES: [(&str, u32, bool, &str, &str, &str, &str); 6] = [
    (
        "AllowVnetInBound",
        65000,
        true,
        "Allow",
        "VirtualNetwork",
        "VirtualNetwork",
        "Allow inbound traffic from all VMs in VNET",
    ),
    (
        "AllowAzureLoadBalancerInBound",
        65001,
        true,
        "Allow",
        "AzureLoadBalancer",
        "*",
        "Allow inbound traffic from azure load balancer",
    ),
    (
        "DenyAllInBound",
        65500,
        true,
        "Deny",
        "*",
        "*",
        "Deny all inbound traffic",
    ),
    (
        "AllowVnetOutBound",
        65000,
        false,
        "Allow",
        "VirtualNetwork",
        "VirtualNetwork",
        "Allow outbound traffic from all VMs to all VMs in VNET",
    ),
    (
        "AllowInternetOutBound",
        65001,
        false,
        "Allow",
        "*",
        "Internet",
        "Allow outbound traffic from all VMs to Internet",
    ),
    (
        "DenyAllOutBound",
        65500,
        false,
        "Deny",
        "*",
        "*",
        "Deny all outbound traffic",
    ),
];

fn nsg(_: &Call, b: &Base) -> Result<Value, AzError> {
    Ok(nsg_defaults(b))
}

/// An NSG as the network resource provider makes it: the six default rules.
pub fn nsg_defaults(b: &Base) -> Value {
    let defaults: Vec<Value> = DEFAULT_RULES
        .iter()
        .map(
            |(name, priority, inbound, access, source, dest, description)| {
                let id = format!("{}/defaultSecurityRules/{name}", b.id);
                json!({
                    "access": access,
                    "description": description,
                    "destinationAddressPrefix": dest,
                    "destinationAddressPrefixes": [],
                    "destinationPortRange": "*",
                    "destinationPortRanges": [],
                    "direction": if *inbound { "Inbound" } else { "Outbound" },
                    "etag": ids::etag(&id),
                    "id": id,
                    "name": name,
                    "priority": priority,
                    "protocol": "*",
                    "provisioningState": "Succeeded",
                    "resourceGroup": b.resource_group,
                    "sourceAddressPrefix": source,
                    "sourceAddressPrefixes": [],
                    "sourcePortRange": "*",
                    "sourcePortRanges": [],
                    "type": "Microsoft.Network/networkSecurityGroups/defaultSecurityRules",
                })
            },
        )
        .collect();
    json!({
        "defaultSecurityRules": defaults,
        "etag": ids::etag(&b.id),
        "location": b.location,
        "resourceGuid": ids::guid(&format!("guid:{}", b.id)),
        "securityRules": [],
        "tags": b.tags,
    })
}

/// What the network resource provider adds to a security rule the request describes.
pub fn nsg_rule_defaults(b: &Base) -> Value {
    json!({ "etag": ids::etag(&b.id) })
}

/// A single value goes to the singular field, several to the plural one.
fn one_or_many(body: &mut Value, singular: &str, plural: &str, values: Vec<String>) {
    if values.len() == 1 {
        body[singular] = json!(values[0]);
        body[plural] = json!([]);
    } else {
        body[singular] = Value::Null;
        body[plural] = json!(values);
    }
}

fn values_or(call: &Call, option: &str, default: &str) -> Vec<String> {
    let v = call.args.many(option);
    if v.is_empty() {
        vec![default.to_string()]
    } else {
        v
    }
}

fn nsg_rule(call: &Call, b: &Base) -> Result<Value, AzError> {
    let mut body = nsg_rule_defaults(b);
    body["access"] = json!("Allow");
    body["direction"] = json!("Inbound");
    body["protocol"] = json!("*");
    let edit = nsg_rule_update(call)?;
    edit(&mut body);
    for (singular, plural, option, default) in [
        (
            "sourceAddressPrefix",
            "sourceAddressPrefixes",
            "source-address-prefixes",
            "*",
        ),
        (
            "sourcePortRange",
            "sourcePortRanges",
            "source-port-ranges",
            "*",
        ),
        (
            "destinationAddressPrefix",
            "destinationAddressPrefixes",
            "destination-address-prefixes",
            "*",
        ),
        (
            "destinationPortRange",
            "destinationPortRanges",
            "destination-port-ranges",
            "80",
        ),
    ] {
        if body.get(singular).is_none() {
            one_or_many(
                &mut body,
                singular,
                plural,
                values_or(call, option, default),
            );
        }
    }
    Ok(body)
}

fn nsg_rule_update(call: &Call) -> Result<Edit, AzError> {
    let priority = match call.args.one("priority")? {
        None => None,
        Some(p) => Some(p.parse::<u32>().map_err(|_| {
            AzError::usage(format!("argument --priority: invalid int value: '{p}'"))
        })?),
    };
    let mut set: Vec<(&str, Value)> = Vec::new();
    for (field, option) in [
        ("access", "access"),
        ("direction", "direction"),
        ("protocol", "protocol"),
        ("description", "description"),
    ] {
        if let Some(v) = call.args.one(option)? {
            set.push((field, json!(v)));
        }
    }
    let mut lists: Vec<(&str, &str, Vec<String>)> = Vec::new();
    for (singular, plural, option) in [
        (
            "sourceAddressPrefix",
            "sourceAddressPrefixes",
            "source-address-prefixes",
        ),
        ("sourcePortRange", "sourcePortRanges", "source-port-ranges"),
        (
            "destinationAddressPrefix",
            "destinationAddressPrefixes",
            "destination-address-prefixes",
        ),
        (
            "destinationPortRange",
            "destinationPortRanges",
            "destination-port-ranges",
        ),
    ] {
        if call.args.has(option) {
            lists.push((singular, plural, call.args.many(option)));
        }
    }
    Ok(Box::new(move |body: &mut Value| {
        if let Some(p) = priority {
            body["priority"] = json!(p);
        }
        for (field, value) in set {
            body[field] = value;
        }
        for (singular, plural, values) in lists {
            one_or_many(body, singular, plural, values);
        }
    }))
}

/// A NIC as `vm create` or `nic create` makes it.
pub fn nic_body(
    b: &Base,
    subnet_id: &str,
    private_ip: &str,
    public_ip_id: Option<&str>,
    vm_id: Option<&str>,
) -> Value {
    let ipconfig_id = format!("{}/ipConfigurations/ipconfig1", b.id);
    let mut ipconfig = json!({
        "etag": ids::etag(&ipconfig_id),
        "id": ipconfig_id,
        "name": "ipconfig1",
        "primary": true,
        "privateIPAddress": private_ip,
        "privateIPAddressVersion": "IPv4",
        "privateIPAllocationMethod": "Dynamic",
        "provisioningState": "Succeeded",
        "resourceGroup": b.resource_group,
        "subnet": { "id": subnet_id, "resourceGroup": b.resource_group },
        "type": "Microsoft.Network/networkInterfaces/ipConfigurations",
    });
    if let Some(p) = public_ip_id {
        ipconfig["publicIPAddress"] = json!({ "id": p, "resourceGroup": b.resource_group });
    }
    let mut body = nic_defaults(b);
    body["ipConfigurations"] = json!([ipconfig]);
    body["primary"] = json!(true);
    if let Some(vm) = vm_id {
        body["virtualMachine"] = json!({ "id": vm, "resourceGroup": b.resource_group });
    }
    body
}

/// What the network resource provider fills in on a NIC, besides its IP configurations.
pub fn nic_defaults(b: &Base) -> Value {
    json!({
        "enableAcceleratedNetworking": false,
        "enableIPForwarding": false,
        "etag": ids::etag(&b.id),
        "id": b.id,
        "location": b.location,
        "macAddress": ids::mac(&b.id),
        "name": b.name,
        "nicType": "Standard",
        "provisioningState": "Succeeded",
        "resourceGroup": b.resource_group,
        "resourceGuid": ids::guid(&format!("guid:{}", b.id)),
        "tags": b.tags,
        "type": NIC.arm_type,
    })
}

fn nic_from_args(call: &Call, b: &Base) -> Result<Value, AzError> {
    let subnet = call.args.req("subnet")?;
    let subnet_id = if subnet.starts_with('/') {
        subnet
    } else {
        let vnet = call.args.req("vnet-name")?;
        ids::resource_id(
            call.sub(),
            &b.resource_group,
            SUBNET.arm_type,
            &[vnet, subnet],
        )
    };
    let ip = call.args.one_or("private-ip-address", "10.0.0.4")?;
    Ok(nic_body(b, &subnet_id, &ip, None, None))
}

/// A public IP as `vm create` or `public-ip create` makes it.
pub fn public_ip_body(b: &Base, address: &str) -> Value {
    json!({
        "etag": ids::etag(&b.id),
        "id": b.id,
        "idleTimeoutInMinutes": 4,
        "ipAddress": address,
        "ipTags": [],
        "location": b.location,
        "name": b.name,
        "provisioningState": "Succeeded",
        "publicIPAddressVersion": "IPv4",
        "publicIPAllocationMethod": "Static",
        "resourceGroup": b.resource_group,
        "resourceGuid": ids::guid(&format!("guid:{}", b.id)),
        "sku": { "name": "Standard", "tier": "Regional" },
        "tags": b.tags,
        "type": PUBLIC_IP.arm_type,
    })
}

/// A stable made-up public address for a resource id.
pub fn public_address(id: &str) -> String {
    let g = ids::guid(id);
    let b = g.as_bytes();
    format!("20.{}.{}.{}", b[0] % 200 + 10, b[1] % 250, b[2] % 250 + 1)
}

/// A public IP as the network resource provider makes it: a static address of its own.
pub fn public_ip_defaults(b: &Base) -> Value {
    public_ip_body(b, &public_address(&b.id))
}

fn public_ip_from_args(_: &Call, b: &Base) -> Result<Value, AzError> {
    Ok(public_ip_defaults(b))
}
