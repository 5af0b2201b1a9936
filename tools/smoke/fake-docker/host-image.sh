#!/usr/bin/env bash
# Builds the image for tools/smoke/fake-docker/docker from this machine's own
# files: the last stage of the Dockerfile over / (ENV, ENTRYPOINT, the COPY of
# both binaries), with the RUN lines left out and what they install taken
# from here instead: tini from Debian's package, az and its Python from a venv
# of the pinned azure-cli. What .ci/run smoke-tests on every run.
#
#   tools/smoke/fake-docker/host-image.sh NAME BINARIES_DIR AZ_VENV
#   e.g. tools/smoke/fake-docker/host-image.sh goldsmith:ci target/debug ~/.cache/goldsmith/az-venv
set -euo pipefail
name=${1:?usage: host-image.sh NAME BINARIES_DIR AZ_VENV}
bin=$(cd "${2:?usage: host-image.sh NAME BINARIES_DIR AZ_VENV}" && pwd)
venv=$(cd "${3:?usage: host-image.sh NAME BINARIES_DIR AZ_VENV}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

[ -x /usr/bin/tini ] || { echo "host-image: needs /usr/bin/tini, where the image has it (apt-get install tini)" >&2; exit 1; }

# The build stage's /out: the two binaries the Dockerfile copies.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/out"
cp "$bin/goldsmith" "$bin/goldsmith-supervise" "$stage/out/"

FAKE_DOCKER_BASE=/ FAKE_DOCKER_RUN=skip FAKE_DOCKER_STAGE_build="$stage" \
  FAKE_DOCKER_LINK="/usr/local/bin/az=$venv/bin/az,/usr/local/bin/python3=$venv/bin/python3" \
  "$here/docker" build -t "$name" "$here/../../.."
