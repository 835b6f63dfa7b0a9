#!/usr/bin/env bash
# Build kube-router's container image without a registry, laid out like the
# published one (kube-router's own Dockerfile) so its DaemonSet runs unchanged:
#   /usr/local/bin/kube-router      the binary (build-go-tool.sh kube-router)
#   /usr/local/bin/cni-install      the module's build/image-assets/cni-install:
#                                   copies the CNI plugins below to the node's
#                                   /opt/cni/bin when they are missing there
#   /usr/libexec/cni/{bridge,portmap,host-local,loopback}   (our cni-plugins build)
# The base is a static base (passwd, group, CA bundle, /tmp, as the other
# system images) plus, taken from Debian bookworm packages with the shared
# libraries `ldd` names, only what kube-router and its DaemonSet execute:
# iptables/ip6tables(-save,-restore) on the nft backend (as the node and
# kube-proxy use) with their xtables extensions, ipset, ip, conntrack,
# modprobe, and bash + cp/mv/rm/mkdir/install for cni-install and the init
# container's /bin/sh script. A full Debian minbase would make the image
# 216 MB; loading it into the nodes is what a new cluster waits for.
#
# usage: build-kube-router-image.sh <kube-router-dir> <cni-plugins-dir> <kube-router-module-dir> <image-tag>
set -euo pipefail
krdir=${1:?} cnidir=${2:?} krmod=${3:?} tag=${4:?}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export DOCKER_BUILDKIT=0

work=$(mktemp -d "${TMPDIR:-/tmp}/netlabs-kube-router.XXXXXX")
trap 'rm -rf "$work"' EXIT

deb="$work/debian"
"$here/mkrootfs.sh" "$deb" minbase iptables,iproute2,ipset,conntrack,kmod,ca-certificates,bash
r="$work/rootfs"
mkdir -p "$r/etc/ssl/certs" "$r/tmp" "$r/root" "$r/var/lib/gobgp" "$r/run" \
  "$r/usr/bin" "$r/usr/sbin" "$r/usr/lib/x86_64-linux-gnu" "$r/lib64"
chmod 1777 "$r/tmp"
for d in bin sbin lib; do ln -s "usr/$d" "$r/$d"; done
printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > "$r/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$r/etc/group"
printf 'hosts: files dns\n' > "$r/etc/nsswitch.conf"
cp "$deb/etc/ssl/certs/ca-certificates.crt" "$r/etc/ssl/certs/"
cp -a "$deb/etc/iproute2" "$r/etc/"
[ -f "$deb/etc/ethertypes" ] && cp "$deb/etc/ethertypes" "$r/etc/"
# binaries (as installed: paths under /usr after bookworm's merged /usr) and their libraries
bins=(/usr/sbin/xtables-nft-multi /usr/sbin/ipset /usr/sbin/ip /usr/sbin/conntrack /usr/bin/kmod
      /usr/bin/bash /usr/bin/cp /usr/bin/mv /usr/bin/rm /usr/bin/mkdir /usr/bin/install /usr/bin/ls /usr/bin/cat /usr/bin/env /usr/bin/sleep)
for b in "${bins[@]}"; do
  [ -x "$deb$b" ] || { echo "missing $b in the Debian root" >&2; exit 1; }
  cp -L "$deb$b" "$r$b"  # -L: some are symlinks into the merged /usr
done
cp -a "$deb/usr/lib/x86_64-linux-gnu/xtables" "$r/usr/lib/x86_64-linux-gnu/"
libs() { chroot "$deb" ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $1 !~ /:$/ {print $1}'; }
{ libs "${bins[@]}"; libs /usr/lib/x86_64-linux-gnu/xtables/*.so; } | sort -u | while read -r lib; do
  real=$(chroot "$deb" readlink -f "$lib")
  mkdir -p "$r$(dirname "$real")" "$r$(dirname "$lib")"
  cp -a "$deb$real" "$r$real"
  [ "$real" = "$lib" ] || [ -e "$r$lib" ] || ln -s "$real" "$r$lib"
done
# the names the nft backend answers to, and kmod's
for n in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore \
         iptables-nft iptables-nft-save iptables-nft-restore ip6tables-nft ip6tables-nft-save ip6tables-nft-restore; do
  ln -s xtables-nft-multi "$r/usr/sbin/$n"
done
for n in modprobe lsmod insmod rmmod; do ln -s ../bin/kmod "$r/usr/sbin/$n"; done
ln -s bash "$r/usr/bin/sh"
base="netlabs/kube-router-base:build-$$"
tar --numeric-owner -C "$r" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$base"
rm -rf "$deb" "$r"

ctx="$work/ctx"; mkdir -p "$ctx/cni"
cp "$krdir/kube-router" "$ctx/"
install -m 0755 "$krmod/build/image-assets/cni-install" "$ctx/cni-install"
for p in bridge portmap host-local loopback; do cp "$cnidir/$p" "$ctx/cni/"; done
docker build -q -t "$tag" -f - "$ctx" <<DF
FROM $base
COPY kube-router cni-install /usr/local/bin/
COPY cni /usr/libexec/cni
RUN /usr/local/bin/kube-router --version && mkdir /tmp/t && HOST_BIN_PATH=/tmp/t cni-install >/dev/null && test -x /tmp/t/bridge && rm -r /tmp/t && iptables --version && ipset help >/dev/null && ip -V && conntrack --version && modprobe --version
LABEL org.opencontainers.image.description="netlabs: built locally from source/Debian packages without a registry; stand-in for $tag (same kube-router release; iptables, ipset, iproute2, conntrack, kmod, bash from Debian instead of Alpine; no gobgp CLI)"
WORKDIR /root
ENTRYPOINT ["/usr/local/bin/kube-router"]
DF
docker rmi "$base" >/dev/null
docker image inspect --format '{{.Id}} {{.Size}}' "$tag"
