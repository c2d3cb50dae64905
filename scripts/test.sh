#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test, as root on Debian 12:
#   unit tests (label "unit"), then the root integration tests (label "root") against
#   hoist-runtime, then the same integration tests against runc as a reference.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd build
ctest --output-on-failure -L unit
if [ "$(id -u)" -eq 0 ]; then
  ctest --output-on-failure -L root
  if command -v runc >/dev/null; then
    echo "== the same integration tests, runc as the runtime"
    HOIST_TEST_RUNTIME=runc ctest --output-on-failure -L runtime
  fi
else
  echo "test.sh: not root: skipping the integration tests (label root)" >&2
fi
