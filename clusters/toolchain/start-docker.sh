#!/usr/bin/env bash
# Start Docker Engine by hand (no systemd), idempotently.
#
# - quick exit when a daemon already answers (and is set up right);
# - where the capability bounding set lacks capabilities, install the
#   runtime wrapper (runc-capwrap.sh) and make it Docker's default runtime,
#   otherwise leave Docker's configuration alone;
# - needs the Debian docker.io package (dockerd, containerd, runc) installed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WRAPPER_DST=/usr/local/sbin/netlabs-runc-capwrap
RUNTIME_NAME=netlabs-runc
DAEMON_JSON=/etc/docker/daemon.json
LOG=${DOCKERD_LOG:-/var/log/netlabs-dockerd.log}

caps_missing() { # true when CapBnd lacks a capability the kernel knows
  local last bnd full
  last=$(cat /proc/sys/kernel/cap_last_cap)
  bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  full=$(( (1 << (last + 1)) - 1 ))
  [ $(( 0x$bnd & full )) -ne $full ]
}

need_wrapper=0
if caps_missing; then need_wrapper=1; fi

# Every kind node's kubelet, kube-proxy and containerd take inotify instances;
# at the kernel default of 128 per user, about six nodes on one host exhaust
# them and the next kubelet exits with "inotify_init: too many open files"
# (kind's known issue). Raise, never lower, to the values kind recommends.
raise_sysctl() {
  local key=$1 want=$2 have
  have=$(sysctl -n "$key" 2>/dev/null) || return 0
  if [ "$have" -lt "$want" ]; then
    sysctl -qw "$key=$want" || echo "warning: could not raise $key to $want (is $have)" >&2
  fi
}
raise_sysctl fs.inotify.max_user_instances 512
raise_sysctl fs.inotify.max_user_watches 524288

configured() { # is the daemon.json what we want?
  if [ $need_wrapper = 1 ]; then
    [ -x "$WRAPPER_DST" ] && cmp -s "$here/runc-capwrap.sh" "$WRAPPER_DST" &&
      [ -f "$DAEMON_JSON" ] && jq -e --arg n "$RUNTIME_NAME" '."default-runtime" == $n' "$DAEMON_JSON" >/dev/null 2>&1
  else
    true
  fi
}

running_ok() {
  docker info --format '{{.DefaultRuntime}}' >/dev/null 2>&1 || return 1
  if [ $need_wrapper = 1 ]; then
    [ "$(docker info --format '{{.DefaultRuntime}}' 2>/dev/null)" = "$RUNTIME_NAME" ] || return 1
  fi
}

if running_ok && configured; then
  echo "dockerd already running (default runtime: $(docker info --format '{{.DefaultRuntime}}'))"
  exit 0
fi

command -v dockerd >/dev/null || { echo "dockerd not found: install Debian's docker.io package first" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq not found: apt-get install jq" >&2; exit 1; }

if [ $need_wrapper = 1 ]; then
  echo "capability bounding set lacks capabilities: installing runtime wrapper $WRAPPER_DST"
  install -m 0755 "$here/runc-capwrap.sh" "$WRAPPER_DST"
  mkdir -p "$(dirname "$DAEMON_JSON")"
  [ -s "$DAEMON_JSON" ] || echo '{}' > "$DAEMON_JSON"
  jq --arg n "$RUNTIME_NAME" --arg p "$WRAPPER_DST" \
    '.runtimes[$n] = {path: $p} | ."default-runtime" = $n' "$DAEMON_JSON" > "$DAEMON_JSON.new"
  mv "$DAEMON_JSON.new" "$DAEMON_JSON"
fi

# a daemon that runs but is set up wrongly: stop it (only dockerd, by its pid)
if [ -f /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  if ! running_ok; then
    pid=$(cat /var/run/docker.pid)
    echo "restarting dockerd (pid $pid) to pick up $DAEMON_JSON"
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  fi
fi

if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd (log: $LOG)"
  rm -f /var/run/docker.pid
  nohup dockerd >>"$LOG" 2>&1 </dev/null &
  disown || true
fi
for _ in $(seq 1 90); do
  if running_ok; then
    echo "dockerd ready (default runtime: $(docker info --format '{{.DefaultRuntime}}'))"
    exit 0
  fi
  sleep 1
done
echo "dockerd did not become ready; last log lines:" >&2
tail -n 30 "$LOG" >&2 || true
exit 1
