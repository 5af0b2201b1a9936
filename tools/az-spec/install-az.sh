#!/usr/bin/env bash
# Installs the pinned Azure CLI in a venv once, from tools/az-spec/requirements.txt:
# azure-cli and every package it needs, each at one version with its hashes (the
# same lock the Dockerfile installs; requirements.in says how to remake it),
# (at $AZ_SPEC_VENV, by default ~/.cache/goldsmith/az-venv; about 730 MB and a
# few minutes the first time) and prints the path of its `az`, for
#   goldsmith run <module> --simulate --az-cli "$(tools/az-spec/install-az.sh)"
# Progress goes to stderr, the path alone to stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${AZ_SPEC_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/goldsmith/az-venv}

if ! cmp -s "$here/requirements.txt" "$venv/requirements.txt" 2>/dev/null; then
  echo "installing the pinned Azure CLI ($(grep -o '^azure-cli==[^ ]*' "$here/requirements.txt")) in $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r "$here/requirements.txt" >&2
  cp "$here/requirements.txt" "$venv/requirements.txt"
fi
echo "$venv/bin/az"
