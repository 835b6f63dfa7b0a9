#!/usr/bin/env bash
# Prove the prepared toolchain makes working clusters (needs prepare.sh first).
#
#   bash clusters/toolchain/smoke-test.sh [single|multi|all]
#
# single: clusters/single-node.yaml -> node Ready, CoreDNS Ready, kind load,
#         Pod -> Pod (busybox wget), NodePort on 127.0.0.1:30081 and the node IP
# multi:  clusters/multi-node.yaml -> 3 nodes Ready, Pod -> Pod across nodes,
#         Service DNS name + load balancing over 2 replicas, NodePort from host
#         (every node's IP, and 127.0.0.1:30080)
# Both run kube-router as their CNI: after `kind create`, the kube-router image
# is loaded (when Docker has it) and clusters/<config>.addons/ applied, as
# `labcheck start` does. Each cluster is deleted afterwards; a cluster of the
# same name that already exists is left alone (the test stops instead);
# kubeconfig goes to a temporary file.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ENV_FILE="${NETLABS_CACHE:-$HOME/.cache/netlabs}/toolchain.env"
[ -f "$ENV_FILE" ] || { echo "no $ENV_FILE: run clusters/prepare.sh first" >&2; exit 1; }
# shellcheck disable=SC1090
. "$ENV_FILE"
[ "${READY:-}" = 1 ] || { echo "toolchain not ready" >&2; exit 1; }
KUBECTL=${KUBECTL:-kubectl}
export KUBECONFIG
KUBECONFIG=$(mktemp)
what=${1:-all}
T0=$(date +%s)
say() { echo "[$(date -u +%H:%M:%S) +$(( $(date +%s) - T0 ))s] $*"; }
fail() { say "FAIL: $*"; exit 1; }
k() { "$KUBECTL" "$@"; }
current=""
cleanup() { [ -z "$current" ] || "$KIND" delete cluster --name "$current" >/dev/null 2>&1 || true; rm -f "$KUBECONFIG"; }
trap cleanup EXIT

node_ip() { docker inspect "$1" --format '{{.NetworkSettings.Networks.kind.IPAddress}}'; }

# run a busybox Pod to completion and print its log
bb() { # bb <name> <node or ""> <shell command>
  local over='{}'
  [ -z "$2" ] || over="{\"spec\":{\"nodeName\":\"$2\"}}"
  k run "$1" --image=busybox:1.36 --restart=Never --overrides "$over" -- sh -c "$3" >/dev/null
  k wait --for=jsonpath='{.status.phase}'=Succeeded "pod/$1" --timeout=60s >/dev/null ||
    { k logs "$1" || true; fail "pod $1 did not succeed"; }
  k logs "$1"
}

create() { # create <name> <config>
  local existing
  existing=$("$KIND" get clusters 2>/dev/null || true)
  if grep -qx "$1" <<< "$existing"; then
    fail "kind cluster $1 already exists; this test makes its own: \`$KIND delete cluster --name $1\` first"
  fi
  current=$1
  local t=$(date +%s) addons=${2%.yaml}.addons
  # no --wait: without its CNI (the add-ons) no node turns Ready
  "$KIND" create cluster --config "$2" --image "$NODE_IMAGE" >/dev/null 2>&1 ||
    fail "kind create cluster --config $2"
  if [ -n "${KUBE_ROUTER_IMAGE:-}" ] && docker image inspect "$KUBE_ROUTER_IMAGE" >/dev/null 2>&1; then
    "$KIND" load docker-image "$KUBE_ROUTER_IMAGE" --name "$1" >/dev/null 2>&1 || fail "kind load $KUBE_ROUTER_IMAGE"
  fi
  k apply -k "$addons" >/dev/null || fail "kubectl apply -k $addons"
  k wait --for=condition=Ready node --all --timeout=180s >/dev/null || fail "nodes not Ready"
  k -n kube-system wait --for=condition=Ready pod -l k8s-app=kube-dns --timeout=180s >/dev/null ||
    fail "CoreDNS not Ready"
  say "cluster $1: $(k get nodes --no-headers | wc -l) node(s) Ready, CoreDNS Ready, $(( $(date +%s) - t ))s after kind create"
  local tl=$(date +%s)
  "$KIND" load docker-image nginx:1.27 busybox:1.36 --name "$1" >/dev/null 2>&1 || fail "kind load docker-image"
  say "kind load docker-image nginx:1.27 busybox:1.36: $(( $(date +%s) - tl ))s"
}

