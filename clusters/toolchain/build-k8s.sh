#!/usr/bin/env bash
# Build Kubernetes server/client binaries from the Go module proxy.
#
# A throw-away wrapper module requires k8s.io/kubernetes@$K8S_VERSION and
# replaces every staging module (the replace block of kubernetes' own go.mod,
# which points into ./staging) with k8s.io/<name>@v0.<minor>.<patch>.
# Version ldflags are set on both component-base and client-go, otherwise
# kubeadm refuses the binaries ("unable to parse version").
#
# usage: build-k8s.sh <k8s-version> <out-dir>
set -euo pipefail
K8S_VERSION=${1:?k8s version, e.g. v1.34.10}
OUT=${2:?output dir}
: "${GOMODCACHE:?}" "${GOCACHE:?}"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
patch=${K8S_VERSION##*.}
staging_version="v0.${minor}.${patch}"

work="$OUT.work"
rm -rf "$work"; mkdir -p "$work" "$OUT"
cd "$work"

go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" > dl.json
kdir=$(jq -r .Dir dl.json)
ktime=$(jq -r '.Time // empty' "$(jq -r .Info dl.json)")
kcommit=$(jq -r '.Origin.Hash // empty' dl.json)
[ -d "$kdir" ] || { echo "download of k8s.io/kubernetes@${K8S_VERSION} failed" >&2; cat dl.json >&2; exit 1; }

{
  echo "module netlabs.local/k8sbuild"
  echo
  grep -E '^go [0-9]' "$kdir/go.mod"
  grep -E '^godebug ' "$kdir/go.mod" || true
  echo
  echo "require k8s.io/kubernetes ${K8S_VERSION}"
  echo
  echo "replace ("
  sed -n '/^replace (/,/^)/p' "$kdir/go.mod" | awk '/=> \.\/staging\// {print "\t" $1 " => " $1 " '"$staging_version"'"}'
  echo ")"
} > go.mod
cat > main.go <<'GO'
// Package main only anchors the wrapper module; nothing is built from it.
package main

func main() {}
GO

pkg=k8s.io/component-base/version
cpkg=k8s.io/client-go/pkg/version
ldflags="-s -w"
for p in $pkg $cpkg; do
  ldflags+=" -X $p.gitVersion=${K8S_VERSION} -X $p.gitMajor=1 -X $p.gitMinor=${minor}"
  ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=${ktime:-1970-01-01T00:00:00Z}"
  [ -n "$kcommit" ] && ldflags+=" -X $p.gitCommit=${kcommit}"
done

cmds=(kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy)
pkgs=(); for c in "${cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
echo "resolving module graph ..."
go get "${pkgs[@]/%/@${K8S_VERSION}}"
echo "building ${cmds[*]} ..."
go build -p "${GO_BUILD_PROCS:-2}" -trimpath -tags=selinux,notest,grpcnotrace \
  -ldflags "$ldflags" -o "$OUT/" "${pkgs[@]}"

# pause: a tiny C program shipped in the kubernetes module
gcc -Os -Wall -Werror -static -DVERSION="v3.10.1-netlabs" -o "$OUT/pause" "$kdir/build/pause/linux/pause.c"
strip "$OUT/pause" || true
cp go.mod "$OUT/wrapper-go.mod"
echo "$K8S_VERSION" > "$OUT/version"
"$OUT/kubeadm" version -o short
