#!/usr/bin/env bash
# Benchmark of scheduling around the one-run-command-per-VM rule, on the
# simulated Azure. Prints numbers; it is not a test.
#
# One parallel group holds two run-command operations on VM A and one on
# VM B. goldsmith must run the two on A one after the other (Azure allows one
# run-command per VM) while B's runs alongside, without retries or idle gaps.
# Lower bound: the longest chain of durations counting lock-serialised work,
# max(a1 + a2, b). Target: makespan <= 1.05 x bound + 1 s.
#
# Usage: bench/makespan.sh
#   GOLDSMITH_BIN   the binary [default: cargo build --release, target/release/goldsmith]
#   SPEED           simulated seconds per real second [default: 60]
#   BENCH_REPS      repetitions [default: 3]; the median is reported
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
SPEED=${SPEED:-60}
REPS=${BENCH_REPS:-3}
A1=120 A2=90 B=150   # simulated seconds

if [ -z "${GOLDSMITH_BIN:-}" ]; then
  (cd "$here" && cargo build --release --quiet)
  GOLDSMITH_BIN="${CARGO_TARGET_DIR:-$here/target}/release/goldsmith"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/goldsmith-makespan.XXXXXX")
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/capabilities/compute/operations" "$work/modules/m"
printf 'azure:\n  resource_group: rg-bench\n' > "$work/config.yaml"
op() { # id vm seconds
  cat > "$work/capabilities/compute/operations/$1.yaml" <<YAML
operation:
  id: $1
  kind: run-command
  target: { vm: $2, resource_group: "{{AZURE_RESOURCE_GROUP}}" }
  duration: { expected: $3 }
  powershell:
    content: |
      # goldsmith-sim: duration=${3}s
      Write-Output "$1 done"
YAML
}
op a1 vm-a "$A1"
op a2 vm-a "$A2"
op b vm-b "$B"
# The simulated Azure starts empty: the module's scenario declares the two VMs.
cat > "$work/modules/m/sim-scenario.yaml" <<YAML
vms:
  - { resource_group: rg-bench, name: vm-a }
  - { resource_group: rg-bench, name: vm-b }
YAML
cat > "$work/modules/m/module.yaml" <<YAML
module:
  id: m
  operations:
    - { id: a1, parallel_group: 1 }
    - { id: a2, parallel_group: 1 }
    - { id: b, parallel_group: 1 }
YAML

bound=$(python3 -c "print(max($A1 + $A2, $B) / $SPEED)")
echo "goldsmith makespan benchmark (simulated Azure, speed ${SPEED}x)"
echo "  group 1: a1 (${A1}s) and a2 (${A2}s) on vm-a, b (${B}s) on vm-b"
printf '  lower bound: max(a1 + a2, b) = %ss simulated = %.3f s real\n' "$(( A1 + A2 > B ? A1 + A2 : B ))" "$bound"

runs=()
for _ in $(seq "$REPS"); do
  "$GOLDSMITH_BIN" --root "$work" run m --simulate --sim-speed "$SPEED" > "$work/out.txt" 2>&1 || { cat "$work/out.txt"; exit 1; }
  run_dirs=("$work"/artifacts/runs/*/) # oldest first: run ids start with the time
  events=${run_dirs[-1]}events.jsonl
  # Makespan: first operation start to last operation finish, from the events.
  m=$(python3 - "$events" <<'PY'
import json, sys
from datetime import datetime
def t(s): return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
ev = [json.loads(l) for l in open(sys.argv[1])]
starts = [t(e["time"]) for e in ev if e["type"] == "op_started"]
ends = [t(e["time"]) for e in ev if e["type"] == "op_finished"]
retries = sum(1 for e in ev if e["type"] == "op_attempt_finished" and e.get("retry_in") is not None)
print(f"{max(ends) - min(starts):.3f} {retries}")
PY
)
  runs+=("$m")
done
python3 - "$bound" "${runs[@]}" <<'PY'
import sys
bound = float(sys.argv[1])
runs = [tuple(map(float, r.split())) for r in sys.argv[2:]]
spans = sorted(r[0] for r in runs)
median = spans[len(spans) // 2]
target = 1.05 * bound + 1.0
print(f"  makespan: median {median:.3f} s (runs: {' '.join(f'{r[0]:.3f}' for r in runs)}); retries: {sum(int(r[1]) for r in runs)}")
print(f"  ratio to the bound: {median / bound:.3f}")
print(f"  target: <= 1.05 x bound + 1 s = {target:.3f} s -> {'PASS' if median <= target else 'FAIL'}")
PY
