#!/usr/bin/env bash
# The grader's image for the Indexed Job, as clusters/prepare.sh makes it (phase
# grader): built with build-image.sh from this checkout, unless Docker already
# has it built from the same sources (its label org.netlabs.grader-source holds
# a hash of every file the labcheck wheel is made from). Runs on its own too.
#
# usage: prepare-image.sh      (last line printed: "<tag> cached" or "<tag> built")
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/pyproject.toml" | head -n1)
tag=netlabs/labcheck:$version
key=$(cd "$repo" && find pyproject.toml README.md checker labs clusters -type f \
        ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum \
      | sha256sum | cut -c1-16)
built=$(docker image inspect --format '{{ index .Config.Labels "org.netlabs.grader-source" }}' "$tag" 2>/dev/null || true)
if [ "$built" = "$key" ]; then
  echo "$tag cached"
  exit 0
fi
GRADER_SOURCE_KEY=$key bash "$here/build-image.sh" "$tag" >&2
echo "$tag built"
