#!/usr/bin/env bash
# Build MetalLB's two images without a registry, laid out like the published
# ones (both are distroless/static with one binary as ENTRYPOINT), under the
# names and tags MetalLB's own config/manifests/metallb-native.yaml uses, so
# clusters/addons/metallb runs unchanged here and where a registry serves them:
#   quay.io/metallb/controller:<ver>   /controller
#   quay.io/metallb/speaker:<ver>      /speaker   (L2 and native BGP; the FRR
#                                      helpers of the published image serve only
#                                      the FRR modes, which the labs do not use)
# Each is one binary on a static base (build-static-image.sh): both run as
# nobody or root and read no other file of the image.
#
# usage: build-metallb-images.sh <metallb-bin-dir> <metallb-module-dir>
# prints "<image> <id>" per image
set -euo pipefail
bindir=${1:?} mod=${2:?}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
manifest="$mod/config/manifests/metallb-native.yaml"
image_of() { awk -v c="$1" '$1 == "image:" && $2 ~ "/metallb/" c ":" {print $2; exit}' "$manifest"; }
for name in controller speaker; do
  tag=$(image_of "$name")
  [ -n "$tag" ] || { echo "no $name image in $manifest" >&2; exit 1; }
  "$here/build-static-image.sh" "$tag" "/$name" "$bindir/$name" "$mod/LICENSE" \
    "MetalLB $name built locally from its Go module without a registry; stand-in for $tag (same release, static base instead of distroless)"
done
