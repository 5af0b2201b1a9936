#!/usr/bin/env python3
"""Fails when a crate in Cargo.lock needs a newer Rust than Cargo.toml declares.

  tools/ci/check-msrv.py

Reads `cargo metadata` (the locked versions, for Linux x86-64): every
dependency goldsmith builds, normal, build and dev, that declares a
`rust-version` newer than the workspace's `rust-version` is listed. The
other half, goldsmith's own code using newer std APIs, is clippy's
`incompatible_msrv` lint; ci.yml's msrv job builds with that very toolchain.
"""

import json
import subprocess
import sys


def version(text):
    """1.89 and 1.89.0 alike, as (1, 89, 0)."""
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    meta = json.loads(
        subprocess.check_output(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", "x86_64-unknown-linux-gnu"]
        )
    )
    packages = {p["id"]: p for p in meta["packages"]}
    members = [packages[m] for m in meta["workspace_members"]]
    undeclared = [m["name"] for m in members if not m.get("rust_version")]
    if undeclared:
        print(f"check-msrv: no rust-version in the Cargo.toml of {', '.join(undeclared)}", file=sys.stderr)
        return 1
    declared = min((m["rust_version"] for m in members), key=version)
    newer = sorted(
        (version(p["rust_version"]), f"{p['name']} {p['version']} needs Rust {p['rust_version']}")
        for node in meta["resolve"]["nodes"]
        if node["id"] not in meta["workspace_members"]
        and (p := packages[node["id"]]).get("rust_version")
        and version(p["rust_version"]) > version(declared)
    )
    for _, line in newer:
        print(f"check-msrv: {line}, Cargo.toml says rust-version = \"{declared}\"", file=sys.stderr)
    if newer:
        return 1
    dependencies = [p for i, p in packages.items() if i not in meta["workspace_members"]]
    needs = max((version(p["rust_version"]), p["name"]) for p in dependencies if p.get("rust_version"))
    print(
        f"check-msrv: rust-version {declared} covers all {len(meta['resolve']['nodes'])} crates "
        f"(the newest need: {needs[1]}, Rust {'.'.join(map(str, needs[0]))})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
