#!/usr/bin/env python3
"""Writes extension-desktopvirtualization.json: the argument spec of the
desktopvirtualization extension's commands, which is not on PyPI, so gen.py
cannot load it. The arguments below are transcribed from the extension's
source at the version the image installs (Azure/azure-cli-extensions,
src/desktopvirtualization/azext_desktopvirtualization/aaz/latest/
desktopvirtualization/<group>/_<command>.py, `_build_arguments_schema`), and
turned into argparse options the way azure-cli 2.91.0 turns aaz arguments
into options (the same order and shapes as its own aaz commands in
az_spec.json: globals, pagination, generic update, the arguments, --yes,
--ids, --change-reference, --acquire-policy-token).

    python3 tools/az-spec/extension_desktopvirtualization.py > tools/az-spec/extension-desktopvirtualization.json

Version 1.0.0 ("Migrate to aaz commands") needs azure-cli >= 2.55.0
(azext_metadata.json) and is the newest release; it has no `sessionhost`
command group.
"""

import json
import sys

VERSION = "1.0.0"
SOURCE = ("https://github.com/Azure/azure-cli-extensions/tree/main/src/desktopvirtualization/"
          "azext_desktopvirtualization/aaz/latest/desktopvirtualization")

BOOL_CHOICES = ["true", "t", "yes", "y", "1", "false", "f", "no", "n", "0"]

GLOBALS = [
    ("help", ["-h", "--help"], 0, None, False),
    ("_log_verbosity_verbose", ["--verbose"], 0, None, False),
    ("_log_verbosity_debug", ["--debug"], 0, None, False),
    ("_log_verbosity_only_show_errors", ["--only-show-errors"], 0, None, False),
    ("_output_format", ["--output", "-o"], 1,
     ["json", "jsonc", "yaml", "yamlc", "table", "tsv", "none"], False),
    ("_jmespath_query", ["--query"], 1, None, False),
    ("_subscription", ["--subscription"], 1, None, False),
]
PAGINATION = [
    ("pagination_token", ["--next-token"], 1, None, False),
    ("pagination_limit", ["--max-items"], 1, None, False),
]
GENERIC_UPDATE = [
    ("generic_update_add", ["--add"], "+", None, False),
    ("generic_update_set", ["--set"], "+", None, False),
    ("generic_update_remove", ["--remove"], "+", None, False),
    ("generic_update_force_string", ["--force-string"], "?", BOOL_CHOICES, True),
]
WRITE_TAIL = [
    ("_change_reference", ["--change-reference"], 1, None, False),
    ("_acquire_policy_token", ["--acquire-policy-token"], 0, None, False),
]

# aaz argument kinds → argparse nargs (as azure-cli's aaz arg converter makes them).
NARGS = {"str": 1, "int": 1, "datetime": 1, "bool": "?", "dict": "+", "list": "+", "object": "+"}

RG = ("resource_group", ["--resource-group", "-g"], "str", True, None, False)
RG_OPTIONAL = ("resource_group", ["--resource-group", "-g"], "str", False, None, False)
LOCATION = ("location", ["--location", "-l"], "str", False, None, False)


def name(required=True, id_part=False):
    return ("name", ["-n", "--name"], "str", required, None, id_part)


def arg(dest, options, kind="str", required=False, enum=None):
    return (dest, options, kind, required, enum, False)


HOST_POOL_PROPS = [
    arg("custom_rdp_property", ["--custom-rdp-property"]),
    arg("description", ["--description"]),
    arg("friendly_name", ["--friendly-name"]),
]
HOST_POOL_TAIL = [
    arg("max_session_limit", ["--max-session-limit"], "int"),
    arg("personal_desktop_assignment_type", ["--personal-desktop-assignment-type"],
        enum=["Automatic", "Direct"]),
]


