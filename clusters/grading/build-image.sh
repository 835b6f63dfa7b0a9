#!/usr/bin/env bash
# Build the grader's container image, netlabs/labcheck:<version>, without a
# registry: a Debian root filesystem with python3 (mkrootfs.sh, the same
# mmdebstrap recipe as the lab images), plus this checkout's labcheck wheel
# and its dependencies, installed for that Debian's Python and for the CPU and
# C library of the machine building it (read from the root filesystem itself:
# no architecture is written here). clusters/prepare.sh runs it through
# prepare-image.sh; the Indexed Job in job.yaml runs the image. Load it into a
# kind cluster with
#   kind load docker-image netlabs/labcheck:<version> --name netlabs
#
# usage: build-image.sh [tag]      (prints the tag it built)
# GRADER_SOURCE_KEY, when set, is kept in the image's label org.netlabs.grader-source.
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

# The image's interpreter says what wheels it takes: its Python version, its CPU, its C library.
read -r py platforms < <(chroot "$rootfs" python3 - <<'PY'
import os, platform, sys
machine = platform.machine()
glibc = int(os.confstr("CS_GNU_LIBC_VERSION").split()[1].split(".")[1])
tags = [f"manylinux_2_{minor}_{machine}" for minor in range(glibc, 16, -1)]
tags += [f"manylinux{legacy}_{machine}" for legacy in ("2014", "2010", "1")]  # the older names of 2_17, 2_12, 2_5
print(f"{sys.version_info[0]}.{sys.version_info[1]}", " ".join(tags))
PY
)
echo "building $tag: labcheck $version and its dependencies for CPython $py (${platforms%% *} and older)" >&2
# The grader serves no pages: HATCH_BUILD_NO_HOOKS leaves the built site (hatch_build.py) out of its wheel.
HATCH_BUILD_NO_HOOKS=true "$python" -m pip wheel --quiet --no-deps --wheel-dir "$work/wheels" "$repo" >&2
platform_args=()
for platform in $platforms; do platform_args+=(--platform "$platform"); done
"$python" -m pip install --quiet --disable-pip-version-check --no-compile --target "$rootfs/opt/labcheck" \
  --no-warn-conflicts --only-binary=:all: --implementation cp --python-version "$py" "${platform_args[@]}" \
  "$work"/wheels/*.whl >&2
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
  --change "LABEL org.netlabs.grader-source=${GRADER_SOURCE_KEY:-unknown}" \
  --change 'ENTRYPOINT ["python3", "-m", "labcheck"]' \
  - "$tag" >/dev/null
echo "$tag"
