#!/usr/bin/env bash
# Build a static busybox from Debian's own source package with Debian's
# "static" configuration plus CONFIG_FEATURE_WGET_TIMEOUT=y.
#
# Why: Debian bookworm's busybox-static is built without wget's -T option and
# crashes (SIGSEGV) when given it, while the real busybox:1.36 image supports
# `wget -T SECONDS`, which graders and learners use. busybox's shell runs its
# own applets before looking at PATH, so a wrapper script cannot fix it.
#
# The source comes through apt with a temporary deb-src list derived from this
# host's apt sources (nothing is written outside the work dir).
# usage: build-busybox.sh <out-dir>
set -euo pipefail
out=${1:?out dir}
mkdir -p "$out"; out=$(cd "$out" && pwd)
w=$(mktemp -d "${TMPDIR:-/tmp}/netlabs-busybox.XXXXXX")
trap 'rm -rf "$w"' EXIT
cd "$w"
mkdir -p parts lists/partial
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] && sed -n 's/^\s*deb\s/deb-src /p' "$f"
done > parts/src.list || true
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && { grep -v '^\s*#' "$f" | sed 's/^Types:.*/Types: deb-src/'; echo; }
done > parts/src.sources || true
[ -s parts/src.list ] || rm -f parts/src.list
[ -s parts/src.sources ] || rm -f parts/src.sources
apto=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$w/parts" -o Dir::State::Lists="$w/lists"
      -o APT::Sandbox::User=root)
apt-get "${apto[@]}" update >/dev/null
apt-get "${apto[@]}" source --download-only busybox >/dev/null
dsc=$(ls busybox_*.dsc | head -n1)
ver=$(sed -n 's/^Version: //p' "$dsc")
mkdir src
tar -xf busybox_*.orig.tar.* -C src --strip-components=1
tar -xf busybox_*.debian.tar.* -C src
cd src
if [ -f debian/patches/series ]; then
  grep -v '^\s*#' debian/patches/series | while read -r p _; do
    [ -n "$p" ] && patch -p1 -s < "debian/patches/$p"
  done
fi
cp debian/config/pkg/static .config
sed -i 's/^# CONFIG_FEATURE_WGET_TIMEOUT is not set/CONFIG_FEATURE_WGET_TIMEOUT=y/' .config
yes "" | make oldconfig >/dev/null 2>&1 || true
grep -q '^CONFIG_FEATURE_WGET_TIMEOUT=y' .config
grep -q '^CONFIG_STATIC=y' .config
make -j"${GO_BUILD_PROCS:-2}" busybox >build.log 2>&1 || { tail -n 30 build.log >&2; exit 1; }
install -m 0755 busybox "$out/busybox"
echo "$ver (Debian source, static config + CONFIG_FEATURE_WGET_TIMEOUT=y)" > "$out/VERSION"
# sed reads to the end; head would exit early and leave busybox a SIGPIPE (exit 141 under pipefail)
"$out/busybox" | sed -n 1p
