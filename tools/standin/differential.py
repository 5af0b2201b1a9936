#!/usr/bin/env python3
"""The real Azure CLI against goldsmith's Azure stand-in, and goldsmith's
built-in az against the same model: each case must print the same stdout and
stderr and exit with the same code, byte for byte.

The real az runs in an isolated configuration: a registered cloud `Local`
whose Entra ID, ARM and Microsoft Graph endpoints are the stand-in, a CA bundle
that trusts the stand-in's certificate, instance discovery and telemetry off,
and a service principal sign-in (a wrong secret first, which must fail as Entra
ID fails). Both front ends start from a world of their own (the phase's
scenario, if any), and run the same cases in order. The `library` step then
runs the shipped modules with `goldsmith run --simulate --az-cli <real az>`.

    tools/standin/differential.py --goldsmith target/release/goldsmith --az <venv>/bin/az [--phase NAME]
"""

import argparse
import base64
import concurrent.futures
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Each case is one az command line; the order matters (later cases see what earlier ones made).
# A phase runs its cases on a fresh world, with a scenario when it names one.
PLAIN = [
    ["group", "create", "-n", "rg-one", "-l", "westeurope", "--tags", "env=ci", "owner=goldsmith"],
    ["group", "show", "-n", "RG-ONE"],
    ["group", "show", "-n", "rg-missing"],
    ["group", "exists", "-n", "rg-one"],
    ["group", "exists", "-n", "rg-missing"],
    ["group", "create", "-n", "rg-two", "-l", "northeurope"],
    ["group", "list", "-o", "table"],
    ["group", "list", "--query", "[].name", "-o", "tsv"],
    ["group", "create", "-n", "rg-one", "-l", "northeurope"],
    ["group", "show", "-n", "rg-two", "--query", "properties.provisioningState", "-o", "tsv"],
    ["group", "delete", "-n", "rg-two", "--yes"],
    ["group", "delete", "-n", "rg-two", "--yes"],
    ["group", "list"],
    ["provider", "show", "--namespace", "Microsoft.Compute", "--query", "registrationState", "-o", "tsv"],
    ["provider", "register", "--namespace", "Microsoft.Compute"],
    ["provider", "show", "--namespace", "Microsoft.Compute", "--query", "registrationState", "-o", "tsv"],
    ["provider", "show", "-n", "Microsoft.Network", "--query", "[namespace, registrationState]", "-o", "tsv"],
    # No CLI extension is installed: its commands are unknown words to both.
    ["desktopvirtualization", "hostpool", "show", "-g", "rg-one", "-n", "pool"],
]

THROTTLE_SCENARIO = """\
faults:
  - throttle: { command: group show, times: 2, retry_after: 1s }
  - throttle: { command: group list, times: 1 }
"""
THROTTLED = [
    ["group", "create", "-n", "rg-one", "-l", "westeurope"],
    ["group", "show", "-n", "rg-one"],
    ["group", "list"],
    ["group", "list"],
]

# The scenario's `faults:` classes, as each front end shows them: Azure's answer through the real
# az, the same lines from the built-in az. (`az-error`, ARM unreachable, is not compared: the
# stand-in closes the connection, which az reports as "Connection aborted", while the built-in
# az prints the connection-refused line of fixture i.)
FAULT_SCENARIO = """\
faults:
  - { command: group show, class: server-error }
  - { command: group exists, class: not-found }
  - { command: group update, class: run-command-conflict }
  - { command: group list, class: throttled }
"""
FAULTED = [
    ["group", "create", "-n", "rg-one", "-l", "westeurope"],
    ["group", "show", "-n", "rg-one"],
    ["group", "exists", "-n", "rg-one"],
    ["group", "update", "-n", "rg-one", "--tags", "a=b"],
    ["group", "list"],
]

