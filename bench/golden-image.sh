#!/usr/bin/env bash
# Benchmark of the golden-image module on the simulated Azure: as shipped,
# against the bash engine's way (one operation at a time, apps downloaded one
# by one). Prints both makespans in simulated time and their ratio.
#
# Usage: bench/golden-image.sh
#   GOLDSMITH_BIN   the binary [default: cargo build --release, target/release/goldsmith]
#   SPEED           simulated seconds per real second [default: 600]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
SPEED=${SPEED:-600}
if [ -z "${GOLDSMITH_BIN:-}" ]; then
  (cd "$here" && cargo build --release --quiet)
  GOLDSMITH_BIN="${CARGO_TARGET_DIR:-$here/target}/release/goldsmith"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/goldsmith-golden.XXXXXX")
trap 'rm -rf "$work"' EXIT
for variant in shipped sequential; do
  mkdir -p "$work/$variant"
  cp -r "$here/capabilities" "$here/modules" "$work/$variant/"
  cp "$here/config.example.yaml" "$work/$variant/config.yaml"
done
# The bash engine's baseline: apps downloaded one by one ...
find "$work/sequential/capabilities" -name '*.yaml' -exec sed -i 's/^\(  download_parallelism:\).*/\1 1/' {} +

makespan() { # root, extra flags...
  local root=$1; shift
  ADMIN_PASSWORD=bench-only "$GOLDSMITH_BIN" --root "$root" run 05-golden-image --simulate --sim-speed "$SPEED" "$@" > "$root/out.txt" 2>&1 \
    || { cat "$root/out.txt"; exit 1; }
  python3 - "$(ls -d "$root"/artifacts/runs/*/ | tail -n 1)events.jsonl" "$SPEED" <<'PY'
import json, sys
from datetime import datetime
def t(s): return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
ev = [json.loads(l) for l in open(sys.argv[1])]
starts = [t(e["time"]) for e in ev if e["type"] == "op_started"]
ends = [t(e["time"]) for e in ev if e["type"] == "op_finished"]
print(f"{(max(ends) - min(starts)) * float(sys.argv[2]):.0f}")
PY
}

echo "golden-image module on the simulated Azure (speed ${SPEED}x; times are simulated)"
shipped=$(makespan "$work/shipped")
# ... and one operation at a time.
sequential=$(makespan "$work/sequential" --max-parallel 1)
python3 - "$shipped" "$sequential" <<'PY'
import sys
s, q = float(sys.argv[1]), float(sys.argv[2])
fmt = lambda x: f"{int(x // 3600)}h{int(x % 3600 // 60):02d}m{int(x % 60):02d}s"
print(f"  as shipped (parallel groups, depends_on, parallel downloads): {fmt(s)}")
print(f"  sequential (one operation at a time, downloads one by one):   {fmt(q)}")
print(f"  ratio: {q / s:.2f}x faster as shipped ({q - s:.0f} s saved)")
PY
