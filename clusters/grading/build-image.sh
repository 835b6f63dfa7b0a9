#!/usr/bin/env bash
# Build the grader's container image, netlabs/labcheck:<version>, without a
# registry: a Debian root filesystem with python3 (mkrootfs.sh, the same
# mmdebstrap recipe as the lab images), plus this checkout's labcheck wheel
# and its dependencies from PyPI, installed for Debian's Python. The Indexed
# Job in job.yaml runs it. Load it into a kind cluster with
#   kind load docker-image netlabs/labcheck:<version> --name netlabs
#
# usage: build-image.sh [tag]      (prints the tag it built)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
export NETLABS_DEB_CACHE=${NETLABS_DEB_CACHE:-${NETLABS_CACHE:-$HOME/.cache/netlabs}/debs}
python=${PYTHON:-python3}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/pyproject.toml" | head -n1)
tag=${1:-netlabs/labcheck:$version}

work=$(mktemp -d "${TMPDIR:-/tmp}/labcheck-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

echo "building $tag: Debian python3 root filesystem" >&2
"$repo/clusters/toolchain/mkrootfs.sh" "$rootfs" essential python3,ca-certificates,tar >&2
py=$(chroot "$rootfs" python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')

echo "building $tag: labcheck $version and its dependencies for CPython $py" >&2
# The grader serves no pages: HATCH_BUILD_NO_HOOKS leaves the built site (hatch_build.py) out of its wheel.
HATCH_BUILD_NO_HOOKS=true "$python" -m pip wheel --quiet --no-deps --wheel-dir "$work/wheels" "$repo" >&2
"$python" -m pip install --quiet --disable-pip-version-check --no-compile --target "$rootfs/opt/labcheck" \
  --only-binary=:all: --implementation cp --python-version "$py" --platform manylinux2014_x86_64 \
  --platform "manylinux_2_17_x86_64" "$work"/wheels/*.whl >&2
chroot "$rootfs" python3 -m compileall -q /opt/labcheck >/dev/null || true
# The grader runs as a user with no home and a read-only root filesystem.
echo 'labcheck:x:65532:65532:labcheck grader:/tmp:/usr/sbin/nologin' >> "$rootfs/etc/passwd"
echo 'labcheck:x:65532:' >> "$rootfs/etc/group"

tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV PYTHONPATH=/opt/labcheck PYTHONDONTWRITEBYTECODE=1 NO_COLOR=1 HOME=/tmp' \
  --change 'USER 65532:65532' \
  --change 'WORKDIR /tmp' \
  --change 'LABEL org.opencontainers.image.description="labcheck grader (Kubernetes Networking Labs), Debian python3, built locally"' \
  --change 'ENTRYPOINT ["python3", "-m", "labcheck"]' \
  - "$tag" >/dev/null
echo "$tag"