# Compute as modules/05-golden-image drives it: the network comes from the scenario's seed.
SUB = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-vm"
COMPUTE_SCENARIO = """\
exists:
  - az group create -n rg-vm -l westeurope
  - az network vnet create -g rg-vm -n vnet-vm -l westeurope --address-prefixes 10.20.0.0/16
  - az network vnet subnet create -g rg-vm --vnet-name vnet-vm -n snet-build --address-prefixes 10.20.1.0/24
"""
VM = ["--resource-group", "rg-vm", "--name", "vm-build"]
# Scripts the cases pass with --scripts @FILE, written beside the worlds.
SCRIPTS = {
    "hello.ps1": "# goldsmith-sim: stdout=hello exit=0\nWrite-Output hello\n",
    "long.ps1": "# goldsmith-sim: duration=2000s stdout=long exit=0\nStart-Sleep 2000\n",
    "sysprep.ps1": "# goldsmith-sim: stdout=sysprep power=stopped\nsysprep /generalize /oobe /shutdown\n",
}
COMPUTE = [
    ["vm", "show"] + VM,
    ["vm", "create"] + VM + [
        "--location", "westeurope", "--image", "MicrosoftWindowsDesktop:windows-11:win11-24h2-avd:latest",
        "--size", "Standard_D4s_v5", "--admin-username", "avdbuildadmin", "--admin-password", "Str0ng!Passw0rd#1",
        "--subnet", f"{SUB}/providers/Microsoft.Network/virtualNetworks/vnet-vm/subnets/snet-build",
        "--public-ip-address", "", "--nsg", "", "--security-type", "TrustedLaunch", "--enable-secure-boot", "true",
        "--enable-vtpm", "true", "--license-type", "Windows_Client", "--storage-sku", "Premium_LRS",
        "--os-disk-name", "vm-build-osdisk", "--tags", "workload=avd", "build=golden-image", "--output", "none",
    ],
    ["vm", "show"] + VM,
    ["vm", "show"] + VM + ["-d"],
    ["vm", "show"] + VM + ["--query", "networkProfile.networkInterfaces[0].id", "--output", "tsv"],
    ["vm", "show", "--resource-group", "rg-vm", "--name", "vm-missing", "--output", "none"],
    ["vm", "get-instance-view"] + VM,
    ["vm", "wait"] + VM + ["--custom", "instanceView.vmAgent.statuses[?displayStatus=='Ready']", "--interval", "15",
                           "--timeout", "900"],
    ["vm", "wait"] + VM + ["--created"],
    ["vm", "get-instance-view"] + VM + ["--query", "instanceView.vmAgent.statuses[0].displayStatus", "--output", "tsv"],
    ["vm", "run-command", "invoke"] + VM + ["--command-id", "RunPowerShellScript", "--scripts", "@hello.ps1",
                                           "--output", "json"],
    # Two at once: the second meets the first (409 Conflict).
    {"background": ["vm", "run-command", "invoke"] + VM + ["--command-id", "RunPowerShellScript", "--scripts",
                                                           "@long.ps1", "--output", "json"]},
    ["vm", "run-command", "invoke"] + VM + ["--command-id", "RunPowerShellScript", "--scripts", "@hello.ps1"],
    {"join": True},
    ["vm", "run-command", "invoke", "--resource-group", "rg-vm", "--name", "vm-missing", "--command-id",
     "RunPowerShellScript", "--scripts", "@hello.ps1"],
    ["vm", "restart"] + VM + ["--output", "none"],
    ["vm", "run-command", "invoke"] + VM + ["--command-id", "RunPowerShellScript", "--scripts", "@hello.ps1"],
    ["vm", "wait"] + VM + ["--custom", "instanceView.vmAgent.statuses[?displayStatus=='Ready']", "--interval", "15",
                           "--timeout", "1200"],
    ["vm", "run-command", "invoke"] + VM + ["--command-id", "RunPowerShellScript", "--scripts", "@sysprep.ps1",
                                           "--output", "json"],
    ["vm", "get-instance-view"] + VM + ["--query", "instanceView.statuses[?starts_with(code, 'PowerState/')].code | [0]",
                                        "--output", "tsv"],
    ["vm", "run-command", "invoke"] + VM + ["--command-id", "RunPowerShellScript", "--scripts", "@hello.ps1"],
    ["vm", "deallocate"] + VM + ["--output", "none"],
    ["vm", "generalize"] + VM + ["--output", "none"],
    ["vm", "get-instance-view"] + VM + ["--query", "length(instanceView.statuses[?code=='OSState/generalized'])",
                                        "--output", "tsv"],
    ["vm", "restart"] + VM + ["--output", "none"],
    ["vm", "show"] + VM + ["--query", "storageProfile.osDisk.managedDisk.id", "--output", "tsv"],
    ["vm", "delete"] + VM + ["--yes", "--output", "none"],
    ["vm", "show"] + VM + ["--output", "none"],
    ["network", "nic", "delete", "--ids", f"{SUB}/providers/Microsoft.Network/networkInterfaces/vm-buildVMNic",
     "--output", "none"],
    ["disk", "delete", "--ids", f"{SUB}/providers/Microsoft.Compute/disks/vm-build-osdisk", "--yes", "--output", "none"],
    ["disk", "delete", "--ids", f"{SUB}/providers/Microsoft.Compute/disks/vm-build-osdisk", "--yes", "--output", "none"],
    # create-build-vm's delete options: a cancelled run's `vm delete --no-wait` (delete-build-vm)
    # takes the NIC and OS disk with the VM.
    ["vm", "create", "--resource-group", "rg-vm", "--name", "vm-gone", "--location", "westeurope",
     "--image", "MicrosoftWindowsDesktop:windows-11:win11-24h2-avd:latest", "--size", "Standard_D4s_v5",
     "--admin-username", "avdbuildadmin", "--admin-password", "Str0ng!Passw0rd#1",
     "--subnet", f"{SUB}/providers/Microsoft.Network/virtualNetworks/vnet-vm/subnets/snet-build",
     "--public-ip-address", "", "--nsg", "", "--os-disk-name", "vm-gone-osdisk",
     "--nic-delete-option", "Delete", "--os-disk-delete-option", "Delete", "--output", "none"],
    ["vm", "show", "--resource-group", "rg-vm", "--name", "vm-gone", "--query",
     "[networkProfile.networkInterfaces[0].deleteOption, storageProfile.osDisk.deleteOption]", "--output", "tsv"],
    ["vm", "delete", "--resource-group", "rg-vm", "--name", "vm-gone", "--yes", "--no-wait", "--output", "none"],
    ["vm", "wait", "--resource-group", "rg-vm", "--name", "vm-gone", "--deleted", "--interval", "5"],
    ["network", "nic", "list", "--resource-group", "rg-vm", "--query", "[].name", "--output", "tsv"],
    ["disk", "show", "--resource-group", "rg-vm", "--name", "vm-gone-osdisk", "--output", "none"],
]

# The image version as modules/05-golden-image publishes it (create-image-version and the
# idempotency checks of deallocate-, generalize-build-vm): missing, refused while the VM is not
# generalized, created from the generalized VM, shown, published again, deleted (a Failed version).
IMAGE_VERSION = ["--resource-group", "rg-vm", "--gallery-name", "gal_avd_001",
                 "--gallery-image-definition", "win11-avd", "--gallery-image-version", "1.0.0"]
VERSION_STATE = ["sig", "image-version", "show"] + IMAGE_VERSION + ["--query", "provisioningState", "--output", "tsv"]
CREATE_VERSION = ["sig", "image-version", "create"] + IMAGE_VERSION + [
    "--location", "westeurope", "--virtual-machine", "@@vm@@", "--target-regions", "westeurope",
    "--replica-count", "1", "--storage-account-type", "Standard_ZRS", "--tags", "workload=avd",
    "environment=production", "source=MicrosoftWindowsDesktop:windows-11:win11-24h2-avd:latest", "--output", "none"]
# How next-image-version and latest-image-version list the versions: missing gallery and
# definition (exit 3), none yet, then the published one.
LIST_VERSIONS = ["sig", "image-version", "list"] + IMAGE_VERSION[:6] + ["--query", "[].name", "--output", "tsv"]
IMAGE = [
    LIST_VERSIONS,
    ["sig", "create", "--resource-group", "rg-vm", "--gallery-name", "gal_avd_001", "--location", "westeurope",
     "--output", "none"],
    LIST_VERSIONS,
    ["sig", "image-definition", "create"] + IMAGE_VERSION[:6] + [
        "--location", "westeurope", "--publisher", "Contoso", "--offer", "avd-golden-image", "--sku", "win11-avd",
        "--os-type", "Windows", "--os-state", "Generalized", "--hyper-v-generation", "V2",
        "--features", "SecurityType=TrustedLaunch IsAcceleratedNetworkSupported=true", "--output", "none"],
    LIST_VERSIONS,
    [word if word != "Str0ng!Passw0rd#1" else "weakpassword1" for word in COMPUTE[1]],
    COMPUTE[1],
    VERSION_STATE,
    ("save", "vm", ["vm", "show"] + VM + ["--query", "id", "--output", "tsv"]),
    CREATE_VERSION,
    VERSION_STATE,
    ["vm", "deallocate"] + VM + ["--output", "none"],
    ["vm", "generalize"] + VM + ["--output", "none"],
    CREATE_VERSION,
    VERSION_STATE,
    LIST_VERSIONS,
    ["sig", "image-version", "show"] + IMAGE_VERSION,
    ["sig", "image-version", "show"] + IMAGE_VERSION[:6] + ["--gallery-image-version", "9.9.9", "--output", "none"],
    CREATE_VERSION,
    VERSION_STATE,
    ["sig", "image-version", "delete"] + IMAGE_VERSION + ["--output", "none"],
    VERSION_STATE,
]