def host_pool_rest(required):
    return [
        arg("preferred_app_group_type", ["-t", "--preferred-app-group-type"], required=required,
            enum=["Desktop", "None", "RailApplications"]),
        arg("registration_info", ["--registration-info"], "object"),
        arg("ring", ["--ring"], "int"),
        arg("sso_client_id", ["--sso-client-id"]),
        arg("sso_client_secret_key_vault_path", ["-p", "--sso-client-secret-key-vault-path"]),
        arg("sso_secret_type", ["--sso-secret-type"],
            enum=["Certificate", "CertificateInKeyVault", "SharedKey", "SharedKeyInKeyVault"]),
        arg("ssoadfs_authority", ["--ssoadfs-authority"]),
        arg("start_vm_on_connect", ["--start-vm-on-connect"], "bool"),
        arg("validation_environment", ["--validation-environment"], "bool"),
        arg("vm_template", ["--vm-template"]),
        arg("tags", ["--tags"], "dict"),
    ]


LB = ["BreadthFirst", "DepthFirst", "Persistent"]

# path → (file read, kind, schema args, example (description, command)).
# kind: show | create | update | delete | list | post
COMMANDS = {
    "desktopvirtualization hostpool create": ("hostpool/_create.py", "create", [
        name(), RG, LOCATION, *HOST_POOL_PROPS,
        arg("host_pool_type", ["--host-pool-type"], required=True,
            enum=["BYODesktop", "Personal", "Pooled"]),
        arg("load_balancer_type", ["--load-balancer-type"], required=True, enum=LB),
        *HOST_POOL_TAIL, *host_pool_rest(True),
    ], ("Create host pool",
        'az desktopvirtualization hostpool create -g rg -n hostpool-name --friendly-name friendly '
        '--host-pool-type Pooled --load-balancer-type BreadthFirst --max-session-limit 999999 '
        '--personal-desktop-assignment-type Automatic --preferred-app-group-type Desktop '
        '--registration-info expiration-time="yyyy-mm-ddT08:38:08.189Z" '
        'registration-token-operation=Update --sso-client-id client '
        '--sso-client-secret-key-vault-path https://keyvault/secret --sso-secret-type SharedKey '
        '--start-vm-on-connect false')),
    "desktopvirtualization hostpool update": ("hostpool/_update.py", "update", [
        name(id_part=True), RG, *HOST_POOL_PROPS,
        arg("load_balancer_type", ["--load-balancer-type"], enum=LB),
        *HOST_POOL_TAIL, *host_pool_rest(False),
    ], ("Update host pool",
        "az desktopvirtualization hostpool update -g rg -n hostpool-name --tags tag=test")),
    "desktopvirtualization hostpool show": ("hostpool/_show.py", "show", [
        name(id_part=True), RG,
    ], ("Show host pool", "az desktopvirtualization hostpool show -g rg -n hostpool-name")),
    "desktopvirtualization hostpool delete": ("hostpool/_delete.py", "delete", [
        name(id_part=True), RG, arg("force", ["--force"], "bool"),
    ], ("Delete host pool", "az desktopvirtualization hostpool delete -g rg -n hostpool-name")),
    "desktopvirtualization hostpool list": ("hostpool/_list.py", "list", [
        RG_OPTIONAL,
    ], ("List host pool", "az desktopvirtualization hostpool list -g rg")),
    "desktopvirtualization hostpool retrieve-registration-token": (
        "hostpool/_retrieve_registration_token.py", "post", [name(id_part=True), RG],
        ("Registration token of the host pool.",
         "az desktopvirtualization hostpool retrieve-registration-token -n hostpool-name -g rg")),
    "desktopvirtualization applicationgroup create": ("applicationgroup/_create.py", "create", [
        name(), RG, LOCATION,
        arg("application_group_type", ["--application-group-type"], required=True,
            enum=["Desktop", "RemoteApp"]),
        arg("description", ["--description"]),
        arg("friendly_name", ["--friendly-name"]),
        arg("host_pool_arm_path", ["--host-pool-arm-path"], required=True),
        arg("tags", ["--tags"], "dict"),
    ], ("Create application group",
        "az desktopvirtualization applicationgroup create -g rg -n app-group-name "
        "--host-pool-arm-path host-pool-id --application-group-type remoteapp")),
    "desktopvirtualization workspace create": ("workspace/_create.py", "create", [
        RG, name(), LOCATION,
        arg("application_group_references", ["--application-group-references"], "list"),
        arg("description", ["--description"]),
        arg("friendly_name", ["--friendly-name"]),
        arg("tags", ["--tags"], "dict"),
    ], ("Create workspace",
        "az desktopvirtualization workspace create -g rg -n workspace-name --friendly-name friendly")),
    "desktopvirtualization workspace update": ("workspace/_update.py", "update", [
        RG, name(id_part=True),
        arg("application_group_references", ["--application-group-references"], "list"),
        arg("description", ["--description"]),
        arg("friendly_name", ["--friendly-name"]),
        arg("tags", ["--tags"], "dict"),
    ], ("Update workspace",
        "az desktopvirtualization workspace update -g rg -n workspace-name --tags tag=test")),
}

