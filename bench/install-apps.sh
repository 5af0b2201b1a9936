#!/usr/bin/env bash
# Benchmark of `kind: install-apps` on the seed's own example, on the
# simulated Azure. Prints numbers; it is not a test.
#
# Chrome (MSI: 2 min download, 3 min install) and Adobe Reader (EXE: 3 min
# download, 2 min install), two downloads at a time. The seed waited for
# every download before the first install: 3 + 3 + 2 = 8 min. The lower
# bound is the first download and every install, one installer at a time:
# 2 + 3 + 2 = 7 min. Target: goldsmith's simulated time <= 7 min.
#
# Usage: bench/install-apps.sh
#   GOLDSMITH_BIN   the binary [default: cargo build --release, target/release/goldsmith]
#   SPEED           simulated seconds per real second [default: 600]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
SPEED=${SPEED:-600}
# name type download install (simulated minutes)
APPS=("chrome msi 2 3" "adobe-reader exe 3 2")
PARALLEL=2

if [ -z "${GOLDSMITH_BIN:-}" ]; then
  (cd "$here" && cargo build --release --quiet)
  GOLDSMITH_BIN="${CARGO_TARGET_DIR:-$here/target}/release/goldsmith"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/goldsmith-install-apps.XXXXXX")
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/capabilities/compute/operations" "$work/modules/m"
printf 'azure:\n  resource_group: rg-bench\n' > "$work/config.yaml"
printf 'vms:\n  - { resource_group: rg-bench, name: vm-build }\n' > "$work/modules/m/sim-scenario.yaml"
{
  cat <<YAML
operation:
  id: install-apps
  kind: install-apps
  target: { vm: vm-build, resource_group: "{{AZURE_RESOURCE_GROUP}}" }
  download_parallelism: $PARALLEL
  apps:
YAML
  for a in "${APPS[@]}"; do
    read -r name type download install <<< "$a"
    printf '    - { name: %s, type: %s, url: "https://downloads.example.com/%s.%s", sha256: "%s", expected: { download: %sm, install: %sm } }\n' \
      "$name" "$type" "$name" "$type" "$(printf 'ab%.0s' $(seq 32))" "$download" "$install"
  done
} > "$work/capabilities/compute/operations/install-apps.yaml"
printf 'module:\n  id: m\n  operations:\n    - install-apps\n' > "$work/modules/m/module.yaml"

estimate=$("$GOLDSMITH_BIN" --root "$work" plan m --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["ops"][0]["expected"])')
"$GOLDSMITH_BIN" --root "$work" run m --simulate --sim-speed "$SPEED" > "$work/out.txt" 2>&1 || { cat "$work/out.txt"; exit 1; }
runs=("$work"/artifacts/runs/*/)
run=${runs[-1]}

python3 - "$run" "$estimate" "$PARALLEL" "${APPS[@]}" <<'PY'
import json, sys
run, estimate, parallel = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
apps = [a.split() for a in sys.argv[4:]]
downloads = [float(a[2]) for a in apps]
installs = [float(a[3]) for a in apps]
# The seed: downloads in list order into `parallel` slots, then every install.
slots = [0.0] * parallel
for d in downloads:
    slots[slots.index(min(slots))] += d
seed = max(slots) + sum(installs)
bound = min(downloads) + sum(installs)
phases = [json.loads(l) for l in open(run + "sim/timeline.jsonl")]
t0 = min(p["start"] for p in phases)
span = (max(p["end"] for p in phases) - t0) / 60
print(f"install-apps benchmark: the seed's two apps (simulated Azure, download_parallelism {parallel})")
for a in apps:
    print(f"  {a[0]} ({a[1]}): {a[2]} min download, {a[3]} min install")
print(f"  seed (every download, then the installs): {seed:g} min")
print(f"  lower bound (first download + every install): {bound:g} min")
print(f"  goldsmith plan estimate: {estimate / 60:g} min")
print(f"  goldsmith simulated run: {span:g} min")
for p in sorted(phases, key=lambda p: (p["start"], p["end"])):
    print(f"    {p['app']:<14} {p['phase']:<8} {(p['start'] - t0) / 60:5.2f} - {(p['end'] - t0) / 60:5.2f} min")
print(f"  target: <= {bound:g} min -> {'PASS' if span <= bound + 1e-6 else 'FAIL'}")
PY