# Tokens that live 3 real seconds (600 simulated at the stand-in's 200x): az must renew its ARM
# token mid-phase with the stored credential, as a long build does every hour.
EXPIRY_SCENARIO = "token_lifetime: 600s\n"
EXPIRING = [
    ["group", "create", "-n", "rg-one", "-l", "westeurope", "-o", "none"],
    ["group", "show", "-n", "rg-one", "--query", "name", "-o", "tsv"],
    ["group", "list", "--query", "[].name", "-o", "tsv"],
    ["group", "exists", "-n", "rg-one"],
]

# The command shapes modules 01-networking, 02-storage and 05-golden-image (its gallery and image
# definition) issue: each idempotency check on a missing resource, the create, a repeat, the reads.
RG = ["--resource-group", "rg-avd"]
VNET = RG + ["--vnet-name", "vnet-avd"]
NSG = RG + ["--nsg-name", "nsg-avd"]
TAGS = ["--tags", "workload=avd", "environment=production", "managed-by=goldsmith"]
RULES = [
    ["AVD-Deny-RDP-Internet-In", "--priority", "4000", "--direction", "Inbound", "--access", "Deny",
     "--protocol", "*", "--source-address-prefixes", "Internet", "--source-port-ranges", "*",
     "--destination-address-prefixes", "*", "--destination-port-ranges", "3389",
     "--description", "No RDP from the internet: AVD uses reverse connect"],
    ["AVD-Allow-Service-Out", "--priority", "100", "--direction", "Outbound", "--access", "Allow",
     "--protocol", "Tcp", "--source-address-prefixes", "VirtualNetwork", "--source-port-ranges", "*",
     "--destination-address-prefixes", "WindowsVirtualDesktop", "--destination-port-ranges", "443",
     "--description", "AVD service and agent traffic"],
    ["AVD-Allow-KMS-Out", "--priority", "110", "--direction", "Outbound", "--access", "Allow",
     "--protocol", "Tcp", "--source-address-prefixes", "VirtualNetwork", "--source-port-ranges", "*",
     "--destination-address-prefixes", "20.118.99.224", "40.83.235.53", "23.102.135.246",
     "--destination-port-ranges", "1688", "--description", "Windows activation"],
    ["AVD-Allow-Shortpath-TURN-Out", "--priority", "120", "--direction", "Outbound", "--access", "Allow",
     "--protocol", "Udp", "--source-address-prefixes", "VirtualNetwork", "--source-port-ranges", "*",
     "--destination-address-prefixes", "51.5.0.0/16", "--destination-port-ranges", "3478",
     "--description", "RDP Shortpath for public networks (TURN relay)"],
    ["AVD-Allow-AzureFiles-Out", "--priority", "130", "--direction", "Outbound", "--access", "Allow",
     "--protocol", "Tcp", "--source-address-prefixes", "VirtualNetwork", "--source-port-ranges", "*",
     "--destination-address-prefixes", "Storage", "--destination-port-ranges", "445",
     "--description", "FSLogix profile containers on Azure Files (SMB)"],
]
AVD_RULES = ["network", "nsg", "rule", "list"] + NSG + [
    "--query", "length([?starts_with(name, 'AVD-')])", "--output", "tsv"]
