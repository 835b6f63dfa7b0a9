#!/bin/bash
# The node side of challenge 03-one-node-left-out. Every rule it adds carries
# $LAB_NAMESPACE in its comment, so cleanup removes exactly its own.
#   bash node-rules.sh guard                 on every node: the node's own metadata guard in
#                                            FORWARD, then a copy of FORWARD as it stands
#                                            (/run/netlabs-forward-$LAB_NAMESPACE.rules)
#   bash node-rules.sh drop NODE CIDR IP     on NODE: drop forwarded packets from CIDR to IP:80
#   bash node-rules.sh cleanup               on every node: this challenge's rules (filter, nat)
#                                            go, any rule of the copy that is gone comes back (a
#                                            flushed FORWARD: kube-proxy restores its own only at
#                                            its next full resync), the copy goes
# kube-router rewrites the whole filter table from a copy it takes when a sync starts, so a
# change made during a sync is lost: each change is made again until it has held for 1.5 s.
set -e
if [ -z "$ON_NODE" ]; then
  action=$1
  shift
  case "$action" in
    guard|cleanup) nodes=$(docker ps --format '{{.Names}}' | grep -E "^$KIND_CLUSTER-(control-plane|worker[0-9]*)$") ;;
    drop) nodes=$1; shift ;;
    *) echo "usage: bash node-rules.sh guard | drop NODE CIDR IP | cleanup" >&2; exit 2 ;;
  esac
  pids=""
  for node in $nodes; do  # side by side: each node waits for its changes to hold
    docker exec -i -e ON_NODE=1 -e NS="$LAB_NAMESPACE" "$node" bash -s -- "$action" "$@" < "$0" &
    pids="$pids $!"
  done
  for pid in $pids; do wait "$pid"; done
  exit 0
fi

copy="/run/netlabs-forward-$NS.rules"

until_held() {  # until_held TEST CHANGE: run CHANGE until TEST has passed 4 times in a row, 0.5 s apart
  local held=0
  for _ in $(seq 60); do
    if eval "$1"; then
      held=$((held + 1))
      if [ "$held" -ge 4 ]; then return 0; fi
      sleep 0.5
    else
      held=0
      eval "$2"
    fi
  done
  echo "node $(hostname): $1 does not hold" >&2
  return 1
}

ours() { for table in filter nat; do iptables-save -t "$table" | grep -F " $NS\"" | sed "s/^/$table /"; done; }

remove_ours() {
  ours | while read -r table rule; do eval iptables -t "$table" "${rule/#-A /-D }" || true; done
}

case "$1" in
guard)
  rule="-d 169.254.169.254/32 -m comment --comment \"metadata-guard $NS\" -j DROP"
  until_held "iptables -C FORWARD $rule 2>/dev/null" "iptables -I FORWARD 2 $rule"
  iptables -S FORWARD | grep '^-A FORWARD ' | grep -v -F " $NS\"" > "$copy"
  ;;
drop)
  rule="-s $2 -d $3/32 -p tcp --dport 80 -m comment --comment \"incident-4711 $NS\" -j DROP"
  until_held "iptables -C FORWARD $rule 2>/dev/null" "iptables -I FORWARD $rule"
  ;;
cleanup)
  until_held '[ -z "$(ours)" ]' remove_ours
  if [ -f "$copy" ]; then
    position=0
    while read -r rule; do
      position=$((position + 1))
      spec=${rule#-A FORWARD }
      if ! eval iptables -C FORWARD "$spec" 2>/dev/null; then
        if [ "$position" -le "$(iptables -S FORWARD | grep -c '^-A ')" ]; then
          eval iptables -I FORWARD "$position" "$spec"
        else
          eval iptables -A FORWARD "$spec"
        fi
      fi
    done < "$copy"
    rm -f "$copy"
  fi
  ;;
esac
