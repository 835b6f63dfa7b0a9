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

# Debian packages the docs tests use: headless Chromium (tests/docs/test_browser.py)
# and shellcheck (tests/docs/test_shell.py). Installed when missing and we are root.
have_browser() { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }
missing=()
have_browser || missing+=(chromium chromium-driver)
command -v shellcheck >/dev/null || missing+=(shellcheck)
if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing ${missing[*]} for the docs tests"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    echo "== could not install ${missing[*]}: the tests that need them will be skipped" >&2
  fi
fi
if have_browser; then
  export LABCHECK_BROWSER_REQUIRED=1
else
  echo "== no chromium/chromedriver: the browser test will be skipped (sudo apt-get install chromium chromium-driver)"
fi
if command -v shellcheck >/dev/null; then
  export LABCHECK_SHELLCHECK_REQUIRED=1
else
  echo "== no shellcheck: the pages' shell test will be skipped (sudo apt-get install shellcheck)"
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
