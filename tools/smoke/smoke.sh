#!/usr/bin/env bash
# Smoke tests of the action's image, run the way GitHub's runner runs a
# container action. ci.yml runs them on every push, release.yml on the exact
# image it is about to publish.
#
#   tools/smoke/smoke.sh IMAGE          e.g. tools/smoke/smoke.sh goldsmith:dev
#
# Needs a Docker engine (`docker build -t goldsmith:dev .` first). DOCKER names
# another docker-compatible CLI; tools/smoke/fake-docker/docker is one for
# machines without an engine (see its README). The steps, in order:
#   1. goldsmith --version is the version in Cargo.toml; goldsmith-supervise is beside it
#   2. az version is the one tools/az-spec/requirements.txt locks, with no extension installed
#   3. the golden-image module (with its dependencies) on the simulated Azure, started
#      as the runner starts the action: every input as INPUT_*, the workspace at
#      /github/workspace, HOME and the file commands mounted; it succeeds and writes
#      its outputs, job summary and JUnit where the next steps of the job find them
#   4. tini is PID 1 and reaps an orphan an operation leaves behind
#   5. SIGTERM to the container reaches the running operation; the run exits 130
#   6. so does SIGINT, which the runner sends first when a job is cancelled
# SMOKE_KEEP=1 keeps the temporary directory (workspace, logs, file commands).
set -euo pipefail

image=${1:?usage: tools/smoke/smoke.sh IMAGE}
docker=${DOCKER:-docker}
command -v "$docker" > /dev/null || {
  echo "smoke: no '$docker' here: these tests need a Docker engine, or DOCKER=tools/smoke/fake-docker/docker (see its README)" >&2
  exit 1
}
repo=$(cd "$(dirname "$0")/../.." && pwd)
started=$SECONDS

step() { echo "== smoke: $* (at $((SECONDS - started))s)"; }
fail() {
  echo "smoke: FAILED: $*" >&2
  exit 1
}

