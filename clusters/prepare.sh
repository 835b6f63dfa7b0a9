#!/usr/bin/env bash
# Prepare this machine for real kind clusters without a container registry.
#
#   bash clusters/prepare.sh
#
# Idempotent: every heavy result is cached under ${NETLABS_CACHE:-~/.cache/netlabs},
# keyed by the pinned versions (clusters/toolchain/versions.env) and by a hash
# of the recipe scripts, so a second run only checks and takes seconds. A cold
# run on 2 cores takes tens of minutes; run it in the background if your shell
# cuts long commands:  nohup bash clusters/prepare.sh > prepare.log 2>&1 &
#
# Phases (0 decides whether the others are needed at all):
#   0 registry   Docker, kind and kubectl already installed and kind's node
#                image in Docker or pullable: record them and stop; else build
#   1 docker     Debian docker.io (+ iptables, mmdebstrap, build tools), dockerd
#                started by hand, capability wrapper only where needed
#   2 kind       go install sigs.k8s.io/kind@KIND_VERSION
#   3 k8s        Kubernetes binaries (wrapper module) + etcd, CoreDNS, containerd,
#                runc, crictl, CNI plugins, local-path-provisioner, pause; the
#                component images and the tarball for `kind build node-image`
#   4 node       kind base image (mmdebstrap + kind's images/base/files), node image
#   5 images     lab images (nginx, curl, busybox, redis, node, ghost, dnsutils)
#   6 kube-router  kube-router (k3s's fork of the same tag, wrapper module) and
#                its image with the CNI plugins it installs on the nodes
#                (bridge, portmap, host-local, loopback); every lab cluster's
#                CNI and NetworkPolicy engine (clusters/kube-router/)
#   7 metallb    MetalLB's controller and speaker (go.universe.tf/metallb) and
#                their images under the published names; installed by labs that
#                list the `metallb` add-on (clusters/addons/metallb/)
#   8 traefik    Traefik (github.com/traefik/traefik/v3) and its image under the
#                published name; installed by labs that list the `traefik` add-on
#                (clusters/addons/traefik/, toolchain/phase-traefik.sh)
#   grader       the grader's image for the Indexed Job (clusters/grading/prepare-image.sh)
#   9 env        $NETLABS_CACHE/toolchain.env, written last, READY=1
#
# Environment: NETLABS_CACHE (cache dir), GO_BUILD_PROCS (default: all cores),
# NETLABS_PREPARE (auto: phase 0 decides; build: always build; registry: never).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TC="$REPO/clusters/toolchain"
# shellcheck source=toolchain/versions.env
. "$TC/versions.env"
export DEBIAN_SUITE RECIPE_REVISION

CACHE=${NETLABS_CACHE:-$HOME/.cache/netlabs}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOTOOLCHAIN=local
export NETLABS_DEB_CACHE="$CACHE/debs"
export GO_BUILD_PROCS=${GO_BUILD_PROCS:-$(nproc)}
export PATH="/usr/local/go/bin:$PATH"
LOGS="$CACHE/logs"; IMAGES="$CACHE/images"
mkdir -p "$LOGS" "$IMAGES" "$CACHE/tools" "$CACHE/k8s" "$CACHE/kind"
ENV_FILE="$CACHE/toolchain.env"

T0=$(date +%s)
declare -a SUMMARY=()
now() { date -u +%H:%M:%S; }
say() { echo "[$(now) +$(( $(date +%s) - T0 ))s] $*"; }
PHASE="" PHASE_T0=0
phase() { PHASE=$1; PHASE_T0=$(date +%s); say "== phase $1: $2"; }
phase_done() {
  local s=$(( $(date +%s) - PHASE_T0 ))
  SUMMARY+=("$(printf '%-11s %5ss  %s' "$PHASE" "$s" "$1")")
  say "== phase $PHASE done in ${s}s ($1)"
}
die() {
  say "FAILED in phase ${PHASE:-?}: $*" >&2
  echo "toolchain.env not written (READY stays unset); fix the problem and re-run." >&2
  exit 1
}

