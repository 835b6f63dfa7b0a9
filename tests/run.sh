#!/usr/bin/env bash
# The test command (README.md): a private virtualenv with labcheck and its
# test and docs extras, then pytest. The end-to-end tier runs when
# clusters/prepare.sh has built the kind toolchain on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

venv="${LABCHECK_TEST_VENV:-.venv}"
echo "== setting up $venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[test,docs]'

cache="${NETLABS_CACHE:-$HOME/.cache/netlabs}"
if grep -qs '^READY=1' "$cache/toolchain.env"; then
  echo "== prepared kind toolchain found in $cache: starting Docker for the end-to-end tier"
  bash clusters/toolchain/start-docker.sh
  # From here a missing cluster piece is a failure, not a skip.
  export LABCHECK_E2E_REQUIRED=1
else
  echo "== no prepared kind toolchain in $cache: the end-to-end tier will be skipped (bash clusters/prepare.sh builds it)"
fi

# The browser test (tests/docs/test_browser.py) drives Debian's headless Chromium.
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  export LABCHECK_BROWSER_REQUIRED=1
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing chromium and chromium-driver for the browser test"
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; then
    export LABCHECK_BROWSER_REQUIRED=1
  else
    echo "== could not install chromium: the browser test will be skipped" >&2
  fi
else
  echo "== no chromium/chromedriver: the browser test will be skipped (sudo apt-get install chromium chromium-driver)"
fi

export NO_MKDOCS_2_WARNING=1
set +e
"$venv/bin/python" -m pytest --durations=15 "$@"
status=$?
set -e
echo "== tests/run.sh finished in $(( $(date +%s) - started )) s (pytest exit $status)"
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
