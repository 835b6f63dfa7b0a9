#!/usr/bin/env bash
# Build kube-router's container image without a registry, laid out like the
# published one (kube-router's own Dockerfile) so its DaemonSet runs unchanged:
#   /usr/local/bin/kube-router      the binary (build-go-tool.sh kube-router)
#   /usr/local/bin/cni-install      the module's build/image-assets/cni-install:
#                                   copies the CNI plugins below to the node's
#                                   /opt/cni/bin when they are missing there
#   /usr/libexec/cni/{bridge,portmap,host-local,loopback}   (our cni-plugins build)
# The base is Debian minbase with what kube-router executes: iptables (-save,
# -restore; the nft backend, as the node and kube-proxy use), ipset, ip
# (iproute2), conntrack, modprobe (kmod), and bash + coreutils for cni-install
# and the init container's /bin/sh script.
#
# usage: build-kube-router-image.sh <kube-router-dir> <cni-plugins-dir> <kube-router-module-dir> <image-tag>
set -euo pipefail
krdir=${1:?} cnidir=${2:?} krmod=${3:?} tag=${4:?}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export DOCKER_BUILDKIT=0

work=$(mktemp -d "${TMPDIR:-/tmp}/netlabs-kube-router.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$here/mkrootfs.sh" "$work/rootfs.tar" minbase iptables,iproute2,ipset,conntrack,kmod,ca-certificates,bash
base="netlabs/kube-router-base:build-$$"
docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$work/rootfs.tar" "$base"
rm -f "$work/rootfs.tar"

ctx="$work/ctx"; mkdir -p "$ctx/cni"
cp "$krdir/kube-router" "$ctx/"
install -m 0755 "$krmod/build/image-assets/cni-install" "$ctx/cni-install"
for p in bridge portmap host-local loopback; do cp "$cnidir/$p" "$ctx/cni/"; done
docker build -q -t "$tag" -f - "$ctx" <<DF
FROM $base
COPY kube-router cni-install /usr/local/bin/
COPY cni /usr/libexec/cni
RUN mkdir -p /var/lib/gobgp && /usr/local/bin/kube-router --version
LABEL org.opencontainers.image.description="netlabs: built locally from source/Debian packages without a registry; stand-in for $tag (same binary release, Debian base instead of Alpine, no gobgp CLI)"
WORKDIR /root
ENTRYPOINT ["/usr/local/bin/kube-router"]
DF
docker rmi "$base" >/dev/null
docker image inspect --format '{{.Id}} {{.Size}}' "$tag"
