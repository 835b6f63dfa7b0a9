#!/usr/bin/env bash
# Build MetalLB's two images without a registry, laid out like the published
# ones (both are distroless/static with one binary as ENTRYPOINT), under the
# names and tags MetalLB's own config/manifests/metallb-native.yaml uses, so
# clusters/addons/metallb runs unchanged here and where a registry serves them:
#   quay.io/metallb/controller:<ver>   /controller
#   quay.io/metallb/speaker:<ver>      /speaker   (L2 and native BGP; the FRR
#                                      helpers of the published image serve only
#                                      the FRR modes, which the labs do not use)
# The base is a static base like the other system images: passwd, group, CA
# bundle, /tmp (both run as nobody or root, read no other file of the image).
#
# usage: build-metallb-images.sh <metallb-bin-dir> <metallb-module-dir>
# prints "<image> <id>" per image
set -euo pipefail
bindir=${1:?} mod=${2:?}
export DOCKER_BUILDKIT=0
manifest="$mod/config/manifests/metallb-native.yaml"
image_of() { awk -v c="$1" '$1 == "image:" && $2 ~ "/metallb/" c ":" {print $2; exit}' "$manifest"; }
controller=$(image_of controller) speaker=$(image_of speaker)
[ -n "$controller" ] && [ -n "$speaker" ] || { echo "no controller/speaker image in $manifest" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/netlabs-metallb.XXXXXX")
base="netlabs/metallb-base:build-$$"
trap 'rm -rf "$work"; docker rmi "$base" >/dev/null 2>&1 || true' EXIT
r="$work/static"; mkdir -p "$r/etc/ssl/certs" "$r/tmp" "$r/root"
chmod 1777 "$r/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' > "$r/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$r/etc/group"
printf 'hosts: files dns\n' > "$r/etc/nsswitch.conf"
cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"
tar --numeric-owner -C "$r" -c . | docker import - "$base" >/dev/null

for pair in "controller=$controller" "speaker=$speaker"; do
  name=${pair%%=*} tag=${pair#*=}
  ctx="$work/$name"; mkdir -p "$ctx"
  cp "$bindir/$name" "$ctx/"; cp "$mod/LICENSE" "$ctx/"
  docker build -q -t "$tag" -f - "$ctx" >/dev/null <<DF
FROM $base
COPY $name /$name
COPY LICENSE /
LABEL org.opencontainers.image.title="$name" \
  org.opencontainers.image.description="netlabs: MetalLB $name built locally from its Go module without a registry; stand-in for $tag (same release, static base instead of distroless)"
ENTRYPOINT ["/$name"]
DF
  echo "$tag $(docker image inspect --format '{{.Id}}' "$tag")"
done
