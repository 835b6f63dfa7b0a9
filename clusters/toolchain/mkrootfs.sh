#!/usr/bin/env bash
# Make a Debian root filesystem with mmdebstrap, using this host's own apt
# sources (so no mirror is written anywhere in the repository) and a shared
# .deb cache under the netlabs cache directory.
#
# usage: mkrootfs.sh <target: dir or .tar> <variant> <comma-separated packages> [extra mmdebstrap args...]
set -euo pipefail
target=${1:?target} variant=${2:?variant} include=${3-}
shift 3
suite=${DEBIAN_SUITE:-bookworm}
debcache=${NETLABS_DEB_CACHE:?NETLABS_DEB_CACHE must name a directory}
mkdir -p "$debcache"

sources() { # the host's enabled apt sources, deb822 or one-line format
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && grep -E '^\s*deb\s' "$f" || true
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && { grep -v '^\s*#' "$f"; echo; } || true
  done
}
src=$(sources)
[ -n "$src" ] || { echo "no apt sources configured on this host" >&2; exit 1; }

args=(--variant="$variant" --mode=root --format=auto
  --aptopt='APT::Install-Recommends "false"'
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives/'
  --setup-hook="sync-in $debcache /var/cache/apt/archives/"
  --customize-hook="sync-out /var/cache/apt/archives $debcache"
  --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/cache/apt/*.bin "$1"/var/cache/debconf/*-old; rm -rf "$1"/var/lib/apt/lists/* "$1"/var/log/*'
  # (not "$1"/tmp/*: mmdebstrap has host directories mounted there while hooks run;
  #  it empties the chroot's /tmp itself)
)
[ -n "$include" ] && args+=(--include="$include")
printf '%s\n' "$src" | mmdebstrap --quiet "${args[@]}" "$@" "$suite" "$target" -