SUBNET_NSG = ["--query", "networkSecurityGroup.id", "--output", "tsv"]
ACCOUNT = RG + ["--name", "stavdprof001"]
SHARE = RG + ["--storage-account", "stavdprof001", "--name", "fslogix-profiles"]
GALLERY = RG + ["--gallery-name", "gal_avd_001"]
DEFINITION = GALLERY + ["--gallery-image-definition", "win11-avd"]
NETWORK = [
    ["group", "create", "--name", "rg-avd", "--location", "westeurope", "--output", "none"],
    ["network", "vnet", "show"] + RG + ["--name", "vnet-avd", "--output", "none"],
    ["network", "nsg", "show"] + RG + ["--name", "nsg-avd", "--output", "none"],
    ["network", "nsg", "show", "--resource-group", "rg-missing", "--name", "nsg-avd", "--output", "none"],
    ["network", "vnet", "create"] + RG + ["--name", "vnet-avd", "--location", "westeurope",
                                           "--address-prefixes", "10.40.0.0/16"] + TAGS + ["--output", "none"],
    ["network", "vnet", "create"] + RG + ["--name", "vnet-avd", "--location", "westeurope",
                                           "--address-prefixes", "10.40.0.0/16"] + TAGS + ["--output", "none"],
    ["network", "vnet", "show"] + RG + ["--name", "vnet-avd", "--query", "addressSpace.addressPrefixes", "-o", "tsv"],
    ["network", "nsg", "create"] + RG + ["--name", "nsg-avd", "--location", "westeurope"] + TAGS + ["--output", "none"],
    ["network", "nsg", "create"] + RG + ["--name", "nsg-avd", "--location", "westeurope"] + TAGS + ["--output", "none"],
    ["network", "vnet", "subnet", "show"] + VNET + ["--name", "snet-avd-hosts", "--output", "none"],
    ["network", "vnet", "subnet", "show", "--resource-group", "rg-avd", "--vnet-name", "vnet-missing",
     "--name", "snet-avd-hosts", "--output", "none"],
    ["network", "vnet", "subnet", "create"] + VNET + ["--name", "snet-avd-hosts", "--address-prefixes", "10.40.1.0/24",
                                                      "--default-outbound-access", "true",
                                                      "--service-endpoints", "Microsoft.Storage", "--output", "none"],
    ["network", "vnet", "subnet", "show"] + VNET + ["--name", "snet-avd-hosts", "--output", "none"],
    ["network", "vnet", "subnet", "create"] + VNET + ["--name", "snet-avd-build", "--address-prefixes", "10.40.2.0/27",
                                                      "--default-outbound-access", "true", "--output", "none"],
    ["network", "vnet", "subnet", "show"] + VNET + ["--name", "snet-avd-build", "--query", "addressPrefix", "-o", "tsv"],
    ["network", "vnet", "show"] + RG + ["--name", "vnet-avd", "--query", "subnets[].name", "-o", "tsv"],
    AVD_RULES,
] + [["network", "nsg", "rule", "create"] + NSG + ["--name"] + rule + ["--output", "none"] for rule in RULES] + [
    ["network", "nsg", "rule", "create"] + NSG + ["--name"] + RULES[0] + ["--output", "none"],
    AVD_RULES,
    ["network", "nsg", "rule", "list"] + NSG + ["--query", "[?priority < `200`].destinationPortRange", "-o", "tsv"],
    ["network", "nsg", "show"] + RG + ["--name", "nsg-avd", "--query", "id", "--output", "tsv"],
    ["network", "vnet", "subnet", "show"] + VNET + ["--name", "snet-avd-hosts"] + SUBNET_NSG,
    ["network", "vnet", "subnet", "update"] + VNET + ["--name", "snet-avd-hosts", "--network-security-group", "nsg-avd",
                                                      "--output", "none"],
    ["network", "vnet", "subnet", "update"] + VNET + ["--name", "snet-avd-build", "--network-security-group", "nsg-avd",
                                                      "--output", "none"],
    ["network", "vnet", "subnet", "show"] + VNET + ["--name", "snet-avd-hosts"] + SUBNET_NSG,
    ["network", "vnet", "subnet", "show"] + VNET + ["--name", "snet-avd-build"] + SUBNET_NSG,
    ["storage", "account", "show"] + ACCOUNT + ["--output", "none"],
    ["storage", "account", "create"] + ACCOUNT + ["--location", "westeurope", "--kind", "FileStorage",
                                                  "--sku", "Premium_ZRS", "--https-only", "true",
                                                  "--min-tls-version", "TLS1_2", "--allow-blob-public-access", "false"]
    + TAGS + ["--output", "none"],
    ["storage", "account", "create"] + ACCOUNT + ["--location", "westeurope", "--kind", "FileStorage",
                                                  "--sku", "Premium_ZRS", "--https-only", "true",
                                                  "--min-tls-version", "TLS1_2", "--allow-blob-public-access", "false"]
    + TAGS + ["--output", "none"],
    ["storage", "account", "show"] + ACCOUNT + ["--output", "none"],
    ["storage", "account", "show"] + ACCOUNT + ["--query", "[kind, sku.name, minimumTlsVersion, primaryEndpoints.file]",
                                                "-o", "tsv"],
    ["storage", "account", "keys", "list", "--resource-group", "rg-avd", "--account-name", "stavdprof001",
     "--query", "[].[keyName, permissions]", "-o", "tsv"],
    ["storage", "share-rm", "show"] + SHARE + ["--output", "none"],
    ["storage", "share-rm", "create"] + SHARE + ["--quota", "1024", "--enabled-protocols", "SMB", "--output", "none"],
    ["storage", "share-rm", "create"] + SHARE + ["--quota", "1024", "--enabled-protocols", "SMB", "--output", "none"],
    ["storage", "share-rm", "show"] + SHARE + ["--query", "[shareQuota, enabledProtocols]", "-o", "tsv"],
    ["sig", "show"] + GALLERY + ["--output", "none"],
    ["sig", "create"] + GALLERY + ["--location", "westeurope", "--description", "AVD golden images"]
    + TAGS + ["--output", "none"],
    ["sig", "create"] + GALLERY + ["--location", "westeurope", "--description", "AVD golden images"]
    + TAGS + ["--output", "none"],
    ["sig", "show"] + GALLERY + ["--output", "none"],
    ["sig", "image-definition", "show"] + DEFINITION + ["--output", "none"],
    ["sig", "image-definition", "create"] + DEFINITION + [
        "--location", "westeurope", "--publisher", "Contoso", "--offer", "avd-golden-image", "--sku", "win11-avd",
        "--os-type", "Windows", "--os-state", "Generalized", "--hyper-v-generation", "V2",
        "--features", "SecurityType=TrustedLaunch IsAcceleratedNetworkSupported=true",
        "--description", "Windows 11 Enterprise multi-session"] + TAGS + ["--output", "none"],
    ["sig", "image-definition", "create"] + DEFINITION + [
        "--location", "westeurope", "--publisher", "Contoso", "--offer", "avd-golden-image", "--sku", "win11-avd",
        "--os-type", "Windows", "--os-state", "Generalized", "--hyper-v-generation", "V2",
        "--features", "SecurityType=TrustedLaunch IsAcceleratedNetworkSupported=true",
        "--description", "Windows 11 Enterprise multi-session"] + TAGS + ["--output", "none"],
    ["sig", "image-definition", "show"] + DEFINITION + ["--output", "none"],
    ["sig", "image-definition", "show"] + DEFINITION + [
        "--query", "[hyperVGeneration, osState, osType, identifier.sku, join(',', features[].name)]", "-o", "tsv"],
]



