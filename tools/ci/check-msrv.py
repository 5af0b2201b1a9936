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
    dependencies = [
        (version(p["rust_version"]), p)
        for node in meta["resolve"]["nodes"]
        if node["id"] not in meta["workspace_members"] and (p := packages[node["id"]]).get("rust_version")
    ]
    newer = sorted(((needs, p["name"]), p) for needs, p in dependencies if needs > version(declared))
    for _, p in newer:
        print(
            f"check-msrv: {p['name']} {p['version']} needs Rust {p['rust_version']}, "
            f'Cargo.toml says rust-version = "{declared}"',
            file=sys.stderr,
        )
    if newer:
        return 1
    needs, newest = max(((needs, p["name"]) for needs, p in dependencies), default=((0, 0, 0), "none"))
    print(
        f"check-msrv: rust-version {declared} covers all {len(meta['resolve']['nodes'])} crates "
        f"(the newest need: {newest}, Rust {'.'.join(map(str, needs))})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