# Commands whose files were not read: the simulator answers them, the library
# does not call them. Their arguments follow the generator's pattern of the
# same group (argument order as in the group's create/update files).
INFERRED = {
    "desktopvirtualization applicationgroup show": ("show", [name(id_part=True), RG]),
    "desktopvirtualization applicationgroup delete": ("delete", [name(id_part=True), RG]),
    "desktopvirtualization applicationgroup list": ("list", [RG_OPTIONAL]),
    "desktopvirtualization applicationgroup update": ("update", [
        name(id_part=True), RG,
        arg("description", ["--description"]),
        arg("friendly_name", ["--friendly-name"]),
        arg("tags", ["--tags"], "dict"),
    ]),
    "desktopvirtualization workspace show": ("show", [RG, name(id_part=True)]),
    "desktopvirtualization workspace delete": ("delete", [RG, name(id_part=True)]),
    "desktopvirtualization workspace list": ("list", [RG_OPTIONAL]),
}


def option(dest, names, nargs, choices, ignore_case, required=False):
    return {"dest": dest, "names": names, "nargs": nargs, "required": required,
            "choices": choices, "choices_ignore_case": ignore_case}


def build(kind, args, example):
    opts = [option(*g) for g in GLOBALS]
    if kind == "list":
        opts += [option(*p) for p in PAGINATION]
    if kind == "update":
        opts += [option(*g) for g in GENERIC_UPDATE]
    for dest, names, arg_kind, _required, enum, _id_part in args:
        nargs = NARGS[arg_kind]
        if arg_kind == "bool":
            opts.append(option(dest, names, nargs, BOOL_CHOICES, True))
        else:
            opts.append(option(dest, names, nargs, enum, enum is not None))
    if kind == "delete":
        opts.append(option("yes", ["--yes", "-y"], 0, None, False))
    if any(a[5] for a in args):
        opts.append(option("_ids", ["--ids"], "+", None, False))
    if kind in ("create", "update", "delete", "post"):
        opts += [option(*t) for t in WRITE_TAIL]
    # azure-cli's get_parameter_mappings: every option → its longest spelling.
    names = {"-h": "--help", "-o": "--output", "--only-show-errors": None, "--help": None,
             "--output": None, "--query": None, "--debug": None, "--verbose": None,
             "--yes": None, "--no-wait": None}
    skip = {g[0] for g in GLOBALS} - {"_subscription"}
    for o in opts:
        if o["dest"] in skip:
            continue
        ordered = sorted(o["names"], key=len, reverse=True)
        for n in ordered[1:]:
            names[n] = ordered[0]
        names[ordered[0]] = ordered[0]
    # AAZResourceLocationArg's format looks the location up from the group.
    fields = [{"dest": a[0], "shown": a[1][0], "required": a[3],
               "network_default": a[0] == "location"}
              for a in args if a[3] or a[0] == "location"]
    return {
        "source": "desktopvirtualization",
        "options": opts,
        "positionals": [],
        "ids_required": None,
        "aaz_fields": fields,
        "recommender_names": names,
        "examples": [{"command": example[1], "description": example[0]}] if example else [],
    }


def main():
    commands = {}
    read = []
    for path, (file, kind, args, example) in COMMANDS.items():
        commands[path] = build(kind, args, example)
        read.append(file)
    for path, (kind, args) in INFERRED.items():
        commands[path] = build(kind, args, None)
    out = {
        "name": "desktopvirtualization",
        "version": VERSION,
        "min_cli_core_version": "2.55.0",
        "source": SOURCE,
        "files_read": read,
        "inferred": sorted(INFERRED),
        "commands": commands,
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
