#!/usr/bin/env python3
"""Captures what the real Azure CLI prints for each argument case in
cases.json, byte for byte, into crates/az-sim/tests/fixtures/args/<case>.{args.json,
stderr,exitcode}; crates/az-sim/tests/sim_az_args.rs checks the simulator against them.

    python3 tools/az-spec/capture.py --az /path/to/venv/bin/az

Each case runs with an empty AZURE_CONFIG_DIR, no login and stdin from
/dev/null, so a call whose arguments parse ends in "Please run 'az login'".
"""

import argparse
import json
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "crates", "az-sim", "tests", "fixtures", "args")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--az", required=True)
    args = parser.parse_args()
    with open(os.path.join(HERE, "cases.json"), encoding="utf-8") as f:
        cases = json.load(f)
    os.makedirs(OUT, exist_ok=True)
    for name, argv in cases.items():
        with tempfile.TemporaryDirectory(prefix="az-capture-") as config:
            env = dict(os.environ, AZURE_CONFIG_DIR=config, AZURE_CORE_COLLECT_TELEMETRY="false")
            p = subprocess.run([args.az, *argv], stdin=subprocess.DEVNULL, capture_output=True, env=env)
        with open(os.path.join(OUT, f"{name}.args.json"), "w", encoding="utf-8") as f:
            json.dump(argv, f)
            f.write("\n")
        with open(os.path.join(OUT, f"{name}.stderr"), "wb") as f:
            f.write(p.stderr)
        with open(os.path.join(OUT, f"{name}.exitcode"), "w", encoding="utf-8") as f:
            f.write(f"{p.returncode}\n")
        print(f"{name}: exit {p.returncode}")


if __name__ == "__main__":
    main()