# Entra ID groups (Microsoft Graph) and role assignments (ARM), as modules 03-identity and
# 04-host-pool use them. `@@name@@` in a case is a value an earlier ("save", name, case) printed
# (the same through both, or the case that printed it differs); `@@sub@@` is the subscription.
USERS_GROUP = "[?displayName=='sg-avd-users'].id | [0]"
RG_SCOPE = "/subscriptions/@@sub@@/resourceGroups/rg-id"
SHARE_SCOPE = RG_SCOPE + "/providers/Microsoft.Storage/storageAccounts/stmissing/fileServices/default/fileshares/profiles"
ASSIGN = ["role", "assignment", "create", "--assignee-object-id", "@@users@@", "--assignee-principal-type", "Group"]
IDENTITY = [
    ["group", "create", "-n", "rg-id", "-l", "westeurope", "--output", "none"],
    ["account", "show", "--query", "id", "--output", "tsv"],
    ["ad", "group", "list", "--display-name", "sg-avd-users", "--query", USERS_GROUP, "--output", "tsv"],
    ("save", "users", ["ad", "group", "create", "--display-name", "sg-avd-users", "--mail-nickname", "sg-avd-users",
                       "--description", "Users of the desktops", "--query", "id", "--output", "tsv"]),
    ["ad", "group", "create", "--display-name", "sg-avd-users", "--mail-nickname", "sg-avd-users", "--query", "id", "--output", "tsv"],
    ["ad", "group", "create", "--display-name", "sg-avd-users-old", "--mail-nickname", "old", "--query", "displayName", "--output", "tsv"],
    ["ad", "group", "list", "--display-name", "sg-avd-users", "--query", USERS_GROUP, "--output", "tsv"],
    ["ad", "group", "list", "--display-name", "SG-AVD", "--query", "[].[displayName, mailNickname, securityEnabled]", "--output", "tsv"],
    ["ad", "group", "list", "--display-name", "sg-none", "--output", "json"],
    ["ad", "group", "show", "-g", "sg-avd-users", "--query", "[id, displayName, description, mailEnabled]", "--output", "tsv"],
    ["ad", "group", "show", "-g", "sg-avd-users-o", "--query", "displayName", "--output", "tsv"],
    ["ad", "group", "show", "-g", "sg-avd"],
    ["ad", "group", "show", "-g", "sg-missing"],
    ["ad", "group", "show", "-g", "00000000-0000-4000-8000-000000000000"],
    ["ad", "group", "member", "list", "-g", "sg-avd-users"],
    ["ad", "group", "member", "add", "-g", "sg-avd-users", "--member-id", "00000000-0000-4000-8000-0000000000a1"],
    ["ad", "group", "member", "add", "-g", "sg-avd-users", "--member-id", "00000000-0000-4000-8000-0000000000a1"],
    ["ad", "group", "member", "add", "-g", "00000000-0000-4000-8000-000000000000", "--member-id", "00000000-0000-4000-8000-0000000000a1"],
    ["ad", "group", "member", "check", "-g", "sg-avd-users", "--member-id", "00000000-0000-4000-8000-0000000000a1"],
    ["ad", "group", "member", "check", "-g", "@@users@@", "--member-id", "00000000-0000-4000-8000-0000000000a2"],
    ["ad", "group", "member", "list", "-g", "@@users@@", "--query", "[].id", "--output", "tsv"],
    ["role", "assignment", "list", "--assignee", "@@users@@", "--role", "Virtual Machine User Login", "--scope", RG_SCOPE,
     "--query", "[0].id", "--output", "tsv"],
    ASSIGN + ["--role", "Virtual Machine User Login", "--scope", RG_SCOPE, "--output", "none"],
    ASSIGN + ["--role", "Virtual Machine User Login", "--scope", RG_SCOPE,
              "--query", "[principalName, roleDefinitionName, principalType, scope, resourceGroup]", "--output", "tsv"],
    ["role", "assignment", "list", "--assignee", "@@users@@", "--role", "Virtual Machine User Login", "--scope", RG_SCOPE,
     "--query", "[].[principalId, principalName, roleDefinitionId, roleDefinitionName, scope, type]", "--output", "tsv"],
    ["role", "assignment", "list", "--assignee", "@@users@@", "--role", "Reader", "--scope", RG_SCOPE, "--output", "json"],
    ["role", "assignment", "list", "--scope", RG_SCOPE, "--query", "length(@)"],
    ASSIGN + ["--role", "Reader", "--scope", RG_SCOPE,
              "--query", "[condition, description, principalId, principalType, roleDefinitionId, scope, systemData, type]"],
    ["role", "assignment", "list", "--assignee", "00000000-0000-4000-8000-000000000009", "--scope", RG_SCOPE],
    ["role", "assignment", "list", "--assignee", "@@users@@", "--scope", "/subscriptions/@@sub@@/resourceGroups/rg-missing"],
    ASSIGN + ["--role", "No Such Role", "--scope", RG_SCOPE, "--output", "none"],
    ASSIGN + ["--role", "Virtual Machine User Login", "--scope", "/subscriptions/@@sub@@/resourceGroups/rg-missing", "--output", "none"],
    ASSIGN + ["--role", "Storage File Data SMB Share Contributor", "--scope", SHARE_SCOPE, "--output", "none"],
    ["role", "assignment", "create", "--assignee-object-id", "@@users@@", "--role", "Reader", "--scope", RG_SCOPE,
     "--query", "principalType", "--output", "tsv"],
]

# The AVD control plane through `az rest` at api-version 2024-04-03, as modules 04-host-pool
# and 06-session-hosts call it.
AVD_BASE = "/subscriptions/{subscriptionId}/resourceGroups/rg-avd/providers/Microsoft.DesktopVirtualization"
API = "?api-version=2024-04-03"
POOL, WS, AG = AVD_BASE + "/hostPools/pool" + API, AVD_BASE + "/workspaces/ws" + API, AVD_BASE + "/applicationGroups/ag" + API
POOL_BODY = ('{"location":"westeurope","tags":{"env":"ci"},"properties":{"hostPoolType":"Pooled",'
             '"loadBalancerType":"BreadthFirst","maxSessionLimit":12,"preferredAppGroupType":"Desktop",'
             '"validationEnvironment":false,"startVMOnConnect":false,"friendlyName":"Pool",'
             '"customRdpProperty":"targetisaadjoined:i:1;audiomode:i:0"}}')
SETTINGS = "join('/', [properties.hostPoolType, properties.loadBalancerType, to_string(properties.maxSessionLimit)])"
REST = ["rest", "--method"]
AVD = [
    REST + ["get", "--url", POOL, "--output", "none"],
    ["group", "create", "-n", "rg-avd", "-l", "westeurope", "--output", "none"],
    REST + ["get", "--url", POOL, "--query", SETTINGS, "--output", "tsv"],
    REST + ["get", "--url", WS, "--output", "none"],
    REST + ["get", "--url", AG, "--output", "none"],
    REST + ["put", "--url", POOL, "--body", POOL_BODY, "--output", "none"],
    REST + ["get", "--url", POOL, "--query", SETTINGS, "--output", "tsv"],
    REST + ["get", "--url", POOL],
    REST + ["patch", "--url", POOL, "--body", '{"properties":{"loadBalancerType":"DepthFirst","maxSessionLimit":4}}',
            "--query", SETTINGS, "--output", "tsv"],
    REST + ["put", "--url", WS, "--body", '{"location":"westeurope","tags":{},"properties":{"friendlyName":"Desk"}}',
            "--output", "none"],
    ("save", "pool", REST + ["get", "--url", POOL, "--query", "id", "--output", "tsv"]),
    REST + ["put", "--url", AG, "--body", '{"location":"westeurope","properties":{"applicationGroupType":"Desktop",'
            '"hostPoolArmPath":"@@pool@@","friendlyName":"Desktop"}}', "--output", "none"],
    ("save", "ag", REST + ["get", "--url", AG, "--query", "id", "--output", "tsv"]),
    REST + ["get", "--url", WS, "--query", "properties.applicationGroupReferences[]", "--output", "tsv"],
    REST + ["patch", "--url", WS, "--body", '{"properties":{"applicationGroupReferences":["@@ag@@"]}}', "--output", "none"],
    REST + ["get", "--url", WS, "--query", "properties.applicationGroupReferences[]", "--output", "tsv"],
    REST + ["get", "--url", AG],
    REST + ["patch", "--url", POOL, "--body",
            '{"properties":{"registrationInfo":{"expirationTime":"2030-01-01T00:00:00Z","registrationTokenOperation":"Update"}}}',
            "--query", "properties.registrationInfo", "--output", "json"],
    REST + ["post", "--url", AVD_BASE + "/hostPools/pool/retrieveRegistrationToken" + API,
            "--query", "[expirationTime, registrationTokenOperation, length(token) > `100`]", "--output", "tsv"],
    REST + ["post", "--url", AVD_BASE + "/hostPools/missing/retrieveRegistrationToken" + API],
    REST + ["patch", "--url", AVD_BASE + "/workspaces/missing" + API, "--body", '{"properties":{}}'],
    REST + ["get", "--url", AVD_BASE.replace("rg-avd", "rg-missing") + "/hostPools/pool" + API],
]

