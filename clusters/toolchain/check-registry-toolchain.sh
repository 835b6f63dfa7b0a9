#!/usr/bin/env bash
# Is this a machine where kind works the normal way? Docker running, kind and
# kubectl installed, and kind's own node image in Docker or pullable from its
# registry. Then clusters/prepare.sh needs to build nothing.
#
#   bash clusters/toolchain/check-registry-toolchain.sh
#
# Prints KEY=VALUE lines for toolchain.env and exits 0; otherwise prints the
# first missing piece on stderr and exits 1. Looks only; changes nothing.
set -uo pipefail

missing() { echo "$*" >&2; exit 1; }
# macOS has no `timeout`; there the commands just run without a limit
limit() { if command -v timeout >/dev/null; then timeout "$@"; else shift; "$@"; fi; }

command -v docker >/dev/null || missing "docker is not installed"
limit 30 docker info >/dev/null 2>&1 || missing "the Docker daemon does not answer (docker info)"
KIND=$(command -v kind) || missing "kind is not on PATH"
KIND_VERSION=$(limit 30 "$KIND" version 2>/dev/null | awk '{print $2}')
[ -n "$KIND_VERSION" ] || missing "$KIND does not run"
KUBECTL=$(command -v kubectl) || missing "kubectl is not on PATH"

# kind names its default node image, pinned by digest, inside its binary
# (pkg/apis/config/defaults): the image `kind create cluster` would use.
NODE_IMAGE=$(grep -aoE 'kindest/node:v[0-9]+\.[0-9]+\.[0-9]+@sha256:[0-9a-f]{64}' "$KIND" | head -n 1)
[ -n "$NODE_IMAGE" ] || missing "cannot tell which node image $KIND uses"
if docker image inspect "$NODE_IMAGE" >/dev/null 2>&1; then
  NODE_IMAGE_AT=docker
elif limit 60 docker manifest inspect "$NODE_IMAGE" >/dev/null 2>&1; then
  NODE_IMAGE_AT=registry
else
  missing "kind's node image $NODE_IMAGE is not in Docker and its registry cannot be reached"
fi

K8S_VERSION=${NODE_IMAGE#kindest/node:}
cat <<EOF
KIND=$KIND
KIND_VERSION=$KIND_VERSION
K8S_VERSION=${K8S_VERSION%@*}
NODE_IMAGE=$NODE_IMAGE
NODE_IMAGE_AT=$NODE_IMAGE_AT
KUBECTL=$KUBECTL
EOF
