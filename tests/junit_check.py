#!/usr/bin/env python3
"""Checks goldsmith's junit.xml files with tools that are not goldsmith's.

    python3 tests/junit_check.py FILE [FILE ...]

For each file:
  1. validates it against tests/data/junit.xsd with `xmlschema`;
  2. parses it with `junitparser` (its xunit2 flavour, which knows reruns and
     flaky runs) and checks that every count attribute matches the test cases;
  3. prints what junitparser read, as one JSON document on stdout, so a test
     can assert on a third party's view of the file.

Exit status: 0 all valid, 1 a file is invalid, 2 usage, 3 packages missing
(`pip install junitparser xmlschema`). Messages go to stderr.
"""

import json
import os
import sys

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "junit.xsd")


def fail(problems, path, message):
    problems.append(f"{path}: {message}")


def describe_result(entry):
    return {
        "kind": entry._tag,
        "type": entry.type,
        "message": entry.message,
        "text": entry.text,
    }


def check_file(path, schema, xunit2, problems):
    for error in schema.iter_errors(path):
        fail(problems, path, f"schema: {error.reason} at {error.path}")

    xml = xunit2.JUnitXml.fromfile(path)
    suites = []
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in xml:
        cases = []
        counted = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for case in suite:
            counted["tests"] += 1
            kinds = [r._tag for r in case.result]
            counted["failures"] += kinds.count("failure")
            counted["errors"] += kinds.count("error")
            counted["skipped"] += kinds.count("skipped")
            if len(kinds) > 1:
                fail(problems, path, f"case {case.name!r} has {len(kinds)} final results")
            if not case.name:
                fail(problems, path, "a test case has no name")
            line = case._elem.get("line")
            if line is not None and not (line.isdigit() and int(line) > 0):
                fail(problems, path, f"case {case.name!r} has line={line!r}")
            cases.append(
                {
                    "name": case.name,
                    "classname": case.classname,
                    "file": case._elem.get("file"),
                    "line": int(line) if line and line.isdigit() else None,
                    "time": case.time,
                    "result": [describe_result(r) for r in case.result],
                    "interim": [describe_result(r) for r in case.interim_result],
                    "properties": {p.name: p.value for p in case.properties()},
                    "system_out": case.system_out,
                }
            )
        for key, value in counted.items():
            declared = getattr(suite, key)
            if key == "skipped" and declared is None:
                continue
            if declared != value:
                fail(problems, path, f"suite {suite.name!r}: {key}={declared}, counted {value}")
            totals[key] += value
        suites.append(
            {
                "name": suite.name,
                "tests": suite.tests,
                "failures": suite.failures,
                "errors": suite.errors,
                "skipped": suite.skipped,
                "timestamp": suite.timestamp,
                "time": suite.time,
                "properties": {p.name: p.value for p in suite.properties()},
                "cases": cases,
            }
        )
    root = xml._elem
    for key, value in totals.items():
        declared = root.get(key)
        if declared is not None and int(declared) != value:
            fail(problems, path, f"testsuites: {key}={declared}, counted {value}")
    return {"path": path, "suites": suites}


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        import xmlschema
        from junitparser import xunit2
    except ImportError as e:
        print(
            f"junit_check: missing Python package ({e.name}): pip install junitparser xmlschema",
            file=sys.stderr,
        )
        return 3
    schema = xmlschema.XMLSchema(SCHEMA)
    problems = []
    files = []
    for path in argv[1:]:
        try:
            files.append(check_file(path, schema, xunit2, problems))
        except Exception as e:  # a parse error is a finding, not a crash
            fail(problems, path, f"cannot parse: {e}")
    json.dump({"files": files}, sys.stdout, indent=1)
    sys.stdout.write("\n")
    for p in problems:
        print(f"junit_check: {p}", file=sys.stderr)
    print(
        f"junit_check: {len(argv) - 1} file(s), {len(problems)} problem(s)",
        file=sys.stderr,
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
