#!/usr/bin/env bash
# Benchmark of goldsmith's own costs. Prints numbers; it is not a test:
# it exits 0 when a target is missed and says so.
#
#   1. Engine overhead per operation: 1,000 trivial operations in 50 stages
#      of 20, run with --max-parallel 20, against the same 1,000 bash spawns
#      done by `xargs -P 20` in 50 batches of 20 (the stage barriers).
#      Target: <= 3 ms per operation.
#   2. Peak RSS while one operation writes 1 GiB to stdout, from the engine's
#      `run_finished` event (peak_rss_kib) and measured from outside.
#      Target: <= 32 MiB.
#
# Usage: bench/overhead.sh
#   GOLDSMITH_BIN   the binary to measure [default: `cargo build --release`
#                   in this repository, then ${CARGO_TARGET_DIR:-target}/release/goldsmith]
#   BENCH_REPS      repetitions per measurement [default: 3]; medians are reported
#
# Needs bash >= 4, coreutils, findutils (xargs) and python3. GNU time
# (/usr/bin/time) is used for the external RSS measurement when present;
# otherwise python3's getrusage(RUSAGE_CHILDREN) is used. The 1 GiB part
# needs about 1.1 GiB free under ${TMPDIR:-/tmp}.
set -euo pipefail

OPS=1000
STAGES=50
PER_STAGE=20
PARALLEL=20
REPS=${BENCH_REPS:-3}
TARGET_MS_PER_OP=3
TARGET_RSS_MIB=32
BIG_BYTES=1073741824 # 1 GiB

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

for tool in python3 xargs bash; do
    command -v "$tool" >/dev/null || { echo "overhead.sh: needs $tool" >&2; exit 2; }
done

# --- the binary ---------------------------------------------------------------
if [[ -n ${GOLDSMITH_BIN:-} ]]; then
    bin=$GOLDSMITH_BIN