single() {
  create netlabs "$REPO/clusters/single-node.yaml"
  k run web --image=nginx:1.27 --port 80 >/dev/null
  k wait --for=condition=Ready pod/web --timeout=90s >/dev/null || fail "nginx pod not Ready"
  local ip; ip=$(k get pod web -o jsonpath='{.status.podIP}')
  bb client "" "wget -qO- -T 5 http://$ip" | grep -q 'Welcome to nginx' || fail "busybox wget $ip"
  say "busybox wget -qO- $ip: nginx page"
  k expose pod web --name web-np --type NodePort --port 80 \
    --overrides '{"spec":{"ports":[{"port":80,"nodePort":30081}]}}' >/dev/null
  sleep 2
  curl -fsS -m 10 http://127.0.0.1:30081 | grep -q 'Welcome to nginx' || fail "NodePort via 127.0.0.1:30081"
  curl -fsS -m 10 "http://$(node_ip netlabs-control-plane):30081" | grep -q 'Welcome to nginx' ||
    fail "NodePort via node IP"
  say "NodePort 30081 answers on 127.0.0.1 and on the node's IP"
  "$KIND" delete cluster --name netlabs >/dev/null 2>&1; current=""
  say "single-node: OK"
}

multi() {
  create netlabs-multi "$REPO/clusters/multi-node.yaml"
  [ "$(k get nodes --no-headers | wc -l)" = 3 ] || fail "expected 3 nodes"
  cat <<'EOF' | k apply -f - >/dev/null
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {matchLabels: {app: web}}
            topologyKey: kubernetes.io/hostname
      containers:
      - name: nginx
        image: nginx:1.27
        command: ["sh", "-c", "hostname > /usr/share/nginx/html/index.html; exec nginx -g 'daemon off;'"]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 80, nodePort: 30090}]
EOF
  k rollout status deploy/web --timeout=120s >/dev/null || fail "web deployment"
  local p0 p1 ip1 n0 n1
  p0=$(k get pod -l app=web -o jsonpath='{.items[0].metadata.name}')
  n0=$(k get pod -l app=web -o jsonpath='{.items[0].spec.nodeName}')
  p1=$(k get pod -l app=web -o jsonpath='{.items[1].metadata.name}')
  ip1=$(k get pod -l app=web -o jsonpath='{.items[1].status.podIP}')
  n1=$(k get pod -l app=web -o jsonpath='{.items[1].spec.nodeName}')
  [ "$n0" != "$n1" ] || fail "replicas on one node"
  [ "$(bb cross "$n0" "wget -qO- -T 5 http://$ip1")" = "$p1" ] || fail "Pod on $n0 -> Pod $ip1 on $n1"
  say "Pod on $n0 reached Pod $ip1 on $n1"
  local out
  out=$(bb lb "$n0" 'nslookup web.default.svc.cluster.local >/dev/null && echo resolved; for i in $(seq 1 20); do wget -qO- -T 5 http://web; done | sort | uniq -c')
  echo "$out" | sed 's/^/    /'
  echo "$out" | grep -q resolved || fail "Service name did not resolve"
  echo "$out" | grep -q "$p0" && echo "$out" | grep -q "$p1" || fail "Service did not balance over both replicas"
  say "Service web resolves and balances over $p0 and $p1"
  local n ip got
  for n in netlabs-multi-control-plane netlabs-multi-worker netlabs-multi-worker2; do
    ip=$(node_ip "$n")
    got=$(curl -fsS -m 10 "http://$ip:30090") || fail "NodePort $ip:30090"
    say "NodePort from host: $ip:30090 ($n) -> $got"
  done
  k patch service web -p '{"spec":{"ports":[{"port":80,"targetPort":80,"nodePort":30080}]}}' >/dev/null
  sleep 2
  got=$(curl -fsS -m 10 http://127.0.0.1:30080) || fail "NodePort via 127.0.0.1:30080"
  say "NodePort 30080 on 127.0.0.1 (published by the control plane) -> $got"
  "$KIND" delete cluster --name netlabs-multi >/dev/null 2>&1; current=""
  say "multi-node: OK"
}

case $what in
  single) single ;;
  multi) multi ;;
  all) single; multi ;;
  *) echo "usage: $0 [single|multi|all]" >&2; exit 2 ;;
esac
say "smoke test passed"
