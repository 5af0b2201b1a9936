#!/usr/bin/env bash
# Benchmark of goldsmith's own costs. Prints numbers; it is not a test:
# it exits 0 when a target is missed and says so.
#
#   1. Engine overhead: 1,000 trivial operations (script: true) in 50 stages
#      of 20, run with --max-parallel 20, side by side with the same 1,000
#      spawns (`bash --noprofile --norc -euo pipefail <script>`, as goldsmith
#      runs them) done by a plain bash barrier loop (every op of a stage in
#      the background, then `wait`) and by `xargs -P 20`, one call per stage.
#      Target: goldsmith's wall time <= the bash loop's (medians).
#   2. Linear: 10,000 operations in 500 stages of 20, goldsmith alone.
#      Target: <= 10 x goldsmith's 1,000-operation time.
#   3. Peak RSS while one operation writes 1 GiB to stdout, from the engine's
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
# otherwise python3's getrusage(RUSAGE_CHILDREN) is used. Part 3 needs about
# 1.1 GiB free under ${TMPDIR:-/tmp}.
set -euo pipefail

PER_STAGE=20
PARALLEL=20
SMALL_STAGES=50   # 1,000 ops
LARGE_STAGES=500  # 10,000 ops
REPS=${BENCH_REPS:-3}
TARGET_LINEAR=10
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
# shellcheck disable=SC2329 # called by the trap
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

# --- 1 and 2. engine overhead, side by side, and linearity -----------------------
# make_project DIR STAGES: STAGES x PER_STAGE operations `op-NNNNN` (script:
# true) in parallel groups of PER_STAGE, and under DIR/spawn/ the same scripts
# with one list per stage for the bash loop and xargs.
make_project() {
    local dir=$1 stages=$2 i id group
    local ops=$((stages * PER_STAGE))
    mkdir -p "$dir/capabilities/bench/operations" "$dir/modules/bench" "$dir/spawn"
    {
        echo "module:"
        echo "  id: bench"
        echo "  name: Engine overhead benchmark"
        echo "  operations:"
        for ((i = 1; i <= ops; i++)); do
            printf '    - id: op-%05d\n      parallel_group: %d\n' "$i" $(((i - 1) / PER_STAGE + 1))
        done
    } >"$dir/modules/bench/module.yaml"
    for ((i = 1; i <= ops; i++)); do
        printf -v id 'op-%05d' "$i"
        group=$(((i - 1) / PER_STAGE + 1))
        printf 'operation:\n  id: %s\n  kind: shell\n  timeout: 1m\n  script: "true"\n' "$id" \
            >"$dir/capabilities/bench/operations/$id.yaml"
        # The same script goldsmith runs (it renders `true` without a newline).
        printf 'true' >"$dir/spawn/$id.sh"
        echo "$dir/spawn/$id.sh" >>"$dir/spawn/stage-$group"
    done
}

gs_run() { # DIR
    "$bin" run bench --max-parallel "$PARALLEL" --root "$1" >"$work/gs-console.txt" 2>&1
}
bash_loop() { # DIR STAGES: every op of a stage in the background, then wait.
    local s script
    for ((s = 1; s <= $2; s++)); do
        while IFS= read -r script; do
            bash --noprofile --norc -euo pipefail "$script" >/dev/null 2>&1 &
        done <"$1/spawn/stage-$s"
        wait
    done
}
xargs_loop() { # DIR STAGES: one `xargs -P` per stage.
    local s
    for ((s = 1; s <= $2; s++)); do
        xargs -P "$PARALLEL" -n 1 -a "$1/spawn/stage-$s" \
            bash --noprofile --norc -euo pipefail >/dev/null 2>&1
    done
}
# timed OUT_ARRAY CMD...: runs CMD once, appends its wall time in seconds to OUT_ARRAY.
timed() {
    local -n into=$1
    shift
    local t0 t1 status=0
    t0=$(now)
    "$@" || status=$?
    t1=$(now)
    if ((status != 0)); then
        echo "   $1 exited $status:"
        tail -n 20 "$work/gs-console.txt"
        exit 1
    fi
    into+=("$(calc "$t1 - $t0")")
}

echo "goldsmith overhead benchmark"
echo "  binary:  $bin"
echo "  machine: $(nproc) CPUs, $(uname -sr), bash ${BASH_VERSION%%(*}, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  temp dir: $work ($(stat -f -c %T "$work") filesystem)"
echo

small=$work/small
small_ops=$((SMALL_STAGES * PER_STAGE))
make_project "$small" "$SMALL_STAGES"
echo "1. $small_ops operations (script: true) in $SMALL_STAGES stages of $PER_STAGE, --max-parallel $PARALLEL"
echo "   each spawn: bash --noprofile --norc -euo pipefail <script>; medians of $REPS, runs interleaved"