tmp=$(mktemp -d)
container=goldsmith-smoke-$$
cleanup() {
  "$docker" rm -f "$container" > /dev/null 2>&1 || true
  # The container writes as root; give the files back before removing them.
  "$docker" run --rm -v "$tmp:/smoke" --entrypoint chown "$image" -R "$(id -u):$(id -g)" /smoke > /dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
[ -z "${SMOKE_KEEP:-}" ] || trap - EXIT


step "1. goldsmith --version"
want="goldsmith $(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)"
got=$("$docker" run --rm --entrypoint goldsmith "$image" --version)
[ "$got" = "$want" ] || fail "goldsmith --version printed '$got', expected '$want'"
"$docker" run --rm --entrypoint sh "$image" -c 'test -x /usr/local/bin/goldsmith-supervise' \
  || fail "/usr/local/bin/goldsmith-supervise is missing or not executable"
echo "$got, with goldsmith-supervise"

step "2. az version and extensions"
want=$(sed -n 's/^azure-cli==\([^ ]*\).*/\1/p' "$repo/tools/az-spec/requirements.txt")
"$docker" run --rm --entrypoint az "$image" version --output json > "$tmp/az-version.json"
"$docker" run --rm --entrypoint az "$image" extension list --output json > "$tmp/az-extensions.json"
python3 - "$tmp/az-version.json" "$tmp/az-extensions.json" "$want" <<'EOF'
import json, sys
version, extensions, want = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
if version.get("azure-cli") != want:
    sys.exit(f"smoke: FAILED: az version says azure-cli {version.get('azure-cli')}, tools/az-spec/requirements.txt locks {want}")
if version.get("extensions") or extensions:
    sys.exit(f"smoke: FAILED: the image has az extensions installed: {extensions}")
print(f"azure-cli {want}, no extensions")
EOF

# The runner's layout: one directory per mount, as actions/runner's container
# action handler (ContainerActionHandler.cs) mounts them; not the Docker socket.
mkdir -p "$tmp/workspace" "$tmp/runner_temp" "$tmp/home" "$tmp/workflow" "$tmp/file_commands"
cp -r "$repo/capabilities" "$repo/modules" "$repo/config.yaml" "$tmp/workspace/"
cp -r "$repo/tools/smoke/workspace/." "$tmp/workspace/"
echo '{}' > "$tmp/workflow/event.json"

# Every input of action.yml as the runner passes it: the step's `with:` values
# over the defaults, `${{ … }}` defaults (the token, the check run id) empty so
# no check run is attempted. Parsed by the image's own Python (PyYAML comes with az).
action_inputs() {
  # shellcheck disable=SC2016 # Python, not shell, in single quotes
  "$docker" run --rm -v "$repo/action.yml:/action.yml:ro" --entrypoint python3 "$image" -c '
import sys, yaml
given = dict(arg.split("=", 1) for arg in sys.argv[1:])
for name, spec in yaml.safe_load(open("/action.yml"))["inputs"].items():
    value = given.pop(name, str(spec.get("default", "")))
    if value.startswith("${{"):
        value = ""
    print(f"INPUT_{name.upper()}={value}")
if given:
    sys.exit(f"not inputs of action.yml: {sorted(given)}")
' "$@"
}

# Sets `args` to the docker run arguments for one step of a job using the
# action: $1 names the step's file commands; the rest are its `with:` values.
runner_args() {
  local id=$1 input
  shift
  : > "$tmp/file_commands/set_output_$id"
  : > "$tmp/file_commands/step_summary_$id"
  action_inputs "$@" > "$tmp/$id.inputs" || fail "cannot read the inputs of action.yml"
  args=()
  while IFS= read -r input; do
    args+=(-e "$input")
  done < "$tmp/$id.inputs"
  args+=(--workdir /github/workspace \
    -e HOME=/github/home -e GITHUB_WORKSPACE=/github/workspace \
    -e GITHUB_ACTIONS=true -e CI=true \
    -e GITHUB_EVENT_NAME=push -e GITHUB_EVENT_PATH=/github/workflow/event.json \
    -e GITHUB_REPOSITORY=goldsmith/goldsmith -e GITHUB_SHA=0000000000000000000000000000000000000000 \
    -e GITHUB_RUN_ID=1 -e GITHUB_RUN_ATTEMPT=1 -e GITHUB_JOB=smoke -e RUNNER_TEMP=/github/runner_temp \
    -e "GITHUB_OUTPUT=/github/file_commands/set_output_$id" \
    -e "GITHUB_STEP_SUMMARY=/github/file_commands/step_summary_$id" \
    -v "$tmp/runner_temp:/github/runner_temp" -v "$tmp/home:/github/home" -v "$tmp/workflow:/github/workflow" \
    -v "$tmp/file_commands:/github/file_commands" -v "$tmp/workspace:/github/workspace")
}

# The value of output $2 that step $1 set, read as the runner reads GITHUB_OUTPUT:
# `name=value` lines and `name<<DELIMITER` blocks.
output() {
  python3 - "$tmp/file_commands/set_output_$1" "$2" <<'EOF'
import sys
lines, values = open(sys.argv[1]).read().split("\n"), {}
while lines:
    line = lines.pop(0)
    if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
        name, delimiter = line.split("<<", 1)
        end = lines.index(delimiter)
        values[name], lines = "\n".join(lines[:end]), lines[end + 1 :]
    elif "=" in line:
        name, value = line.split("=", 1)
        values[name] = value
print(values.get(sys.argv[2], ""))
EOF
}

# Runs one step of a job using the action; sets `code` to its exit code.
run_step() {
  local id=$1
  shift
  runner_args "$id" "$@"
  code=0
  "$docker" run --rm "${args[@]}" "$image" > "$tmp/$id.log" 2>&1 || code=$?
}

step "3. the golden image on the simulated Azure, as a step of a job"
run_step golden module=05-golden-image with-dependencies=true simulate=true sim-speed=1000
[ "$code" = 0 ] || { cat "$tmp/golden.log"; fail "the golden-image run exited $code, expected 0"; }
[ "$(output golden status)" = succeeded ] || fail "output status is '$(output golden status)', expected succeeded"
[ -n "$(output golden image-version-id)" ] || fail "output image-version-id is empty"
junit=$(output golden junit-path)
[ -s "$tmp/workspace/$junit" ] || fail "output junit-path '$junit' is not a file in the workspace"
[ -d "$tmp/workspace/$(output golden run-dir)" ] || fail "output run-dir is not a directory in the workspace"
grep -q 'goldsmith <code>golden-image</code>: succeeded' "$tmp/file_commands/step_summary_golden" \
  || fail "the job summary does not say golden-image succeeded"
echo "succeeded: $(output golden total) operations, image $(output golden image-version-id | sed 's|.*/galleries/||')"

step "4. tini is PID 1 and reaps an orphan"
run_step orphan module=smoke-orphan
[ "$code" = 0 ] || { cat "$tmp/orphan.log"; fail "the orphan run exited $code, expected 0"; }
grep -h 'was reaped' "$tmp/workspace/$(output orphan run-dir)"/logs/smoke-orphan-reaped* \
  || fail "no 'was reaped' line in smoke-orphan-reaped's log"

# A cancelled run: $1 is the signal `docker kill` sends, $2 the step's id.
cancel_with() {
  local signal=$1 id=$2 runs="$tmp/workspace/artifacts/runs" before run=""
  before=$(ls "$runs" 2> /dev/null || true)
  runner_args "$id" module=smoke-cancel
  "$docker" run --detach --name "$container" "${args[@]}" "$image" > /dev/null
  for _ in $(seq 600); do
    run=$( (ls -d "$runs"/*-smoke-cancel 2> /dev/null || true) | tail -n 1)
    if [ -n "$run" ] && ! grep -qxF "$(basename "$run")" <<< "$before" && [ -e "$run/smoke/started" ]; then
      break
    fi
    run=""
    [ "$("$docker" inspect --format '{{.State.Running}}' "$container")" = true ] \
      || { "$docker" logs "$container"; fail "the run ended before its operation started"; }
    sleep 0.1
  done
  [ -n "$run" ] || { "$docker" logs "$container"; fail "the operation did not start within 60s"; }
  "$docker" kill --signal "$signal" "$container" > /dev/null
  code=$("$docker" wait "$container")
  "$docker" logs "$container" > "$tmp/$id.log" 2>&1
  "$docker" rm "$container" > /dev/null
  [ "$code" = 130 ] || { cat "$tmp/$id.log"; fail "after SIG$signal the run exited $code, expected 130"; }
  [ -e "$run/smoke/terminated" ] || { cat "$tmp/$id.log"; fail "SIG$signal did not reach the operation as SIGTERM"; }
  [ "$(output "$id" status)" = cancelled ] || fail "output status is '$(output "$id" status)', expected cancelled"
  echo "SIG$signal: exit 130, status cancelled, the operation got SIGTERM"
}

step "5. SIGTERM reaches the operation; the run exits 130"
cancel_with TERM cancel-term

# What the runner sends first when a job is cancelled (SIGTERM 7.5 s later).
step "6. SIGINT, the runner's cancellation, does the same"
cancel_with INT cancel-int

echo "== smoke: all 6 passed in $((SECONDS - started))s"
