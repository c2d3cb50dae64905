#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test, as root on Debian 12:
#   unit tests (label "unit"); the runtime integration tests (label "root") against hoist-runtime;
#   the image tests (label "image": a real registry on loopback, skopeo and docker as oracles);
#   then the runtime integration tests again with runc as the runtime, as a reference;
#   last the unit and engine API tests in an ASan+UBSan build (scripts/test-asan.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd build
ctest --output-on-failure -L unit
if [ "$(id -u)" -eq 0 ]; then
  ctest --output-on-failure -L root
  ctest --output-on-failure -L image
  ctest --output-on-failure -L engine
  if command -v runc >/dev/null; then
    echo "== the runtime integration tests again, runc as the runtime"
    HOIST_TEST_RUNTIME=runc ctest --output-on-failure -L root
  fi
else
  echo "test.sh: not root: skipping the integration tests (labels root, image)" >&2
fi
cd ..
scripts/test-asan.sh
