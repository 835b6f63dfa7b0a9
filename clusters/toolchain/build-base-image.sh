#!/usr/bin/env bash
# Assemble a kind base image without a registry: a Debian root filesystem
# (mmdebstrap) + the files kind ships in its module under images/base/files +
# containerd, runc, crictl and CNI plugins built from the Go module proxy.
# Mirrors the steps of kind's images/base/Dockerfile.
#
# usage: build-base-image.sh <kind-module-dir> <tools-dir> <image-tag>
#   tools-dir holds containerd/ runc/ crictl/ cni-plugins/ (binaries)
set -euo pipefail
kindmod=${1:?kind module dir} tools=${2:?tools dir} tag=${3:?image tag}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
files="$kindmod/images/base/files"
[ -d "$files" ] || { echo "missing $files" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/netlabs-base.XXXXXX")
trap 'rm -rf "$work"' EXIT
R="$work/rootfs"

pkgs=systemd,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod
pkgs+=,libseccomp2,pigz,fuse-overlayfs,nfs-common,open-iscsi
pkgs+=,bash,ca-certificates,curl,jq,procps
echo "debootstrapping node root filesystem ..."
"$here/mkrootfs.sh" "$R" minbase "$pkgs"

echo "copying kind's base files ..."
install -d -m 0755 "$R/usr/local/bin" "$R/kind" "$R/kind/bin" "$R/LICENSES" "$R/etc/containerd" \
  "$R/etc/default" "$R/etc/sysctl.d" "$R/etc/systemd/system/kubelet.service.d"
install -m 0755 "$files"/usr/local/bin/* "$R/usr/local/bin/"
install -m 0644 "$files"/kind/README.txt "$R/kind/" 2>/dev/null || true
install -m 0755 "$files"/kind/bin/* "$R/kind/bin/"
install -m 0644 "$files"/LICENSES/* "$R/LICENSES/"
install -m 0644 "$files"/etc/crictl.yaml "$R/etc/"
install -m 0644 "$files"/etc/containerd/* "$R/etc/containerd/"
install -m 0644 "$files"/etc/default/* "$R/etc/default/"
install -m 0644 "$files"/etc/sysctl.d/* "$R/etc/sysctl.d/"
install -m 0644 "$files"/etc/systemd/system/*.service "$files"/etc/systemd/system/*.slice "$R/etc/systemd/system/"
install -m 0644 "$files"/etc/systemd/system/kubelet.service.d/* "$R/etc/systemd/system/kubelet.service.d/"

echo "trimming systemd units as kind's Dockerfile does ..."
find "$R/lib/systemd/system/sysinit.target.wants/" -name "systemd-tmpfiles-setup.service" -delete
rm -f "$R"/lib/systemd/system/multi-user.target.wants/* \
      "$R"/etc/systemd/system/*.wants/* \
      "$R"/lib/systemd/system/local-fs.target.wants/* \
      "$R"/lib/systemd/system/sockets.target.wants/*udev* \
      "$R"/lib/systemd/system/sockets.target.wants/*initctl* \
      "$R"/lib/systemd/system/basic.target.wants/*
echo "ReadKMsg=no" >> "$R/etc/systemd/journald.conf"
ln -sf /lib/systemd/systemd "$R/sbin/init"
chroot "$R" systemctl enable kubelet.service containerd.service undo-mount-hacks.service
chroot "$R" systemctl mask systemd-binfmt.service
mkdir -p "$R/etc/kubernetes/manifests"

echo "installing containerd, runc, crictl, CNI plugins ..."
install -m 0755 "$tools"/containerd/containerd "$tools"/containerd/ctr \
  "$tools"/containerd/containerd-shim-runc-v2 "$R/usr/local/bin/"
install -d "$R/usr/local/sbin" "$R/opt/cni/bin"
install -m 0755 "$tools"/runc/runc "$R/usr/local/sbin/runc"
install -m 0755 "$tools"/crictl/crictl "$R/usr/local/bin/"
install -m 0755 "$tools"/cni-plugins/host-local "$tools"/cni-plugins/loopback \
  "$tools"/cni-plugins/ptp "$tools"/cni-plugins/portmap "$R/opt/cni/bin/"
"$tools"/containerd/ctr oci spec \
  | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
  | jq 'del(.process.rlimits)' > "$R/etc/containerd/cri-base.json"
chroot "$R" /usr/local/bin/containerd --version
chroot "$R" /usr/local/sbin/runc --version

# This host's capability bounding set lacks CAP_SYS_RESOURCE, so the node
# cannot give containers a negative oom_score_adj: let containerd clamp it
# (the same setting kind uses for rootless nodes).
sed -i 's/^\(\s*restrict_oom_score_adj\s*=\s*\).*/\1true/' "$R/etc/containerd/config.toml"
grep -q '^\s*restrict_oom_score_adj = true' "$R/etc/containerd/config.toml"

# kind's base image is one squashed layer; docker import gives the same.
# (docker import cannot set STOPSIGNAL, so a metadata-only build adds it.)
echo "importing as $tag ..."
tar --numeric-owner --xattrs -C "$R" -c . | docker import - "$tag-rootfs"
DOCKER_BUILDKIT=0 docker build -q -t "$tag" - >/dev/null <<DF
FROM $tag-rootfs
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
LABEL org.opencontainers.image.description="netlabs: kind base image assembled locally from Debian packages and the files of kind's images/base (stand-in for kindest/base)"
DF
docker rmi "$tag-rootfs" >/dev/null
docker image inspect "$tag" --format '{{.Id}} {{.Size}}'