# run <log-name> <command...>: run with output to a log, heartbeat each minute,
# show the log's tail if it fails
run() {
  local name=$1; shift
  local log="$LOGS/$name.log" t=0 rc=0
  say "   $name (log: $log)"
  "$@" >"$log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 2; t=$((t + 2))
    [ $((t % 60)) = 0 ] && say "   ... $name still running (${t}s)"
  done
  wait "$pid" || rc=$?
  if [ $rc != 0 ]; then
    tail -n 40 "$log" >&2
    die "$name failed (exit $rc), see $log"
  fi
}

# a short hash of files' contents: recipe changes invalidate the cache
recipe_hash() { cat "$@" | sha256sum | cut -c1-10; }

# docker image cache helpers: <ids-file> records the image IDs a saved tarball holds
images_present() { # images_present <ids-file>: every tag there with the recorded ID?
  local f=$1 tag id
  [ -s "$f" ] || return 1
  while read -r tag id; do
    [ "$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null)" = "$id" ] || return 1
  done < "$f"
}
record_images() { # record_images <tar> <ids-file> <tags...>
  local tar=$1 ids=$2; shift 2
  local tag
  : > "$ids.tmp"
  for tag in "$@"; do
    echo "$tag $(docker image inspect --format '{{.Id}}' "$tag")" >> "$ids.tmp"
  done
  docker save "$@" -o "$tar.tmp"
  mv "$tar.tmp" "$tar"; mv "$ids.tmp" "$ids"
}
restore_images() { # restore_images <tar> <ids-file>: load if docker lost them
  images_present "$2" && return 0
  [ -s "$1" ] || return 1
  say "   re-importing $(basename "$1") into docker"
  docker load -i "$1" >/dev/null && images_present "$2"
}

rm -f "$ENV_FILE.tmp"
say "netlabs toolchain: cache $CACHE"

########################################################################## 0
# A machine where kind works the normal way (Docker running, kind and kubectl
# installed, kind's node image in Docker or pullable from its registry) needs
# nothing built: check it, pull the node image as `kind create cluster` would,
# record it, done. NETLABS_PREPARE=build forces the offline build below;
# NETLABS_PREPARE=registry fails instead of falling back to it.
MODE=${NETLABS_PREPARE:-auto}
case "$MODE" in auto|build|registry) ;; *) die "NETLABS_PREPARE is auto, build or registry, not '$MODE'" ;; esac
if [ "$MODE" != build ]; then
  phase registry "Docker, kind and kubectl already here, with kind's node image?"
  if found=$(bash "$TC/check-registry-toolchain.sh" 2>"$LOGS/check-registry.log"); then
    while IFS='=' read -r key value; do declare "$key=$value"; done <<< "$found"
    if [ "$NODE_IMAGE_AT" = registry ]; then
      run pull-node-image docker pull "$NODE_IMAGE"
    fi
    cat > "$ENV_FILE.tmp" <<EOF
# written by clusters/prepare.sh from tools already installed; KEY=VALUE, no quotes, no spaces
SOURCE=registry
KIND=$KIND
KIND_VERSION=$KIND_VERSION
K8S_VERSION=$K8S_VERSION
NODE_IMAGE=$NODE_IMAGE
KUBECTL=$KUBECTL
NETLABS_CACHE=$CACHE
DOCKER_RUNTIME=$(docker info --format '{{.DefaultRuntime}}')
READY=1
EOF
    mv "$ENV_FILE.tmp" "$ENV_FILE"
    phase_done "kind $KIND_VERSION at $KIND, node image $NODE_IMAGE (from $NODE_IMAGE_AT); nothing to build"
    say "total $(( $(date +%s) - T0 ))s; $ENV_FILE written"
    exit 0
  fi
  reason=$(tail -n 1 "$LOGS/check-registry.log")
  [ "$MODE" = registry ] && die "NETLABS_PREPARE=registry, but $reason"
  phase_done "no ($reason): building the toolchain offline"
