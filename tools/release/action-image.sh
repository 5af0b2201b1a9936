#!/usr/bin/env bash
# Points action.yml at a published image instead of the Dockerfile: the one
# change of a release commit (release.yml), so `uses: <owner>/goldsmith@v1`
# pulls the image in seconds instead of building it on every run.
#
#   tools/release/action-image.sh ghcr.io/<owner>/goldsmith:v1.2.3@sha256:<digest> [action.yml]
#
# The tag says which release it is; the digest makes it immutable, so a tag
# moved on the registry cannot change what a pinned action runs.
set -euo pipefail

ref=${1:?usage: tools/release/action-image.sh REGISTRY/OWNER/goldsmith:vX.Y.Z@sha256:DIGEST [action.yml]}
file=${2:-action.yml}

if ! [[ $ref =~ ^[a-z0-9._/-]+:v[0-9]+\.[0-9]+\.[0-9]+@sha256:[0-9a-f]{64}$ ]]; then
  echo "action-image: '$ref' is not REGISTRY/OWNER/NAME:vX.Y.Z@sha256:<64 hex> (lower case)" >&2
  exit 2
fi
if [ "$(grep -c '^  image: Dockerfile$' "$file")" != 1 ]; then
  echo "action-image: $file: expected exactly one line '  image: Dockerfile' under runs:" >&2
  exit 1
fi
sed -i "s|^  image: Dockerfile\$|  image: docker://$ref|" "$file"
echo "action-image: $file runs docker://$ref"
