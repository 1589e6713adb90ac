#!/usr/bin/env bash
# Install what is missing on Debian 12, then build threadstore.
#   bash scripts/setup.sh          Release build in build/
#   bash scripts/setup.sh --asan   also the ASan+UBSan build in build-asan/
# Shared by run.sh and test.sh; safe to run again (installs nothing, rebuilds incrementally).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

. scripts/packages.sh
install_missing "${BUILD_PKGS[@]}" "${RUNTIME_PKGS[@]}" "${DEV_PKGS[@]}"

bash scripts/build.sh build -DCMAKE_BUILD_TYPE=Release
if [ "${1:-}" = --asan ]; then
    bash scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DTHREADSTORE_SANITIZE=ON
fi