fi

########################################################################## 1
phase docker "Docker Engine from Debian"
pkgs=(docker.io iptables mmdebstrap jq gcc make patch bzip2 xz-utils libc6-dev libseccomp-dev pkg-config python3 ca-certificates curl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]}"
  run apt-update apt-get update
  run apt-install env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  note="installed ${missing[*]}"
else
  note="packages present"
fi
command -v go >/dev/null || die "the go command is missing (Go 1.24+ is needed)"
if ! bash "$TC/start-docker.sh" > "$LOGS/start-docker.log" 2>&1; then
  cat "$LOGS/start-docker.log" >&2; die "dockerd could not be started"
fi
sed 's/^/   /' "$LOGS/start-docker.log"
phase_done "$note; $(docker version --format 'engine {{.Server.Version}}') runtime $(docker info --format '{{.DefaultRuntime}}')"

########################################################################## 2
phase kind "kind $KIND_VERSION"
KIND_DIR="$CACHE/kind/$KIND_VERSION"
KIND="$KIND_DIR/kind"
if [ -x "$KIND" ] && "$KIND" version | grep -q "$KIND_VERSION"; then
  note="cached"
else
  rm -rf "$KIND_DIR.tmp"
  run kind-build "$TC/build-go-tool.sh" kind "$KIND_VERSION" "$KIND_DIR.tmp"
  rm -rf "$KIND_DIR"; mv "$KIND_DIR.tmp" "$KIND_DIR"
  note="built"
fi
"$KIND" version | grep -q "$KIND_VERSION" || die "kind binary does not report $KIND_VERSION"
KIND_MOD=$(go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | jq -r .Dir)
[ -d "$KIND_MOD/images/base/files" ] || die "kind module source not found in the module cache"
phase_done "$note: $("$KIND" version)"

########################################################################## 3
phase k8s "Kubernetes $K8S_VERSION and node components"
built=() cached=()
K8S_BIN="$CACHE/k8s/$K8S_VERSION/bin"
if [ -f "$K8S_BIN/.done" ]; then cached+=(kubernetes); else
  run "k8s-$K8S_VERSION" "$TC/build-k8s.sh" "$K8S_VERSION" "$K8S_BIN"
  touch "$K8S_BIN/.done"; built+=(kubernetes)