# The session hosts as modules/06-session-hosts makes them: a VM created with --no-wait and waited
# for, the AVD agent's DSC extension (its registration token through a pipe, as the module passes it:
# a {"shell": script} case runs in bash with `az` the front end under test), a failing one (a stale
# token), the Entra join extension (no --version: az reads the extension image catalog), and the
# host pool's session hosts through az rest. The image is a marketplace one: gallery image versions
# are served by the image phase.
EXT_SCENARIO = """\
exists:
  - az group create -n rg-ext -l westeurope
  - az network vnet create -g rg-ext -n vnet-ext -l westeurope --address-prefixes 10.30.0.0/16
  - az network vnet subnet create -g rg-ext --vnet-name vnet-ext -n snet-hosts --address-prefixes 10.30.1.0/24
"""
EXT_RG = ["--resource-group", "rg-ext"]
HOST = EXT_RG + ["--vm-name", "avd-sh-1"]
EXT_POOL = "/subscriptions/{subscriptionId}/resourceGroups/rg-ext/providers/Microsoft.DesktopVirtualization/hostPools/pool"
HOSTS_URL = EXT_POOL + "/sessionHosts" + API
DSC_SETTINGS = ('{"modulesUrl":"https://example.invalid/Configuration.zip","configurationFunction":'
                '"Configuration.ps1\\\\AddSessionHost","properties":{"hostPoolName":"pool",'
                '"registrationInfoTokenCredential":{"UserName":"PLACEHOLDER_DO_NOT_USE",'
                '"Password":"PrivateSettingsRef:RegistrationInfoToken"},"aadJoin":true,"UseAgentDownloadEndpoint":true}}')
REGISTER = f"""set -euo pipefail
pool_url='{EXT_POOL}'
az rest --method patch --url "${{pool_url}}{API}" \\
  --body '{{"properties":{{"registrationInfo":{{"expirationTime":"2030-01-01T00:00:00Z","registrationTokenOperation":"Update"}}}}}}' \\
  --output none
token=$(az rest --method post --url "${{pool_url}}/retrieveRegistrationToken{API}" --query token --output tsv)
az vm extension set --resource-group rg-ext --vm-name avd-sh-1 --name DSC --publisher Microsoft.Powershell \\
  --version 2.83 --extension-instance-name Microsoft.PowerShell.DSC --settings '{DSC_SETTINGS}' \\
  --protected-settings @<(printf '{{"Items":{{"RegistrationInfoToken":"%s"}}}}' "$token") --output none
"""
DSC_STATE = ["vm", "extension", "show"] + HOST + ["--name", "Microsoft.PowerShell.DSC", "--query", "provisioningState",
                                                  "--output", "tsv"]
AAD_STATE = ["vm", "extension", "show"] + HOST + ["--name", "AADLoginForWindows", "--query", "provisioningState",
                                                  "--output", "tsv"]
EXTENSIONS = [
    ["vm", "show", "--resource-group", "rg-ext", "--name", "avd-sh-1", "--output", "none"],
    ["vm", "create", "--resource-group", "rg-ext", "--name", "avd-sh-1", "--location", "westeurope",
     "--image", "MicrosoftWindowsDesktop:windows-11:win11-24h2-avd:latest", "--size", "Standard_D4s_v5",
     "--admin-username", "avdadmin", "--admin-password", "Str0ng!Passw0rd#1",
     "--subnet", "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-ext/providers/"
     "Microsoft.Network/virtualNetworks/vnet-ext/subnets/snet-hosts",
     "--public-ip-address", "", "--nsg", "", "--security-type", "TrustedLaunch", "--enable-secure-boot", "true",
     "--enable-vtpm", "true", "--assign-identity", "--license-type", "Windows_Client", "--storage-sku", "Premium_LRS",
     "--os-disk-delete-option", "Delete", "--nic-delete-option", "Delete", "--tags", "workload=avd",
     "--no-wait", "--output", "none"],
    ["vm", "wait", "--resource-group", "rg-ext", "--name", "avd-sh-1", "--created", "--interval", "15",
     "--timeout", "2400"],
    ["vm", "show", "--resource-group", "rg-ext", "--name", "avd-sh-1", "--query", "provisioningState", "--output", "tsv"],
    ["vm", "show", "--resource-group", "rg-ext", "--name", "avd-sh-1", "--query", "identity.type", "--output", "tsv"],
    DSC_STATE,
    ["vm", "extension", "show", "--resource-group", "rg-ext", "--vm-name", "avd-sh-missing",
     "--name", "Microsoft.PowerShell.DSC", "--query", "provisioningState", "--output", "tsv"],
    REST + ["put", "--url", EXT_POOL + API, "--body", POOL_BODY, "--output", "none"],
    REST + ["get", "--url", HOSTS_URL, "--query", "length(value)", "--output", "tsv"],
    {"shell": REGISTER},
    DSC_STATE,
    ["vm", "extension", "show"] + HOST + ["--name", "Microsoft.PowerShell.DSC"],
    REST + ["get", "--url", HOSTS_URL, "--query", "value[].[name, properties.resourceId, properties.agentVersion]",
            "--output", "tsv"],
    # A stale token: the DSC configuration fails, and the extension shows it.
    ["vm", "extension", "set"] + HOST + ["--name", "DSC", "--publisher", "Microsoft.Powershell", "--version", "2.83",
                                         "--extension-instance-name", "Microsoft.PowerShell.DSC",
                                         "--settings", DSC_SETTINGS,
                                         "--protected-settings", '{"Items":{"RegistrationInfoToken":"stale"}}',
                                         "--output", "none"],
    DSC_STATE,
    {"shell": REGISTER},
    DSC_STATE,
    AAD_STATE,
    ["vm", "extension", "set"] + HOST + ["--name", "AADLoginForWindows", "--publisher",
                                         "Microsoft.Azure.ActiveDirectory", "--output", "none"],
    AAD_STATE,
    ["vm", "extension", "show"] + HOST + ["--name", "AADLoginForWindows",
                                         "--query", "[name, typeHandlerVersion, publisher, autoUpgradeMinorVersion]",
                                         "--output", "tsv"],
    REST + ["get", "--url", HOSTS_URL, "--query", "length(value[?properties.status=='Available'])", "--output", "tsv"],
    REST + ["get", "--url", HOSTS_URL, "--query", "value[].{host: name, status: properties.status, update: "
            "properties.updateState, failures: properties.sessionHostHealthCheckResults[?healthCheckResult!="
            "'HealthCheckSucceeded'].healthCheckName}", "--output", "json"],
    REST + ["get", "--url", EXT_POOL.replace("/pool", "/missing") + "/sessionHosts" + API],
]

