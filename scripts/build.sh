#!/usr/bin/env bash
# Configure and build one tree: bash scripts/build.sh DIR [cmake -D options...]
# The one build recipe, used by setup.sh (dev, CI) and docker/Dockerfile.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir=$1; shift
echo "build: $dir/"
# Warnings are errors in development and CI builds (a user's own cmake call is lenient).
cmake -S . -B "$dir" -DTHREADSTORE_WERROR=ON "$@"
cmake --build "$dir" -j"$(nproc 2>/dev/null || echo 2)"
