#!/bin/sh
# CoreDNS is shared by every lab on the cluster: this lab changes its Corefile only
# through this script, which keeps the original and puts it back.
#
#   coredns.sh prepare          keep the Corefile (once); turn the `log` plugin on and add a
#                               zone broken.lab.internal that answers SERVFAIL (step 6)
#   coredns.sh add-zone ZONE    add zone ZONE with db.ZONE -> 10.10.10.10 (the step 5 solution);
#                               CoreDNS's `reload` plugin picks it up within a minute or two
#   coredns.sh restore          put the kept Corefile back (labcheck reset 10, another lab's start)
#
# Changes only add what is missing, so learners (and self-test cases) in several
# namespaces can edit the one Corefile side by side.
set -eu
ns=kube-system
kept=coredns-before-lab10
lock=${TMPDIR:-/tmp}/labcheck-coredns.lock

corefile() { kubectl -n "$ns" get configmap "$1" -o jsonpath='{.data.Corefile}'; }

write() { # write <Corefile text>
  file=$(mktemp)
  printf '%s\n' "$1" > "$file"
  kubectl -n "$ns" create configmap coredns --from-file=Corefile="$file" --dry-run=client -o yaml \
    | kubectl replace -f - >/dev/null
  rm -f "$file"
}

restart() { # the Corefile now, rather than at the next reload
  kubectl -n "$ns" rollout restart deployment coredns >/dev/null
  kubectl -n "$ns" rollout status deployment coredns --timeout=120s >/dev/null
}

# One editor at a time (a directory: made atomically on every system).
waited=0
until mkdir "$lock" 2>/dev/null; do
  sleep 1; waited=$((waited + 1))
  [ "$waited" -lt 60 ] || rmdir "$lock" 2>/dev/null || true  # left by a killed run
done
trap 'rmdir "$lock" 2>/dev/null || true' EXIT

case "${1:-}" in
  prepare)
    kubectl -n "$ns" get configmap "$kept" >/dev/null 2>&1 \
      || kubectl -n "$ns" create configmap "$kept" --from-literal=Corefile="$(corefile coredns)" >/dev/null
    current=$(corefile coredns)
    wanted=$current
    case "$wanted" in *"
    log
"*) ;; *) wanted=$(printf '%s\n' "$wanted" | awk 'NR == 1 && /^\.:53 \{/ {print; print "    log"; next} {print}') ;; esac
    case "$wanted" in *"broken.lab.internal:53 {"*) ;; *) wanted=$(printf '%s\n\n%s\n' "$wanted" 'broken.lab.internal:53 {
    errors
    log
    template IN ANY broken.lab.internal {
        rcode SERVFAIL
    }
}') ;; esac
    if [ "$wanted" != "$current" ]; then write "$wanted"; restart; fi
    ;;
  add-zone)
    zone=${2:?usage: coredns.sh add-zone ZONE}
    current=$(corefile coredns)
    case "$current" in *"$zone:53 {"*) exit 0 ;; esac
    write "$(printf '%s\n\n%s\n' "$current" "$zone:53 {
    errors
    log
    hosts {
        10.10.10.10 db.$zone
    }
}")"
    ;;
  restore)
    if kubectl -n "$ns" get configmap "$kept" >/dev/null 2>&1; then
      write "$(corefile "$kept")"
      kubectl -n "$ns" delete configmap "$kept" >/dev/null
      restart
    fi
    ;;
  *) echo "usage: coredns.sh prepare | add-zone ZONE | restore" >&2; exit 2 ;;
esac
