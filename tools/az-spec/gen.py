#!/usr/bin/env python3
"""Writes the argument spec of every az command goldsmith uses, read from the
real Azure CLI's own command table (azure-cli, pinned in requirements.txt).

    python3 tools/az-spec/gen.py > crates/az-sim/src/az_spec.json

Run it with the Python of a venv that has the pinned azure-cli installed
(docs/simulator.md, "The argument spec"). It loads each command the way
`az` does before it parses (AzCliCommandInvoker.execute), then reads the
argparse parser az builds for it: option strings, nargs, choices, required
options, the `--ids` alternative, aaz's required fields, and the help
examples az prints with a usage error. Commands of the desktopvirtualization
extension, which is not on PyPI, come from extension-desktopvirtualization.json
(transcribed from the extension's source) and are merged in unchanged.
"""

import argparse
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# az reads its configuration before anything else: start from an empty one.
os.environ.setdefault("AZURE_CONFIG_DIR", tempfile.mkdtemp(prefix="az-spec-"))
os.environ["AZURE_CORE_COLLECT_TELEMETRY"] = "false"

from azure.cli.core import get_default_cli  # noqa: E402
from azure.cli.core import __version__ as CORE_VERSION  # noqa: E402
from azure.cli.core.command_recommender import get_parameter_mappings  # noqa: E402
from azure.cli.core.commands.events import (  # noqa: E402
    EVENT_INVOKER_POST_LOAD_ARGUMENTS,
    EVENT_INVOKER_PRE_CMD_TBL_TRUNCATE,
    EVENT_INVOKER_PRE_LOAD_ARGUMENTS,
)
from azure.cli.core.aaz import AAZCommand  # noqa: E402
from knack.events import (  # noqa: E402
    EVENT_INVOKER_POST_CMD_TBL_CREATE,
    EVENT_INVOKER_POST_PARSE_ARGS,
    EVENT_INVOKER_PRE_CMD_TBL_CREATE,
)


def wanted_commands():
    with open(os.path.join(HERE, "commands.txt"), encoding="utf-8") as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


def nargs_of(action):
    """argparse's nargs, spelled for the simulator: 0 for a switch."""
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction,
                           argparse._StoreConstAction, argparse._CountAction,
                           argparse._HelpAction)):
        return 0
    if action.nargs is None:
        return 1
    if action.nargs == argparse.OPTIONAL:
        return "?"
    if action.nargs == argparse.ZERO_OR_MORE:
        return "*"
    if action.nargs == argparse.ONE_OR_MORE:
        return "+"
    if isinstance(action.nargs, int):
        return action.nargs
    raise SystemExit(f"unexpected nargs {action.nargs!r} for {action.option_strings}")


def ids_metadata(cli):
    """The `--ids` bookkeeping of azure.cli.core.commands.arm.add_id_parameters,
    kept in the closure of its parse_ids_arguments handler."""
    for handler in cli._event_handlers[EVENT_INVOKER_POST_PARSE_ARGS]:
        if handler.__name__ == "parse_ids_arguments":
            for cell in handler.__closure__ or ():
                if isinstance(cell.cell_contents, dict):
                    return cell.cell_contents
    return {}


def aaz_fields(metadata):
    """aaz commands check their fields after parsing, in schema order
    (azure.cli.core.aaz._arg_fmt): a missing required one fails with
    "Missing required field: <its first option>"; a missing location is
    looked up from the resource group first, over the network, which stops
    the check of a call that is not logged in."""
    if not isinstance(metadata, AAZCommand):
        return None
    cls = type(metadata)
    # load_arguments built it already; building it twice is an error.
    schema = getattr(cls, "_args_schema", None) or cls._build_arguments_schema()
    out = []
    for name, field in schema._fields.items():
        network = type(field._fmt).__name__ == "AAZResourceLocationArgFormat"
        if field._required or network:
            out.append({
                "dest": name,
                "shown": field._options[0] if field._options else name,
                "required": bool(field._required),
                "network_default": network,
            })
    return out


