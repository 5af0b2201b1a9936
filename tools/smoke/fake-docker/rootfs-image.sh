#!/usr/bin/env bash
# Builds the image for tools/smoke/fake-docker/docker the way the Dockerfile
# does, on a Debian bookworm root filesystem instead of python:3.12-slim-bookworm:
# the last stage's RUN lines run in it (apt-get, pip install of the pinned
# azure-cli), and the binaries come from a musl build like the build stage's.
# Slow (debootstrap, then az from PyPI: about 10 minutes); by hand, not in CI.
#
#   tools/smoke/fake-docker/rootfs-image.sh NAME WORK_DIR
# WORK_DIR keeps the root filesystem and the musl build between runs.
set -euo pipefail
name=${1:?usage: rootfs-image.sh NAME WORK_DIR}
work=${2:?usage: rootfs-image.sh NAME WORK_DIR}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
mkdir -p "$work"
work=$(cd "$work" && pwd)

# The base image's stand-in: bookworm with Python and pip, and without
# Debian's EXTERNALLY-MANAGED mark (the python image's pip installs freely).
if [ ! -x "$work/rootfs/usr/bin/pip" ]; then
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian
  cp /etc/resolv.conf "$work/rootfs/etc/resolv.conf"
  unshare --mount --fork sh -c "mount -t proc proc '$work/rootfs/proc' && mount --rbind /dev '$work/rootfs/dev' \
    && chroot '$work/rootfs' sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-pip'"
  rm -f "$work"/rootfs/usr/lib/python3*/EXTERNALLY-MANAGED
  rm -rf "$work"/rootfs/var/lib/apt/lists/*
fi

# The build stage: the same cargo command, musl target.
rustup target add x86_64-unknown-linux-musl
(cd "$repo" && CARGO_TARGET_DIR="$work/target" CC_x86_64_unknown_linux_musl=musl-gcc \
  cargo build --release --locked --package goldsmith --target x86_64-unknown-linux-musl)
mkdir -p "$work/stage/out"
cp "$work"/target/x86_64-unknown-linux-musl/release/goldsmith{,-supervise} "$work/stage/out/"

FAKE_DOCKER_BASE="$work/rootfs" FAKE_DOCKER_STAGE_build="$work/stage" "$here/docker" build -t "$name" "$repo"
