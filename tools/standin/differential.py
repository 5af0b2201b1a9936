#!/usr/bin/env python3
"""The real Azure CLI against goldsmith's Azure stand-in, and goldsmith's
built-in az against the same model: each case must print the same stdout and
stderr and exit with the same code, byte for byte.

The real az runs in an isolated configuration: a registered cloud `Local`
whose Entra ID and ARM endpoints are the stand-in, a CA bundle that trusts the
stand-in's certificate, instance discovery and telemetry off, and a service
principal sign-in (a wrong secret first, which must fail as Entra ID fails).
Both front ends start from an empty world, and run the same cases in order.

    tools/standin/differential.py --goldsmith target/release/goldsmith --az <venv>/bin/az
"""

import argparse
import base64
import json
import os
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

PHASES = [
    ("plain", PLAIN, None),
    ("throttled", THROTTLED, THROTTLE_SCENARIO),
    ("identity", IDENTITY, None),
    ("avd", AVD, None),
]

# Run through goldsmith itself, no --simulate: the operations' `az` is the real one. A phase
# runs these modules of the shipped library after its cases, on the world its cases left.
MODULES = {"plain": ["00-resource-group"], "identity": ["03-identity", "04-host-pool"]}

# What 02-storage makes (config.yaml's names), made by the built-in az in the stand-in's own
# world before 03-identity assigns roles on the FSLogix share (the stand-in does not serve
# storage yet).
STORAGE_SEED = [
    ["group", "create", "-n", "rg-avd-weu-001", "-l", "westeurope", "--output", "none"],
    ["storage", "account", "create", "-g", "rg-avd-weu-001", "-n", "stavdprofweu001", "-l", "westeurope",
     "--kind", "FileStorage", "--sku", "Premium_LRS", "--output", "none"],
    ["storage", "share-rm", "create", "-g", "rg-avd-weu-001", "--storage-account", "stavdprofweu001",
     "-n", "fslogix-profiles", "--quota", "100", "--enabled-protocols", "SMB", "--output", "none"],
]


def jwt(**claims):
    """An unsigned-looking JWT with these claims, as a workflow's OIDC token is shaped."""
    part = lambda obj: base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


def run(argv, env, timeout=120):
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--goldsmith", required=True, type=Path)
    parser.add_argument("--az", required=True, type=Path, help="the real Azure CLI (2.91.0)")
    parser.add_argument("--phase", action="append", help="run only this phase (repeatable)")
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
            differences += compare(args.az, cases, real_env, builtin_az, builtin_env, {"sub": ready["subscription"]})
            if name == "identity":
                seed(builtin_az, builtin_env, here / "standin")
            for module in MODULES.get(name, []):
                run_module(goldsmith, args.az, here, real_env, module)
        finally:
            standin.terminate()
            standin.wait(timeout=30)
        commands += len(cases)
        requests += len(Path(ready["log_file"]).read_text().splitlines())
    print(f"stand-in: {commands} commands, {requests} requests, {differences} differences")
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
            # `az ad …` and role assignments send Graph requests here (and ask Entra ID for its token).
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


def seed(builtin_az, builtin_env, world):
    """What earlier modules made, by the built-in az in the stand-in's world."""
    env = dict(builtin_env, GOLDSMITH_SIM_DIR=str(world))
    for case in STORAGE_SEED:
        code, _, err = run([str(builtin_az)] + case, env)
        if code != 0:
            sys.exit(f"seeding az {' '.join(case)} failed ({code}): {err}")


def run_module(goldsmith, az, work, real_env, module):
    """`goldsmith run <module>` of the shipped library with the real az signed in to the stand-in."""
    project = work / "project"
    if project.exists():
        shutil.rmtree(project)
    project.mkdir()
    repo = Path(__file__).resolve().parents[2]
    for part in ("capabilities", "modules"):
        shutil.copytree(repo / part, project / part)
    shutil.copy(repo / "config.yaml", project / "config.yaml")
    env = dict(real_env, PATH=f"{Path(az).parent}:{real_env.get('PATH', '')}")
    started = time.monotonic()
    code, out, err = run([str(goldsmith), "--root", str(project), "run", module], env, timeout=900)
    if code != 0:
        sys.exit(f"goldsmith run {module} through the real az failed ({code}):\n{out}\n{err}")
    summary = [line for line in out.splitlines() if line.startswith("goldsmith: run ")][-1]
    print(f"ok    goldsmith run {module} through the real az ({time.monotonic() - started:.0f} s): {summary}")


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


def compare(az, cases, real_env, builtin_az, builtin_env, values):
    """Runs each case through both; returns how many differ. `values` fills
    `@@name@@` in a case, and takes what a ("save", name, case) printed."""
    differences = 0
    for case in cases:
        save = None
        if isinstance(case, tuple):
            _, save, case = case
        for name, value in values.items():
            case = [word.replace(f"@@{name}@@", value) for word in case]
        want = run([str(az)] + case, real_env)
        got = run([str(builtin_az)] + case, builtin_env)
        if save:
            values[save] = want[1].strip()
        shown = "az " + " ".join(case)
        if want == got:
            print(f"ok    {shown} (exit {want[0]})")
            continue
        differences += 1
        print(f"DIFF  {shown}")
        for name, w, g in zip(("exit", "stdout", "stderr"), want, got):
            if w != g:
                print(f"  {name}: real az {w!r}\n  {name}: built-in {g!r}")
    return differences


if __name__ == "__main__":
    main()