PHASES = [
    ("plain", PLAIN, None),
    ("throttled", THROTTLED, THROTTLE_SCENARIO),
    ("faults", FAULTED, FAULT_SCENARIO),
    ("expiry", EXPIRING, EXPIRY_SCENARIO),
    ("network", NETWORK, None),
    ("compute", COMPUTE, COMPUTE_SCENARIO),
    ("image", IMAGE, COMPUTE_SCENARIO),
    ("identity", IDENTITY, None),
    ("avd", AVD, None),
    ("extensions", EXTENSIONS, EXT_SCENARIO),
]

# The shipped library, run by `goldsmith run M --simulate --with-dependencies --az-cli <real az>`:
# the operations run the real az, signed in to a stand-in goldsmith starts on the run's world.
# The two ends of the dependency graph run every module: 03 after 00 and 02, 06 after 00, 01,
# 04 and 05.
MODULES = [
    "03-identity",
    "06-session-hosts",
    # The golden image again, with a run-command conflict goldsmith must retry and VM reads ARM
    # throttles (the scenario says which); `check_faulted` proves both happened.
    ("05-golden-image", "golden-faults.yaml"),
]


def jwt(**claims):
    """An unsigned-looking JWT with these claims, as a workflow's OIDC token is shaped."""
    part = lambda obj: base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


def run(argv, env, timeout=120, cwd=None):
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    return done.returncode, done.stdout, done.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--goldsmith", required=True, type=Path)
    parser.add_argument("--az", required=True, type=Path, help="the real Azure CLI (2.91.0)")
    parser.add_argument("--phase", action="append",
                        help="run only this phase (repeatable): a case phase, or `library` for the modules")
    args = parser.parse_args()
    goldsmith = args.goldsmith.resolve()
    work = Path(tempfile.mkdtemp(prefix="goldsmith-standin-"))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "GOLDSMITH_"))}
    commands = requests = differences = 0
    for name, cases, scenario in PHASES:
        if args.phase and name not in args.phase:
            continue
        print(f"== {name}")
        here = work / name
        here.mkdir()
        scenario_file = None
        if scenario:
            scenario_file = here / "scenario.yaml"
            scenario_file.write_text(scenario)
        secret = "standin-" + secrets.token_hex(12)
        argv = [str(goldsmith), "azure-standin", "--dir", str(here / "standin")]
        if scenario_file:
            argv += ["--sim-scenario", str(scenario_file)]
        standin = subprocess.Popen(
            argv, env=dict(base_env, GOLDSMITH_STANDIN_CLIENT_SECRET=secret), stdout=subprocess.PIPE, text=True
        )
        try:
            ready = json.loads(standin.stdout.readline())
            real_env = sign_in(args.az, here, ready, secret, base_env)
            builtin_az, builtin_env = builtin(goldsmith, here, scenario_file, base_env)
            for script, text in SCRIPTS.items():
                (here / script).write_text(text)
            differences += compare(args.az, cases, real_env, builtin_az, builtin_env, here,
                                   {"sub": ready["subscription"]})
        finally:
            standin.terminate()
            standin.wait(timeout=30)
        commands += len(cases)
        served = [json.loads(line) for line in Path(ready["log_file"]).read_text().splitlines()]
        requests += len(served)
        if name == "expiry":
            renewals = sum(1 for r in served[-2 * len(cases):] if r["path"].endswith("/oauth2/v2.0/token"))
            if renewals < len(cases):
                sys.exit(f"with 3-second tokens, az renewed its token {renewals} times for {len(cases)} commands")
            print(f"ok    az renewed its expiring token {renewals} times for {len(cases)} commands")
    modules = MODULES if not args.phase or "library" in args.phase else []
    if modules:
        print("== library")
        requests += run_modules(goldsmith, args.az, work, modules)
    print(f"stand-in: {commands} commands, {len(modules)} module runs, {requests} requests, {differences} differences")
    if differences:
        print(f"the worlds and request logs are kept in {work}")
        sys.exit(1)
    shutil.rmtree(work)


def sign_in(az, work, ready, secret, base_env):
    """An isolated real az, pointed at the stand-in and signed in; returns its environment."""
    url = ready["url"]
    real_env = dict(
        base_env,
        AZURE_CONFIG_DIR=str(work / "az-config"),
        REQUESTS_CA_BUNDLE=ready["ca_file"],
        AZURE_CORE_COLLECT_TELEMETRY="false",
    )
    real = [str(az)]
    for setup in (
        ["config", "set", "core.instance_discovery=false", "core.collect_telemetry=false"],
        [
            "cloud", "register", "--name", "Local", "--skip-endpoint-discovery",
            "--endpoint-resource-manager", f"{url}/",
            "--endpoint-active-directory", url,
            "--endpoint-active-directory-resource-id", "https://management.core.windows.net/",
            "--endpoint-microsoft-graph-resource-id", f"{url}/",
        ],
        ["cloud", "set", "--name", "Local"],
    ):
        code, out, err = run(real + setup + ["--only-show-errors"], real_env)
        if code != 0:
            sys.exit(f"az {' '.join(setup)} failed ({code}): {err}")

    login = real + ["login", "--service-principal", "-u", ready["client_id"], "--tenant", ready["tenant"]]
    code, _, err = run(login + ["-p", "not-the-secret"], real_env)
    if code != 1 or "AADSTS7000215" not in err:
        sys.exit(f"a wrong client secret must fail with AADSTS7000215, got exit {code}: {err}")
    print("ok    az login with a wrong secret: AADSTS7000215, exit 1")
    now = int(time.time())
    expired = jwt(aud="api://AzureADTokenExchange", nbf=now - 900, exp=now - 300)
    code, _, err = run(login + ["--federated-token", expired], real_env)
    if code != 1 or "AADSTS700024" not in err:
        sys.exit(f"an expired federated token must fail with AADSTS700024, got exit {code}: {err}")
    print("ok    az login with an expired federated token: AADSTS700024, exit 1")
    fresh = jwt(aud="api://AzureADTokenExchange", nbf=now - 60, exp=now + 600)
    code, _, err = run(login + ["--federated-token", fresh, "--output", "none"], real_env)
    if code != 0:
        sys.exit(f"az login --federated-token failed ({code}): {err}")
    print("ok    az login --service-principal --federated-token")
    code, _, err = run(login + ["-p", secret, "--output", "none"], real_env)
    if code != 0:
        sys.exit(f"az login failed ({code}): {err}")
    print("ok    az login --service-principal (secret)")
    return real_env