else
    echo "building goldsmith (cargo build --release) ..." >&2
    (cd "$repo" && cargo build --release --quiet)
    target_dir=${CARGO_TARGET_DIR:-target}
    [[ $target_dir == /* ]] || target_dir=$repo/$target_dir
    bin=$target_dir/release/goldsmith
fi
[[ -x $bin ]] || { echo "overhead.sh: no executable goldsmith at $bin (set GOLDSMITH_BIN)" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

# --- temp dirs, removed at exit ---------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/goldsmith-bench.XXXXXX")
cleanup() { rm -rf -- "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers -------------------------------------------------------------------
# now: seconds since the epoch with microseconds.
if [[ -n ${EPOCHREALTIME:-} ]]; then
    now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
else
    now() { date +%s.%N; }
fi
# calc EXPR: float arithmetic through python3.
calc() { python3 -c "import statistics as s; print($1)"; }
fmt_s() { python3 -c "import sys; print(' '.join(f'{float(x):.3f}' for x in sys.argv[1:]))" "$@"; }
median() { python3 -c "import statistics, sys; print(statistics.median(map(float, sys.argv[1:])))" "$@"; }
verdict() { if [[ $1 == 1 ]]; then echo PASS; else echo FAIL; fi; }

# --- 1. overhead per operation ------------------------------------------------------
proj=$work/overhead
mkdir -p "$proj/capabilities/bench/operations" "$proj/modules/bench" "$work/xargs-scripts"
{
    echo "module:"
    echo "  id: bench"
    echo "  name: Engine overhead benchmark"
    echo "  operations:"
} >"$proj/modules/bench/module.yaml"
for ((i = 1; i <= OPS; i++)); do
    id=$(printf 'op-%04d' "$i")
    group=$(((i - 1) / PER_STAGE + 1))
    printf 'operation:\n  id: %s\n  kind: shell\n  timeout: 1m\n  script: "true"\n' "$id" \
        >"$proj/capabilities/bench/operations/$id.yaml"
    printf '    - id: %s\n      parallel_group: %d\n' "$id" "$group" >>"$proj/modules/bench/module.yaml"
    # The same script goldsmith writes to scripts/<op>.sh.
    printf 'true' >"$work/xargs-scripts/$id.sh"
    (((i - 1) % PER_STAGE == 0)) && : >"$work/xargs-scripts/batch-$group"
    echo "$work/xargs-scripts/$id.sh" >>"$work/xargs-scripts/batch-$group"
done

gs_run() {
    "$bin" run bench --max-parallel "$PARALLEL" --root "$proj" >"$work/gs-console.txt" 2>&1
}
xargs_run() {
    local b
    for ((b = 1; b <= STAGES; b++)); do
        xargs -P "$PARALLEL" -n 1 -a "$work/xargs-scripts/batch-$b" \
            bash --noprofile --norc -euo pipefail >/dev/null 2>&1
    done
}

echo "goldsmith overhead benchmark"
echo "  binary:  $bin"
echo "  machine: $(nproc) CPUs, $(uname -sr), bash ${BASH_VERSION%%(*}"
echo "  temp dir: $work ($(stat -f -c %T "$work") filesystem)"
echo
echo "1. engine overhead per operation"
echo "   $OPS operations (script: true) in $STAGES stages of $PER_STAGE, --max-parallel $PARALLEL"
echo "   baseline: the same $OPS x 'bash --noprofile --norc -euo pipefail <script>' via xargs -P $PARALLEL, $STAGES batches of $PER_STAGE"

# One untimed warm-up of each (page cache, binary, bash).
gs_run || { echo "   goldsmith run failed during warm-up:"; tail -n 20 "$work/gs-console.txt"; exit 1; }
xargs_run

# Run directories are kept between repetitions, as in a real project: deleting
# thousands of files right before a run slows file creation on some
# filesystems (ext4 without a journal skips recently deleted inodes).
gs_times=() xa_times=() gs_starts=()
for ((r = 1; r <= REPS; r++)); do
    t0=$(now)
    gs_status=0
    gs_run || gs_status=$?
    t1=$(now)
    if ((gs_status != 0)); then
        echo "   goldsmith exited $gs_status in repetition $r:"
        tail -n 20 "$work/gs-console.txt"
        exit 1
    fi
    gs_times+=("$(calc "$t1 - $t0")")
    gs_starts+=("$t0")

    t0=$(now)
    xargs_run
    t1=$(now)
    xa_times+=("$(calc "$t1 - $t0")")
done

gs_med=$(median "${gs_times[@]}")
xa_med=$(median "${xa_times[@]}")
per_op_ms=$(calc "($gs_med - $xa_med) * 1000 / $OPS")
per_rep=()
for ((r = 0; r < REPS; r++)); do
    per_rep+=("$(calc "round((${gs_times[r]} - ${xa_times[r]}) * 1000 / $OPS, 3)")")
done
ok1=$(calc "int($per_op_ms <= $TARGET_MS_PER_OP)")

printf '   goldsmith wall time: median %.3f s   (runs: %s s)\n' "$gs_med" "$(fmt_s "${gs_times[@]}")"
printf '   xargs wall time:     median %.3f s   (runs: %s s)\n' "$xa_med" "$(fmt_s "${xa_times[@]}")"
printf '   overhead per op:     %.3f ms   (median goldsmith - median xargs) / %d; per repetition: %s ms\n' \
    "$per_op_ms" "$OPS" "${per_rep[*]}"
printf '   target:              <= %d ms per op   -> %s\n' "$TARGET_MS_PER_OP" "$(verdict "$ok1")"

# Where goldsmith's time went in the last repetition, from its events.jsonl.
# Run ids start with a UTC timestamp: the last one sorts last.
events=$(find "$proj/artifacts/runs" -name events.jsonl | sort | tail -n1)
python3 - "$events" "${gs_starts[REPS - 1]}" "${gs_times[REPS - 1]}" <<'PY'
import json, sys
from datetime import datetime

def ts(s):
    # RFC 3339 with up to nanoseconds; datetime takes microseconds.
    head, _, frac = s.rstrip("Z").partition(".")
    return datetime.fromisoformat(head + "+00:00").timestamp() + float("0." + (frac or "0"))

events = [json.loads(l) for l in open(sys.argv[1])]
launch, wall = float(sys.argv[2]), float(sys.argv[3])
first = next(e for e in events if e["type"] == "run_started")
last = next(e for e in events if e["type"] == "run_finished")
t_start, t_end = ts(first["time"]), ts(last["time"])
ops = [e for e in events if e["type"] == "op_finished"]
attempts = [e for e in events if e["type"] == "op_attempt_finished"]
stage_start = {e["stage"]: ts(e["time"]) for e in events if e["type"] == "stage_started"}
stage_end = {e["stage"]: ts(e["time"]) for e in events if e["type"] == "stage_finished"}
gaps = [stage_start[s + 1] - stage_end[s] for s in stage_end if s + 1 in stage_start]
spans = [stage_end[s] - stage_start[s] for s in stage_end if s in stage_start]
started = {e["op"]: ts(e["time"]) for e in events if e["type"] == "op_started"}
att_started = {e["op"]: ts(e["time"]) for e in events if e["type"] == "op_attempt_started"}
to_attempt = [att_started[o] - started[o] for o in att_started if o in started]
avg = lambda xs: sum(xs) / len(xs) if xs else 0.0
print("   breakdown of the last goldsmith run (from events.jsonl, approximate):")
print(f"     launch -> run_started (load {len(ops)} files, plan, run dir, scripts): {(t_start - launch) * 1000:8.1f} ms")
print(f"     run_started -> run_finished:                       {(t_end - t_start) * 1000:8.1f} ms"
      f"  (engine says {last['duration']:.3f} s)")
print(f"     run_finished -> process exit:                      {(launch + wall - t_end) * 1000:8.1f} ms")
print(f"     per stage: {avg(spans) * 1000:.2f} ms running, {avg(gaps) * 1000:.2f} ms between stages (avg of {len(spans)})")
print(f"     per op: op_started -> op_attempt_started {avg(to_attempt) * 1000:.2f} ms,"
      f" attempt duration {avg([a['duration'] for a in attempts]) * 1000:.2f} ms,"
      f" op duration {avg([o['duration'] for o in ops]) * 1000:.2f} ms (avg of {len(ops)})")
bad = [o["op"] for o in ops if o["status"] != "succeeded"]
if bad:
    print(f"     WARNING: {len(bad)} operations did not succeed, e.g. {bad[:3]}")
PY
rm -rf "$proj"

# --- 2. peak RSS with 1 GiB of output -------------------------------------------------
echo
echo "2. peak RSS while one operation writes 1 GiB to stdout"
big=$work/bigout
mkdir -p "$big/capabilities/bench/operations" "$big/modules/bench"
cat >"$big/capabilities/bench/operations/big-output.yaml" <<EOF
operation:
  id: big-output
  kind: shell
  timeout: 10m
  script: |
    head -c $BIG_BYTES /dev/zero | tr '\\0' 'x'
EOF
cat >"$big/modules/bench/module.yaml" <<'EOF'
module:
  id: bench
  name: Peak RSS benchmark
  operations:
    - id: big-output
EOF

free_kib=$(df -Pk "$work" | tail -n1 | tr -s ' ' | cut -d' ' -f4)
if ((free_kib < 1153434)); then # 1.1 GiB
    echo "   SKIPPED: only $((free_kib / 1024)) MiB free under $work; the log needs 1 GiB"
    echo "   target:              <= $TARGET_RSS_MIB MiB   -> not measured"
    exit 0
fi

gnu_time=""
if [[ -x /usr/bin/time ]] && /usr/bin/time -f %M true >/dev/null 2>&1; then
    gnu_time=/usr/bin/time
fi
t0=$(now)
rss_status=0
if [[ -n $gnu_time ]]; then
    external_tool="GNU time (/usr/bin/time -f %M)"
    "$gnu_time" -f %M -o "$work/external-rss" \
        "$bin" run bench --root "$big" >"$work/gs-big-console.txt" 2>&1 || rss_status=$?
else
    external_tool="python3 getrusage(RUSAGE_CHILDREN) (GNU time not installed)"
    python3 - "$work/external-rss" "$bin" run bench --root "$big" >"$work/gs-big-console.txt" 2>&1 <<'PY' || rss_status=$?
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
open(sys.argv[1], "w").write(f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\n")
sys.exit(code)
PY
fi
t1=$(now)
if ((rss_status != 0)); then
    echo "   goldsmith exited $rss_status:"
    tail -n 20 "$work/gs-big-console.txt"
    exit 1
fi

run_dir=$(dirname "$(find "$big/artifacts/runs" -name events.jsonl | head -n1)")
log_bytes=$(stat -c %s "$run_dir/logs/big-output.log")
engine_kib=$(python3 - "$run_dir/events.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["type"] == "run_finished":
        print(e["peak_rss_kib"])
PY
)
external_kib=$(tail -n1 "$work/external-rss")
rm -f -- "$run_dir"/logs/*.log # the 1 GiB log

engine_mib=$(calc "$engine_kib / 1024")
external_mib=$(calc "$external_kib / 1024")
worst_mib=$(calc "max($engine_mib, $external_mib)")
ok2=$(calc "int($worst_mib <= $TARGET_RSS_MIB)")
printf '   run took %.1f s; log written: %d bytes (%s)\n' "$(calc "$t1 - $t0")" "$log_bytes" \
    "$(if ((log_bytes >= BIG_BYTES)); then echo "complete"; else echo "SHORT: expected at least $BIG_BYTES"; fi)"
printf '   engine peak RSS (run_finished.peak_rss_kib): %8.1f MiB\n' "$engine_mib"
printf '   external peak RSS (%s): %8.1f MiB\n' "$external_tool" "$external_mib"
echo "     (the external figure is the largest of goldsmith and its children: bash, head, tr)"
printf '   target:              <= %d MiB (the larger of the two)   -> %s\n' "$TARGET_RSS_MIB" "$(verdict "$ok2")"

echo
echo "summary: overhead $(printf '%.3f' "$per_op_ms") ms/op (target <= $TARGET_MS_PER_OP) $(verdict "$ok1");" \
    "peak RSS $(printf '%.1f' "$worst_mib") MiB (target <= $TARGET_RSS_MIB) $(verdict "$ok2")"
exit 0
