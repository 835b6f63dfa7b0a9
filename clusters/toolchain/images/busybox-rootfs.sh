#!/usr/bin/env bash
# A busybox root filesystem: a static busybox built from Debian's source
# (build-busybox.sh; NETLABS_BUSYBOX names the binary) plus a symlink for
# every applet it provides, like the busybox image.
# usage: busybox-rootfs.sh <target-dir>
set -euo pipefail
t=${1:?target dir}
bb=${NETLABS_BUSYBOX:?NETLABS_BUSYBOX must name a static busybox binary}
mkdir -p "$t"
mkdir -p "$t/bin" "$t/sbin" "$t/usr/bin" "$t/usr/sbin" "$t/etc" "$t/tmp" "$t/root" "$t/var/www" "$t/home"
chmod 1777 "$t/tmp"
install -m 0755 "$bb" "$t/bin/busybox"
# busybox --list-full prints each applet with its usual directory
"$t/bin/busybox" --list-full | while read -r p; do
  [ "$p" = bin/busybox ] && continue
  mkdir -p "$t/$(dirname "$p")"
  ln -sf /bin/busybox "$t/$p"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$t/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$t/etc/group"
printf 'hosts: files dns\n' > "$t/etc/nsswitch.conf"