def run_modules(goldsmith, az, work, modules):
    """`goldsmith run M --simulate --az-cli AZ` for each shipped module, a few at a time (each has
    its own run directory, world and stand-in); returns how many requests the stand-ins served."""
    project = work / "project"
    project.mkdir()
    repo = Path(__file__).resolve().parents[2]
    for part in ("capabilities", "modules"):
        shutil.copytree(repo / part, project / part)
    shutil.copy(repo / "config.yaml", project / "config.yaml")

    shutil.copy(Path(__file__).with_name("golden-faults.yaml"), project / "golden-faults.yaml")

    def one(entry):
        module, scenario = entry if isinstance(entry, tuple) else (entry, None)
        started = time.monotonic()
        # --wait: a module listed twice takes its turn (one run of a module per root at a time).
        argv = [str(goldsmith), "--root", str(project), "run", module, "--simulate", "--sim-speed", "1000",
                "--az-cli", str(az), "--wait"]
        if scenario:
            argv += ["--sim-scenario", str(project / scenario)]
        else:
            # A fresh simulated Azure: the modules it depends on run first, in the same run.
            argv += ["--with-dependencies"]
        code, out, err = run(argv, dict(os.environ), timeout=1500)
        lines = out.splitlines()
        logs = [line for line in lines if line.startswith("goldsmith: logs, state and events in ")]
        served = []
        if logs:
            run_dir = project / logs[-1].rsplit(" in ", 1)[1]
            log = run_dir / "sim" / "standin.jsonl"
            served = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
            if code == 0 and scenario:
                problem = check_faulted(run_dir, served)
                if problem:
                    code, err = 1, problem
        shown = f"{module} with {scenario}" if scenario else module
        return shown, code, out, err, time.monotonic() - started, len(served)

    requests = 0
    failed = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        for module, code, out, err, seconds, served in pool.map(one, modules):
            requests += served
            summary = ([line for line in out.splitlines() if line.startswith("goldsmith: run ")] or ["(no summary)"])[-1]
            if code != 0:
                failed.append(module)
                print(f"FAIL  goldsmith run {module} through the real az, exit {code}:\n{out}\n{err}")
                continue
            print(f"ok    goldsmith run {module} through the real az ({seconds:.0f} s, {served} requests): {summary}")
    if failed:
        sys.exit(f"modules that failed through the real az: {', '.join(failed)}")
    return requests


def check_faulted(run_dir, served):
    """The golden-faults run: the conflicted operation took a second attempt, ARM throttled VM reads."""
    ops = {op["id"]: op for op in json.loads((run_dir / "state.json").read_text())["ops"]}
    attempts = ops["prepare-build-vm"]["attempts"]
    throttled = sum(1 for r in served if r["status"] == 429 and r["command"] == "vm show")
    if attempts < 2 or throttled < 2:
        return f"expected a retried conflict and two throttled reads, got {attempts} attempts, {throttled} 429s"
    print(f"ok    the conflict was retried ({attempts} attempts) and {throttled} throttled reads went through")
    return None


def builtin(goldsmith, work, scenario_file, base_env):
    """goldsmith's built-in az on a world of its own: its path and environment."""
    bin_dir = work / "bin"
    bin_dir.mkdir()
    (bin_dir / "az").symlink_to(goldsmith)
    (work / "builtin").mkdir()
    env = dict(base_env, GOLDSMITH_SIM_DIR=str(work / "builtin"), PATH=f"{bin_dir}:{base_env.get('PATH', '')}")
    if scenario_file:
        env["GOLDSMITH_SIM_SCENARIO"] = str(scenario_file)
    return bin_dir / "az", env


def compare(az, cases, real_env, builtin_az, builtin_env, cwd, values):
    """Runs each case through both, in `cwd`; returns how many differ. A
    `{"background": argv}` case starts in both and is compared at the next
    `{"join": True}`, so the cases between run while it does. A `{"shell": script}`
    case runs the script in bash with `az` the front end under test. `values` fills
    `@@name@@` in a case, and takes what a ("save", name, case) printed."""
    differences = 0
    background = []
    for case in cases:
        save = None
        if isinstance(case, tuple):
            _, save, case = case
        if isinstance(case, list):
            for name, value in values.items():
                case = [word.replace(f"@@{name}@@", value) for word in case]
        if isinstance(case, dict) and "shell" in case:
            real_path = f"{Path(az).parent}:{real_env.get('PATH', '')}"
            want = run(["bash", "-c", case["shell"]], dict(real_env, PATH=real_path), cwd=cwd)
            got = run(["bash", "-c", case["shell"]], builtin_env, cwd=cwd)
            differences += report("bash: " + case["shell"].splitlines()[-1].strip(), want, got)
            continue
        if isinstance(case, dict) and "background" in case:
            argv = case["background"]
            started = [
                subprocess.Popen([str(exe)] + argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
                for exe, env in ((az, real_env), (builtin_az, builtin_env))
            ]
            background.append((argv, started))
            time.sleep(5)  # the real az signs in and sends its request
            continue
        if isinstance(case, dict):
            for argv, started in background:
                want, got = ((p.wait(timeout=300), *p.communicate()) for p in started)
                differences += report("az " + " ".join(argv) + " (in the background)", want, got)
            background = []
            continue
        want = run([str(az)] + case, real_env, cwd=cwd)
        got = run([str(builtin_az)] + case, builtin_env, cwd=cwd)
        if save:
            values[save] = want[1].strip()
        differences += report("az " + " ".join(case), want, got)
    return differences


# A time the world's clock stamps (timeCreated, an instance view status): the two
# worlds start apart, so their clocks do; every other byte must agree.
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00")


def report(shown, want, got):
    """Prints whether the two results agree (timestamps aside); 1 when they differ."""
    want, got = ([TIMESTAMP.sub("<time>", part) if isinstance(part, str) else part for part in r] for r in (want, got))
    if want == got:
        print(f"ok    {shown} (exit {want[0]})")
        return 0
    print(f"DIFF  {shown}")
    for name, w, g in zip(("exit", "stdout", "stderr"), want, got):
        if w != g:
            print(f"  {name}: real az {w!r}\n  {name}: built-in {g!r}")
    return 1


if __name__ == "__main__":
    main()
