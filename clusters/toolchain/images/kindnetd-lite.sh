#!/bin/bash
# netlabs kindnetd stand-in ("kindnetd-lite").
#
# kind's default CNI is kindnetd, whose Go module is not served by the module
# proxy reachable here. This script does the part of kindnetd's job that a
# cluster needs, in the same DaemonSet (kind's own manifest, unchanged):
#   * write /etc/cni/net.d/10-kindnet.conflist for this node's podCIDR
#     (ptp + host-local + portmap, as kindnetd does);
#   * route every other node's podCIDR via that node's InternalIP;
#   * masquerade Pod traffic leaving the Pod network (kind's ip-masq-agent
#     chain KIND-MASQ-AGENT).
# It does NOT enforce NetworkPolicy (kindnetd's NFQUEUE-based enforcer would
# fail open on these hosts anyway, see DESIGN.md section 8).
#
# It talks to the API with curl and the Pod's service-account token, because
# kind's manifest limits the container to 50Mi of memory.
# Environment (set by kind's manifest): HOST_IP, POD_IP, POD_SUBNET.
set -u
SA=/var/run/secrets/kubernetes.io/serviceaccount
API="https://${KUBERNETES_SERVICE_HOST}:${KUBERNETES_SERVICE_PORT}"
CNI_DIR=/etc/cni/net.d
CNI_CONF=$CNI_DIR/10-kindnet.conflist
INTERVAL=${RESYNC_SECONDS:-5}

log() { echo "$(date -u +%H:%M:%S) kindnetd-lite: $*"; }

api() {
  curl -sSf --max-time 10 --cacert "$SA/ca.crt" \
    -H "Authorization: Bearer $(cat "$SA/token")" "$API$1"
}

ensure_masq() {
  local subnet=$1
  iptables -t nat -N KIND-MASQ-AGENT 2>/dev/null || true
  iptables -t nat -C POSTROUTING -m addrtype ! --dst-type LOCAL \
    -m comment --comment "kind-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom KIND-MASQ-AGENT chain" \
    -j KIND-MASQ-AGENT 2>/dev/null ||
  iptables -t nat -A POSTROUTING -m addrtype ! --dst-type LOCAL \
    -m comment --comment "kind-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom KIND-MASQ-AGENT chain" \
    -j KIND-MASQ-AGENT
  local want
  want=$(printf -- '-A KIND-MASQ-AGENT -d %s -m comment --comment "kind-masq-agent: local traffic is not subject to MASQUERADE" -j RETURN\n-A KIND-MASQ-AGENT -m comment --comment "kind-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)" -j MASQUERADE' "$subnet")
  if [ "$(iptables -t nat -S KIND-MASQ-AGENT | grep -v '^-N')" != "$want" ]; then
    iptables -t nat -F KIND-MASQ-AGENT
    iptables -t nat -A KIND-MASQ-AGENT -d "$subnet" -m comment --comment "kind-masq-agent: local traffic is not subject to MASQUERADE" -j RETURN
    iptables -t nat -A KIND-MASQ-AGENT -m comment --comment "kind-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)" -j MASQUERADE
    log "masquerade rules set for traffic leaving $subnet"
  fi
}

write_cni() {
  local cidr=$1 mtu dev
  dev=$(ip -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p')
  mtu=$(cat "/sys/class/net/${dev:-eth0}/mtu" 2>/dev/null || echo 1500)
  local conf
  conf=$(cat <<JSON
{
  "cniVersion": "0.4.0",
  "name": "kindnet",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "routes": [ { "dst": "0.0.0.0/0" } ],
        "ranges": [ [ { "subnet": "$cidr" } ] ]
      },
      "mtu": $mtu
    },
    {
      "type": "portmap",
      "capabilities": { "portMappings": true }
    }
  ]
}
JSON
)
  if [ "$(cat "$CNI_CONF" 2>/dev/null)" != "$conf" ]; then
    mkdir -p "$CNI_DIR"
    printf '%s\n' "$conf" > "$CNI_CONF.tmp" && mv "$CNI_CONF.tmp" "$CNI_CONF"
    log "wrote $CNI_CONF for podCIDR $cidr (mtu $mtu)"
  fi
}

log "starting (HOST_IP=${HOST_IP:-?} POD_SUBNET=${POD_SUBNET:-?})"
declare -A routes=()
while true; do
  if nodes=$(api /api/v1/nodes); then
    # one line per node: name internalIPv4 podCIDR(v4)
    while read -r name ip cidr; do
      [ -n "$cidr" ] && [ "$cidr" != null ] || continue
      if [ "$ip" = "${HOST_IP:-}" ]; then
        write_cni "$cidr"
      elif [ "${routes[$cidr]:-}" != "$ip" ] || ! ip route show "$cidr" | grep -q "via $ip"; then
        if ip route replace "$cidr" via "$ip"; then
          routes[$cidr]=$ip
          log "route $cidr via $ip ($name)"
        fi
      fi
    done < <(printf '%s' "$nodes" | jq -r '.items[] |
      [ .metadata.name,
        ([.status.addresses[]? | select(.type == "InternalIP") | .address | select(test(":") | not)] | first // "none"),
        ([(.spec.podCIDRs // [.spec.podCIDR])[]? | select(. != null) | select(test(":") | not)] | first // "null")
      ] | @tsv')
    [ -n "${POD_SUBNET:-}" ] && ensure_masq "$POD_SUBNET"
  else
    log "cannot list nodes yet; retrying"
  fi
  sleep "$INTERVAL"
done