def load(command):
    """One command loaded as `az <command> …` loads it."""
    cli = get_default_cli()
    invoker = cli.invocation_cls(cli_ctx=cli, parser_cls=cli.parser_cls,
                                 commands_loader_cls=cli.commands_loader_cls,
                                 help_cls=cli.help_cls)
    cli.invocation = invoker
    args = command.split()
    cli.raise_event(EVENT_INVOKER_PRE_CMD_TBL_CREATE, args=args)
    loader = invoker.commands_loader
    loader.load_command_table(args)
    cli.raise_event(EVENT_INVOKER_PRE_CMD_TBL_TRUNCATE,
                    load_cmd_tbl_func=loader.load_command_table, args=args)
    if command not in loader.command_table:
        raise SystemExit(f"az {AZ_VERSION} has no command `az {command}`")
    loader.command_table = {command: loader.command_table[command]}
    loader.command_name = command
    invoker.data["command_string"] = command
    cli.raise_event(EVENT_INVOKER_PRE_LOAD_ARGUMENTS, commands_loader=loader)
    loader.load_arguments(command)
    cli.raise_event(EVENT_INVOKER_POST_LOAD_ARGUMENTS, commands_loader=loader)
    cli.raise_event(EVENT_INVOKER_POST_CMD_TBL_CREATE, commands_loader=loader)
    invoker.parser.cli_ctx = cli
    invoker.parser.load_command_table(loader)
    return cli, loader, invoker.parser.subparser_map[command]


def describe(command):
    cli, loader, parser = load(command)
    metadata = loader.command_table[command]
    options = []
    positionals = []
    for action in parser._actions:
        if not action.option_strings:
            positionals.append({
                "dest": action.dest,
                "name": argparse._get_action_name(action),
                "nargs": nargs_of(action),
            })
            continue
        choices = None
        if action.choices is not None:
            choices = [str(c) for c in action.choices]
        options.append({
            "dest": action.dest,
            "names": list(action.option_strings),
            "nargs": nargs_of(action),
            "required": bool(action.required),
            "choices": choices,
            # azure-cli's enums are CaseInsensitiveList: `in` ignores case.
            "choices_ignore_case": type(action.choices).__name__ == "CaseInsensitiveList",
        })
    ids = ids_metadata(cli).get(command)
    ids_required = None
    # aaz commands fill missing options with AAZUndefined, never None, so
    # add_id_parameters' check never fires for them: their own one does.
    if ids and not isinstance(metadata, AAZCommand):
        ids_required = [metadata.arguments[n].options_list[0] for n in ids["required"]]
    examples = [{"command": e["command"], "description": e.get("description", "")}
                for e in parser.get_examples(parser.prog)]
    return {
        "source": "azure-cli",
        "options": options,
        "positionals": positionals,
        "ids_required": ids_required,
        "aaz_fields": aaz_fields(metadata),
        "recommender_names": get_parameter_mappings(metadata),
        "examples": examples,
    }


AZ_VERSION = CORE_VERSION


def main():
    spec = {
        "version": 1,
        "azure_cli": AZ_VERSION,
        "generated_by": "tools/az-spec/gen.py",
        "extensions": {},
        "commands": {},
    }
    for command in wanted_commands():
        spec["commands"][command] = describe(command)
    for name in sorted(os.listdir(HERE)):
        if name.startswith("extension-") and name.endswith(".json"):
            with open(os.path.join(HERE, name), encoding="utf-8") as f:
                ext = json.load(f)
            spec["extensions"][ext["name"]] = {k: v for k, v in ext.items() if k != "commands"}
            for path, cmd in ext["commands"].items():
                spec["commands"][path] = cmd
    spec["commands"] = dict(sorted(spec["commands"].items()))
    json.dump(spec, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