fi
for nv in "containerd@$CONTAINERD_VERSION" "runc@$RUNC_VERSION" "crictl@$CRICTL_VERSION" \
          "cni-plugins@$CNI_PLUGINS_VERSION" "etcd@$ETCD_VERSION" "coredns@$COREDNS_VERSION" \
          "local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION"; do
  n=${nv%@*} v=${nv#*@} d="$CACHE/tools/$nv"
  if [ -f "$d/.done" ]; then cached+=("$n"); continue; fi
  rm -rf "$d.tmp"
  run "build-$nv" "$TC/build-go-tool.sh" "$n" "$v" "$d.tmp"
  touch "$d.tmp/.done"; rm -rf "$d"; mv "$d.tmp" "$d"; built+=("$n")
done
# busybox (static, from Debian's source with wget -T enabled; see build-busybox.sh)
BB_DIR="$CACHE/tools/busybox@debian-$DEBIAN_SUITE-$(recipe_hash "$TC/build-busybox.sh")"
if [ -f "$BB_DIR/.done" ]; then cached+=(busybox); else
  rm -rf "$BB_DIR.tmp"
  run busybox-build "$TC/build-busybox.sh" "$BB_DIR.tmp"
  touch "$BB_DIR.tmp/.done"; rm -rf "$BB_DIR"; mv "$BB_DIR.tmp" "$BB_DIR"; built+=(busybox)
fi
export NETLABS_BUSYBOX="$BB_DIR/busybox"
# the tools dir the image builders read: component -> cached version
TOOLS="$CACHE/tools/current"
rm -rf "$TOOLS"; mkdir -p "$TOOLS"
for nv in "containerd@$CONTAINERD_VERSION" "runc@$RUNC_VERSION" "crictl@$CRICTL_VERSION" \
          "cni-plugins@$CNI_PLUGINS_VERSION" "etcd@$ETCD_VERSION" "coredns@$COREDNS_VERSION" \
          "local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION"; do
  ln -s "../$nv" "$TOOLS/${nv%@*}"
done
# component images + the tarball for `kind build node-image --type file`
SYS_KEY="$K8S_VERSION-$(printf '%s\n' "$KIND_VERSION $ETCD_VERSION $COREDNS_VERSION $LOCAL_PATH_PROVISIONER_VERSION $RECIPE_REVISION" \
  | cat - "$BB_DIR/VERSION" "$TC/build-busybox.sh" "$TC/build-system-images.sh" "$TC/qualify-archive-tags.py" "$TC/images/kindnetd-lite.sh" "$TC/images/busybox-rootfs.sh" "$TC/mkrootfs.sh" \
  | sha256sum | cut -c1-10)"
SYS_DIR="$CACHE/node/sys-$SYS_KEY"
K8S_TARBALL="$SYS_DIR/kubernetes-server-linux-amd64.tar.gz"
if [ -s "$K8S_TARBALL" ]; then cached+=(component-images); else
  rm -rf "$SYS_DIR"; mkdir -p "$SYS_DIR"
  run "system-images-$SYS_KEY" "$TC/build-system-images.sh" "$K8S_BIN" "$TOOLS" "$KIND_MOD" "$SYS_DIR"
  built+=(component-images)
fi
phase_done "built: ${built[*]:-none}; cached: ${cached[*]:-none}"

########################################################################## 4
phase node "kind base image and node image"
BASE_KEY=$(printf '%s\n' "$KIND_VERSION $CONTAINERD_VERSION $RUNC_VERSION $CRICTL_VERSION $CNI_PLUGINS_VERSION $DEBIAN_SUITE $RECIPE_REVISION" \
  | cat - "$TC/build-base-image.sh" "$TC/mkrootfs.sh" | sha256sum | cut -c1-10)
BASE_IMAGE="netlabs/kind-base:$KIND_VERSION-$BASE_KEY"
NODE_KEY=$(printf '%s\n' "$BASE_KEY $SYS_KEY" | sha256sum | cut -c1-10)
NODE_IMAGE="netlabs/kind-node:$K8S_VERSION-$NODE_KEY"
node_tar="$IMAGES/kind-node-$NODE_KEY.tar" node_ids="$IMAGES/kind-node-$NODE_KEY.ids"
if restore_images "$node_tar" "$node_ids"; then
  note="cached $NODE_IMAGE"
else
  base_tar="$IMAGES/kind-base-$BASE_KEY.tar" base_ids="$IMAGES/kind-base-$BASE_KEY.ids"
  if ! restore_images "$base_tar" "$base_ids"; then
    run "base-image-$BASE_KEY" "$TC/build-base-image.sh" "$KIND_MOD" "$TOOLS" "$BASE_IMAGE"
    record_images "$base_tar" "$base_ids" "$BASE_IMAGE"
  fi
  # kind extracts the tarball under $TMPDIR and leaves it there (~750 MB)
  kind_tmp=$(mktemp -d "${TMPDIR:-/tmp}/netlabs-kind-build.XXXXXX")
  run "node-image-$NODE_KEY" env TMPDIR="$kind_tmp" "$KIND" build node-image --type file "$K8S_TARBALL" \
    --base-image "$BASE_IMAGE" --image "$NODE_IMAGE"
  rm -rf "$kind_tmp"
  # every image must have come from the archives, none from a registry
  if grep -q 'Failed to pull\|Retrying' "$LOGS/node-image-$NODE_KEY.log"; then
    die "kind tried to pull images; see $LOGS/node-image-$NODE_KEY.log"
  fi
  record_images "$node_tar" "$node_ids" "$NODE_IMAGE"
  note="built $NODE_IMAGE"
fi
phase_done "$note"

########################################################################## 5
phase images "lab images"
LAB_IMAGES=(nginx:1.27 curlimages/curl:8.11.1 busybox:1.36 redis:6.0 node:14 ghost:5 registry.k8s.io/e2e-test-images/jessie-dnsutils:1.3)
LAB_KEY=$(printf '%s\n' "$DEBIAN_SUITE $RECIPE_REVISION" | cat - "$BB_DIR/VERSION" "$TC/build-busybox.sh" "$TC/build-lab-images.sh" "$TC/images/busybox-rootfs.sh" "$TC/mkrootfs.sh" | sha256sum | cut -c1-10)
lab_tar="$IMAGES/lab-$LAB_KEY.tar" lab_ids="$IMAGES/lab-$LAB_KEY.ids"
if restore_images "$lab_tar" "$lab_ids"; then
  note="cached"
else
  run "lab-images-$LAB_KEY" "$TC/build-lab-images.sh"
  record_images "$lab_tar" "$lab_ids" "${LAB_IMAGES[@]}"
  note="built"
fi
phase_done "$note: ${LAB_IMAGES[*]}"

########################################################################## 6
# A phase of its own with its own cache entries, so the node and lab images
# above keep their keys: the image carries the bridge plugin and installs it on
# each node itself (as the published image does), the node image is unchanged.
phase kube-router "kube-router $KUBE_ROUTER_VERSION"
KR_DIR="$CACHE/tools/kube-router@$KUBE_ROUTER_VERSION"
if [ -f "$KR_DIR/.done" ]; then note="cached binary"; else
  rm -rf "$KR_DIR.tmp"
  run "build-kube-router@$KUBE_ROUTER_VERSION" nice -n 19 "$TC/build-go-tool.sh" kube-router "$KUBE_ROUTER_VERSION" "$KR_DIR.tmp"
  touch "$KR_DIR.tmp/.done"; rm -rf "$KR_DIR"; mv "$KR_DIR.tmp" "$KR_DIR"; note="built binary"
fi
# the name and tag the published image has, so the same manifest works with a registry
KUBE_ROUTER_IMAGE="docker.io/cloudnativelabs/kube-router:$KUBE_ROUTER_VERSION"
KR_MOD="$GOMODCACHE/github.com/k3s-io/kube-router/v2@$KUBE_ROUTER_VERSION"
[ -f "$KR_MOD/build/image-assets/cni-install" ] || die "kube-router module source not found at $KR_MOD"
KR_KEY=$(printf '%s\n' "$KUBE_ROUTER_VERSION $CNI_PLUGINS_VERSION $DEBIAN_SUITE $RECIPE_REVISION" \
  | cat - "$TC/build-kube-router-image.sh" "$TC/mkrootfs.sh" | sha256sum | cut -c1-10)
kr_tar="$IMAGES/kube-router-$KR_KEY.tar" kr_ids="$IMAGES/kube-router-$KR_KEY.ids"
if restore_images "$kr_tar" "$kr_ids"; then
  note="$note, cached image"
else
  run "kube-router-image-$KR_KEY" "$TC/build-kube-router-image.sh" "$KR_DIR" "$CACHE/tools/cni-plugins@$CNI_PLUGINS_VERSION" "$KR_MOD" "$KUBE_ROUTER_IMAGE"
  record_images "$kr_tar" "$kr_ids" "${KUBE_ROUTER_IMAGE#docker.io/}"
  note="$note, built image"
fi
phase_done "$note: $KUBE_ROUTER_IMAGE"

########################################################################## 7
# Like kube-router: a phase with cache entries of its own, so no earlier key
# changes and a prepared machine only builds this part.
phase metallb "MetalLB $METALLB_VERSION"
MLB_DIR="$CACHE/tools/metallb@$METALLB_VERSION"
if [ -f "$MLB_DIR/.done" ]; then note="cached binaries"; else
  rm -rf "$MLB_DIR.tmp"
  run "build-metallb@$METALLB_VERSION" nice -n 19 "$TC/build-go-tool.sh" metallb "$METALLB_VERSION" "$MLB_DIR.tmp"
  touch "$MLB_DIR.tmp/.done"; rm -rf "$MLB_DIR"; mv "$MLB_DIR.tmp" "$MLB_DIR"; note="built binaries"
fi
MLB_MOD="$GOMODCACHE/go.universe.tf/metallb@$METALLB_VERSION"
[ -f "$MLB_MOD/config/manifests/metallb-native.yaml" ] || die "MetalLB module source not found at $MLB_MOD"
MLB_KEY=$(printf '%s\n' "$METALLB_VERSION $RECIPE_REVISION" | cat - "$TC/build-metallb-images.sh" "$TC/build-static-image.sh" | sha256sum | cut -c1-10)
mlb_tar="$IMAGES/metallb-$MLB_KEY.tar" mlb_ids="$IMAGES/metallb-$MLB_KEY.ids"
if restore_images "$mlb_tar" "$mlb_ids"; then
  note="$note, cached images"
else
  run "metallb-images-$MLB_KEY" "$TC/build-metallb-images.sh" "$MLB_DIR" "$MLB_MOD"
  mapfile -t mlb_images < <(awk 'NF == 2 && $2 ~ /^sha256:/ {print $1}' "$LOGS/metallb-images-$MLB_KEY.log")
  record_images "$mlb_tar" "$mlb_ids" "${mlb_images[@]}"
  note="$note, built images"
fi
phase_done "$note: $(awk '{print $1}' "$mlb_ids" | paste -sd' ')"

phase grader "the grader's image (clusters/grading/prepare-image.sh)"
run grader-image "$REPO/clusters/grading/prepare-image.sh"
GRADER_IMAGE=$(tail -n 1 "$LOGS/grader-image.log" | cut -d' ' -f1)
phase_done "$(tail -n 1 "$LOGS/grader-image.log")"

########################################################################## 8
# shellcheck source=toolchain/phase-traefik.sh
. "$TC/phase-traefik.sh"

########################################################################## 9
phase env "toolchain.env"
images_present "$node_ids" || die "node image $NODE_IMAGE missing from docker"
images_present "$lab_ids" || die "lab images missing from docker"
images_present "$kr_ids" || die "kube-router image missing from docker"
images_present "$mlb_ids" || die "MetalLB images missing from docker"
images_present "$traefik_ids" || die "Traefik image missing from docker"
lab_csv=$(IFS=,; echo "${LAB_IMAGES[*]}")
cat > "$ENV_FILE.tmp" <<EOF
# written by clusters/prepare.sh; KEY=VALUE, no quotes, no spaces
KIND=$KIND
KIND_VERSION=$KIND_VERSION
K8S_VERSION=$K8S_VERSION
NODE_IMAGE=$NODE_IMAGE
BASE_IMAGE=$BASE_IMAGE
LAB_IMAGES=$lab_csv
KUBE_ROUTER_IMAGE=$KUBE_ROUTER_IMAGE
METALLB_IMAGES=$(awk '{print $1}' "$mlb_ids" | paste -sd,)
TRAEFIK_IMAGE=$TRAEFIK_IMAGE
GRADER_IMAGE=$GRADER_IMAGE
KUBECTL=$K8S_BIN/kubectl
NETLABS_CACHE=$CACHE
DOCKER_RUNTIME=$(docker info --format '{{.DefaultRuntime}}')
READY=1
EOF
mv "$ENV_FILE.tmp" "$ENV_FILE"
phase_done "$ENV_FILE"

say "summary (seconds per phase):"
for line in "${SUMMARY[@]}"; do echo "   $line"; done
say "total $(( $(date +%s) - T0 ))s; source $ENV_FILE, then:"
echo "   \$KIND create cluster --config clusters/single-node.yaml --image \$NODE_IMAGE"
