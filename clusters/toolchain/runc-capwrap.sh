#!/bin/sh
# OCI runtime wrapper, registered as Docker's default runtime on hosts whose
# capability bounding set is missing capabilities (e.g. CAP_SYS_RESOURCE).
#
# `docker run --privileged` asks for every capability Docker knows about; runc
# then fails with "unable to apply caps" because a process can never gain a
# capability outside its bounding set. This wrapper removes the capabilities
# the host cannot grant from the bundle's config.json (create/run) and from the
# --process file (exec), then hands over to the real runc unchanged.
#
# REAL_RUNC may name the runtime to hand over to (default: runc in PATH).
set -eu
REAL_RUNC=${NETLABS_REAL_RUNC:-/usr/sbin/runc}
[ -x "$REAL_RUNC" ] || REAL_RUNC=$(command -v runc)

# capability names by number (linux/capability.h), index = bit
NAMES="CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE"

bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
missing=""
i=0
for n in $NAMES; do
  # test bit i of the hex mask (shell arithmetic is 64-bit)
  if [ $(( (0x$bnd >> i) & 1 )) -eq 0 ]; then
    missing="$missing\"CAP_$n\","
  fi
  i=$((i + 1))
done

strip() { # strip <json-file> <jq-path-to-capabilities-object>
  [ -n "$missing" ] && [ -f "$1" ] || return 0
  tmp="$1.capwrap.$$"
  jq --argjson bad "[${missing%,}]" "
    if $2 == null then . else
      $2 |= with_entries(.value |= (if type == \"array\" then map(select(. as \$c | \$bad | index(\$c) | not)) else . end))
    end" "$1" > "$tmp" && mv "$tmp" "$1" || rm -f "$tmp"
}

# find the subcommand and its --bundle / --process arguments
cmd="" bundle="" process="" prev=""
for a in "$@"; do
  case "$prev" in
    --bundle|-b) bundle=$a ;;
    --process|-p) process=$a ;;
  esac
  case "$a" in
    --bundle=*) bundle=${a#--bundle=} ;;
    --process=*) process=${a#--process=} ;;
  esac
  if [ -z "$cmd" ]; then
    case "$a" in
      create|run|exec) case "$prev" in --root|--log|--log-format|--criu|--rootless) ;; *) cmd=$a ;; esac ;;
    esac
  fi
  prev=$a
done

case "$cmd" in
  create|run) strip "${bundle:-.}/config.json" ".process.capabilities" ;;
  exec) [ -n "$process" ] && strip "$process" ".capabilities" ;;
esac
exec "$REAL_RUNC" "$@"
