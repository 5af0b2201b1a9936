#!/usr/bin/env bash
# The real-CLI check of CI (.ci/run): installs the pinned azure-cli in a venv
# (cached across runs at $AZ_SPEC_VENV), checks the checked-in argument spec is
# what the generator writes today, runs every shipped module under --simulate
# and replays every distinct az call the simulator recorded against the real
# CLI. Fails on any argument error.
#   tools/az-spec/check-real-cli.sh [goldsmith binary]
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tools/az-spec
goldsmith=${1:-target/release/goldsmith}
venv=${AZ_SPEC_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/goldsmith/az-venv}

echo "== azure-cli (pinned, $here/requirements.txt) in $venv"
AZ_SPEC_VENV=$venv "$here/install-az.sh" > /dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== the checked-in argument spec is current"
python3 "$here/extension_desktopvirtualization.py" > "$work/extension.json"
diff -u "$here/extension-desktopvirtualization.json" "$work/extension.json"
"$venv/bin/python" "$here/gen.py" > "$work/az_spec.json"
diff -u crates/az-sim/src/az_spec.json "$work/az_spec.json" > "$work/spec.diff" || {
  head -50 "$work/spec.diff"
  echo "crates/az-sim/src/az_spec.json is stale: regenerate it (docs/simulator.md, \"The argument spec\")" >&2
  exit 1
}
echo "spec ok"

echo "== every module under --simulate, every recorded call replayed against the real az"
cp -r capabilities modules config.yaml "$work/"
ADMIN_PASSWORD="ci-$(date +%s%N)-Aa1!"
export ADMIN_PASSWORD
for module in modules/*/; do
  module=$(basename "$module")
  # demo is bash only (no az), and its sleeps take real time, which the
  # simulated clock's short timeouts do not allow.
  [[ "$module" == demo ]] && continue
  # A module may fail on the simulator (a fault it answers as Azure would);
  # what counts here is that every call it made parses.
  "$goldsmith" --root "$work" run "$module" --simulate --with-dependencies --sim-speed 1000 > "$work/$module.out" 2>&1 \
    || echo "($module: exit $?, see its run directory)"
done
calls=("$work"/artifacts/runs/*/sim/calls.jsonl)
"$venv/bin/python" "$here/replay.py" --az "$venv/bin/az" "${calls[@]}"
