#!/usr/bin/env python3
"""Fails on any `uses:` in a workflow or action that is not pinned.

  tools/ci/check-pins.py FILE...     e.g. .github/workflows/*.yml action.yml
  tools/ci/check-pins.py --self-test

Pinned means, as GitHub's security hardening guide asks:
  - an action or reusable workflow at a full 40-character commit SHA, with the
    version it stands for in a comment on the same line
    (`uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1`;
    an action without releases names its branch: `# master, 2026-03-27`);
  - a `docker://` image (in `uses:` or action.yml's `runs.image`) by digest
    (`docker://ghcr.io/owner/image:v1@sha256:<64 hex>`).
Local actions (`./…`) and an action.yml's `image: Dockerfile` are in the
repository itself and need no pin. Files are read with a YAML parser, so keys
written in any YAML style are found, and each finding names file:line.
"""

import re
import sys
import tempfile
from pathlib import Path

from actions_yaml import load, steps

SHA = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")
DIGEST = re.compile(r"^docker://[^@\s]+@sha256:[0-9a-f]{64}$")
VERSION_COMMENT = re.compile(r"#\s*\S")


def problem(ref, line_text):
    """What is wrong with one `uses:` (or docker image) value, or None."""
    if ref.startswith("./"):
        return None
    if ref.startswith("docker://"):
        return None if DIGEST.match(ref) else "a docker:// image must be pinned by digest (@sha256:<64 hex>)"
    if not SHA.match(ref):
        return "not pinned to a full 40-character commit SHA"
    if not VERSION_COMMENT.search(line_text.partition(ref)[2]):
        return "pinned, but without the version in a comment on the same line (# vX.Y.Z)"
    return None


def uses_in(doc):
    """(value, line) of every `uses:` of a workflow or action, and a docker runs.image."""
    callers = [*(doc.get("jobs") or {}).values(), *steps(doc)]  # a job `uses:` a reusable workflow
    found = [(c["uses"], c.lc.value("uses")[0]) for c in callers if "uses" in c]
    runs = doc.get("runs") or {}
    image = runs.get("image")
    if isinstance(image, str) and image.startswith("docker://"):
        found.append((image, runs.lc.value("image")[0]))
    return found


def check(path):
    doc, lines = load(Path(path))
    findings = []
    for ref, line in uses_in(doc):
        why = problem(str(ref), lines[line])
        if why:
            findings.append(f"{path}:{line + 1}: `{ref}`: {why}")
    return findings


def self_test():
    sha = "3d3c42e5aac5ba805825da76410c181273ba90b1"
    digest = "sha256:" + "a" * 64
    cases = {
        f"      - uses: actions/checkout@{sha} # v7.0.1\n": 0,
        "      - uses: ./\n": 0,
        f"      - uses: docker://ghcr.io/o/i:v1@{digest}\n": 0,
        "      - uses: actions/checkout@v7\n": 1,
        f"      - uses: actions/checkout@{sha[:12]} # v7.0.1\n": 1,
        f"      - uses: actions/checkout@{sha}\n": 1,
        f"      - uses: actions/checkout@{sha} #\n": 1,
        "      - uses: docker://ghcr.io/o/i:v1\n": 1,
        f"      - {{ name: flow style, uses: actions/checkout@{sha.upper()} }} # v7\n": 1,
    }
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for step, want in cases.items():
            path = Path(tmp) / "workflow.yml"
            path.write_text(f"on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n{step}")
            got = len(check(path))
            if got != want:
                failures += 1
                print(f"self-test: {step.strip()!r}: {got} findings, expected {want}")
        reusable = Path(tmp) / "reusable.yml"
        reusable.write_text("on: push\njobs:\n  a:\n    uses: o/r/.github/workflows/w.yml@main\n")
        docker_action = Path(tmp) / "action.yml"
        docker_action.write_text("name: a\nruns:\n  using: docker\n  image: docker://ghcr.io/o/i:v1\n")
        for path in (reusable, docker_action):
            if len(check(path)) != 1:
                failures += 1
                print(f"self-test: {path.name}: the unpinned reference was not found")
    print(f"check-pins self-test: {len(cases) + 2 - failures} of {len(cases) + 2} cases right")
    return 1 if failures else 0


def main(args):
    if args == ["--self-test"]:
        return self_test()
    if not args:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    findings = [f for path in args for f in check(path)]
    for finding in findings:
        print(finding, file=sys.stderr)
    if findings:
        print(f"check-pins: {len(findings)} unpinned reference(s)", file=sys.stderr)
        return 1
    print(f"check-pins: every uses: in {len(args)} file(s) is pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
