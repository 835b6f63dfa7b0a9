#!/usr/bin/env bash
# Build the container images a kind node image carries, without a registry,
# and assemble the tarball `kind build node-image --type file` takes:
#   kubernetes/version
#   kubernetes/server/bin/{kubeadm,kubelet,kubectl}
#   kubernetes/server/bin/{kube-apiserver,kube-controller-manager,kube-scheduler,kube-proxy}.tar
# The extra images kind would `ctr content fetch` (etcd, CoreDNS, pause,
# kindnetd, local-path-provisioner and its helper) ride along inside those
# archives under their fully qualified names (listed in the archive's
# `repositories` file, which kind reads in full), so kind finds every required
# image among the "built" ones and never tries to fetch anything.
#
# usage: build-system-images.sh <k8s-bin-dir> <tools-dir> <kind-module-dir> <out-dir>
set -euo pipefail
kbin=${1:?} tools=${2:?} kindmod=${3:?} out=${4:?}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export DOCKER_BUILDKIT=0
rev=${RECIPE_REVISION:-1}
K8S_VERSION=$(cat "$kbin/version")

quiet() { # run a command, show its output only if it fails
  local log rc=0; log=$(mktemp)
  "$@" >"$log" 2>&1 || rc=$?
  [ $rc = 0 ] || { cat "$log" >&2; echo "failed ($rc): $*" >&2; }
  rm -f "$log"; return $rc
}

work=$(mktemp -d "${TMPDIR:-/tmp}/netlabs-sysimg.XXXXXX")
trap 'rm -rf "$work"' EXIT

desc() { echo "LABEL org.opencontainers.image.description=\"netlabs: built locally from source/Debian packages without a registry; stand-in for $1\""; }

# --- the images kubeadm and kind ask for ------------------------------------
mapfile -t kubeadm_images < <("$kbin/kubeadm" config images list --kubernetes-version "$K8S_VERSION")
img() { printf '%s\n' "${kubeadm_images[@]}" | grep "/$1:" | head -n1; }
APISERVER=$(img kube-apiserver) CM=$(img kube-controller-manager) SCHED=$(img kube-scheduler)
PROXY=$(img kube-proxy) ETCD=$(img etcd) COREDNS=$(img coredns) PAUSE_KUBEADM=$(img pause)
PAUSE_SANDBOX=$(sed -n 's/^\s*sandbox_image\s*=\s*"\(.*\)"/\1/p' "$kindmod/images/base/files/etc/containerd/config.toml")
kconst() { sed -n "s/^const $1 = \"\(.*\)\"/\1/p" "$kindmod"/pkg/build/nodeimage/const_*.go; }
KINDNETD=$(kconst kindnetdImage) LPP=$(kconst storageProvisionerImage) LPH=$(kconst storageHelperImage)
for v in APISERVER CM SCHED PROXY ETCD COREDNS PAUSE_KUBEADM PAUSE_SANDBOX KINDNETD LPP LPH; do
  [ -n "${!v}" ] || { echo "could not determine image name $v" >&2; exit 1; }
  echo "  $v=${!v}"
done

# --- bases --------------------------------------------------------------------
# static base: like distroless/static: passwd, group, CA bundle, /tmp
SB="netlabs/static-base:r$rev-$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-8)"
if ! docker image inspect "$SB" >/dev/null 2>&1; then
  r="$work/static"; mkdir -p "$r/etc/ssl/certs" "$r/tmp" "$r/home/nonroot" "$r/root"
  chmod 1777 "$r/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$r/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' > "$r/etc/group"
  printf 'hosts: files dns\n' > "$r/etc/nsswitch.conf"
  cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"
  tar --numeric-owner -C "$r" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$SB"
fi
# node-tools base: Debian with iptables/iproute2/conntrack/curl/jq (kube-proxy, kindnetd-lite)
rk=$(cat "$here/mkrootfs.sh" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-8)
NB="netlabs/node-tools-base:${DEBIAN_SUITE:-bookworm}-r$rev-$rk"
if ! docker image inspect "$NB" >/dev/null 2>&1; then
  "$here/mkrootfs.sh" "$work/node-tools.tar" minbase iptables,iproute2,conntrack,ipset,kmod,curl,jq,ca-certificates,bash
  docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$work/node-tools.tar" "$NB"
  rm -f "$work/node-tools.tar"
fi
# busybox base (Debian busybox-static) for the local-path helper
BB="netlabs/busybox-base:${DEBIAN_SUITE:-bookworm}-r$rev-$(sha256sum "${NETLABS_BUSYBOX:?}" | cut -c1-8)"
if ! docker image inspect "$BB" >/dev/null 2>&1; then
  bash "$here/images/busybox-rootfs.sh" "$work/bb"
  tar --numeric-owner -C "$work/bb" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["sh"]' - "$BB"
