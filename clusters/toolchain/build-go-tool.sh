#!/usr/bin/env bash
# Build one Go component from the module proxy into <out-dir>.
# usage: build-go-tool.sh <component> <version> <out-dir>
# components: kind containerd runc crictl cni-plugins etcd coredns local-path-provisioner kube-router metallb traefik
set -euo pipefail
name=${1:?component} ver=${2:?version} out=${3:?out dir}
: "${GOMODCACHE:?}" "${GOCACHE:?}"
export GOTOOLCHAIN=local CGO_ENABLED=0
procs=${GO_BUILD_PROCS:-2}
common=(-p "$procs" -trimpath)
mkdir -p "$out"
out=$(cd "$out" && pwd)

gi() { GOBIN="$out" go install "${common[@]}" "$@"; }

case "$name" in
  kind)
    gi -ldflags "-s -w" "sigs.k8s.io/kind@$ver" ;;
  containerd)
    # containerd's go.mod has exclude directives, so `go install pkg@version`
    # refuses it; build from a wrapper module that copies those excludes.
    m=github.com/containerd/containerd/v2
    w="$out.work"; rm -rf "$w"; mkdir -p "$w"; cd "$w"
    GOFLAGS=-mod=mod go mod download -json "$m@$ver" > dl.json
    printf 'module netlabs.local/containerdbuild\n\ngo 1.23.0\n\n' > go.mod
    sed -n '/^exclude/,/^)/p' "$(jq -r .Dir dl.json)/go.mod" >> go.mod
    printf 'package main\n\nfunc main() {}\n' > main.go
    GOFLAGS=-mod=mod go get "$m/cmd/containerd@$ver" "$m/cmd/ctr@$ver" "$m/cmd/containerd-shim-runc-v2@$ver"
    for c in containerd ctr containerd-shim-runc-v2; do
      GOFLAGS=-mod=mod go build "${common[@]}" -tags "no_aufs no_zfs no_btrfs no_devmapper urfave_cli_no_docs" \
        -ldflags "-s -w -X $m/version.Version=$ver -X $m/version.Package=$m" -o "$out/$c" "$m/cmd/$c"
    done
    cd /; rm -rf "$w" ;;
  runc)
    # runc needs cgo for libseccomp (Debian libseccomp-dev on the build host,
    # libseccomp2 in the node image, both bookworm)
    CGO_ENABLED=1 gi -tags "seccomp urfave_cli_no_docs" \
      -ldflags "-s -w -X main.version=${ver#v}" "github.com/opencontainers/runc@$ver" ;;
  crictl)
    # cri-tools v1.30 is served as sigs.k8s.io/cri-tools but declares itself
    # github.com/kubernetes-sigs/cri-tools, and replaces the k8s.io staging
    # modules with pseudo-versions of k8s.io/kubernetes/staging/...; a wrapper
    # module maps the former with a replace and points the latter at the
    # published k8s.io/<name> tags of the same Kubernetes release.
    m=sigs.k8s.io/cri-tools
    w="$out.work"; rm -rf "$w"; mkdir -p "$w"; cd "$w"
    GOFLAGS=-mod=mod go mod download -json "$m@$ver" > dl.json
    gm="$(jq -r .Dir dl.json)/go.mod"
    decl=$(awk '$1 == "module" {print $2}' "$gm")
    kver=$(awk '$1 == "k8s.io/kubernetes" && $2 == "=>" {print $4}' "$gm")
    sver="v0.${kver#v1.}"
    {
      printf 'module netlabs.local/critoolsbuild\n\ngo 1.22\n\n'
      [ "$decl" = "$m" ] || printf 'require %s %s\n\n' "$decl" "$ver"
      printf 'replace (\n'
      [ "$decl" = "$m" ] || printf '\t%s %s => %s %s\n' "$decl" "$ver" "$m" "$ver"
      sed -n '/^replace (/,/^)/p' "$gm" | awk -v s="$sver" '$2 == "=>" && $3 ~ /^k8s.io\/kubernetes\/staging\// {print "\t" $1 " => " $1 " " s}'
      sed -n '/^replace (/,/^)/p' "$gm" | awk '$1 == "k8s.io/kubernetes" && $2 == "=>" {print "\t" $0}'
      printf ')\n'
    } > go.mod
    printf 'package main\n\nfunc main() {}\n' > main.go
    [ "$decl" = "$m" ] && GOFLAGS=-mod=mod go get "$m/cmd/crictl@$ver"
    GOFLAGS=-mod=mod go build "${common[@]}" -ldflags "-s -w -X $decl/pkg/version.Version=$ver" -o "$out/crictl" "$decl/cmd/crictl"
    cd /; rm -rf "$w" ;;
  cni-plugins)
    m=github.com/containernetworking/plugins
    gi -ldflags "-s -w -X $m/pkg/utils/buildversion.BuildVersion=$ver" \
      "$m/plugins/ipam/host-local@$ver" "$m/plugins/main/loopback@$ver" \
      "$m/plugins/main/ptp@$ver" "$m/plugins/meta/portmap@$ver" "$m/plugins/main/bridge@$ver" ;;
  coredns)
    gi -ldflags "-s -w" "github.com/coredns/coredns@$ver" ;;
  local-path-provisioner)
    gi -ldflags "-s -w -X main.VERSION=$ver" "github.com/rancher/local-path-provisioner@$ver" ;;
  etcd)
    # etcd's modules carry replace directives (../api, ...), so `go install
    # pkg@version` refuses them; a throw-away wrapper module requires them.
    w="$out.work"; rm -rf "$w"; mkdir -p "$w"; cd "$w"
    printf 'module netlabs.local/etcdbuild\n\ngo 1.24\n' > go.mod
    printf 'package main\n\nfunc main() {}\n' > main.go
    GOFLAGS=-mod=mod go get "go.etcd.io/etcd/server/v3@$ver" "go.etcd.io/etcd/etcdctl/v3@$ver" "go.etcd.io/etcd/etcdutl/v3@$ver"
    GOFLAGS=-mod=mod go build "${common[@]}" -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
    GOFLAGS=-mod=mod go build "${common[@]}" -ldflags "-s -w" -o "$out/etcdctl" go.etcd.io/etcd/etcdctl/v3
    GOFLAGS=-mod=mod go build "${common[@]}" -ldflags "-s -w" -o "$out/etcdutl" go.etcd.io/etcd/etcdutl/v3
    cd /; rm -rf "$w" ;;
  kube-router)
    # The proxy refuses github.com/cloudnativelabs/kube-router/v2 but serves
    # k3s's fork of the same release (it passes the checksum database); the
    # fork declares the upstream module path, so a wrapper module requires
    # the upstream path and replaces it with the fork. `go install`/`go get`
    # would ask for the fork's version list, which the proxy refuses.
    m=github.com/cloudnativelabs/kube-router/v2
    w="$out.work"; rm -rf "$w"; mkdir -p "$w"; cd "$w"
    printf 'module netlabs.local/kuberouterbuild\n\ngo 1.24\n\nrequire %s %s\n\nreplace %s => github.com/k3s-io/kube-router/v2 %s\n' \
      "$m" "$ver" "$m" "$ver" > go.mod
    printf 'package main\n\nimport _ "%s/pkg/version"\n\nfunc main() {}\n' "$m" > main.go
    GOFLAGS=-mod=mod go build "${common[@]}" \
      -ldflags "-s -w -X $m/pkg/version.Version=$ver -X $m/pkg/version.BuildDate=netlabs-local" \
      -o "$out/kube-router" "$m/cmd/kube-router"
    cp go.mod "$out/wrapper-go.mod"
    cd /; rm -rf "$w" ;;
  metallb)
    # MetalLB's controller and speaker (L2 mode needs nothing else; the
    # speaker image's FRR helpers serve only the FRR modes). A wrapper module
    # requires the release, so the proxy is asked for that version only.
    m=go.universe.tf/metallb
    w="$out.work"; rm -rf "$w"; mkdir -p "$w"; cd "$w"
    printf 'module netlabs.local/metallbbuild\n\ngo 1.24.0\n\nrequire %s %s\n' "$m" "$ver" > go.mod
    printf 'package main\n\nfunc main() {}\n' > main.go
    for c in controller speaker; do
      GOFLAGS=-mod=mod go build "${common[@]}" \
        -ldflags "-s -w -X $m/internal/version.gitCommit=netlabs-local -X $m/internal/version.gitBranch=$ver" \
        -o "$out/$c" "$m/$c"
    done
    cd /; rm -rf "$w" ;;
  traefik)
    # Traefik's go.mod replaces two modules with Containous forks and excludes
    # one version; replace and exclude directives count only in the main
    # module, so a wrapper module copies them and requires the release.
    m=github.com/traefik/traefik/v3
    w="$out.work"; rm -rf "$w"; mkdir -p "$w"; cd "$w"
    gm="$(GOFLAGS=-mod=mod go mod download -json "$m@$ver" | jq -r .Dir)/go.mod"
    {
      printf 'module netlabs.local/traefikbuild\n\n%s\n\nrequire %s %s\n\n' "$(awk '$1 == "go" {print; exit}' "$gm")" "$m" "$ver"
      sed -n '/^replace (/,/^)/p; /^replace [^(]/p; /^exclude/p' "$gm"
    } > go.mod
    printf 'package main\n\nfunc main() {}\n' > main.go
    GOFLAGS=-mod=mod go build "${common[@]}" \
      -ldflags "-s -w -X $m/pkg/version.Version=$ver -X $m/pkg/version.BuildDate=netlabs-local" \
      -o "$out/traefik" "$m/cmd/traefik"
    cp go.mod "$out/wrapper-go.mod"
    cd /; rm -rf "$w" ;;
  *) echo "unknown component $name" >&2; exit 2 ;;
esac
ls -l "$out"
