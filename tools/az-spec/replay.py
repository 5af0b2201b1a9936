#!/usr/bin/env python3
"""Replays every distinct az call a simulated run recorded against the real
Azure CLI, and fails when the real CLI rejects any of their arguments.

    python3 tools/az-spec/replay.py --az /path/to/venv/bin/az <run dir>/sim/calls.jsonl…

Each distinct argv runs once, with an empty AZURE_CONFIG_DIR, no login and
stdin from /dev/null: az parses its arguments before it asks for a login, so
"Please run 'az login'" (exit 1) means the arguments parsed. Calls of the
desktopvirtualization extension cannot run (the extension is not on PyPI)
and are counted apart. `***` stands where calls.jsonl masked a secret; any
word parses there. Prints the counts and every rejected call.
"""

import argparse
import concurrent.futures
import json
import os
import shlex
import subprocess
import sys
import tempfile

EXTENSION_GROUPS = {"desktopvirtualization"}

# What az prints when it rejects arguments (argparse, az's value check, the
# `--ids` check, aaz's required fields) or does not know the command.
ARGUMENT_ERRORS = (
    "unrecognized arguments",
    "the following arguments are required",
    "is not a valid value for",
    "expected one argument",
    "expected at least one argument",
    "ambiguous option",
    "ignored explicit argument",
    "are required",
    "Missing required field",
    "is misspelled or not recognized",
    "usage error",
)


def load(paths):
    calls = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    calls.append(json.loads(line))
    return calls


def run(az, argv):
    with tempfile.TemporaryDirectory(prefix="az-replay-") as config:
        env = dict(os.environ)
        env.update({
            "AZURE_CONFIG_DIR": config,
            "AZURE_CORE_COLLECT_TELEMETRY": "false",
            "AZURE_CORE_NO_COLOR": "true",
            # Never reach for the network to install an extension.
            "AZURE_EXTENSION_USE_DYNAMIC_INSTALL": "no",
        })
        env.pop("AZURE_SUBSCRIPTION_ID", None)
        p = subprocess.run([az, *argv], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, env=env, timeout=120)
        return p.returncode, p.stderr


def unmasked(argv):
    """calls.jsonl masks secret values as `***`. az parses --protected-settings
    as JSON while it parses the arguments, so a stand-in must be JSON there,
    or az stops before it looks at the rest of the call."""
    out = list(argv)
    for i in range(1, len(out)):
        if out[i] == "***" and out[i - 1] == "--protected-settings":
            out[i] = "{}"
    return out


def rejected(code, stderr):
    if code == 2:
        return True
    return any(text in stderr for text in ARGUMENT_ERRORS)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--az", required=True, help="the real az (in a venv with azure-cli)")
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("calls", nargs="+", help="calls.jsonl files")
    args = parser.parse_args()

    calls = load(args.calls)
    distinct = {}
    for call in calls:
        distinct.setdefault(tuple(call["argv"]), []).append(call.get("op") or "?")
    extension = [a for a in distinct if a and a[0] in EXTENSION_GROUPS]
    to_run = [a for a in distinct if not (a and a[0] in EXTENSION_GROUPS)]

    failures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = pool.map(lambda a: (a, *run(args.az, unmasked(a))), to_run)
        for argv, code, stderr in results:
            if rejected(code, stderr):
                failures.append((argv, code, stderr))

    print(f"invocations: {len(calls)}")
    print(f"distinct: {len(distinct)}")
    print(f"parsed: {len(to_run) - len(failures)}")
    print(f"rejected: {len(failures)}")
    print(f"extension-only: {len(extension)}")
    for argv, code, stderr in failures:
        ops = ", ".join(sorted(set(distinct[argv])))
        print(f"\nREJECTED (exit {code}, from {ops}): az {shlex.join(argv)}", file=sys.stderr)
        print(stderr.rstrip(), file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