# One untimed warm-up of each (page cache, binary, bash).
gs_run "$small" || { echo "   goldsmith run failed during warm-up:"; tail -n 20 "$work/gs-console.txt"; exit 1; }
bash_loop "$small" "$SMALL_STAGES"
xargs_loop "$small" "$SMALL_STAGES"

# Run directories are kept between repetitions, as in a real project: deleting
# thousands of files right before a run slows file creation on some
# filesystems (ext4 without a journal skips recently deleted inodes).
gs_times=() bash_times=() xa_times=() gs_starts=()
for ((r = 1; r <= REPS; r++)); do
    gs_starts+=("$(now)")
    timed gs_times gs_run "$small"
    timed bash_times bash_loop "$small" "$SMALL_STAGES"
    timed xa_times xargs_loop "$small" "$SMALL_STAGES"
done
gs_med=$(median "${gs_times[@]}")
bash_med=$(median "${bash_times[@]}")
xa_med=$(median "${xa_times[@]}")
ok1=$(calc "int($gs_med <= $bash_med)")
printf '   goldsmith:       %.3f s   (runs: %s s)\n' "$gs_med" "$(fmt_s "${gs_times[@]}")"
printf '   bash loop:       %.3f s   (runs: %s s)\n' "$bash_med" "$(fmt_s "${bash_times[@]}")"
printf '   xargs -P %d:     %.3f s   (runs: %s s)\n' "$PARALLEL" "$xa_med" "$(fmt_s "${xa_times[@]}")"
printf '   goldsmith / bash loop: %.2f x; per op beyond the bash loop: %.3f ms\n' \
    "$(calc "$gs_med / $bash_med")" "$(calc "($gs_med - $bash_med) * 1000 / $small_ops")"
printf '   target:          goldsmith <= bash loop   -> %s\n' "$(verdict "$ok1")"

# Where goldsmith's time went in its last repetition, from its events.jsonl.
# Run ids start with a UTC timestamp: the last one sorts last.
events=$(find "$small/artifacts/runs" -name events.jsonl | sort | tail -n1)
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
state_kib=$(($(stat -c %s "$(dirname "$events")/state.json") / 1024))
echo "     state.json: $state_kib KiB"
rm -rf "$small"

large=$work/large
large_ops=$((LARGE_STAGES * PER_STAGE))
echo
echo "2. $large_ops operations in $LARGE_STAGES stages of $PER_STAGE, --max-parallel $PARALLEL (goldsmith alone)"
make_project "$large" "$LARGE_STAGES"
large_times=()
for ((r = 1; r <= REPS; r++)); do
    timed large_times gs_run "$large"
done
large_med=$(median "${large_times[@]}")
ok2=$(calc "int($large_med <= $TARGET_LINEAR * $gs_med)")
printf '   goldsmith:       %.3f s   (runs: %s s)\n' "$large_med" "$(fmt_s "${large_times[@]}")"
printf '   %d ops / %d ops: %.2f x (linear: %d x)\n' "$large_ops" "$small_ops" "$(calc "$large_med / $gs_med")" "$TARGET_LINEAR"
printf '   target:          <= %d x the %d-op time   -> %s\n' "$TARGET_LINEAR" "$small_ops" "$(verdict "$ok2")"
rm -rf "$large"

# --- 3. peak RSS with 1 GiB of output -------------------------------------------------
echo
echo "3. peak RSS while one operation writes 1 GiB to stdout"
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
    echo
    echo "summary: goldsmith $(printf '%.3f' "$gs_med") s vs bash loop $(printf '%.3f' "$bash_med") s $(verdict "$ok1");" \
        "linear $(printf '%.2f' "$(calc "$large_med / $gs_med")") x (target <= $TARGET_LINEAR) $(verdict "$ok2"); peak RSS not measured"
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
ok3=$(calc "int($worst_mib <= $TARGET_RSS_MIB)")
printf '   run took %.1f s; log written: %d bytes (%s)\n' "$(calc "$t1 - $t0")" "$log_bytes" \
    "$(if ((log_bytes >= BIG_BYTES)); then echo "complete"; else echo "SHORT: expected at least $BIG_BYTES"; fi)"
printf '   engine peak RSS (run_finished.peak_rss_kib): %8.1f MiB\n' "$engine_mib"
printf '   external peak RSS (%s): %8.1f MiB\n' "$external_tool" "$external_mib"
echo "     (the external figure is the largest of goldsmith and its children: bash, head, tr)"
printf '   target:              <= %d MiB (the larger of the two)   -> %s\n' "$TARGET_RSS_MIB" "$(verdict "$ok3")"

echo
echo "summary: goldsmith $(printf '%.3f' "$gs_med") s vs bash loop $(printf '%.3f' "$bash_med") s $(verdict "$ok1");" \
    "linear $(printf '%.2f' "$(calc "$large_med / $gs_med")") x (target <= $TARGET_LINEAR) $(verdict "$ok2");" \
    "peak RSS $(printf '%.1f' "$worst_mib") MiB (target <= $TARGET_RSS_MIB) $(verdict "$ok3")"
exit 0
