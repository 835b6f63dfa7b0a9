#!/usr/bin/env bash
# Build an image of one static Go binary without a registry, laid out like the
# distroless/static or scratch images such releases publish: a static base
# (passwd and group with root and nobody, nsswitch.conf, the CA bundle, /tmp),
# the binary at <path-in-image> as ENTRYPOINT, its licence next to it.
# Used for MetalLB's controller and speaker and for Traefik.
#
# usage: build-static-image.sh <tag> <path-in-image> <binary> <licence-file> <what it stands in for>
# prints "<tag> <image id>"
set -euo pipefail
tag=${1:?tag} path=${2:?path in image} bin=${3:?binary} licence=${4:?licence file} what=${5:?description}
export DOCKER_BUILDKIT=0

work=$(mktemp -d "${TMPDIR:-/tmp}/netlabs-static-image.XXXXXX")
base="netlabs/static-image-base:build-$$"
trap 'rm -rf "$work"; docker rmi "$base" >/dev/null 2>&1 || true' EXIT
r="$work/static"; mkdir -p "$r/etc/ssl/certs" "$r/tmp" "$r/root"
chmod 1777 "$r/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' > "$r/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$r/etc/group"
printf 'hosts: files dns\n' > "$r/etc/nsswitch.conf"
cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"
tar --numeric-owner -C "$r" -c . | docker import - "$base" >/dev/null

ctx="$work/ctx"; mkdir -p "$ctx"
cp "$bin" "$ctx/binary"; cp "$licence" "$ctx/$(basename "$licence")"
docker build -q -t "$tag" -f - "$ctx" >/dev/null <<DF
FROM $base
COPY binary $path
COPY $(basename "$licence") /
LABEL org.opencontainers.image.title="$(basename "$path")" \
  org.opencontainers.image.description="netlabs: $what"
ENTRYPOINT ["$path"]
DF
echo "$tag $(docker image inspect --format '{{.Id}}' "$tag")"