fi

# --- one image per component ----------------------------------------------------
build() { # build <tag> <context-dir> ; Dockerfile on stdin
  quiet docker build -q -t "$1" -f - "$2"
  echo "  built $1"
}
ctx() { local d="$work/ctx-$1"; mkdir -p "$d"; shift; cp "$@" "$d/"; echo "$d"; }

for c in kube-apiserver kube-controller-manager kube-scheduler; do
  case $c in kube-apiserver) t=$APISERVER;; kube-controller-manager) t=$CM;; kube-scheduler) t=$SCHED;; esac
  build "$t" "$(ctx $c "$kbin/$c")" <<DF
FROM $SB
COPY $c /usr/local/bin/$c
$(desc "$t")
ENTRYPOINT ["/usr/local/bin/$c"]
DF
done
build "$PROXY" "$(ctx kube-proxy "$kbin/kube-proxy")" <<DF
FROM $NB
COPY kube-proxy /usr/local/bin/kube-proxy
$(desc "$PROXY")
ENTRYPOINT ["/usr/local/bin/kube-proxy"]
DF
build "$ETCD" "$(ctx etcd "$tools/etcd/etcd" "$tools/etcd/etcdctl" "$tools/etcd/etcdutl")" <<DF
FROM $SB
COPY etcd etcdctl etcdutl /usr/local/bin/
$(desc "$ETCD")
CMD ["/usr/local/bin/etcd"]
DF
build "$COREDNS" "$(ctx coredns "$tools/coredns/coredns")" <<DF
FROM $SB
COPY coredns /coredns
$(desc "$COREDNS")
EXPOSE 53 53/udp
ENTRYPOINT ["/coredns"]
DF
build "$PAUSE_KUBEADM" "$(ctx pause "$kbin/pause")" <<DF
FROM scratch
COPY pause /pause
$(desc "$PAUSE_KUBEADM")
USER 65535:65535
ENTRYPOINT ["/pause"]
DF
[ "$PAUSE_SANDBOX" = "$PAUSE_KUBEADM" ] || docker tag "$PAUSE_KUBEADM" "$PAUSE_SANDBOX"
build "$KINDNETD" "$(ctx kindnetd "$here/images/kindnetd-lite.sh")" <<DF
FROM $NB
COPY kindnetd-lite.sh /bin/kindnetd
$(desc "$KINDNETD (kindnetd-lite: CNI config, routes and masquerade only; no NetworkPolicy)")
ENTRYPOINT ["/bin/kindnetd"]
DF
build "$LPP" "$(ctx lpp "$tools/local-path-provisioner/local-path-provisioner")" <<DF
FROM $SB
COPY local-path-provisioner /usr/local/bin/local-path-provisioner
$(desc "$LPP")
ENTRYPOINT ["/usr/local/bin/local-path-provisioner"]
DF
build "$LPH" "$work" <<DF
FROM $BB
$(desc "$LPH")
DF

# --- archives + tarball -----------------------------------------------------------
B="$out/kubernetes/server/bin"
rm -rf "$out/kubernetes"; mkdir -p "$B"
echo "$K8S_VERSION" > "$out/kubernetes/version"
install -m 0755 "$kbin/kubeadm" "$kbin/kubelet" "$kbin/kubectl" "$B/"
save() { # save <archive> <images...>: docker save, then fully qualify the names
  local a=$1; shift
  local d="$work/save-$(basename "$a" .tar)"; rm -rf "$d"; mkdir -p "$d"
  docker save "$@" | tar -C "$d" -x
  python3 "$here/qualify-archive-tags.py" "$d"
  # kind reads whichever of manifest.json / repositories comes first, and of
  # manifest.json only the first image: put `repositories` (every image) first
  [ -s "$d/repositories" ] || { echo "docker save wrote no repositories file" >&2; exit 1; }
  (cd "$d" && tar --numeric-owner -cf "$a" repositories manifest.json $(ls | grep -v '^manifest.json$\|^repositories$'))
}
save "$B/kube-apiserver.tar" "$APISERVER" "$ETCD" "$COREDNS" "$PAUSE_KUBEADM" "$PAUSE_SANDBOX"
save "$B/kube-controller-manager.tar" "$CM"
save "$B/kube-scheduler.tar" "$SCHED"
save "$B/kube-proxy.tar" "$PROXY" "$KINDNETD" "$LPP" "$LPH"
tar -C "$out" -czf "$out/kubernetes-server-linux-amd64.tar.gz.tmp" kubernetes
mv "$out/kubernetes-server-linux-amd64.tar.gz.tmp" "$out/kubernetes-server-linux-amd64.tar.gz"
rm -rf "$out/kubernetes"
ls -l "$out"
